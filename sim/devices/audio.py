"""Simulated audio I/O: microphone level, loudspeaker test tone with loopback, induction loop."""

from __future__ import annotations

import math

from pydantic import Field

from hal.base import DriverContext, DriverOptions
from hal.events import DeviceKind
from hal.health import SelftestResult
from sim.devices._base import SimDevice

SILENCE_DBFS = -120.0


def _power(dbfs: float) -> float:
    return 0.0 if dbfs <= SILENCE_DBFS else 10.0 ** (dbfs / 10.0)


def _dbfs(power: float) -> float:
    return SILENCE_DBFS if power <= 0.0 else max(SILENCE_DBFS, 10.0 * math.log10(power))


class SimAudioIOOptions(DriverOptions):
    ambient_level_dbfs: float = Field(
        -60.0, le=0.0, description="Microphone level in the quiet booth (dBFS)."
    )
    loopback_level_dbfs: float = Field(
        -20.0, le=0.0, description="Microphone level while a test tone plays (dBFS)."
    )
    selftest_frequency: float = Field(1000.0, gt=0.0, description="Self-test tone in Hz.")
    selftest_tone_duration: float = Field(0.5, gt=0.0, description="Self-test tone in seconds.")
    selftest_measure_duration: float = Field(
        0.2, gt=0.0, description="Seconds the self-test measures with and without the tone."
    )
    selftest_min_rise_db: float = Field(
        20.0, gt=0.0, description="How much the tone must raise the level for the self-test."
    )


class SimAudioIO(SimDevice):
    """Microphone + loudspeaker + induction loop.

    ``input_level(duration)`` measures for ``duration`` seconds on the clock and returns the
    power average over that window: the ambient level plus, for the part of the window a test
    tone played, the loopback level.

    Test control:

    - ``mute_microphone()`` / ``unmute_microphone()``: the microphone delivers silence (-120);
    - ``set_ambient(level_dbfs)``: change the room noise;
    - ``fail(reason)`` / ``recover()``: every request raises ``DeviceError``.
    """

    kind = DeviceKind.AUDIO
    Options = SimAudioIOOptions

    def __init__(self, name: str, options: SimAudioIOOptions, context: DriverContext) -> None:
        super().__init__(name, context)
        self.options = options
        self.ambient_dbfs = options.ambient_level_dbfs
        self.muted = False
        self._loop_on = False
        self._tones: list[tuple[float, float]] = []  # (start, end) clock times

    # -- protocol ------------------------------------------------------------------------------
    async def input_level(self, duration: float = 0.2) -> float:
        if not (math.isfinite(duration) and duration > 0.0):
            raise ValueError(f"duration must be > 0, got {duration!r}")
        self._check()
        start = self.clock.now()
        await self.clock.sleep(duration)
        self._check()
        end = start + duration
        if self.muted:
            return SILENCE_DBFS
        tone_time = sum(max(0.0, min(end, t1) - max(start, t0)) for t0, t1 in self._tones)
        fraction = min(1.0, tone_time / duration)
        power = _power(self.ambient_dbfs) + fraction * _power(self.options.loopback_level_dbfs)
        self._tones = [(t0, t1) for t0, t1 in self._tones if t1 > end - 60.0]
        return round(_dbfs(power), 2)

    async def play_test_tone(self, frequency: float = 1000.0, duration: float = 0.5) -> None:
        """Play a sine tone; returns when it has finished (``duration`` on the clock)."""
        self._record("play_test_tone", frequency=frequency, duration=duration)
        if not (math.isfinite(frequency) and 20.0 <= frequency <= 20000.0):
            raise ValueError(f"frequency must be within 20..20000 Hz, got {frequency!r}")
        if not (math.isfinite(duration) and duration > 0.0):
            raise ValueError(f"duration must be > 0, got {duration!r}")
        self._check()
        start = self.clock.now()
        self._tones.append((start, start + duration))
        await self.clock.sleep(duration)

    async def set_induction_loop(self, on: bool) -> None:
        self._record("set_induction_loop", on=on)
        self._check()
        self._loop_on = bool(on)

    def induction_loop(self) -> bool:
        return self._loop_on

    async def selftest(self) -> SelftestResult:
        """Measure, play a tone and measure again: the tone must raise the level enough."""
        failed = self._failed_result()
        if failed is not None:
            return failed
        opts = self.options
        measure = opts.selftest_measure_duration
        baseline = await self.input_level(measure)
        tone_duration = max(opts.selftest_tone_duration, measure)
        tone = self._spawn(self.play_test_tone(opts.selftest_frequency, tone_duration))
        try:
            with_tone = await self.input_level(measure)
        finally:
            await tone
        rise = with_tone - baseline
        details = {
            "ambient_dbfs": baseline,
            "with_tone_dbfs": with_tone,
            "rise_db": round(rise, 2),
            "required_db": opts.selftest_min_rise_db,
        }
        if rise < opts.selftest_min_rise_db:
            return self._result(
                False,
                f"test tone raised the input level by only {rise:.1f} dB "
                f"({baseline:.1f} dBFS without, {with_tone:.1f} dBFS with the tone; "
                f"need >= {opts.selftest_min_rise_db:g} dB)",
                details,
            )
        return self._result(
            True,
            f"test tone raised the input level by {rise:.1f} dB "
            f"({baseline:.1f} -> {with_tone:.1f} dBFS)",
            details,
        )

    # -- test control --------------------------------------------------------------------------
    def mute_microphone(self) -> None:
        """Test control: the microphone delivers silence (input level -120 dBFS)."""
        self.muted = True

    def unmute_microphone(self) -> None:
        """Test control: the microphone works again."""
        self.muted = False

    def set_ambient(self, level_dbfs: float) -> None:
        """Test control: the room noise becomes ``level_dbfs``."""
        self.ambient_dbfs = float(level_dbfs)
