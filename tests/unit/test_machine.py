"""The state machine's definition: triggers, callbacks and conditions are all known names."""

from __future__ import annotations

import inspect

import pytest

from booth.controller import BoothController
from booth.machine import (
    ALL_STATES,
    CONDITIONS,
    TOP_STATES,
    TRANSITIONS,
    BoothModel,
    Trigger,
    state_callbacks,
)
from hal.clock import LoopClock
from sim.harness import SimBooth


def test_every_trigger_has_a_transition_and_every_transition_a_known_trigger() -> None:
    used = {t["trigger"] for t in TRANSITIONS}
    assert used == set(Trigger)
    assert all(isinstance(t["trigger"], Trigger) for t in TRANSITIONS)


def test_conditions_and_after_callbacks_exist_on_the_controller() -> None:
    for name in CONDITIONS:
        assert callable(getattr(BoothController, name, None)), name


def test_the_controller_implements_every_state_callback() -> None:
    names = [n for n, _ in inspect.getmembers(BoothModel, inspect.isfunction) if n[0] != "_"]
    assert len(names) == 18
    for name in names:
        assert inspect.iscoroutinefunction(getattr(BoothController, name)), name


async def test_callbacks_are_bound_methods_of_the_model_for_every_state() -> None:
    booth = SimBooth.from_example(LoopClock())
    callbacks = state_callbacks(booth.controller)
    assert set(callbacks) == {*TOP_STATES, *ALL_STATES}
    for on_enter, on_exit in callbacks.values():
        for cb in (*on_enter, *on_exit):
            assert getattr(cb, "__self__", None) is booth.controller


async def test_posting_an_unknown_trigger_fails_loudly() -> None:
    booth = SimBooth.from_example(LoopClock())
    with pytest.raises(TypeError, match="not a booth trigger"):
        booth.controller.post("presence_onn")  # type: ignore[arg-type]
