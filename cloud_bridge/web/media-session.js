// The browser's side of the live media with a booth (docs/media.md), without any UI: one
// MediaSession per page (the agent's portal, the guest page). It says `media.ready` for the
// call, answers the booth's offers (mic on transceiver 0, camera on 1, the document camera
// received on 2, a shared screen sent on 3, data channels `t140` and `lisa`), keeps the
// heartbeat and its own watchdog, and holds what the UI shows: the remote streams, the state,
// the stills (blob: URLs in memory only) and the real-time text.
//
// Only relative imports: the guest page has no import map (media.js, the UI, imports this).

import { diffToT140, RttText } from './t140.js';

export const WATCHDOG_MS = 2000; // nothing received for this long: media.ready again
const HEARTBEAT_MS = 500;
const TICK_MS = 300;
const GATHER_TIMEOUT_MS = 3000;
const STILL_TIMEOUT_MS = 20000;
const REFUSED_BACKOFF_MS = 4000; // after a refused media.ready: ask again this much later
const MAX_STILLS = 6;
const MAX_QUEUED_TEXT = 500;
const CLAIM_WAIT_MS = 400;
// no offer this long after media.ready: ask again (the booth may have dropped its fresh
// attempt: a late packet of the connection just left, e.g. by a reload, looked like recovery)
const OFFER_WAIT_MS = 800;

/** Mid of each m-line of the booth's offer (always in this order). */
export const MID = { audio: '0', video: '1', document: '2', share: '3' };

let sessions = 0;

export class MediaSession {
  /**
   * @param {object} opts
   * @param {(frame: object) => boolean} opts.send  writes a JSON frame on the signalling socket
   * @param {string} [opts.coordinate]  BroadcastChannel name: one window of a user has the media
   * @param {MediaStreamConstraints} [opts.constraints]
   */
  constructor({ send, coordinate = null, constraints = null } = {}) {
    this.send = send || (() => false);
    this.constraints = constraints || { audio: true, video: { width: 640, height: 480 } };
    this.id = `${Date.now().toString(36)}-${++sessions}-${Math.random().toString(36).slice(2, 8)}`;
    this.listeners = new Set();
    this._controlHandlers = new Set();
    this._notifyQueued = false;
    this.call = null;
    this.booth = null;
    this.pc = null;
    this.pcId = null;
    this._seq = 0;
    this.status = 'idle'; // idle | waiting | connecting | connected | recovering | stopped | elsewhere
    this.everConnected = false;
    this.stopReason = null;
    this.refused = null; // detail of the last refused media.ready
    this.boothState = null;
    this.boothReason = null;
    this.devices = {};
    this.participants = [];
    this.localStream = null;
    this.localError = null; // null | 'denied' | 'notfound' | 'novideo' | 'noaudio' | 'other'
    this._gum = null;
    this._gumDenied = false;
    this.remote = {}; // mid -> MediaStream
    this.muted = { audio: false, video: false };
    this.screenTrack = null;
    this.sharing = false;
    this.shareError = null;
    this.lisa = null;
    this.t140 = null;
    this._textQueue = [];
    this.rttIn = new RttText();
    this.sentText = '';
    this.stills = []; // {id, url, width, height, size, at}
    this.still = null; // the still shown enlarged
    this.stillPending = null; // {id, at, got, size}
    this.stillError = null;
    this._stillIn = null;
    this._stillN = 0;
    this.audioBlocked = false;
    this.audio = null;
    this.lastRx = 0;
    this.readyAt = 0;
    this._offerSince = false;
    this._quickRetry = false;
    this._answeredAt = 0;
    this._lastCount = -1;
    this._hb = null;
    this._ticker = null;
    this._claimTimer = null;
    this.bc = null;
    this.sample = null;
    this.trace = []; // the last steps (no content), for the browser tests' failure reports
    // leaving or reloading the page: close the connection now, not when the document goes
    // (the booth would keep seeing the old connection alive while the new page asks for one)
    window.addEventListener('pagehide', () => {
      this._closePc();
      if (this.localStream) for (const tr of this.localStream.getTracks()) tr.stop();
    });
    if (coordinate && typeof BroadcastChannel !== 'undefined') {
      this.bc = new BroadcastChannel(coordinate);
      this.bc.onmessage = (e) => this._onPeerWindow(e.data);
    }
  }

  // ---------------------------------------------------------------------- subscriptions
  /** fn() after every change (batched); returns the unsubscribe function. */
  listen(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  _log(what) {
    this.trace.push(`${Math.round(performance.now())} ${what}`);
    if (this.trace.length > 60) this.trace.shift();
  }

  _changed() {
    if (this._notifyQueued) return;
    this._notifyQueued = true;
    queueMicrotask(() => {
      this._notifyQueued = false;
      for (const fn of [...this.listeners]) {
        try {
          fn();
        } catch (e) {
          console.error(e);
        }
      }
    });
  }

  // ---------------------------------------------------------------------- the call
  /** The call this window wants media for now (null: none; everything stops). */
  want(call, booth = null) {
    if (call === this.call) {
      if (booth) this.booth = booth;
      return;
    }
    this._log(`want ${call}`);
    this._teardown();
    this.call = call || null;
    this.booth = booth;
    this.everConnected = false;
    this.stopReason = null;
    this.refused = null;
    this.boothState = null;
    this.devices = {};
    this.participants = [];
    this.muted = { audio: false, video: false };
    if (!this.call) {
      this._setStatus('idle');
      this._stopTicker();
      return;
    }
    this._setStatus('waiting');
    this._startTicker();
    // one window of the user has the media: the focused one at once, another if none claims
    clearTimeout(this._claimTimer);
    if (!this.bc || document.hasFocus()) this._claim();
    else this._claimTimer = setTimeout(() => this.call === call && this.status !== 'elsewhere' && this._claim(), CLAIM_WAIT_MS);
  }

  /** The signalling socket (re)connected: say ready again while the call lasts. */
  reconnected() {
    if (!this.call || this.status === 'elsewhere') return;
    this.refused = null;
    this._ready(true);
  }

  /** "Hier übernehmen": take the media over from another window of the same user. */
  takeOver() {
    if (!this.call) return;
    this._claim();
  }

  _claim() {
    if (!this.call) return;
    if (this.bc) this.bc.postMessage({ type: 'claim', call: this.call, from: this.id });
    if (this.status === 'elsewhere') this._setStatus('waiting');
    this._ready(true);
  }

  _onPeerWindow(msg) {
    if (!msg || msg.type !== 'claim' || msg.from === this.id || msg.call !== this.call) return;
    clearTimeout(this._claimTimer);
    this._log('claimed by another window');
    this._teardown();
    this._setStatus('elsewhere');
  }

  _ready(force = false) {
    if (!this.call || this.status === 'elsewhere') return;
    const now = performance.now();
    if (!force && now - this.readyAt < WATCHDOG_MS) return;
    this.readyAt = now;
    this._offerSince = false;
    const sent = this.send({ type: 'media.ready', call: this.call });
    this._log(`ready ${sent ? 'sent' : 'not sent'}`);
    if (this.status === 'stopped' || this.status === 'idle') this._setStatus('waiting');
  }

  /** A `media.*` frame from the bridge. */
  handle(msg) {
    if (!msg || typeof msg.type !== 'string' || !msg.type.startsWith('media.')) return;
    if (!this.call || msg.call !== this.call || this.status === 'elsewhere') return;
    this._log(`${msg.type}${msg.pc ? ` ${msg.pc}` : ''}${msg.state ? ` ${msg.state}` : ''}${msg.reason ? ` (${msg.reason})` : ''}${msg.detail ? ` (${msg.detail})` : ''}`);
    switch (msg.type) {
      case 'media.offer':
        this.refused = null;
        this._offerSince = true;
        this._quickRetry = false;
        if (msg.booth) this.booth = msg.booth;
        this.participants = Array.isArray(msg.participants) ? msg.participants : [];
        this._answer(msg).catch((e) => {
          console.error('media answer failed', e);
        });
        break;
      case 'media.state':
        this.boothState = msg.state || null;
        this.boothReason = msg.reason || null;
        this.devices = msg.devices && typeof msg.devices === 'object' ? { ...msg.devices } : {};
        this._changed();
        break;
      case 'media.stop':
        this._teardown();
        this.stopReason = msg.reason || null;
        if (/another window/.test(msg.reason || '')) {
          // another window of this user said media.ready (another browser: the BroadcastChannel
          // does not reach it): leave it the media until "Hier übernehmen" says ready again
          clearTimeout(this._claimTimer);
          this._setStatus('elsewhere');
          break;
        }
        this.readyAt = performance.now() + WATCHDOG_MS; // ask again later only if still in the call
        this._setStatus('stopped');
        break;
      case 'media.error':
        if (msg.for === 'media.answer' && /another window/.test(msg.detail || '')) {
          // another window of this user (another browser) said ready last: leave it the media
          this._teardown();
          this._setStatus('elsewhere');
        } else if (msg.for === 'media.ready') {
          this.refused = msg.detail || 'refused';
          this.readyAt = performance.now() + REFUSED_BACKOFF_MS;
          this._changed();
        }
        break;
      default:
        break;
    }
  }

  // ---------------------------------------------------------------------- offer → answer
  async _answer(msg) {
    const seq = ++this._seq;
    this._closePc();
    const iceServers = (msg.ice_servers || [])
      .filter((s) => s && s.urls)
      .map((s) => {
        const out = { urls: s.urls };
        if (s.username) out.username = s.username;
        if (s.credential) out.credential = s.credential;
        return out;
      });
    const pc = new RTCPeerConnection({ iceServers, bundlePolicy: 'max-bundle' });
    this.pc = pc;
    this.pcId = String(msg.pc);
    this._lastCount = -1;
    if (this.status !== 'connected') this._setStatus(this.everConnected ? 'recovering' : 'connecting');
    pc.ontrack = (e) => {
      if (this.pc !== pc) return;
      const mid = e.transceiver && e.transceiver.mid !== null ? String(e.transceiver.mid) : e.track.kind === 'audio' ? MID.audio : MID.video;
      const stream = new MediaStream([e.track]);
      this.remote = { ...this.remote, [mid]: stream };
      if (e.track.kind === 'audio') this._playAudio(stream);
      this._changed();
    };
    pc.ondatachannel = (e) => this._wireChannel(pc, e.channel);
    pc.onconnectionstatechange = () => {
      if (this.pc === pc && (pc.connectionState === 'failed' || pc.connectionState === 'closed')) this._changed();
    };
    const local = this._local(); // in parallel with the remote description
    await pc.setRemoteDescription({ type: 'offer', sdp: msg.sdp });
    const stream = await local;
    if (seq !== this._seq) return; // a newer offer came meanwhile
    const tx = pc.getTransceivers();
    const audio = stream ? stream.getAudioTracks()[0] || null : null;
    const video = stream ? stream.getVideoTracks()[0] || null : null;
    if (tx[0]) {
      tx[0].direction = 'sendrecv';
      await tx[0].sender.replaceTrack(audio);
    }
    if (tx[1]) {
      tx[1].direction = 'sendrecv';
      await tx[1].sender.replaceTrack(video);
    }
    if (tx[2]) tx[2].direction = 'recvonly';
    if (tx[3]) {
      // the screen share is sent on 3: sendonly from the start, so sharing needs no renegotiation
      tx[3].direction = 'sendonly';
      await tx[3].sender.replaceTrack(this.sharing && this.screenTrack ? this.screenTrack : null);
    }
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered(pc, GATHER_TIMEOUT_MS);
    if (seq !== this._seq || this.pc !== pc) return;
    const sent = this.send({ type: 'media.answer', call: this.call, pc: this.pcId, sdp: pc.localDescription.sdp });
    this._answeredAt = performance.now();
    this._log(`answer ${this.pcId} ${sent ? 'sent' : 'not sent'}`);
    this._changed();
  }

  async _local() {
    if (this.localStream && this.localStream.getTracks().some((t) => t.readyState === 'live')) return this.localStream;
    if (this._gumDenied || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      if (!navigator.mediaDevices) this.localError = 'other';
      return null;
    }
    if (!this._gum) {
      this._gum = (async () => {
        try {
          const s = await navigator.mediaDevices.getUserMedia(this.constraints);
          this.localError = null;
          return s;
        } catch (e) {
          if (e && e.name === 'NotAllowedError') {
            this._gumDenied = true; // ask once per page
            this.localError = 'denied';
            return null;
          }
          // no camera (or no microphone): go on with what there is
          for (const [only, missing] of [
            [{ audio: true }, 'novideo'],
            [{ video: this.constraints.video }, 'noaudio'],
          ]) {
            try {
              const s = await navigator.mediaDevices.getUserMedia(only);
              this.localError = missing;
              return s;
            } catch {
              /* try the next */
            }
          }
          this.localError = e && e.name === 'NotFoundError' ? 'notfound' : 'other';
          return null;
        }
      })();
    }
    const stream = await this._gum;
    this._gum = null;
    if (stream && !this.call) {
      for (const t of stream.getTracks()) t.stop(); // the call ended while the browser asked
      return null;
    }
    if (stream) {
      this.localStream = stream;
      this._applyMute();
    }
    this._changed();
    return stream;
  }

  _wireChannel(pc, ch) {
    ch.binaryType = 'arraybuffer';
    if (ch.label === 't140') {
      this.t140 = ch;
      ch.onmessage = (e) => {
        if (this.pc !== pc) return;
        this._alive();
        try {
          this.rttIn.apply(e.data);
        } catch (err) {
          console.error(err);
        }
        this._changed();
      };
      const flush = () => {
        if (this.pc !== pc) return;
        while (this._textQueue.length && ch.readyState === 'open') ch.send(this._textQueue.shift());
      };
      if (ch.readyState === 'open') flush();
      else ch.onopen = flush;
    } else if (ch.label === 'lisa') {
      this.lisa = ch;
      ch.onmessage = (e) => {
        if (this.pc !== pc) return;
        this._alive();
        try {
          this._onControl(e.data);
        } catch (err) {
          console.error(err);
        }
      };
      const open = () => {
        if (this.pc !== pc) return;
        clearInterval(this._hb);
        this._hb = setInterval(() => {
          if (ch.readyState === 'open') ch.send('{"type":"hb"}');
        }, HEARTBEAT_MS);
        if (this.muted.audio || this.muted.video) this._control({ type: 'mute', audio: this.muted.audio, video: this.muted.video });
        if (this.sharing) this._control({ type: 'share', on: true });
        this._changed();
      };
      if (ch.readyState === 'open') open();
      else ch.onopen = open;
      ch.onclose = () => this._changed();
    }
  }

  /** fn(message) for every `lisa` message this session does not handle itself (e.g. the
   * signing flow's doc.*: a parsed object, or an ArrayBuffer chunk outside a still); returns
   * the unsubscribe function. */
  addControlHandler(fn) {
    this._controlHandlers.add(fn);
    return () => this._controlHandlers.delete(fn);
  }

  /** The `lisa` channel now (null while there is none): a sender keeps it to notice a new
   * connection in the middle of a transfer (the booth then has only part of it). */
  controlChannel() {
    const ch = this.lisa;
    return ch && ch.readyState === 'open' ? ch : null;
  }

  /** Send `data` on `ch` (from controlChannel()) when its buffer has room: a large document
   * must not fill the data channel's send queue (Chromium closes the channel when it
   * overflows). Resolves false when the channel closed or was replaced meanwhile. */
  async sendControlPaced(ch, data, high = 1 << 20) {
    while (ch.readyState === 'open' && ch.bufferedAmount > high) {
      ch.bufferedAmountLowThreshold = high / 2;
      await new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer);
          ch.removeEventListener('bufferedamountlow', done);
          ch.removeEventListener('close', done);
          resolve();
        };
        const timer = setTimeout(done, 1000); // look again (a missed event, a closed channel)
        ch.addEventListener('bufferedamountlow', done);
        ch.addEventListener('close', done);
      });
    }
    if (ch.readyState !== 'open' || this.lisa !== ch) return false;
    ch.send(typeof data === 'string' || data instanceof ArrayBuffer || ArrayBuffer.isView(data) ? data : JSON.stringify(data));
    return true;
  }

  /** A microphone for another connection (the consultation's audio with a colleague): a copy
   * of this session's microphone while it runs, else the browser's microphone. The caller
   * stops the returned stream's tracks. Resolves {stream, error}. */
  async microphone() {
    const own = this.localStream ? this.localStream.getAudioTracks().find((tr) => tr.readyState === 'live') : null;
    if (own) return { stream: new MediaStream([own.clone()]), error: null };
    if (this._gumDenied) return { stream: null, error: 'denied' };
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return { stream: null, error: 'other' };
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: this.constraints.audio || true });
      return { stream, error: null };
    } catch (e) {
      if (e && e.name === 'NotAllowedError') return { stream: null, error: 'denied' };
      return { stream: null, error: e && e.name === 'NotFoundError' ? 'noaudio' : 'other' };
    }
  }

  /** Send on the `lisa` channel: an object (as JSON) or binary data; false while it is closed. */
  sendControl(data) {
    const ch = this.lisa;
    if (!ch || ch.readyState !== 'open') return false;
    ch.send(typeof data === 'string' || data instanceof ArrayBuffer || ArrayBuffer.isView(data) ? data : JSON.stringify(data));
    return true;
  }

  _others(msg) {
    for (const fn of [...this._controlHandlers]) {
      try {
        fn(msg);
      } catch (e) {
        console.error(e);
      }
    }
  }

  _onControl(data) {
    if (typeof data !== 'string') {
      const s = this._stillIn;
      if (!s) {
        this._others(data);
        return;
      }
      s.chunks.push(data);
      s.got += data.byteLength || 0;
      if (this.stillPending && this.stillPending.id === s.id) this.stillPending = { ...this.stillPending, got: s.got, size: s.size };
      this._changed();
      return;
    }
    const msg = JSON.parse(data);
    if (!msg || typeof msg !== 'object') return;
    switch (msg.type) {
      case 'hb':
        break;
      case 'still.begin':
        this._stillIn = {
          id: String(msg.id),
          mime: typeof msg.mime === 'string' && msg.mime.startsWith('image/') ? msg.mime : 'image/jpeg',
          size: Number(msg.size) || 0,
          width: Number(msg.width) || 0,
          height: Number(msg.height) || 0,
          chunks: [],
          got: 0,
        };
        break;
      case 'still.end': {
        const s = this._stillIn;
        this._stillIn = null;
        if (!s || s.id !== String(msg.id)) break;
        const url = URL.createObjectURL(new Blob(s.chunks, { type: s.mime }));
        const entry = { id: s.id, url, width: s.width, height: s.height, size: s.got, at: Date.now() };
        this.stills = [entry, ...this.stills];
        for (const old of this.stills.slice(MAX_STILLS)) if (old !== this.still) URL.revokeObjectURL(old.url);
        this.stills = this.stills.slice(0, MAX_STILLS);
        if (this.stillPending && this.stillPending.id === s.id) {
          this.stillPending = null;
          this.still = entry;
        }
        this._changed();
        break;
      }
      case 'still.error':
        this._stillIn = null;
        if (this.stillPending && this.stillPending.id === String(msg.id)) {
          this.stillPending = null;
          this.stillError = msg.error || 'error';
        }
        this._changed();
        break;
      default:
        this._others(msg);
        break;
    }
  }

  _control(obj) {
    return this.sendControl(obj);
  }

  _playAudio(stream) {
    if (!this.audio) {
      // inbound audio plays (and is counted in the stats) only from an <audio> element
      this.audio = document.createElement('audio');
      this.audio.autoplay = true;
      this.audio.setAttribute('data-testid', 'media-audio');
      this.audio.hidden = true;
      document.body.appendChild(this.audio);
    }
    this.audio.srcObject = stream;
    const p = this.audio.play();
    if (p && p.catch) {
      p.then(() => {
        if (this.audioBlocked) {
          this.audioBlocked = false;
          this._changed();
        }
      }).catch((e) => {
        if (e && e.name === 'NotAllowedError') {
          this.audioBlocked = true;
          this._changed();
        }
      });
    }
  }

  /** After a click ("Ton einschalten"): play the call's sound. */
  unblockAudio() {
    if (!this.audio) return;
    this.audio.play().then(() => {
      this.audioBlocked = false;
      this._changed();
    }).catch(() => {});
  }

  // ---------------------------------------------------------------------- watchdog
  _startTicker() {
    if (this._ticker) return;
    this._ticker = setInterval(() => this._tick().catch(() => {}), TICK_MS);
  }

  _stopTicker() {
    clearInterval(this._ticker);
    this._ticker = null;
  }

  _alive() {
    this.lastRx = performance.now();
    if (this.status !== 'connected' && this.pc) {
      this.everConnected = true;
      this._setStatus('connected');
    }
  }

  async _tick() {
    if (!this.call || this.status === 'elsewhere') return;
    const pc = this.pc;
    if (pc && pc.connectionState !== 'closed') {
      const sample = await this.stats();
      if (this.pc !== pc) return;
      this.sample = { ...sample, at: Date.now() };
      const n = sample.inboundVideo.reduce((a, v) => a + v.framesDecoded, 0) + sample.inboundAudio.packetsReceived;
      if (n > this._lastCount) {
        if (this._lastCount >= 0 || n > 0) this._alive();
        this._lastCount = n;
      }
    }
    const now = performance.now();
    // alive: anything received, or a request / answer of ours still fresh
    const last = Math.max(this.lastRx, this.readyAt, this._answeredAt);
    if (this.status === 'connected' && now - this.lastRx > WATCHDOG_MS) this._setStatus('recovering');
    if (now - last > WATCHDOG_MS) this._ready(true);
    else if (!this._offerSince && !this._quickRetry && !this.refused && this.status !== 'stopped' && now - this.readyAt > OFFER_WAIT_MS) {
      this._quickRetry = true; // once until the next offer; then the watchdog's pace
      this._ready(true);
    }
  }

  _setStatus(s) {
    if (this.status === s) return;
    this._log(`status ${s}`);
    this.status = s;
    this._changed();
  }

  // ---------------------------------------------------------------------- the agent's controls
  _applyMute() {
    const s = this.localStream;
    if (!s) return;
    for (const t of s.getAudioTracks()) t.enabled = !this.muted.audio;
    for (const t of s.getVideoTracks()) t.enabled = !this.muted.video;
  }

  /** Microphone ('audio') or camera ('video') off / on; the booth screen says so. */
  setMuted(kind, on) {
    this.muted = { ...this.muted, [kind]: Boolean(on) };
    this._applyMute();
    this._control({ type: 'mute', audio: this.muted.audio, video: this.muted.video });
    this._changed();
  }

  toggleMute(kind) {
    this.setMuted(kind, !this.muted[kind]);
  }

  /** Share a screen (a window, a tab) to the booth monitor (transceiver 3, no renegotiation). */
  async startShare() {
    this.shareError = null;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) {
      this.shareError = 'unsupported';
      this._changed();
      return false;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    } catch (e) {
      this.shareError = e && e.name === 'NotAllowedError' ? 'cancelled' : 'failed';
      this._changed();
      return false;
    }
    const track = stream.getVideoTracks()[0];
    if (!track || !this.call) {
      for (const t of stream.getTracks()) t.stop();
      return false;
    }
    if (this.screenTrack) this.screenTrack.stop();
    try {
      track.contentHint = 'detail';
    } catch {
      /* not supported */
    }
    track.onended = () => this.stopShare();
    this.screenTrack = track;
    this.sharing = true;
    const tx = this.pc ? this.pc.getTransceivers()[3] : null;
    if (tx) await tx.sender.replaceTrack(track);
    this._control({ type: 'share', on: true });
    this._changed();
    return true;
  }

  async stopShare() {
    const track = this.screenTrack;
    this.screenTrack = null;
    const was = this.sharing;
    this.sharing = false;
    if (track) {
      track.onended = null;
      track.stop();
    }
    const tx = this.pc && this.pc.connectionState !== 'closed' ? this.pc.getTransceivers()[3] : null;
    if (tx) {
      try {
        await tx.sender.replaceTrack(null);
      } catch {
        /* closed meanwhile */
      }
    }
    if (was) this._control({ type: 'share', on: false });
    this._changed();
  }

  /** Ask the booth for a full-resolution still of the document camera. */
  requestStill() {
    this.stillError = null;
    const id = `s${++this._stillN}`;
    if (!this._control({ type: 'still', id })) {
      this.stillError = 'not_connected';
      this._changed();
      return null;
    }
    this.stillPending = { id, at: Date.now(), got: 0, size: 0 };
    setTimeout(() => {
      if (this.stillPending && this.stillPending.id === id) {
        this.stillPending = null;
        this.stillError = 'timeout';
        this._changed();
      }
    }, STILL_TIMEOUT_MS);
    this._changed();
    return id;
  }

  showStill(entry) {
    this.still = entry || null;
    this._changed();
  }

  /** The text field changed from what was sent to `text`: send the difference at once. */
  typed(text) {
    const block = diffToT140(this.sentText, text);
    this.sentText = text;
    if (!block) return;
    const ch = this.t140;
    if (ch && ch.readyState === 'open' && this._textQueue.length === 0) ch.send(block);
    else if (this._textQueue.length < MAX_QUEUED_TEXT) this._textQueue.push(block);
    this._changed();
  }

  // ---------------------------------------------------------------------- ending
  _closePc() {
    const pc = this.pc;
    this.pc = null;
    this.pcId = null;
    clearInterval(this._hb);
    this._hb = null;
    this.lisa = null;
    this.t140 = null;
    this._stillIn = null;
    if (this.stillPending) this.stillPending = null;
    if (pc) {
      pc.ontrack = pc.ondatachannel = pc.onconnectionstatechange = null;
      for (const r of pc.getReceivers()) if (r.track) r.track.stop();
      try {
        pc.close();
      } catch {
        /* closed */
      }
    }
    this.remote = {};
    this.sample = null;
  }

  /** Close the connection, stop every track (camera light off), forget stills and texts. */
  _teardown() {
    this._seq++;
    this._closePc();
    if (this.localStream) for (const t of this.localStream.getTracks()) t.stop();
    this.localStream = null;
    if (this.screenTrack) {
      this.screenTrack.onended = null;
      this.screenTrack.stop();
    }
    this.screenTrack = null;
    this.sharing = false;
    this.shareError = null;
    for (const s of this.stills) URL.revokeObjectURL(s.url);
    if (this.still && !this.stills.includes(this.still)) URL.revokeObjectURL(this.still.url);
    this.stills = [];
    this.still = null;
    this.stillError = null;
    this.rttIn.clear();
    this.sentText = '';
    this._textQueue = [];
    if (this.audio) {
      this.audio.pause();
      this.audio.srcObject = null;
    }
    this.audioBlocked = false;
    this.lastRx = 0;
    this._changed();
  }

  // ---------------------------------------------------------------------- for tests
  /** Live tracks of this page's media (0 when nothing runs: camera light off). */
  liveTracks() {
    const tracks = new Set();
    if (this.localStream) for (const t of this.localStream.getTracks()) tracks.add(t);
    if (this.screenTrack) tracks.add(this.screenTrack);
    if (this.pc) for (const r of this.pc.getReceivers()) if (r.track) tracks.add(r.track);
    return [...tracks].filter((t) => t.readyState === 'live').length;
  }

  /** A summary of getStats(): what arrives per mid and what is sent. */
  async stats() {
    const pc = this.pc;
    const out = { pc: this.pcId, status: this.status, inboundVideo: [], inboundAudio: { packetsReceived: 0 }, outbound: { bytes: 0, audioBytes: 0, videoBytes: 0, video: [] } };
    if (!pc) return out;
    const midOf = {};
    for (const t of pc.getTransceivers()) if (t.receiver && t.receiver.track) midOf[t.receiver.track.id] = t.mid;
    const report = await pc.getStats();
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        out.inboundVideo.push({
          mid: s.mid ?? midOf[s.trackIdentifier] ?? null,
          framesDecoded: s.framesDecoded || 0,
          frameWidth: s.frameWidth || 0,
          frameHeight: s.frameHeight || 0,
          framesPerSecond: s.framesPerSecond || 0,
          packetsReceived: s.packetsReceived || 0,
        });
      } else if (s.type === 'inbound-rtp' && s.kind === 'audio') {
        out.inboundAudio.packetsReceived += s.packetsReceived || 0;
      } else if (s.type === 'outbound-rtp') {
        const bytes = s.bytesSent || 0;
        out.outbound.bytes += bytes;
        if (s.kind === 'audio') out.outbound.audioBytes += bytes;
        else {
          out.outbound.videoBytes += bytes;
          out.outbound.video.push({ mid: s.mid ?? null, bytesSent: bytes, framesEncoded: s.framesEncoded || 0 });
        }
      }
    });
    return out;
  }

  /** The object a page exposes as window.lisaMedia (browser tests). */
  testApi() {
    return {
      pc: () => this.pc,
      status: () => this.status,
      stats: () => this.stats(),
      sample: () => this.sample, // the watchdog's last getStats() summary (every 0.5 s)
      rttReceived: () => this.rttIn.text,
      liveTracks: () => this.liveTracks(),
      trace: () => [...this.trace],
      inject: (msg) => this.handle(msg), // a bridge frame, as if from the socket (UI tests)
      stills: () => this.stills.map((s) => ({ id: s.id, width: s.width, height: s.height, size: s.size })),
    };
  }
}

/** Resolves when ICE gathering is complete (no trickle ICE: the answer carries everything). */
function gathered(pc, timeoutMs) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === 'complete') done();
    };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

