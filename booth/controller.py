"""The booth controller: owns the state machine; devices and the central link only post events.

One asyncio task dispatches posted triggers to the queued ``HierarchicalAsyncMachine`` in order
(safety triggers jump the queue). State entry callbacks only *ask* the devices through
:class:`Actuators`; long work (self-tests, the privacy reset) runs in background tasks that post
a trigger when done, so an emergency is never stuck behind it.

What happens is reported to the central side as typed event bodies (``lisa_messages``: state,
presence, door, emergency, health, self-test, maintenance, call request/end, error) through
:meth:`BoothController.emit`; the trace is a log for people and nothing reads it to decide.
What may happen is decided by the one safety policy (:mod:`booth.safety`).

The module stays over 500 lines because it is the state machine's one model: the entry/exit
callbacks, conditions and input handlers are methods the machine binds to by name
(:mod:`booth.machine`); the postures (:mod:`booth.postures`) and the status snapshot
(:mod:`booth.status`) live apart.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from booth.actuators import Actuators
from booth.central import (
    CallConnected,
    CallEnded,
    CallQueued,
    CallTransferring,
    CallUnavailable,
    CentralEvent,
    CentralLink,
    LinkDown,
    LinkUp,
    SignatureFinished,
    SignatureRequested,
)
from booth.config import BoothConfig
from booth.door import DoorSupervisor
from booth.machine import URGENT_TRIGGERS, Trigger, build_machine, top_state
from booth.postures import POSTURES, Posture
from booth.presence import PresenceFilter
from booth.safety import Action, Origin, Situation, decide
from booth.screens import Screen
from booth.status import SOFTWARE_VERSION as SOFTWARE_VERSION  # re-exported
from booth.status import status_snapshot
from booth.trace import Trace
from hal.clock import Clock
from hal.devices import Device, DeviceError
from hal.events import (
    CardPresented,
    CardRemoved,
    DeviceEvent,
    DistanceSample,
    DoorObstructionChanged,
    DoorPosition,
    DoorPositionChanged,
    EmergencyChanged,
    HealthChanged,
    PlcInputChanged,
)
from hal.health import HealthStatus, SelftestOutcome, SelftestResult
from lisa_messages import (
    CallEnd,
    CallRequest,
    DoorReport,
    EmergencyReport,
    ErrorReport,
    EventBody,
    HealthReport,
    MaintenanceReport,
    PresenceReport,
    SelftestReport,
    StateReport,
)

log = logging.getLogger("lisa.booth")

STOP_TIMEOUT = 5.0  # s the dispatcher gets to finish its current trigger on stop
STUCK_AFTER = 10.0  # s a single transition may take before the watchdog is withheld


@dataclass
class Session:
    """One citizen's visit. Wiped in the privacy reset; holds no personal data."""

    id: str
    started: float
    queue: str = ""
    position: int = 0
    estimated_wait: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)


class BoothController:
    # set by transitions
    state: str
    trigger: Callable[..., Awaitable[bool]]

    def __init__(
        self,
        config: BoothConfig,
        devices: dict[str, Device],
        central: CentralLink,
        clock: Clock,
        trace: Trace | None = None,
    ) -> None:
        self.config = config
        self.devices = devices
        self.central = central
        self.clock = clock
        self.trace = trace or Trace(clock.now)
        self.actuators = Actuators(
            devices, self.trace, config.timing.actuator_timeout, on_error=self.report_error
        )
        self.door = DoorSupervisor(self.actuators, devices.get("door"), clock, config, self.trace)
        self.presence = PresenceFilter(config.presence)
        self.session: Session | None = None
        self.screen = Screen("starting")
        self.selftest_results: dict[str, SelftestResult] = {}
        self.emergency = False
        self.link = False
        self.maintenance_wanted = False
        self.last_failure_reason = ""
        self._unavailable_info: dict[str, str] = {}
        self._farewell_page = "farewell"
        self._queue: deque[Trigger] = deque()
        self._wakeup = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._dispatcher: asyncio.Task[None] | None = None
        self._unsubscribe: list[Callable[[], None]] = []
        self._timers: dict[str, Any] = {}
        self._badges = set(config.maintenance.badge_hashes)
        self._started = False
        self.state_listeners: list[Callable[[str], None]] = []
        #: told every page the booth screen should show (the kiosk's screen server listens)
        self.screen_listeners: list[Callable[[Screen], None]] = []
        self._recorded_state = "booting"
        self._busy_since: float | None = None
        self._closing = False
        self._settled = asyncio.Event()
        self.machine = build_machine(self)

    # ------------------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self._dispatcher = asyncio.create_task(self._dispatch(), name="booth-dispatch")
        for name, dev in self.devices.items():
            self._unsubscribe.append(dev.subscribe(self._on_device_event))
            try:
                await dev.start()
            except Exception as exc:  # a driver must not take the controller down
                self.report_error(f"device {name}", str(exc))
        self.trace.record("state", state=self.state, detail=self.state)
        self.emit(StateReport(state="booting", detail=self.state))
        await self.central.start(self._on_central_event)
        self.link = self.central.is_up()
        self._started = True
        self.post(Trigger.BOOTED)

    async def stop(self) -> None:
        for unsub in self._unsubscribe:
            unsub()
        for t in list(self._tasks):
            t.cancel()
        for handle in self._timers.values():
            handle.cancel()
        if self._dispatcher:
            # let the dispatcher finish the trigger in hand and leave; do not rely on cancelling
            # it: transitions may swallow a CancelledError raised inside a transition
            self._closing = True
            self._wakeup.set()
            _, pending = await asyncio.wait({self._dispatcher}, timeout=STOP_TIMEOUT)
            if pending:
                self._dispatcher.cancel()
        await self.central.stop()
        for dev in self.devices.values():
            try:
                await dev.stop()
            except Exception as exc:
                self.report_error(f"device {dev.name}", str(exc))

    # ------------------------------------------------------------------------------ dispatch
    def post(self, trigger: Trigger) -> None:
        """Queue a trigger for the state machine (safety triggers go first)."""
        if not isinstance(trigger, Trigger):
            raise TypeError(f"not a booth trigger: {trigger!r}")
        if trigger in URGENT_TRIGGERS:
            self._queue.appendleft(trigger)
        else:
            self._queue.append(trigger)
        self._wakeup.set()

    # ------------------------------------------------------------------------------ reporting
    def emit(self, event: EventBody) -> None:
        """Report a booth event to the central side (the MQTT link keeps it durably)."""
        try:
            self.central.emit(event)
        except Exception as exc:  # the link must not break the controller
            log.exception("central emit failed")
            self.trace.record("error", where="central emit", error=repr(exc))

    def report_error(self, where: str, error: str) -> None:
        """Something failed (a device, a transition): traced for people and reported."""
        self.trace.record("error", where=where, error=error)
        self.emit(ErrorReport(where=where, error=error))

    def situation(self) -> Situation:
        """The booth as the safety policy sees it."""
        door: Any = self.devices.get("door")
        return Situation(
            state=self.state,
            emergency=self.emergency,
            obstructed=bool(door.obstructed()) if door is not None else False,
            maintenance_requested=self.maintenance_wanted,
        )

    async def _dispatch(self) -> None:
        while not self._closing:
            while not self._queue and not self._closing:
                self._wakeup.clear()
                self._settled.set()
                await self._wakeup.wait()
            self._settled.clear()
            if self._closing:
                break
            trigger = self._queue.popleft()
            self._busy_since = self.clock.now()
            try:
                await self.trigger(trigger)
            except Exception as exc:
                log.exception("trigger failed")
                self.report_error(f"trigger {trigger}", repr(exc))
            finally:
                self._busy_since = None

    async def record_state(self) -> None:
        """First entry callback of every state: trace the change before any actuator command."""
        if self.state == self._recorded_state:
            return
        self._recorded_state = self.state
        top = top_state(self.state)
        self.trace.record("state", state=top, detail=self.state)
        self.emit(StateReport(state=top, detail=self.state))
        for listener in list(self.state_listeners):
            try:
                listener(self.state)
            except Exception:
                log.exception("state listener failed")

    async def settled(self) -> None:
        """Wait until every posted trigger has been handled (entry actions included)."""
        while self._queue or not self._settled.is_set():
            await self._settled.wait()
            if self._queue:
                await asyncio.sleep(0)

    def _spawn(self, coro: Awaitable[Any], name: str) -> None:
        async def runner() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("task failed")
                self.report_error(name, repr(exc))

        task = asyncio.create_task(runner(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _timer(self, key: str, delay: float, trigger: Trigger) -> None:
        self._cancel_timer(key)
        self._timers[key] = self.clock.call_later(delay, lambda: self.post(trigger))

    def start_link_grace(self) -> None:
        """The link dropped during a visit: wait ``timing.link_grace`` before giving up."""
        grace = self.config.timing.link_grace
        if grace <= 0:
            self.post(Trigger.LINK_LOST)
        else:
            self._timer("link_grace", grace, Trigger.LINK_LOST)

    def stop_link_grace(self) -> None:
        self._cancel_timer("link_grace")

    def _cancel_timer(self, key: str) -> None:
        handle = self._timers.pop(key, None)
        if handle is not None:
            handle.cancel()

    # ------------------------------------------------------------------------------ conditions
    def emergency_active(self) -> bool:
        return self.emergency

    def critical_failure(self) -> bool:
        return bool(self.critical_failures())

    def maintenance_requested(self) -> bool:
        return self.maintenance_wanted

    def link_is_up(self) -> bool:
        return self.link

    def present(self) -> bool:
        return self.presence.present

    def critical_failures(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for slot, dev in self.devices.items():
            if not self.config.critical(slot):
                continue
            health = dev.health()
            if health.status is HealthStatus.UNAVAILABLE:
                out[slot] = health.reason or "unavailable"
                continue
            result = self.selftest_results.get(slot)
            if result is not None and not result.passed:
                out[slot] = f"self-test {result.outcome.value}: {result.message}"
        return out

    # ------------------------------------------------------------------------------ inputs
    def _on_device_event(self, event: DeviceEvent) -> None:
        try:
            self._handle_device_event(event)
        except Exception as exc:  # device garbage must never break the controller
            log.exception("device event failed")
            self.report_error(f"device {event.device}", repr(exc))

    def _slot_of(self, device_name: str) -> str:
        for slot, dev in self.devices.items():
            if dev.name == device_name:
                return slot
        return device_name

    def _handle_device_event(self, event: DeviceEvent) -> None:
        if isinstance(event, DistanceSample):
            change = self.presence.update(event.t, event.distance)
            if change is not None:
                self.trace.record("input", device="presence", presence=change)
                self.emit(PresenceReport(present=change))
                self.post(Trigger.PRESENCE_ON if change else Trigger.PRESENCE_OFF)
        elif isinstance(event, DoorPositionChanged):
            self.presence.door_changed(event.t, event.position is DoorPosition.CLOSED)
            self.trace.record("input", device="door", position=event.position.value)
            self.emit(DoorReport(position=event.position.value))
        elif isinstance(event, DoorObstructionChanged):
            self.trace.record("input", device="door", obstructed=event.obstructed)
            self.emit(DoorReport(obstructed=event.obstructed))
            self.door.on_obstruction(event.obstructed)
        elif isinstance(event, EmergencyChanged):
            self.trace.record("input", device="plc", emergency=event.active)
            self.emit(EmergencyReport(active=event.active))
            self.emergency = event.active
            self.post(Trigger.EMERGENCY_ON if event.active else Trigger.EMERGENCY_OFF)
        elif isinstance(event, PlcInputChanged):
            self.trace.record("input", device="plc", input=event.input, value=event.value)
        elif isinstance(event, CardPresented):
            self._on_card(event)
        elif isinstance(event, CardRemoved):
            self.trace.record("input", device="nfc", card=False)
        elif isinstance(event, HealthChanged):
            self._on_health(event)

    def _on_card(self, event: CardPresented) -> None:
        badge = event.uid_hash in self._badges
        self.trace.record("input", device="nfc", card=True, badge=badge)
        if not badge:
            return
        enter = top_state(self.state) != "maintenance"
        self.request_maintenance(enter, Origin.BADGE, by="badge")

    def request_maintenance(self, enter: bool, origin: Origin, by: str) -> str | None:
        """A technician asks for (or ends) maintenance. The safety policy refuses it while a
        citizen is in a call or during an emergency; returns the refusal's reason, or None
        when the request was taken."""
        action = Action.MAINTENANCE_ENTER if enter else Action.MAINTENANCE_EXIT
        verdict = decide(action, origin, self.situation())
        if not verdict:
            self.trace.record("info", event="maintenance refused", by=by, reason=verdict.reason)
            return verdict.reason
        self.trace.record("info", event="maintenance", enter=enter, by=by)
        self.emit(MaintenanceReport(enter=enter, by=by))
        self.maintenance_wanted = enter
        self.post(Trigger.MAINTENANCE_ENTER if enter else Trigger.MAINTENANCE_EXIT)
        return None

    def _on_health(self, event: HealthChanged) -> None:
        slot = self._slot_of(event.device)
        h = event.health
        self.trace.record("health", device=slot, status=h.status.value, reason=h.reason)
        self.emit(HealthReport(device=slot, status=h.status.value, reason=h.reason))
        if h.status is HealthStatus.OK:
            # a recovered device invalidates its old failed self-test
            result = self.selftest_results.get(slot)
            if result is not None and not result.passed:
                del self.selftest_results[slot]
        if not self.config.critical(slot):
            return
        if h.status is HealthStatus.UNAVAILABLE:
            self.last_failure_reason = f"{slot}: {h.reason}"
            self.post(Trigger.CRITICAL_FAULT)
        elif not self.critical_failures():
            self.post(Trigger.FAULTS_CLEARED)

    def _on_central_event(self, event: CentralEvent) -> None:
        try:
            self._handle_central_event(event)
        except Exception as exc:
            log.exception("central event failed")
            self.report_error("central", repr(exc))

    def _current_session(self, session: str) -> bool:
        return self.session is not None and self.session.id == session

    def _handle_central_event(self, event: CentralEvent) -> None:
        self.trace.record("central", event=type(event).__name__)
        if isinstance(event, LinkUp):
            self.link = True
            self.post(Trigger.LINK_UP)
        elif isinstance(event, LinkDown):
            self.link = False
            self.post(Trigger.LINK_DOWN)
        elif isinstance(event, CallQueued) and self._current_session(event.session):
            assert self.session is not None
            self.session.position = event.position
            self.session.estimated_wait = event.estimated_wait
            self.post(Trigger.CALL_QUEUED)
        elif isinstance(event, CallConnected) and self._current_session(event.session):
            assert self.session is not None
            self.session.queue = event.queue
            self.session.data["agent"] = event.agent
            self.post(Trigger.CALL_CONNECTED)
        elif isinstance(event, CallTransferring) and self._current_session(event.session):
            self.post(Trigger.CALL_TRANSFERRING)
        elif isinstance(event, CallEnded) and self._current_session(event.session):
            self.post(Trigger.CALL_ENDED)
        elif isinstance(event, CallUnavailable) and self._current_session(event.session):
            self._unavailable_info = {
                "opening_hours": event.opening_hours or self.config.central.opening_hours,
                "phone": event.phone or self.config.central.phone,
            }
            self.post(Trigger.CALL_UNAVAILABLE)
        elif isinstance(event, SignatureRequested) and self._current_session(event.session):
            self.post(Trigger.SIGNATURE_REQUESTED)
        elif isinstance(event, SignatureFinished) and self._current_session(event.session):
            self.post(Trigger.SIGNATURE_FINISHED)

    # ------------------------------------------------------------------------------ periodic
    async def tick(self) -> bool:
        """Main-loop tick: PLC heartbeat and a health check. True when the controller is healthy
        (dispatcher alive), so the daemon may ping the systemd watchdog."""
        plc = self.devices.get("plc")
        if plc is not None and plc.health().status is not HealthStatus.UNAVAILABLE:
            try:
                await plc.heartbeat()  # type: ignore[attr-defined]
            except (DeviceError, OSError) as exc:
                self.report_error("plc heartbeat", str(exc))
        alive = self._dispatcher is not None and not self._dispatcher.done()
        stuck = self._busy_since is not None and self.clock.now() - self._busy_since > STUCK_AFTER
        if stuck:
            self.report_error(
                "dispatcher", f"a transition has been running for more than {STUCK_AFTER:g} s"
            )
        return alive and not stuck

    async def run_main_loop(
        self,
        stop: asyncio.Event,
        on_healthy: Callable[[], None] | None = None,
        interval: float | None = None,
    ) -> None:
        """The main loop: every tick the PLC heartbeat and the health check; ``on_healthy`` (the
        systemd watchdog ping) only runs when the check passes."""
        period = interval or self.config.timing.tick
        while not stop.is_set():
            if await self.tick() and on_healthy is not None:
                on_healthy()
            try:
                await asyncio.wait_for(stop.wait(), timeout=period)
            except TimeoutError:
                pass

    # ------------------------------------------------------------------------------ state entry
    async def _apply(self, posture: Posture, screen: Screen) -> None:
        """Put the booth's actuators into a state's posture and show its screen."""
        # door first: it is the safety-relevant actuator
        if posture.lock is False:
            await self.actuators.unlock_entry()
        await self.door.want(posture.door)
        if posture.lock is True:
            await self.actuators.lock_entry()
        await self.actuators.sign(posture.sign)
        await self.actuators.light(posture.scene, posture.brightness)
        await self.show(screen)
        if posture.loop is not None:
            await self.actuators.induction_loop(posture.loop)

    async def show(self, screen: Screen) -> None:
        self.screen = screen
        await self.actuators.display(screen.page, screen.params)
        for listener in list(self.screen_listeners):
            try:
                listener(screen)
            except Exception:
                log.exception("screen listener failed")

    async def _end_call(self, reason: str) -> None:
        if self.session is not None and not self.session.data.get("ended"):
            self.session.data["ended"] = True
            # also while the link is down: the MQTT link keeps it in its outbox for later
            self.emit(CallEnd(session=self.session.id, reason=reason))
            self.trace.record("info", event="call ended by booth", reason=reason)

    async def enter_selftest(self) -> None:
        await self._apply(POSTURES["selftest"], Screen("starting"))
        self._spawn(self._run_selftest(), "selftest")

    async def _run_selftest(self) -> None:
        await self.run_selftests()
        self.post(Trigger.SETTLE)

    async def run_selftests(self, only: str | None = None) -> dict[str, SelftestResult]:
        """Run device self-tests concurrently, each with a timeout; store and return results."""
        slots = [s for s in self.devices if only is None or s == only]

        async def one(slot: str) -> SelftestResult:
            dev = self.devices[slot]
            try:
                return await asyncio.wait_for(
                    dev.selftest(), timeout=self.config.timing.selftest_timeout
                )
            except TimeoutError:
                return SelftestResult(slot, SelftestOutcome.ERROR, "self-test timed out")
            except Exception as exc:
                return SelftestResult(slot, SelftestOutcome.ERROR, f"self-test raised: {exc}")

        results = await asyncio.gather(*(one(s) for s in slots))
        out = dict(zip(slots, results, strict=True))
        for slot, res in out.items():
            self.selftest_results[slot] = res
            self.trace.record(
                "selftest", device=slot, outcome=res.outcome.value, message=res.message
            )
            self.emit(SelftestReport(device=slot, outcome=res.outcome.value, message=res.message))
        return out

    async def enter_idle(self) -> None:
        self.session = None
        await self._apply(POSTURES["idle"], Screen("welcome"))
        # someone came in while the booth was not yet idle (and is not just leaving)
        if self.presence.present and self.presence.snapshot().raw:
            self.post(Trigger.PRESENCE_ON)

    async def enter_occupied(self) -> None:
        self.session = Session(id=uuid.uuid4().hex, started=self.clock.now())
        self._farewell_page = "farewell"
        await self._apply(POSTURES["occupied"], Screen("connecting"))
        self.emit(CallRequest(session=self.session.id))
        self.trace.record("info", event="call requested")

    async def enter_queued(self) -> None:
        await self.actuators.waiting_video(True)
        await self.update_queue()

    async def update_queue(self) -> None:
        assert self.session is not None
        minutes = max(1, round(self.session.estimated_wait / 60))
        await self.show(
            Screen("waiting", {"position": self.session.position, "wait_minutes": minutes})
        )

    async def exit_queued(self) -> None:
        await self.actuators.waiting_video(False)

    async def enter_in_call_talking(self) -> None:
        agent = self.session.data.get("agent", "") if self.session else ""
        await self.show(Screen("call", {"agent": agent}))

    async def enter_in_call_transferring(self) -> None:
        await self.show(Screen("transferring"))

    async def enter_in_call_signing(self) -> None:
        await self.show(Screen("signing"))
        if "signature" in self.devices:
            await self.actuators.signature(True)

    async def exit_in_call_signing(self) -> None:
        if "signature" in self.devices:
            await self.actuators.signature(False)

    async def enter_farewell(self) -> None:
        page = "farewell"
        params: dict[str, Any] = {}
        if not self.link:
            page = "link_lost"
        elif self._unavailable_info:
            page, params = "unavailable", dict(self._unavailable_info)
        reason = "citizen_left" if not self.presence.present else "ended"
        if not self.link:
            reason = "link_lost"
        await self._end_call(reason)
        await self._apply(POSTURES["farewell"], Screen(page, params))
        if not self.presence.present:
            self.post(Trigger.PRESENCE_OFF)

    async def enter_privacy_reset(self) -> None:
        # wipe everything the session left behind: screen, session data, device buffers
        self.session = None
        self._unavailable_info = {}
        await self._apply(POSTURES["privacy_reset"], Screen("blank"))
        await self.actuators.wipe()
        self._timer("privacy_reset", self.config.timing.privacy_reset, Trigger.SETTLE)

    async def exit_privacy_reset(self) -> None:
        self._cancel_timer("privacy_reset")

    async def enter_offline(self) -> None:
        await self._apply(
            POSTURES["offline"], Screen("out_of_service", {"phone": self.config.central.phone})
        )

    async def enter_fault(self) -> None:
        self.trace.record("info", event="out of service", failures=self.critical_failures())
        await self._end_call("fault")
        # release the door: nobody may be trapped by a failing door or PLC
        await self._apply(
            POSTURES["fault"], Screen("out_of_service", {"phone": self.config.central.phone})
        )
        # a fault seen only by a self-test (health still ok) gets re-tested now and then
        self._timer("fault_recheck", self.config.timing.fault_recheck, Trigger.RECHECK)

    async def exit_fault(self) -> None:
        self._cancel_timer("fault_recheck")

    def device_unavailable(self) -> bool:
        """A critical device reports itself unavailable (a re-test would not help)."""
        return any(
            self.config.critical(slot) and dev.health().status is HealthStatus.UNAVAILABLE
            for slot, dev in self.devices.items()
        )

    async def enter_maintenance(self) -> None:
        # only the technician ends maintenance (request_maintenance clears the wish); an
        # emergency interrupting it must not put a half-serviced booth back into service
        self.maintenance_wanted = True
        await self._end_call("maintenance")
        self.session = None
        await self._apply(POSTURES["maintenance"], Screen("maintenance"))

    async def enter_emergency(self) -> None:
        await self._end_call("emergency")
        await self._apply(POSTURES["emergency"], Screen("emergency"))

    # ------------------------------------------------------------------------------ status
    def status(self) -> dict[str, Any]:
        """The status snapshot (:func:`booth.status.status_snapshot`)."""
        return status_snapshot(self)
