// The 43" monitor: the citizen's pages, in very large type, one thing at a time.
//
// In a call with live media (state.media, docs/media.md "The booth screens"): the agent's video
// as large as the screen allows (an <img> on the screen server's MJPEG stream), an interpreter or
// a second clerk beside it and never smaller, a shared screen large in the document pane, and
// the real-time text at the bottom: what the others type, each character as it comes, and what
// the citizen types on the touch display, in two colours with a label each.
//
// A document to sign (state.signing.active): its title ("Bitte lesen Sie: …"), one page as
// large as the screen allows (the page with the signature place first; the citizen leafs on the
// touch display, state.signing.shown_page), which page of how many and where to sign, and the
// people of the call small beside it.
import { applyBaseFont, el, fmt, follow, loadTexts, setLang, waitWords } from "./common.js";
import { LINE_SEPARATOR } from "./t140.js";

const texts = await loadTexts();
const main = document.getElementById("main");
let current = null;

// pages of a call on which the media is shown (the booth is in_call.talking / in_call.signing)
const MEDIA_PAGES = new Set(["call", "signing"]);
// who is shown first (left, or on top)
const ROLE_ORDER = { agent: 0, clerk: 1, interpreter: 2 };

// ------------------------------------------------------------------ received video
// One <img> per stream, kept from one render to the next (a render per typed character must
// not restart the MJPEG request). A stream that is not shown is dropped at once (its request
// ends); when it is shown again (the peer is connected again, the camera is back on) a fresh
// <img> with a new URL opens a new request.
const streams = new Map(); // url -> {img, used}
let streamSerial = 0;
let retryTimer = null;

function streamImg(url, alt, testid) {
  let entry = streams.get(url);
  if (entry === undefined) {
    streamSerial += 1;
    const img = el("img", {
      class: "pane-video",
      src: `${url}?n=${streamSerial}`,
      alt,
      "data-testid": testid,
      "data-stream": url,
    });
    entry = { img, used: false };
    const broken = entry;
    img.addEventListener("error", () => {
      // the stream broke off (the daemon restarted it, a network hiccup on 127.0.0.1): open it
      // again, calmly, as long as it is still to be shown
      if (streams.get(url) !== broken) return;
      dropStream(url);
      clearTimeout(retryTimer);
      retryTimer = setTimeout(() => current && render(current), 1000);
    });
    streams.set(url, entry);
  }
  entry.used = true;
  if (entry.img.alt !== alt) entry.img.alt = alt;
  return entry.img;
}

function dropStream(url) {
  const entry = streams.get(url);
  if (entry === undefined) return;
  streams.delete(url);
  entry.img.removeAttribute("src"); // ends the request
  entry.img.remove();
}

function beginStreams() {
  for (const entry of streams.values()) entry.used = false;
}

function endStreams() {
  for (const [url, entry] of [...streams]) if (!entry.used) dropStream(url);
}

// ------------------------------------------------------------------ the document to sign
// The rendered pages (JPEG, /signing/page/<n>.jpg), one <img> per page kept while the document
// is shown (leafing back shows it at once; a render per ink batch reloads nothing); all of them
// dropped when it is no longer shown.
const docPages = new Map(); // page index -> <img>
let docId = null;

function dropDocument() {
  for (const img of docPages.values()) img.removeAttribute("src");
  docPages.clear();
  docId = null;
}

function docImg(signing, index, alt) {
  if (docId !== signing.id) {
    dropDocument();
    docId = signing.id;
  }
  let img = docPages.get(index);
  if (img === undefined) {
    img = el("img", {
      class: "doc-page",
      src: `${signing.pages[index]}?doc=${encodeURIComponent(signing.id)}`,
      alt,
      "data-testid": "doc-page",
      "data-page": index,
    });
    const mine = img;
    img.addEventListener("error", () => {
      // not there (yet): ask again, calmly, while it is still to be shown
      if (docPages.get(index) !== mine) return;
      docPages.delete(index);
      clearTimeout(retryTimer);
      retryTimer = setTimeout(() => current && render(current), 1000);
    });
    img.addEventListener("load", () => fitPage(mine));
    docPages.set(index, img);
  }
  if (img.alt !== alt) img.alt = alt;
  return img;
}

/** The page's pane takes the page's proportions (a landscape page is wider). */
function fitPage(img) {
  const pane = img.closest(".doc-pane");
  if (pane && img.naturalWidth > 0 && img.naturalHeight > 0) {
    pane.style.setProperty("--page-ratio", String(img.naturalWidth / img.naturalHeight));
  }
}

function signPageOf(signing) {
  const count = signing.pages.length;
  return signing.sign_page >= 0 && signing.sign_page < count ? signing.sign_page : count - 1;
}

/** The page the citizen reads, large; beside it which page it is, where to sign, how to leaf,
 * and the people of the call (small, of equal size). */
function documentStage(signing, people, p, tm, service) {
  const count = signing.pages.length;
  const signPage = signPageOf(signing);
  const shown = Math.min(Math.max(Number.isInteger(signing.shown_page) ? signing.shown_page : signPage, 0), count - 1);
  const numbers = { page: shown + 1, pages: count, title: signing.title };
  const here = shown === signPage;
  const sheet = el(
    "figure",
    {
      class: `pane pane-document doc-pane${here ? " doc-sign-page" : ""}`,
      "data-testid": "document-pane",
      "data-page": shown,
    },
    el("div", { class: "doc-sheet" }, docImg(signing, shown, fmt(p.page_alt, numbers))),
  );
  fitPage(sheet.querySelector("img"));
  const side = el(
    "div",
    { class: "doc-side", "data-testid": "doc-side" },
    el("p", { class: "doc-count", "data-testid": "page-count", text: fmt(p.page_of, numbers) }),
    el("p", {
      class: `doc-where${here ? " here" : ""}`,
      "data-testid": "sign-where",
      text: here ? p.sign_here : fmt(p.sign_on_page, { page: signPage + 1 }),
    }),
    count > 1 ? el("p", { class: "doc-how", text: p.leaf }) : null,
    el("p", { class: "doc-how", text: p.then }),
  );
  if (people.length) {
    side.append(el("div", { class: `people doc-people people-${people.length}` }, ...people.map((peer) => personPane(peer, tm, service))));
  }
  return el("div", { class: "doc-stage", "data-testid": "stage" }, sheet, side);
}

// ------------------------------------------------------------------ panes
function pane(kind, caption, video, testid) {
  // no media: a plain placeholder (the call's video comes with the media, state.media)
  return el(
    "figure",
    { class: `pane pane-${kind}`, "data-testid": testid },
    el("div", { class: "pane-screen", text: video }),
    el("figcaption", { class: "pane-caption", text: caption }),
  );
}

function roleText(table, role) {
  return table[role] ?? table.agent;
}

function personPane(peer, tm, service) {
  const role = roleText(tm.roles, peer.role);
  // the agent's office too (after a transfer the citizen sees where the call went)
  const withService = peer.role === "agent" && service && peer.name;
  const caption = withService
    ? fmt(tm.caption_service, { role, name: peer.name, service })
    : peer.name
      ? fmt(tm.caption, { role, name: peer.name })
      : role;
  const muted = peer.muted || {};
  let screen;
  if (peer.state === "connected" && !muted.video) {
    screen = el("div", { class: "pane-screen live" }, streamImg(peer.video, caption, `video-${peer.role}`));
  } else {
    // connecting, recovering, or the camera is off: a calm dark pane that says so
    const line = peer.state === "connected" ? roleText(tm.camera_off, peer.role) : tm.connecting;
    screen = el(
      "div",
      { class: "pane-screen waiting", "data-testid": "video-placeholder" },
      el("p", { class: "placeholder-role", text: role }),
      el("p", { class: "placeholder-line", text: line }),
    );
  }
  return el(
    "figure",
    {
      class: `pane pane-person pane-${peer.role}`,
      "data-testid": `${peer.role}-pane`,
      "data-peer": peer.id,
      "data-state": peer.state,
    },
    screen,
    muted.audio ? el("p", { class: "pane-note", "data-testid": "mic-off", text: roleText(tm.mic_off, peer.role) }) : null,
    el("figcaption", { class: "pane-caption", text: caption }),
  );
}

function sharePane(url, tm) {
  return el(
    "figure",
    { class: "pane pane-document pane-share", "data-testid": "share-pane" },
    el("div", { class: "pane-screen live" }, streamImg(url, tm.share, "share-video")),
    el("figcaption", { class: "pane-caption", text: tm.share }),
  );
}

function byRole(a, b) {
  return (ROLE_ORDER[a.role] ?? 9) - (ROLE_ORDER[b.role] ?? 9);
}

/** The people side by side, all of the same size; a document (a shared screen, the document
 * to sign) large on the left of them, the people then one above the other. */
function stage(people, doc, tm, service = "") {
  const panes = people.map((peer) => personPane(peer, tm, service));
  const count = panes.length;
  if (doc) {
    return el(
      "div",
      { class: "panes stage with-share", "data-testid": "stage" },
      doc,
      count ? el("div", { class: `people people-${count}` }, ...panes) : null,
    );
  }
  return el("div", { class: `panes stage people people-${count}`, "data-testid": "stage" }, ...panes);
}

// ------------------------------------------------------------------ real-time text
const showText = (text) => String(text || "").replaceAll(LINE_SEPARATOR, "\n");

function rttBox(kind, label, text, testid) {
  // the window shows the last lines: new text pushes old lines out at the top, the line being
  // written is always in view
  return el(
    "section",
    { class: `rtt rtt-${kind}`, "data-testid": testid },
    el("h2", { class: "rtt-label", text: label }),
    el("div", { class: "rtt-window" }, el("p", { class: "rtt-text", "data-testid": `${testid}-text`, text: showText(text) })),
  );
}

// the text takes at most this share of the screen's height: the people stay in sight
const RTT_SHARE = 0.5;

function rttArea(rtt, peers, tm, rem, scale) {
  const shown = new Set(peers.map((p) => p.id));
  const boxes = [];
  for (const item of (rtt && rtt.received) || []) {
    if (!shown.has(item.peer) || !item.text) continue;
    boxes.push(rttBox("received", roleText(tm.writes, item.role), item.text, `rtt-received-${item.role}`));
  }
  if (rtt && rtt.sent) boxes.push(rttBox("sent", tm.you_write, rtt.sent, "rtt-sent"));
  if (!boxes.length) return null;
  // the text: 2.2 × the normal size, and at least 1.4 × the size the citizen chose
  const font = Math.max(2.2 * (rem / scale), 1.4 * rem);
  const line = 1.25 * font;
  // as many whole lines as fit (a box's label, padding and border: about 2.3rem), each box at
  // least one; more for what the others write first, then for what the citizen writes; at
  // most 3 in a single box, 2 in each of several
  const most = boxes.length === 1 ? 3 : 2;
  const room = window.innerHeight * RTT_SHARE - (boxes.length - 1) * 0.4 * rem - boxes.length * 2.3 * rem;
  let spare = Math.floor(room / line) - boxes.length;
  const lines = boxes.map(() => 1);
  for (let round = 1; round < most && spare > 0; round += 1) {
    for (let i = 0; i < boxes.length && spare > 0; i += 1) {
      lines[i] += 1;
      spare -= 1;
    }
  }
  boxes.forEach((node, i) => {
    node.dataset.lines = String(lines[i]);
    node.style.setProperty("--rtt-lines", String(lines[i])); // the CSSOM: no inline style attribute
  });
  const area = el("div", { class: "rtt-area", "data-testid": "rtt" }, ...boxes);
  area.style.setProperty("--rtt-font", `${font}px`);
  return area;
}

// ------------------------------------------------------------------ pages
function render(state) {
  current = state;
  const t = setLang(texts, state.lang);
  const page = state.page in t ? state.page : "blank";
  const p = t[page];
  const params = state.params || {};
  const media = state.media || { active: false };
  const signing = state.signing || { active: false };
  const rem = applyBaseFont(state.layout, state.text_scale);
  // the root size before the citizen's text size (style.css: texts beside the document)
  document.documentElement.style.setProperty("--base", `${rem / (state.text_scale || 1)}px`);
  document.body.dataset.page = page;
  document.body.classList.toggle("emergency", page === "emergency");
  const live = Boolean(media.active) && MEDIA_PAGES.has(page);
  const reading = page === "signing" && Boolean(signing.active) && signing.pages.length > 0;
  document.body.classList.toggle("media", live);
  document.body.classList.toggle("reading", reading);
  beginStreams();

  const nodes = [];
  if (reading) {
    nodes.push(el("h1", { id: "headline", "data-testid": "headline", text: fmt(p.read_title, { title: signing.title }) }));
  } else if (p.headline) {
    // in a call with its picture the people say who is there: the page's headline only for
    // screen readers, the space for the picture and the text
    const quiet = live && page === "call";
    nodes.push(
      el("h1", { id: "headline", "data-testid": "headline", class: quiet ? "visually-hidden" : null, text: p.headline }),
    );
  }
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
  } else if (reading) {
    // the document to sign: a page large, the people small beside it, the text below
    const people = live ? [...(media.peers || [])].sort(byRole) : [];
    nodes.push(documentStage(signing, people, p, t.media, params.agent || ""));
    const rtt = live ? rttArea(media.rtt, people, t.media, rem, state.text_scale || 1) : null;
    if (rtt) nodes.push(rtt);
  } else if (live) {
    // the call with its media: the people, a shared screen, the real-time text
    const people = [...(media.peers || [])].sort(byRole);
    let doc = media.share ? sharePane(media.share, t.media) : null;
    if (page === "signing") {
      nodes.push(body(p.body));
      doc = doc || pane("document", p.document_pane, t.call.video, "document-pane");
    }
    nodes.push(stage(people, doc, t.media, params.agent || ""));
    const rtt = rttArea(media.rtt, people, t.media, rem, state.text_scale || 1);
    if (rtt) nodes.push(rtt);
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
  } else if (page === "transferring") {
    // "Bitte einen Moment": the agent's media is stopped while the call is passed on; an
    // interpreter who stays in the call stays in view (a deaf citizen is not left alone)
    nodes.push(body(p.body));
    const staying = (media.active ? media.peers || [] : []).filter((peer) => peer.role === "interpreter");
    if (staying.length) nodes.push(stage(staying, null, t.media));
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
  endStreams();
  if (!reading) dropDocument();
  for (const video of main.querySelectorAll("video")) video.volume = state.volume;
}

follow("monitor", render, () => {
  // the daemon is gone: say so calmly instead of showing a stale page
  if (current === null) return;
  const t = setLang(texts, current.lang);
  document.body.dataset.page = "offline";
  document.body.classList.remove("emergency", "media", "reading");
  beginStreams();
  endStreams();
  dropDocument();
  main.replaceChildren(
    el("h1", { id: "headline", text: t.offline.headline }),
    el("p", { class: "body", text: t.offline.body }),
  );
});
