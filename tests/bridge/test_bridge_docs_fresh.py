"""The generated bridge config reference must match the code."""

from __future__ import annotations

from pathlib import Path

from cloud_bridge.config_cli import config_reference_text

DOCS = Path(__file__).parents[2] / "docs"


def test_bridge_config_reference_is_fresh() -> None:
    current = (DOCS / "bridge-config.md").read_text(encoding="utf-8")
    assert current == config_reference_text(), (
        "docs/bridge-config.md is stale: run "
        "`lisa bridge config-reference --write docs/bridge-config.md`"
    )
