// #/login: user name + password -> POST /api/v1/session (cookie session).

import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api.js';
import { dur, durWords, errorText } from './format.js';
import { t } from './i18n.js';
import { state, update } from './store.js';

export function Login({ onLoggedIn }) {
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [blockedUntil, setBlockedUntil] = useState(null);
  const [, tick] = useState(0);
  const userRef = useRef(null);
  const notice = state.loginNotice;

  useEffect(() => {
    if (userRef.current) userRef.current.focus();
  }, []);
  useEffect(() => {
    if (!blockedUntil) return undefined;
    const id = setInterval(() => {
      if (Date.now() >= blockedUntil) setBlockedUntil(null);
      tick((v) => v + 1);
    }, 1000);
    return () => clearInterval(id);
  }, [blockedUntil]);

  async function submit(e) {
    e.preventDefault();
    if (!user.trim() || !password) {
      setError(t('login.missing'));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const ans = await api.login(user.trim(), password);
      setPassword('');
      update((s) => (s.loginNotice = null));
      await onLoggedIn(ans);
    } catch (err) {
      setPassword('');
      if (err.code === 'invalid_credentials' || (err.status === 401 && err.code !== 'network')) setError(t('login.invalid'));
      else if (err.code === 'rate_limited' || err.status === 429) {
        if (err.retryAfter) {
          setBlockedUntil(Date.now() + err.retryAfter * 1000);
          setError(t('login.rate_limited', { wait: durWords(err.retryAfter) }));
        } else setError(t('login.rate_limited_nowait'));
      } else if (err.code === 'network') setError(t('login.network'));
      else setError(errorText(err));
    }
    setBusy(false);
  }

  const errorText_ = error;
  const waitLeft = blockedUntil ? Math.max(0, (blockedUntil - Date.now()) / 1000) : 0;
  return html`<div class="login-wrap">
    <form class="card login" onSubmit=${submit} aria-labelledby="login-h" novalidate>
      <h1 id="login-h" data-testid="page-login">${t('login.title')}</h1>
      ${notice === 'expired' ? html`<p class="msg msg-warn" role="alert" data-testid="login-expired">${t('login.expired')}</p>` : null}
      ${notice === 'loggedout' ? html`<p class="msg msg-ok" role="status" data-testid="login-loggedout">${t('login.loggedout')}</p>` : null}
      <p>${t('login.intro')}</p>
      <div class="field">
        <label for="login-user">${t('login.user')}</label>
        <input id="login-user" ref=${userRef} name="username" autocomplete="username" autocapitalize="none" spellcheck="false"
          data-testid="login-user" value=${user} onInput=${(e) => setUser(e.currentTarget.value)}
          aria-invalid=${errorText_ ? 'true' : 'false'} aria-describedby=${errorText_ ? 'login-error' : undefined} />
      </div>
      <div class="field">
        <label for="login-password">${t('login.password')}</label>
        <input id="login-password" type="password" name="password" autocomplete="current-password"
          data-testid="login-password" value=${password} onInput=${(e) => setPassword(e.currentTarget.value)}
          aria-invalid=${errorText_ ? 'true' : 'false'} aria-describedby=${errorText_ ? 'login-error' : undefined} />
      </div>
      <div id="login-error" aria-live="assertive">
        ${errorText_ ? html`<p class="msg msg-error" data-testid="login-error">${errorText_}</p>` : null}
      </div>
      <button type="submit" class="btn-primary wide" data-testid="login-submit" disabled=${busy || Boolean(blockedUntil)}>
        ${busy ? t('login.busy') : blockedUntil ? t('login.wait_button', { time: dur(waitLeft) }) : t('login.submit')}
      </button>
    </form>
  </div>`;
}
