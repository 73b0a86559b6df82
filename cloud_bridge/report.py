"""Reports of the key figures (:mod:`cloud_bridge.kpi`) as JSON, CSV or a self-contained HTML page.

Every renderer takes the :class:`~cloud_bridge.kpi.KpiReport` and a ``meta`` dict describing
the report; all keys are optional:

``from``, ``to``
    first and last day (ISO dates, inclusive), shown as the period;
``tz``, ``sl_threshold_s``
    default to the report's own;
``sl_target``
    the service-level goal drawn into the queue chart (fraction, default 0.8);
``generated``
    when the report was made (ISO text);
``database``
    where the figures come from;
``queue_names``, ``booth_names``, ``agent_names``
    id -> display name for the tables and charts.

The HTML page needs nothing from outside (no scripts, fonts or style sheets): the charts are
inline SVG drawn here, with ``role="img"``, ``<title>`` and ``aria-label`` for screen readers,
and each chart's numbers are also in a table.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from cloud_bridge.kpi import ALL_METRICS, KpiReport

DIMENSIONS = (
    ("total", "total"),
    ("day", "by_day"),
    ("queue", "by_queue"),
    ("booth", "by_booth"),
    ("agent", "by_agent"),
)
DEFAULT_SL_TARGET = 0.8

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies
BLUE, GREEN, RED, ORANGE, GREY = "#0072B2", "#009E73", "#D55E00", "#E69F00", "#6b6b6b"


def _jsonable(report: KpiReport, meta: Mapping[str, Any]) -> dict[str, Any]:
    return {"meta": dict(meta), **report.to_dict()}


def render_json(report: KpiReport, meta: Mapping[str, Any]) -> str:
    """``{"meta": …, "total": …, "by_queue": …, "by_booth": …, "by_agent": …, "by_day": …,
    "sl_threshold_s", "tz", "start", "end"}``, indented, UTF-8 text."""
    return json.dumps(_jsonable(report, meta), indent=2, ensure_ascii=False) + "\n"


def render_csv(report: KpiReport, meta: Mapping[str, Any]) -> str:
    """One row per (dimension, key): ``total`` (key empty), ``day``, ``queue``, ``booth``,
    ``agent``; every metric is a column (empty where it does not apply or is undefined).
    Numbers use a decimal point; fractions are 0…1."""
    del meta  # the CSV is pure data; the period is in the file name or the caller's hands
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["dimension", "key", *ALL_METRICS])
    for dimension, attr in DIMENSIONS:
        table: dict[str, dict[str, Any]] = (
            {"": report.total} if attr == "total" else getattr(report, attr)
        )
        for key, metrics in table.items():
            writer.writerow(
                [
                    dimension,
                    key,
                    *("" if metrics.get(m) is None else metrics[m] for m in ALL_METRICS),
                ]
            )
    return out.getvalue()


# ===================================================================================== HTML
LABELS: dict[str, str] = {
    "offered": "Angebotene Anrufe",
    "answered": "Angenommen",
    "abandoned": "Abgebrochen",
    "abandoned_short": "Davon abgebrochen innerhalb der Schwelle",
    "unavailable": "Nicht verfügbar",
    "turned_away": "Bei Ankunft abgewiesen",
    "timeouts": "Höchstwartezeit überschritten",
    "service_level": "Servicelevel",
    "asa_s": "Mittlere Wartezeit (ASA)",
    "max_wait_s": "Längste Wartezeit",
    "p_wait": "Anteil mit Wartezeit",
    "abandon_rate": "Abbruchquote",
    "handled": "Bearbeitete Gespräche",
    "aht_s": "Mittlere Bearbeitungszeit (AHT)",
    "talk_s_total": "Gesprächszeit gesamt",
    "wrap_s_total": "Nachbearbeitung gesamt",
    "transfers": "Weiterleitungen",
    "transfer_rate": "Weiterleitungsquote",
    "no_answer": "Nicht angenommen (Klingelzeit abgelaufen)",
    "declined": "Abgelehnt",
    "occupancy": "Auslastung",
    "staffed_s": "Verfügbare Zeit",
    "occupied_s": "Belegte Zeit",
}
SHORT: dict[str, str] = {
    "offered": "Angeboten",
    "answered": "Angenommen",
    "abandoned": "Abgebrochen",
    "unavailable": "Nicht verfügbar",
    "service_level": "Servicelevel",
    "asa_s": "ASA",
    "max_wait_s": "Längste Wartezeit",
    "p_wait": "Mit Wartezeit",
    "abandon_rate": "Abbruchquote",
    "handled": "Gespräche",
    "aht_s": "AHT",
    "talk_s_total": "Gesprächszeit",
    "transfers": "Weiterleitungen",
    "transfer_rate": "Weiterleitungsquote",
    "no_answer": "Nicht angenommen",
    "declined": "Abgelehnt",
    "occupancy": "Auslastung",
}
RATIOS = frozenset({"service_level", "p_wait", "abandon_rate", "transfer_rate", "occupancy"})
SECONDS = frozenset(
    {"asa_s", "max_wait_s", "aht_s", "talk_s_total", "wrap_s_total", "staffed_s", "occupied_s"}
)
CALL_COLUMNS = (
    "offered",
    "answered",
    "abandoned",
    "unavailable",
    "service_level",
    "asa_s",
    "max_wait_s",
    "p_wait",
    "abandon_rate",
    "aht_s",
    "transfer_rate",
)
AGENT_COLUMNS = (
    "answered",
    "handled",
    "aht_s",
    "talk_s_total",
    "transfers",
    "no_answer",
    "declined",
    "occupancy",
)
CARDS = (
    "offered",
    "answered",
    "abandoned",
    "unavailable",
    "service_level",
    "asa_s",
    "p_wait",
    "occupancy",
)

_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
  color: #1a1a1a; background: #fff; line-height: 1.4; }
main { max-width: 1100px; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .5rem; border-bottom: 2px solid #ddd; }
.meta { color: #444; margin: 0 0 1rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr));
  gap: .75rem; margin: 1rem 0; padding: 0; }
.cards div { border: 1px solid #ccc; border-radius: .4rem; padding: .6rem .8rem; }
.cards dt { font-size: .85rem; color: #444; }
.cards dd { font-size: 1.5rem; font-weight: 600; margin: .2rem 0 0; }
table { border-collapse: collapse; margin: .75rem 0 1.5rem; font-size: .9rem; }
caption { text-align: left; font-weight: 600; padding: .3rem 0; }
th, td { border: 1px solid #ccc; padding: .3rem .55rem; }
thead th { background: #f0f0f0; text-align: left; vertical-align: bottom; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody th { text-align: left; font-weight: normal; }
figure { margin: 1rem 0; }
figcaption { font-size: .9rem; color: #444; }
svg text { font-family: inherit; }
.empty { color: #555; font-style: italic; }
.defs dt { font-weight: 600; margin-top: .5rem; }
.defs dd { margin-left: 1rem; }
@media print { h2 { break-after: avoid; } figure, table { break-inside: avoid; } }
"""


# ----------------------------------------------------------------------------- formatting
def _group(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def _decimal(value: float, places: int) -> str:
    text = f"{value:,.{places}f}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")


def _plain(value: float) -> str:
    """A number without needless decimals: ``20``, ``12,5``."""
    return _decimal(value, 0 if value == int(value) else 1)


def fmt_seconds(value: float) -> str:
    """German duration: ``12,3 s``, ``4:05 min``, ``2:03:04 h``."""
    if value < 60:
        return f"{_decimal(value, 1)} s"
    whole = round(value)
    hours, rest = divmod(whole, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{seconds:02d} h"
    return f"{minutes}:{seconds:02d} min"


def fmt_ratio(value: float) -> str:
    return f"{_decimal(value * 100, 1)} %"


def fmt_value(metric: str, value: Any) -> str:
    if value is None:
        return "–"
    if metric in RATIOS:
        return fmt_ratio(float(value))
    if metric in SECONDS:
        return fmt_seconds(float(value))
    if isinstance(value, int):
        return _group(value)
    if isinstance(value, float):
        return _decimal(value, 1)
    return str(value)


def _de_date(iso: str) -> str:
    try:
        return date.fromisoformat(iso).strftime("%d.%m.%Y")
    except ValueError:
        return iso


def _period(report: KpiReport, meta: Mapping[str, Any]) -> str:
    first, last = meta.get("from"), meta.get("to")
    if first and last:
        return (
            _de_date(str(first))
            if first == last
            else f"{_de_date(str(first))} – {_de_date(str(last))}"
        )
    tz = ZoneInfo(str(meta.get("tz") or report.tz))
    if report.start is not None and report.end is not None:
        lo = datetime.fromtimestamp(report.start, tz).strftime("%d.%m.%Y %H:%M")
        hi = datetime.fromtimestamp(report.end, tz).strftime("%d.%m.%Y %H:%M")
        return f"{lo} – {hi}"
    return "gesamtes Anrufprotokoll"


def _name(meta: Mapping[str, Any], kind: str, key: str) -> str:
    names = meta.get(f"{kind}_names") or {}
    name = names.get(key) if isinstance(names, Mapping) else None
    return f"{name} ({key})" if name and name != key else key or "–"


# ----------------------------------------------------------------------------------- tables
def _table(
    caption: str,
    key_header: str,
    rows: Sequence[tuple[str, Mapping[str, Any]]],
    columns: Sequence[str],
) -> str:
    if not rows:
        return f'<p class="empty">{escape(caption)}: keine Daten im Zeitraum.</p>'
    head = "".join(
        f'<th scope="col"><abbr title="{escape(LABELS[c])}">{escape(SHORT.get(c, LABELS[c]))}'
        "</abbr></th>"
        if SHORT.get(c, LABELS[c]) != LABELS[c]
        else f'<th scope="col">{escape(LABELS[c])}</th>'
        for c in columns
    )
    body = []
    for label, metrics in rows:
        cells = "".join(
            f'<td class="num">{escape(fmt_value(c, metrics.get(c)))}</td>' for c in columns
        )
        body.append(f'<tr><th scope="row">{escape(label)}</th>{cells}</tr>')
    return (
        f"<table><caption>{escape(caption)}</caption>"
        f'<thead><tr><th scope="col">{escape(key_header)}</th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _total_table(report: KpiReport) -> str:
    rows = "".join(
        f'<tr><th scope="row">{escape(LABELS[m])}</th>'
        f'<td class="num">{escape(fmt_value(m, report.total.get(m)))}</td></tr>'
        for m in ALL_METRICS
        if m in report.total
    )
    return (
        "<table><caption>Alle Kennzahlen des Zeitraums</caption>"
        '<thead><tr><th scope="col">Kennzahl</th><th scope="col">Wert</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )


# ----------------------------------------------------------------------------------- charts
class _Ids:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}-{self.n}"


def _count_step(peak: float) -> int:
    """A tick step for counts: 1, 2, 5, 10, 20, 50, … giving at most about 5 ticks."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor * 5 >= peak:
                return step * factor
        step *= 10


def _svg_open(ids: _Ids, width: int, height: int, title: str, desc: str) -> str:
    tid, did = ids("t"), ids("d")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" style="max-width:{width}px" role="img" '
        f'aria-label="{escape(title)}" aria-labelledby="{tid} {did}">'
        f'<title id="{tid}">{escape(title)}</title><desc id="{did}">{escape(desc)}</desc>'
    )


def _clip(text: str, limit: int = 26) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def day_chart(ids: _Ids, report: KpiReport) -> str:
    """Grouped bars per day: offered, answered, abandoned."""
    series = (
        ("offered", "angeboten", BLUE),
        ("answered", "angenommen", GREEN),
        ("abandoned", "abgebrochen", RED),
    )
    days = list(report.by_day.items())
    title = "Anrufe pro Tag: angeboten, angenommen, abgebrochen"
    if not days:
        return f'<p class="empty">{escape(title)}: keine Daten im Zeitraum.</p>'
    left, right, top, bottom = 52, 12, 34, 46
    width = 720
    group = (width - left - right) / len(days)
    height = 300
    plot_h = height - top - bottom
    peak = max(float(m.get(k) or 0) for _, m in days for k, _, _ in series)
    step = _count_step(peak)
    ticks = max(1, -(-int(peak) // step))  # ceil
    ymax = float(step * ticks)
    desc = "; ".join(
        f"{_de_date(d)}: "
        + ", ".join(f"{_group(int(m.get(k) or 0))} {word}" for k, word, _ in series)
        for d, m in days
    )
    parts = [_svg_open(ids, width, height, title, desc)]
    for i in range(ticks + 1):  # grid and y labels
        tick = step * i
        y = top + plot_h - plot_h * i / ticks
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#ddd" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#333">{escape(_group(tick))}</text>'
        )
    bar = min(group * 0.8, 90) / len(series)
    label_every = max(1, len(days) // 16 + (1 if len(days) % 16 else 0))
    for gi, (day_key, metrics) in enumerate(days):
        x0 = left + gi * group + (group - bar * len(series)) / 2
        for si, (key, word, colour) in enumerate(series):
            value = float(metrics.get(key) or 0)
            h = plot_h * value / ymax
            x = x0 + si * bar
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar * 0.9:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{escape(_de_date(day_key))}: '
                f"{_group(int(value))} {word}</title></rect>"
            )
        if gi % label_every == 0:
            cx = left + gi * group + group / 2
            label = _de_date(day_key)[:6]
            parts.append(
                f'<text x="{cx:.1f}" y="{top + plot_h + 16}" font-size="11" '
                f'text-anchor="middle" fill="#333">{escape(label)}</text>'
            )
    parts.append(
        f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" '
        'stroke="#333" stroke-width="1"/>'
    )
    lx = left
    for _key, word, colour in series:  # legend
        parts.append(
            f'<rect x="{lx}" y="8" width="12" height="12" fill="{colour}"/>'
            f'<text x="{lx + 16}" y="18" font-size="12" fill="#1a1a1a">{escape(word)}</text>'
        )
        lx += 16 + 8 * len(word) + 16
    parts.append("</svg>")
    return "".join(parts)


def hbar_chart(
    ids: _Ids,
    title: str,
    rows: Sequence[tuple[str, float | None]],
    *,
    fmt: Callable[[float], str],
    colour: str,
    target: float | None = None,
    target_label: str = "",
    max_value: float = 1.0,
) -> str:
    """Horizontal bars (one per row, value 0…max_value) with an optional dashed target line."""
    if not rows:
        return f'<p class="empty">{escape(title)}: keine Daten im Zeitraum.</p>'
    label_w, right, top, row_h = 190, 70, 30 if target is not None else 10, 26
    plot_w = 460
    width = label_w + plot_w + right
    height = top + row_h * len(rows) + 24
    desc = "; ".join(f"{label}: {'keine Angabe' if v is None else fmt(v)}" for label, v in rows)
    if target is not None:
        desc += f". {target_label}"
    parts = [_svg_open(ids, width, height, title, desc)]
    for i in range(5):
        x = label_w + plot_w * i / 4
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + row_h * len(rows)}" '
            'stroke="#e3e3e3" stroke-width="1"/>'
            f'<text x="{x:.1f}" y="{height - 6}" font-size="11" text-anchor="middle" '
            f'fill="#333">{escape(fmt(max_value * i / 4))}</text>'
        )
    for i, (label, value) in enumerate(rows):
        y = top + i * row_h
        parts.append(
            f'<text x="{label_w - 8}" y="{y + row_h / 2 + 4:.1f}" font-size="12" '
            f'text-anchor="end" fill="#1a1a1a">{escape(_clip(label))}<title>{escape(label)}'
            "</title></text>"
        )
        if value is None:
            parts.append(
                f'<text x="{label_w + 4}" y="{y + row_h / 2 + 4:.1f}" font-size="12" '
                'fill="#555">keine Angabe</text>'
            )
            continue
        w = plot_w * max(0.0, min(value, max_value)) / max_value
        parts.append(
            f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" '
            f'fill="{colour}"><title>{escape(label)}: {escape(fmt(value))}</title></rect>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + row_h / 2 + 4:.1f}" font-size="12" '
            f'fill="#1a1a1a">{escape(fmt(value))}</text>'
        )
    if target is not None:
        x = label_w + plot_w * min(target, max_value) / max_value
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 6}" y2="{top + row_h * len(rows)}" '
            f'stroke="{ORANGE}" stroke-width="2" stroke-dasharray="6 4">'
            f"<title>{escape(target_label)}</title></line>"
            f'<text x="{x:.1f}" y="{top - 10}" font-size="12" text-anchor="middle" '
            f'fill="#1a1a1a">{escape(target_label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>"


# ------------------------------------------------------------------------------------ page
def render_html(report: KpiReport, meta: Mapping[str, Any]) -> str:
    """A self-contained German HTML page: overview, charts and tables per day, queue, booth
    and agent, and the definitions."""
    ids = _Ids()
    threshold = float(meta.get("sl_threshold_s", report.sl_threshold_s))
    target = float(meta.get("sl_target", DEFAULT_SL_TARGET))
    tz = str(meta.get("tz") or report.tz)
    period = _period(report, meta)
    sl_word = f"Servicelevel (angenommen innerhalb von {_plain(threshold)} s)"
    labels = {**LABELS, "service_level": sl_word}

    cards = "".join(
        f"<div><dt>{escape(labels[m])}</dt>"
        f"<dd>{escape(fmt_value(m, report.total.get(m)))}</dd></div>"
        for m in CARDS
    )
    info = [f"Zeitraum: {period}", f"Zeitzone: {tz}"]
    if meta.get("generated"):
        info.append(f"erstellt: {meta['generated']}")
    if meta.get("database"):
        info.append(f"Quelle: {meta['database']}")

    day_rows = [(_de_date(k), m) for k, m in report.by_day.items()]
    queue_rows = [(_name(meta, "queue", k), m) for k, m in report.by_queue.items()]
    booth_rows = [(_name(meta, "booth", k), m) for k, m in report.by_booth.items()]
    agent_rows = [(_name(meta, "agent", k), m) for k, m in report.by_agent.items()]
    target_text = f"Ziel {fmt_ratio(target)}"

    sections = [
        '<section aria-labelledby="h-overview"><h2 id="h-overview">Überblick</h2>'
        f'<dl class="cards">{cards}</dl>{_total_table(report)}</section>',
        '<section aria-labelledby="h-days"><h2 id="h-days">Anrufe pro Tag</h2>'
        + _figure(day_chart(ids, report), "Angebotene, angenommene und abgebrochene Anrufe je Tag.")
        + _table("Kennzahlen je Tag", "Tag", day_rows, (*CALL_COLUMNS, "occupancy"))
        + "</section>",
        '<section aria-labelledby="h-queues"><h2 id="h-queues">Warteschlangen</h2>'
        + _figure(
            hbar_chart(
                ids,
                f"{sl_word} je Warteschlange",
                [(label, m.get("service_level")) for label, m in queue_rows],
                fmt=fmt_ratio,
                colour=BLUE,
                target=target,
                target_label=target_text,
            ),
            f"{sl_word} je Warteschlange; gestrichelt: {target_text}.",
        )
        + _table("Kennzahlen je Warteschlange", "Warteschlange", queue_rows, CALL_COLUMNS)
        + "</section>",
        '<section aria-labelledby="h-booths"><h2 id="h-booths">Kabinen</h2>'
        + _table("Kennzahlen je Kabine", "Kabine", booth_rows, CALL_COLUMNS)
        + "</section>",
        '<section aria-labelledby="h-agents"><h2 id="h-agents">Mitarbeitende</h2>'
        + _figure(
            hbar_chart(
                ids,
                "Auslastung je Mitarbeiterin und Mitarbeiter",
                [(label, m.get("occupancy")) for label, m in agent_rows],
                fmt=fmt_ratio,
                colour=GREEN,
            ),
            "Auslastung: Anteil der verfügbaren Zeit mit Klingeln, Gespräch oder Nachbearbeitung.",
        )
        + _table("Kennzahlen je Mitarbeiterin und Mitarbeiter", "Konto", agent_rows, AGENT_COLUMNS)
        + "</section>",
        _definitions(threshold),
    ]
    title = f"Bericht Digitaler Bürgerservice – {period}"
    return (
        '<!DOCTYPE html>\n<html lang="de">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        "<h1>Bericht Digitaler Bürgerservice</h1>\n"
        f'<p class="meta">{" · ".join(escape(x) for x in info)}</p>\n'
        + "\n".join(sections)
        + "\n</main>\n</body>\n</html>\n"
    )


def _definitions(threshold: float) -> str:
    s = _plain(threshold)
    items = (
        (
            "Angebotene Anrufe",
            "Anrufe, die im Zeitraum aus einer Kabine kamen (gezählt am Tag "
            "ihres ersten Eintritts in eine Warteschlange). Je Warteschlange zählen auch "
            "weitergeleitete und übergelaufene Anrufe.",
        ),
        (
            "Angenommen",
            "Anrufe, die mindestens einmal mit einer Mitarbeiterin oder einem "
            "Mitarbeiter verbunden wurden.",
        ),
        (
            "Abgebrochen",
            "Die Bürgerin oder der Bürger hat die Kabine vor der Verbindung verlassen.",
        ),
        (
            "Nicht verfügbar",
            "Niemand konnte den Anruf annehmen (geschlossen, niemand angemeldet, "
            "Höchstwartezeit ohne Überlauf). Bei Ankunft abgewiesene Anrufe zählen nicht in "
            "Servicelevel, Abbruchquote und Anteil mit Wartezeit.",
        ),
        (
            "Servicelevel",
            f"Anteil der Anrufe, die innerhalb von {s} s angenommen wurden, an allen "
            "angebotenen Anrufen ohne die bei Ankunft abgewiesenen. Die Klingelzeit zählt zur "
            "Wartezeit.",
        ),
        ("ASA", "Mittlere Wartezeit der angenommenen Anrufe bis zur Verbindung."),
        (
            "AHT",
            "Mittlere Bearbeitungszeit: Gesprächszeit und anschließende Nachbearbeitung je "
            "Gespräch.",
        ),
        (
            "Auslastung",
            "Anteil der verfügbaren Zeit (bereit, klingelt, im Gespräch, "
            "Nachbearbeitung), in der geklingelt, gesprochen oder nachbearbeitet wurde.",
        ),
    )
    body = "".join(f"<dt>{escape(t)}</dt><dd>{escape(d)}</dd>" for t, d in items)
    return (
        '<section aria-labelledby="h-defs"><h2 id="h-defs">Begriffe</h2>'
        f'<dl class="defs">{body}</dl></section>'
    )
