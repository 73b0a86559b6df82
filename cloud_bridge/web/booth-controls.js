// Booth commands (POST /api/v1/booths/{booth}/commands): door, document camera, monitor page,
// self-test, maintenance, door (technicians). Each result or refusal is listed under the
// buttons (polite live region). A signature is asked for with its document: signing.js.

import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { boothCommand } from './actions.js';
import { clock } from './format.js';
import { label, t } from './i18n.js';

const PAGES = ['call', 'waiting', 'signing', 'transferring', 'welcome', 'farewell', 'blank'];

function summary(result) {
  if (result === null || result === undefined || typeof result !== 'object') return '';
  const parts = [];
  // a self-test answers {results: {slot: {outcome, message}}}: one line per device
  const rows = result.results && typeof result.results === 'object' ? result.results : result;
  for (const [k, v] of Object.entries(rows)) {
    if (v && typeof v === 'object' && typeof v.outcome === 'string') {
      parts.push(`${label('device', k)}: ${label('selftest', v.outcome)}`);
    } else if (v && typeof v === 'object') {
      const inner = v.outcome ?? v.status ?? v.result ?? (v.passed === undefined ? null : v.passed ? 'bestanden' : 'nicht bestanden');
      parts.push(`${label('device', k)}: ${inner ?? JSON.stringify(v)}`);
    } else parts.push(`${label('device', k)}: ${v}`);
    if (parts.length >= 8) break;
  }
  return parts.join(' · ');
}

/** Runs commands and keeps the last results: [send, results, busy]. */
function useCommands(booth) {
  const [results, setResults] = useState([]);
  const [busy, setBusy] = useState(null);
  async function send(cmd, args) {
    setBusy(cmd);
    const sending = { id: Date.now() + Math.random(), kind: 'info', text: t('cmd.sending', { cmd: t(`cmd.${cmd}`) }), at: Date.now() / 1000 };
    setResults((r) => [sending, ...r].slice(0, 6));
    const res = await boothCommand(booth, cmd, args);
    setResults((r) => [{ ...res, id: sending.id, at: Date.now() / 1000 }, ...r.filter((x) => x.id !== sending.id)].slice(0, 6));
    setBusy(null);
  }
  return [send, results, busy];
}

function Results({ results, testid }) {
  return html`<div class="results" aria-live="polite" data-testid=${testid}>
    ${results.length === 0 ? null : html`<h4 class="sr-only">${t('booth.results')}</h4>`}
    <ul class="plain">
      ${results.map(
        (r) => html`<li key=${r.id} class=${`msg msg-${r.kind}`}>
          <span class="time">${clock(r.at)}</span> ${r.text}
          ${r.result ? html`<span class="result-detail">${summary(r.result)}</span>` : null}
        </li>`,
      )}
    </ul>
  </div>`;
}

/** The document camera's remote control (zoom, focus, brightness → `doccam.set`), shown
 * with the document camera's picture; rotating the picture is done in the page (media.js). */
export function DoccamControls({ booth }) {
  const [send, results] = useCommands(booth);
  const [cam, setCam] = useState({ zoom: 0.5, focus: 0.5, brightness: 0.5 });
  const slider = (key) => html`<div class="slider">
    <label for=${`doccam-${key}`}>${t(`booth.${key}`)} <output for=${`doccam-${key}`}>${Math.round(cam[key] * 100)} %</output></label>
    <input type="range" id=${`doccam-${key}`} min="0" max="1" step="0.05" value=${cam[key]}
      data-testid=${`doccam-${key}`}
      onInput=${(e) => setCam({ ...cam, [key]: Number(e.currentTarget.value) })}
      onChange=${(e) => send('doccam.set', { ...cam, [key]: Number(e.currentTarget.value) })} />
  </div>`;
  return html`<fieldset class="doccam-controls" data-testid="doccam-controls">
    <legend>${t('booth.doccam_remote')}</legend>
    <div class="slider-row">${slider('zoom')}${slider('focus')}${slider('brightness')}</div>
    <button type="button" data-testid="doccam-apply" onClick=${() => send('doccam.set', cam)}>${t('booth.doccam_apply')}</button>
    <${Results} results=${results} testid="doccam-result" />
  </fieldset>`;
}

/** Controls for the agent's current call with `booth` (the document camera's are with its
 * picture: DoccamControls; a signature is requested with the document: signing.js). */
export function CallBoothControls({ booth }) {
  const [send, results, busy] = useCommands(booth);
  const [page, setPage] = useState('call');
  return html`<section class="card" aria-labelledby="booth-controls-h" data-testid="booth-controls">
    <h2 id="booth-controls-h">${t('booth.controls')}</h2>
    <div class="control-grid">
      <fieldset>
        <legend>${t('booth.door')}</legend>
        <div class="row wrap">
          <button type="button" data-testid="door-open" disabled=${busy === 'door.open'} onClick=${() => send('door.open')}>${t('booth.door_open')}</button>
          <button type="button" data-testid="door-close" disabled=${busy === 'door.close'} onClick=${() => send('door.close')}>${t('booth.door_close')}</button>
        </div>
      </fieldset>
      <fieldset>
        <legend>${t('booth.display')}</legend>
        <label for="display-page">${t('booth.display_page')}</label>
        <div class="stack-tight">
          <select id="display-page" data-testid="display-page" value=${page} onChange=${(e) => setPage(e.currentTarget.value)}>
            ${PAGES.map((p) => html`<option value=${p}>${label('page', p)}</option>`)}
          </select>
          <button type="button" data-testid="display-show" onClick=${() => send('display.show', { page, params: {} })}>${t('booth.display_show')}</button>
        </div>
      </fieldset>
    </div>
    <${Results} results=${results} testid="cmd-result" />
  </section>`;
}

/** Technician buttons for one booth (Technik page). */
export function TechBoothControls({ booth }) {
  const [send, results, busy] = useCommands(booth);
  const b = (cmd, key, tid) => html`<button type="button" data-testid=${`${tid}-${booth}`} disabled=${busy === cmd} onClick=${() => send(cmd)}>${t(key)}</button>`;
  return html`<div class="tech-controls">
    <div class="row wrap" role="group" aria-label=${t('tech.actions')}>
      ${b('selftest.run', 'booth.selftest', 'tech-selftest')}
      ${b('maintenance.enter', 'booth.maint_on', 'tech-maint-on')}
      ${b('maintenance.exit', 'booth.maint_off', 'tech-maint-off')}
      ${b('door.open', 'booth.door_open', 'tech-door-open')}
      ${b('door.close', 'booth.door_close', 'tech-door-close')}
    </div>
    <${Results} results=${results} testid=${`tech-result-${booth}`} />
  </div>`;
}
