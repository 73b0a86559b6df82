"""The real sonar drivers against their real peers: ``hcsr04`` on gpiozero's MockFactory and
``maxbotix`` on a pseudo-terminal (the peers come from ``tests/contract/rigs_presence.py``).

Everything here runs on real time; waits are for events, with generous upper bounds.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pydantic import ValidationError
from recorder import Recorder

from drivers.presence_gpio import HcSr04Options, HcSr04Sensor
from drivers.presence_serial import MAX_LINE, MaxBotixOptions, MaxBotixSensor, parse_range
from hal.base import DriverContext
from hal.clock import LoopClock
from hal.devices import PresenceSensor
from hal.events import DistanceSample, HealthChanged
from hal.health import HealthStatus, SelftestOutcome

pytestmark = pytest.mark.realtime


def _load_rigs() -> ModuleType:
    # own module name: the contract conftest registers its copy under "contract_rigs_presence"
    name = "unit_presence_rigs"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).parents[1] / "contract" / "rigs_presence.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


rigs = _load_rigs()

WAIT = 3.0  # upper bound of every wait for an event (they normally come within ~0.5 s)


class Events(Recorder):
    """A sonar's events; ``health`` and ``sample`` wait (``WAIT`` at most) for the first match
    from ``start`` on."""

    def mark(self) -> int:
        return len(self.events)

    async def health(self, status: HealthStatus, start: int = 0, contains: str = "") -> Any:
        return await self.wait_for(
            lambda e: (
                isinstance(e, HealthChanged)
                and e.health.status is status
                and contains in e.health.reason
            ),
            WAIT,
            start,
        )

    async def sample(
        self, match: Callable[[float | None], bool] = lambda d: True, start: int = 0
    ) -> Any:
        return await self.wait_for(
            lambda e: isinstance(e, DistanceSample) and match(e.distance), WAIT, start
        )


def _is_none(distance: float | None) -> bool:
    return distance is None


def _near(value: float) -> Callable[[float | None], bool]:
    return lambda d: d is not None and abs(d - value) < 0.05


def _context() -> DriverContext:
    return DriverContext(clock=LoopClock())


# --- MaxBotix: parsing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "unit", "metres"),
    [
        (b"R0800", "mm", 0.8),
        (b"R0800\r", "mm", 0.8),
        (b"\nR2400\r\n", "mm", 2.4),
        (b"R5000", "mm", 5.0),
        (b"R080", "cm", 0.8),
        (b"R765", "cm", 7.65),
        (b"R0123", "cm", 1.23),
        (b"R100", "in", 2.54),
    ],
)
def test_parse_range(line: bytes, unit: Any, metres: float) -> None:
    assert parse_range(line, unit) == pytest.approx(metres)


@pytest.mark.parametrize(
    "line",
    [b"", b"R", b"R12", b"R12345", b"X0800", b"R08O0", b"r0800", b"R-800", b"R 800", b"\xff\xfe"],
)
def test_parse_range_rejects_garbage(line: bytes) -> None:
    with pytest.raises(ValueError, match="unparseable"):
        parse_range(line, "mm")


def test_options_check_the_ranges() -> None:
    with pytest.raises(ValidationError, match="min_range"):
        MaxBotixOptions(min_range=2.0, max_range=1.0)
    with pytest.raises(ValidationError, match="max_distance"):
        HcSr04Options(max_range=5.0, max_distance=4.0)
    with pytest.raises(ValidationError):
        MaxBotixOptions(unit="furlong")


# --- MaxBotix on a pty --------------------------------------------------------------------------


@pytest.fixture
def sonar_link(tmp_path: Path) -> Path:
    """The port path the driver opens: a symlink (like udev's /dev/lisa-sonar) we re-point."""
    return tmp_path / "lisa-sonar"


def _point(link: Path, target: str | Path) -> None:
    tmp = link.with_name(link.name + ".new")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    os.replace(tmp, link)


@pytest.fixture
def pty_sonar(sonar_link: Path) -> Iterator[Any]:
    peer = rigs.PtySonar(period=0.01)
    _point(sonar_link, peer.path)
    try:
        yield peer
    finally:
        peer.close()


def _maxbotix(port: Path, **options: Any) -> MaxBotixSensor:
    opts: dict[str, Any] = {
        "port": str(port),
        "sample_interval": 0.05,
        "stale_after": 0.3,
        "reconnect_interval": 0.05,
        "failures_to_unavailable": 3,
        "plausible_to_recover": 2,
    }
    opts.update(options)
    return MaxBotixSensor("presence", MaxBotixOptions(**opts), _context())


@pytest.fixture
async def maxbotix(pty_sonar: Any, sonar_link: Path) -> AsyncIterator[MaxBotixSensor]:
    device = _maxbotix(sonar_link)
    await device.start()
    try:
        yield device
    finally:
        await device.stop()


async def test_maxbotix_reads_ranges(maxbotix: MaxBotixSensor, pty_sonar: Any) -> None:
    assert isinstance(maxbotix, PresenceSensor)
    assert maxbotix.health().status is HealthStatus.OK
    events = Events(maxbotix)
    pty_sonar.person_at(0.8)
    sample = await events.sample(_near(0.8))
    assert sample.distance == pytest.approx(0.8)
    assert maxbotix.last_distance() == pytest.approx(0.8)
    result = await maxbotix.selftest()
    assert result.outcome is SelftestOutcome.PASS, result.message
    assert result.details["distance"] == pytest.approx(0.8)


async def test_maxbotix_no_target_reads_none_and_stays_ok(
    maxbotix: MaxBotixSensor, pty_sonar: Any
) -> None:
    events = Events(maxbotix)
    pty_sonar.no_echo()  # R5000
    await events.sample(_is_none)
    assert maxbotix.health().status is HealthStatus.OK
    result = await maxbotix.selftest()
    assert result.outcome is SelftestOutcome.FAIL and "no echo" in result.message


async def test_maxbotix_garbage_line_degrades_and_recovers(
    maxbotix: MaxBotixSensor, pty_sonar: Any
) -> None:
    events = Events(maxbotix)
    pty_sonar.person_at(0.8)
    await events.sample(_near(0.8))
    pty_sonar.hold()
    pty_sonar.write(b"R08x0\r")
    degraded = await events.health(HealthStatus.DEGRADED)
    assert degraded.health.reason == "unparseable reading"
    await events.sample(_is_none, start=events.events.index(degraded))
    assert maxbotix.last_distance() is None
    assert maxbotix.garbage_lines == 1
    result = await maxbotix.selftest()
    assert result.outcome is SelftestOutcome.FAIL and "unparseable" in result.message

    mark = events.mark()
    pty_sonar.resume()
    await events.health(HealthStatus.OK, mark)
    await events.sample(_near(0.8), mark)


async def test_maxbotix_noise_without_line_ends_is_one_bad_reading(
    maxbotix: MaxBotixSensor, pty_sonar: Any
) -> None:
    events = Events(maxbotix)
    await events.sample()
    pty_sonar.hold()
    pty_sonar.write(bytes(range(1, 13)) * (MAX_LINE // 12 + 2))  # binary noise, no CR
    await events.health(HealthStatus.DEGRADED, contains="unparseable")
    pty_sonar.write(b"\x00\xffR\r\r\rR2400\r")  # junk, empty lines, then a good line
    mark = events.mark()
    pty_sonar.resume()
    await events.health(HealthStatus.OK, mark)
    assert maxbotix.connected


async def test_maxbotix_implausible_reading(maxbotix: MaxBotixSensor, pty_sonar: Any) -> None:
    events = Events(maxbotix)
    pty_sonar.person_at(0.005)  # R0005: 5 mm, below min_range
    degraded = await events.health(HealthStatus.DEGRADED)
    assert degraded.health.reason == "implausible reading"
    await events.sample(_is_none)
    mark = events.mark()
    pty_sonar.empty()
    await events.health(HealthStatus.OK, mark)


async def test_maxbotix_silent_sensor_fails_then_is_unavailable(
    maxbotix: MaxBotixSensor, pty_sonar: Any
) -> None:
    events = Events(maxbotix)
    await events.sample()
    pty_sonar.hold()
    degraded = await events.health(HealthStatus.DEGRADED)
    assert "no reading from the sensor" in degraded.health.reason
    before = maxbotix.samples_emitted
    unavailable = await events.health(HealthStatus.UNAVAILABLE)
    assert "3 readings in a row" in unavailable.health.reason
    assert maxbotix.samples_emitted == before  # a failed reading emits no sample
    assert maxbotix.last_distance() is None
    mark = events.mark()
    pty_sonar.resume()
    await events.health(HealthStatus.OK, mark)


async def test_maxbotix_port_lost_then_reconnects(
    maxbotix: MaxBotixSensor, pty_sonar: Any, sonar_link: Path, tmp_path: Path
) -> None:
    events = Events(maxbotix)
    await events.sample(_near(2.4))

    pty_sonar.close()  # hang up: reads fail with EIO, the pts node goes away
    _point(sonar_link, tmp_path / "unplugged")  # and udev removes the symlink
    lost = await events.health(HealthStatus.UNAVAILABLE)
    assert "lost" in lost.health.reason, lost.health.reason
    assert not maxbotix.connected
    assert maxbotix.last_distance() is None
    retry = await events.health(HealthStatus.UNAVAILABLE, contains="still cannot open")
    assert "retrying every 0.05 s" in retry.health.reason
    result = await maxbotix.selftest()
    assert result.outcome is SelftestOutcome.FAIL

    replugged = rigs.PtySonar(period=0.01)
    try:
        replugged.person_at(1.1)
        mark = events.mark()
        _point(sonar_link, replugged.path)
        await events.health(HealthStatus.UNAVAILABLE, mark, contains="reopened")
        await events.health(HealthStatus.OK, mark)
        await events.sample(_near(1.1), mark)
        assert maxbotix.connected
        assert (await maxbotix.selftest()).outcome is SelftestOutcome.PASS
    finally:
        await maxbotix.stop()
        replugged.close()


async def test_maxbotix_missing_port_at_start(sonar_link: Path) -> None:
    device = _maxbotix(sonar_link)
    events = Events(device)
    await device.start()  # must not raise
    peer = None
    try:
        assert device.health().status is HealthStatus.UNAVAILABLE
        assert "cannot open serial port" in device.health().reason
        assert (await device.selftest()).outcome is SelftestOutcome.FAIL
        peer = rigs.PtySonar(period=0.01)
        _point(sonar_link, peer.path)  # plugged in later: the driver keeps trying
        await events.health(HealthStatus.OK)
        await events.sample(_near(2.4))
    finally:
        await device.stop()
        if peer is not None:
            peer.close()


async def test_maxbotix_without_pyserial(monkeypatch: pytest.MonkeyPatch, sonar_link: Path) -> None:
    monkeypatch.setitem(sys.modules, "serial", None)
    device = _maxbotix(sonar_link)
    await device.start()
    assert device.health().status is HealthStatus.UNAVAILABLE
    result = await device.selftest()
    assert result.outcome is SelftestOutcome.NOT_PRESENT
    assert "pip install lisa[hardware]" in result.message
    await device.stop()


# --- HC-SR04 on gpiozero's MockFactory ----------------------------------------------------------


@pytest.fixture
async def gpio() -> AsyncIterator[tuple[Any, Any, Any]]:
    """``(MockFactory, echo pin, peer)`` with the factory installed for gpiozero."""
    async with rigs.mock_gpio_sonar() as pins:
        yield pins


def _hcsr04(**options: Any) -> HcSr04Sensor:
    opts: dict[str, Any] = {
        "pin_factory": "mock",
        "trigger_pin": rigs.TRIGGER_PIN,
        "echo_pin": rigs.ECHO_PIN,
        "sample_interval": 0.1,
        "stale_after": 0.3,
        "failures_to_unavailable": 3,
        "plausible_to_recover": 2,
    }
    opts.update(options)
    return HcSr04Sensor("presence", HcSr04Options(**opts), _context())


@pytest.fixture
async def hcsr04(gpio: tuple[Any, Any, Any]) -> AsyncIterator[HcSr04Sensor]:
    device = _hcsr04()
    await device.start()
    try:
        yield device
    finally:
        await device.stop()


async def test_hcsr04_reads_the_echo(hcsr04: HcSr04Sensor, gpio: tuple[Any, Any, Any]) -> None:
    _, _, peer = gpio
    assert hcsr04.health().status is HealthStatus.OK
    result = await hcsr04.selftest()
    assert result.outcome is SelftestOutcome.PASS, result.message
    assert result.details["distance"] == pytest.approx(2.4, abs=0.05)
    events = Events(hcsr04)
    peer.person_at(1.0)
    await events.sample(_near(1.0))
    peer.no_echo()  # a 38 ms pulse: beyond max_distance
    await events.sample(_is_none)
    assert hcsr04.health().status is HealthStatus.OK


async def test_hcsr04_broken_echo_wire_fails_then_recovers(
    hcsr04: HcSr04Sensor, gpio: tuple[Any, Any, Any]
) -> None:
    factory, echo, peer = gpio
    events = Events(hcsr04)
    await events.sample(_near(2.4))
    peer.pin.echo_pin = factory.pin(5, pin_class=type(echo))  # the echo pulse goes nowhere
    degraded = await events.health(HealthStatus.DEGRADED)
    assert "no echo pulse" in degraded.health.reason
    assert "GPIO 24" in degraded.health.reason
    before = hcsr04.samples_emitted
    unavailable = await events.health(HealthStatus.UNAVAILABLE)
    assert "3 readings in a row" in unavailable.health.reason
    assert hcsr04.samples_emitted == before
    assert hcsr04.last_distance() is None
    result = await hcsr04.selftest()
    assert result.outcome is SelftestOutcome.FAIL and "no echo pulse" in result.message

    mark = events.mark()
    peer.pin.echo_pin = echo
    await events.health(HealthStatus.OK, mark)
    await events.sample(_near(2.4), mark)


async def test_hcsr04_implausible_reading(gpio: tuple[Any, Any, Any]) -> None:
    _, _, peer = gpio
    device = _hcsr04(max_range=3.0)
    await device.start()
    try:
        events = Events(device)
        peer.person_at(3.5)  # below max_distance (4 m), above max_range (3 m)
        degraded = await events.health(HealthStatus.DEGRADED)
        assert degraded.health.reason == "implausible reading"
        await events.sample(_is_none)
        mark = events.mark()
        peer.person_at(1.5)
        await events.health(HealthStatus.OK, mark)
    finally:
        await device.stop()


async def test_hcsr04_pins_that_cannot_be_opened(gpio: tuple[Any, Any, Any]) -> None:
    device = _hcsr04(trigger_pin="GPIO99")
    await device.start()  # must not raise
    try:
        health = device.health()
        assert health.status is HealthStatus.UNAVAILABLE
        assert "cannot open the HC-SR04 (TRIG GPIO99, ECHO 24)" in health.reason
        result = await device.selftest()
        assert result.outcome is SelftestOutcome.FAIL
    finally:
        await device.stop()


async def test_hcsr04_without_gpiozero(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gpiozero", None)
    device = _hcsr04()
    await device.start()
    assert device.health().status is HealthStatus.UNAVAILABLE
    assert "pip install lisa[hardware]" in device.health().reason
    result = await device.selftest()
    assert result.outcome is SelftestOutcome.NOT_PRESENT
    assert "pip install lisa[hardware]" in result.message
    await device.stop()
