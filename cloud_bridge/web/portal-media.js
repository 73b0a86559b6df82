// The portal's live media: one MediaSession per page, fed by the event stream's `media.*`
// frames, following the agent's connected call (docs/media.md). Media runs for the citizen's
// call I am connected to, not during a consultation of it (the citizen sees "Bitte einen
// Moment") and not on a consultation leg; it keeps running on every page of the portal (the
// sound plays from the session's <audio>), in one window of the agent only.
//
// Beside it: the consultation's audio with the colleague (peer-audio.js, `media.peer*`) and the
// signature requests of the call (signing.js, on the session's `lisa` channel).

import { MediaSession } from './media.js';
import { PeerAudio } from './peer-audio.js';
import { Signing } from './signing.js';
import { agentName, myCall, myName, onLiveEvent, state, subscribe } from './store.js';

let stream = null;
const send = (frame) => (stream ? stream.send(frame) : false);

export const media = new MediaSession({ send, coordinate: 'lisa-media' });

export const consultAudio = new PeerAudio({ send, coordinate: 'lisa-consult', microphone: () => media.microphone() });

export const signing = new Signing(media);

/** The call this page wants media for now, or null. */
export function mediaCall() {
  const c = myCall();
  if (!c || c.kind !== 'call' || c.status !== 'connected' || c.consult) return null;
  if (c.agent && c.agent !== myName()) return null;
  return c;
}

/** The connected consultation I am in (as the asker or the consultant): {call (the citizen's
 * call), name (the colleague), asker} or null. */
export function myConsultation() {
  const c = myCall();
  const me = myName();
  if (!c) return null;
  if (c.kind === 'call' && c.consult && c.consult.status === 'connected' && c.consult.agent === me) {
    return { call: c.id, name: agentName(c.consult.consultant), asker: true };
  }
  if (c.kind === 'consult' && c.status === 'connected' && c.parent) {
    const parent = state.calls[c.parent];
    const asker = parent && parent.consult ? parent.consult.agent : parent && parent.agent;
    return { call: c.parent, name: asker ? agentName(asker) : '', asker: false };
  }
  return null;
}

/** The event stream of the session (null after logout). */
export function setMediaStream(es) {
  stream = es;
  if (!es) {
    media.want(null);
    consultAudio.follow(null);
    signing.forCall(null);
  }
}

const PEER = new Set(['media.peer.start', 'media.peer', 'media.peer.stop']);

onLiveEvent((ev) => {
  if (ev.type === 'snapshot') {
    media.reconnected();
    consultAudio.reconnected();
  } else if (PEER.has(ev.type) || (ev.type === 'media.error' && ev.for === 'media.peer')) consultAudio.handle(ev);
  else if (typeof ev.type === 'string' && ev.type.startsWith('media.')) media.handle(ev);
});

subscribe(() => {
  const on = Boolean(state.session);
  const c = on ? mediaCall() : null;
  media.want(c ? c.id : null, c ? c.booth : null);
  consultAudio.follow(on ? myConsultation() : null);
  // the signature requests belong to my citizen's call (kept while it is on hold for a
  // consultation; forgotten, blob: URLs revoked, when it ends or goes to a colleague)
  const mine = on ? myCall() : null;
  signing.forCall(mine && mine.kind === 'call' && (!mine.agent || mine.agent === myName()) ? mine.id : null);
});

window.lisaMedia = {
  ...media.testApi(),
  liveTracks: () => media.liveTracks() + consultAudio.liveTracks(),
  consult: () => consultAudio.stats(),
  consultTrace: () => [...consultAudio.trace],
  consultPc: () => consultAudio.pc,
  signing: () => signing.testApi(),
};
