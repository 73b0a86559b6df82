// The 22" touch display: language, text size, volume; in a call with media a "Schreiben" button
// opens a large on-screen keyboard whose every key is sent at once as real-time text
// (POST /api/rtt). Single taps only; every control inside the reach band the daemon computes
// (380–1,220 mm above the floor), at least 44 × 44 CSS px.
//
// While a document is being signed (state.signing.active) the display shows only the signing:
// what to do, the ink of the pen pad beside it drawn live (GET /api/signature/ink five times a
// second), the pages to leaf through (the monitor shows the page, POST /api/signature/page),
// and three buttons: "Unterschreiben" (confirm: nothing is signed without it; it looks
// disabled, and says why, until there is ink), "Löschen und neu unterschreiben" (clear) and
// "Nicht unterschreiben" (decline, after "Wirklich nicht unterschreiben?"). The outcome
// (state.signing.last) is said on the call's page afterwards.
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

// ------------------------------------------------------------------ signing
const INK_INTERVAL_MS = 200; // the pad's ink, mirrored five times a second
const SVG_NS = "http://www.w3.org/2000/svg";
// the daemon's refusals (409) in plain words; anything else: "that did not work"
const SIGN_ERRORS = {
  "no signature on the pad yet": "sign_no_ink",
  "the signature was interrupted: please sign again": "sign_interrupted",
  "no document to sign": "sign_gone",
  "nothing to sign": "sign_gone",
  "not signing": "sign_gone",
};
// what the call's page says after a signature (state.signing.last.state)
const RESULT_TEXT = { signed: "result_signed", declined: "result_declined", voided: "result_voided" };
let sign = null; // the signing panel's elements, built once per document, language and step
let signStep = "sign"; // "sign", or "decline": the question "Wirklich nicht unterschreiben?"
let signBusy = ""; // the action waiting for the daemon's answer; "done" once it was accepted
let signNote = null; // {key, samples}: said after an action until new ink comes
let sawSigning = false; // a document was shown during this visit (the page reloads after it)
let inkTimer = null;
let inkLoading = false;
let inkShown = "";

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

/** The page with the signature place: the one the agent chose, else the last. */
function signPageOf(signing) {
  const count = signing.pages.length;
  return signing.sign_page >= 0 && signing.sign_page < count ? signing.sign_page : count - 1;
}

function shownPageOf(signing) {
  return Number.isInteger(signing.shown_page) ? signing.shown_page : signPageOf(signing);
}

function resetSigning() {
  sign = null;
  signStep = "sign";
  signBusy = "";
  signNote = null;
  stopInk();
}

async function signAction(action) {
  const signing = state && state.signing;
  if (!signing || !signing.active || signBusy) return;
  const id = signing.id;
  signBusy = action;
  signNote = null;
  updateSigning();
  const res = await post(`/api/signature/${action}`);
  let answer = {};
  if (typeof res.json === "function") answer = await res.json().catch(() => ({}));
  const now = state && state.signing;
  if (!now || !now.active || now.id !== id) return; // done with: the page moves on
  if (res.ok && action !== "clear") {
    signBusy = "done"; // signed or declined: the daemon's next state takes the page away
  } else {
    signBusy = "";
    if (res.ok) signNote = { key: "sign_cleared", samples: 0 };
    else signNote = { key: SIGN_ERRORS[answer.error] || "failed", samples: now.ink_samples };
    if (action === "decline") signStep = "sign";
  }
  render(state);
}

function leaf(delta) {
  const signing = state.signing;
  const shown = shownPageOf(signing);
  const page = clamp(shown + delta, 0, signing.pages.length - 1);
  if (page === shown) return;
  // a second tap before the daemon's answer builds on the first
  state = { ...state, signing: { ...signing, shown_page: page } };
  updateSigning();
  post("/api/signature/page", { page });
}

function askDecline(yes) {
  signStep = yes ? "decline" : "sign";
  signNote = null;
  render(state);
}

function buildDecline(tt) {
  const yes = button(tt.decline_yes, "decline-yes", () => signAction("decline"), { class: "control decline" });
  const no = button(tt.decline_no, "decline-no", () => askDecline(false), { class: "control back" });
  const status = el("p", { class: "sign-status", role: "status", "data-testid": "sign-status" });
  const root = el(
    "section",
    { class: "sign-ask", "aria-labelledby": "ask-h", "data-testid": "sign-ask" },
    el("h1", { id: "ask-h", class: "ask-question", "data-testid": "decline-question", text: tt.decline_question }),
    el("p", { class: "ask-explain", text: tt.decline_explain }),
    el("div", { class: "ask-row" }, yes, no),
    status,
  );
  return { root, status, buttons: [yes, no] };
}

function buildSigning(tt, signing, canWrite) {
  const pad = signing.pad || {};
  const width = pad.width > 0 ? pad.width : 10000;
  const height = pad.height > 0 ? pad.height : 6000;
  const ink = svg("svg", {
    class: "ink",
    role: "img",
    "aria-label": tt.sign_ink,
    viewBox: `0 0 ${width} ${height}`,
    preserveAspectRatio: "xMidYMid meet",
    "data-testid": "ink",
    "data-strokes": 0,
    "data-points": 0,
  });
  // the pad's surface, and the ink on it (pad units: the picture has the pad's proportions)
  ink.append(svg("rect", { class: "ink-sheet", x: 0, y: 0, width, height }));
  const strokes = svg("g", { class: "ink-strokes", "stroke-width": Math.round(width / 120) });
  ink.append(strokes);
  const empty = el("p", { class: "ink-empty", "data-testid": "ink-empty", text: tt.sign_ink_empty });
  const interrupted = el("p", {
    class: "ink-alert",
    "data-testid": "sign-interrupted",
    text: tt.sign_interrupted,
    hidden: true,
  });
  const frame = el("div", { class: "ink-frame" }, ink, empty);
  const confirm = button(tt.sign_confirm, "sign-confirm", () => signAction("confirm"), {
    class: "control primary sign-confirm",
    "aria-describedby": "sign-status",
  });
  const clear = button(tt.sign_clear, "sign-clear", () => signAction("clear"), { class: "control sign-clear" });
  const decline = button(tt.sign_decline, "sign-decline", () => askDecline(true), { class: "control decline" });
  const status = el("p", { id: "sign-status", class: "sign-status", role: "status", "data-testid": "sign-status" });
  const prev = button(tt.page_prev, "page-prev", () => leaf(-1));
  const next = button(tt.page_next, "page-next", () => leaf(1));
  const count = el("output", { class: "value page-count", "data-testid": "page-count" });
  const pages = el(
    "section",
    { class: "sign-pages", "aria-labelledby": "pages-h" },
    el("h2", { id: "pages-h", class: "visually-hidden", text: tt.pages }),
    prev,
    count,
    next,
  );
  // "Schreiben statt sprechen", never just "Schreiben": next to signing that would be ambiguous
  const write = canWrite
    ? button(tt.write_heading, "write", openKeyboard, { class: "control write", "aria-haspopup": "true" })
    : null;
  const root = el(
    "section",
    { class: "sign-panel", "aria-labelledby": "sign-h", "data-testid": "sign-panel" },
    el(
      "div",
      { class: "sign-top" },
      el("h1", { id: "sign-h", class: "sign-instruction", "data-testid": "sign-instruction", text: tt.sign_instruction }),
      write,
    ),
    el(
      "figure",
      { class: "sign-ink" },
      el("figcaption", { class: "visually-hidden", text: tt.sign_ink }),
      interrupted,
      frame,
    ),
    el("div", { class: "sign-actions", role: "group", "aria-label": tt.signature }, confirm, clear, decline),
    status,
    pages,
  );
  const buttons = [confirm, clear, decline, prev, next];
  return { root, ink, frame, strokes, empty, interrupted, confirm, clear, status, prev, next, count, pages, buttons };
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function showSigning(tt, signing, canWrite) {
  if (sign !== null && sign.id !== signing.id) resetSigning(); // another document
  const key = [signing.id, state.lang, signStep, canWrite].join("|");
  if (sign === null || sign.key !== key) {
    sign = signStep === "decline" ? buildDecline(tt) : buildSigning(tt, signing, canWrite);
    Object.assign(sign, { key, id: signing.id, tt });
    inkShown = "";
  }
  // the same elements stay on screen while the ink comes: a tap is never lost to a render
  if (controls.firstElementChild !== sign.root || controls.childElementCount !== 1) {
    controls.replaceChildren(sign.root);
  }
  updateSigning();
  if (sign.ink) startInk();
  else stopInk();
}

function updateSigning() {
  if (sign === null || !state || !state.signing || !state.signing.active) return;
  const s = state.signing;
  const tt = sign.tt;
  const busy = signBusy !== "";
  for (const node of sign.buttons) node.disabled = busy;
  if (!sign.ink) return; // the question "Wirklich nicht unterschreiben?"
  // nothing is signed without ink: the confirm button looks disabled and says why (a tap on it
  // asks the daemon all the same, which refuses in words)
  const ready = Boolean(s.has_ink) && !s.interrupted;
  sign.confirm.setAttribute("aria-disabled", String(!ready));
  sign.confirm.classList.toggle("not-ready", !ready);
  sign.clear.classList.toggle("attention", Boolean(s.interrupted));
  // the pad was lost: its ink is void; instead of it, what happened and what to do
  sign.interrupted.hidden = !s.interrupted;
  sign.frame.hidden = Boolean(s.interrupted);
  const note = signNote !== null && s.ink_samples <= signNote.samples ? signNote.key : null;
  let text;
  if (signBusy === "confirm" || signBusy === "done") text = tt.sign_saving;
  else if (s.interrupted) text = tt.sign_interrupted_how;
  else if (note) text = tt[note];
  else text = ready ? tt.sign_ready : tt.sign_needs_ink;
  setText(sign.status, text);
  sign.status.classList.toggle("alert", Boolean(s.interrupted) || (note !== null && note !== "sign_cleared"));
  sign.status.dataset.kind = signBusy ? "saving" : s.interrupted ? "interrupted" : note || (ready ? "ready" : "needs_ink");
  const count = s.pages.length;
  const shown = clamp(shownPageOf(s), 0, count - 1);
  setText(sign.count, fmt(tt.page_of, { page: shown + 1, pages: count }));
  sign.prev.disabled = busy || shown <= 0;
  sign.next.disabled = busy || shown >= count - 1;
  sign.pages.hidden = count <= 1;
}

function startInk() {
  if (inkTimer !== null) return;
  inkTimer = setInterval(pollInk, INK_INTERVAL_MS);
  pollInk();
}

function stopInk() {
  clearInterval(inkTimer);
  inkTimer = null;
  inkShown = "";
}

async function pollInk() {
  if (inkLoading || sign === null || !sign.ink) return;
  inkLoading = true;
  try {
    const res = await fetch("/api/signature/ink", { cache: "no-store", credentials: "omit" });
    if (res.ok && inkTimer !== null) drawInk(await res.json());
  } catch {
    // the daemon restarts: the next poll draws again
  } finally {
    inkLoading = false;
  }
}

function drawInk(ink) {
  if (sign === null || !sign.ink) return;
  const strokes = (ink.strokes || []).filter((stroke) => stroke.length);
  const text = JSON.stringify(strokes);
  if (text === inkShown) return;
  inkShown = text;
  // one path per stroke; a single point (a dot on an "i") as a round cap of length 0
  const paths = strokes.map((stroke) =>
    svg("path", { d: `M${stroke.map(([x, y]) => `${x} ${y}`).join(" L")}${stroke.length === 1 ? " l0 0" : ""}` }),
  );
  sign.strokes.replaceChildren(...paths);
  sign.ink.dataset.strokes = String(paths.length);
  sign.ink.dataset.points = String(strokes.reduce((n, stroke) => n + stroke.length, 0));
  sign.empty.hidden = paths.length > 0;
}

function resultLine(tt, last) {
  return el("p", {
    class: `sign-result sign-result-${last.state}`,
    role: "status",
    "data-testid": "sign-result",
    "data-state": last.state,
    text: tt[RESULT_TEXT[last.state] || "failed"],
  });
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
    keyboardOpen = false;
    resetSigning();
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
  const signing = state.signing || { active: false };
  const withDocument = page === "signing" && signing.active; // a document to sign is shown
  if (signing.active) sawSigning = true;
  const headline = withDocument ? fmt(tt.sign_title, { title: signing.title }) : t[page].headline;
  info.replaceChildren(el("p", { class: "info-line", "data-testid": "touch-headline", text: headline }));
  const canWrite = WRITE_PAGES.has(page) && Boolean(state.media && state.media.active);
  if (!canWrite) keyboardOpen = false;
  document.body.classList.toggle("writing", keyboardOpen);
  document.body.classList.toggle("signing", withDocument && !keyboardOpen);
  if (keyboardOpen) {
    stopInk();
    showKeyboard(tt);
    return;
  }
  if (withDocument) {
    showSigning(tt, signing, canWrite);
    return;
  }
  resetSigning();

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
  const nodes = [];
  if (page === "call" && sawSigning && signing.last) {
    // what became of the document (signed, declined, …), as long as the call goes on
    nodes.push(resultLine(tt, signing.last));
  } else if (page === "signing") {
    // signing without a document on this booth (the pad only): what to do
    nodes.push(el("p", { class: "sign-instruction", "data-testid": "sign-instruction", text: tt.sign_instruction }));
  }
  nodes.push(el("h1", { class: "visually-hidden", text: tt.settings }), group("lang", tt.language, ...langs));
  nodes.push(el("div", { class: "pair" }, size, sound));
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
  resetSigning();
  const t = setLang(texts, state.lang);
  controls.replaceChildren(el("h1", { class: "touch-message", text: t.offline.headline }));
});
