// The page's copy of the bridge state: taken from the `snapshot` (and GET /me) on every
// (re)connect, kept current by the live events. The bridge stays the authority: nothing here
// is sent back; after a reconnect the snapshot replaces whatever the page believed.

import { useEffect, useState } from 'preact/hooks';

export const state = {
  booted: false,
  session: null, // {user, agent} from GET /me or the login answer
  settings: { auto_accept: false },
  loginNotice: null, // 'expired' | 'loggedout' | null
  conn: 'closed', // 'connecting' | 'open' | 'lost' | 'closed'
  retryAt: null,
  skew: 0, // server clock - local clock (s), from the snapshot's ts
  agents: {},
  queues: {},
  calls: {},
  booths: {},
  mqtt: null,
  offers: {}, // call id -> offer event (only offers to me)
  withdrawn: null, // {call, reason, at} the last offer to me that stopped ringing
  lastEnded: null, // {call: CALL, reason, at} my last call that ended (for the wrap-up)
  journeys: loadJourneys(), // call id -> [{at, kind, ...}]: the citizen's path
  boothEvents: {}, // booth id -> [{at, event}] recent booth_event frames
  notice: null, // {kind, text} short-lived message of the workspace
};

// ------------------------------------------------------------------------ subscriptions
const listeners = new Set();
const eventListeners = new Set();
let scheduled = false;

/** Change the state in fn(state) and re-render the subscribed components (batched). */
export function update(fn) {
  if (fn) fn(state);
  if (scheduled) return;
  scheduled = true;
  queueMicrotask(() => {
    scheduled = false;
    version += 1;
    for (const l of [...listeners]) l();
  });
}

let version = 0;

/** The state; the component re-renders after every update(). */
export function useStore() {
  const [, setTick] = useState(0);
  const seen = version;
  useEffect(() => {
    const l = () => setTick((v) => v + 1);
    listeners.add(l);
    if (version !== seen) l(); // an update came between the render and this subscription
    return () => listeners.delete(l);
  }, []);
  return state;
}

/** fn() after every update() (batched), outside the components; returns the unsubscribe. */
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Re-render every `ms` (for running clocks). */
export function useTick(ms = 1000) {
  const [, setTick] = useState(0);
  useEffect(() => {
    const id = setInterval(() => setTick((v) => v + 1), ms);
    return () => clearInterval(id);
  }, [ms]);
}

/** fn(event) for every live event after the store applied it. */
export function onLiveEvent(fn) {
  eventListeners.add(fn);
  return () => eventListeners.delete(fn);
}

// ------------------------------------------------------------------------------- access
export const serverNow = () => Date.now() / 1000 + state.skew;
export const myName = () => (state.session && state.session.user ? state.session.user.name : null);
export const isAgent = () => Boolean(state.session && state.session.user && state.session.user.is_agent);
export const myAgent = () => state.agents[myName()] || (state.session && state.session.agent) || null;
export const role = () => (state.session && state.session.user ? state.session.user.role : null);

/** The offer ringing at me now (the first if the engine rings more than one). */
export function currentOffer() {
  const offers = Object.values(state.offers);
  return offers.length ? offers[0] : null;
}

/** My connected call (a citizen's call or a consult leg I took), or null. */
export function myCall() {
  const a = myAgent();
  if (!a || !a.call || a.status !== 'busy') return null;
  return state.calls[a.call] || null;
}

/** The consultation I started on my citizen's call (null when none). */
export function myConsult(call) {
  if (!call || !call.consult) return null;
  return call.consult.agent === myName() ? call.consult : null;
}

export function boothName(id) {
  const b = state.booths[id];
  if (!b) return id || '–';
  return b.name || b.place || b.site_name || b.display_name || b.id;
}

export function queueName(id) {
  const q = state.queues[id];
  return (q && q.name) || id || '–';
}

export function agentName(id) {
  const a = state.agents[id];
  return a ? `${a.display_name || id} (${id})` : id || '–';
}

/** Seconds since an epoch-seconds or RFC 3339 time (server clock). */
export function since(ts) {
  if (ts === null || ts === undefined || ts === '' || ts === 0) return null;
  const sec = typeof ts === 'number' ? ts : Date.parse(ts) / 1000;
  if (!Number.isFinite(sec)) return null;
  return Math.max(0, serverNow() - sec);
}

// ----------------------------------------------------------------------------- journeys
function loadJourneys() {
  try {
    return JSON.parse(sessionStorage.getItem('lisa.journeys') || '{}') || {};
  } catch {
    return {};
  }
}

function saveJourneys() {
  try {
    const keys = Object.keys(state.journeys);
    if (keys.length > 50) for (const k of keys.slice(0, keys.length - 50)) delete state.journeys[k];
    sessionStorage.setItem('lisa.journeys', JSON.stringify(state.journeys));
  } catch {
    /* storage full or disabled: the path is only shown for this page view */
  }
}

function journeyOf(call) {
  const root = call.kind === 'consult' && call.parent ? call.parent : call.id;
  if (!state.journeys[root]) state.journeys[root] = [];
  return state.journeys[root];
}

function track(call) {
  if (!call || call.kind === 'consult') return;
  const j = journeyOf(call);
  const lastQueue = [...j].reverse().find((s) => s.kind === 'queue');
  if (!lastQueue) {
    if (call.created && call.entered && call.entered - call.created > 1) {
      j.push({ at: call.created, kind: 'earlier' });
    }
    j.push({ at: call.entered || serverNow(), kind: 'queue', queue: call.queue, clerk: call.clerk || null });
  } else if (lastQueue.queue !== call.queue || (call.clerk && lastQueue.clerk !== call.clerk)) {
    j.push({ at: serverNow(), kind: 'transfer', queue: call.queue, clerk: call.clerk || null });
    j.push({ at: call.entered || serverNow(), kind: 'queue', queue: call.queue, clerk: call.clerk || null });
  }
  const last = j[j.length - 1];
  if (call.status === 'connected' && call.agent && !(last.kind === 'agent' && last.agent === call.agent)) {
    j.push({ at: serverNow(), kind: 'agent', agent: call.agent });
  }
  saveJourneys();
}

// ------------------------------------------------------------------------------- events
function dropOffer(callId) {
  delete state.offers[callId];
}

function offerFromState(me) {
  // after a (re)connect: is a call still ringing at me? (my agent entry and the calls say so)
  const offers = {};
  const a = state.agents[me];
  for (const c of Object.values(state.calls)) {
    const ringsAtMe = (c.ringing || []).includes(me) || (a && a.status === 'offered' && a.call === c.id);
    if (!ringsAtMe || c.status === 'connected' || c.status === 'ended') continue;
    const old = state.offers[c.id];
    let consultFor = null;
    if (c.kind === 'consult' && c.parent && state.calls[c.parent] && state.calls[c.parent].consult) {
      consultFor = state.calls[c.parent].consult.agent;
    }
    offers[c.id] = old || {
      type: 'offer',
      call: c.id,
      agent: me,
      queue: c.queue,
      booth: c.booth,
      ring_timeout_s: null,
      consult_for: consultFor,
      at: serverNow(),
    };
  }
  state.offers = offers;
}

/** My citizen was transferred away (blind: waiting / ringing) or handed over after a
 * consultation (connected to the colleague): that ends my part (the engine sends my agent
 * event: wrap-up). Seen in the call event or in the action's answer, whichever comes first. */
function noteHandedAway(prev, entry) {
  const me = myName();
  if (!prev || prev.agent !== me || entry.agent === me || entry.kind === 'consult') return;
  const handedOver = entry.status === 'connected' && entry.agent;
  state.lastEnded = { call: prev, reason: handedOver ? 'completed' : 'transferred', at: serverNow() };
}

/** Apply one live event to the state. */
export function applyEvent(ev) {
  const me = myName();
  switch (ev.type) {
    case 'snapshot': {
      state.skew = typeof ev.ts === 'number' ? ev.ts - Date.now() / 1000 : 0;
      state.agents = Object.fromEntries((ev.agents || []).map((a) => [a.id, a]));
      state.queues = Object.fromEntries((ev.queues || []).map((q) => [q.id, q]));
      state.calls = Object.fromEntries((ev.calls || []).map((c) => [c.id, c]));
      state.booths = Object.fromEntries((ev.booths || []).map((b) => [b.id, b]));
      state.mqtt = ev.mqtt ?? null;
      for (const c of Object.values(state.calls)) track(c);
      offerFromState(me);
      break;
    }
    case 'agent': {
      const old = state.agents[ev.agent] || { id: ev.agent, display_name: ev.agent, queues: {} };
      const changed = old.status !== ev.status || old.reason !== ev.reason;
      state.agents[ev.agent] = {
        ...old,
        status: ev.status,
        reason: ev.reason ?? null,
        call: ev.call ?? null,
        since: changed ? serverNow() : old.since,
        pending: changed ? null : old.pending,
      };
      if (ev.agent === me && ev.status !== 'offered') state.offers = {};
      break;
    }
    case 'offer': {
      const c = state.calls[ev.call];
      if (c) state.calls[ev.call] = { ...c, status: 'ringing', ringing: [...new Set([...(c.ringing || []), ev.agent])] };
      if (ev.agent === me) {
        state.offers[ev.call] = { ...ev, at: serverNow() };
        state.withdrawn = null;
      }
      break;
    }
    case 'offer_withdrawn': {
      const c = state.calls[ev.call];
      if (c) state.calls[ev.call] = { ...c, ringing: (c.ringing || []).filter((x) => x !== ev.agent) };
      if (ev.agent === me && state.offers[ev.call]) {
        dropOffer(ev.call);
        state.withdrawn = { call: ev.call, reason: ev.reason, at: Date.now() };
      }
      break;
    }
    case 'call': {
      const { type, ...entry } = ev;
      const prev = state.calls[entry.id];
      state.calls[entry.id] = entry;
      track(entry);
      if (entry.status === 'connected' || entry.status === 'waiting') dropOffer(entry.id);
      if (entry.kind === 'consult' && entry.parent && state.calls[entry.parent]) {
        // keep the parent's consult summary current between its own call events
        const parent = state.calls[entry.parent];
        if (parent.consult && parent.consult.id === entry.id) {
          state.calls[entry.parent] = { ...parent, consult: { ...parent.consult, status: entry.status, consultant: entry.agent || parent.consult.consultant } };
        }
      }
      noteHandedAway(prev, entry);
      break;
    }
    case 'call_ended': {
      const c = state.calls[ev.call];
      const a = state.agents[me];
      if (c && (c.agent === me || (a && a.call === ev.call))) {
        state.lastEnded = { call: c, reason: ev.reason, at: serverNow() };
      }
      if (c && c.kind === 'consult' && c.parent && state.calls[c.parent]) {
        state.calls[c.parent] = { ...state.calls[c.parent], consult: null };
      }
      delete state.calls[ev.call];
      dropOffer(ev.call);
      break;
    }
    case 'consult': {
      const c = state.calls[ev.call];
      if (c) {
        const j = journeyOf(c);
        if (ev.state === 'connected') {
          j.push({ at: serverNow(), kind: 'consult', agent: ev.consultant });
          // the bridge sends no call event for this: the consult event is what enables "Übergeben"
          if (c.consult) state.calls[ev.call] = { ...c, consult: { ...c.consult, status: 'connected', consultant: ev.consultant || c.consult.consultant } };
        } else {
          j.push({ at: serverNow(), kind: 'consult_end', agent: ev.consultant, reason: ev.reason });
          state.calls[ev.call] = { ...c, consult: null };
        }
        saveJourneys();
      }
      break;
    }
    case 'booth': {
      const { type, ...entry } = ev;
      state.booths[entry.id] = { ...(state.booths[entry.id] || {}), ...entry };
      break;
    }
    case 'booth_event': {
      const list = state.boothEvents[ev.booth] || (state.boothEvents[ev.booth] = []);
      list.unshift({ at: serverNow(), event: ev.event });
      list.length = Math.min(list.length, 20);
      break;
    }
    default:
      break;
  }
  for (const l of eventListeners) l(ev);
}

/** GET /me (or an action's answer) is the truth about my own agent entry. */
export function applyMe(me) {
  if (!me) return;
  state.session = { ...(state.session || {}), user: me.user || state.session.user, agent: me.agent ?? null };
  if (me.agent) applyAgentEntry(me.agent, { keepOffers: true });
}

/** A full agent entry (from /me, /agent/status or a call action's answer). */
export function applyAgentEntry(agent, { keepOffers = false } = {}) {
  if (!agent || !agent.id) return;
  state.agents[agent.id] = { ...(state.agents[agent.id] || {}), ...agent };
  if (state.session && agent.id === myName()) {
    state.session.agent = agent;
    if (!keepOffers && agent.status !== 'offered') state.offers = {};
  }
}

/** A call action's answer {call, agent}. */
export function applyActionAnswer(ans) {
  if (!ans) return;
  if (ans.call) {
    noteHandedAway(state.calls[ans.call.id], ans.call);
    state.calls[ans.call.id] = ans.call;
    track(ans.call);
    if (ans.call.status === 'connected') dropOffer(ans.call.id);
  }
  if (ans.agent) applyAgentEntry(ans.agent);
}

export function resetLive() {
  Object.assign(state, {
    agents: {},
    queues: {},
    calls: {},
    booths: {},
    offers: {},
    withdrawn: null,
    lastEnded: null,
    notice: null,
    boothEvents: {},
  });
}
