// Shared by the three booth screens (monitor, touch display, outside view-board).
//
// The page is never the authority: it shows what the booth daemon sends over /ws and asks for
// the whole state again after every reconnect. Nothing of a visit is kept in the browser: no
// storage, no cookies; when the visit ends (privacy reset) the page replaces its own location,
// so there is no history entry to go back into the visit.

export const LANGS = ["de", "pl", "en", "de-simple"];
export const DEFAULT_LANG = "de";

/** Every language's texts, loaded once (they are part of the page, not of a visit). */
export async function loadTexts() {
  const out = {};
  await Promise.all(
    LANGS.map(async (lang) => {
      const res = await fetch(`/static/i18n/${lang}.json`, { cache: "no-store" });
      out[lang] = await res.json();
    }),
  );
  return out;
}

/** "{name}" placeholders from params; unknown ones stay visible rather than vanish. */
export function fmt(template, params = {}) {
  return String(template ?? "").replace(/\{(\w+)\}/g, (whole, key) =>
    params[key] === undefined || params[key] === null ? whole : String(params[key]),
  );
}

/** The estimated wait in words an elderly citizen understands ("etwa eine Viertelstunde"). */
export function waitWords(seconds, words) {
  const minutes = Math.max(0, Number(seconds) || 0) / 60;
  if (minutes < 1) return words.lt1;
  if (minutes < 1.5) return words.one;
  if (minutes < 4.5) return fmt(words.few, { n: Math.round(minutes) });
  if (minutes < 12.5) {
    const n = minutes < 10.5 ? Math.round(minutes) : 10;
    return fmt(words.many, { n });
  }
  if (minutes < 17.5) return words.quarter;
  if (minutes < 25) return words.twenty;
  if (minutes < 37.5) return words.half;
  if (minutes < 52.5) return words.three_quarters;
  if (minutes < 75) return words.hour;
  return words.more;
}

/** One CSS px per display pixel on the kiosk; honour a scaled output all the same. */
export function cssPx(devicePx) {
  return devicePx / (window.devicePixelRatio || 1);
}

/** Base font size from the server's EN 301 549 layout, times the citizen's text size. */
export function applyBaseFont(layout, scale = 1) {
  const base = cssPx(layout.font_px) * scale;
  document.documentElement.style.fontSize = `${base}px`;
  return base;
}

export function setLang(texts, lang) {
  const t = texts[lang] || texts[DEFAULT_LANG];
  document.documentElement.lang = t.meta.html_lang;
  document.title = t.meta.title;
  return t;
}

/** A fresh element with text (never HTML: no text from the network is parsed as markup). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

/**
 * Follow the booth: calls onState(message) with every state the daemon sends, onOffline()
 * after the connection has been gone for a while. Reconnects forever (1 s, 2 s, … 5 s).
 */
export function follow(screen, onState, onOffline) {
  let wasActive = null;
  let retry = 1000;
  let offlineTimer = null;

  const open = () => {
    const ws = new WebSocket(`ws://${location.host}/ws?screen=${screen}`);
    ws.onopen = () => {
      retry = 1000;
      clearTimeout(offlineTimer);
      offlineTimer = null;
    };
    ws.onmessage = (event) => {
      const state = JSON.parse(event.data);
      if (wasActive === true && !state.session_active) {
        // the visit is over: start a new document in place of this one (privacy reset)
        ws.onclose = null;
        ws.close();
        location.replace(location.pathname);
        return;
      }
      wasActive = state.session_active;
      onState(state);
    };
    ws.onclose = () => {
      if (offlineTimer === null) offlineTimer = setTimeout(() => onOffline?.(), 5000);
      setTimeout(open, retry);
      retry = Math.min(retry * 2, 5000);
    };
  };
  open();
}

/** POST JSON to the daemon; resolves to the response (never throws on HTTP errors). */
export async function post(path, body = {}) {
  try {
    return await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    return { ok: false, status: 0 };
  }
}

// no long-press menus, no pinch or double-tap zoom: single taps only
document.addEventListener("contextmenu", (event) => event.preventDefault());
