// #/wallboard: today's big figures (GET /api/v1/wallboard), every 5 s and on live events.

import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { api } from './api.js';
import { Message, PageTitle } from './components.js';
import { clock, dur, errorText, num, pct } from './format.js';
import { label, t } from './i18n.js';
import { onLiveEvent } from './store.js';

const REFRESH_MS = 5000;
const AGENT_KEYS = ['ready', 'offered', 'busy', 'wrap_up', 'not_ready'];

export function Wallboard() {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [at, setAt] = useState(null);

  useEffect(() => {
    let alive = true;
    let pending = null;
    async function load() {
      try {
        const d = await api.wallboard();
        if (!alive) return;
        setData(d);
        setError(null);
        setAt(Date.now() / 1000);
      } catch (e) {
        if (alive && e.status !== 401) setError(errorText(e));
      }
    }
    load();
    const timer = setInterval(load, REFRESH_MS);
    const off = onLiveEvent((ev) => {
      if (!['call', 'call_ended', 'agent', 'snapshot'].includes(ev.type) || pending) return;
      pending = setTimeout(() => {
        pending = null;
        load();
      }, 700); // coalesce bursts of events
    });
    return () => {
      alive = false;
      clearInterval(timer);
      clearTimeout(pending);
      off();
    };
  }, []);

  const fig = (key, value, tid, cls = '') => html`<div class=${`figure ${cls}`}>
    <div class="figure-value" data-testid=${tid}>${value}</div>
    <div class="figure-label">${t(key)}</div>
  </div>`;
  const d = data || {};
  const agents = d.agents || {};
  const sl = d.service_level;
  const slClass = sl === null || sl === undefined ? '' : sl >= 0.8 ? 'good' : sl >= 0.6 ? 'mid' : 'bad';
  return html`
    <${PageTitle} testid="page-wallboard">${t('wb.title')}<//>
    ${error ? html`<${Message} kind="error" text=${t('wb.error', { error })} testid="wallboard-error" />` : null}
    <div class="wallboard" aria-live="off">
      ${fig('wb.sl', pct(sl), 'wallboard-sl', slClass)}
      ${fig('wb.waiting', num(d.waiting_now), 'wallboard-waiting', d.waiting_now > 0 ? 'mid' : '')}
      ${fig('wb.longest', dur(d.longest_wait_s), 'wallboard-longest')}
      ${fig('wb.asa', dur(d.asa_s), 'wallboard-asa')}
      ${fig('wb.offered', num(d.offered_today), 'wallboard-offered')}
      ${fig('wb.answered', num(d.answered_today), 'wallboard-answered')}
      ${fig('wb.abandoned', num(d.abandoned_today), 'wallboard-abandoned')}
    </div>
    <section class="card" aria-labelledby="wb-agents-h">
      <h2 id="wb-agents-h">${t('wb.agents')}</h2>
      <div class="wallboard small-figures">
        ${AGENT_KEYS.map(
          (k) => html`<div class=${`figure st-${k}`}>
            <div class="figure-value" data-testid=${`wallboard-agents-${k}`}>${num(agents[k])}</div>
            <div class="figure-label">${label('status', k)}</div>
          </div>`,
        )}
      </div>
    </section>
    <p class="muted" data-testid="wallboard-updated">${at ? t('wb.updated', { time: clock(at) }) : t('app.loading')}</p>
  `;
}
