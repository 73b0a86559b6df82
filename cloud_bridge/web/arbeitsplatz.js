// #/arbeitsplatz: the ACD agent's workspace: own status, sound / notification notices, the
// current call (booth, waiting time, the citizen's path, booth controls, transfer, end),
// the wrap-up, the call's video, sound and real-time text (media.js), the signature request
// (signing.js) and, in a consultation, the audio with the colleague (peer-audio.js).

import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { api } from './api.js';
import { hangup, setNotReady, setReady } from './actions.js';
import { CallBoothControls, DoccamControls } from './booth-controls.js';
import { Icon, Message, PageTitle, StatusBadge } from './components.js';
import { clock, dur, errorText, reasonLabel, statusLabel } from './format.js';
import { label, t } from './i18n.js';
import { CallMedia } from './media.js';
import { consultAudio, media, mediaCall, myConsultation, signing } from './portal-media.js';
import { audioBlocked, audioSupported, notificationPermission, onAudioChange, ringOnce, unlockAudio } from './ringer.js';
import { agentName, boothName, isAgent, myAgent, myCall, queueName, serverNow, state, update, useTick } from './store.js';
import { SigningPanel } from './signing.js';
import { TransferPanel } from './transfer.js';
import { WrapupPanel } from './wrapup.js';

export const REASONS = ['break', 'after_call_work', 'meeting', 'training'];

function useAudioState() {
  const [, set] = useState(0);
  useEffect(() => onAudioChange(() => set((v) => v + 1)), []);
}

function SoundNotice() {
  useAudioState();
  if (!audioSupported()) return html`<${Message} kind="info" text=${t('sound.unsupported')} testid="sound-unsupported" />`;
  const perm = notificationPermission();
  return html`
    ${audioBlocked()
      ? html`<div class="notice notice-warn" role="status" data-testid="sound-blocked">
          <${Icon} name="warn" size=${22} />
          <p>${t('sound.blocked')}</p>
          <button type="button" data-testid="sound-enable" onClick=${async () => { await unlockAudio(); ringOnce(); }}>${t('sound.enable')}</button>
        </div>`
      : null}
    ${perm === 'denied' ? html`<${Message} kind="info" text=${t('notify.denied')} testid="notify-denied" />` : null}
  `;
}

function StatusPanel() {
  const agent = myAgent();
  const [reason, setReason] = useState('break');
  const [autoMsg, setAutoMsg] = useState(null);
  const status = agent ? agent.status : 'logged_out';
  const notReady = status === 'not_ready';
  // not ready: the pressed reason is the real one (none for e.g. no_answer); else the preselection
  const shownReason = notReady ? (REASONS.includes(agent.reason) ? agent.reason : null) : reason;
  const sinceS = agent && agent.since ? serverNow() - agent.since : null;

  async function pickReason(r) {
    setReason(r);
    if (notReady && agent.reason !== r) await setNotReady(r);
  }

  async function toggleAuto(e) {
    const value = e.currentTarget.checked;
    const before = state.settings.auto_accept;
    update((s) => (s.settings = { ...s.settings, auto_accept: value }));
    try {
      const saved = await api.saveSettings({ ...state.settings, auto_accept: value });
      update((s) => (s.settings = { ...s.settings, ...(saved || {}) }));
      setAutoMsg({ kind: 'ok', text: t('ws.auto_accept_saved') });
    } catch (err) {
      update((s) => (s.settings = { ...s.settings, auto_accept: before }));
      if (err.status !== 401) setAutoMsg({ kind: 'error', text: errorText(err) });
    }
  }

  return html`<section class="card" aria-labelledby="status-h" data-testid="status-panel">
    <h2 id="status-h">${t('ws.status')}</h2>
    <p class="status-line" aria-live="polite">
      <span class="sr-only">${t('ws.current', { status: statusLabel(status) })}</span>
      <${StatusBadge} status=${status} testid="my-status" />
      <span class="muted" data-testid="my-status-since">${sinceS === null ? '' : t('ws.since', { time: dur(sinceS) })}</span>
      ${notReady && agent.reason ? html`<span data-testid="my-status-reason">${t('ws.reason', { reason: reasonLabel(agent.reason) })}</span>` : null}
    </p>
    ${notReady && agent.reason === 'no_answer'
      ? html`<div class="notice notice-warn" role="alert" data-testid="no-answer-notice"><${Icon} name="warn" size=${22} /><p>${t('ws.no_answer')}</p></div>`
      : null}
    ${agent && agent.pending ? html`<p class="muted" data-testid="my-status-pending">${t('ws.pending', { status: statusLabel(agent.pending) })}</p>` : null}
    <div class="row">
      <button type="button" class="btn-ready" data-testid="status-ready" aria-pressed=${status === 'ready' ? 'true' : 'false'}
        aria-keyshortcuts="Alt+Shift+R" onClick=${() => setReady()}><${Icon} name="ready" /> ${t('ws.ready')}</button>
      <button type="button" class="btn-notready" data-testid="status-not-ready" aria-pressed=${notReady ? 'true' : 'false'}
        onClick=${() => setNotReady(shownReason || reason)}><${Icon} name="not_ready" /> ${t('ws.not_ready')}</button>
    </div>
    <div class="reasons" role="group" aria-labelledby="reasons-label">
      <span id="reasons-label" class="group-label">${t('ws.reasons')}</span>
      <div class="row wrap">
        ${REASONS.map(
          (r) => html`<button type="button" class=${`toggle${!notReady && shownReason === r ? ' chosen' : ''}`} data-testid=${`reason-${r}`} aria-pressed=${notReady && shownReason === r ? 'true' : 'false'}
            onClick=${() => pickReason(r)}>${label('reason', r)}</button>`,
        )}
      </div>
    </div>
    <div class="field-inline">
      <input type="checkbox" id="auto-accept" data-testid="auto-accept" checked=${Boolean(state.settings.auto_accept)} onChange=${toggleAuto} />
      <label for="auto-accept">${t('ws.auto_accept')}</label>
    </div>
    ${autoMsg ? html`<${Message} kind=${autoMsg.kind} text=${autoMsg.text} testid="auto-accept-msg" />` : null}
    ${agent ? html`<p class="muted small" data-testid="calls-taken">${t('ws.calls_taken', { n: agent.calls_taken ?? 0 })}</p>` : null}
  </section>`;
}

function pathText(step) {
  switch (step.kind) {
    case 'queue':
      return t('path.queue', { queue: queueName(step.queue) }) + (step.clerk ? ` – ${agentName(step.clerk)}` : '');
    case 'transfer':
      return t('path.transfer', { target: step.clerk ? agentName(step.clerk) : queueName(step.queue) });
    case 'agent':
      return t('path.agent', { agent: agentName(step.agent) });
    case 'consult':
      return t('path.consult', { agent: agentName(step.agent) });
    case 'consult_end':
      return t('path.consult_end', { reason: label('ended', step.reason) });
    case 'earlier':
      return t('call.path_earlier');
    default:
      return step.kind;
  }
}

function CallPanel({ call }) {
  const agent = myAgent();
  const consultLeg = call.kind === 'consult';
  const citizen = consultLeg && call.parent ? state.calls[call.parent] : call;
  const booth = call.booth || (citizen && citizen.booth);
  const talkStart = agent && agent.status === 'busy' && agent.since ? agent.since : null;
  const waitBefore = talkStart && call.entered ? Math.max(0, talkStart - call.entered) : null;
  const journey = state.journeys[consultLeg && call.parent ? call.parent : call.id] || [];
  const asker = citizen && citizen.consult ? citizen.consult.agent : citizen && citizen.agent;
  return html`<section class="card call" aria-labelledby="call-h" data-testid="call-panel">
    <h2 id="call-h"><${Icon} name="busy" size=${24} /> ${consultLeg ? t('call.consult_title') : t('call.title')}</h2>
    ${consultLeg ? html`<p data-testid="call-consult-for">${t('call.consult_for', { who: agentName(asker) })}</p>` : null}
    <dl class="facts">
      <div><dt>${t('call.booth')}</dt><dd class="strong" data-testid="call-booth">${boothName(booth)}</dd></div>
      <div><dt>${t('call.queue')}</dt><dd data-testid="call-queue">${queueName(call.queue)}</dd></div>
      <div><dt>${t('call.wait_before')}</dt><dd data-testid="call-wait">${dur(waitBefore)}</dd></div>
      <div><dt>${t('call.talk')}</dt><dd data-testid="call-talk">${dur(talkStart ? serverNow() - talkStart : null)}</dd></div>
      ${citizen && citizen.created ? html`<div><dt>${t('call.in_system')}</dt><dd data-testid="call-in-system">${clock(citizen.created)}</dd></div>` : null}
    </dl>
    <h3>${t('call.path')}</h3>
    ${journey.length
      ? html`<ol class="path" data-testid="call-path">
          ${journey.map((s, i) => html`<li key=${i}><span class="time">${clock(s.at)}</span> ${pathText(s)}</li>`)}
        </ol>`
      : html`<p class="muted" data-testid="call-path">${t('call.path_empty')}</p>`}
    <div class="row">
      <button type="button" class="btn-danger" data-testid="call-end" aria-keyshortcuts="Alt+Shift+E" onClick=${() => hangup()}>${t('call.end')}</button>
    </div>
  </section>`;
}

/** fn's object (MediaSession, PeerAudio, Signing: anything with listen()) re-renders the
 * component on every change. */
function useListen(obj) {
  const [, set] = useState(0);
  useEffect(() => obj.listen(() => set((v) => v + 1)), [obj]);
}

/** The consultation's audio with the colleague (peer-audio.js): who, the state, microphone. */
function ConsultPanel({ consult }) {
  useListen(consultAudio);
  const a = consultAudio;
  const name = a.name || consult.name || '?';
  const status = a.status === 'idle' ? 'connecting' : a.status;
  return html`<section class="card consult-audio" aria-labelledby="media-h" data-testid="consult-panel">
    <div class="media-head">
      <h2 id="media-h">${t('consult.title', { name })}</h2>
      <p class=${`media-state ms-${status}`} role="status" data-testid="consult-audio-state" data-state=${status}>
        <span class="dot" aria-hidden="true"></span>${t(`consult.state.${status}`, { name })}
      </p>
    </div>
    <p class="consult-lead" data-testid="consult-lead">${t('consult.lead', { name })}</p>
    <p class="muted">${consult.asker ? t('consult.asker_hint') : t('consult.consultant_hint')}</p>
    ${a.status === 'elsewhere'
      ? html`<div class="notice notice-info" data-testid="consult-elsewhere"><p>${t('consult.elsewhere_hint')}</p>
          <button type="button" data-testid="consult-take-over" onClick=${() => a.takeOver()}>${t('media.take_over')}</button></div>`
      : null}
    ${a.micError
      ? html`<div class="notice notice-warn" role="alert" data-testid="consult-mic-error"><${Icon} name="warn" size=${22} /><p>${t(`consult.mic.${a.micError}`, { name })}</p></div>`
      : null}
    ${a.audioBlocked
      ? html`<div class="notice notice-warn" role="alert" data-testid="consult-audio-blocked"><${Icon} name="warn" size=${22} /><p>${t('media.audio_blocked')}</p>
          <button type="button" data-testid="consult-audio-enable" onClick=${() => a.unblockAudio()}>${t('media.audio_enable')}</button></div>`
      : null}
    <div class="media-bar" role="group" aria-label=${t('consult.devices')}>
      <button type="button" class="toggle-off" data-testid="consult-mute" aria-pressed=${a.muted ? 'true' : 'false'} aria-keyshortcuts="Alt+Shift+M"
        disabled=${!a.mic} onClick=${() => a.toggleMute()}>${t('media.mic_off')}</button>
      ${a.muted ? html`<span class="pill pill-warn" data-testid="consult-muted-note">${t('consult.muted_note', { name })}</span>` : null}
    </div>
  </section>`;
}

/** Video, sound and text of my call (media.js); in a consultation its audio; else a note. */
function MediaCard({ call }) {
  const mc = mediaCall();
  if (mc) {
    return html`<${CallMedia} session=${media} call=${mc.id} features=${MEDIA_FEATURES} muteKeys="Alt+Shift+M"
      doccam=${html`<${DoccamControls} booth=${mc.booth} />`} />`;
  }
  const consult = myConsultation();
  if (consult) return html`<${ConsultPanel} consult=${consult} />`;
  let text = t('media.idle');
  if (call && call.kind === 'consult') text = t('media.consult_leg');
  else if (call && call.consult) text = t('media.paused_consult');
  return html`<section class="card" aria-labelledby="media-h" data-testid="media-panel">
    <h2 id="media-h">${t('media.title')}</h2>
    <p class="muted" data-testid="media-off">${text}</p>
  </section>`;
}

/** "Unterschrift anfordern" while the call's media runs (and its result afterwards). */
function SigningCard() {
  useListen(media);
  useListen(signing);
  const show = mediaCall() || signing.phase !== 'idle' || signing.signed.length;
  if (!show || !signing.call) return null;
  return html`<${SigningPanel} signing=${signing} connected=${Boolean(mediaCall() && media.controlChannel())} elsewhere=${media.status === 'elsewhere'} />`;
}

const MEDIA_FEATURES = { share: true, still: true, invite: true };

export function Shortcuts() {
  return html`<details class="card shortcuts" data-testid="shortcuts-help">
    <summary>${t('keys.title')}</summary>
    <p>${t('keys.intro')}</p>
    <ul>
      <li>${t('keys.accept')}</li>
      <li>${t('keys.decline')}</li>
      <li>${t('keys.ready')}</li>
      <li>${t('keys.end')}</li>
      <li>${t('keys.mute')}</li>
    </ul>
    <p>${t('keys.more')}</p>
  </details>`;
}

function Withdrawn() {
  const w = state.withdrawn;
  if (!w || Date.now() - w.at > 15000) return null;
  const key = `withdrawn.${w.reason}`;
  const text = label('withdrawn', w.reason) === w.reason ? t('withdrawn.other', { reason: w.reason }) : t(key);
  return html`<${Message} kind="info" text=${text} testid="offer-withdrawn" />`;
}

export function Arbeitsplatz() {
  useTick(1000);
  if (!isAgent()) {
    return html`<${PageTitle}>${t('ws.title')}<//><${Message} kind="info" text=${t('ws.not_agent')} testid="not-agent" />`;
  }
  const call = myCall();
  const n = state.notice;
  return html`
    <${PageTitle} testid="page-arbeitsplatz">${t('ws.title')}<//>
    <${SoundNotice} />
    ${n ? html`<${Message} kind=${n.kind} text=${n.text} testid="ws-notice" />` : null}
    <${Withdrawn} />
    <div class=${`ws-grid${call ? ' ws-call' : ''}`}>
      <div class="col">
        ${call ? html`<${CallPanel} call=${call} />` : null}
        ${call && call.kind === 'call' ? html`<${SigningCard} />` : null}
        <${StatusPanel} />
        ${!call ? html`<${WrapupPanel} />` : null}
        ${call || state.lastEnded ? null : html`<section class="card" aria-labelledby="call-h"><h2 id="call-h">${t('call.title')}</h2><p class="muted" data-testid="call-idle">${t('ws.idle')}</p></section>`}
        ${call && call.kind === 'call' ? html`<${TransferPanel} call=${call} />` : null}
        ${call ? html`<${Shortcuts} />` : null}
      </div>
      <div class="col">
        <${MediaCard} call=${call} />
        ${call && call.kind === 'call' && call.booth ? html`<${CallBoothControls} booth=${call.booth} />` : null}
        ${call ? null : html`<${Shortcuts} />`}
      </div>
    </div>
  `;
}
