"""``lisa bridge report``: key figures of the call log for some days, as JSON, CSV or HTML.

Reads the bridge database (``--db FILE``, or the one of ``--config BRIDGE.toml``, which also
gives the time zone, the service-level threshold and the display names). The period is whole
local days, ``--from`` to ``--to`` inclusive (default: today). Exit codes: 0 done; 2 wrong
usage (bad date or format, missing database; the reason is on stderr).
"""

from __future__ import annotations

import sys
import time as _time
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from cloud_bridge.report import render_csv, render_html, render_json
from cloud_bridge.report_period import MARGIN_S, local_midnight, period_report
from cloud_bridge.store import SQLiteStore, StoreError

if TYPE_CHECKING:
    from cloud_bridge.config import BridgeConfig

__all__ = ["FORMATS", "MARGIN_S", "local_midnight", "report", "report_names"]

FORMATS = {"json": render_json, "csv": render_csv, "html": render_html}
DEFAULT_TZ = "Europe/Berlin"
DEFAULT_SL_THRESHOLD_S = 20.0


def _fail(message: str, code: int = 2) -> NoReturn:
    sys.stderr.write(f"lisa bridge report: {message}\n")
    raise typer.Exit(code)


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        _fail(f"{option} {value!r} is not a date; expected YYYY-MM-DD, e.g. 2026-03-02")


def report_names(cfg: BridgeConfig) -> dict[str, dict[str, str]]:
    """The display names of a report (``queue_names``, ``booth_names``, ``agent_names``) from
    the bridge config (the CLI with ``--config`` and the bridge's API use them)."""
    return {
        "queue_names": {q.id: q.name for q in cfg.queues},
        "booth_names": {b.id: b.name for b in cfg.booths},
        "agent_names": {a.id: a.display_name for a in cfg.agents},
    }


def report(
    db: Annotated[
        Path | None,
        typer.Option(
            "--db", metavar="FILE", help="The bridge's SQLite database.", show_default=False
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            metavar="FILE",
            help="Bridge config (TOML): its database, time zone, service-level threshold and "
            "display names.",
            show_default=False,
        ),
    ] = None,
    date_from: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="DATE",
            help="First day, YYYY-MM-DD in the local time zone. Default: --to, else today.",
            show_default=False,
        ),
    ] = None,
    date_to: Annotated[
        str | None,
        typer.Option(
            "--to",
            metavar="DATE",
            help="Last day (inclusive), YYYY-MM-DD. Default: today (or --from if later).",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", metavar="FORMAT", help="json, csv or html.")
    ] = "json",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write to this file instead of stdout.",
            show_default=False,
        ),
    ] = None,
    sl_threshold: Annotated[
        float | None,
        typer.Option(
            "--sl-threshold",
            metavar="SECONDS",
            min=0.0,
            help="Service level: answered within this many seconds (overrides the config; "
            "default 20).",
            show_default=False,
        ),
    ] = None,
    tz_name: Annotated[
        str | None,
        typer.Option(
            "--tz",
            metavar="ZONE",
            help="Time zone of the days (overrides the config; default Europe/Berlin).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Key figures of the call log (service level, waiting, abandons, handling time,
    occupancy) per day, queue, booth and agent."""
    kind = fmt.strip().lower()
    if kind not in FORMATS:
        _fail(f"--format {fmt!r} is not one of: {', '.join(FORMATS)}")
    meta: dict[str, Any] = {}
    threshold = DEFAULT_SL_THRESHOLD_S
    zone_name = DEFAULT_TZ
    if config is not None:
        from cloud_bridge.config import load_bridge_config  # only needed with --config

        try:
            cfg = load_bridge_config(config)
        except Exception as exc:  # config errors of every kind: report, do not trace
            _fail(f"{config}: cannot read the bridge config: {exc}")
        if db is None:
            db = Path(cfg.bridge.database)
        threshold = cfg.kpi.sl_threshold_s
        zone_name = cfg.bridge.timezone
        meta.update(report_names(cfg))
    if db is None:
        _fail("which database? give --db FILE or --config BRIDGE.toml")
    if sl_threshold is not None:
        threshold = sl_threshold
    if tz_name is not None:
        zone_name = tz_name
    try:
        tz = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        _fail(f"unknown time zone {zone_name!r}")

    today = datetime.now(tz).date()
    first = _day(date_from, "--from") if date_from is not None else None
    last = _day(date_to, "--to") if date_to is not None else None
    if first is None:
        first = last if last is not None else today
    if last is None:
        last = max(today, first)
    if first > last:
        _fail(f"--from {first.isoformat()} is after --to {last.isoformat()}")

    if not db.is_file():
        _fail(f"database {db} does not exist")
    try:
        store = SQLiteStore(db)
    except StoreError as exc:
        _fail(str(exc))
    try:
        result, meta = period_report(
            store.log_entries,
            first,
            last,
            tz=zone_name,
            sl_threshold_s=threshold,
            now=_time.time(),
            meta={**meta, "database": str(db)},
        )
    finally:
        store.close()
    text = FORMATS[kind](result, meta)
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot write {output}: {exc}", 1)
