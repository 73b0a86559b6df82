"""The control socket server: binding and removing the Unix socket (:class:`ControlServer`),
one :class:`_Connection` per client reading request lines and writing answers, and the two
streams (``watch`` and ``log`` with ``follow``), which run until the client closes the
connection.

A malformed request gets an error naming the problem and the connection stays usable; nothing a
client sends can take the daemon down. The ops themselves are
:class:`~booth.control.ops.ControlOps`.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import json
import logging
import os
import socket
import stat
import struct
from pathlib import Path
from typing import Any

from booth.config import BoothConfig
from booth.control.ops import ControlOps, Injector
from booth.control.protocol import RequestError, bool_arg, int_arg, parse_request, str_arg
from booth.control_client import MAX_REQUEST_LINE, TOPICS
from booth.controller import BoothController
from booth.trace import TraceRecord

log = logging.getLogger("lisa.booth.control")

#: seconds between the presence readings ``watch presence`` sends (daemon clock)
PRESENCE_PERIOD = 0.5
#: trace records a slow ``watch``/``log -f`` client may fall behind before some are dropped
STREAM_BACKLOG = 2000
MAX_CLIENTS = 32


class ControlSocketError(OSError):
    """The control socket cannot be set up (the message says why and what to do)."""


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
    """The booth's control socket: :meth:`start` binds it, :meth:`stop` closes it and removes the
    socket file; each client is served in its own task."""

    def __init__(
        self,
        controller: BoothController,
        config: BoothConfig,
        config_path: Path | None = None,
        inject: Injector | None = None,
    ) -> None:
        self.controller = controller
        self.config = config
        self.ops = ControlOps(controller, config, config_path=config_path, inject=inject)
        self.path = Path(config.control.socket)
        self._server: asyncio.Server | None = None
        self._inode: int | None = None
        self._clients: set[asyncio.Task[Any]] = set()

    async def handle(self, req: dict[str, Any], uid: int | None = None) -> dict[str, Any]:
        """Carry out a checked, non-streaming request (see :func:`parse_request`)."""
        return await self.ops.handle(req, uid)

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
                if op == "watch" or (op == "log" and bool_arg(req, "follow", default=False)):
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

    # -- streams -----------------------------------------------------------------------------------
    async def _stream(self, conn: _Connection, req: dict[str, Any]) -> None:
        if req["op"] == "watch":
            topic = str_arg(req, "topic", required=False) or "all"
            if topic not in TOPICS:
                raise RequestError(f"unknown topic {topic!r} (topics: {', '.join(TOPICS)})")
            samples = bool_arg(req, "samples", default=topic == "presence")
            first: dict[str, Any] = {"ok": True, "stream": True, "topic": topic}
            history: list[dict[str, Any]] = []
        else:
            lines = int_arg(req, "lines", 100, 0, 100_000)
            topic, samples = "all", False
            history = self.ops.history(lines)
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

    async def _sample_presence(self, backlog: _Backlog) -> None:
        while True:
            backlog.put(self.ops.presence_reading())
            await self.controller.clock.sleep(PRESENCE_PERIOD)
