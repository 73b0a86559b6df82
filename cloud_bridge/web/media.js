// The live media of a call, for the agent's workspace and the guest page (docs/media.md):
// the citizen's video large, the document camera (zoom, pan, rotate in the page; a
// full-resolution still), a small self view, microphone / camera off, screen share, the
// real-time text (T.140) and the invitations of an interpreter or a second clerk.
//
// `MediaSession` (media-session.js) does the WebRTC part; `CallMedia` shows it. Class
// components and relative imports only: the guest page has no import map, so this module may
// not use the bare 'preact' / 'preact/hooks' specifiers (the same files, by their path).

import htm from './vendor/htm/dist/htm.module.js';
import { Component, h } from './vendor/preact/dist/preact.mjs';
import { request } from './api.js';
import { clock } from './format.js';
import { label, t } from './i18n.js';
import { MID } from './media-session.js';

export { MediaSession } from './media-session.js';

const html = htm.bind(h);
const enc = encodeURIComponent;
const ZOOM_MIN = 1;
const ZOOM_MAX = 5;
const ZOOM_STEP = 1.25;
const PAN_STEP = 40;

const ICONS = {
  mic: 'M12 3a3 3 0 013 3v6a3 3 0 01-6 0V6a3 3 0 013-3zM5 11a7 7 0 0014 0M12 18v3',
  cam: 'M3 7h12v10H3zM15 10l6-3v10l-6-3',
  screen: 'M3 4h18v12H3zM8 20h8M12 16v4',
  zoomIn: 'M10 4a6 6 0 110 12 6 6 0 010-12zM20 20l-5.5-5.5M7 10h6M10 7v6',
  zoomOut: 'M10 4a6 6 0 110 12 6 6 0 010-12zM20 20l-5.5-5.5M7 10h6',
  rotate: 'M20 11a8 8 0 10-2.3 5.7M20 4v7h-7',
  reset: 'M4 4h6M4 4v6M20 20h-6M20 20v-6M4 20h6M4 20v-6M20 4h-6M20 4v6',
  still: 'M4 7h3l2-3h6l2 3h3v12H4zM12 10a3.5 3.5 0 110 7 3.5 3.5 0 010-7z',
  copy: 'M8 8h11v12H8zM5 16V4h11',
  warn: 'M12 3l10 18H2zM12 10v5M12 18v.5',
  close: 'M6 6l12 12M18 6L6 18',
};

function Icon({ name, size = 20 }) {
  return html`<svg class="icon" width=${size} height=${size} viewBox="0 0 24 24" aria-hidden="true" focusable="false">
    <path d=${ICONS[name]} fill="none" stroke="currentColor" stroke-width="2.1" stroke-linecap="round" stroke-linejoin="round" />
  </svg>`;
}

/** A <video> showing a MediaStream (muted: the call's sound plays from the session's <audio>). */
class Video extends Component {
  componentDidMount() {
    this.sync();
  }

  componentDidUpdate() {
    this.sync();
  }

  sync() {
    const el = this.el; // Preact 11 has no this.base: a ref
    const stream = this.props.stream || null;
    if (!el || el.srcObject === stream) return;
    el.srcObject = stream;
    if (stream) el.play().catch(() => {});
  }

  render({ label: name, className, style, testid }) {
    return html`<video class=${className} style=${style} autoplay playsinline muted aria-label=${name} data-testid=${testid}
      ref=${(el) => (this.el = el)}></video>`;
  }
}

// ------------------------------------------------------------------------ document camera
/** The document camera, zoomed / panned / rotated in the page (CSS transform). */
class DocView extends Component {
  constructor(props) {
    super(props);
    this.state = { zoom: 1, rot: 0, x: 0, y: 0 };
    this.drag = null;
  }

  zoomBy(f) {
    const zoom = Math.min(ZOOM_MAX, Math.max(ZOOM_MIN, Math.round(this.state.zoom * f * 100) / 100));
    this.setState(zoom === 1 ? { zoom, x: 0, y: 0 } : { zoom });
  }

  rotate() {
    const rot = (this.state.rot + 90) % 360;
    this.setState({ rot });
    if (this.props.onRotate) this.props.onRotate(rot);
  }

  reset() {
    this.setState({ zoom: 1, rot: 0, x: 0, y: 0 });
    if (this.props.onRotate) this.props.onRotate(0);
  }

  pan(dx, dy) {
    this.setState((s) => ({ x: s.x + dx, y: s.y + dy }));
  }

  onKey(e) {
    const k = e.key;
    const step = e.shiftKey ? PAN_STEP * 3 : PAN_STEP;
    const moves = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
    if (moves[k]) this.pan(...moves[k]);
    else if (k === '+' || k === '=') this.zoomBy(ZOOM_STEP);
    else if (k === '-' || k === '_') this.zoomBy(1 / ZOOM_STEP);
    else if (k === 'r' || k === 'R') this.rotate();
    else if (k === '0') this.reset();
    else return;
    e.preventDefault();
  }

  onPointerDown(e) {
    if (e.button !== 0) return;
    e.currentTarget.setPointerCapture(e.pointerId);
    this.drag = { x0: e.clientX - this.state.x, y0: e.clientY - this.state.y };
  }

  onPointerMove(e) {
    if (!this.drag) return;
    this.setState({ x: e.clientX - this.drag.x0, y: e.clientY - this.drag.y0 });
  }

  onPointerUp() {
    this.drag = null;
  }

  onWheel(e) {
    if (!e.ctrlKey && !e.altKey) return; // plain wheel scrolls the page
    e.preventDefault();
    this.zoomBy(e.deltaY < 0 ? ZOOM_STEP : 1 / ZOOM_STEP);
  }

  render({ stream, session, still, status }, { zoom, rot, x, y }) {
    const fit = rot % 180 ? 9 / 16 : 1; // rotated: the 16:9 picture fits the box's height
    const style = { transform: `translate(${x}px, ${y}px) rotate(${rot}deg) scale(${zoom * fit})` };
    const pending = session.stillPending;
    const pct = pending && pending.size ? Math.round((pending.got / pending.size) * 100) : null;
    return html`<div class="doc">
      <div class="pane-head">
        <h3 id="pane-doc-h">${t('media.doccam')}</h3>
        ${still
          ? html`<button type="button" class="btn-primary" data-testid="still-request" disabled=${Boolean(pending) || status !== 'connected'}
              onClick=${() => session.requestStill()}>
              <${Icon} name="still" /> ${pending ? t('still.loading', { pct: pct === null ? '' : `${pct} %` }) : t('still.take')}</button>`
          : null}
      </div>
      <div class="video-box doc-box" tabindex="0" role="group" data-testid="doc-view"
        aria-label=${t('doc.view_label')} aria-describedby="doc-hint"
        onKeyDown=${(e) => this.onKey(e)} onPointerDown=${(e) => this.onPointerDown(e)}
        onPointerMove=${(e) => this.onPointerMove(e)} onPointerUp=${() => this.onPointerUp()}
        onPointerCancel=${() => this.onPointerUp()} onWheel=${(e) => this.onWheel(e)}>
        ${stream
          ? html`<${Video} stream=${stream} className="doc-video" style=${style} label=${t('media.doccam_video')} testid="doc-video" />`
          : html`<p class="video-empty">${emptyText(status)}</p>`}
      </div>
      <div class="doc-bar" role="group" aria-label=${t('doc.tools')}>
        <button type="button" data-testid="doc-zoom-out" onClick=${() => this.zoomBy(1 / ZOOM_STEP)} disabled=${zoom <= ZOOM_MIN}
          aria-label=${t('doc.zoom_out')} title=${t('doc.zoom_out')}><${Icon} name="zoomOut" /></button>
        <span class="doc-level" data-testid="doc-zoom-level" aria-live="polite">${t('doc.zoom_level', { pct: `${Math.round(zoom * 100)} %` })}</span>
        <button type="button" data-testid="doc-zoom-in" onClick=${() => this.zoomBy(ZOOM_STEP)} disabled=${zoom >= ZOOM_MAX}
          aria-label=${t('doc.zoom_in')} title=${t('doc.zoom_in')}><${Icon} name="zoomIn" /></button>
        <button type="button" data-testid="doc-rotate" onClick=${() => this.rotate()}><${Icon} name="rotate" /> ${t('doc.rotate')}</button>
        <button type="button" data-testid="doc-reset" onClick=${() => this.reset()} disabled=${zoom === 1 && rot === 0 && x === 0 && y === 0}>
          <${Icon} name="reset" /> ${t('doc.reset')}</button>
      </div>
      <p id="doc-hint" class="hint">${t('doc.hint')}</p>
      ${still && session.stillError
        ? html`<p class="msg msg-error" role="alert" data-testid="still-error">${label('still.error', session.stillError) === session.stillError ? t('still.error.other', { error: session.stillError }) : t(`still.error.${session.stillError}`)}</p>`
        : null}
      ${still && session.stills.length
        ? html`<div class="still-list">
            <span class="group-label" id="still-list-h">${t('still.recent')}</span>
            <ul class="plain row wrap" aria-labelledby="still-list-h">
              ${session.stills.map(
                (s, i) => html`<li key=${s.id}><button type="button" class="still-thumb" data-testid=${`still-open-${s.id}`} onClick=${() => session.showStill(s)}
                  aria-label=${t('still.open', { n: session.stills.length - i, time: clock(s.at / 1000) })}>
                  <img src=${s.url} alt="" width="96" height="54" /><span aria-hidden="true">${clock(s.at / 1000)}</span></button></li>`,
              )}
            </ul>
          </div>`
        : null}
    </div>`;
  }
}

/** The still, enlarged in a modal dialog (fit to the window or 100 %, rotatable). */
class StillViewer extends Component {
  constructor(props) {
    super(props);
    this.state = { full: false, rot: props.rot || 0, shownId: null };
    this.dialog = null;
    this.canvas = null;
    this.img = null;
  }

  componentDidMount() {
    this.sync();
  }

  componentDidUpdate() {
    this.sync();
  }

  sync() {
    const still = this.props.still;
    const d = this.dialog;
    if (!d) return;
    if (still && still.id !== this.state.shownId) {
      this.setState({ shownId: still.id, rot: this.props.rot || 0, full: false });
      return;
    }
    if (still && !d.open) {
      try {
        d.showModal();
      } catch {
        d.setAttribute('open', '');
      }
    } else if (!still && d.open) d.close();
    if (still && this.state.rot && this.canvas) this.draw(still);
  }

  draw(still) {
    const canvas = this.canvas;
    const key = `${still.url}|${this.state.rot}`;
    if (canvas.dataset.key === key) return;
    const img = new Image();
    img.onload = () => {
      const rot = this.state.rot;
      const swap = rot % 180 !== 0;
      canvas.width = swap ? img.naturalHeight : img.naturalWidth;
      canvas.height = swap ? img.naturalWidth : img.naturalHeight;
      const ctx = canvas.getContext('2d');
      ctx.translate(canvas.width / 2, canvas.height / 2);
      ctx.rotate((rot * Math.PI) / 180);
      ctx.drawImage(img, -img.naturalWidth / 2, -img.naturalHeight / 2);
      canvas.dataset.key = key;
    };
    img.src = still.url;
  }

  close() {
    this.props.session.showStill(null);
  }

  render({ still }, { full, rot }) {
    const alt = still ? t('still.alt', { w: still.width, h: still.height }) : '';
    return html`<dialog class="still-dialog" data-testid="still-dialog" aria-labelledby="still-h"
      ref=${(el) => (this.dialog = el)} onClose=${() => this.close()} onCancel=${() => this.close()}>
      ${still
        ? html`<div class="still-head">
              <h2 id="still-h">${t('still.title')} <span class="muted small">${still.width} × ${still.height}</span></h2>
              <div class="row wrap">
                <button type="button" class="toggle" aria-pressed=${full ? 'false' : 'true'} data-testid="still-fit" onClick=${() => this.setState({ full: false })}>${t('still.fit')}</button>
                <button type="button" class="toggle" aria-pressed=${full ? 'true' : 'false'} data-testid="still-full" onClick=${() => this.setState({ full: true })}>${t('still.full')}</button>
                <button type="button" data-testid="still-rotate" onClick=${() => this.setState({ rot: (rot + 90) % 360 })}><${Icon} name="rotate" /> ${t('still.rotate')}</button>
                <button type="button" class="btn-primary" data-testid="still-close" onClick=${() => this.close()}><${Icon} name="close" /> ${t('still.close')}</button>
              </div>
            </div>
            <div class=${`still-body${full ? ' still-full' : ''}`}>
              ${rot
                ? html`<canvas key="c" role="img" aria-label=${alt} data-testid="still-image" ref=${(el) => (this.canvas = el)}></canvas>`
                : html`<img key="i" src=${still.url} alt=${alt} data-testid="still-image" />`}
            </div>
            <p class="hint">${t('still.privacy')}</p>`
        : null}
    </dialog>`;
  }
}

// ------------------------------------------------------------------------ real-time text
/** The agent's text field (each change sent at once as T.140) and the citizen's text. */
class RttPanel extends Component {
  constructor(props) {
    super(props);
    this.announced = '';
    this.timer = null;
    this.state = { announce: '' };
    this.box = null;
  }

  componentDidUpdate() {
    const text = this.props.session.rttIn.text;
    if (this.box) this.box.scrollTop = this.box.scrollHeight;
    if (text === this.seen) return;
    this.seen = text;
    clearTimeout(this.timer);
    // a screen reader hears the citizen's text when the typing pauses, not every letter
    this.timer = setTimeout(() => {
      const now = this.props.session.rttIn.text;
      let fresh = now.startsWith(this.announced) ? now.slice(this.announced.length) : now.split('\u2028').pop();
      fresh = fresh.replace(/\u2028/g, ' ').trim();
      this.announced = now;
      if (fresh) this.setState({ announce: t('rtt.announce', { who: this.props.them, text: fresh }) });
    }, 1500);
  }

  componentDidMount() {
    // is the citizen's text on screen? (else "new text" shows at the top of the media)
    if (typeof IntersectionObserver !== 'undefined' && this.box) {
      this.io = new IntersectionObserver(
        (entries) => {
          const seen = entries.some((e) => e.intersectionRatio >= 0.5);
          if (this.props.onVisible) this.props.onVisible(seen);
        },
        { threshold: [0, 0.5, 1] },
      );
      this.io.observe(this.box);
    }
  }

  componentWillUnmount() {
    clearTimeout(this.timer);
    if (this.io) this.io.disconnect();
  }

  render({ session, them }, { announce }) {
    const received = session.rttIn.text.replace(/\u2028/g, '\n');
    return html`<section class="rtt" id="rtt" aria-labelledby="rtt-h" data-testid="rtt-panel">
      <h3 id="rtt-h">${t('rtt.title')}</h3>
      <p class="hint" id="rtt-hint">${t('rtt.hint')}</p>
      <div class="rtt-cols">
        <div class="rtt-col rtt-me">
          <label for="rtt-input" class="rtt-who"><span class="rtt-tag rtt-tag-me">${t('rtt.you')}</span> ${t('rtt.you_label')}</label>
          <textarea id="rtt-input" data-testid="rtt-input" rows="4" aria-describedby="rtt-hint" spellcheck="true"
            value=${session.sentText} onInput=${(e) => session.typed(e.currentTarget.value)}></textarea>
        </div>
        <div class="rtt-col rtt-them">
          <span class="rtt-who" id="rtt-them-h"><span class="rtt-tag rtt-tag-them">${them}</span> ${t('rtt.them_label', { who: them })}</span>
          <div class="rtt-text" role="log" aria-live="off" aria-labelledby="rtt-them-h" tabindex="0" data-testid="rtt-received"
            ref=${(el) => (this.box = el)}>${received || html`<span class="muted">${t('rtt.nothing')}</span>`}</div>
        </div>
      </div>
      <div class="sr-only" aria-live="polite" data-testid="rtt-announce">${announce}</div>
    </section>`;
  }
}

// ------------------------------------------------------------------------ invitations
/** Invite an interpreter or a second clerk: the link once, the list, revoke. */
export class InvitePanel extends Component {
  constructor(props) {
    super(props);
    this.state = { role: 'interpreter', name: '', busy: false, link: null, error: '', list: [], msg: '' };
  }

  componentDidMount() {
    this.load();
  }

  componentDidUpdate(prev) {
    if (prev.call !== this.props.call) {
      this.setState({ link: null, error: '', list: [], msg: '' });
      this.load();
    }
  }

  async load() {
    const call = this.props.call;
    try {
      const list = await request('GET', `/calls/${enc(call)}/invitations`);
      if (call === this.props.call) this.setState({ list: Array.isArray(list) ? list : [] });
    } catch {
      /* not (yet) in the call: the list stays empty */
    }
  }

  errText(e) {
    if (e && (e.code === 'not_in_call' || e.code === 'too_many_guests')) return t(`invite.error.${e.code}`);
    return t('invite.error.other', { detail: (e && (e.detail || e.code)) || '?' });
  }

  async invite(ev) {
    ev.preventDefault();
    const { role, name } = this.state;
    this.setState({ busy: true, error: '', msg: '', link: null });
    try {
      const inv = await request('POST', `/calls/${enc(this.props.call)}/invitations`, { role, name: name.trim() });
      this.setState({ link: inv, name: '' });
      this.load();
    } catch (e) {
      this.setState({ error: this.errText(e) });
    }
    this.setState({ busy: false });
  }

  async revoke(inv) {
    this.setState({ error: '', msg: '' });
    try {
      await request('DELETE', `/calls/${enc(this.props.call)}/invitations/${enc(inv.id)}`);
      this.setState((s) => ({ msg: t('invite.revoked'), link: s.link && s.link.id === inv.id ? null : s.link }));
    } catch (e) {
      if (e.status !== 404) this.setState({ error: this.errText(e) });
    }
    this.load();
  }

  async copy() {
    const url = this.state.link && this.state.link.url;
    let ok = false;
    try {
      await navigator.clipboard.writeText(url);
      ok = true;
    } catch {
      const input = document.getElementById('invite-link');
      if (input) {
        input.select();
        try {
          ok = document.execCommand('copy');
        } catch {
          ok = false;
        }
      }
    }
    this.setState({ msg: ok ? t('invite.copied') : t('invite.copy_failed') });
  }

  render(_, { role, name, busy, link, error, list, msg }) {
    return html`<section class="invite" aria-labelledby="invite-h" data-testid="invite-panel">
      <h3 id="invite-h">${t('invite.title')}</h3>
      <form class="invite-form" onSubmit=${(e) => this.invite(e)}>
        <div class="field">
          <label for="invite-role">${t('invite.role')}</label>
          <select id="invite-role" data-testid="invite-role" value=${role} onChange=${(e) => this.setState({ role: e.currentTarget.value })}>
            <option value="interpreter">${t('invite.role.interpreter')}</option>
            <option value="clerk">${t('invite.role.clerk')}</option>
          </select>
        </div>
        <div class="field">
          <label for="invite-name">${t('invite.name')}</label>
          <input id="invite-name" data-testid="invite-name" maxlength="80" value=${name} autocomplete="off"
            onInput=${(e) => this.setState({ name: e.currentTarget.value })} />
        </div>
        <button type="submit" class="btn-primary" data-testid="invite-submit" disabled=${busy}>${t(`invite.submit.${role}`)}</button>
      </form>
      ${error ? html`<p class="msg msg-error" role="alert" data-testid="invite-error">${error}</p>` : null}
      ${link
        ? html`<div class="invite-link" data-testid="invite-link-box">
            <label for="invite-link" class="strong">${t('invite.link_title', { who: link.name })}</label>
            <div class="row">
              <input id="invite-link" data-testid="invite-link" readonly value=${link.url} onFocus=${(e) => e.currentTarget.select()} />
              <button type="button" data-testid="invite-copy" onClick=${() => this.copy()}><${Icon} name="copy" /> ${t('invite.copy')}</button>
            </div>
            <p class="hint">${t('invite.link_once', { time: clock(link.expires_at) })}</p>
            <button type="button" data-testid="invite-done" onClick=${() => this.setState({ link: null, msg: '' })}>${t('invite.done')}</button>
          </div>`
        : null}
      <p class="msg msg-ok" role="status" data-testid="invite-msg" hidden=${!msg}>${msg}</p>
      <h4 id="invite-list-h">${t('invite.list')}</h4>
      ${list.length
        ? html`<ul class="plain invite-list" aria-labelledby="invite-list-h" data-testid="invite-list">
            ${list.map(
              (inv) => html`<li key=${inv.id} data-testid=${`invite-${inv.id}`}>
                <span><span class="strong">${label('guestrole', inv.role)}:</span> ${inv.name} <span class="muted small">${t('invite.until', { time: clock(inv.expires_at) })}</span></span>
                <button type="button" data-testid=${`invite-revoke-${inv.id}`} aria-label=${t('invite.revoke_label', { name: inv.name })} onClick=${() => this.revoke(inv)}>${t('invite.revoke')}</button>
              </li>`,
            )}
          </ul>`
        : html`<p class="muted" data-testid="invite-none">${t('invite.none')}</p>`}
    </section>`;
  }
}

// ------------------------------------------------------------------------ the whole panel
function emptyText(status) {
  if (status === 'connected') return t('media.no_video');
  if (status === 'stopped' || status === 'elsewhere' || status === 'idle') return t('media.paused_video');
  return t('media.waiting_video');
}

function stateText(s, session) {
  if (s.status === 'connected' && session.boothState === 'recovering') return t('media.state.booth_recovering');
  return t(`media.state.${s.status}`);
}

function Notices({ session }) {
  const out = [];
  const unavailable = Object.entries(session.devices || {}).filter(([, v]) => v && v !== 'ok');
  if (unavailable.length) {
    out.push(html`<div class="notice notice-warn" role="alert" data-testid="media-devices">
      <${Icon} name="warn" size=${22} />
      <p>${unavailable.map(([slot]) => html`<span class="block" key=${slot}>${t('media.device_unavailable', { device: label('device', slot) })}
        ${' '}${label('media.device_hint', slot) === slot ? t('media.device_hint.other') : t(`media.device_hint.${slot}`)}</span>`)}</p>
    </div>`);
  }
  if (session.localError) {
    out.push(html`<div class="notice notice-warn" role="alert" data-testid="media-local-error"><${Icon} name="warn" size=${22} /><p>${t(`media.local.${session.localError}`)}</p></div>`);
  }
  if (session.audioBlocked) {
    out.push(html`<div class="notice notice-warn" role="alert" data-testid="media-audio-blocked">
      <${Icon} name="warn" size=${22} /><p>${t('media.audio_blocked')}</p>
      <button type="button" data-testid="media-audio-enable" onClick=${() => session.unblockAudio()}>${t('media.audio_enable')}</button>
    </div>`);
  }
  if (session.status === 'recovering') {
    out.push(html`<p class="msg msg-warn" data-testid="media-recovering">${t('media.recovering_hint')}</p>`);
  } else if (session.status === 'connected' && session.boothState === 'recovering') {
    out.push(html`<p class="msg msg-warn" data-testid="media-recovering">${t('media.booth_recovering_hint')}</p>`);
  }
  if (session.status === 'elsewhere') {
    out.push(html`<div class="notice notice-info" data-testid="media-elsewhere"><p>${t('media.elsewhere_hint')}</p>
      <button type="button" data-testid="media-take-over" onClick=${() => session.takeOver()}>${t('media.take_over')}</button></div>`);
  }
  if (session.refused && session.status !== 'connected') {
    out.push(html`<p class="msg" data-testid="media-refused">${t('media.refused')}</p>`);
  }
  return out.length ? html`<div class="media-notices">${out}</div>` : null;
}

/**
 * The media of one call. Props: session (MediaSession), them (who is on the booth side, for the
 * text), features {share, still, invite}, call (id, for the invitations), doccam (a vnode: the
 * camera remote control), muteKeys (aria-keyshortcuts of the microphone button), layout 'agent' (citizen and document equally high) or 'guest' (the
 * citizen larger: an interpreter needs the face and hands, sign language).
 */
export class CallMedia extends Component {
  constructor(props) {
    super(props);
    this.state = { rot: 0, rttVisible: true, rttSeen: '' };
  }

  componentDidMount() {
    this.off = this.props.session.listen(() => this.forceUpdate());
  }

  rttVisible(visible) {
    this.setState({ rttVisible: visible, rttSeen: this.props.session.rttIn.text });
  }

  toRtt() {
    const input = document.getElementById('rtt-input');
    const panel = document.getElementById('rtt');
    if (panel) panel.scrollIntoView({ block: 'center' });
    if (input) input.focus({ preventScroll: true });
  }

  componentWillUnmount() {
    if (this.off) this.off();
  }

  render({ session, them = t('rtt.them'), features = {}, call, doccam = null, heading = t('media.title'), layout = 'agent', muteKeys = null }, { rot, rttVisible, rttSeen }) {
    const s = session;
    const status = s.status;
    const citizen = s.remote[MID.video];
    const doc = s.remote[MID.document];
    const self = s.localStream && s.localStream.getVideoTracks().length ? s.localStream : null;
    const hasAudio = Boolean(s.localStream && s.localStream.getAudioTracks().length);
    return html`<section class="card media" aria-labelledby="media-h" data-testid="media-panel">
      <div class="media-head">
        <h2 id="media-h">${heading}</h2>
        ${!rttVisible && s.rttIn.text && s.rttIn.text !== rttSeen
          ? html`<button type="button" class="rtt-new" data-testid="rtt-new" onClick=${() => this.toRtt()}>${t('rtt.new', { who: them })}</button>`
          : null}
        <p class=${`media-state ms-${status === 'connected' && s.boothState === 'recovering' ? 'recovering' : status}`} role="status" data-testid="media-state" data-state=${status}>
          <span class="dot" aria-hidden="true"></span>${stateText(s, session)}
        </p>
      </div>
      <${Notices} session=${s} />
      <div class=${`stage stage-${layout}`}>
        <section class="pane pane-citizen" aria-labelledby="pane-citizen-h" data-testid="video-citizen">
          <div class="pane-head"><h3 id="pane-citizen-h">${t('media.citizen')}</h3></div>
          <div class="video-box">
            ${citizen
              ? html`<${Video} stream=${citizen} className="main-video" label=${t('media.citizen_video')} testid="citizen-video" />`
              : html`<p class="video-empty">${emptyText(status)}</p>`}
            <div class="selfview" data-testid="self-view">
              ${self && !s.muted.video
                ? html`<${Video} stream=${self} className="self-video" label=${t('media.self')} testid="self-video" />`
                : html`<p>${t('media.self_off')}</p>`}
            </div>
          </div>
          <div class="media-bar" role="group" aria-label=${t('media.your_devices')}>
            <button type="button" class="toggle-off" data-testid="mute-audio" aria-pressed=${s.muted.audio ? 'true' : 'false'} disabled=${!hasAudio}
              aria-keyshortcuts=${muteKeys || undefined}
              onClick=${() => s.toggleMute('audio')}><${Icon} name="mic" /> ${t('media.mic_off')}</button>
            <button type="button" class="toggle-off" data-testid="mute-video" aria-pressed=${s.muted.video ? 'true' : 'false'} disabled=${!self}
              onClick=${() => s.toggleMute('video')}><${Icon} name="cam" /> ${t('media.cam_off')}</button>
            ${features.share
              ? html`<button type="button" class="toggle" data-testid="share-screen" aria-pressed=${s.sharing ? 'true' : 'false'} disabled=${!s.pc && !s.sharing}
                  onClick=${() => (s.sharing ? s.stopShare() : s.startShare())}><${Icon} name="screen" /> ${t('media.share')}</button>`
              : null}
            <span class="media-bar-notes" aria-live="polite">
              ${s.muted.audio ? html`<span class="pill pill-warn" data-testid="muted-audio-note">${t('media.muted_note')}</span>` : null}
              ${s.muted.video ? html`<span class="pill pill-warn" data-testid="muted-video-note">${t('media.video_off_note')}</span>` : null}
              ${s.sharing ? html`<span class="pill pill-info" data-testid="sharing-note">${t('media.sharing_note')}</span>` : null}
              ${s.shareError ? html`<span class="pill pill-warn" data-testid="share-error">${t(`media.share_error.${s.shareError}`)}</span>` : null}
            </span>
          </div>
        </section>
        <section class="pane pane-doc" aria-labelledby="pane-doc-h" data-testid="video-doccam">
          <${DocView} stream=${doc} session=${s} still=${Boolean(features.still)} status=${status} onRotate=${(r) => this.setState({ rot: r })} />
        </section>
      </div>
      <${RttPanel} session=${s} them=${them} onVisible=${(v) => this.rttVisible(v)} />
      ${doccam}
      ${features.invite && call ? html`<${InvitePanel} call=${call} />` : null}
      ${features.still ? html`<${StillViewer} still=${s.still} session=${s} rot=${rot} />` : null}
    </section>`;
  }
}
