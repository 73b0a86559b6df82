"""Booth config: validation with clear messages naming file, line and key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from booth.config import ConfigError, load_config

EXAMPLES = sorted((Path(__file__).parents[2] / "booth" / "examples").glob("*.toml"))
LISA = str(Path(sys.executable).parent / "lisa")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_shipped_examples_are_valid(path: Path) -> None:
    config, options = load_config(path)
    assert config.booth.id
    assert set(options) == set(config.devices.slots())


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "booth.toml"
    p.write_text(text, encoding="utf-8")
    return p


BASE = """
[booth]
id = "gartz-1"

[devices.presence]
driver = "sim"

[devices.door]
driver = "sim"

[devices.plc]
driver = "sim"

[central]
kind = "none"
"""


def test_minimal_config_is_valid_and_criticality_defaults(tmp_path: Path) -> None:
    config, _ = load_config(write(tmp_path, BASE))
    assert config.critical("door") and config.critical("presence")
    assert not config.critical("camera_document")


def test_config_without_central_is_refused(tmp_path: Path) -> None:
    # a booth without a central side would take in citizens whom nobody answers
    text = BASE.replace('\n[central]\nkind = "none"\n', "")
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, text))
    assert "central: the config has no [central] table" in str(exc.value)
    # reported together with the file's other problems
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, text.replace("[devices.door]", "[devices.doorr]")))
    assert "no [central] table" in str(exc.value) and "doorr" in str(exc.value)
    assert 'kind = "mqtt"' in str(exc.value) or 'kind = "mqtt"' in str(exc.value)


def test_unknown_central_kind_names_the_known_ones(tmp_path: Path) -> None:
    text = BASE.replace('kind = "none"', 'kind = "carrier-pigeon"')
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, text))
    line = text.splitlines().index('kind = "carrier-pigeon"') + 1
    msg = str(exc.value)
    assert f"booth.toml:{line}: central.kind: unknown central kind 'carrier-pigeon'" in msg
    assert "mqtt" in msg and "sim" in msg and "none" in msg


def test_simulated_central_settings_are_checked_by_the_simulator(tmp_path: Path) -> None:
    text = BASE.replace('kind = "none"', 'kind = "sim"\n\n[central.sim]\nanswer_after = -1')
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, text))
    line = text.splitlines().index("answer_after = -1") + 1
    assert f"booth.toml:{line}: central.sim.answer_after" in str(exc.value)
    # settings of a kind not chosen may stay (switching kinds); a table of no kind is a typo
    load_config(write(tmp_path, BASE + "\n[central.sim]\nanswer_after = 1\n"))
    with pytest.raises(ConfigError, match=r"central\.simm: unknown key"):
        load_config(write(tmp_path, BASE + "\n[central.simm]\nanswer_after = 1\n"))


def test_unknown_key_names_line_and_key(tmp_path: Path) -> None:
    text = BASE + "\n[presence]\ndelay_onn = 3\n"
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, text))
    msg = str(exc.value)
    line = text.splitlines().index("delay_onn = 3") + 1
    assert f"booth.toml:{line}: presence.delay_onn: unknown key" in msg


def test_wrong_type_shows_value(tmp_path: Path) -> None:
    text = BASE.replace(
        'driver = "sim"\n\n[devices.plc]',
        'driver = "sim"\n[devices.door.options]\ntravel_time = "slow"\n\n[devices.plc]',
    )
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, text))
    msg = str(exc.value)
    assert "devices.door.options.travel_time" in msg and "'slow'" in msg
    line = text.splitlines().index('travel_time = "slow"') + 1
    assert f":{line}:" in msg


def test_unknown_driver_lists_known(tmp_path: Path) -> None:
    text = BASE.replace('[devices.door]\ndriver = "sim"', '[devices.door]\ndriver = "magic"')
    with pytest.raises(
        ConfigError, match=r"devices\.door\.driver: unknown door driver 'magic' \(known: .*sim"
    ):
        load_config(write(tmp_path, text))


def test_missing_required_device(tmp_path: Path) -> None:
    text = BASE.replace('[devices.plc]\ndriver = "sim"\n', "")
    with pytest.raises(ConfigError, match=r"devices\.plc: Field required"):
        load_config(write(tmp_path, text))


def test_bad_booth_id_and_toml_syntax(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"booth\.id"):
        load_config(write(tmp_path, BASE.replace('"gartz-1"', '"Gartz 1"')))
    with pytest.raises(ConfigError, match=r"booth\.toml:3:\d+: invalid TOML"):
        load_config(write(tmp_path, "[booth]\nid = 'x'\nname = \n"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read file"):
        load_config(tmp_path / "nope.toml")


def test_check_config_cli_exit_codes(tmp_path: Path) -> None:
    ok = subprocess.run(
        [LISA, "booth", "check-config", str(EXAMPLES[0])], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    assert "OK" in ok.stdout
    bad = write(tmp_path, BASE + "\n[timing]\ntick = -1\n")
    res = subprocess.run([LISA, "booth", "check-config", str(bad)], capture_output=True, text=True)
    assert res.returncode == 2
    assert "timing.tick" in res.stderr and "greater than 0" in res.stderr
