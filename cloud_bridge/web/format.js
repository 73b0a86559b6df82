// Number, time and error formatting (German).

import { label, t } from './i18n.js';

const pad = (n) => String(n).padStart(2, '0');

/** 75 -> "1:15", 3725 -> "1:02:05"; null -> "–". */
export function dur(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(Number(seconds))) return '–';
  let s = Math.max(0, Math.floor(Number(seconds)));
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return h ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}

/** 300 -> "5 Minuten", 90 -> "1 Minute 30 Sekunden", 40 -> "40 Sekunden". */
export function durWords(seconds) {
  const s = Math.max(0, Math.ceil(Number(seconds) || 0));
  const m = Math.floor(s / 60);
  const r = s % 60;
  const parts = [];
  if (m) parts.push(`${m} ${m === 1 ? 'Minute' : 'Minuten'}`);
  if (r || !m) parts.push(`${r} ${r === 1 ? 'Sekunde' : 'Sekunden'}`);
  return parts.join(' ');
}

/** 0.873 -> "87 %". */
export function pct(x) {
  if (x === null || x === undefined || !Number.isFinite(Number(x))) return '–';
  return `${Math.round(Number(x) * 100)} %`;
}

export function num(x, digits = 0) {
  if (x === null || x === undefined || !Number.isFinite(Number(x))) return '–';
  return Number(x).toLocaleString('de-DE', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function toDate(ts) {
  if (ts === null || ts === undefined || ts === '') return null;
  const d = typeof ts === 'number' ? new Date(ts * 1000) : new Date(ts);
  return Number.isNaN(d.getTime()) ? null : d;
}

export function clock(ts) {
  const d = toDate(ts);
  return d ? d.toLocaleTimeString('de-DE', { hour: '2-digit', minute: '2-digit', second: '2-digit' }) : '–';
}

export function dateTime(ts) {
  const d = toDate(ts);
  return d ? d.toLocaleString('de-DE', { dateStyle: 'short', timeStyle: 'medium' }) : '–';
}

/** Local date as YYYY-MM-DD (for <input type=date>). */
export function isoDate(d = new Date()) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export const statusLabel = (s) => label('status', s || 'unknown');
export const reasonLabel = (r) => label('reason', r);

/** German text for an ApiError (or anything thrown). */
export function errorText(err) {
  if (!err) return '';
  const code = err.code || 'other';
  if (code === 'invalid') return t('err.invalid', { detail: err.detail });
  if (code.startsWith('http_') || !['network', 'unauthenticated', 'forbidden', 'not_an_agent', 'command_denied', 'csrf', 'not_offered', 'not_your_call', 'bad_state', 'no_consult', 'unknown_call', 'unknown_queue', 'unknown_agent', 'unknown_booth', 'not_found', 'timeout', 'rate_limited'].includes(code)) {
    return t('err.other', { detail: err.detail || code });
  }
  return t(`err.${code}`);
}
