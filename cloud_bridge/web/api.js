// HTTP + WebSocket access to the bridge (docs/agent-api.md, docs/portal.md).
// Cookie session: the browser sends `lisa_session` itself; every non-GET request carries
// `X-CSRF-Token` = the `lisa_csrf` cookie. A 401 anywhere calls the handler set with
// onUnauthorized() (the app then shows the login with the expiry message).

const BASE = '/api/v1';
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export class ApiError extends Error {
  constructor(status, code, detail, retryAfter = null) {
    super(detail || code);
    this.status = status;
    this.code = code;
    this.detail = detail || '';
    this.retryAfter = retryAfter;
  }
}

let unauthorized = () => {};
/** fn() is called on every 401 (except the login request itself). */
export function onUnauthorized(fn) {
  unauthorized = fn;
}

export function cookie(name) {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return null;
}

export async function request(method, path, body, { login = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (!SAFE.has(method)) {
    const csrf = cookie('lisa_csrf');
    if (csrf) headers['X-CSRF-Token'] = csrf;
  }
  let resp;
  try {
    resp = await fetch(BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, 'network', String(e && e.message ? e.message : e));
  }
  let data = null;
  const text = await resp.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { error: 'bad_response', detail: text.slice(0, 200) };
    }
  }
  if (!resp.ok) {
    const retry = resp.headers.get('Retry-After');
    const err = new ApiError(
      resp.status,
      (data && data.error) || `http_${resp.status}`,
      (data && data.detail) || '',
      retry !== null && retry !== '' && !Number.isNaN(Number(retry)) ? Number(retry) : null,
    );
    if (resp.status === 401 && !login) unauthorized(err);
    throw err;
  }
  return data;
}

const enc = encodeURIComponent;

export const api = {
  login: (username, password) => request('POST', '/session', { username, password }, { login: true }),
  logout: () => request('DELETE', '/session'),
  me: () => request('GET', '/me'),
  status: () => request('GET', '/status'),
  setStatus: (status, reason) => request('POST', '/agent/status', reason ? { status, reason } : { status }),
  accept: (call) => request('POST', `/calls/${enc(call)}/accept`),
  decline: (call) => request('POST', `/calls/${enc(call)}/decline`),
  hangup: (call) => request('POST', `/calls/${enc(call)}/hangup`),
  transfer: (call, target) => request('POST', `/calls/${enc(call)}/transfer`, target),
  transferComplete: (call) => request('POST', `/calls/${enc(call)}/transfer/complete`),
  transferCancel: (call) => request('POST', `/calls/${enc(call)}/transfer/cancel`),
  command: (booth, cmd, args) => request('POST', `/booths/${enc(booth)}/commands`, args ? { cmd, args } : { cmd }),
  faults: (booth, limit = 50) => request('GET', `/booths/${enc(booth)}/faults?limit=${limit}`),
  settings: () => request('GET', '/me/settings'),
  saveSettings: (settings) => request('PUT', '/me/settings', settings),
  users: () => request('GET', '/users'),
  addUser: (user) => request('POST', '/users', user),
  patchUser: (name, patch) => request('PATCH', `/users/${enc(name)}`, patch),
  wallboard: () => request('GET', '/wallboard'),
  report: (from, to) => request('GET', `/reports?from=${enc(from)}&to=${enc(to)}&format=json`),
  reportCsvUrl: (from, to) => `${BASE}/reports?from=${enc(from)}&to=${enc(to)}&format=csv`,
};

// ------------------------------------------------------------------------------ WebSocket
export const WS_UNAUTHORIZED = 4401;
const PING_EVERY_MS = 25000;

/** Reconnect delay after `attempt` failures: 1 s, 2 s, 4 s … 30 s, each jittered ±25 %. */
export function backoff(attempt) {
  const base = Math.min(30, 2 ** Math.max(0, attempt));
  return Math.min(30, Math.max(1, base * (0.75 + Math.random() * 0.5))) * 1000;
}

/**
 * The live events. onEvent(ev) for every frame (the first after each (re)connect is the
 * snapshot); onState(state, info) with 'connecting' | 'open' | 'lost' | 'closed';
 * onUnauthorized() on close code 4401 (no reconnect then). send(obj) writes a frame (the
 * media signalling, docs/media.md) while the socket is open.
 */
export class EventStream {
  constructor({ onEvent, onState, onUnauthorized: unauth }) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.onUnauth = unauth;
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.pinger = null;
    this.stopped = true;
    this.pingId = 0;
    this.retryAt = null;
    this.everOpen = false;
    this._online = () => {
      if (!this.stopped && (!this.ws || this.ws.readyState > 1)) this._connectNow();
    };
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener('online', this._online);
    this._open();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this._online);
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onclose = ws.onmessage = ws.onerror = ws.onopen = null;
      try {
        ws.close(1000, 'logout');
      } catch {
        /* already closed */
      }
    }
    this.onState('closed');
  }

  /** Send one JSON frame (e.g. `media.*`) on the open socket; false while it is not open. */
  send(obj) {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) return false;
    try {
      ws.send(JSON.stringify(obj));
      return true;
    } catch {
      return false;
    }
  }

  _connectNow() {
    clearTimeout(this.timer);
    this._open();
  }

  _open() {
    if (this.stopped) return;
    this.onState(this.everOpen || this.attempt > 0 ? 'lost' : 'connecting', { retryAt: null });
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let ws;
    try {
      ws = new WebSocket(`${proto}//${location.host}${BASE}/events`);
    } catch {
      this._retry();
      return;
    }
    this.ws = ws;
    ws.onmessage = (m) => {
      let ev;
      try {
        ev = JSON.parse(m.data);
      } catch {
        return;
      }
      if (ev.type === 'snapshot') {
        this.attempt = 0;
        this.everOpen = true;
        this.retryAt = null;
        this.onState('open');
      }
      this.onEvent(ev);
    };
    ws.onopen = () => {
      clearInterval(this.pinger);
      this.pinger = setInterval(() => {
        if (ws.readyState === 1) ws.send(JSON.stringify({ type: 'ping', id: ++this.pingId }));
      }, PING_EVERY_MS);
    };
    ws.onclose = (e) => {
      clearInterval(this.pinger);
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      if (e.code === WS_UNAUTHORIZED) {
        this.stopped = true;
        this.onState('closed');
        this.onUnauth();
        return;
      }
      this._retry();
    };
    ws.onerror = () => {
      /* onclose follows */
    };
  }

  _retry() {
    const delay = backoff(this.attempt++);
    this.retryAt = Date.now() + delay;
    this.onState('lost', { retryAt: this.retryAt });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this._open(), delay);
  }
}
