// The agent's actions (used by the buttons and by the keyboard shortcuts). Each one asks the
// API, takes its answer into the store and leaves a notice (success or the German error).

import { api } from './api.js';
import { errorText } from './format.js';
import { t } from './i18n.js';
import { requestNotifications, stopRinging, unlockAudio } from './ringer.js';
import { applyActionAnswer, applyAgentEntry, currentOffer, myCall, state, update } from './store.js';

let noticeTimer = null;

export function notice(kind, text, ms = 8000) {
  clearTimeout(noticeTimer);
  update((s) => {
    s.notice = text ? { kind, text, at: Date.now() } : null;
  });
  if (text && ms) noticeTimer = setTimeout(() => update((s) => (s.notice = null)), ms);
}

async function run(fn, okText) {
  try {
    const ans = await fn();
    update(() => applyActionAnswer(ans));
    if (okText) notice('ok', okText);
    return ans;
  } catch (e) {
    if (e.status !== 401) notice('error', errorText(e), 12000);
    return null;
  }
}

/** "Bereit": also unlocks the ring tone and asks for desktop notifications (user gesture). */
export async function setReady() {
  unlockAudio();
  requestNotifications();
  try {
    const agent = await api.setStatus('ready');
    update(() => applyAgentEntry(agent, { keepOffers: true }));
  } catch (e) {
    if (e.status !== 401) notice('error', errorText(e), 12000);
  }
}

export async function setNotReady(reason) {
  try {
    const agent = await api.setStatus('not_ready', reason);
    update(() => applyAgentEntry(agent, { keepOffers: true }));
  } catch (e) {
    if (e.status !== 401) notice('error', errorText(e), 12000);
  }
}

export async function accept(callId) {
  const offer = callId ? { call: callId } : currentOffer();
  if (!offer) return null;
  unlockAudio();
  stopRinging();
  return run(() => api.accept(offer.call));
}

export async function decline(callId) {
  const offer = callId ? { call: callId } : currentOffer();
  if (!offer) return null;
  stopRinging();
  return run(() => api.decline(offer.call));
}

export async function hangup() {
  const call = myCall();
  if (!call) return null;
  return run(() => api.hangup(call.id));
}

export async function transfer(callId, target) {
  return run(
    () => api.transfer(callId, target),
    target.mode === 'consult' ? t('transfer.consult_started') : t('transfer.done'),
  );
}

export async function transferComplete(callId) {
  return run(() => api.transferComplete(callId), t('transfer.completed'));
}

export async function transferCancel(callId) {
  return run(() => api.transferCancel(callId), t('transfer.cancelled'));
}

/** Booth command -> {kind, text, result} for the result line (never throws). */
export async function boothCommand(booth, cmd, args) {
  const name = t(`cmd.${cmd}`);
  try {
    const res = await api.command(booth, cmd, args);
    if (res && res.ok) return { kind: 'ok', text: t('cmd.ok', { cmd: name }), result: res.result };
    return { kind: 'error', text: t('cmd.refused', { cmd: name, error: (res && res.error) || '?' }), result: res && res.result };
  } catch (e) {
    if (e.status === 403) return { kind: 'error', text: t('cmd.denied', { cmd: name, detail: e.detail || errorText(e) }) };
    if (e.status === 504) return { kind: 'error', text: t('cmd.timeout', { cmd: name }) };
    return { kind: 'error', text: t('cmd.failed', { cmd: name, detail: errorText(e) }) };
  }
}

export function offerIsMine(callId) {
  return Boolean(state.offers[callId]);
}
