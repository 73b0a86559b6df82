"""Reports as JSON, CSV and HTML, and the ``lisa bridge report`` command on a temporary database."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import typer
from typer.testing import CliRunner

from cloud_bridge.acd.model import LogEntry, LogEvent
from cloud_bridge.kpi import ALL_METRICS, KpiReport, summarize
from cloud_bridge.report import render_csv, render_html, render_json
from cloud_bridge.report_cli import report
from cloud_bridge.store import Changes, SQLiteStore

BERLIN = ZoneInfo("Europe/Berlin")
DAY1 = datetime(2026, 3, 2, 10, 0, tzinfo=BERLIN).timestamp()
DAY2 = datetime(2026, 3, 3, 10, 0, tzinfo=BERLIN).timestamp()


def ln(
    ts: float,
    event: LogEvent,
    call: str = "",
    queue: str = "",
    agent: str = "",
    booth: str = "",
    **data: Any,
) -> LogEntry:
    return LogEntry(ts, call, queue, agent, booth, event, data)


def enter(ts: float, call: str, queue: str, booth: str) -> LogEntry:
    data = {"booth": booth, "priority": 0, "transfer": False}
    return LogEntry(ts, call, queue, "", booth, "ENTERQUEUE", data)


def st(
    ts: float, agent: str, new: str, prev: str, prev_s: float, prev_call: str | None = None
) -> LogEntry:
    data = {"status": new, "reason": None, "previous": prev, "previous_s": prev_s}
    return ln(ts, "AGENTSTATUS", "", "", agent, "", **data, previous_call=prev_call)


def fixture_log() -> list[LogEntry]:
    """Day 1: c1 answered at 5 s (a1), c2 at 30 s (a2), c3 abandons after 15 s.
    Day 2: c4 finds kfz closed, c5 answered at 10 s (a1).
    Totals: 5 offered, 3 answered, 1 abandoned, 1 unavailable; service level 2 / 4."""
    d1, d2 = DAY1, DAY2
    return [
        st(d1 - 3600, "a1", "ready", "logged_out", 0),
        st(d1 - 3600, "a2", "ready", "logged_out", 0),
        enter(d1, "c1", "wohngeld", "b1"),
        ln(d1, "OFFER", "c1", "wohngeld", "a1", "b1", ring_timeout_s=20, wait_s=0.0),
        st(d1, "a1", "offered", "ready", 3600),
        ln(d1 + 5, "CONNECT", "c1", "wohngeld", "a1", "b1", wait_s=5.0, ring_s=5.0),
        st(d1 + 5, "a1", "busy", "offered", 5, "c1"),
        enter(d1 + 10, "c2", "wohngeld", "b2"),
        enter(d1 + 20, "c3", "wohngeld", "b1"),
        ln(d1 + 30, "OFFER", "c2", "wohngeld", "a2", "b2", ring_timeout_s=20, wait_s=20.0),
        st(d1 + 30, "a2", "offered", "ready", 3630),
        ln(d1 + 35, "ABANDON", "c3", "wohngeld", "", "b1", position=1, wait_s=15.0),
        ln(d1 + 40, "CONNECT", "c2", "wohngeld", "a2", "b2", wait_s=30.0, ring_s=10.0),
        st(d1 + 40, "a2", "busy", "offered", 10, "c2"),
        ln(d1 + 65, "COMPLETECALLER", "c1", "wohngeld", "a1", "b1", wait_s=5.0, talk_s=60.0),
        st(d1 + 65, "a1", "wrap_up", "busy", 60, "c1"),
        st(d1 + 75, "a1", "ready", "wrap_up", 10, "c1"),
        ln(d1 + 140, "COMPLETEAGENT", "c2", "wohngeld", "a2", "b2", wait_s=30.0, talk_s=100.0),
        st(d1 + 140, "a2", "ready", "busy", 100, "c2"),
        st(d1 + 3600, "a1", "logged_out", "ready", 3525),
        st(d1 + 3600, "a2", "logged_out", "ready", 3460),
        enter(d2, "c4", "kfz", "b2"),
        ln(d2, "UNAVAILABLE", "c4", "kfz", "", "b2", reason="closed"),
        st(d2 + 100, "a1", "ready", "logged_out", 86400),
        enter(d2 + 200, "c5", "wohngeld", "b1"),
        ln(d2 + 200, "OFFER", "c5", "wohngeld", "a1", "b1", ring_timeout_s=20, wait_s=0.0),
        st(d2 + 200, "a1", "offered", "ready", 100),
        ln(d2 + 210, "CONNECT", "c5", "wohngeld", "a1", "b1", wait_s=10.0, ring_s=10.0),
        st(d2 + 210, "a1", "busy", "offered", 10, "c5"),
        ln(d2 + 330, "COMPLETEAGENT", "c5", "wohngeld", "a1", "b1", wait_s=10.0, talk_s=120.0),
        st(d2 + 330, "a1", "ready", "busy", 120, "c5"),
        st(d2 + 400, "a1", "logged_out", "ready", 70),
    ]


META = {
    "from": "2026-03-02",
    "to": "2026-03-03",
    "tz": "Europe/Berlin",
    "sl_threshold_s": 20.0,
    "generated": "2026-03-04T08:00:00+01:00",
    "queue_names": {"wohngeld": "Wohngeldstelle", "kfz": "Kfz-Zulassung"},
    "agent_names": {"a1": "Wohngeld – Sachbearbeitung"},
}


@pytest.fixture
def kpis() -> KpiReport:
    return summarize(fixture_log())


def test_fixture_figures(kpis: KpiReport) -> None:
    t = kpis.total
    assert (t["offered"], t["answered"], t["abandoned"], t["unavailable"]) == (5, 3, 1, 1)
    assert t["service_level"] == 0.5
    assert t["asa_s"] == 15.0
    assert list(kpis.by_day) == ["2026-03-02", "2026-03-03"]


def test_json(kpis: KpiReport) -> None:
    data = json.loads(render_json(kpis, META))
    assert data["meta"] == META
    assert data["total"]["offered"] == 5
    assert data["total"]["service_level"] == 0.5
    assert data["by_queue"]["kfz"]["service_level"] is None
    assert data["by_day"]["2026-03-03"]["offered"] == 2
    assert data["by_agent"]["a1"]["answered"] == 2
    assert set(data) >= {"total", "by_queue", "by_booth", "by_agent", "by_day"}


def test_csv(kpis: KpiReport) -> None:
    text = render_csv(kpis, META)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["dimension", "key", *ALL_METRICS]
    keys = [(r["dimension"], r["key"]) for r in rows]
    assert keys == [
        ("total", ""),
        ("day", "2026-03-02"),
        ("day", "2026-03-03"),
        ("queue", "kfz"),
        ("queue", "wohngeld"),
        ("booth", "b1"),
        ("booth", "b2"),
        ("agent", "a1"),
        ("agent", "a2"),
    ]
    total = rows[0]
    assert (total["offered"], total["answered"], total["service_level"]) == ("5", "3", "0.5")
    assert total["asa_s"] == "15.0"
    kfz = rows[3]
    assert kfz["service_level"] == "" and kfz["turned_away"] == "1"
    a1 = rows[7]
    assert a1["offered"] == ""  # not an agent figure
    assert a1["answered"] == "2" and a1["aht_s"] == "95.0"  # (60 + 10 + 120) / 2


class _Checker(HTMLParser):
    """Collects elements and checks that every element is closed in order."""

    VOID = frozenset({"meta", "br", "img", "input", "link", "hr", "area", "base", "col", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.errors: list[str] = []
        self.text: list[str] = []
        self.svg_titles = 0
        self.in_title_of: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag == "title" and self.stack and self.stack[-1] == "svg":
            self.svg_titles += 1
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> but open: {self.stack[-3:]}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _check(page: str) -> _Checker:
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert checker.errors == []
    assert checker.stack == []
    return checker


def test_html(kpis: KpiReport) -> None:
    page = render_html(kpis, META)
    checker = _check(page)
    text = " ".join(" ".join(checker.text).split())
    tags = [tag for tag, _ in checker.elements]

    html_attrs = next(attrs for tag, attrs in checker.elements if tag == "html")
    assert html_attrs["lang"] == "de"
    assert "<title>Bericht Digitaler Bürgerservice – 02.03.2026 – 03.03.2026</title>" in page
    assert "Bericht Digitaler Bürgerservice" in text
    assert "Zeitraum: 02.03.2026 – 03.03.2026" in text
    assert "Angebotene Anrufe" in text
    # self-contained: no scripts, style sheets, fonts or images from elsewhere
    assert "script" not in tags and "link" not in tags and "img" not in tags
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")

    svgs = [attrs for tag, attrs in checker.elements if tag == "svg"]
    assert len(svgs) == 3  # calls per day, service level per queue, occupancy per agent
    for attrs in svgs:
        assert attrs["role"] == "img" and attrs.get("aria-label")
    assert checker.svg_titles == 3
    labels = " ".join(str(a["aria-label"]) for a in svgs)
    assert "Anrufe pro Tag" in labels and "je Warteschlange" in labels
    assert "Auslastung" in labels
    # the threshold target line of the service-level chart
    assert any(tag == "line" and a.get("stroke-dasharray") for tag, a in checker.elements)
    assert "Ziel 80,0 %" in text
    # bars: 3 series x 2 days
    assert sum(1 for tag, _ in checker.elements if tag == "rect") >= 6

    for tag, attrs in checker.elements:  # every table header has a scope
        if tag == "th":
            assert attrs.get("scope") in ("col", "row")
    # the numbers
    assert "50,0 %" in text  # service level
    assert "15,0 s" in text  # ASA
    assert "Wohngeldstelle (wohngeld)" in text  # display names from meta
    assert "Wohngeld – Sachbearbeitung (a1)" in text
    assert "02.03.2026" in text and "03.03.2026" in text


def test_html_of_an_empty_period_and_odd_names() -> None:
    empty = summarize([])
    page = render_html(empty, {"from": "2026-01-01", "to": "2026-01-01"})
    checker = _check(page)
    assert "keine Daten im Zeitraum" in page
    assert [t for t, _ in checker.elements].count("svg") == 0
    kpis = summarize(fixture_log())
    page = render_html(kpis, {**META, "queue_names": {"wohngeld": "<b>Wohn & Geld</b>"}})
    _check(page)
    assert "&lt;b&gt;Wohn &amp; Geld&lt;/b&gt;" in page


# ---------------------------------------------------------------------------------------- CLI
@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "bridge.db"
    with SQLiteStore(path) as store:
        log = fixture_log()
        store.apply(Changes(), log[:10])
        store.apply(Changes(), log[10:])
    return path


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """LISA bridge (test stand-in)."""

    app.command("report")(report)
    return app


runner = CliRunner()


def test_cli_json(cli: typer.Typer, db: Path) -> None:
    result = runner.invoke(
        cli, ["report", "--db", str(db), "--from", "2026-03-02", "--to", "2026-03-03"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["total"]["offered"] == 5
    assert data["total"]["service_level"] == 0.5
    assert data["meta"]["from"] == "2026-03-02" and data["meta"]["to"] == "2026-03-03"
    assert data["meta"]["sl_threshold_s"] == 20.0

    one_day = runner.invoke(
        cli, ["report", "--db", str(db), "--from", "2026-03-03", "--to", "2026-03-03"]
    )
    day2 = json.loads(one_day.stdout)
    assert day2["total"]["offered"] == 2
    assert list(day2["by_day"]) == ["2026-03-03"]
    only_to = runner.invoke(cli, ["report", "--db", str(db), "--to", "2026-03-02"])
    assert json.loads(only_to.stdout)["total"]["offered"] == 3  # --from defaults to --to


def test_cli_csv_html_and_threshold(cli: typer.Typer, db: Path, tmp_path: Path) -> None:
    args = ["report", "--db", str(db), "--from", "2026-03-02", "--to", "2026-03-03"]
    result = runner.invoke(cli, [*args, "--format", "csv", "--sl-threshold", "30"])
    assert result.exit_code == 0, result.output
    total = next(csv.DictReader(io.StringIO(result.stdout)))
    assert total["service_level"] == "0.75"  # c2 at 30 s counts now

    out = tmp_path / "out" / "bericht.html"
    result = runner.invoke(cli, [*args, "--format", "html", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    page = out.read_text(encoding="utf-8")
    _check(page)
    assert "Bericht Digitaler Bürgerservice" in page and page.count("<svg") == 3


def test_cli_with_config(cli: typer.Typer, tmp_path: Path) -> None:
    config = tmp_path / "bridge.toml"
    config.write_text(
        '[bridge]\nname = "Test"\nphone = "03984 70-0"\ndatabase = "data/bridge.db"\n'
        'default_queue = "wohngeld"\n[kpi]\nsl_threshold_s = 30\n'
        '[[queue]]\nid = "wohngeld"\nname = "Wohngeldstelle"\n',
        encoding="utf-8",
    )
    with SQLiteStore(tmp_path / "data" / "bridge.db") as store:
        store.apply(Changes(), fixture_log())
    args = ["report", "--config", str(config), "--from", "2026-03-02", "--to", "2026-03-03"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["meta"]["sl_threshold_s"] == 30.0
    assert data["total"]["service_level"] == 0.75
    assert data["meta"]["queue_names"] == {"wohngeld": "Wohngeldstelle"}
    result = runner.invoke(cli, [*args, "--sl-threshold", "4"])
    assert json.loads(result.stdout)["total"]["service_level"] == 0.0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--from", "2026-13-01"], "--from '2026-13-01' is not a date"),
        (["--to", "gestern"], "--to 'gestern' is not a date"),
        (["--from", "2026-03-05", "--to", "2026-03-01"], "is after --to"),
        (["--format", "pdf"], "--format 'pdf' is not one of: json, csv, html"),
        (["--tz", "Mars/Olympus"], "unknown time zone"),
    ],
)
def test_cli_usage_errors(cli: typer.Typer, db: Path, extra: list[str], message: str) -> None:
    result = runner.invoke(cli, ["report", "--db", str(db), *extra])
    assert result.exit_code == 2
    assert message in result.stderr


def test_cli_missing_database(cli: typer.Typer, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "bridge.db"
    result = runner.invoke(cli, ["report", "--db", str(missing), "--from", "2026-03-02"])
    assert result.exit_code == 2
    assert f"database {missing} does not exist" in result.stderr
    assert not missing.parent.exists()  # a report never creates a database
    result = runner.invoke(cli, ["report"])
    assert result.exit_code == 2 and "--db" in result.stderr
    not_db = tmp_path / "notes.txt"
    not_db.write_text("hello " * 200)
    result = runner.invoke(cli, ["report", "--db", str(not_db)])
    assert result.exit_code == 2 and "notes.txt is not a LISA database" in result.stderr
