"""The inline SVG charts of the HTML report (:func:`cloud_bridge.report.render_html`).

Every chart is self-contained SVG with ``role="img"``, a ``<title>`` and a ``<desc>`` listing its
numbers (and ``aria-labelledby``) for screen readers; colours are the Okabe-Ito palette. The
German number and date text the charts and the report's tables share is here too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from html import escape

from cloud_bridge.kpi import KpiReport

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies
BLUE, GREEN, RED, ORANGE, GREY = "#0072B2", "#009E73", "#D55E00", "#E69F00", "#6b6b6b"


def _group(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def _de_date(iso: str) -> str:
    try:
        return date.fromisoformat(iso).strftime("%d.%m.%Y")
    except ValueError:
        return iso


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
