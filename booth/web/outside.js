// The outside view-board: frei / besetzt / außer Betrieb, readable across the bank branch;
// the partners one can reach inside; the explainer video (muted: it plays in a public room).
import { applyBaseFont, el, follow, loadTexts, setLang } from "./common.js";

const texts = await loadTexts();
const main = document.getElementById("main");

function render(state) {
  // the outside board is for everyone in the branch: always German, never the visit's language
  const t = setLang(texts, "de").outside;
  applyBaseFont(state.layout, 1);
  document.body.dataset.sign = state.sign;
  const nodes = [
    el("h1", { class: "outside-title", text: t.title }),
    el("p", { class: `status status-${state.sign}`, role: "status", "data-testid": "sign", text: t[state.sign] }),
  ];
  const partners = state.site.partners || [];
  if (partners.length) {
    nodes.push(
      el(
        "section",
        { class: "partners", "aria-labelledby": "partners-h" },
        el("h2", { id: "partners-h", text: t.partners }),
        el("ul", { "data-testid": "partners" }, ...partners.map((name) => el("li", { text: name }))),
      ),
    );
  }
  if (state.site.explainer_video) {
    nodes.push(
      el("video", {
        class: "explainer",
        src: state.site.explainer_video,
        autoplay: true,
        loop: true,
        muted: true,
        playsinline: true,
        "aria-label": t.video_label,
        "data-testid": "outside-video",
      }),
    );
  }
  // keep a playing video element rather than restart it on every change
  const old = main.querySelector("video");
  if (old && state.site.explainer_video) nodes[nodes.length - 1] = old;
  main.replaceChildren(...nodes);
}

follow("outside", render);
