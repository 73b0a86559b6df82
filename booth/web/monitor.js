// The 43" monitor: the citizen's pages, in very large type, one thing at a time.
import { applyBaseFont, el, fmt, follow, loadTexts, setLang, waitWords } from "./common.js";

const texts = await loadTexts();
const main = document.getElementById("main");
let current = null;

function pane(kind, caption, video, testid) {
  // no fake video: a plain placeholder until the call's video arrives (a later issue)
  return el(
    "figure",
    { class: `pane pane-${kind}`, "data-testid": testid },
    el("div", { class: "pane-screen", text: video }),
    el("figcaption", { class: "pane-caption", text: caption }),
  );
}

function render(state) {
  current = state;
  const t = setLang(texts, state.lang);
  const page = state.page in t ? state.page : "blank";
  const p = t[page];
  const params = state.params || {};
  applyBaseFont(state.layout, state.text_scale);
  document.body.dataset.page = page;
  document.body.classList.toggle("emergency", page === "emergency");
  for (const media of document.querySelectorAll("video, audio")) media.volume = state.volume;

  const nodes = [];
  if (p.headline) nodes.push(el("h1", { id: "headline", "data-testid": "headline", text: p.headline }));
  const body = (text) => el("p", { class: "body", "data-testid": "body", text });

  if (page === "waiting") {
    nodes.push(body(p.body));
    const wait = waitWords(params.wait_s ?? (params.wait_minutes ?? 1) * 60, t.wait_words);
    const info = el(
      "div",
      { class: "panel", "data-testid": "waiting-panel" },
      el("p", { class: "panel-big", "data-testid": "position", text: fmt(p.position, params) }),
      el("p", { class: "panel-line", "data-testid": "wait", text: fmt(p.wait, { wait }) }),
    );
    const row = el("div", { class: "waiting-row" }, info);
    if (state.site.explainer_video) {
      row.append(
        el("video", {
          class: "explainer",
          src: state.site.explainer_video,
          autoplay: true,
          loop: true,
          playsinline: true,
          "aria-label": p.video_label,
          "data-testid": "waiting-video",
        }),
      );
    }
    nodes.push(row);
  } else if (page === "call") {
    const agent = params.agent || "";
    nodes.push(
      el(
        "div",
        { class: "panes" },
        pane("agent", agent ? fmt(p.body, { agent }) : p.agent_pane, p.video, "agent-pane"),
        pane("document", p.document_pane, p.video, "document-pane"),
      ),
    );
  } else if (page === "signing") {
    nodes.push(body(p.body));
    nodes.push(
      el("div", { class: "panes" }, pane("document", p.document_pane, t.call.video, "document-pane")),
    );
  } else if (page === "unavailable") {
    nodes.push(body(p.body));
    nodes.push(el("p", { class: "body contact", text: fmt(p.hours, params) }));
    nodes.push(el("p", { class: "body contact", text: fmt(p.phone, params) }));
  } else if (page === "out_of_service") {
    nodes.push(body(p.body));
    nodes.push(
      el("p", { class: "body contact", text: fmt(p.phone, { phone: params.phone || state.site.phone }) }),
    );
  } else if (p.body) {
    nodes.push(body(fmt(p.body, params)));
  }
  main.replaceChildren(...nodes);
  for (const media of main.querySelectorAll("video")) media.volume = state.volume;
}

follow("monitor", render, () => {
  // the daemon is gone: say so calmly instead of showing a stale page
  if (current === null) return;
  const t = setLang(texts, current.lang);
  document.body.dataset.page = "offline";
  document.body.classList.remove("emergency");
  main.replaceChildren(
    el("h1", { id: "headline", text: t.offline.headline }),
    el("p", { class: "body", text: t.offline.body }),
  );
});
