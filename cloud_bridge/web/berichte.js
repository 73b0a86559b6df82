// #/berichte: a date range, the report (GET /api/v1/reports?format=json) as tables and an SVG
// bar chart built here, and the CSV download link of the same range.

import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { api } from './api.js';
import { Message, PageTitle } from './components.js';
import { dur, errorText, isoDate, num, pct } from './format.js';
import { t } from './i18n.js';
import { boothName, queueName } from './store.js';

const COLUMNS = ['offered', 'answered', 'abandoned', 'service_level', 'asa_s', 'aht_s', 'max_wait_s', 'transfers'];

function cell(key, v) {
  if (key === 'service_level') return pct(v);
  if (key.endsWith('_s')) return dur(v);
  return num(v);
}

function Table({ rows, first, testid }) {
  return html`<div class="table-wrap"><table data-testid=${testid}>
    <thead><tr><th scope="col">${first}</th>${COLUMNS.map((c) => html`<th scope="col" class="num">${t(`rep.${c}`)}</th>`)}</tr></thead>
    <tbody>
      ${rows.map(
        ([key, m]) => html`<tr key=${key}><th scope="row">${key}</th>${COLUMNS.map((c) => html`<td class="num">${cell(c, m[c])}</td>`)}</tr>`,
      )}
    </tbody>
  </table></div>`;
}

/** Grouped bars (offered, answered) per day, drawn as SVG. */
export function BarChart({ days }) {
  const W = 760;
  const H = 260;
  const pad = { l: 44, r: 12, t: 16, b: 46 };
  const max = Math.max(1, ...days.map(([, m]) => Math.max(m.offered || 0, m.answered || 0)));
  const step = (W - pad.l - pad.r) / Math.max(1, days.length);
  const bw = Math.max(4, Math.min(28, step / 2 - 4));
  const y = (v) => pad.t + (H - pad.t - pad.b) * (1 - v / max);
  const ticks = [0, Math.round(max / 2), max];
  const labelEvery = Math.ceil(days.length / 12);
  return html`<figure class="chart">
    <svg viewBox=${`0 0 ${W} ${H}`} role="img" aria-label=${t('rep.chart_label')} data-testid="report-chart">
      ${ticks.map((v) => html`<g key=${`t${v}`}>
        <line x1=${pad.l} x2=${W - pad.r} y1=${y(v)} y2=${y(v)} class="grid" />
        <text x=${pad.l - 6} y=${y(v) + 5} text-anchor="end" class="axis">${v}</text>
      </g>`)}
      ${days.map(([day, m], i) => {
        const x0 = pad.l + i * step + step / 2 - bw - 1;
        return html`<g key=${day}>
          <rect x=${x0} y=${y(m.offered || 0)} width=${bw} height=${Math.max(0, H - pad.b - y(m.offered || 0))} class="bar-offered"><title>${day}: ${t('rep.offered')} ${m.offered || 0}</title></rect>
          <rect x=${x0 + bw + 2} y=${y(m.answered || 0)} width=${bw} height=${Math.max(0, H - pad.b - y(m.answered || 0))} class="bar-answered"><title>${day}: ${t('rep.answered')} ${m.answered || 0}</title></rect>
          ${i % labelEvery === 0 ? html`<text x=${pad.l + i * step + step / 2} y=${H - pad.b + 20} text-anchor="middle" class="axis">${day.slice(5).split('-').reverse().join('.')}.</text>` : null}
        </g>`;
      })}
    </svg>
    <figcaption class="legend">
      <span><span class="swatch bar-offered-bg"></span>${t('rep.offered')}</span>
      <span><span class="swatch bar-answered-bg"></span>${t('rep.answered')}</span>
    </figcaption>
  </figure>`;
}

/** Every day from..to (at most 62) with its figures, zero for days without calls. */
function fillDays(from, to, byDay) {
  const out = [];
  const d = new Date(`${from}T12:00:00`);
  const end = new Date(`${to}T12:00:00`);
  if (Number.isNaN(d.getTime()) || Number.isNaN(end.getTime())) return out;
  while (d <= end && out.length < 62) {
    const key = isoDate(d);
    out.push([key, byDay[key] || {}]);
    d.setDate(d.getDate() + 1);
  }
  return d <= end ? [] : out;
}

export function Berichte() {
  const today = isoDate();
  const weekAgo = isoDate(new Date(Date.now() - 6 * 86400000));
  const [from, setFrom] = useState(weekAgo);
  const [to, setTo] = useState(today);
  const [report, setReport] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);

  async function load(e) {
    if (e) e.preventDefault();
    if (from > to) {
      setError(t('rep.bad_range'));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      setReport(await api.report(from, to));
    } catch (err) {
      if (err.status !== 401) setError(errorText(err));
    }
    setBusy(false);
  }
  useEffect(() => {
    load();
  }, []);

  const days = report ? Object.entries(report.by_day || {}).sort(([a], [b]) => (a < b ? -1 : 1)) : [];
  const chartDays = report ? fillDays(report.meta && report.meta.from ? report.meta.from : from, report.meta && report.meta.to ? report.meta.to : to, report.by_day || {}) : [];
  const meta = (report && report.meta) || {};
  const named = (names, fallback) => ([k, m]) => [(names && names[k]) || fallback(k), m];
  const queues = report ? Object.entries(report.by_queue || {}).map(named(meta.queue_names, queueName)) : [];
  const booths = report ? Object.entries(report.by_booth || {}).map(named(meta.booth_names, boothName)) : [];
  return html`
    <${PageTitle} testid="page-berichte">${t('rep.title')}<//>
    <form class="card row wrap align-end" onSubmit=${load} data-testid="report-form">
      <div class="field">
        <label for="report-from">${t('rep.from')}</label>
        <input type="date" id="report-from" data-testid="report-from" value=${from} max=${to} onInput=${(e) => setFrom(e.currentTarget.value)} required />
      </div>
      <div class="field">
        <label for="report-to">${t('rep.to')}</label>
        <input type="date" id="report-to" data-testid="report-to" value=${to} min=${from} onInput=${(e) => setTo(e.currentTarget.value)} required />
      </div>
      <button type="submit" class="btn-primary" data-testid="report-load" disabled=${busy}>${t('rep.load')}</button>
      <a class="button-link" href=${api.reportCsvUrl(from, to)} download data-testid="report-csv">${t('rep.csv')}</a>
    </form>
    ${error ? html`<${Message} kind="error" text=${error} testid="report-error" />` : null}
    ${busy ? html`<p role="status">${t('rep.loading')}</p>` : null}
    ${report
      ? html`
        <section class="card" aria-labelledby="rep-total-h">
          <h2 id="rep-total-h">${t('rep.total')}</h2>
          <${Table} rows=${[[t('rep.total'), report.total || {}]]} first="" testid="report-total" />
        </section>
        <section class="card" aria-labelledby="rep-chart-h">
          <h2 id="rep-chart-h">${t('rep.chart')}</h2>
          ${days.length ? html`<${BarChart} days=${chartDays.length ? chartDays : days} />` : html`<p>${t('rep.empty')}</p>`}
        </section>
        <section class="card" aria-labelledby="rep-day-h">
          <h2 id="rep-day-h">${t('rep.by_day')}</h2>
          ${days.length ? html`<${Table} rows=${days} first=${t('rep.day')} testid="report-days" />` : html`<p>${t('rep.empty')}</p>`}
        </section>
        <section class="card" aria-labelledby="rep-queue-h">
          <h2 id="rep-queue-h">${t('rep.by_queue')}</h2>
          ${queues.length ? html`<${Table} rows=${queues} first=${t('rep.queue')} testid="report-queues" />` : html`<p>${t('rep.empty')}</p>`}
        </section>
        <section class="card" aria-labelledby="rep-booth-h">
          <h2 id="rep-booth-h">${t('rep.by_booth')}</h2>
          ${booths.length ? html`<${Table} rows=${booths} first=${t('rep.booth')} testid="report-booths" />` : html`<p>${t('rep.empty')}</p>`}
        </section>`
      : null}
  `;
}
