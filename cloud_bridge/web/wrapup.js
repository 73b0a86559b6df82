// After a call: the engine's wrap-up timer (countdown from the agent entry's `since` and the
// queue's wrap-up seconds when the bridge sends them, else the time elapsed) and a disposition
// (service, resolved yes/no) that is kept in this browser only.

import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { dur, dateTime } from './format.js';
import { label, t } from './i18n.js';
import { boothName, myAgent, queueName, serverNow, state, update, useTick } from './store.js';

const KEY = 'lisa.dispositions';

function loadDispositions() {
  try {
    return JSON.parse(localStorage.getItem(KEY) || '[]') || [];
  } catch {
    return [];
  }
}

function saveDisposition(d) {
  const list = [d, ...loadDispositions().filter((x) => x.call !== d.call)].slice(0, 20);
  try {
    localStorage.setItem(KEY, JSON.stringify(list));
  } catch {
    /* storage disabled: shown until the page is left */
  }
  return list;
}

function wrapSeconds(queueId) {
  const q = state.queues[queueId];
  if (!q) return null;
  const v = q.wrapup_s ?? q.wrap_up_s ?? q.wrapup;
  return Number.isFinite(Number(v)) && v !== null ? Number(v) : null;
}

export function WrapupPanel() {
  const ended = state.lastEnded;
  if (!ended) return null;
  // keyed by the call: a new ended call starts a fresh form
  return html`<${WrapupForm} key=${ended.call.id} ended=${ended} />`;
}

function WrapupForm({ ended }) {
  useTick(1000);
  const agent = myAgent();
  const [service, setService] = useState(ended.call.queue || '');
  const [resolved, setResolved] = useState('');
  const [saved, setSaved] = useState(null);
  const [list, setList] = useState(loadDispositions);
  const inWrap = agent && agent.status === 'wrap_up';
  const secs = wrapSeconds(ended.call.queue);
  const elapsed = Math.max(0, serverNow() - (inWrap && agent.since ? agent.since : ended.at));
  let timer;
  if (inWrap && secs !== null) {
    const left = secs - elapsed;
    timer = left > 0 ? t('wrap.left', { time: dur(left) }) : t('wrap.over');
  } else if (inWrap) {
    timer = t('wrap.elapsed', { time: dur(elapsed) });
  } else {
    timer = t('wrap.done');
  }

  function save(e) {
    e.preventDefault();
    const d = {
      call: ended.call.id,
      booth: ended.call.booth,
      service,
      resolved: resolved === 'yes',
      at: Date.now() / 1000,
    };
    setList(saveDisposition(d));
    setSaved(d);
  }

  return html`<section class="card wrapup" aria-labelledby="wrapup-h" data-testid="wrapup-panel">
    <h2 id="wrapup-h">${t('wrap.title')}</h2>
    <p>${t('wrap.ended', { booth: boothName(ended.call.booth), reason: label('ended', ended.reason) })}</p>
    <p class="big-timer" data-testid="wrapup-timer" role="timer" aria-live="off">${timer}</p>
    <form class="stack" onSubmit=${save}>
      <div class="field">
        <label for="wrapup-service">${t('wrap.service')}</label>
        <select id="wrapup-service" data-testid="wrapup-service" value=${service} onChange=${(e) => setService(e.currentTarget.value)}>
          <option value="">${t('wrap.service_none')}</option>
          ${Object.values(state.queues).map((q) => html`<option value=${q.id}>${q.name || q.id}</option>`)}
        </select>
      </div>
      <fieldset>
        <legend>${t('wrap.resolved')}</legend>
        <div class="row">
          <label class="choice"><input type="radio" name="wrapup-resolved" value="yes" data-testid="wrapup-resolved-yes" checked=${resolved === 'yes'} onChange=${() => setResolved('yes')} /> ${t('wrap.yes')}</label>
          <label class="choice"><input type="radio" name="wrapup-resolved" value="no" data-testid="wrapup-resolved-no" checked=${resolved === 'no'} onChange=${() => setResolved('no')} /> ${t('wrap.no')}</label>
        </div>
      </fieldset>
      <p class="hint">${t('wrap.local')}</p>
      <div class="row">
        <button type="submit" class="btn-primary" data-testid="wrapup-save" disabled=${!service || !resolved}>${t('wrap.save')}</button>
        <button type="button" data-testid="wrapup-dismiss" onClick=${() => update((s) => (s.lastEnded = null))}>${t('wrap.dismiss')}</button>
      </div>
      <p aria-live="polite" data-testid="wrapup-saved" class=${saved ? 'msg msg-ok' : 'sr-only'}>
        ${saved ? t('wrap.saved', { service: queueName(saved.service), resolved: saved.resolved ? t('wrap.yes') : t('wrap.no') }) : ''}
      </p>
    </form>
    ${list.length
      ? html`<details data-testid="wrapup-recent">
          <summary>${t('wrap.recent')}</summary>
          <ul class="plain small">
            ${list.slice(0, 10).map((d) => html`<li key=${d.call}>${dateTime(d.at)} · ${boothName(d.booth)} · ${queueName(d.service)} · ${d.resolved ? t('wrap.yes') : t('wrap.no')}</li>`)}
          </ul>
        </details>`
      : null}
  </section>`;
}
