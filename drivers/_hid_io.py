"""Where HID reports come from: a :class:`ReportSource` (the report descriptor plus one report
per ``read()``).

On a booth that is a hidraw node (:func:`open_hidraw`): ``/dev/hidrawN`` opened non-blocking;
every ``read()`` returns exactly one input report; the descriptor comes from the
``HIDIOCGRDESC`` ioctl, or from sysfs (``/sys/class/hidraw/hidrawN/device/report_descriptor``)
when the ioctl is refused. When the pad is unplugged, ``read()`` fails with ``EIO``/``ENODEV``
and ``poll()`` reports ``POLLHUP``/``POLLERR``.

Anything else with those semantics can stand in for it: :class:`FdReportSource` reads any file
descriptor whose reads return whole reports. Tests and replays use a packet-mode pipe
(``os.pipe2(os.O_DIRECT)``), whose reads return one ``write()`` each, like hidraw.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

#: ioctls of linux/hidraw.h: _IOR('H', 0x01, int) and _IOR('H', 0x02, hidraw_report_descriptor)
HIDIOCGRDESCSIZE = 0x80044801
HIDIOCGRDESC = 0x90044802
HID_MAX_DESCRIPTOR_SIZE = 4096
#: hidraw returns at most one report per read, never more than this
MAX_REPORT_SIZE = 16384


class ReportSource(Protocol):
    """One HID device: its report descriptor and its input reports."""

    description: str

    def fileno(self) -> int:
        """A descriptor to ``poll()`` for readable reports (non-blocking)."""
        ...

    def descriptor(self) -> bytes: ...

    def read_report(self) -> bytes:
        """One report. ``b""``: the device is gone (end of stream); raises
        ``BlockingIOError`` when no report is queued and ``OSError`` on a read error."""
        ...

    def close(self) -> None: ...


#: Opens the device; raises ``OSError`` when it is not there.
Opener = Callable[[], ReportSource]


class FdReportSource:
    """A report source on a file descriptor whose reads return whole reports (owns ``fd``)."""

    def __init__(self, fd: int, descriptor: bytes, description: str) -> None:
        self._fd = fd
        self._descriptor = bytes(descriptor)
        self.description = description
        os.set_blocking(fd, False)

    def fileno(self) -> int:
        return self._fd

    def descriptor(self) -> bytes:
        return self._descriptor

    def read_report(self) -> bytes:
        if self._fd < 0:
            raise OSError(errno.EBADF, "report source closed")
        return os.read(self._fd, MAX_REPORT_SIZE)

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass


def read_descriptor_ioctl(fd: int) -> bytes:
    """The report descriptor of an open hidraw node (``HIDIOCGRDESCSIZE`` + ``HIDIOCGRDESC``)."""
    size_buf = bytearray(4)
    fcntl.ioctl(fd, HIDIOCGRDESCSIZE, size_buf, True)
    (size,) = struct.unpack("<i", size_buf)
    if not 0 < size <= HID_MAX_DESCRIPTOR_SIZE:
        raise OSError(errno.EINVAL, f"implausible report descriptor size {size}")
    buf = bytearray(struct.pack("<I", size) + bytes(HID_MAX_DESCRIPTOR_SIZE))
    fcntl.ioctl(fd, HIDIOCGRDESC, buf, True)
    return bytes(buf[4 : 4 + size])


def sysfs_descriptor_path(device: str, sysfs_root: str | Path = "/sys/class/hidraw") -> Path:
    """``<sysfs_root>/hidrawN/device/report_descriptor`` of ``device`` (a udev symlink is
    resolved to its ``hidrawN``)."""
    node = Path(os.path.realpath(device)).name
    return Path(sysfs_root) / node / "device" / "report_descriptor"


def open_hidraw(
    device: str,
    sysfs_root: str | Path = "/sys/class/hidraw",
    descriptor_file: str | Path | None = None,
) -> FdReportSource:
    """Open a hidraw node read-only and non-blocking and fetch its report descriptor:
    ``descriptor_file`` when given, else the ioctl, else sysfs. Raises ``OSError``."""
    fd = os.open(device, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if descriptor_file is not None:
            rdesc = Path(descriptor_file).read_bytes()
        else:
            try:
                rdesc = read_descriptor_ioctl(fd)
            except OSError as ioctl_error:
                path = sysfs_descriptor_path(device, sysfs_root)
                try:
                    rdesc = path.read_bytes()
                except OSError as exc:
                    raise OSError(
                        exc.errno,
                        f"no report descriptor for {device}: ioctl: {ioctl_error}; {path}: {exc}",
                    ) from exc
        return FdReportSource(fd, rdesc, device)
    except BaseException:
        os.close(fd)
        raise
