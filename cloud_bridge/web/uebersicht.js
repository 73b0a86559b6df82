// #/uebersicht: agents (tile per agent: colour + icon + text, time in status), waiting calls,
// queues, booths (online, controller state, device health, current call) and alerts.

import { html } from 'htm/preact';
import { Icon, PageTitle, StatusBadge } from './components.js';
import { dateTime, dur, reasonLabel } from './format.js';
import { label, t } from './i18n.js';
import { agentName, boothName, queueName, serverNow, since, state, useTick } from './store.js';

const STATUS_ORDER = ['offered', 'busy', 'wrap_up', 'ready', 'not_ready', 'logged_out'];

export function deviceProblems(booth) {
  const out = [];
  for (const [device, h] of Object.entries(booth.health || {})) {
    const st = h && h.status;
    if (st && st !== 'ok') out.push({ device, status: st, reason: h.reason || h.detail || '' });
  }
  return out;
}

export function boothAlerts(booths, mqtt) {
  const alerts = [];
  if (mqtt === false) alerts.push({ key: 'mqtt', level: 'error', text: t('ov.alert_mqtt') });
  for (const b of booths) {
    const name = boothName(b.id);
    if (b.emergency) alerts.push({ key: `${b.id}-emergency`, level: 'error', booth: b.id, text: t('ov.alert_emergency', { booth: name }) });
    if (!b.online) {
      alerts.push({ key: `${b.id}-offline`, level: 'error', booth: b.id, text: t('ov.alert_offline', { booth: name, last: dateTime(b.last_seen) }) });
      continue;
    }
    if (b.in_service === false) alerts.push({ key: `${b.id}-out`, level: 'warn', booth: b.id, text: t('ov.alert_out', { booth: name, state: b.state || '?' }) });
    for (const p of deviceProblems(b)) {
      alerts.push({
        key: `${b.id}-${p.device}`,
        level: p.status === 'unavailable' ? 'error' : 'warn',
        booth: b.id,
        text: t('ov.alert_degraded', { booth: name, device: label('device', p.device), status: label('health', p.status), reason: p.reason ? ` – ${p.reason}` : '' }),
      });
    }
  }
  return alerts;
}

/** The controller state in German, with the raw detail when it says more. */
export function boothState(b) {
  if (!b.state) return '–';
  const top = String(b.state).split('.')[0];
  const text = label('bstate', top);
  const raw = b.detail && b.detail !== b.state ? b.detail : b.state !== top ? b.state : null;
  return raw ? html`${text} <span class="muted small">(${raw})</span>` : text;
}

export function HealthSummary({ booth, testid }) {
  const devices = Object.keys(booth.health || {});
  const problems = deviceProblems(booth);
  if (!devices.length) return html`<span class="muted" data-testid=${testid}>${t('health.none')}</span>`;
  if (!problems.length) return html`<span class="ok-text" data-testid=${testid}><${Icon} name="ok" size=${16} /> ${t('health.all_ok', { n: devices.length })}</span>`;
  return html`<span class="warn-text" data-testid=${testid}>
    <${Icon} name="warn" size=${16} /> ${t('health.problems', { n: problems.length })}:
    ${problems.map((p) => `${label('device', p.device)} ${label('health', p.status)}`).join(', ')}
  </span>`;
}

function AgentTile({ a }) {
  const s = since(a.since);
  return html`<li class=${`tile st-${a.status}`} data-testid=${`agent-tile-${a.id}`}>
    <div class="tile-name">${a.display_name || a.id} <span class="muted">(${a.id})</span></div>
    <${StatusBadge} status=${a.status} />
    <div class="tile-meta">
      <span data-testid=${`agent-time-${a.id}`}>${s === null || a.status === 'logged_out' ? '' : t('ov.in_status', { time: dur(s) })}</span>
      ${a.status === 'not_ready' && a.reason ? html`<span> · ${reasonLabel(a.reason)}</span>` : null}
      ${a.call && state.calls[a.call] ? html`<span> · ${boothName(state.calls[a.call].booth)}</span>` : null}
    </div>
  </li>`;
}

export function Uebersicht() {
  useTick(1000);
  const agents = Object.values(state.agents).sort(
    (x, y) => STATUS_ORDER.indexOf(x.status) - STATUS_ORDER.indexOf(y.status) || (x.id < y.id ? -1 : 1),
  );
  const waiting = Object.values(state.calls)
    .filter((c) => c.kind === 'call' && (c.status === 'waiting' || c.status === 'ringing'))
    .sort((a, b) => (a.queue === b.queue ? (a.position ?? 99) - (b.position ?? 99) : a.queue < b.queue ? -1 : 1));
  const booths = Object.values(state.booths).sort((a, b) => (a.id < b.id ? -1 : 1));
  const alerts = boothAlerts(booths, state.mqtt);
  const now = serverNow();
  return html`
    <${PageTitle} testid="page-uebersicht">${t('ov.title')}<//>
    <section class="card" aria-labelledby="alerts-h" data-testid="alerts">
      <h2 id="alerts-h">${t('ov.alerts')}</h2>
      ${alerts.length
        ? html`<ul class="plain alerts">${alerts.map((a) => html`<li key=${a.key} class=${`alert alert-${a.level}`} data-testid=${`alert-${a.key}`}><${Icon} name="warn" size=${20} /> ${a.text}</li>`)}</ul>`
        : html`<p class="ok-text" data-testid="alerts-none"><${Icon} name="ok" size=${18} /> ${t('ov.no_alerts')}</p>`}
    </section>
    <section class="card" aria-labelledby="agents-h">
      <h2 id="agents-h">${t('ov.agents')}</h2>
      ${agents.length ? html`<ul class="tiles plain">${agents.map((a) => html`<${AgentTile} key=${a.id} a=${a} />`)}</ul>` : html`<p>${t('ov.no_agents')}</p>`}
    </section>
    <div class="two-col">
      <section class="card" aria-labelledby="waiting-h">
        <h2 id="waiting-h">${t('ov.waiting')}</h2>
        ${waiting.length
          ? html`<table data-testid="waiting-table">
              <thead><tr><th scope="col">${t('ov.position')}</th><th scope="col">${t('ov.wait')}</th><th scope="col">${t('ov.queue')}</th><th scope="col">${t('ov.booth')}</th><th scope="col">${t('ov.status')}</th></tr></thead>
              <tbody>
                ${waiting.map(
                  (c) => html`<tr key=${c.id} data-testid=${`waiting-row-${c.id}`}>
                    <td class="num">${c.position ?? '–'}</td>
                    <td class="num">${dur(c.entered ? now - c.entered : c.wait_s)}</td>
                    <td>${queueName(c.queue)}${c.clerk ? ` – ${agentName(c.clerk)}` : ''}</td>
                    <td>${boothName(c.booth)}</td>
                    <td>${c.status === 'ringing' ? t('status.offered') : t('ov.waiting_status')}</td>
                  </tr>`,
                )}
              </tbody>
            </table>`
          : html`<p class="muted" data-testid="waiting-none">${t('ov.no_waiting')}</p>`}
      </section>
      <section class="card" aria-labelledby="queues-h">
        <h2 id="queues-h">${t('ov.queues')}</h2>
        <ul class="plain queue-list">
          ${Object.values(state.queues).map(
            (q) => html`<li key=${q.id} data-testid=${`queue-row-${q.id}`}>
              <strong>${q.name || q.id}</strong>${q.open === false ? html` <span class="tag">${t('ov.closed')}</span>` : null}
              <br /><span class="muted">${t('ov.queue_line', { waiting: q.waiting ?? 0, ready: q.ready ?? 0, connected: q.connected ?? 0 })}</span>
            </li>`,
          )}
        </ul>
      </section>
    </div>
    <section class="card" aria-labelledby="booths-h">
      <h2 id="booths-h">${t('ov.booths')}</h2>
      <table data-testid="booth-table">
        <thead><tr><th scope="col">${t('ov.booth')}</th><th scope="col">${t('ov.online')}</th><th scope="col">${t('ov.state')}</th><th scope="col">${t('ov.health')}</th><th scope="col">${t('ov.call')}</th></tr></thead>
        <tbody>
          ${booths.map((b) => {
            const c = b.call && state.calls[b.call];
            return html`<tr key=${b.id} data-testid=${`booth-row-${b.id}`}>
              <th scope="row">${boothName(b.id)}${boothName(b.id) !== b.id ? html`<br /><span class="muted small">${b.id}</span>` : null}</th>
              <td>${b.online
                ? html`<span class="ok-text"><${Icon} name="ok" size=${16} /> ${t('ov.is_online')}</span>`
                : html`<span class="err-text"><${Icon} name="offline" size=${16} /> ${t('ov.is_offline')}</span>`}</td>
              <td data-testid=${`booth-state-${b.id}`}>${boothState(b)}</td>
              <td><${HealthSummary} booth=${b} testid=${`booth-health-${b.id}`} /></td>
              <td>${c ? `${queueName(c.queue)}${c.agent ? ` – ${agentName(c.agent)}` : ''}` : b.call ? b.call : t('ov.no_call')}</td>
            </tr>`;
          })}
        </tbody>
      </table>
    </section>
  `;
}
