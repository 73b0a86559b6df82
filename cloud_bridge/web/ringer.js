// The ring of an incoming offer: a two-tone sound made with WebAudio every 2 s until it
// stops, and a desktop notification. Browsers only allow sound after a user gesture: the
// "Bereit" click calls unlockAudio(); audioBlocked() tells the page to show a notice.

let ctx = null;
let timer = null;
let notification = null;
const listeners = new Set();

function changed() {
  for (const l of listeners) l();
}

/** fn() when the audio state may have changed (blocked / unlocked). */
export function onAudioChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function audioSupported() {
  return typeof window.AudioContext === 'function' || typeof window.webkitAudioContext === 'function';
}

/** Create / resume the AudioContext (call from a click or key press). */
export async function unlockAudio() {
  if (!audioSupported()) return 'unsupported';
  try {
    if (!ctx) {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      ctx = new Ctx();
      ctx.onstatechange = changed;
    }
    if (ctx.state !== 'running') await ctx.resume();
  } catch {
    /* stays suspended: audioBlocked() reports it */
  }
  changed();
  return ctx ? ctx.state : 'none';
}

/** True while a ring could not be heard: no unlocked AudioContext. */
export function audioBlocked() {
  if (!audioSupported()) return false;
  return !ctx || ctx.state !== 'running';
}

function tone(freq, start, length) {
  const osc = ctx.createOscillator();
  const gain = ctx.createGain();
  osc.type = 'sine';
  osc.frequency.value = freq;
  gain.gain.setValueAtTime(0.0001, start);
  gain.gain.exponentialRampToValueAtTime(0.25, start + 0.02);
  gain.gain.setValueAtTime(0.25, start + length - 0.05);
  gain.gain.exponentialRampToValueAtTime(0.0001, start + length);
  osc.connect(gain).connect(ctx.destination);
  osc.start(start);
  osc.stop(start + length + 0.02);
}

/** One ring: 880 Hz then 660 Hz, 0.3 s each. */
export function ringOnce() {
  if (!ctx || ctx.state !== 'running') return false;
  const now = ctx.currentTime + 0.01;
  tone(880, now, 0.3);
  tone(660, now + 0.35, 0.3);
  return true;
}

export function isRinging() {
  return timer !== null;
}

/** Start ringing (every 2 s) with a desktop notification {title, body}; idempotent. */
export function startRinging(note) {
  if (timer === null) {
    ringOnce();
    timer = setInterval(ringOnce, 2000);
  }
  if (note && !notification) showNotification(note);
}

export function stopRinging() {
  if (timer !== null) {
    clearInterval(timer);
    timer = null;
  }
  if (notification) {
    try {
      notification.close();
    } catch {
      /* gone */
    }
    notification = null;
  }
}

// --------------------------------------------------------------------- notifications
export function notificationsSupported() {
  return typeof window.Notification === 'function';
}

export function notificationPermission() {
  return notificationsSupported() ? Notification.permission : 'unsupported';
}

/** Ask for permission (from the "Bereit" click); resolves with the permission. */
export async function requestNotifications() {
  if (!notificationsSupported()) return 'unsupported';
  if (Notification.permission === 'default') {
    try {
      await Notification.requestPermission();
    } catch {
      /* old callback API or refused */
    }
  }
  changed();
  return Notification.permission;
}

function showNotification({ title, body }) {
  if (!notificationsSupported() || Notification.permission !== 'granted') return;
  try {
    notification = new Notification(title, { body, tag: 'lisa-offer', requireInteraction: true });
    notification.onclick = () => {
      window.focus();
      notification && notification.close();
    };
  } catch {
    notification = null; // e.g. only allowed from a service worker on this platform
  }
}
