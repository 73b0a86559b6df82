// The portal's live media: one MediaSession per page, fed by the event stream's `media.*`
// frames, following the agent's connected call (docs/media.md). Media runs for the citizen's
// call I am connected to, not during a consultation of it (the citizen sees "Bitte einen
// Moment") and not on a consultation leg; it keeps running on every page of the portal (the
// sound plays from the session's <audio>), in one window of the agent only.

import { MediaSession } from './media.js';
import { myCall, myName, onLiveEvent, state, subscribe } from './store.js';

let stream = null;

export const media = new MediaSession({
  send: (frame) => (stream ? stream.send(frame) : false),
  coordinate: 'lisa-media',
});

/** The call this page wants media for now, or null. */
export function mediaCall() {
  const c = myCall();
  if (!c || c.kind !== 'call' || c.status !== 'connected' || c.consult) return null;
  if (c.agent && c.agent !== myName()) return null;
  return c;
}

/** The event stream of the session (null after logout). */
export function setMediaStream(es) {
  stream = es;
  if (!es) media.want(null);
}

onLiveEvent((ev) => {
  if (ev.type === 'snapshot') media.reconnected();
  else if (typeof ev.type === 'string' && ev.type.startsWith('media.')) media.handle(ev);
});

subscribe(() => {
  const c = state.session ? mediaCall() : null;
  media.want(c ? c.id : null, c ? c.booth : null);
});

window.lisaMedia = media.testApi();
