// Small shared pieces: status badge with icon, icons, running durations, the page heading.

import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import { statusLabel } from './format.js';

const ICONS = {
  ready: 'M4 12.5l5 5L20 6.5',
  not_ready: 'M8 5v14M16 5v14',
  offered: 'M6 16V11a6 6 0 0112 0v5l2 2H4zM10 20a2 2 0 004 0',
  busy: 'M5 4h4l2 5-2.5 1.5a11 11 0 005 5L15 13l5 2v4a1 1 0 01-1 1A16 16 0 014 5a1 1 0 011-1z',
  wrap_up: 'M4 20h4L19 9l-4-4L4 16zM13.5 6.5l4 4',
  logged_out: 'M12 3v9M6.3 6.3a8 8 0 1011.4 0',
  unknown: 'M9 9a3 3 0 116 0c0 2-3 2.5-3 5M12 18v.5',
  warn: 'M12 3l10 18H2zM12 10v5M12 18v.5',
  ok: 'M4 12.5l5 5L20 6.5',
  offline: 'M3 3l18 18M8.5 16.5a5 5 0 017 0M5 13a10 10 0 0114 0M12 20v.5',
};

/** A decorative line icon (the text next to it says the same). */
export function Icon({ name, size = 20 }) {
  return html`<svg class="icon" width=${size} height=${size} viewBox="0 0 24 24" aria-hidden="true" focusable="false">
    <path d=${ICONS[name] || ICONS.unknown} fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" stroke-linejoin="round" />
  </svg>`;
}

/** Colour + icon + text for an agent status. */
export function StatusBadge({ status, testid }) {
  const s = status || 'unknown';
  return html`<span class=${`badge st-${s}`} data-testid=${testid}>
    <${Icon} name=${s} size=${18} />${statusLabel(s)}
  </span>`;
}

/** Page heading that takes the focus when the page is shown (screen readers hear it). */
export function PageTitle({ children, testid }) {
  const ref = useRef(null);
  useEffect(() => {
    if (ref.current && document.activeElement === document.body) ref.current.focus({ preventScroll: true });
  }, []);
  return html`<h1 tabindex="-1" ref=${ref} data-testid=${testid}>${children}</h1>`;
}

/** A message line: kind 'ok' | 'error' | 'info'. Errors are alerts, others polite. */
export function Message({ kind = 'info', text, testid }) {
  if (!text) return null;
  return html`<p class=${`msg msg-${kind}`} role=${kind === 'error' ? 'alert' : 'status'} data-testid=${testid}>${text}</p>`;
}
