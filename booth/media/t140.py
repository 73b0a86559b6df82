"""Real-time text (RTT): ITU-T T.140 over a WebRTC data channel, as RFC 8865 describes it.

What RFC 8865 asks of a *T.140 data channel* and how this module meets it:

* the data channel's subprotocol is ``"t140"`` (:data:`SUBPROTOCOL`; we also use it as the
  label, :data:`LABEL`), and the channel is **reliable and ordered** (no ``maxRetransmits`` /
  ``maxPacketLifeTime``, ``ordered: true``): T.140 has no sequence numbers of its own;
* T.140 data is **UTF-8** text; it is sent in *T140blocks*, one T140block per data channel
  message (sent as a string message by browsers; received as ``str`` or ``bytes`` here);
* a sender may buffer typed text before sending; the RECOMMENDED transmission interval is
  300 ms (T.140 allows up to 500 ms), shorter is allowed. We buffer nothing: every change is
  sent at once so that key-to-screen stays below 100 ms;
* text suspected lost is shown with the *missing text* marker U+FFFD (:data:`MISSING_TEXT`).

The ITU-T T.140 control functions this module understands:

* BACKSPACE U+0008 (:data:`BACKSPACE`) erases the last character, a line separator included;
* LINE SEPARATOR U+2028 (:data:`LINE_SEPARATOR`) is a new line. On receipt CR LF, a lone CR,
  LF and U+2029 (paragraph separator) are normalised to it; we send only U+2028;
* ZERO WIDTH NO-BREAK SPACE / BOM U+FEFF (:data:`BOM`) may be sent as a keep-alive
  (:data:`KEEPALIVE`) and is ignored on receipt.

Ignored on receipt (conservatively: dropped without effect, never shown):

* every other C0 control (U+0000–U+001F: BEL, TAB, …), DEL U+007F and every C1 control
  (U+0080–U+009F, NEL included), a lone ST U+009C among them;
* escape sequences: ESC, any intermediates U+0020–U+002F and a final U+0030–U+007E (e.g. the
  T.140 INT ``ESC a``); ESC followed by anything else drops only the ESC;
* control sequences (CSI = ``ESC [`` or U+009B, parameters U+0030–U+003F, intermediates,
  final U+0040–U+007E), e.g. the T.140 graphic rendition ``ESC [ … m``; a character that cannot
  belong to the sequence ends it and is shown;
* control strings SOS U+0098 (``ESC X``) … ST U+009C (``ESC \\``), the T.140 protocol
  extensions, and likewise DCS, OSC, PM, APC (U+0090, U+009D, U+009E, U+009F; ``ESC P ] ^ _``);
* a sequence or string longer than :data:`MAX_CONTROL_CHARS` characters is abandoned, so a
  peer that never terminates one cannot swallow the conversation: the next character is text.

Invalid UTF-8 becomes U+FFFD (maximal subparts, as browsers do; a UTF-8 sequence split across
messages is joined); a lone surrogate in a ``str`` message becomes U+FFFD too. A *character* is
a Unicode code point: an erasure removes one code point (:func:`diff_to_t140` erases that way).

The sender's side (:func:`encode`, :func:`diff_to_t140`) sends only :func:`normalize`\\ d text:
new lines as U+2028, no controls, so a receiver shows exactly what was typed. The twin for the
browser is ``cloud_bridge/web/t140.js`` (and its copy ``booth/web/t140.js``).

Privacy: typed text is personal data. Nothing here logs, stores or writes anything; texts are
kept in memory only, bounded (:data:`MAX_CHARS`), and ``repr`` never shows their content.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeAlias

__all__ = [
    "BACKSPACE",
    "BOM",
    "KEEPALIVE",
    "LABEL",
    "LINE_SEPARATOR",
    "MAX_CHARS",
    "MAX_CONTROL_CHARS",
    "MISSING_TEXT",
    "SUBPROTOCOL",
    "Erase",
    "Insert",
    "NewLine",
    "Operation",
    "RttConversation",
    "RttText",
    "T140Decoder",
    "diff_to_t140",
    "encode",
    "encode_erase",
    "normalize",
]

#: the data channel subprotocol of a T.140 data channel (RFC 8865)
SUBPROTOCOL = "t140"
#: the data channel label we use for it
LABEL = "t140"
#: T.140 BACKSPACE: erase the last character
BACKSPACE = "\u0008"
#: T.140 NEW LINE: the Unicode LINE SEPARATOR
LINE_SEPARATOR = "\u2028"
#: ZERO WIDTH NO-BREAK SPACE (BOM): a keep-alive, ignored on receipt
BOM = "\ufeff"
#: the missing-text marker (REPLACEMENT CHARACTER): text was lost or was not valid UTF-8
MISSING_TEXT = "\ufffd"
#: a T140block that only keeps the channel alive
KEEPALIVE = BOM.encode("utf-8")
#: characters an :class:`RttText` keeps by default (whole lines are dropped from the start)
MAX_CHARS = 4000
#: a control sequence or string is abandoned after this many characters
MAX_CONTROL_CHARS = 256

_BS = 0x08
_LF = 0x0A
_CR = 0x0D
_ESC = 0x1B
_DEL = 0x7F
_CSI = 0x9B
_ST = 0x9C
_STRING_INTRODUCERS = frozenset((0x90, 0x98, 0x9D, 0x9E, 0x9F))  # DCS SOS OSC PM APC
_ESC_STRING_FINALS = frozenset(map(ord, "PX]^_"))  # the same, as ESC + final
_NEWLINES = frozenset((_LF, _CR, 0x2028, 0x2029))
_BOM = 0xFEFF
_LS = LINE_SEPARATOR

# decoder states
_TEXT, _ESC_SEQ, _CSI_SEQ, _STRING, _STRING_ESC = range(5)


@dataclass(frozen=True, slots=True)
class Insert:
    """Show ``text`` (printable characters, no line separator) at the end."""

    text: str

    def __repr__(self) -> str:  # never the typed text itself
        return f"Insert(<{len(self.text)} chars>)"


@dataclass(frozen=True, slots=True)
class Erase:
    """Erase the last ``count`` characters (line separators included)."""

    count: int = 1


@dataclass(frozen=True, slots=True)
class NewLine:
    """Start a new line (U+2028)."""


Operation: TypeAlias = Insert | Erase | NewLine


def _is_dropped(cp: int) -> bool:
    """C0 and C1 controls, DEL and the BOM: never shown."""
    return cp < 0x20 or _DEL <= cp <= 0x9F or cp == _BOM


def _is_surrogate(cp: int) -> bool:
    return 0xD800 <= cp <= 0xDFFF


def normalize(text: str) -> str:
    """The text as it is sent and shown: new lines (CR LF, CR, LF, U+2028, U+2029) as U+2028,
    controls and the BOM removed, lone surrogates as U+FFFD."""
    out: list[str] = []
    after_cr = False
    for ch in text:
        cp = ord(ch)
        if after_cr and cp == _LF:
            after_cr = False
            continue
        after_cr = cp == _CR
        if cp in _NEWLINES:
            out.append(_LS)
        elif _is_dropped(cp):
            continue
        elif _is_surrogate(cp):
            out.append(MISSING_TEXT)
        else:
            out.append(ch)
    return "".join(out)


def encode(text: str) -> bytes:
    """One T140block (UTF-8) with ``text`` :func:`normalize`\\ d; ``b""`` for nothing to send."""
    return normalize(text).encode("utf-8")


def encode_erase(n: int = 1) -> bytes:
    """A T140block erasing the last ``n`` characters (``n`` backspaces); ``b""`` for 0."""
    if n < 0:
        raise ValueError("n must be >= 0")
    return (BACKSPACE * n).encode("ascii")


def diff_to_t140(old: str, new: str) -> bytes:
    """What to send when a text field's value changes from ``old`` to ``new``.

    The common prefix (after :func:`normalize`) is kept; the rest of ``old`` is erased with one
    backspace per character, then the rest of ``new`` is sent. Applying the result to a text
    showing ``old`` shows ``new`` (:func:`normalize`\\ d). ``b""`` when nothing changed.
    """
    a, b = normalize(old), normalize(new)
    common = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        common += 1
    return (BACKSPACE * (len(a) - common) + b[common:]).encode("utf-8")


class T140Decoder:
    """Incremental decoder: T140blocks (``bytes`` or ``str``) in, :data:`Operation`\\ s out.

    State carries over between messages: a UTF-8 sequence split across messages, a CR whose LF
    comes in the next message, an escape sequence not finished yet. What is ignored is listed
    in the module's docstring.
    """

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._state = _TEXT
        self._control_len = 0
        self._after_cr = False

    def decode(self, message: bytes | bytearray | memoryview | str) -> list[Operation]:
        """The operations of one data channel message.

        A ``str`` message after a ``bytes`` one that ended inside a UTF-8 sequence ends that
        sequence: it becomes U+FFFD.
        """
        if isinstance(message, str):
            return self._operations(self._utf8.decode(b"", final=True) + message)
        return self._operations(self._utf8.decode(bytes(message)))

    def flush(self) -> list[Operation]:
        """The end of the channel: an unfinished UTF-8 sequence becomes U+FFFD."""
        return self._operations(self._utf8.decode(b"", final=True))

    def reset(self) -> None:
        """Forget everything pending (a new channel)."""
        self._utf8.reset()
        self._state = _TEXT
        self._control_len = 0
        self._after_cr = False

    def _operations(self, text: str) -> list[Operation]:
        ops: list[Operation] = []
        run: list[str] = []
        erase = 0

        def close() -> None:
            nonlocal erase
            if run:
                ops.append(Insert("".join(run)))
                run.clear()
            if erase:
                ops.append(Erase(erase))
                erase = 0

        for cp, kind in self._classified(text):
            if kind == "char":
                if erase:
                    close()
                run.append(chr(cp))
            elif kind == "erase":
                if run:
                    close()
                erase += 1
            else:  # newline
                close()
                ops.append(NewLine())
        close()
        return ops

    def _classified(self, text: str) -> Iterator[tuple[int, str]]:
        """Yield ``(code point, "char" | "erase" | "newline")`` for what has an effect."""
        for ch in text:
            cp = ord(ch)
            while True:  # at most twice: an aborted sequence hands its character back
                again = False
                state = self._state
                if state == _TEXT:
                    item = self._text(cp)
                    if item is not None:
                        yield item
                elif self._control_len >= MAX_CONTROL_CHARS:
                    self._state = _TEXT
                    again = True
                else:
                    self._control_len += 1
                    again = self._control(state, cp)
                if not again:
                    break

    def _text(self, cp: int) -> tuple[int, str] | None:
        if self._after_cr and cp == _LF:
            self._after_cr = False
            return None
        self._after_cr = cp == _CR
        if cp in _NEWLINES:
            return cp, "newline"
        if cp == _BS:
            return cp, "erase"
        if cp == _ESC:
            self._enter(_ESC_SEQ)
        elif cp == _CSI:
            self._enter(_CSI_SEQ)
        elif cp in _STRING_INTRODUCERS:
            self._enter(_STRING)
        elif _is_dropped(cp):
            pass
        elif _is_surrogate(cp):
            return ord(MISSING_TEXT), "char"
        else:
            return cp, "char"
        return None

    def _enter(self, state: int) -> None:
        self._state = state
        self._control_len = 0

    def _control(self, state: int, cp: int) -> bool:
        """Consume ``cp`` inside a control; True: it is not part of it, process it as text."""
        if state == _ESC_SEQ:
            if cp == ord("["):
                self._state = _CSI_SEQ
            elif cp in _ESC_STRING_FINALS:
                self._state = _STRING
            elif 0x20 <= cp <= 0x2F:
                pass  # intermediate
            elif 0x30 <= cp <= 0x7E:
                self._state = _TEXT  # final: the sequence is complete
            else:
                self._state = _TEXT
                return True
        elif state == _CSI_SEQ:
            if 0x20 <= cp <= 0x3F:
                pass  # parameter or intermediate
            elif 0x40 <= cp <= 0x7E:
                self._state = _TEXT
            else:
                self._state = _TEXT
                return True
        elif state == _STRING:
            if cp == _ST:
                self._state = _TEXT
            elif cp == _ESC:
                self._state = _STRING_ESC
        else:  # _STRING_ESC
            if cp == ord("\\"):
                self._state = _TEXT
            elif cp != _ESC:
                self._state = _STRING
        return False


class RttText:
    """The text of one direction of a conversation, bounded to ``max_chars`` characters.

    When it grows past the bound, whole lines are dropped from the start (a single line longer
    than the bound keeps its last ``max_chars`` characters). Lines are separated by U+2028.
    """

    def __init__(self, text: str = "", *, max_chars: int = MAX_CHARS) -> None:
        if max_chars < 1:
            raise ValueError("max_chars must be >= 1")
        self._max = max_chars
        self._text = ""
        self._decoder = T140Decoder()
        self._append(normalize(text))

    @property
    def max_chars(self) -> int:
        """The bound on the characters kept."""
        return self._max

    @property
    def text(self) -> str:
        """The text, lines separated by U+2028."""
        return self._text

    def __len__(self) -> int:
        return len(self._text)

    def __repr__(self) -> str:  # never the typed text itself
        return f"RttText(<{len(self._text)} chars>)"

    def lines(self) -> list[str]:
        """The lines (at least one, maybe empty)."""
        return self._text.split(_LS)

    def feed(self, message: bytes | bytearray | memoryview | str) -> list[Operation]:
        """Decode one received T140block with this text's own decoder and apply it."""
        ops = self._decoder.decode(message)
        self.apply(ops)
        return ops

    def apply(self, ops: Operation | Iterable[Operation]) -> None:
        """Apply one operation or several, in order."""
        for op in (ops,) if isinstance(ops, Insert | Erase | NewLine) else ops:
            if isinstance(op, Insert):
                self._append(normalize(op.text))
            elif isinstance(op, Erase):
                self.erase(op.count)
            else:
                self._append(_LS)

    def erase(self, n: int = 1) -> None:
        """Erase the last ``n`` characters; erasing an empty text does nothing."""
        if n > 0:
            self._text = self._text[: max(0, len(self._text) - n)]

    def clear(self) -> None:
        """Forget the text and anything half-received."""
        self._text = ""
        self._decoder.reset()

    def _append(self, text: str) -> None:
        self._text += text
        while len(self._text) > self._max:
            cut = self._text.find(_LS)
            if cut < 0:
                self._text = self._text[-self._max :]
            else:
                self._text = self._text[cut + 1 :]


class RttConversation:
    """Both directions of one call's real-time text, with monotonic character counters.

    :attr:`chars_out` counts the T.140 characters sent (typed characters, new lines,
    backspaces), :attr:`chars_in` those received that had an effect (ignored controls and
    keep-alives do not count). The counters survive :meth:`clear`; nothing else is kept (no
    timestamps, no history beyond the two bounded texts).
    """

    def __init__(self, *, max_chars: int = MAX_CHARS) -> None:
        #: what this side has sent, as the peer sees it
        self.sent = RttText(max_chars=max_chars)
        #: what the peer has sent
        self.received = RttText(max_chars=max_chars)
        self._field = ""
        self._chars_in = 0
        self._chars_out = 0

    def __repr__(self) -> str:  # never the typed text itself
        return f"RttConversation(chars_in={self._chars_in}, chars_out={self._chars_out})"

    @property
    def chars_in(self) -> int:
        """T.140 characters received so far (monotonic)."""
        return self._chars_in

    @property
    def chars_out(self) -> int:
        """T.140 characters sent so far (monotonic)."""
        return self._chars_out

    def receive(self, message: bytes | bytearray | memoryview | str) -> list[Operation]:
        """Apply a received T140block to :attr:`received`; returns its operations."""
        ops = self.received.feed(message)
        self._chars_in += sum(_size(op) for op in ops)
        return ops

    def send_text(self, text: str) -> bytes:
        """The T140block for typed ``text``; shown in :attr:`sent`."""
        return self._sent(encode(text))

    def send_erase(self, n: int = 1) -> bytes:
        """The T140block erasing ``n`` characters; applied to :attr:`sent`."""
        return self._sent(encode_erase(n))

    def update_field(self, value: str) -> bytes:
        """The T140block for a text field whose value is now ``value`` (see
        :func:`diff_to_t140`); ``b""`` when nothing changed.

        Use either this or :meth:`send_text` / :meth:`send_erase` for one conversation.
        """
        message = diff_to_t140(self._field, value)
        self._field = normalize(value)
        return self._sent(message)

    def clear(self) -> None:
        """Forget both texts and the field (the call ended); the counters stay."""
        self.sent.clear()
        self.received.clear()
        self._field = ""

    def _sent(self, message: bytes) -> bytes:
        if message:
            self.sent.feed(message)
            self._chars_out += len(message.decode("utf-8"))
        return message


def _size(op: Operation) -> int:
    """T.140 characters an operation stands for."""
    if isinstance(op, Insert):
        return len(op.text)
    if isinstance(op, Erase):
        return op.count
    return 1
