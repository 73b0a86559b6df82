"""Contract rig of the DMX light driver on a pseudo-terminal pair.

The driver opens the pty's slave side as its serial port; :class:`DmxPeer` is the DMX
interface's far side (the fixtures): it reads the master side on the loop and decodes frames.

- ``interface = "open"``: a pty cannot carry a break (``TIOCSBRK`` is accepted and ignored),
  so frames are recognised by length: start code 0 + 512 slots, back to back from the first
  byte. A wrong start code counts as a framing error.
- ``interface = "pro"``: Enttec Pro messages ``0x7E label len_lsb len_msb data 0xE7``; label 6
  carries start code + slots. Bytes outside a message count as framing errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Literal

from drivers.light_dmx import DmxLight, DmxLightOptions
from hal.base import DriverContext
from hal.clock import LoopClock
from hal.events import DeviceKind

FRAME = 513  # start code + 512 slots


class DmxPeer:
    """The receiving end of the DMX interface on a pty pair (see the module docstring)."""

    def __init__(self, interface: Literal["open", "pro"] = "open") -> None:
        self.interface = interface
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self.master, False)
        self.port = os.ttyname(self._slave)
        #: decoded universes (512 slot values each), oldest first
        self.frames: list[bytes] = []
        self.framing_errors = 0
        self._buffer = bytearray()
        self._changed = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.master, self._readable)
        self._closed = False

    def _readable(self) -> None:
        try:
            data = os.read(self.master, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: no slave open right now (the driver is reconnecting)
            return
        self._buffer += data
        if self.interface == "open":
            self._decode_open()
        else:
            self._decode_pro()
        self._changed.set()

    def _decode_open(self) -> None:
        while len(self._buffer) >= FRAME:
            frame = bytes(self._buffer[:FRAME])
            del self._buffer[:FRAME]
            if frame[0] != 0:
                self.framing_errors += 1
                continue
            self.frames.append(frame[1:])

    def _decode_pro(self) -> None:
        buf = self._buffer
        while buf:
            if buf[0] != 0x7E:
                del buf[0]
                self.framing_errors += 1
                continue
            if len(buf) < 4:
                return
            label, length = buf[1], buf[2] | (buf[3] << 8)
            if len(buf) < 4 + length + 1:
                return
            payload, end = bytes(buf[4 : 4 + length]), buf[4 + length]
            del buf[: 4 + length + 1]
            if end != 0xE7 or label != 6 or not payload or payload[0] != 0:
                self.framing_errors += 1
                continue
            self.frames.append(payload[1:].ljust(512, b"\x00"))

    def channel(self, number: int) -> int:
        """Value of DMX channel ``number`` (1-based) in the latest frame."""
        return self.frames[-1][number - 1]

    async def wait_frame(self, match: Callable[[bytes], bool], within: float) -> bytes:
        """The first frame received from now on for which ``match`` is true."""

        async def scan() -> bytes:
            index = len(self.frames)
            while True:
                while index < len(self.frames):
                    frame = self.frames[index]
                    index += 1
                    if match(frame):
                        return frame
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(scan(), within)

    async def wait_frames(self, count: int, within: float) -> None:
        """Wait until ``count`` more frames have arrived."""
        target = len(self.frames) + count

        async def scan() -> None:
            while len(self.frames) < target:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(scan(), within)

    def unplug(self) -> None:
        """The interface disappears: the master side closes (writes to the port fail)."""
        if not self._closed:
            self._closed = True
            self._loop.remove_reader(self.master)
            os.close(self.master)

    def close(self) -> None:
        self.unplug()
        with contextlib.suppress(OSError):
            os.close(self._slave)


def dmx_factory(rig_cls: Callable[..., Any]) -> Callable[[DeviceKind], Any]:
    @asynccontextmanager
    async def rig(kind: DeviceKind) -> AsyncIterator[Any]:
        peer = DmxPeer("open")
        options = DmxLightOptions(port=peer.port, interface="open")
        light = DmxLight("light-dmx", options, DriverContext(clock=LoopClock()))
        await light.start()
        try:
            yield rig_cls(device=light, peer=peer, params={})
        finally:
            await light.stop()
            peer.close()

    return rig


RigFactory = Callable[[DeviceKind], AbstractAsyncContextManager[Any]]


def register_rigs(register: Callable[[DeviceKind, str, RigFactory], None]) -> None:
    rig_cls = register.__globals__["Rig"]
    register(DeviceKind.LIGHT, "dmx", dmx_factory(rig_cls))
