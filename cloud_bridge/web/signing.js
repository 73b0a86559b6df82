// "Unterschrift anfordern" in the call (docs/signature.md, "The flow in the call"): the agent
// picks a PDF (a template of the bridge or an uploaded file, read into this page's memory
// only), says where to sign and sends it to the booth over the call's `lisa` data channel
// (`doc.begin`, 16 kB binary chunks, `doc.end`: docs/media.md). The booth answers `doc.shown`
// when the citizen sees it, then `doc.result` (+ the signed PDF in chunks, `doc.result.end`).
// The signed PDF stays in memory (a blob: URL, revoked when the call ends); the booth hands it
// over to the document system itself.
//
// `Signing` (one per page, on the page's MediaSession) holds the state; `SigningPanel` shows it.

import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, request } from './api.js';
import { clock } from './format.js';
import { has, t } from './i18n.js';

export const CHUNK = 16 * 1024;
export const MAX_BYTES = 20 * 1024 * 1024;
const SLOW_MS = 30000; // no doc.shown this long after sending: say so, offer to drop the request
const MAX_TITLE = 120;
const BUSY = new Set(['reading', 'sending', 'sent', 'shown', 'receiving']);

/** "1,4 MB", "312 kB". */
export function sizeText(n) {
  if (!Number.isFinite(n)) return '';
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1).replace('.', ',')} MB`;
  return `${Math.max(1, Math.round(n / 1024))} kB`;
}

/** The booth's reasons (English, for the log) in plain German for the agent. */
const REASONS = [
  [/citizen declined/i, 'sign.reason.declined'],
  [/not talking \(in_call\.signing|another document/i, 'sign.reason.busy'],
  [/not talking/i, 'sign.reason.not_talking'],
  [/no signature pad/i, 'sign.reason.no_pad'],
  [/larger than|size must be/i, 'sign.reason.too_large'],
  [/has no pages/i, 'sign.reason.no_pages'],
  [/has (\d+) pages \(at most (\d+)\)/i, 'sign.reason.too_many_pages'],
  [/not a (readable )?PDF/i, 'sign.reason.not_pdf'],
  [/more data than announced|incomplete document/i, 'sign.reason.transfer'],
  [/interrupted|pad lost|unplugged/i, 'sign.reason.pad'],
  [/left signing|call ended|visit/i, 'sign.reason.left'],
  [/does not verify/i, 'sign.reason.verify'],
];

export function reasonText(reason, code) {
  const r = String(reason || '');
  if (code && has(`sign.reason.${code}`)) {
    const m = r.match(/has (\d+) pages \(at most (\d+)\)|page (\d+) does not exist \(the PDF has (\d+)/i);
    return t(`sign.reason.${code}`, { n: m ? m[1] || m[3] : '', max: m ? m[2] || m[4] : '' });
  }
  if (!r) return '';
  for (const [re, key] of REASONS) {
    const m = r.match(re);
    if (m) return t(key, { n: m[1], max: m[2] });
  }
  return t('sign.reason.other', { reason: r });
}

/** Pages of a PDF, best effort (0: cannot tell, e.g. compressed object streams). */
export function countPages(data) {
  let text;
  try {
    text = new TextDecoder('latin1').decode(data);
  } catch {
    return 0;
  }
  const m = text.match(/\/Type\s*\/Page(?![a-zA-Z])/g);
  return m ? m.length : 0;
}

function startsWithPdf(data) {
  const head = new Uint8Array(data, 0, Math.min(5, data.byteLength));
  return String.fromCharCode(...head) === '%PDF-';
}

function fileTitle(name) {
  return String(name || '').replace(/\.pdf$/i, '').replace(/[_]+/g, ' ').trim();
}

function downloadName(title) {
  const base = String(title || 'Dokument').replace(/[\\/:*?"<>|\u0000-\u001f]+/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 100) || 'Dokument';
  return `${base} (unterschrieben).pdf`;
}

let seq = 0;

export class Signing {
  /** @param {import('./media-session.js').MediaSession} session */
  constructor(session) {
    this.session = session;
    this.listeners = new Set();
    this._queued = false;
    this.call = null;
    this.templates = null; // null: not loaded; [] none
    this.templatesError = null;
    this._reset();
    session.addControlHandler((msg) => this._onControl(msg));
  }

  _reset() {
    for (const s of this.signed || []) URL.revokeObjectURL(s.url);
    clearTimeout(this._slowTimer);
    this.phase = 'idle'; // idle | reading | sending | sent | shown | receiving | done
    this.req = null; // {id, title, size, page, sent, at}
    this.result = null; // {id, state, reason, level, sha256, handover, size, got, url, filename, title, earlier}
    this.error = null; // {key, vars}
    this.slow = false;
    this.signed = []; // signed PDFs of this call: {id, title, url, filename, sha256, handover, at}
    this._in = null;
    this.form = { source: 'template', template: '', file: null, title: '', titleEdited: false, where: 'field', page: 1 };
  }

  listen(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  _changed() {
    if (this._queued) return;
    this._queued = true;
    queueMicrotask(() => {
      this._queued = false;
      for (const fn of [...this.listeners]) fn();
    });
  }

  /** The citizen's call of this page (null: none). A new call forgets everything (and
   * revokes the signed PDFs' blob: URLs). */
  forCall(call) {
    if ((call || null) === this.call) return;
    this._reset();
    this.call = call || null;
    this._changed();
  }

  busy() {
    return BUSY.has(this.phase);
  }

  setForm(patch) {
    this.form = { ...this.form, ...patch };
    this.error = null;
    this._changed();
  }

  async loadTemplates() {
    this.templatesError = null;
    try {
      const list = await request('GET', '/templates');
      this.templates = Array.isArray(list) ? list : [];
    } catch (e) {
      this.templates = [];
      this.templatesError = e && e.status !== 401 ? e.detail || e.code || 'error' : null;
    }
    if (!this.templates.length && this.form.source === 'template' && !this.form.template) this.form = { ...this.form, source: 'upload' };
    this._changed();
  }

  /** The chosen template's (or file's) title, for the title field's default. */
  defaultTitle() {
    const f = this.form;
    if (f.source === 'template') {
      const tpl = (this.templates || []).find((x) => x.name === f.template);
      return tpl ? tpl.title : '';
    }
    return f.file ? fileTitle(f.file.name) : '';
  }

  /** An uploaded file (a File from the input): read into memory, checked. */
  async pickFile(file) {
    if (!file) {
      this.setForm({ file: null });
      return;
    }
    if (file.size > MAX_BYTES) {
      this.form = { ...this.form, file: null };
      this._fail('sign.err.too_large', { size: sizeText(file.size) });
      return;
    }
    let data;
    try {
      data = await file.arrayBuffer();
    } catch {
      this._fail('sign.err.read');
      return;
    }
    if (!startsWithPdf(data)) {
      this.form = { ...this.form, file: null };
      this._fail('sign.err.not_pdf');
      return;
    }
    this.setForm({ file: { name: file.name, size: data.byteLength, data, pages: countPages(data) } });
  }

  _fail(key, vars) {
    this.error = { key, vars: vars || {} };
    this._changed();
  }

  /** Send the chosen document to the booth (only one request at a time). */
  async send() {
    if (this.busy() || !this.call) return;
    const f = this.form;
    this.error = null;
    this.result = null;
    if (f.where === 'page' && !(Number.isInteger(f.page) && f.page >= 1)) return this._fail('sign.err.page');
    let data;
    if (f.source === 'template') {
      if (!f.template) return this._fail('sign.err.need_doc');
      this.phase = 'reading';
      this._changed();
      try {
        data = await fetchTemplate(f.template);
      } catch (e) {
        this.phase = 'idle';
        return this._fail('sign.err.template', { detail: e instanceof ApiError ? e.detail || e.code : String(e) });
      }
      this.phase = 'idle';
    } else {
      if (!f.file) return this._fail('sign.err.need_doc');
      data = f.file.data;
    }
    if (data.byteLength > MAX_BYTES) return this._fail('sign.err.too_large', { size: sizeText(data.byteLength) });
    if (!startsWithPdf(data)) return this._fail('sign.err.not_pdf');
    if (f.where === 'page') {
      const pages = countPages(data);
      if (pages && f.page > pages) return this._fail('sign.err.page_range', { n: pages });
    }
    const ch = this.session.controlChannel();
    if (!ch) return this._fail('sign.err.not_connected');
    const title = (f.title.trim() || this.defaultTitle() || t('sign.untitled')).slice(0, MAX_TITLE);
    const id = `doc-${Date.now().toString(36)}-${++seq}`;
    const begin = { type: 'doc.begin', id, title, size: data.byteLength };
    // a page: the booth makes a new signature field there (booth/signing/placement.py)
    if (f.where === 'page') begin.page = f.page - 1;
    this.req = { id, title, size: data.byteLength, page: f.where === 'page' ? f.page : null, sent: 0, at: Date.now() };
    this.phase = 'sending';
    this.slow = false;
    this.withdrawing = false;
    this._changed();
    const still = () => this.req && this.req.id === id && this.phase === 'sending';
    let ok = await this.session.sendControlPaced(ch, begin);
    for (let off = 0; ok && off < data.byteLength && still(); off += CHUNK) {
      ok = await this.session.sendControlPaced(ch, data.slice(off, off + CHUNK));
      if (ok && this.req && this.req.id === id) {
        this.req = { ...this.req, sent: Math.min(data.byteLength, off + CHUNK) };
        this._changed();
      }
    }
    if (!still()) return; // answered meanwhile (refused), or the call ended
    if (ok) ok = await this.session.sendControlPaced(ch, { type: 'doc.end', id });
    if (!still()) return;
    if (!ok) {
      this.phase = 'idle';
      this.req = null;
      return this._fail('sign.err.not_connected');
    }
    this.phase = 'sent';
    clearTimeout(this._slowTimer);
    this._slowTimer = setTimeout(() => {
      if (this.req && this.req.id === id && this.phase === 'sent') {
        this.slow = true;
        this._changed();
      }
    }, SLOW_MS);
    this._changed();
  }

  /** "Anfrage zurückziehen": the booth drops the document (until the citizen confirmed); its
   * answer (withdrawn, or signed if the citizen was quicker) is shown as usual. */
  withdraw() {
    const ch = this.session.controlChannel();
    if (!ch || !this.req) return;
    try {
      ch.send(JSON.stringify({ type: 'doc.cancel', id: this.req.id }));
      this.withdrawing = true;
    } catch {
      this.withdrawing = false;
    }
    this._changed();
  }

  /** "Anfrage verwerfen": no answer came; the form again (a late result is still shown). */
  discard() {
    clearTimeout(this._slowTimer);
    this.phase = 'idle';
    this.req = null;
    this.slow = false;
    this._changed();
  }

  /** "Fertig": back to the form, a new document. */
  finish() {
    this.phase = 'idle';
    this.req = null;
    this.result = null;
    this.error = null;
    this.form = { ...this.form, template: '', file: null, title: '', titleEdited: false, where: 'field', page: 1 };
    this._changed();
  }

  /** "Erneut anfordern": back to the form with the same document and settings. */
  again() {
    this.phase = 'idle';
    this.req = null;
    this.result = null;
    this.error = null;
    this._changed();
  }

  // -------------------------------------------------------------------- from the booth
  _onControl(msg) {
    if (msg instanceof ArrayBuffer || ArrayBuffer.isView(msg)) {
      const r = this._in;
      if (!r) return;
      r.chunks.push(msg);
      r.got += msg.byteLength || 0;
      if (this.result && this.result.id === r.id) this.result = { ...this.result, got: r.got };
      this._changed();
      return;
    }
    if (!msg || typeof msg.type !== 'string' || !msg.type.startsWith('doc.')) return;
    const id = String(msg.id ?? '');
    const mine = this.req && this.req.id === id;
    switch (msg.type) {
      case 'doc.shown':
        if (mine && (this.phase === 'sending' || this.phase === 'sent')) {
          clearTimeout(this._slowTimer);
          this.phase = 'shown';
          this.slow = false;
          this._changed();
        }
        break;
      case 'doc.result': {
        // ours, or one for this page's call that the page no longer waits for (after a reload,
        // after "Anfrage verwerfen"): shown all the same
        if (!mine && this.busy()) break;
        clearTimeout(this._slowTimer);
        const size = Number(msg.size) || 0;
        this._in = { id, chunks: [], got: 0, size };
        this.result = {
          id,
          state: String(msg.state || 'failed'),
          reason: String(msg.reason || ''),
          code: String(msg.code || ''),
          level: String(msg.level || ''),
          sha256: String(msg.document_sha256 || ''),
          handover: msg.handover ? String(msg.handover) : null,
          handoverState: msg.handover ? 'queued' : null,
          size,
          got: 0,
          url: null,
          filename: null,
          title: mine ? this.req.title : null,
          earlier: !mine,
          incomplete: false,
        };
        this.phase = 'receiving';
        // refusals of the booth's media endpoint carry no size and no doc.result.end
        if (!size) this._finishResult();
        else this._changed();
        break;
      }
      case 'doc.handover': {
        // the booth's outbox: delivered to the document system, or retrying (nothing is lost)
        const state = msg.state === 'delivered' ? 'delivered' : 'retrying';
        if (this.result && this.result.id === id) this.result = { ...this.result, handoverState: state };
        this.signed = this.signed.map((d) => (d.id === id ? { ...d, handoverState: state } : d));
        this._changed();
        break;
      }
      case 'doc.result.end':
        if (this._in && this._in.id === id) this._finishResult();
        break;
      default:
        break;
    }
  }

  _finishResult() {
    const r = this._in;
    this._in = null;
    const res = { ...this.result };
    if (res.state === 'signed' && r && r.size) {
      if (r.got === r.size) {
        const blob = new Blob(r.chunks, { type: 'application/pdf' });
        res.url = URL.createObjectURL(blob);
        res.filename = downloadName(res.title || t('sign.untitled'));
        this.signed = [{ id: res.id, title: res.title || t('sign.untitled'), url: res.url, filename: res.filename, sha256: res.sha256, handover: res.handover, handoverState: res.handoverState, at: Date.now() / 1000 }, ...this.signed];
      } else res.incomplete = true;
    }
    this.result = res;
    this.phase = 'done';
    this.withdrawing = false;
    this._changed();
  }

  /** For the browser tests (window.lisaMedia.signing()). */
  testApi() {
    return {
      phase: this.phase,
      request: this.req && { id: this.req.id, title: this.req.title, size: this.req.size, page: this.req.page },
      result: this.result && { ...this.result },
      signed: this.signed.map((s) => ({ id: s.id, title: s.title, url: s.url, filename: s.filename })),
    };
  }
}

async function fetchTemplate(name) {
  let resp;
  try {
    resp = await fetch(`/api/v1/templates/${encodeURIComponent(name)}`, { credentials: 'same-origin', cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, 'network', String(e && e.message ? e.message : e));
  }
  if (!resp.ok) {
    let detail = '';
    try {
      detail = (await resp.json()).detail || '';
    } catch {
      /* not JSON */
    }
    throw new ApiError(resp.status, `http_${resp.status}`, detail || `HTTP ${resp.status}`);
  }
  return resp.arrayBuffer();
}

// ------------------------------------------------------------------------------ the panel
function useSigning(signing) {
  const [, set] = useState(0);
  useEffect(() => signing.listen(() => set((v) => v + 1)), [signing]);
}

function Form({ signing, connected, elsewhere }) {
  const f = signing.form;
  const templates = signing.templates || [];
  const busy = signing.busy();
  const fileRef = useRef(null);
  const titleValue = f.titleEdited ? f.title : signing.defaultTitle();
  const err = signing.error;
  const submit = (e) => {
    e.preventDefault();
    signing.send();
  };
  return html`<form class="sign-form" onSubmit=${submit} data-testid="sign-form" aria-describedby="sign-intro">
    <fieldset>
      <legend>${t('sign.doc')}</legend>
      <div class="sign-choice">
        <div class="field-inline">
          <input type="radio" id="sign-src-template" name="sign-src" data-testid="sign-source-template" checked=${f.source === 'template'}
            disabled=${!templates.length} onChange=${() => signing.setForm({ source: 'template' })} />
          <label for="sign-src-template">${t('sign.source.template')}</label>
        </div>
        <div class="sign-sub">
          ${templates.length
            ? html`<label for="sign-template" class="sr-only">${t('sign.template')}</label>
                <select id="sign-template" data-testid="sign-template" value=${f.template} disabled=${f.source !== 'template'}
                  onChange=${(e) => signing.setForm({ template: e.currentTarget.value, source: 'template' })}>
                  <option value="">${t('sign.template_pick')}</option>
                  ${templates.map((x) => html`<option value=${x.name}>${t('sign.template_option', { title: x.title, size: sizeText(x.size) })}</option>`)}
                </select>`
            : html`<p class="muted small" data-testid="sign-templates-none">${signing.templates === null ? t('sign.templates_loading') : t('sign.templates_none')}</p>`}
        </div>
      </div>
      <div class="sign-choice">
        <div class="field-inline">
          <input type="radio" id="sign-src-upload" name="sign-src" data-testid="sign-source-upload" checked=${f.source === 'upload'}
            onChange=${() => signing.setForm({ source: 'upload' })} />
          <label for="sign-src-upload">${t('sign.source.upload')}</label>
        </div>
        <div class="sign-sub">
          <label for="sign-file" class="sr-only">${t('sign.file')}</label>
          <input type="file" id="sign-file" accept="application/pdf,.pdf" data-testid="sign-file" ref=${fileRef} aria-describedby="sign-file-hint"
            onChange=${(e) => {
              signing.setForm({ source: 'upload' });
              signing.pickFile(e.currentTarget.files && e.currentTarget.files[0]);
            }} />
          ${f.file ? html`<p class="small" data-testid="sign-file-chosen">${t('sign.file_chosen', { name: f.file.name, size: sizeText(f.file.size) })}</p>` : null}
          <p class="hint" id="sign-file-hint">${t('sign.file_hint')}</p>
        </div>
      </div>
    </fieldset>
    <fieldset>
      <legend>${t('sign.where')}</legend>
      <div class="field-inline">
        <input type="radio" id="sign-where-field" name="sign-where" data-testid="sign-where-field" checked=${f.where === 'field'}
          aria-describedby="sign-where-field-hint" onChange=${() => signing.setForm({ where: 'field' })} />
        <label for="sign-where-field">${t('sign.where.field')}</label>
      </div>
      <p class="hint sign-sub" id="sign-where-field-hint">${t('sign.where.field_hint')}</p>
      <div class="field-inline">
        <input type="radio" id="sign-where-page" name="sign-where" data-testid="sign-where-page" checked=${f.where === 'page'}
          aria-label=${t('sign.where.page', { n: f.page || 'N' })} onChange=${() => signing.setForm({ where: 'page' })} />
        <label for="sign-where-page">${t('sign.where.page_before')}</label>
        <input type="number" class="sign-page" id="sign-page" data-testid="sign-page" min="1" max="999" step="1" inputmode="numeric"
          aria-label=${t('sign.where.page_label')} value=${f.page || ''}
          onInput=${(e) => signing.setForm({ where: 'page', page: Math.floor(Number(e.currentTarget.value)) || 0 })} />
        <span aria-hidden="true">${t('sign.where.page_after')}</span>
      </div>
    </fieldset>
    <div class="field">
      <label for="sign-title">${t('sign.doc_title')}</label>
      <input id="sign-title" data-testid="sign-title" maxlength=${MAX_TITLE} value=${titleValue} autocomplete="off"
        onInput=${(e) => signing.setForm({ title: e.currentTarget.value, titleEdited: true })} />
    </div>
    ${err ? html`<p class="msg msg-error" role="alert" data-testid="sign-error">${t(err.key, err.vars)}</p>` : null}
    ${!connected ? html`<p class="msg msg-warn" data-testid="sign-need-media">${elsewhere ? t('sign.elsewhere') : t('sign.need_media')}</p>` : null}
    <div class="row">
      <button type="submit" class="btn-primary" data-testid="sign-send" disabled=${busy || !connected}>${signing.phase === 'reading' ? t('sign.reading') : t('sign.send')}</button>
    </div>
  </form>`;
}

function Progress({ signing }) {
  const r = signing.req;
  const pct = r && r.size ? Math.round((r.sent / r.size) * 100) : 0;
  if (signing.phase === 'sending') {
    return html`<div class="sign-state" data-testid="sign-state" data-phase="sending">
      <p class="strong">${t('sign.sending', { title: r.title })}</p>
      <progress max="100" value=${pct} aria-label=${t('sign.sending_label')} data-testid="sign-progress">${pct} %</progress>
      <span class="muted small">${pct} % · ${sizeText(r.sent)} / ${sizeText(r.size)}</span>
    </div>`;
  }
  if (signing.phase === 'sent') {
    return html`<div class="sign-state" data-testid="sign-state" data-phase="sent">
      <p class="strong">${t('sign.sent', { title: r.title })}</p>
      ${signing.slow
        ? html`<p class="msg msg-warn" data-testid="sign-slow">${t('sign.slow')}</p>
            <button type="button" data-testid="sign-discard" onClick=${() => signing.discard()}>${t('sign.discard')}</button>`
        : html`<${Withdraw} signing=${signing} />`}
    </div>`;
  }
  if (signing.phase === 'shown') {
    return html`<div class="sign-state sign-shown" data-testid="sign-state" data-phase="shown">
      <p class="strong" data-testid="sign-shown">${t('sign.shown')}</p>
      <p>${t('sign.shown_hint', { title: r.title })}</p>
      <${Withdraw} signing=${signing} />
    </div>`;
  }
  if (signing.phase === 'receiving') {
    const res = signing.result;
    const p = res && res.size ? Math.round((res.got / res.size) * 100) : 0;
    return html`<div class="sign-state" data-testid="sign-state" data-phase="receiving">
      <p class="strong">${t('sign.receiving')}</p>
      <progress max="100" value=${p} aria-label=${t('sign.receiving')}>${p} %</progress>
    </div>`;
  }
  return null;
}

function Withdraw({ signing }) {
  return html`<p class="row">
    <button type="button" data-testid="sign-withdraw" disabled=${signing.withdrawing} onClick=${() => signing.withdraw()}>
      ${signing.withdrawing ? t('sign.withdrawing') : t('sign.withdraw')}
    </button>
  </p>`;
}

export function handoverText(res) {
  if (!res.handover) return t('sign.no_handover');
  return t(`sign.handover.${res.handoverState || 'queued'}`, { id: res.handover });
}

function Result({ signing }) {
  const res = signing.result;
  const title = res.title || t('sign.untitled');
  let body;
  if (res.state === 'signed') {
    body = html`<div class="sign-result sign-ok" data-testid="sign-result" data-state="signed">
      <h3 tabindex="-1" class="sign-result-h" data-testid="sign-result-title">${t('sign.signed', { level: res.level || '?' })}</h3>
      <p>${t('sign.signed_doc', { title })}</p>
      <dl class="facts sign-facts">
        <div><dt>${t('sign.hash')}</dt><dd><code class="hash" data-testid="sign-hash">${res.sha256 || '–'}</code></dd></div>
        <div><dt>${t('sign.handover_label')}</dt><dd data-testid="sign-handover" data-state=${res.handoverState || 'none'}>${handoverText(res)}</dd></div>
      </dl>
      ${res.url
        ? html`<p class="row wrap">
            <a class="button-link btn-primary" href=${res.url} target="_blank" rel="noopener" data-testid="sign-open">${t('sign.open')}</a>
            <a class="button-link" href=${res.url} download=${res.filename} data-testid="sign-download">${t('sign.download', { size: sizeText(res.size) })}</a>
          </p>
          <p class="hint">${t('sign.blob_note')}</p>`
        : html`<p class="msg msg-warn" data-testid="sign-incomplete">${t('sign.err.incomplete')}</p>`}
    </div>`;
  } else {
    const reason = res.state === 'declined' || res.state === 'withdrawn' ? '' : reasonText(res.reason, res.code);
    body = html`<div class=${`sign-result sign-${res.state === 'declined' ? 'declined' : 'bad'}`} data-testid="sign-result" data-state=${res.state}>
      <h3 tabindex="-1" class="sign-result-h" data-testid="sign-result-title">${stateTitle(res.state)}</h3>
      <p>${t('sign.not_signed', { title })}</p>
      ${reason ? html`<p data-testid="sign-reason">${reason}</p>` : null}
    </div>`;
  }
  return html`<div>
    ${res.earlier ? html`<p class="muted small">${t('sign.earlier')}</p>` : null}
    ${body}
    <div class="row">
      <button type="button" class="btn-primary" data-testid="sign-done" onClick=${() => signing.finish()}>${t('sign.done')}</button>
      <button type="button" data-testid="sign-again" onClick=${() => signing.again()}>${t('sign.again')}</button>
    </div>
  </div>`;
}

function SignedList({ signing }) {
  const list = signing.signed.filter((s) => !signing.result || s.id !== signing.result.id);
  if (!list.length) return null;
  return html`<div class="sign-list">
    <h3 id="sign-list-h">${t('sign.signed_list')}</h3>
    <ul class="plain" aria-labelledby="sign-list-h" data-testid="sign-list">
      ${list.map(
        (s) => html`<li key=${s.id}><span class="time">${clock(s.at)}</span> ${s.title}
          <a href=${s.url} download=${s.filename} data-testid=${`sign-list-${s.id}`}>${t('sign.download_short')}</a></li>`,
      )}
    </ul>
  </div>`;
}

/** The card "Unterschrift anfordern" of the agent's call. Props: signing, connected (the
 * `lisa` channel is open now), elsewhere (the media runs in another window of the agent). */
export function SigningPanel({ signing, connected, elsewhere = false }) {
  useSigning(signing);
  const phase = signing.phase;
  const headRef = useRef(null);
  const last = useRef(phase);
  useEffect(() => {
    if (signing.templates === null) signing.loadTemplates();
  }, []);
  useEffect(() => {
    // keyboard and screen reader: after sending the focus goes to the state, after the result
    // to its heading, after "Fertig" / "Erneut anfordern" back to the form
    const before = last.current;
    last.current = phase;
    if (before === phase) return;
    const root = headRef.current && headRef.current.closest('section');
    if (!root) return;
    let target = null;
    if (phase === 'done') target = root.querySelector('.sign-result-h');
    else if (phase === 'sending' || phase === 'shown') target = headRef.current;
    else if (phase === 'idle' && before === 'done') target = root.querySelector('#sign-src-template:not([disabled]), #sign-src-upload');
    const active = document.activeElement;
    // only when the focus was in this card (or lost with a button that went away): typing in
    // the real-time text is never interrupted
    if (target && (!active || active === document.body || root.contains(active))) target.focus();
  }, [phase]);
  const showForm = phase === 'idle' || phase === 'reading';
  return html`<section class="card signing" aria-labelledby="sign-h" data-testid="sign-panel">
    <h2 id="sign-h" tabindex="-1" ref=${headRef}>${t('sign.title')}</h2>
    <p class="hint" id="sign-intro">${t('sign.intro')}</p>
    <div class="sr-only" role="status" aria-live="polite" data-testid="sign-announce">${announceText(signing)}</div>
    ${showForm ? html`<${Form} signing=${signing} connected=${connected} elsewhere=${elsewhere} />` : null}
    <${Progress} signing=${signing} />
    ${phase === 'done' && signing.result ? html`<${Result} signing=${signing} />` : null}
    <${SignedList} signing=${signing} />
  </section>`;
}

function announceText(signing) {
  switch (signing.phase) {
    case 'sending':
      return t('sign.sending', { title: signing.req.title });
    case 'sent':
      return signing.slow ? t('sign.slow') : t('sign.sent', { title: signing.req.title });
    case 'shown':
      return t('sign.shown');
    case 'receiving':
      return t('sign.receiving');
    case 'done': {
      const r = signing.result;
      if (!r) return '';
      if (r.state === 'signed') return t('sign.signed', { level: r.level || '?' });
      return `${stateTitle(r.state)} ${r.state === 'declined' || r.state === 'withdrawn' ? '' : reasonText(r.reason, r.code)}`;
    }
    default:
      return '';
  }
}

function stateTitle(state) {
  return has(`sign.state.${state}`) ? t(`sign.state.${state}`) : t('sign.state.failed');
}
