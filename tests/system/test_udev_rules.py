"""The udev rules and the systemd unit agree: every group the rules hand devices to is one of the
service's SupplementaryGroups, and every device class the rules touch has a DeviceAllow line."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "systemd" / "udev" / "99-lisa.rules"
UNIT = ROOT / "systemd" / "lisa-booth.service"
TOKEN = re.compile(r'^\s*([A-Z]+(?:\{[^}]*\})?)\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*$')
DEVICE_ALLOW = {
    "gpio": "char-gpiochip",
    "tty": "char-ttyUSB",
    "usb": "char-usb_device",
    "hidraw": "char-hidraw",
    "input": "char-input",
    "video4linux": "char-video4linux",
}


def rules() -> list[dict[str, str]]:
    out = []
    for n, line in enumerate(RULES.read_text("utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        rule: dict[str, str] = {}
        for part in line.split(","):
            m = TOKEN.match(part)
            assert m, f"99-lisa.rules:{n}: cannot parse {part.strip()!r}"
            rule[m.group(1)] = m.group(3)
        out.append(rule)
    return out


def unit_values(key: str) -> list[str]:
    return [
        line.split("=", 1)[1].strip()
        for line in UNIT.read_text("utf-8").splitlines()
        if line.startswith(f"{key}=")
    ]


def test_rules_parse_and_groups_are_supplementary_groups() -> None:
    groups = " ".join(unit_values("SupplementaryGroups")).split()
    parsed = rules()
    assert parsed
    for rule in parsed:
        assert rule.get("GROUP") in groups, f"group {rule.get('GROUP')} not in {groups}"
        assert rule.get("MODE") == "0660"


def test_every_device_class_has_a_device_allow_line() -> None:
    allowed = {v.split()[0] for v in unit_values("DeviceAllow")}
    for rule in rules():
        subsystem = rule.get("SUBSYSTEM")
        if subsystem is None:
            assert rule.get("KERNEL") == "gpiomem"
            assert "/dev/gpiomem" in allowed
            continue
        assert DEVICE_ALLOW[subsystem] in allowed, f"no DeviceAllow for {subsystem}"
