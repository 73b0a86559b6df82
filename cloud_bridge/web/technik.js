// #/technik: per booth the device health, the recent faults (GET /booths/{id}/faults) and the
// technician's commands (self-test, maintenance on/off, door), with results / refusals.

import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api } from './api.js';
import { TechBoothControls } from './booth-controls.js';
import { Icon, Message, PageTitle } from './components.js';
import { dateTime, errorText } from './format.js';
import { label, t } from './i18n.js';
import { boothName, state, useStore } from './store.js';
import { boothAlerts, boothState } from './uebersicht.js';

const KNOWN = new Set(['ts', 'time', 'seq', 'type', 'event', 'booth', 'device', 'status', 'detail', 'where']);

function faultText(f) {
  const parts = [];
  if (f.device) parts.push(label('device', f.device));
  if (f.status) parts.push(label('health', f.status));
  if (f.where) parts.push(f.where);
  if (f.detail) parts.push(f.detail);
  for (const [k, v] of Object.entries(f)) {
    if (!KNOWN.has(k) && v !== null && v !== undefined && v !== '') parts.push(`${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`);
  }
  return parts.join(' – ');
}

function Faults({ booth }) {
  const [faults, setFaults] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  async function load() {
    setBusy(true);
    setError(null);
    try {
      const res = await api.faults(booth, 50);
      setFaults(Array.isArray(res) ? res : (res && (res.faults || res.items)) || []);
    } catch (e) {
      if (e.status !== 401) setError(errorText(e));
    }
    setBusy(false);
  }
  return html`<div class="faults">
    <div class="row">
      <h4>${t('tech.faults')}</h4>
      <button type="button" data-testid=${`tech-faults-${booth}`} disabled=${busy} onClick=${load}>${faults ? t('common.refresh') : t('tech.faults_load')}</button>
    </div>
    ${error ? html`<${Message} kind="error" text=${error} />` : null}
    ${faults && !faults.length ? html`<p class="muted" data-testid=${`tech-faults-none-${booth}`}>${t('tech.faults_none')}</p>` : null}
    ${faults && faults.length
      ? html`<div class="table-wrap"><table data-testid=${`tech-faults-table-${booth}`}>
          <thead><tr><th scope="col">${t('tech.fault_time')}</th><th scope="col">${t('tech.fault_type')}</th><th scope="col">${t('tech.detail')}</th></tr></thead>
          <tbody>
            ${faults.map((f, i) => html`<tr key=${f.seq ?? i}><td>${dateTime(f.ts ?? f.time)}</td><td>${label('fault', f.type ?? f.event)}</td><td>${faultText(f)}</td></tr>`)}
          </tbody>
        </table></div>`
      : null}
  </div>`;
}

function BoothCard({ b }) {
  const devices = Object.entries(b.health || {});
  const name = boothName(b.id);
  return html`<section class="card" aria-labelledby=${`tech-h-${b.id}`} data-testid=${`tech-booth-${b.id}`}>
    <h2 id=${`tech-h-${b.id}`}>${name}${name !== b.id ? html` <span class="muted small">${b.id}</span>` : null}</h2>
    <p class="row wrap">
      ${b.online
        ? html`<span class="ok-text"><${Icon} name="ok" size=${16} /> ${t('ov.is_online')}</span>`
        : html`<span class="err-text"><${Icon} name="offline" size=${16} /> ${t('ov.is_offline')}</span>`}
      <span>${t('tech.state')}: <strong>${boothState(b)}</strong></span>
      ${b.in_service === null || b.in_service === undefined ? null : html`<span>${b.in_service === false ? t('tech.out_of_service') : t('tech.in_service')}</span>`}
      ${b.emergency ? html`<span class="err-text"><strong>${t('tech.emergency')}</strong></span>` : null}
      <span class="muted">${t('tech.last_seen')}: ${dateTime(b.last_seen)}</span>
    </p>
    <h3>${t('tech.devices')}</h3>
    ${devices.length
      ? html`<div class="table-wrap"><table data-testid=${`tech-devices-${b.id}`}>
          <thead><tr><th scope="col">${t('tech.device')}</th><th scope="col">${t('tech.dev_status')}</th><th scope="col">${t('tech.detail')}</th></tr></thead>
          <tbody>
            ${devices.map(([dev, h]) => {
              const st = (h && h.status) || 'none';
              return html`<tr key=${dev}>
                <th scope="row">${label('device', dev)}</th>
                <td class=${st === 'ok' ? 'ok-text' : st === 'none' ? '' : 'warn-text'}>${st === 'ok' ? html`<${Icon} name="ok" size=${16} />` : st === 'none' ? null : html`<${Icon} name="warn" size=${16} />`} ${label('health', st)}</td>
                <td>${[h && h.reason, h && h.selftest ? `${t('booth.selftest')}: ${label('selftest', h.selftest)}` : null, h && h.critical ? t('health.critical') : null].filter(Boolean).join(' · ')}</td>
              </tr>`;
            })}
          </tbody>
        </table></div>`
      : html`<p class="muted">${t('health.none')}</p>`}
    <h3>${t('tech.actions')}</h3>
    <${TechBoothControls} booth=${b.id} />
    <${Faults} booth=${b.id} />
  </section>`;
}

export function Technik() {
  useStore();
  const booths = Object.values(state.booths).sort((a, b) => (a.id < b.id ? -1 : 1));
  const alerts = boothAlerts(booths, state.mqtt);
  return html`
    <${PageTitle} testid="page-technik">${t('tech.title')}<//>
    ${alerts.length
      ? html`<section class="card" aria-labelledby="tech-alerts-h"><h2 id="tech-alerts-h">${t('ov.alerts')}</h2>
          <ul class="plain alerts">${alerts.map((a) => html`<li key=${a.key} class=${`alert alert-${a.level}`}><${Icon} name="warn" size=${20} /> ${a.text}</li>`)}</ul></section>`
      : null}
    <div class="tech-grid">${booths.map((b) => html`<${BoothCard} key=${b.id} b=${b} />`)}</div>
  `;
}
