// The 22" touch display: language, text size, volume, and the signature buttons while signing;
// in a call with media a "Schreiben" button opens a large on-screen keyboard whose every key is
// sent at once as real-time text (POST /api/rtt). Single taps only; every control inside the
// reach band the daemon computes (380–1,220 mm above the floor), at least 44 × 44 CSS px.
import { LANGS, applyBaseFont, cssPx, el, fmt, follow, loadTexts, post, setLang } from "./common.js";
import { LINE_SEPARATOR } from "./t140.js";

const texts = await loadTexts();
const info = document.getElementById("info");
const controls = document.getElementById("controls");
const SCALE_STEP = 0.25;
const VOLUME_STEP = 0.1;
// pages on which the citizen has nothing to set (the booth is not in use or must be left)
const NO_CONTROLS = new Set(["blank", "starting", "emergency", "out_of_service", "maintenance"]);
// pages of a call on which the citizen can write (the booth is in_call.talking / .signing)
const WRITE_PAGES = new Set(["call", "signing"]);
let state = null;
let signStatus = "";
let keyboardOpen = false;

const clamp = (value, low, high) => Math.min(high, Math.max(low, value));
const round2 = (value) => Math.round(value * 100) / 100;

function button(label, testid, onclick, extra = {}) {
  return el("button", { type: "button", class: "control", "data-testid": testid, text: label, onclick, ...extra });
}

function group(id, heading, ...children) {
  return el(
    "section",
    { class: `group group-${id}`, "aria-labelledby": `${id}-h` },
    el("h2", { id: `${id}-h`, text: heading }),
    el("div", { class: "row" }, ...children),
  );
}

async function setPref(change) {
  // a second tap before the daemon's answer builds on the first
  if (state) state = { ...state, ...change };
  await post("/api/prefs", change);
}

function step(key, delta, low, high) {
  return () => setPref({ [key]: round2(clamp(state[key] + delta, low, high)) });
}

async function signature(action) {
  const res = await post(`/api/signature/${action}`);
  signStatus = res.ok ? (action === "clear" ? "sign_cleared" : "sign_confirmed") : "failed";
  if (state) render(state);
}

// ------------------------------------------------------------------ the keyboard
// The letters as on a German keyboard (QWERTZ, Umlaute, ß); Polish and English get theirs. The
// grid has 24 columns: a letter spans 2, the keys of the bottom row more.
const KEYBOARDS = {
  de: [
    [..."1234567890ß-"],
    [..."qwertzuiopü"],
    [..."asdfghjklöä"],
    [..."yxcvbnm,.?"],
  ],
  pl: [
    [..."1234567890,."],
    [..."qwertyuiopąę"],
    [..."asdfghjklłóś"],
    [..."zxcvbnmćńźż?"],
  ],
  en: [
    [..."1234567890-?"],
    [..."qwertyuiop"],
    [..."asdfghjkl"],
    [..."zxcvbnm,."],
  ],
};
const GRID_COLUMNS = 24;
let keyboard = null; // the keyboard's elements, built once per language (taps must not be lost)
let shifted = false; // "Groß" pressed: the next letter the other way round
let sending = Promise.resolve();
let pending = 0; // keys sent, not yet answered
let echo = null; // what the citizen has typed, before the daemon's state says so

/** Each key at once, in the order typed (one request after the other); shown at once. */
function sendRtt(body) {
  const base = echo ?? serverText();
  if (body.erase) echo = [...base].slice(0, -body.erase).join("");
  else echo = base + String(body.text).replaceAll("\n", LINE_SEPARATOR);
  pending += 1;
  sending = sending.then(async () => {
    const res = await post("/api/rtt", body);
    pending -= 1;
    if (!res.ok && pending === 0) {
      echo = null; // refused: show what the daemon has
      updateKeyboard();
    }
  });
  updateKeyboard();
  return sending;
}

function serverText() {
  return String((state && state.media && state.media.rtt && state.media.rtt.sent) || "");
}

function typedText() {
  return echo ?? serverText();
}

/** A capital at the start and after the end of a sentence, as on a telephone. */
function sentenceStart(text) {
  return text === "" || /(^|[.!?\u2028])\s*$/u.test(text);
}

function capital() {
  return sentenceStart(typedText()) !== shifted;
}

function keyLabel(ch, upper, lang) {
  return upper && ch !== "ß" ? ch.toLocaleUpperCase(texts[lang].meta.html_lang) : ch;
}

function buildKeyboard(lang, tt) {
  const rows = KEYBOARDS[lang] || KEYBOARDS[lang.split("-")[0]] || KEYBOARDS.de;
  const letters = [];
  const key = (label, testid, onclick, span, extra = {}) => {
    const button = el("button", {
      type: "button",
      class: `control key ${extra.class || ""}`.trim(),
      "data-testid": testid,
      text: label,
      onclick,
    });
    // through the CSSOM (the pages' CSP allows no inline style attributes)
    button.style.gridColumn = extra.start ? `${extra.start} / span ${span}` : `span ${span}`;
    return button;
  };
  const grid = el("div", { class: "keys", role: "group", "aria-label": tt.keyboard, "data-testid": "keys" });
  for (const row of rows) {
    const start = 1 + (GRID_COLUMNS - 2 * row.length) / 2; // a shorter row in the middle
    row.forEach((ch, i) => {
      const button = key(ch, `key-${ch}`, () => typeKey(ch), 2, {
        class: /\p{L}/u.test(ch) ? "letter" : "sign",
        start: i === 0 ? start : 0,
      });
      button.dataset.char = ch;
      letters.push(button);
      grid.append(button);
    });
  }
  const shift = key(tt.key_shift, "key-shift", () => {
    shifted = !shifted;
    updateKeyboard();
  }, 4, { start: 1, class: "special" });
  grid.append(
    shift,
    key(tt.key_space, "key-space", () => sendRtt({ text: " " }), 6, { class: "special space" }),
    key(tt.key_newline, "key-newline", () => sendRtt({ text: "\n" }), 5, { class: "special" }),
    key(tt.key_erase, "key-erase", () => sendRtt({ erase: 1 }), 5, { class: "special erase" }),
    key(tt.key_done, "key-done", closeKeyboard, 4, { class: "special primary" }),
  );
  const typed = el("p", { class: "typed-text", "data-testid": "typed-text" });
  const hint = el("p", { class: "typed-hint", "data-testid": "typed-hint", text: tt.typed_hint });
  const root = el(
    "section",
    { class: "keyboard", "aria-labelledby": "typed-h", "data-testid": "keyboard" },
    el(
      "div",
      { class: "typed" },
      el("h2", { id: "typed-h", class: "typed-label", text: tt.typed }),
      el("div", { class: "typed-window" }, typed, hint),
    ),
    grid,
  );
  return { lang, root, typed, hint, letters, shift };
}

function typeKey(ch) {
  const upper = capital();
  if (/\p{L}/u.test(ch)) shifted = false;
  sendRtt({ text: keyLabel(ch, upper, keyboard.lang) });
}

function updateKeyboard() {
  if (keyboard === null || state === null) return;
  const sent = typedText();
  const shown = sent.replaceAll(LINE_SEPARATOR, "\n");
  if (keyboard.typed.textContent !== shown) keyboard.typed.textContent = shown;
  keyboard.hint.hidden = sent !== "";
  const upper = capital();
  for (const button of keyboard.letters) {
    const label = keyLabel(button.dataset.char, upper, keyboard.lang);
    if (button.textContent !== label) button.textContent = label;
  }
  keyboard.shift.setAttribute("aria-pressed", String(upper));
}

function openKeyboard() {
  keyboardOpen = true;
  shifted = false;
  if (state) render(state);
}

function closeKeyboard() {
  keyboardOpen = false;
  if (state) render(state);
}

function showKeyboard(tt) {
  if (keyboard === null || keyboard.lang !== state.lang) keyboard = buildKeyboard(state.lang, tt);
  // the same elements stay on screen while the citizen types: a tap is never lost to a render
  if (controls.firstElementChild !== keyboard.root || controls.childElementCount !== 1) {
    controls.replaceChildren(keyboard.root);
  }
  updateKeyboard();
}

// ------------------------------------------------------------------ the page
function render(next) {
  if (state && state.page !== next.page) {
    signStatus = "";
    keyboardOpen = false;
  }
  state = next;
  if (pending === 0) echo = null; // the daemon's state has caught up
  const t = setLang(texts, state.lang);
  const tt = t.touch;
  const page = state.page in t ? state.page : "blank";
  const layout = state.layout;
  applyBaseFont(layout, 1);
  document.body.dataset.page = page;
  document.body.classList.toggle("emergency", page === "emergency");

  // the part of the display above (or below) the reach band only informs
  const top = cssPx(layout.reach_top_px);
  const bottom = cssPx(layout.reach_bottom_px);
  controls.style.top = `${top}px`;
  controls.style.height = `${bottom - top}px`;
  info.style.height = `${Math.max(top, 0)}px`;
  info.replaceChildren(el("p", { class: "info-line", "data-testid": "touch-headline", text: t[page].headline }));
  const canWrite = WRITE_PAGES.has(page) && Boolean(state.media && state.media.active);
  if (!canWrite) keyboardOpen = false;
  document.body.classList.toggle("writing", keyboardOpen);
  if (keyboardOpen) {
    showKeyboard(tt);
    return;
  }

  if (NO_CONTROLS.has(page)) {
    controls.replaceChildren(
      el("h1", { class: "touch-message", "data-testid": "touch-message", text: t[page].headline || "" }),
      t[page].body ? el("p", { class: "touch-body", text: t[page].body }) : null,
    );
    if (!t[page].headline) controls.replaceChildren();
    return;
  }

  const langs = LANGS.map((lang) =>
    button(t.languages[lang], `lang-${lang}`, () => setPref({ lang }), {
      lang: texts[lang].meta.html_lang,
      "aria-pressed": String(state.lang === lang),
    }),
  );
  const scale = state.text_scale;
  const size = group(
    "size",
    tt.text_size,
    button(tt.smaller, "text-smaller", step("text_scale", -SCALE_STEP, 1, 2), {
      disabled: scale <= 1,
    }),
    el("output", { class: "value", "data-testid": "text-size", text: fmt(tt.size_value, { percent: Math.round(scale * 100) }) }),
    button(tt.larger, "text-larger", step("text_scale", SCALE_STEP, 1, 2), {
      disabled: scale >= 2,
    }),
  );
  const volume = state.volume;
  const sound = group(
    "volume",
    tt.volume,
    button(tt.quieter, "volume-down", step("volume", -VOLUME_STEP, 0, 1), {
      disabled: volume <= 0,
    }),
    el("output", { class: "value", "data-testid": "volume", text: fmt(tt.volume_value, { level: Math.round(volume * 10) }) }),
    button(tt.louder, "volume-up", step("volume", VOLUME_STEP, 0, 1), {
      disabled: volume >= 1,
    }),
  );
  const nodes = [el("h1", { class: "visually-hidden", text: tt.settings }), group("lang", tt.language, ...langs)];
  nodes.push(el("div", { class: "pair" }, size, sound));
  if (page === "signing") {
    const sign = group(
      "sign",
      tt.signature,
      button(tt.sign_clear, "sign-clear", () => signature("clear")),
      button(tt.sign_confirm, "sign-confirm", () => signature("confirm"), { class: "control primary" }),
    );
    sign.append(el("p", { class: "sign-status", role: "status", "data-testid": "sign-status", text: signStatus ? tt[signStatus] : "" }));
    nodes.push(sign);
  }
  if (canWrite) {
    nodes.push(
      group(
        "write",
        tt.write_heading,
        button(tt.write, "write", openKeyboard, { class: "control primary", "aria-haspopup": "true" }),
      ),
    );
  }
  controls.replaceChildren(...nodes);
}

follow("touch", render, () => {
  if (state === null) return;
  const t = setLang(texts, state.lang);
  controls.replaceChildren(el("h1", { class: "touch-message", text: t.offline.headline }));
});
