// The incoming-offer banner (shown on every page for ACD agents) and the ring that goes with
// it: sound, desktop notification and an assertive announcement, until the offer is accepted,
// declined or withdrawn.

import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import { accept, decline } from './actions.js';
import { Icon } from './components.js';
import { dur } from './format.js';
import { t } from './i18n.js';
import { startRinging, stopRinging } from './ringer.js';
import { agentName, boothName, currentOffer, queueName, serverNow, state, useTick } from './store.js';

function waitOf(offer) {
  const c = state.calls[offer.call];
  if (c && c.entered) return serverNow() - c.entered;
  if (c && c.wait_s !== undefined) return c.wait_s;
  return null;
}

export function offerTexts(offer) {
  const booth = boothName(offer.booth || (state.calls[offer.call] && state.calls[offer.call].booth));
  const queue = queueName(offer.queue || (state.calls[offer.call] && state.calls[offer.call].queue));
  return { booth, queue, wait: dur(waitOf(offer)) };
}

/** Rings while an offer is there (not when auto-accept takes it). Renders nothing. */
export function Ringer() {
  const offer = currentOffer();
  const id = offer ? offer.call : null;
  const auto = state.settings.auto_accept;
  const tried = useRef(new Set());
  useEffect(() => {
    if (!id) {
      stopRinging();
      return undefined;
    }
    if (auto && !offer.consult_for && !tried.current.has(id)) {
      tried.current.add(id);
      accept(id);
      return undefined;
    }
    const x = offerTexts(offer);
    startRinging({ title: t('offer.notify_title'), body: t('offer.notify_body', x) });
    return () => stopRinging();
  }, [id, auto]);
  return null;
}

export function OfferBanner() {
  useTick(1000);
  const offer = currentOffer();
  if (!offer) return null;
  const x = offerTexts(offer);
  const left = offer.ring_timeout_s ? Math.max(0, offer.ring_timeout_s - (serverNow() - offer.at)) : null;
  const consult = Boolean(offer.consult_for);
  return html`<section class="offer" aria-labelledby="offer-h" data-testid="offer-banner">
    <div class="offer-main">
      <h2 id="offer-h"><${Icon} name="offered" size=${28} /> ${consult ? t('offer.consult_title') : t('offer.title')}</h2>
      <dl class="facts">
        <div><dt>${t('offer.booth')}</dt><dd data-testid="offer-booth">${x.booth}</dd></div>
        <div><dt>${t('offer.queue')}</dt><dd data-testid="offer-queue">${x.queue}</dd></div>
        ${consult ? html`<div><dt>${t('offer.consult_for')}</dt><dd data-testid="offer-consult-for">${agentName(offer.consult_for)}</dd></div>` : null}
        <div><dt>${t('offer.wait')}</dt><dd data-testid="offer-wait">${x.wait}</dd></div>
        ${left === null ? null : html`<div><dt>${t('offer.ring_left')}</dt><dd data-testid="offer-ring-left">${dur(left)}</dd></div>`}
      </dl>
      ${state.settings.auto_accept && !consult ? html`<p>${t('offer.auto')}</p>` : null}
    </div>
    <div class="offer-actions">
      <button type="button" class="btn-accept" data-testid="offer-accept" aria-keyshortcuts="Alt+Shift+A" onClick=${() => accept(offer.call)}>
        <${Icon} name="busy" size=${24} /> ${t('offer.accept')}
      </button>
      <button type="button" class="btn-decline" data-testid="offer-decline" aria-keyshortcuts="Alt+Shift+D" onClick=${() => decline(offer.call)}>
        ${t('offer.decline')}
      </button>
    </div>
  </section>`;
}
