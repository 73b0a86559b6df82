// Transfer of the citizen's call: to a queue or a named clerk (the queue is then the
// fallback), blind or with a consultation; during a consultation "Übergeben" / "Zurückholen".

import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { transfer, transferCancel, transferComplete } from './actions.js';
import { statusLabel } from './format.js';
import { label, t } from './i18n.js';
import { consultAudio } from './portal-media.js';
import { agentName, myConsult, myName, state } from './store.js';

export function TransferPanel({ call }) {
  const [mode, setMode] = useState('blind');
  const [queue, setQueue] = useState('');
  const [clerk, setClerk] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const consult = myConsult(call);
  const [, setAudio] = useState(0);
  useEffect(() => consultAudio.listen(() => setAudio((v) => v + 1)), []);
  const queues = Object.values(state.queues);
  const clerks = Object.values(state.agents)
    .filter((a) => a.id !== myName())
    .sort((a, b) => (a.display_name || a.id).localeCompare(b.display_name || b.id, 'de'));

  async function start(e) {
    e.preventDefault();
    if (!queue && !clerk) {
      setError(t('transfer.need_target'));
      return;
    }
    setError('');
    const body = { mode };
    if (queue) body.queue = queue;
    if (clerk) body.clerk = clerk;
    setBusy(true);
    await transfer(call.id, body);
    setBusy(false);
  }

  if (consult) {
    const who = consult.consultant ? agentName(consult.consultant) : consult.clerk ? agentName(consult.clerk) : queueLabel(consult.queue);
    return html`<section class="card" aria-labelledby="transfer-h" data-testid="transfer-panel">
      <h2 id="transfer-h">${t('transfer.title')}</h2>
      <p data-testid="consult-state" aria-live="polite">
        ${t('call.consult_with', { who, state: label('transfer.consult_state', consult.status) })}
      </p>
      ${consult.status === 'connected'
        ? html`<p class="muted" data-testid="consult-audio-note">${t('consult.in_transfer', { state: t(`consult.state.${consultAudio.status === 'idle' ? 'connecting' : consultAudio.status}`) })}</p>`
        : null}
      <div class="row">
        <button type="button" class="btn-primary" data-testid="transfer-complete" disabled=${consult.status !== 'connected'}
          onClick=${() => transferComplete(call.id)}>${t('transfer.complete')}</button>
        <button type="button" data-testid="transfer-cancel" onClick=${() => transferCancel(call.id)}>${t('transfer.cancel')}</button>
      </div>
    </section>`;
  }

  return html`<section class="card" aria-labelledby="transfer-h" data-testid="transfer-panel">
    <h2 id="transfer-h">${t('transfer.title')}</h2>
    <form onSubmit=${start} class="stack">
      <div class="field">
        <label for="transfer-mode">${t('transfer.mode')}</label>
        <select id="transfer-mode" data-testid="transfer-mode" value=${mode} onChange=${(e) => setMode(e.currentTarget.value)}>
          <option value="blind">${t('transfer.blind')}</option>
          <option value="consult">${t('transfer.consult')}</option>
        </select>
      </div>
      <div class="field">
        <label for="transfer-queue">${t('transfer.queue')}</label>
        <select id="transfer-queue" data-testid="transfer-queue" value=${queue} onChange=${(e) => setQueue(e.currentTarget.value)}>
          <option value="">${t('transfer.queue_none')}</option>
          ${queues.map(
            (q) => html`<option value=${q.id}>${t('transfer.queue_option', { name: q.name || q.id, waiting: q.waiting ?? 0, ready: q.ready ?? 0 })}${q.open === false ? ` (${t('ov.closed')})` : ''}</option>`,
          )}
        </select>
      </div>
      <div class="field">
        <label for="transfer-clerk">${t('transfer.clerk')}</label>
        <select id="transfer-clerk" data-testid="transfer-clerk" value=${clerk} onChange=${(e) => setClerk(e.currentTarget.value)}>
          <option value="">${t('transfer.clerk_none')}</option>
          ${clerks.map(
            (a) => html`<option value=${a.id} data-status=${a.status}>${t('transfer.clerk_option', { name: a.display_name || a.id, id: a.id, status: statusLabel(a.status) })}</option>`,
          )}
        </select>
      </div>
      ${error ? html`<p class="msg msg-error" role="alert" data-testid="transfer-error">${error}</p>` : null}
      <div class="row">
        <button type="submit" class="btn-primary" data-testid="transfer-start" disabled=${busy}>
          ${mode === 'consult' ? t('transfer.start_consult') : t('transfer.start')}
        </button>
      </div>
    </form>
  </section>`;
}

function queueLabel(id) {
  const q = state.queues[id];
  return (q && q.name) || id || '–';
}
