"""Bridge config: validation with messages naming file, line and key path; derived specs."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cloud_bridge.acd.model import Strategy
from cloud_bridge.config import (
    AcdDefaults,
    AgentEntry,
    BoothEntry,
    BridgeConfigError,
    BridgeSection,
    HoursTable,
    HttpSection,
    KpiSection,
    MqttSection,
    QueueEntry,
    SiteEntry,
    key_lines,
    load_bridge_config,
    parse_bridge_config,
)
from cloud_bridge.config_cli import check_config, config_reference, config_reference_text
from cloud_bridge.hours import OpeningHours

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "cloud_bridge" / "examples" / "uckermark.toml"

BASE = """\
[bridge]
name = "Test"
phone = "03984 70-0"

[hours.verwaltung]
mon = ["08:00-12:00"]
tue = ["08:00-12:00", "13:00-17:00"]
closed = ["2026-12-24"]

[[site]]
id = "gartz"
name = "Gartz – Sparkasse"

[[booth]]
id = "gartz-01"
site = "gartz"
name = "Kabine Gartz"

[[queue]]
id = "clearing"
name = "Empfang"
max_wait_s = 600

[[queue]]
id = "wohngeld"
name = "Wohngeldstelle"
hours = "verwaltung"
overflow = "clearing"

[[agent]]
id = "clearing1"
display_name = "Bürgerservice – Empfang"
queues = { clearing = 1, wohngeld = 2 }
"""


def write(tmp_path: Path, text: str, name: str = "bridge.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def line_of(text: str, needle: str, nth: int = 0) -> int:
    """1-based line of the ``nth`` line equal to ``needle``."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if line == needle]
    return hits[nth]


def problems(tmp_path: Path, text: str) -> str:
    with pytest.raises(BridgeConfigError) as exc:
        load_bridge_config(write(tmp_path, text))
    return str(exc.value)


# ------------------------------------------------------------------------- valid configs
def test_minimal_config_defaults(tmp_path: Path) -> None:
    cfg = load_bridge_config(write(tmp_path, BASE))
    assert cfg.bridge.timezone == "Europe/Berlin"
    assert cfg.bridge.default_queue == "clearing"
    assert cfg.bridge.agent_grace_s == 30 and cfg.bridge.booth_offline_grace_s == 60
    assert cfg.mqtt.url == "mqtt://127.0.0.1:1883" and cfg.mqtt.client_id == "lisa-bridge"
    assert cfg.mqtt.username == "bridge" and cfg.mqtt.password_file is None
    assert cfg.http.host == "127.0.0.1" and cfg.http.port == 8080
    assert cfg.http.token_ttl_s == 43200 and cfg.kpi.sl_threshold_s == 20
    assert cfg.http.trusted_proxies == []  # X-Forwarded-For is not believed
    assert cfg.acd.ring_timeout_s == 20 and cfg.acd.default_aht_s == 300


def test_relative_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    sub = tmp_path / "etc"
    sub.mkdir()
    text = BASE.replace("[hours", '[mqtt]\npassword_file = "secret"\ntls_ca = "/ca.pem"\n\n[hours')
    cfg = load_bridge_config(write(sub, text))
    assert cfg.bridge.database == sub / "var" / "bridge" / "bridge.db"
    assert cfg.bridge.database.is_absolute()
    assert cfg.mqtt.password_file == sub / "secret"
    assert cfg.mqtt.tls_ca == Path("/ca.pem")
    absolute = load_bridge_config(
        write(sub, BASE.replace('phone = "03984 70-0"', 'phone = "1"\ndatabase = "/x/b.db"'))
    )
    assert absolute.bridge.database == Path("/x/b.db")


def test_trusted_proxies(tmp_path: Path) -> None:
    text = BASE.replace(
        "[hours", '[http]\ntrusted_proxies = ["127.0.0.1", "10.0.0.0/8", "::1"]\n\n[hours'
    )
    cfg = load_bridge_config(write(tmp_path, text))
    assert cfg.http.trusted_proxies == ["127.0.0.1", "10.0.0.0/8", "::1"]


def test_overrides_merge_into_the_file(tmp_path: Path) -> None:
    cfg = load_bridge_config(
        write(tmp_path, BASE), overrides={"bridge": {"database": "demo.db"}, "http": {"port": 9}}
    )
    assert cfg.bridge.database == tmp_path / "demo.db"
    assert cfg.bridge.name == "Test" and cfg.http.port == 9


def test_queue_specs_fill_in_acd_defaults_and_hours(tmp_path: Path) -> None:
    text = BASE.replace('phone = "03984 70-0"', 'phone = "03984 70-0"\n\n[acd]\nwrapup_s = 45')
    text += '\n[[queue]]\nid = "aok"\nname = "AOK"\nstrategy = "ring_all"\nwrapup_s = 0\n'
    text += 'phone = "03984 1"\nring_timeout_s = 25\nno_answer_not_ready = false\n'
    text += "transfer_priority = 3\ndecline_block_s = 5\nclerk_wait_s = 0\ndefault_aht_s = 60\n"
    cfg = load_bridge_config(write(tmp_path, text))
    clearing, wohngeld, aok = cfg.queue_specs()
    assert clearing.id == "clearing" and clearing.name == "Empfang"
    assert clearing.strategy is Strategy.LONGEST_IDLE
    assert clearing.max_wait_s == 600 and clearing.overflow is None and clearing.hours is None
    assert clearing.wrapup_s == 45 and clearing.ring_timeout_s == 20
    assert clearing.phone == "03984 70-0"  # bridge.phone
    assert clearing.decline_block_s == 30 and clearing.clerk_wait_s == 120
    assert clearing.transfer_priority == 10 and clearing.no_answer_not_ready is True
    assert wohngeld.overflow == "clearing" and wohngeld.max_wait_s is None
    assert isinstance(wohngeld.hours, OpeningHours)
    assert wohngeld.hours.text == "Mo und Di 8:00–12:00 Uhr, Di auch 13:00–17:00 Uhr"
    assert wohngeld.hours.tz == "Europe/Berlin"
    assert aok.strategy is Strategy.RING_ALL and aok.wrapup_s == 0 and aok.phone == "03984 1"
    assert aok.ring_timeout_s == 25 and aok.no_answer_not_ready is False
    assert aok.transfer_priority == 3 and aok.decline_block_s == 5
    assert aok.clerk_wait_s == 0 and aok.default_aht_s == 60
    assert all(q.hours is None for q in cfg.queue_specs(always_open=True))


def test_hours_use_the_bridge_time_zone(tmp_path: Path) -> None:
    text = BASE.replace('name = "Test"', 'name = "Test"\ntimezone = "Europe/London"')
    cfg = load_bridge_config(write(tmp_path, text))
    assert cfg.opening_hours()["verwaltung"].tz == "Europe/London"
    assert cfg.queue_specs()[1].hours == cfg.opening_hours()["verwaltung"]


def test_agent_specs_and_booth_queue(tmp_path: Path) -> None:
    text = BASE + '\n[[agent]]\nid = "wohngeld1"\ndisplay_name = "Wohngeldstelle"\n'
    text += 'queues = { wohngeld = 1 }\nskills = ["en", "pl"]\n'
    text += '\n[[booth]]\nid = "templin-01"\nsite = "gartz"\nname = "T"\nqueue = "wohngeld"\n'
    cfg = load_bridge_config(write(tmp_path, text))
    clearing1, wohngeld1 = cfg.agent_specs()
    assert clearing1.id == "clearing1" and clearing1.display_name == "Bürgerservice – Empfang"
    assert clearing1.queues == {"clearing": 1, "wohngeld": 2} and clearing1.skills == frozenset()
    assert wohngeld1.skills == frozenset({"en", "pl"})
    assert cfg.booth_queue("gartz-01") == "clearing"
    assert cfg.booth_queue("templin-01") == "wohngeld"
    with pytest.raises(KeyError, match="unknown booth 'nowhere-01'"):
        cfg.booth_queue("nowhere-01")


def test_mqtt_password(tmp_path: Path) -> None:
    assert load_bridge_config(write(tmp_path, BASE)).mqtt_password() is None
    text = BASE.replace("[hours", '[mqtt]\npassword_file = "mqtt.pw"\n\n[hours')
    path = write(tmp_path, text)
    cfg = load_bridge_config(path)
    with pytest.raises(BridgeConfigError) as exc:
        cfg.mqtt_password()
    msg = str(exc.value)
    line = line_of(text, 'password_file = "mqtt.pw"')
    assert f"{path}:{line}: mqtt.password_file: cannot read {tmp_path / 'mqtt.pw'}" in msg
    (tmp_path / "mqtt.pw").write_text("\n", encoding="utf-8")
    with pytest.raises(BridgeConfigError, match=r"mqtt\.pw is empty"):
        cfg.mqtt_password()
    (tmp_path / "mqtt.pw").write_text("s3cret \nignored\n", encoding="utf-8")
    assert cfg.mqtt_password() == "s3cret"


# ----------------------------------------------------------------------- type errors
def test_unknown_key_names_file_line_and_key(tmp_path: Path) -> None:
    text = BASE.replace("max_wait_s = 600", "max_wait_s = 600\nmax_wiat_s = 3")
    msg = problems(tmp_path, text)
    line = line_of(text, "max_wiat_s = 3")
    assert f"bridge.toml:{line}: queue[0].max_wiat_s: unknown key (typo?)" in msg


def test_unknown_top_level_table(tmp_path: Path) -> None:
    text = BASE + "\n[[agents]]\nid = 'x'\n"
    assert f":{line_of(text, '[[agents]]')}: agents: unknown key (typo?)" in problems(
        tmp_path, text
    )


def test_wrong_type_shows_value_and_line(tmp_path: Path) -> None:
    text = BASE.replace("[[site]]", "[http]\nport = 'eighty'\n\n[[site]]")
    msg = problems(tmp_path, text)
    assert f":{line_of(text, 'port = ' + chr(39) + 'eighty' + chr(39))}: http.port:" in msg
    assert "(got 'eighty')" in msg


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        ('phone = "03984 70-0"\n', "", "bridge.phone", "Field required"),
        (
            'name = "Test"',
            'name = "Test"\ntimezone = "Mars/Base"',
            "bridge.timezone",
            "unknown time zone 'Mars/Base'",
        ),
        (
            'name = "Test"',
            'name = "Test"\nagent_grace_s = 0',
            "bridge.agent_grace_s",
            "greater than 0",
        ),
        ("[hours", '[mqtt]\nurl = "http://broker"\n\n[hours', "mqtt.url", "should match pattern"),
        ("[hours", "[http]\nport = 70000\n\n[hours", "http.port", "less than or equal to 65535"),
        (
            "[hours",
            '[http]\ntrusted_proxies = ["127.0.0.1", "proxy.local"]\n\n[hours',
            "http.trusted_proxies",
            "'proxy.local' is no IP address or network",
        ),
        ("[hours", "[kpi]\nsl_threshold_s = -1\n\n[hours", "kpi.sl_threshold_s", "greater than 0"),
        ("[hours", "[acd]\nring_timeout_s = 0\n\n[hours", "acd.ring_timeout_s", "greater than 0"),
        ('id = "gartz-01"', 'id = "Gartz 01"', "booth[0].id", "should match pattern"),
        ('id = "gartz"', 'id = "Gartz"', "site[0].id", "should match pattern"),
        ('id = "wohngeld"', 'id = "wohn_geld"', "queue[1].id", "should match pattern"),
        ('id = "clearing1"', 'id = "clearing 1"', "agent[0].id", "should match pattern"),
        ("max_wait_s = 600", "max_wait_s = 0", "queue[0].max_wait_s", "greater than 0"),
        (
            "max_wait_s = 600",
            "max_wait_s = 600\nstrategy = 'random'",
            "queue[0].strategy",
            "'longest_idle', 'round_robin', 'fewest_calls' or 'ring_all' (got 'random')",
        ),
        (
            "clearing = 1, wohngeld = 2",
            "clearing = 0, wohngeld = 2",
            "agent[0].queues.clearing",
            "greater than or equal to 1 (got 0)",
        ),
        ('name = "Kabine Gartz"', "", "booth[0].name", "Field required"),
        (
            'tue = ["08:00-12:00", "13:00-17:00"]',
            'tue = ["8:00-7:00"]',
            "hours.verwaltung.tue",
            "'8:00-7:00': end before start",
        ),
        (
            'mon = ["08:00-12:00"]',
            'mon = ["08:00-12:00", "11:00-14:00"]',
            "hours.verwaltung.mon",
            "'11:00-14:00' overlaps '08:00-12:00'",
        ),
        (
            'closed = ["2026-12-24"]',
            'closed = ["24.12.2026"]',
            "hours.verwaltung.closed[0]",
            "valid date",
        ),
        (
            'mon = ["08:00-12:00"]',
            'mo = ["08:00-12:00"]',
            "hours.verwaltung.mo",
            "unknown key (typo?)",
        ),
    ],
)
def test_field_errors(tmp_path: Path, old: str, new: str, key: str, message: str) -> None:
    assert old in BASE
    text = BASE.replace(old, new, 1)
    msg = problems(tmp_path, text)
    assert f": {key}: " in msg and message in msg, msg
    assert msg.startswith(str(tmp_path / "bridge.toml") + ":")


def test_field_error_lines(tmp_path: Path) -> None:
    text = BASE.replace('tue = ["08:00-12:00", "13:00-17:00"]', 'tue = ["8:00-7:00"]')
    msg = problems(tmp_path, text)
    line = line_of(text, 'tue = ["8:00-7:00"]')
    assert msg == (
        f"{tmp_path / 'bridge.toml'}:{line}: hours.verwaltung.tue: '8:00-7:00': end before start"
    )


# ---------------------------------------------------------------------- cross-checks
@pytest.mark.parametrize(
    ("kind", "old", "new"),
    [
        ("site", "[[booth]]", '[[site]]\nid = "gartz"\nname = "again"\n\n[[booth]]'),
        (
            "booth",
            "[[queue]]",
            '[[booth]]\nid = "gartz-01"\nsite = "gartz"\nname = "b"\n\n[[queue]]',
        ),
        ("queue", "[[agent]]", '[[queue]]\nid = "wohngeld"\nname = "again"\n\n[[agent]]'),
    ],
)
def test_duplicate_ids(tmp_path: Path, kind: str, old: str, new: str) -> None:
    text = BASE.replace(old, new, 1)
    msg = problems(tmp_path, text)
    index = {"site": 1, "booth": 1, "queue": 2}[kind]
    first = {"site": 0, "booth": 0, "queue": 1}[kind]
    ident = {"site": "gartz", "booth": "gartz-01", "queue": "wohngeld"}[kind]
    line = line_of(text, f'id = "{ident}"', 1)
    assert (
        f":{line}: {kind}[{index}].id: duplicate {kind} id {ident!r} "
        f"(already used by {kind}[{first}])"
    ) in msg


def test_duplicate_agent_id(tmp_path: Path) -> None:
    text = BASE + '\n[[agent]]\nid = "clearing1"\ndisplay_name = "x"\n'
    line = line_of(text, 'id = "clearing1"', 1)
    assert f":{line}: agent[1].id: duplicate agent id 'clearing1'" in problems(tmp_path, text)


def test_booth_site_must_exist(tmp_path: Path) -> None:
    text = BASE.replace('site = "gartz"', 'site = "gratz"')
    line = line_of(text, 'site = "gratz"')
    assert (
        f"bridge.toml:{line}: booth[0].site: booth 'gartz-01': unknown site 'gratz' (sites: gartz)"
    ) in problems(tmp_path, text)


def test_booth_queue_must_exist(tmp_path: Path) -> None:
    text = BASE.replace('name = "Kabine Gartz"', 'name = "Kabine Gartz"\nqueue = "wohngeldd"')
    line = line_of(text, 'queue = "wohngeldd"')
    assert (
        f":{line}: booth[0].queue: booth 'gartz-01': unknown queue 'wohngeldd' "
        "(queues: clearing, wohngeld)"
    ) in problems(tmp_path, text)


def test_queue_hours_must_exist(tmp_path: Path) -> None:
    text = BASE.replace('hours = "verwaltung"', 'hours = "amt"')
    line = line_of(text, 'hours = "amt"')
    assert (
        f":{line}: queue[1].hours: queue 'wohngeld': unknown opening hours 'amt' "
        "([hours.NAME] tables: verwaltung)"
    ) in problems(tmp_path, text)


def test_overflow_must_exist(tmp_path: Path) -> None:
    text = BASE.replace('overflow = "clearing"', 'overflow = "empfang"')
    line = line_of(text, 'overflow = "empfang"')
    assert (
        f":{line}: queue[1].overflow: queue 'wohngeld' overflows to unknown queue 'empfang' "
        "(queues: clearing, wohngeld)"
    ) in problems(tmp_path, text)


def test_overflow_cycles(tmp_path: Path) -> None:
    text = BASE.replace("max_wait_s = 600", 'max_wait_s = 600\noverflow = "wohngeld"')
    msg = problems(tmp_path, text)
    line = line_of(text, 'overflow = "wohngeld"')
    assert f":{line}: queue[0].overflow: overflow cycle: clearing → wohngeld → clearing" in msg
    assert msg.count("overflow cycle") == 1  # reported once, not for every member
    selfish = BASE.replace("max_wait_s = 600", 'max_wait_s = 600\noverflow = "clearing"')
    assert "queue[0].overflow: overflow cycle: clearing → clearing" in problems(tmp_path, selfish)
    three = BASE.replace('overflow = "clearing"', 'overflow = "aok"')
    three += '\n[[queue]]\nid = "aok"\nname = "AOK"\noverflow = "wohngeld"\n'
    msg = problems(tmp_path, three)
    assert "queue[1].overflow: overflow cycle: wohngeld → aok → wohngeld" in msg
    # a chain into a cycle is fine for its head, the cycle itself is reported
    assert msg.count("overflow cycle") == 1


def test_agent_queues_must_exist(tmp_path: Path) -> None:
    text = BASE.replace("clearing = 1, wohngeld = 2", "clearing = 1, wohnGeld = 2")
    line = line_of(text, "queues = { clearing = 1, wohnGeld = 2 }")
    assert (
        f":{line}: agent[0].queues.wohnGeld: agent 'clearing1': unknown queue 'wohnGeld' "
        "(queues: clearing, wohngeld)"
    ) in problems(tmp_path, text)


def test_agent_id_must_not_be_a_queue_id(tmp_path: Path) -> None:
    text = BASE + '\n[[agent]]\nid = "wohngeld"\ndisplay_name = "x"\n'
    assert "agent[1].id: agent id 'wohngeld' is also a queue id" in problems(tmp_path, text)


def test_default_queue_must_exist(tmp_path: Path) -> None:
    text = BASE.replace('name = "Test"', 'name = "Test"\ndefault_queue = "empfang"')
    line = line_of(text, 'default_queue = "empfang"')
    assert (
        f":{line}: bridge.default_queue: unknown queue 'empfang' (queues: clearing, wohngeld)"
    ) in problems(tmp_path, text)


def test_every_problem_is_reported(tmp_path: Path) -> None:
    text = BASE.replace('site = "gartz"', 'site = "x"').replace(
        'hours = "verwaltung"', 'hours = "y"'
    )
    with pytest.raises(BridgeConfigError) as exc:
        load_bridge_config(write(tmp_path, text))
    assert len(exc.value.problems) == 2
    assert len(str(exc.value).splitlines()) == 2


def test_no_queues_at_all(tmp_path: Path) -> None:
    msg = problems(tmp_path, '[bridge]\nname = "x"\nphone = "1"\n')
    assert "bridge.default_queue: unknown queue 'clearing' (queues: none defined)" in msg


# ------------------------------------------------------------------------ file errors
def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BridgeConfigError, match=r"nope\.toml: cannot read file: No such file"):
        load_bridge_config(tmp_path / "nope.toml")


def test_invalid_toml_names_line_and_column(tmp_path: Path) -> None:
    text = BASE.replace("max_wait_s = 600", "max_wait_s = = 600")
    line = line_of(text, "max_wait_s = = 600")
    assert f"bridge.toml:{line}:14: invalid TOML" in problems(tmp_path, text)


def test_parse_without_a_file() -> None:
    with pytest.raises(BridgeConfigError) as exc:
        parse_bridge_config({"bridge": {"name": "x"}})
    assert exc.value.problems == [" bridge.phone: Field required"]
    assert str(exc.value) == "<config>: bridge.phone: Field required"


def test_key_lines_counts_arrays_of_tables() -> None:
    lines = key_lines(BASE)
    assert lines[("queue", 1)] == line_of(BASE, "[[queue]]", 1)
    assert lines[("queue", 1, "overflow")] == line_of(BASE, 'overflow = "clearing"')
    assert lines[("hours", "verwaltung", "tue")] == line_of(
        BASE, 'tue = ["08:00-12:00", "13:00-17:00"]'
    )
    dotted = key_lines('[bridge]\nname = "a"\nmqtt.url = "x"\n"quoted key" = 1\n')
    assert dotted[("bridge", "mqtt", "url")] == 3 and dotted[("bridge", "quoted key")] == 4


# -------------------------------------------------------------------- the shipped example
def test_uckermark_example() -> None:
    cfg = load_bridge_config(EXAMPLE)
    queues = cfg.queue_specs()
    agents = cfg.agent_specs()
    assert len(queues) == 8 and len(agents) == 9
    assert [q.id for q in queues] == [
        "clearing",
        "grundsicherung",
        "hilfe-zur-pflege",
        "eingliederungshilfe",
        "sozial-sonstige",
        "wohngeld",
        "pflegestuetzpunkt",
        "aok",
    ]
    by_id = {a.id: a for a in agents}
    assert {
        "clearing1",
        "clearing2",
        "sozial1",
        "sozial2",
        "wohngeld1",
        "pflege1",
        "aok1",
        "super1",
    } <= set(by_id)
    sozial = {"grundsicherung", "hilfe-zur-pflege", "eingliederungshilfe", "sozial-sonstige"}
    assert by_id["clearing1"].queues == {"clearing": 1} == by_id["clearing2"].queues
    assert by_id["sozial1"].queues == dict.fromkeys(sozial, 1)
    assert by_id["sozial2"].queues == {**dict.fromkeys(sozial, 1), "eingliederungshilfe": 2}
    assert by_id["wohngeld1"].queues == {"wohngeld": 1}
    assert by_id["pflege1"].queues == {"pflegestuetzpunkt": 1}
    assert by_id["aok1"].queues == {"aok": 1}
    assert by_id["super1"].queues == {"clearing": 2}
    clearing = queues[0]
    assert clearing.max_wait_s == 600 and clearing.overflow is None
    assert all(q.hours is not None and q.phone.startswith("03984") for q in queues)
    assert [b.id for b in cfg.booths] == [
        "gartz-01",
        "gramzow-01",
        "angermuende-01",
        "templin-01",
        "lychen-01",
    ]
    assert all(cfg.booth_queue(b.id) == "clearing" for b in cfg.booths)
    sites = {s.id: s for s in cfg.sites}
    assert "Sparkasse" not in sites["angermuende"].name + (sites["angermuende"].address or "")
    assert "Landkreis" in sites["angermuende"].name
    assert all("Sparkasse" in s.name for k, s in sites.items() if k != "angermuende")
    assert cfg.bridge.database.is_absolute() and cfg.mqtt_password() is None


# ---------------------------------------------------------------------------- the CLI
def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("check-config")(check_config)
    app.command("config-reference")(config_reference)
    return app


def test_check_config_ok() -> None:
    result = CliRunner().invoke(_app(), ["check-config", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "OK (bridge 'LISA Uckermark': 5 sites, 5 booths, 8 queues, 9 agents)" in result.output
    result = CliRunner().invoke(_app(), ["check-config", "--json", str(EXAMPLE)])
    data = json.loads(result.output)
    assert data["ok"] is True and (data["sites"], data["booths"]) == (5, 5)
    assert (data["queues"], data["agents"]) == (8, 9)


def test_check_config_error_exits_2(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace('site = "gartz"', 'site = "x"'))
    result = CliRunner().invoke(_app(), ["check-config", str(path)])
    assert result.exit_code == 2
    assert "booth[0].site: booth 'gartz-01': unknown site 'x'" in result.output
    result = CliRunner().invoke(_app(), ["check-config", "--json", str(path)])
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["ok"] is False and "unknown site 'x'" in data["problems"][0]


def test_config_reference_prints_and_writes(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["config-reference"])
    assert result.exit_code == 0 and result.output == config_reference_text()
    target = tmp_path / "ref.md"
    result = CliRunner().invoke(_app(), ["config-reference", "--write", str(target)])
    assert result.exit_code == 0 and target.read_text(encoding="utf-8") == config_reference_text()


def test_reference_documents_every_key() -> None:
    doc = config_reference_text()
    for section in (
        "[bridge]",
        "[mqtt]",
        "[http]",
        "[kpi]",
        "[acd]",
        "[hours.NAME]",
        "[[site]]",
        "[[booth]]",
        "[[queue]]",
        "[[agent]]",
    ):
        assert f"## `{section}`" in doc
    models = [
        AcdDefaults,
        AgentEntry,
        BoothEntry,
        BridgeSection,
        HoursTable,
        HttpSection,
        KpiSection,
        MqttSection,
        QueueEntry,
        SiteEntry,
    ]
    for model in models:
        for name, info in model.model_fields.items():
            assert f"| `{info.alias or name}` |" in doc, f"{model.__name__}.{name}"
    assert "| `queue` | string, optional | `bridge.default_queue` |" in doc
    assert "| `wrapup_s` | number ≥ 0, optional | `acd.wrapup_s` |" in doc


# ------------------------------------------------------------------------ boundaries
FORBIDDEN = ("booth", "hal", "sim", "drivers")


@pytest.mark.parametrize("module", ["config.py", "config_cli.py", "hours.py"])
def test_does_not_import_the_booth_side(module: str) -> None:
    tree = ast.parse((ROOT / "cloud_bridge" / module).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            assert name.split(".")[0] not in FORBIDDEN, f"{module} imports {name}"
