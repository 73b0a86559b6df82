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
inline SVG (drawn in :mod:`cloud_bridge.report_charts`), with ``role="img"``, ``<title>`` and
``aria-label`` for screen readers, and each chart's numbers are also in a table.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from cloud_bridge.kpi import ALL_METRICS, KpiReport
from cloud_bridge.report_charts import (  # the charts' names stay importable from here
    BLUE,
    GREEN,
    _de_date,
    _figure,
    _group,
    _Ids,
    day_chart,
    hbar_chart,
)
from cloud_bridge.report_charts import GREY as GREY
from cloud_bridge.report_charts import ORANGE as ORANGE
from cloud_bridge.report_charts import RED as RED

DIMENSIONS = (
    ("total", "total"),
    ("day", "by_day"),
    ("queue", "by_queue"),
    ("booth", "by_booth"),
    ("agent", "by_agent"),
)
DEFAULT_SL_TARGET = 0.8


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
