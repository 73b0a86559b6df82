"""gpiozero plumbing shared by the GPIO drivers (``door_gpio``, ``light_gpio``).

gpiozero is imported lazily (only when a GPIO driver starts), so a simulated booth or a PC
without it never needs the library. ``pin_factory = "default"`` lets gpiozero choose (lgpio,
RPi.GPIO, pigpio, native, or ``GPIOZERO_PIN_FACTORY``); ``"mock"`` uses one process-wide
:class:`gpiozero.pins.mock.MockFactory` with PWM-capable pins (tests, bench without a Pi).

Pins are given as BCM GPIO numbers (``17``) or any gpiozero pin name (``"GPIO17"``,
``"BOARD11"``).
"""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import Callable, Iterator
from typing import Any, Literal

PinName = int | str
PinFactoryName = Literal["default", "mock"]


def mock_pin_factory() -> Any:
    """gpiozero's ``Device.pin_factory`` if it is a ``MockFactory``, else a new
    ``MockFactory(pin_class=MockPWMPin)`` installed there (shared with the other GPIO drivers,
    e.g. the HC-SR04 sonar). Tests install their own factory first and build their peer on it
    (``factory.pin(n)`` returns the pin the driver uses)."""
    import gpiozero
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    current = gpiozero.Device.pin_factory
    if isinstance(current, MockFactory):
        return current
    factory = MockFactory(pin_class=MockPWMPin)
    gpiozero.Device.pin_factory = factory
    return factory


@contextlib.contextmanager
def pwm_capable(factory: Any) -> Iterator[None]:
    """While PWM devices claim their pins: on a ``MockFactory`` whose default pins cannot PWM
    (e.g. installed by another driver), create PWM-capable mock pins (no-op otherwise)."""
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    if not isinstance(factory, MockFactory) or issubclass(factory.pin_class, MockPWMPin):
        yield
        return
    previous = factory.pin_class
    factory.pin_class = MockPWMPin
    try:
        yield
    finally:
        factory.pin_class = previous


def pin_factory(name: PinFactoryName) -> Any:
    """The gpiozero pin factory for ``name``; raises with a readable message when gpiozero
    is missing or (``"default"``) no pin library works on this machine."""
    try:
        import gpiozero
    except ImportError as exc:
        raise RuntimeError(f"gpiozero is not installed ({exc})") from None
    if name == "mock":
        return mock_pin_factory()
    # gpiozero warns once per pin library it cannot load; the final error says it all
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gpiozero.exc.PinFactoryFallback)
        gpiozero.Device.ensure_pin_factory()
    return gpiozero.Device.pin_factory


def close_all(devices: list[Any]) -> None:
    """Close gpiozero devices, ignoring errors (used on stop and after a failed start)."""
    for device in devices:
        with contextlib.suppress(Exception):
            device.close()


def loop_callback(loop: asyncio.AbstractEventLoop, fn: Callable[[], None]) -> Callable[[], None]:
    """A gpiozero event handler that runs ``fn`` on ``loop``.

    Real pin libraries call handlers from their own thread (the mock pins from the thread that
    drives the pin), so every handler hops onto the driver's loop. After the loop has closed
    the event is dropped.
    """

    def handler() -> None:
        with contextlib.suppress(RuntimeError):  # loop closed
            loop.call_soon_threadsafe(fn)

    return handler
