// The guest page (/gast.html#<token>): an interpreter or a second clerk invited to one call,
// without an account (docs/media.md). GET /api/v1/guest says who and what; the media
// signalling runs on the WebSocket /api/v1/guest/media; the media flow is the portal's own
// (MediaSession, CallMedia from media.js). The page says plainly when the link is incomplete,
// invalid or expired, when the call has not started (or is paused) and when it has ended.
//
// No import map here (the portal's CSP allows only index.html's inline script): Preact and
// htm by their file paths, no hooks (they import the bare 'preact').

import htm from './vendor/htm/dist/htm.module.js';
import { h, render } from './vendor/preact/dist/preact.mjs';
import { backoff } from './api.js';
import { clock } from './format.js';
import { label, lang, LANGUAGES, setLang, t } from './i18n.js';
import { CallMedia, MediaSession } from './media.js';

const html = htm.bind(h);
const WS_UNAUTHORIZED = 4401;
const PING_EVERY_MS = 25000;
const token = (() => {
  try {
    return decodeURIComponent(location.hash.replace(/^#/, '')).trim();
  } catch {
    return '';
  }
})();

/** phase: loading | no_token | invalid | call | ended | revoked | expired | left */
const page = { phase: token ? 'loading' : 'no_token', info: null, conn: 'connecting', netError: false, stopReason: null };
let ws = null;
let attempt = 0;
let retryTimer = null;
let pinger = null;

const session = new MediaSession({
  send: (frame) => {
    if (!ws || ws.readyState !== 1) return false;
    ws.send(JSON.stringify(frame));
    return true;
  },
});
window.lisaMedia = session.testApi();
session.listen(draw);

async function guestInfo() {
  const resp = await fetch('/api/v1/guest', {
    headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
    cache: 'no-store',
    credentials: 'omit',
  });
  if (resp.status === 401) return null;
  if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
  return resp.json();
}

/** The invitation is gone (expired, revoked, the call ended): end the page's media. */
function finish() {
  const why = page.stopReason;
  page.phase = !page.info ? 'invalid' : why === 'revoked' ? 'revoked' : why === 'expired' ? 'expired' : 'ended';
  stopSocket();
  session.want(null);
  draw();
}

async function check() {
  try {
    const info = await guestInfo();
    page.netError = false;
    if (!info) {
      finish();
      return false;
    }
    page.info = { ...(page.info || {}), ...info };
    return true;
  } catch {
    page.netError = true;
    draw();
    return null;
  }
}

function stopSocket() {
  clearTimeout(retryTimer);
  clearInterval(pinger);
  if (ws) {
    const old = ws;
    ws = null;
    old.onclose = old.onmessage = old.onerror = old.onopen = null;
    try {
      old.close(1000, 'bye');
    } catch {
      /* closed */
    }
  }
}

function connect() {
  stopSocket();
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const sock = new WebSocket(`${proto}//${location.host}/api/v1/guest/media?token=${encodeURIComponent(token)}`);
  ws = sock;
  sock.onopen = () => {
    pinger = setInterval(() => sock.readyState === 1 && sock.send('{"type":"ping"}'), PING_EVERY_MS);
  };
  sock.onmessage = (m) => {
    let msg;
    try {
      msg = JSON.parse(m.data);
    } catch {
      return;
    }
    if (msg.type === 'guest') {
      attempt = 0;
      page.conn = 'open';
      page.phase = 'call';
      page.info = { ...(page.info || {}), ...msg };
      if (session.call === msg.call) session.reconnected();
      else session.want(msg.call);
      draw();
    } else if (typeof msg.type === 'string' && msg.type.startsWith('media.')) {
      session.handle(msg);
      if (msg.type === 'media.stop') {
        page.stopReason = msg.reason || null;
        check(); // revoked / expired / ended: the link says so
      }
    }
  };
  sock.onclose = (e) => {
    clearInterval(pinger);
    if (ws !== sock) return;
    ws = null;
    if (e.code === WS_UNAUTHORIZED) {
      check();
      return;
    }
    page.conn = 'lost';
    draw();
    retryTimer = setTimeout(async () => {
      if ((await check()) !== false) connect();
    }, backoff(attempt++));
  };
}

function leave() {
  stopSocket();
  session.want(null);
  page.phase = 'left';
  draw();
}

async function rejoin() {
  page.phase = 'loading';
  draw();
  if (await check()) connect();
}

// ------------------------------------------------------------------------------ view
function Message({ title, hint, testid, children }) {
  return html`<section class="card guest-message" aria-labelledby="guest-msg-h" data-testid=${testid}>
    <h2 id="guest-msg-h">${title}</h2>
    ${hint ? html`<p>${hint}</p>` : null}
    ${children}
  </section>`;
}

function Intro({ info }) {
  const role = label('guestrole', info.role);
  return html`<section class="card guest-intro" aria-labelledby="guest-intro-h" data-testid="guest-intro">
    <h2 id="guest-intro-h" class="sr-only">${t('guest.about')}</h2>
    <div class="guest-facts">
      <p class="guest-lead" data-testid="guest-role">${t('guest.welcome', { role })}</p>
      ${info.name ? html`<p data-testid="guest-name">${t('guest.as', { name: info.name })}</p>` : null}
      <p class="muted">${info.expires_at ? t('guest.expires', { time: clock(info.expires_at) }) : ''} ${t('guest.privacy')}</p>
    </div>
    <button type="button" class="btn-danger" data-testid="guest-leave" onClick=${leave}>${t('guest.leave')}</button>
  </section>`;
}

function Body() {
  switch (page.phase) {
    case 'loading':
      return html`<p role="status" data-testid="guest-loading">${t('guest.loading')}</p>`;
    case 'no_token':
      return html`<${Message} title=${t('guest.no_token')} hint=${t('guest.no_token_hint')} testid="guest-no-token" />`;
    case 'invalid':
      return html`<${Message} title=${t('guest.invalid')} hint=${t('guest.invalid_hint')} testid="guest-invalid" />`;
    case 'ended':
      return html`<${Message} title=${t('guest.ended')} hint=${t('guest.ended_hint')} testid="guest-ended" />`;
    case 'revoked':
      return html`<${Message} title=${t('guest.revoked')} hint=${t('guest.ended_hint')} testid="guest-revoked" />`;
    case 'expired':
      return html`<${Message} title=${t('guest.expired')} hint=${t('guest.invalid_hint')} testid="guest-expired" />`;
    case 'left':
      return html`<${Message} title=${t('guest.left')} hint=${t('guest.left_hint')} testid="guest-left">
        <button type="button" class="btn-primary" data-testid="guest-rejoin" onClick=${rejoin}>${t('guest.rejoin')}</button>
      <//>`;
    default: {
      const info = page.info || {};
      const s = session.status;
      const waiting = s === 'waiting' || s === 'stopped' || (s !== 'connected' && session.refused);
      return html`
        <${Intro} info=${info} />
        ${waiting ? html`<p class="msg msg-warn guest-waiting" role="status" data-testid="guest-waiting">${t('guest.waiting')}</p>` : null}
        ${s !== 'connected' && !session.everConnected && !session.localStream && !session.localError ? html`<p class="hint">${t('guest.camera_note')}</p>` : null}
        <${CallMedia} session=${session} layout="guest" features=${{ still: info.role === 'clerk' }} />`;
    }
  }
}

function chooseLang(code) {
  setLang(code);
  document.title = t('guest.title');
  draw();
}

function LangSwitch() {
  return html`<div class="guest-lang" role="group" aria-label=${t('guest.lang')}>
    ${LANGUAGES.map(
      ([code, name]) => html`<button type="button" lang=${code} class="btn-quiet" data-testid=${`guest-lang-${code}`}
        aria-pressed=${lang() === code ? 'true' : 'false'} onClick=${() => chooseLang(code)}>${name}</button>`,
    )}
  </div>`;
}

function Page() {
  const offline = page.phase === 'call' && page.conn === 'lost';
  return html`
    <header class="top guest-top" role="banner">
      <div class="brand"><h1 class="brand-title">${t('guest.title')}</h1><span class="brand-sub">${t('app.subtitle')}</span></div>
      <${LangSwitch} />
    </header>
    <main id="main" class="guest" data-testid="guest-page" data-phase=${page.phase}>
      ${offline ? html`<p class="msg msg-warn" role="alert" data-testid="guest-offline">${t('guest.offline')}</p>` : null}
      ${page.netError ? html`<p class="msg msg-error" role="alert" data-testid="guest-neterror">${t('guest.error')}</p>` : null}
      <${Body} />
    </main>`;
}

let drawQueued = false;
function draw() {
  if (drawQueued) return;
  drawQueued = true;
  queueMicrotask(() => {
    drawQueued = false;
    render(html`<${Page} />`, document.getElementById('app'));
  });
}

async function boot() {
  document.getElementById('app').textContent = '';
  draw();
  if (!token) return;
  const ok = await check();
  if (ok) connect();
  else if (ok === null) retryTimer = setTimeout(boot, 3000);
}

window.addEventListener('hashchange', () => location.reload());
boot();
