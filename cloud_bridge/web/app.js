// The portal shell: session (cookie, GET /me), the live event stream, hash routing by role,
// header with navigation and connection status, the offer banner and ring on every page,
// keyboard shortcuts and the screen-reader announcements.

import { html, render } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, cookie, EventStream, onUnauthorized } from './api.js';
import { accept, decline, hangup, setReady } from './actions.js';
import { Arbeitsplatz } from './arbeitsplatz.js';
import { Berichte } from './berichte.js';
import { label, t } from './i18n.js';
import { Login } from './login.js';
import { OfferBanner, offerTexts, Ringer } from './offer.js';
import { consultAudio, media, mediaCall, setMediaStream } from './portal-media.js';
import { stopRinging } from './ringer.js';
import { applyEvent, applyMe, boothName, currentOffer, isAgent, myCall, resetLive, state, update, useStore } from './store.js';
import { Technik } from './technik.js';
import { Uebersicht } from './uebersicht.js';
import { Verwaltung } from './verwaltung.js';
import { Wallboard } from './wallboard.js';

const ROUTES = [
  { id: 'arbeitsplatz', page: Arbeitsplatz, allowed: (u) => u.is_agent },
  { id: 'uebersicht', page: Uebersicht, allowed: () => true },
  { id: 'wallboard', page: Wallboard, allowed: (u) => ['supervisor', 'admin'].includes(u.role) },
  { id: 'berichte', page: Berichte, allowed: (u) => ['supervisor', 'admin'].includes(u.role) },
  { id: 'technik', page: Technik, allowed: (u) => ['technician', 'supervisor', 'admin'].includes(u.role) },
  { id: 'verwaltung', page: Verwaltung, allowed: (u) => u.role === 'admin' },
];

function homeOf(user) {
  if (user.is_agent) return 'arbeitsplatz';
  if (user.role === 'technician') return 'technik';
  return 'uebersicht';
}

const routeId = () => (location.hash.replace(/^#\/?/, '').split(/[/?]/)[0] || '').toLowerCase();

function go(id) {
  if (routeId() !== id) location.hash = `#/${id}`;
}

// ------------------------------------------------------------------------------ session
let stream = null;
let wanted = null; // the page asked for before the login

async function refreshMe() {
  try {
    const me = await api.me();
    update(() => applyMe(me));
  } catch {
    /* 401 handled globally; network: the next reconnect tries again */
  }
}

async function loadSettings() {
  try {
    const s = await api.settings();
    update((st) => (st.settings = { auto_accept: false, ...(s || {}) }));
  } catch {
    /* keep the defaults */
  }
}

function startSession(me) {
  update((s) => {
    s.session = { user: me.user, agent: me.agent ?? null };
    s.loginNotice = null;
  });
  loadSettings();
  if (stream) stream.stop();
  stream = new EventStream({
    onEvent: (ev) => {
      update(() => applyEvent(ev));
      if (ev.type === 'snapshot') refreshMe(); // the snapshot and /me are the truth after a (re)connect
    },
    onState: (conn, info) => update((s) => {
      s.conn = conn;
      s.retryAt = info && info.retryAt ? info.retryAt : null;
    }),
    onUnauthorized: () => expire(),
  });
  setMediaStream(stream);
  stream.start();
  const target = wanted && wanted !== 'login' ? wanted : routeId();
  wanted = null;
  const route = ROUTES.find((r) => r.id === target);
  go(route && route.allowed(me.user) ? route.id : homeOf(me.user));
}

function endSession(notice) {
  if (stream) stream.stop();
  stream = null;
  setMediaStream(null);
  stopRinging();
  update((s) => {
    s.session = null;
    s.loginNotice = notice;
    s.settings = { auto_accept: false };
    s.conn = 'closed';
    resetLive();
  });
  if (routeId() && routeId() !== 'login') wanted = routeId();
  go('login');
}

function expire() {
  if (!state.session) return; // not logged in (yet): the login page is shown anyway
  endSession('expired');
}

async function logout() {
  if (isAgent()) {
    try {
      await api.setStatus('logged_out');
    } catch {
      /* the session may be gone already */
    }
  }
  try {
    await api.logout();
  } catch {
    /* cookie cleared by the server or already expired */
  }
  endSession('loggedout');
}

onUnauthorized(() => expire());

// ---------------------------------------------------------------------------- shortcuts
function onKey(e) {
  if (!e.altKey || !e.shiftKey || e.ctrlKey || e.metaKey || e.repeat || !state.session || !isAgent()) return;
  const action = {
    KeyA: () => accept(),
    KeyD: () => decline(),
    KeyR: () => setReady(),
    KeyE: () => hangup(),
    // the microphone of the call, or of the consultation with a colleague
    KeyM: () => (mediaCall() ? media.toggleMute('audio') : consultAudio.active() && consultAudio.toggleMute()),
  }[e.code];
  if (!action) return;
  e.preventDefault();
  action();
}

// ------------------------------------------------------------------------------- pieces
function ConnStatus() {
  const [, tick] = useState(0);
  useEffect(() => {
    const id = setInterval(() => tick((v) => v + 1), 1000);
    return () => clearInterval(id);
  }, []);
  const c = state.conn;
  const text = c === 'open' ? t('conn.open') : c === 'lost' ? t('conn.lost') : t('conn.connecting');
  const left = state.retryAt ? Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000)) : null;
  return html`<div class=${`conn conn-${c}`} role="status" data-testid="conn-status" data-state=${c}>
    <span class="dot" aria-hidden="true"></span>${text}
    ${c !== 'open' && left !== null ? html`<span class="muted small" aria-hidden="true"> ${t('conn.retry', { s: left })}</span>` : null}
  </div>`;
}

/** Screen-reader announcements: offers (assertive), call state (polite). */
function Announcer() {
  const offer = currentOffer();
  const call = myCall();
  const [polite, setPolite] = useState('');
  const lastCall = useRef(null);
  const callId = call ? call.id : null;
  useEffect(() => {
    if (callId && callId !== lastCall.current) setPolite(t('call.connected_announce', { booth: boothName(call.booth) }));
    else if (!callId && lastCall.current) setPolite(t('call.ended_announce'));
    lastCall.current = callId;
  }, [callId]);
  const assertive = offer ? t('offer.announce', offerTexts(offer)) : '';
  return html`<div class="sr-only">
    <div aria-live="assertive" aria-atomic="true" data-testid="live-assertive">${assertive}</div>
    <div aria-live="polite" aria-atomic="true" data-testid="live-polite">${polite}</div>
  </div>`;
}

function Header({ route }) {
  const u = state.session.user;
  const allowed = ROUTES.filter((r) => r.allowed(u));
  return html`<header class="top" role="banner">
    <div class="brand">
      <span class="brand-title">${t('app.title')}</span>
      <span class="brand-sub">${t('app.subtitle')}</span>
    </div>
    <nav aria-label=${t('nav.label')}>
      <ul>
        ${allowed.map(
          (r) => html`<li key=${r.id}><a href=${`#/${r.id}`} data-testid=${`nav-${r.id}`} aria-current=${route === r.id ? 'page' : undefined}>${t(`nav.${r.id}`)}</a></li>`,
        )}
      </ul>
    </nav>
    <div class="who">
      <${ConnStatus} />
      <span class="user" data-testid="user-name">${t('nav.user', { name: u.display_name || u.name, role: label('role', u.role) })}</span>
      <button type="button" class="btn-quiet" data-testid="logout" onClick=${logout}>${t('nav.logout')}</button>
    </div>
  </header>`;
}

function useRoute() {
  const [route, setRoute] = useState(routeId());
  useEffect(() => {
    const f = () => setRoute(routeId());
    window.addEventListener('hashchange', f);
    return () => window.removeEventListener('hashchange', f);
  }, []);
  return route;
}

function App() {
  useStore();
  const route = useRoute();
  useEffect(() => {
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
  const session = state.session;
  const r = ROUTES.find((x) => x.id === route);
  useEffect(() => {
    const title = !session ? t('login.title') : r ? t(`nav.${r.id}`) : t('app.title');
    document.title = `${title} – ${t('app.title')}`;
  }, [route, Boolean(session)]);

  if (!state.booted) return html`<main id="main" class="loading"><p role="status">${t('app.loading')}</p></main>`;
  if (!session) {
    if (route !== 'login') go('login');
    return html`<header class="top top-login" role="banner"><div class="brand"><span class="brand-title">${t('app.title')}</span><span class="brand-sub">${t('app.subtitle')}</span></div></header>
      <main id="main"><${Login} onLoggedIn=${(ans) => startSession({ user: ans.user, agent: null })} /></main>`;
  }
  if (!r) {
    go(homeOf(session.user));
    return null;
  }
  const Page = r.page;
  const agent = isAgent();
  return html`
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById('main').focus(); }}>${t('app.skip')}</a>
    <${Header} route=${route} />
    ${agent ? html`<${Ringer} /><${Announcer} />` : null}
    <main id="main" tabindex="-1" data-testid=${`main-${route}`}>
      ${agent ? html`<${OfferBanner} />` : null}
      ${r.allowed(session.user) ? html`<${Page} key=${route} />` : html`<p class="msg msg-error" role="alert" data-testid="forbidden">${t('nav.forbidden')}</p>`}
    </main>
    <footer class="foot"><span>${t('app.title')}</span>${agent ? html`<span class="muted"> · ${t('keys.accept')} · ${t('keys.decline')} · ${t('keys.ready')} · ${t('keys.end')} · ${t('keys.mute')}</span>` : null}</footer>
  `;
}

// --------------------------------------------------------------------------------- boot
async function boot() {
  render(html`<${App} />`, document.getElementById('app'));
  if (!cookie('lisa_csrf')) {
    // no session cookie pair: nothing to ask the server (and no 401 in the console)
    update((s) => (s.booted = true));
    if (routeId() && routeId() !== 'login') wanted = routeId();
    go('login');
    return;
  }
  try {
    const me = await api.me();
    update((s) => (s.booted = true));
    startSession(me);
  } catch (e) {
    const hadSession = Boolean(cookie('lisa_csrf'));
    update((s) => {
      s.booted = true;
      if (e.status === 401 && hadSession) s.loginNotice = 'expired';
    });
    if (routeId() && routeId() !== 'login') wanted = routeId();
    go('login');
  }
}

boot();
