// The consultation's audio: while a consultative transfer is connected the citizen waits
// ("Bitte einen Moment", the booth's media on hold) and the two agents talk browser to browser,
// audio only (docs/media.md, "A consultation"). The bridge says `media.peer.start` to both
// (`offer: true` for the asker), relays `media.peer` {sdp, sdp_type} between them and ends it
// with `media.peer.stop`. One window of an agent has it (BroadcastChannel, as the call's
// media); a reloaded page says `media.peer.ready` and the asker offers anew.
//
// No UI here: ConsultPanel (arbeitsplatz.js) shows it.

const GATHER_TIMEOUT_MS = 3000;
const CLAIM_WAIT_MS = 400;
const RESUME_WAIT_MS = 1500; // a consultation of mine runs but no start came: ask for one
const RETRY_MS = 3000; // a failed connection: ask for a new start this often

let n = 0;

export class PeerAudio {
  /**
   * @param {object} opts
   * @param {(frame: object) => boolean} opts.send  a JSON frame on the event socket
   * @param {() => Promise<{stream: MediaStream|null, error: string|null}>} opts.microphone
   * @param {string} [opts.coordinate]  BroadcastChannel name: one window of the agent has it
   */
  constructor({ send, microphone, coordinate = null }) {
    this.send = send;
    this.microphone = microphone;
    this.id = `${Date.now().toString(36)}-${++n}-${Math.random().toString(36).slice(2, 8)}`;
    this.listeners = new Set();
    this._queued = false;
    this.call = null; // the citizen's call of the consultation
    this.peer = null; // agent:<id> of the colleague
    this.name = '';
    this.offerer = false;
    this.status = 'idle'; // idle | connecting | connected | recovering | elsewhere
    this.pc = null;
    this.mic = null;
    this.micError = null;
    this.muted = false;
    this.remote = null;
    this.audioBlocked = false;
    this.audio = null;
    this.iceServers = [];
    this._seq = 0;
    this._wanted = null; // the consultation the store says runs: {call, name}
    this._resumeTimer = null;
    this._retryAt = 0;
    this._claimedAt = 0;
    this._claimTimer = null;
    this._pendingOffer = null;
    this._decided = false;
    this._startedAt = 0;
    this.trace = [];
    this.bc = null;
    if (coordinate && typeof BroadcastChannel !== 'undefined') {
      this.bc = new BroadcastChannel(coordinate);
      this.bc.onmessage = (e) => this._onWindow(e.data);
    }
    window.addEventListener('pagehide', () => this._close());
  }

  listen(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  _changed() {
    if (this._queued) return;
    this._queued = true;
    queueMicrotask(() => {
      this._queued = false;
      for (const fn of [...this.listeners]) {
        try {
          fn();
        } catch (e) {
          console.error(e);
        }
      }
    });
  }

  _log(what) {
    this.trace.push(`${Math.round(performance.now())} ${what}`);
    if (this.trace.length > 40) this.trace.shift();
  }

  _set(status) {
    if (this.status === status) return;
    this._log(`status ${status}`);
    this.status = status;
    this._changed();
  }

  active() {
    return this.status !== 'idle';
  }

  // ------------------------------------------------------------------ the store's view
  /** The consultation the page's state says is connected for me ({call, name}) or null.
   * Null ends the audio (a missed media.peer.stop); one without audio asks for a start
   * (`media.peer.ready`: after a reload, a reconnect). */
  follow(consult) {
    const call = consult ? consult.call : null;
    const before = this._wanted ? this._wanted.call : null;
    this._wanted = consult || null;
    if (!call) {
      clearTimeout(this._resumeTimer);
      this._resumeTimer = null;
      // the state said it ran and says it ended now; or it never said so (a start that came
      // before the consult event is not stopped at once)
      if (this.status !== 'idle' && (before === this.call || performance.now() - this._startedAt > 5000)) this.stop('ended');
      return;
    }
    if (this.call && this.call !== call) this.stop('another call');
    if (!this.name && consult.name) this.name = consult.name;
    if (this.status === 'idle' && !this._resumeTimer) {
      this._resumeTimer = setTimeout(() => {
        this._resumeTimer = null;
        if (this.status === 'idle' && this._wanted && this._wanted.call === call) this._ask(call);
      }, RESUME_WAIT_MS);
    }
  }

  /** The event socket reconnected (a snapshot came): in a consultation without working
   * audio, ask for a new start. */
  reconnected() {
    const w = this._wanted;
    // a working connection does not need the socket: leave it alone
    if (w && this.status !== 'elsewhere' && this.status !== 'connected') this._ask(w.call);
  }

  _ask(call) {
    this._retryAt = performance.now();
    const sent = this.send({ type: 'media.peer.ready', call });
    this._log(`peer.ready ${sent ? 'sent' : 'not sent'}`);
  }

  /** "Hier übernehmen": this window takes the consultation's audio (both ends start anew). */
  takeOver() {
    const call = this.call || (this._wanted && this._wanted.call);
    if (!call) return;
    this._claim(call);
    this._set('connecting');
    this._ask(call);
  }

  // ------------------------------------------------------------------ windows
  _claim(call) {
    this._claimedAt = performance.now();
    if (this.bc) this.bc.postMessage({ type: 'claim', call, from: this.id });
  }

  _onWindow(msg) {
    if (!msg || msg.type !== 'claim' || msg.from === this.id) return;
    const call = this.call || (this._wanted && this._wanted.call);
    if (msg.call !== call) return;
    // both claimed at once: the smaller id keeps it (the other one yields on our claim)
    if (performance.now() - this._claimedAt < 1000 && this.id < msg.from) return;
    clearTimeout(this._claimTimer);
    this._log('claimed by another window');
    this._closePc();
    this.call = msg.call;
    this._set('elsewhere');
  }

  // ------------------------------------------------------------------ the bridge
  /** `media.peer.start`, `media.peer`, `media.peer.stop` and `media.error` for them. */
  handle(msg) {
    if (!msg || typeof msg.type !== 'string') return;
    this._log(`${msg.type}${msg.sdp_type ? ` ${msg.sdp_type}` : ''}${msg.offer !== undefined ? ` offer=${msg.offer}` : ''}`);
    switch (msg.type) {
      case 'media.peer.start':
        this._start(msg);
        break;
      case 'media.peer':
        if ((this.call && msg.call !== this.call) || this.status === 'elsewhere') return;
        if (msg.sdp_type === 'offer') this._answer(msg).catch((e) => this._failed(e));
        else if (msg.sdp_type === 'answer') this._accept(msg).catch((e) => this._failed(e));
        break;
      case 'media.peer.stop':
        if (!this.call || msg.call === this.call) this.stop('stopped');
        break;
      case 'media.error':
        this._log(`error ${msg.detail || ''}`);
        break;
      default:
        break;
    }
  }

  _start(msg) {
    const seq = ++this._seq;
    this._startedAt = performance.now();
    this._closePc();
    clearTimeout(this._claimTimer);
    this._claimTimer = null;
    clearTimeout(this._resumeTimer);
    this._resumeTimer = null;
    this._decided = false;
    if (this._pendingOffer && this._pendingOffer.call !== msg.call) this._pendingOffer = null;
    this.call = msg.call;
    this.peer = msg.peer || null;
    this.name = msg.name || this.name || '';
    this.offerer = Boolean(msg.offer);
    this.iceServers = (msg.ice_servers || [])
      .filter((s) => s && s.urls)
      .map((s) => {
        const out = { urls: s.urls };
        if (s.username) out.username = s.username;
        if (s.credential) out.credential = s.credential;
        return out;
      });
    // another window of mine has the audio (a restart it asked for): it takes this one too,
    // unless this window is the one in front
    if (this.status === 'elsewhere' && !document.hasFocus()) return;
    const go = () => {
      this._claimTimer = null;
      if (seq !== this._seq || this.status === 'elsewhere') return;
      this._decided = true;
      this._claim(msg.call);
      if (this.offerer) this._offer(seq).catch((e) => this._failed(e));
      else if (this._pendingOffer) {
        const offer = this._pendingOffer;
        this._pendingOffer = null;
        this._answer(offer).catch((e) => this._failed(e));
      }
    };
    this.status = 'idle'; // (not 'elsewhere' any more: this window goes for it)
    this._set('connecting');
    // one window of the agent: the one in front at once, another when none claims meanwhile
    if (!this.bc || document.hasFocus()) go();
    else this._claimTimer = setTimeout(go, CLAIM_WAIT_MS);
  }

  _newPc() {
    const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: 'max-bundle' });
    this.pc = pc;
    pc.ontrack = (e) => {
      if (this.pc !== pc) return;
      this.remote = new MediaStream([e.track]);
      this._play(this.remote);
      this._changed();
    };
    pc.onconnectionstatechange = () => {
      if (this.pc !== pc) return;
      const s = pc.connectionState;
      this._log(`pc ${s}`);
      if (s === 'connected') this._set('connected');
      else if (s === 'disconnected') this._set('recovering');
      else if (s === 'failed') this._failed(new Error('ICE failed'));
    };
    return pc;
  }

  async _mic() {
    if (this.mic && this.mic.getAudioTracks().some((tr) => tr.readyState === 'live')) return this.mic;
    const { stream, error } = await this.microphone();
    this.micError = error;
    if (stream) {
      if (this.mic) for (const tr of this.mic.getTracks()) tr.stop();
      this.mic = stream;
      for (const tr of stream.getAudioTracks()) tr.enabled = !this.muted;
    }
    this._changed();
    return stream;
  }

  async _offer(seq) {
    const mic = await this._mic();
    if (seq !== this._seq) return;
    const pc = this._newPc();
    const track = mic ? mic.getAudioTracks()[0] : null;
    if (track) pc.addTransceiver(track, { direction: 'sendrecv', streams: [mic] });
    else pc.addTransceiver('audio', { direction: 'recvonly' });
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc, GATHER_TIMEOUT_MS);
    if (seq !== this._seq || this.pc !== pc) return;
    const sent = this.send({ type: 'media.peer', call: this.call, sdp: pc.localDescription.sdp, sdp_type: 'offer' });
    this._log(`offer ${sent ? 'sent' : 'not sent'}`);
  }

  async _answer(msg) {
    if (!this._decided || this.offerer) {
      // before our media.peer.start, or while the windows decide: answer once decided
      if (!this.offerer) this._pendingOffer = msg;
      return;
    }
    const seq = ++this._seq;
    this._closePc();
    const mic = await this._mic();
    if (seq !== this._seq) return;
    const pc = this._newPc();
    await pc.setRemoteDescription({ type: 'offer', sdp: msg.sdp });
    const track = mic ? mic.getAudioTracks()[0] : null;
    const tx = pc.getTransceivers()[0];
    if (tx) {
      tx.direction = track ? 'sendrecv' : 'recvonly';
      if (track) await tx.sender.replaceTrack(track);
    }
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered(pc, GATHER_TIMEOUT_MS);
    if (seq !== this._seq || this.pc !== pc) return;
    const sent = this.send({ type: 'media.peer', call: this.call, sdp: pc.localDescription.sdp, sdp_type: 'answer' });
    this._log(`answer ${sent ? 'sent' : 'not sent'}`);
  }

  async _accept(msg) {
    const pc = this.pc;
    if (!pc || !this.offerer || pc.signalingState !== 'have-local-offer') return;
    await pc.setRemoteDescription({ type: 'answer', sdp: msg.sdp });
  }

  _failed(e) {
    this._log(`failed ${e && e.message ? e.message : e}`);
    if (!this.call || this.status === 'elsewhere' || this.status === 'idle') return;
    this._set('recovering');
    // ask for a fresh start (both ends), not more often than every RETRY_MS
    const wait = Math.max(0, RETRY_MS - (performance.now() - this._retryAt));
    clearTimeout(this._retryTimer);
    this._retryTimer = setTimeout(() => {
      if (this.call && (this.status === 'recovering' || this.status === 'connecting')) this._ask(this.call);
    }, wait);
  }

  _play(stream) {
    if (!this.audio) {
      this.audio = document.createElement('audio');
      this.audio.autoplay = true;
      this.audio.hidden = true;
      this.audio.setAttribute('data-testid', 'consult-audio');
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

  unblockAudio() {
    if (!this.audio) return;
    this.audio.play().then(() => {
      this.audioBlocked = false;
      this._changed();
    }).catch(() => {});
  }

  toggleMute() {
    this.muted = !this.muted;
    if (this.mic) for (const tr of this.mic.getAudioTracks()) tr.enabled = !this.muted;
    this._changed();
  }

  // ------------------------------------------------------------------ ending
  /** The consultation ended: close, microphone off. */
  stop(why = 'stopped') {
    this._log(`stop (${why})`);
    this._seq++;
    clearTimeout(this._claimTimer);
    clearTimeout(this._retryTimer);
    this._claimTimer = null;
    this._pendingOffer = null;
    this._decided = false;
    this._close();
    this.call = null;
    this.peer = null;
    this.name = '';
    this.muted = false;
    this.micError = null;
    this._set('idle');
    this._changed();
  }

  _closePc() {
    const pc = this.pc;
    this.pc = null;
    this.remote = null;
    if (pc) {
      pc.ontrack = pc.onconnectionstatechange = null;
      for (const r of pc.getReceivers()) if (r.track) r.track.stop();
      try {
        pc.close();
      } catch {
        /* closed */
      }
    }
    if (this.audio) {
      this.audio.pause();
      this.audio.srcObject = null;
    }
    this.audioBlocked = false;
  }

  _close() {
    this._closePc();
    if (this.mic) for (const tr of this.mic.getTracks()) tr.stop();
    this.mic = null;
  }

  // ------------------------------------------------------------------ for tests
  liveTracks() {
    const tracks = new Set();
    if (this.mic) for (const tr of this.mic.getTracks()) tracks.add(tr);
    if (this.pc) for (const r of this.pc.getReceivers()) if (r.track) tracks.add(r.track);
    return [...tracks].filter((tr) => tr.readyState === 'live').length;
  }

  async stats() {
    const pc = this.pc;
    const out = { status: this.status, call: this.call, peer: this.peer, offerer: this.offerer, inboundAudio: { packetsReceived: 0 }, outboundAudio: { bytesSent: 0 } };
    if (!pc) return out;
    const report = await pc.getStats();
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') out.inboundAudio.packetsReceived += s.packetsReceived || 0;
      else if (s.type === 'outbound-rtp' && s.kind === 'audio') out.outboundAudio.bytesSent += s.bytesSent || 0;
    });
    return out;
  }
}

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
