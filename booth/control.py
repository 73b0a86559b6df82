"""The booth's local control socket, for ``lisa diag`` and ``lisa sim console`` on the booth PC.

An asyncio Unix stream socket (``control.socket``, mode 0660, group ``control.group``) speaking
newline-delimited JSON: one request object per line, ``{"op": ..., ...}``, answered by one line
``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``. ``watch`` and ``log`` with
``follow`` stream one object per line until the client closes the connection. A malformed
request gets an error naming the problem; the connection stays usable and nothing a client
sends can take the daemon down.

Ops: ``status``, ``selftest``, ``watch``, ``actuate``, ``log``, ``bundle``, ``maintenance``,
``inject`` (simulated booths only). Anything that moves hardware (``actuate``) or disturbs a
citizen (``selftest`` plays a test tone) is refused while a citizen is in the booth; every
accepted ``actuate`` is recorded in the trace (kind ``info``, event ``diag actuate``).
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import json
import logging
import math
import os
import platform
import socket
import stat
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from booth.config import BoothConfig
from booth.control_client import MAX_REQUEST_LINE, TOPICS
from booth.controller import BoothController
from booth.machine import top_state
from booth.trace import TraceRecord
from hal.events import CameraControls, LightScene, SignState

log = logging.getLogger("lisa.booth.control")

Injector = Callable[[str, dict[str, Any]], str]

#: top-level states in which a citizen is in the booth
CITIZEN_STATES = frozenset({"occupied", "queued", "in_call", "farewell"})
#: seconds between the presence readings ``watch presence`` sends (daemon clock)
PRESENCE_PERIOD = 0.5
#: trace records a slow ``watch``/``log -f`` client may fall behind before some are dropped
STREAM_BACKLOG = 2000
BUNDLE_TRACE_RECORDS = 500
MAX_CLIENTS = 32
ACTUATE_TIMEOUT = 15.0
MAINTENANCE_WAIT = 5.0
REDACTED = "***"
_SECRET_WORDS = (
    "password",
    "passwd",
    "secret",
    "token",
    "salt",
    "credential",
    "private",
    "api_key",
    "apikey",
)
_HASH_LIST_KEYS = ("badge_hashes",)
_PERSONAL_KEYS = ("uid",)

OPS: dict[str, frozenset[str]] = {
    "status": frozenset(),
    "selftest": frozenset({"device"}),
    "watch": frozenset({"topic", "samples"}),
    "actuate": frozenset({"device", "action", "args"}),
    "log": frozenset({"lines", "follow"}),
    "bundle": frozenset(),
    "maintenance": frozenset({"enter"}),
    "inject": frozenset({"input", "args"}),
}

_CAMERA_ACTIONS = {
    "grab": "",
    "zoom": "<0..1>",
    "focus": "<0..1>",
    "brightness": "<0..1>",
}
#: device slot -> action -> usage of its arguments
ACTIONS: dict[str, dict[str, str]] = {
    "door": {"open": "", "close": "", "lock": "", "unlock": ""},
    "light": {
        "scene": f"<{'|'.join(s.value for s in LightScene)}> [brightness 0..1]",
        "sign": f"<{'|'.join(s.value for s in SignState)}>",
    },
    "audio": {"tone": "[frequency Hz] [duration s]", "loop": "<on|off>"},
    "camera_main": dict(_CAMERA_ACTIONS),
    "camera_document": dict(_CAMERA_ACTIONS),
    "signature": {"enable": "", "disable": "", "clear": ""},
    "plc": {"heartbeat": "", "output": "<name> <on|off>"},
}


class RequestError(ValueError):
    """A request the server cannot carry out; the message goes to the client as it is."""


class ControlSocketError(OSError):
    """The control socket cannot be set up (the message says why and what to do)."""


# ------------------------------------------------------------------------------------ requests
def parse_request(line: bytes) -> dict[str, Any]:
    """Decode and check one request line: a JSON object with a known ``op`` and only the
    arguments that op takes. Raises :class:`RequestError` naming the problem."""
    if len(line) > MAX_REQUEST_LINE:
        raise RequestError(
            f"request too long ({len(line)} bytes; a request line may have at most "
            f"{MAX_REQUEST_LINE} bytes)"
        )
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError("request is not valid UTF-8") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RequestError(
            f"request is not valid JSON ({exc.msg} at column {exc.colno}); "
            'send one object per line, e.g. {"op": "status"}'
        ) from None
    if not isinstance(obj, dict):
        raise RequestError(
            f'request must be a JSON object like {{"op": "status"}}, got {_json_type(obj)}'
        )
    op = obj.get("op")
    if op is None:
        raise RequestError(f'request has no "op" (ops: {", ".join(OPS)})')
    if not isinstance(op, str):
        raise RequestError(f'"op" must be a string, got {_json_type(op)}')
    if op not in OPS:
        raise RequestError(f"unknown op {op!r} (ops: {', '.join(OPS)})")
    extra = sorted(set(obj) - {"op"} - OPS[op])
    if extra:
        takes = ", ".join(sorted(OPS[op])) or "nothing"
        raise RequestError(f"op {op!r} has no argument {extra[0]!r} (it takes: {takes})")
    return obj


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _str_arg(req: dict[str, Any], key: str, *, required: bool) -> str | None:
    value = req.get(key)
    if value is None:
        if required:
            raise RequestError(f"op {req['op']!r} needs {key!r}")
        return None
    if not isinstance(value, str) or not value:
        raise RequestError(f"{key!r} must be a non-empty string, got {_json_type(value)}")
    return value


def _bool_arg(req: dict[str, Any], key: str, *, default: bool | None) -> bool:
    value = req.get(key, default)
    if value is None:
        raise RequestError(f"op {req['op']!r} needs {key!r} (true or false)")
    if not isinstance(value, bool):
        raise RequestError(f"{key!r} must be true or false, got {_json_type(value)}")
    return value


def _int_arg(req: dict[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    value = req.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(f"{key!r} must be a whole number, got {_json_type(value)}")
    if not lo <= value <= hi:
        raise RequestError(f"{key!r} must be within {lo}..{hi}, got {value}")
    return value


# ------------------------------------------------------------------------------------ actuate
@dataclass(frozen=True)
class ActuateCommand:
    """A checked ``actuate`` request."""

    device: str
    action: str
    params: dict[str, Any] = field(default_factory=dict)


def _on_off(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("on", "true", "1", "yes"):
        return True
    if text in ("off", "false", "0", "no"):
        return False
    raise RequestError(f"{what} must be on or off, got {value!r}")


def _number(value: Any, what: str, lo: float, hi: float) -> float:
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
    except (TypeError, ValueError):
        raise RequestError(
            f"{what} must be a number within {lo:g}..{hi:g}, got {value!r}"
        ) from None
    if not (math.isfinite(number) and lo <= number <= hi):
        raise RequestError(f"{what} must be within {lo:g}..{hi:g}, got {value!r}")
    return number


def parse_actuate(device: str, action: str, args: Any, configured: list[str]) -> ActuateCommand:
    """Check device, action and arguments of an ``actuate`` request (not the booth's state)."""
    if device not in ACTIONS:
        known = [d for d in ACTIONS if d in configured]
        raise RequestError(
            f"unknown device {device!r} (devices you can actuate: {', '.join(known) or 'none'})"
        )
    if device not in configured:
        raise RequestError(
            f"device {device!r} is not configured in this booth (configured: "
            f"{', '.join(configured)})"
        )
    actions = ACTIONS[device]
    if action not in actions:
        raise RequestError(
            f"unknown action {action!r} for {device} (actions: {', '.join(actions)})"
        )
    if args is None:
        args = []
    if not isinstance(args, list) or not all(isinstance(a, str | int | float) for a in args):
        raise RequestError("'args' must be an array of strings or numbers")
    usage = f"{device} {action} {actions[action]}".strip()

    def count(lo: int, hi: int) -> None:
        if not lo <= len(args) <= hi:
            raise RequestError(f"wrong number of arguments ({len(args)}); usage: {usage}")

    params: dict[str, Any] = {}
    if device == "light" and action == "scene":
        count(1, 2)
        try:
            params["scene"] = LightScene(str(args[0]))
        except ValueError:
            raise RequestError(
                f"unknown light scene {args[0]!r} "
                f"(scenes: {', '.join(s.value for s in LightScene)})"
            ) from None
        params["brightness"] = _number(args[1], "brightness", 0.0, 1.0) if len(args) > 1 else 1.0
    elif device == "light" and action == "sign":
        count(1, 1)
        try:
            params["sign"] = SignState(str(args[0]))
        except ValueError:
            raise RequestError(
                f"unknown sign state {args[0]!r} (states: {', '.join(s.value for s in SignState)})"
            ) from None
    elif device == "audio" and action == "tone":
        count(0, 2)
        params["frequency"] = _number(args[0], "frequency", 20.0, 20000.0) if args else 1000.0
        params["duration"] = _number(args[1], "duration", 0.05, 10.0) if len(args) > 1 else 0.5
    elif device == "audio" and action == "loop":
        count(1, 1)
        params["on"] = _on_off(args[0], "loop")
    elif device.startswith("camera") and action != "grab":
        count(1, 1)
        params["value"] = _number(args[0], action, 0.0, 1.0)
    elif device == "plc" and action == "output":
        count(2, 2)
        params["name"] = str(args[0])
        params["on"] = _on_off(args[1], "output value")
    else:
        count(0, 0)
    return ActuateCommand(device, action, params)


# ------------------------------------------------------------------------------------ helpers
def _secret_key(key: str) -> bool:
    k = key.lower()
    return any(word in k for word in _SECRET_WORDS)


def redact(value: Any, key: str = "") -> Any:
    """A copy of ``value`` with secrets replaced by ``"***"``: any key containing password,
    secret, token, salt, credential or private; the badge hashes (each entry); raw card UIDs."""
    if key and value is not None:
        if _secret_key(key) or key.lower() in _PERSONAL_KEYS:
            return REDACTED
        if key.lower() in _HASH_LIST_KEYS:
            return [REDACTED] * len(value) if isinstance(value, list) else REDACTED
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def topic_matches(record: TraceRecord, topic: str) -> bool:
    """Whether a trace record belongs to a ``watch`` topic."""
    if topic == "all":
        return True
    if topic == "state":
        return record.kind == "state"

    def match(name: str) -> bool:
        return name == topic or (topic == "camera" and name.startswith("camera"))

    device = record.data.get("device")
    if isinstance(device, str) and match(device):
        return True
    if record.kind == "error":
        where = str(record.data.get("where", ""))
        return any(match(part) for part in where.replace(".", " ").split())
    return False


def versions() -> dict[str, str]:
    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {
        "lisa": version("lisa"),
        "python": platform.python_version(),
        "transitions": version("transitions"),
        "pydantic": version("pydantic"),
        "os": platform.platform(),
    }


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, 3)


def _peer_uid(writer: asyncio.StreamWriter) -> int | None:
    sock = writer.get_extra_info("socket")
    so_peercred = getattr(socket, "SO_PEERCRED", None)
    if sock is None or so_peercred is None:
        return None
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, so_peercred, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", creds)
    except (OSError, struct.error):
        return None
    return int(uid)


# ------------------------------------------------------------------------------------ connection
class _Connection:
    """One client: line reader with a size limit, JSON writer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.uid = _peer_uid(writer)
        self._buf = bytearray()
        self._discarding = False  # skipping the rest of an over-long line

    async def next_line(self) -> bytes | None:
        """The next line without its newline; ``None`` at end of input. An over-long line
        raises :class:`RequestError` once (as soon as it is too long) and is skipped."""
        while True:
            idx = self._buf.find(b"\n")
            if idx >= 0:
                line = bytes(self._buf[:idx])
                del self._buf[: idx + 1]
                if self._discarding:
                    self._discarding = False
                    continue
                if len(line) > MAX_REQUEST_LINE:
                    raise RequestError(
                        f"request too long (more than {MAX_REQUEST_LINE} bytes in one line)"
                    )
                return line.rstrip(b"\r")
            if len(self._buf) > MAX_REQUEST_LINE:
                self._buf.clear()
                if not self._discarding:
                    self._discarding = True
                    raise RequestError(
                        f"request too long (more than {MAX_REQUEST_LINE} bytes in one line)"
                    )
            chunk = await self.reader.read(65536)
            if not chunk:
                if self._buf and not self._discarding:
                    line = bytes(self._buf)
                    self._buf.clear()
                    return line.rstrip(b"\r")
                return None
            self._buf += chunk

    async def wait_closed_by_client(self) -> None:
        """Read (and ignore) until the client closes its side."""
        while await self.reader.read(65536):
            pass

    async def send(self, obj: dict[str, Any]) -> None:
        data = json.dumps(obj, ensure_ascii=False, default=str) + "\n"
        self.writer.write(data.encode("utf-8"))
        await self.writer.drain()


class _Backlog:
    """Bounded queue between a trace listener and a slow client; counts what it drops."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=STREAM_BACKLOG)
        self.dropped = 0

    def put(self, item: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped += 1


# ------------------------------------------------------------------------------------ server
class ControlServer:
    def __init__(
        self,
        controller: BoothController,
        config: BoothConfig,
        config_path: Path | None = None,
        inject: Injector | None = None,
    ) -> None:
        self.controller = controller
        self.config = config
        self.config_path = config_path
        self.inject = inject
        self.path = Path(config.control.socket)
        self._server: asyncio.Server | None = None
        self._inode: int | None = None
        self._clients: set[asyncio.Task[Any]] = set()
        self._started_at = controller.clock.now()

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Bind the socket: parent directory created, a stale socket file replaced, mode 0660,
        group ``control.group``. Raises :class:`ControlSocketError` (an ``OSError``)."""
        path = self.path
        gid = self._group_id()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ControlSocketError(
                f"cannot create the directory of the control socket {path.parent}: "
                f"{exc.strerror or exc}"
            ) from None
        await self._remove_stale(path)
        old_umask = os.umask(0o117)  # never a moment with the socket open to others
        try:
            self._server = await asyncio.start_unix_server(self._client, path=str(path))
        except OSError as exc:
            raise ControlSocketError(
                f"cannot listen on the control socket {path}: {exc.strerror or exc}"
            ) from None
        finally:
            os.umask(old_umask)
        try:
            os.chmod(path, 0o660)
            if gid is not None:
                os.chown(path, -1, gid)
            self._inode = os.stat(path).st_ino
        except OSError as exc:
            await self.stop()
            raise ControlSocketError(
                f"cannot give the control socket {path} mode 0660 and group "
                f"{self.config.control.group!r}: {exc.strerror or exc} (the daemon's user must "
                "be a member of that group)"
            ) from None
        log.info("control socket listening", extra={"path": str(path)})

    def _group_id(self) -> int | None:
        group = self.config.control.group
        if not group:
            return None
        try:
            return grp.getgrnam(group).gr_gid
        except KeyError:
            raise ControlSocketError(
                f"control.group {group!r} does not exist on this system; create it "
                f"(groupadd {group}) or change control.group in the booth config"
            ) from None

    async def _remove_stale(self, path: Path) -> None:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise ControlSocketError(
                f"{path} exists and is not a socket; refusing to replace it "
                "(check control.socket in the booth config)"
            )
        try:
            _reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(str(path)), timeout=1.0
            )
        except (OSError, TimeoutError):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)  # nobody listens: left over from a crash
            return
        writer.close()
        raise ControlSocketError(
            f"another process already listens on the control socket {path} "
            "(is a booth daemon running already?)"
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._clients):
            task.cancel()
        if self._clients:
            await asyncio.gather(*self._clients, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None
        if self._inode is not None:
            with contextlib.suppress(OSError):
                if os.stat(self.path).st_ino == self._inode:
                    self.path.unlink()
            self._inode = None

    # -- connections -----------------------------------------------------------------------------
    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        conn = _Connection(reader, writer)
        try:
            if len(self._clients) > MAX_CLIENTS:
                await conn.send({"ok": False, "error": f"too many clients (at most {MAX_CLIENTS})"})
                return
            await self._serve(conn)
        except (ConnectionError, asyncio.CancelledError):
            pass
        except Exception:  # nothing a client does may take the daemon down
            log.exception("control client failed")
        finally:
            self._clients.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), timeout=1.0)

    async def _serve(self, conn: _Connection) -> None:
        while True:
            try:
                line = await conn.next_line()
            except RequestError as exc:
                await conn.send({"ok": False, "error": str(exc)})
                continue
            if line is None:
                return
            if not line.strip():
                continue
            try:
                req = parse_request(line)
                op = req["op"]
                if op == "watch" or (op == "log" and _bool_arg(req, "follow", default=False)):
                    await self._stream(conn, req)
                    return  # a stream ends with the connection
                answer = await self.handle(req, uid=conn.uid)
            except RequestError as exc:
                answer = {"ok": False, "error": str(exc)}
            except (ConnectionError, asyncio.CancelledError):
                raise
            except Exception as exc:
                log.exception(
                    "control request failed", extra={"op": line[:40].decode("utf-8", "replace")}
                )
                answer = {"ok": False, "error": f"internal error: {type(exc).__name__}: {exc}"}
            await conn.send(answer)

    # -- ops ---------------------------------------------------------------------------------------
    async def handle(self, req: dict[str, Any], uid: int | None = None) -> dict[str, Any]:
        """Carry out a checked, non-streaming request (see :func:`parse_request`)."""
        op = req["op"]
        if op == "status":
            return {"ok": True, **self.status()}
        if op == "selftest":
            return await self._selftest(_str_arg(req, "device", required=False))
        if op == "actuate":
            return await self._actuate(req, uid)
        if op == "log":
            lines = _int_arg(req, "lines", 100, 0, 100_000)
            _bool_arg(req, "follow", default=False)
            return {"ok": True, "records": self._history(lines)}
        if op == "bundle":
            return self.bundle()
        if op == "maintenance":
            return await self._maintenance(_bool_arg(req, "enter", default=None), uid)
        if op == "inject":
            return self._inject(req)
        if op == "watch":
            raise RequestError("'watch' streams; it is only available on a socket connection")
        raise RequestError(f"unknown op {op!r} (ops: {', '.join(OPS)})")

    def status(self) -> dict[str, Any]:
        c = self.controller
        out = c.status()
        snap = c.presence.snapshot()
        presence_dev: Any = c.devices.get("presence")
        light: Any = c.devices.get("light")
        door: Any = c.devices.get("door")
        out["distance"] = _finite(presence_dev.last_distance()) if presence_dev else None
        out["presence"] = {
            "present": snap.present,
            "near": snap.raw,
            "median": _finite(snap.median),
            "door_hold": snap.door_hold,
        }
        out["sign"] = light.sign().value if light is not None else None
        if light is not None:
            scene, brightness = light.scene()
            out["light"] = {"scene": scene.value, "brightness": brightness}
        else:
            out["light"] = None
        out["entry_locked"] = door.entry_locked() if door is not None else None
        out["maintenance_requested"] = c.maintenance_wanted
        out["simulated"] = self.inject is not None
        out["uptime"] = round(c.clock.now() - self._started_at, 1)
        out["versions"] = versions()
        return out

    def _refusal(self, what: str) -> str | None:
        state = top_state(self.controller.state)
        if state == "maintenance":
            return None
        if state in CITIZEN_STATES:
            return (
                f"refused: a citizen is in the booth (state {state}); switch to maintenance "
                f"first ({what} would disturb the visit)"
            )
        if state == "emergency":
            return (
                "refused: the emergency input is active (state emergency); the booth keeps its "
                "emergency settings until the input clears"
            )
        return None

    async def _selftest(self, device: str | None) -> dict[str, Any]:
        devices = list(self.controller.devices)
        if device is not None and device not in devices:
            raise RequestError(f"unknown device {device!r} (devices: {', '.join(devices)})")
        refusal = self._refusal("a self-test plays a test tone and grabs camera frames")
        if refusal:
            raise RequestError(refusal)
        results = await self.controller.run_selftests(device)
        return {
            "ok": True,
            "passed": all(r.passed for r in results.values()),
            "results": {slot: r.to_dict() for slot, r in results.items()},
        }

    async def _actuate(self, req: dict[str, Any], uid: int | None) -> dict[str, Any]:
        device = _str_arg(req, "device", required=True)
        action = _str_arg(req, "action", required=True)
        assert device is not None and action is not None
        cmd = parse_actuate(device, action, req.get("args"), list(self.controller.devices))
        refusal = self._refusal("moving hardware")
        if refusal:
            raise RequestError(refusal)
        info: dict[str, Any] = {"device": cmd.device, "action": cmd.action}
        if req.get("args"):
            info["args"] = [str(a) for a in req["args"]]
        if uid is not None:
            info["by_uid"] = uid
        self.controller.trace.record("info", event="diag actuate", **info)
        log.info(
            "diag actuate",
            extra={"device": cmd.device, "action": cmd.action, "by_uid": uid},
        )
        errors: list[TraceRecord] = []

        def catch(rec: TraceRecord) -> None:
            if rec.kind == "error":
                errors.append(rec)

        unsubscribe = self.controller.trace.subscribe(catch)
        try:
            result = await asyncio.wait_for(self._execute(cmd), timeout=ACTUATE_TIMEOUT)
        except TimeoutError:
            self.controller.trace.record(
                "error", where=f"diag {cmd.device}.{cmd.action}", error="timed out"
            )
            raise RequestError(
                f"{cmd.device} {cmd.action}: no answer from the device within {ACTUATE_TIMEOUT:g} s"
            ) from None
        except RequestError:
            raise
        except Exception as exc:
            self.controller.trace.record(
                "error", where=f"diag {cmd.device}.{cmd.action}", error=str(exc) or repr(exc)
            )
            raise RequestError(f"{cmd.device} {cmd.action} failed: {exc or repr(exc)}") from None
        finally:
            unsubscribe()
        if result is False:
            why = errors[-1].data.get("error", "the device refused") if errors else "not done"
            raise RequestError(f"{cmd.device} {cmd.action} failed: {why}")
        out: dict[str, Any] = {"ok": True, "device": cmd.device, "action": cmd.action}
        if isinstance(result, dict):
            out["result"] = result
        return out

    async def _execute(self, cmd: ActuateCommand) -> bool | dict[str, Any]:
        """Through :class:`Actuators` where it has a method, otherwise to the device."""
        act = self.controller.actuators
        dev: Any = self.controller.devices[cmd.device]
        p = cmd.params
        if cmd.device == "door":
            door_methods: dict[str, Callable[[], Awaitable[bool]]] = {
                "open": act.door_open,
                "close": act.door_close,
                "lock": act.lock_entry,
                "unlock": act.unlock_entry,
            }
            return await door_methods[cmd.action]()
        if cmd.device == "light":
            if cmd.action == "scene":
                return await act.light(p["scene"], p["brightness"])
            return await act.sign(p["sign"])
        if cmd.device == "audio":
            if cmd.action == "loop":
                return await act.induction_loop(p["on"])
            await dev.play_test_tone(p["frequency"], p["duration"])
            return {"frequency": p["frequency"], "duration": p["duration"]}
        if cmd.device.startswith("camera"):
            if cmd.action == "grab":
                frame = await dev.grab()
                data = frame.data
                mean = sum(data) / len(data) if data else 0.0
                # only numbers leave the booth: never the picture
                return {
                    "width": frame.width,
                    "height": frame.height,
                    "pixel_format": frame.pixel_format,
                    "seq": frame.seq,
                    "mean_brightness": round(mean, 2),
                }
            controls = await dev.set_controls(CameraControls(**{cmd.action: p["value"]}))
            return {
                "zoom": controls.zoom,
                "focus": controls.focus,
                "brightness": controls.brightness,
            }
        if cmd.device == "signature":
            await getattr(dev, cmd.action)()
            return {"enabled": bool(dev.enabled())}
        if cmd.device == "plc":
            if cmd.action == "heartbeat":
                await dev.heartbeat()
                return True
            await dev.write_output(p["name"], p["on"])
            return {"output": p["name"], "value": p["on"]}
        raise RequestError(f"no way to actuate {cmd.device} {cmd.action}")  # pragma: no cover

    def _history(self, lines: int) -> list[dict[str, Any]]:
        if lines <= 0:
            return []
        history = list(self.controller.trace.history)[-lines:]
        return [rec.to_dict() for rec in history]

    def bundle(self) -> dict[str, Any]:
        config = self.config.model_dump(mode="json")
        selftest = {slot: r.to_dict() for slot, r in self.controller.selftest_results.items()}
        return {
            "ok": True,
            "booth": self.config.booth.id,
            "created": self.controller.clock.wall().isoformat(timespec="seconds"),
            "config_file": str(self.config_path) if self.config_path else None,
            "config": redact(config),
            "versions": versions(),
            "trace": redact(self._history(BUNDLE_TRACE_RECORDS)),
            "selftest": redact(selftest),
            "status": redact(self.status()),
        }

    async def _maintenance(self, enter: bool, uid: int | None) -> dict[str, Any]:
        c = self.controller
        if not c.request_maintenance(enter, by="diag"):
            state = top_state(c.state)
            return {
                "ok": False,
                "error": f"refused: the booth is in {state}; maintenance can start when no "
                "citizen is in a call and there is no emergency",
            }
        if uid is not None:
            log.info(
                "maintenance requested over the control socket",
                extra={"enter": enter, "by_uid": uid},
            )

        def reached() -> bool:
            in_maintenance = top_state(c.state) == "maintenance"
            return in_maintenance if enter else not in_maintenance

        deadline = c.clock.now() + MAINTENANCE_WAIT
        while not reached() and c.clock.now() < deadline:
            await c.clock.sleep(0.05)
        state = top_state(c.state)
        out: dict[str, Any] = {"ok": True, "enter": enter, "state": state, "reached": reached()}
        if not out["reached"]:
            out["note"] = (
                f"requested; the booth is still in state {state} and switches as soon as it can"
                if enter
                else f"requested; the booth is still in state {state}"
            )
        return out

    def _inject(self, req: dict[str, Any]) -> dict[str, Any]:
        if self.inject is None:
            raise RequestError("inputs are only accepted by a simulated booth (--sim)")
        name = _str_arg(req, "input", required=True)
        assert name is not None
        args = req.get("args", {})
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise RequestError(
                f'\'args\' must be an object like {{"queue": "wohngeld"}}, got {_json_type(args)}'
            )
        try:
            result = self.inject(name, dict(args))
        except Exception as exc:  # sim.harness.InputError is a ValueError; the driver may raise
            raise RequestError(str(exc) or type(exc).__name__) from None
        return {"ok": True, "input": name, "result": result}

    # -- streams -----------------------------------------------------------------------------------
    async def _stream(self, conn: _Connection, req: dict[str, Any]) -> None:
        if req["op"] == "watch":
            topic = _str_arg(req, "topic", required=False) or "all"
            if topic not in TOPICS:
                raise RequestError(f"unknown topic {topic!r} (topics: {', '.join(TOPICS)})")
            samples = _bool_arg(req, "samples", default=topic == "presence")
            first: dict[str, Any] = {"ok": True, "stream": True, "topic": topic}
            history: list[dict[str, Any]] = []
        else:
            lines = _int_arg(req, "lines", 100, 0, 100_000)
            topic, samples = "all", False
            history = self._history(lines)
            first = {"ok": True, "stream": True, "records": history}

        backlog = _Backlog()

        def listener(rec: TraceRecord) -> None:
            if topic_matches(rec, topic):
                backlog.put(rec.to_dict())

        # subscribe before anything is awaited, so nothing falls between history and stream
        unsubscribe = self.controller.trace.subscribe(listener)
        tasks: list[asyncio.Task[None]] = []
        try:
            await conn.send(first)
            tasks.append(asyncio.create_task(self._pump(conn, backlog)))
            tasks.append(asyncio.create_task(conn.wait_closed_by_client()))
            if samples:
                tasks.append(asyncio.create_task(self._sample_presence(backlog)))
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            unsubscribe()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _pump(self, conn: _Connection, backlog: _Backlog) -> None:
        while True:
            item = await backlog.queue.get()
            if backlog.dropped:
                count, backlog.dropped = backlog.dropped, 0
                await conn.send({"t": item.get("t"), "kind": "dropped", "count": count})
            await conn.send(item)

    def presence_reading(self) -> dict[str, Any]:
        c = self.controller
        snap = c.presence.snapshot()
        dev: Any = c.devices.get("presence")
        return {
            "t": round(c.clock.now(), 3),
            "kind": "presence",
            "distance": _finite(dev.last_distance()) if dev is not None else None,
            "median": _finite(snap.median),
            "near": snap.raw,
            "present": snap.present,
            "door_hold": snap.door_hold,
        }

    async def _sample_presence(self, backlog: _Backlog) -> None:
        while True:
            backlog.put(self.presence_reading())
            await self.controller.clock.sleep(PRESENCE_PERIOD)
