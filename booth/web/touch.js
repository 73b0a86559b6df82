// The 22" touch display: language, text size, volume, and the signature buttons while signing.
// Single taps only; every control inside the reach band the daemon computes (380–1,220 mm
// above the floor), at least 44 × 44 CSS px.
import { LANGS, applyBaseFont, cssPx, el, fmt, follow, loadTexts, post, setLang } from "./common.js";

const texts = await loadTexts();
const info = document.getElementById("info");
const controls = document.getElementById("controls");
const SCALE_STEP = 0.25;
const VOLUME_STEP = 0.1;
// pages on which the citizen has nothing to set (the booth is not in use or must be left)
const NO_CONTROLS = new Set(["blank", "starting", "emergency", "out_of_service", "maintenance"]);
let state = null;
let signStatus = "";

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
  await post("/api/prefs", change);
}

async function signature(action) {
  const res = await post(`/api/signature/${action}`);
  signStatus = res.ok ? (action === "clear" ? "sign_cleared" : "sign_confirmed") : "failed";
  if (state) render(state);
}

function render(next) {
  if (state && state.page !== next.page) signStatus = "";
  state = next;
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
    button(tt.smaller, "text-smaller", () => setPref({ text_scale: round2(clamp(scale - SCALE_STEP, 1, 2)) }), {
      disabled: scale <= 1,
    }),
    el("output", { class: "value", "data-testid": "text-size", text: fmt(tt.size_value, { percent: Math.round(scale * 100) }) }),
    button(tt.larger, "text-larger", () => setPref({ text_scale: round2(clamp(scale + SCALE_STEP, 1, 2)) }), {
      disabled: scale >= 2,
    }),
  );
  const volume = state.volume;
  const sound = group(
    "volume",
    tt.volume,
    button(tt.quieter, "volume-down", () => setPref({ volume: round2(clamp(volume - VOLUME_STEP, 0, 1)) }), {
      disabled: volume <= 0,
    }),
    el("output", { class: "value", "data-testid": "volume", text: fmt(tt.volume_value, { level: Math.round(volume * 10) }) }),
    button(tt.louder, "volume-up", () => setPref({ volume: round2(clamp(volume + VOLUME_STEP, 0, 1)) }), {
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
  controls.replaceChildren(...nodes);
}

follow("touch", render, () => {
  if (state === null) return;
  const t = setLang(texts, state.lang);
  controls.replaceChildren(el("h1", { class: "touch-message", text: t.offline.headline }));
});
