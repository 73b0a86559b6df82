"""Generated docs must match the code: the state diagram and the config reference."""

from __future__ import annotations

from pathlib import Path

from booth.config_doc import config_reference
from booth.machine import TOP_STATES, state_machine_doc

DOCS = Path(__file__).parents[2] / "docs"


def test_state_machine_doc_is_fresh() -> None:
    current = (DOCS / "state-machine.md").read_text(encoding="utf-8")
    assert current == state_machine_doc(), (
        "docs/state-machine.md is stale: run `lisa booth diagram --write docs/state-machine.md`"
    )


def test_diagram_shows_every_state() -> None:
    doc = state_machine_doc()
    for state in TOP_STATES:
        assert f'state "{state}" as {state}' in doc


def test_config_reference_is_fresh() -> None:
    current = (DOCS / "config.md").read_text(encoding="utf-8")
    assert current == config_reference(), (
        "docs/config.md is stale: run `lisa booth config-reference --write docs/config.md`"
    )
