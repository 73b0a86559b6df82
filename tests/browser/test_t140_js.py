"""The browser's real-time text (cloud_bridge/web/t140.js) behaves exactly like the booth's
(booth/media/t140.py): the same table of cases, random message streams and random text-field
changes run through both, in Chromium and in Python, and every result is compared.

The module is served over http by a stdlib server in a thread (an ES module cannot be imported
from file://); the page itself is a route of Playwright's.
"""

from __future__ import annotations

import functools
import itertools
import random
import threading
from collections.abc import Iterator, Sequence
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Route

from booth.media.t140 import (
    KEEPALIVE,
    MAX_CHARS,
    MAX_CONTROL_CHARS,
    Erase,
    Insert,
    NewLine,
    Operation,
    RttText,
    T140Decoder,
    diff_to_t140,
    encode,
    encode_erase,
    normalize,
)

WEB = Path(__file__).parents[2] / "cloud_bridge" / "web"
PAGE = "/t140-test.html"

#: one message of a case: str, bytes (sent as a Uint8Array), bytearray (sent as an ArrayBuffer),
#: None (the decoder is flushed: the channel ended)
Message = str | bytes | bytearray | None

CASES: list[tuple[str, Sequence[Message], int]] = [
    ("plain", ["Hallo"], MAX_CHARS),
    ("empty", ["", b""], MAX_CHARS),
    ("coalesced", ["ab\x08\x08c\r\nd"], MAX_CHARS),
    ("erase across a line", ["ab\ncd", "\x08\x08\x08"], MAX_CHARS),
    ("erase past the start", ["ab", "\x08" * 5, "x"], MAX_CHARS),
    ("erase an emoji", ["x😀", "\x08"], MAX_CHARS),
    ("erase in a ZWJ sequence", ["👩\u200d👩\u200d👧", "\x08"], MAX_CHARS),
    ("new lines", ["a\r\nb\rc\nd\u2028e\u2029f\r\r\ng\n\rh"], MAX_CHARS),
    ("cr lf split", ["a\r", "\nb\r", "\r\n", "c"], MAX_CHARS),
    ("bom", [KEEPALIVE, "a\ufeffb", bytes(KEEPALIVE) + b"c"], MAX_CHARS),
    ("c0 controls", ["".join(map(chr, range(0x20))) + "x"], MAX_CHARS),
    ("c1 controls", ["".join(map(chr, range(0x7F, 0xA0))) + "x"], MAX_CHARS),
    ("c1 in utf-8", [b"a\xc2\x98x\xc2\x9cb\xc2\x85c"], MAX_CHARS),
    ("sgr", ["a\x1b[1;31mb\x1b[0mc\x9b7md"], MAX_CHARS),
    ("int", ["a\x1bab\x1b(Bc"], MAX_CHARS),
    ("sos st", ["a\x98protocol\nextension\x08\x9cb"], MAX_CHARS),
    ("esc strings", ["a\x1bXs\x1b\\b\x1b]0;t\x9cc\x90d\x1b\x1b\\e"], MAX_CHARS),
    ("aborted sequences", ["a\x1bäb\x1b\nc\x1b[12äd\x1b[\x08e\x9c\x1b\\f"], MAX_CHARS),
    ("escape split", ["a\x1b", "[3", "1m", "b\x98sec", "ret\x9cc"], MAX_CHARS),
    ("long control string", ["a\x98" + "x" * (MAX_CONTROL_CHARS + 10) + "visible"], MAX_CHARS),
    ("long csi", ["a\x1b[" + "1" * (MAX_CONTROL_CHARS - 1) + "xyz"], MAX_CHARS),
    ("string just terminated", ["\x98" + "x" * (MAX_CONTROL_CHARS - 1) + "\x9cb"], MAX_CHARS),
    ("emoji byte by byte", [b"\xf0", b"\x9f", b"\x98", b"\x80!"], MAX_CHARS),
    ("invalid utf-8", [b"\xff a\xc3(b \xe2\x82( \xed\xa0\x80 \xc0\xaf \xf4\x90\x80\x80 \x80"], 99),
    ("truncated then str", [b"a\xf0\x9f", "b", b"\xe2\x82", None, "c"], MAX_CHARS),
    ("truncated then flush", [b"\xe2\x82", None, None], MAX_CHARS),
    ("lone surrogates", ["a\ud800b\udc00c\ud83d", "\ude00"], MAX_CHARS),
    ("array buffer", [bytearray("Grüße 😀\r".encode()), bytearray(b"\n\x08")], MAX_CHARS),
    ("bound: whole lines", ["eins\nzwei\ndrei", "\nvier", "\n"], 12),
    ("bound: a long line", ["abcdefgh", "\nxy"], 5),
    ("bound: code points", ["😀" * 10, "\n", "é"], 4),
    ("bound: one", ["abc", "\n", "\x08d"], 1),
]


# ------------------------------------------------------------------------------ fixtures
class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    handler = functools.partial(_Quiet, directory=str(WEB))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="t140-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def rtt(page: Page, base_url: str) -> Page:
    def html(route: Route) -> None:
        route.fulfill(
            status=200,
            content_type="text/html; charset=utf-8",
            body='<!doctype html><html lang="en"><title>t140</title></html>',
        )

    page.route(f"**{PAGE}", html)
    page.goto(base_url + PAGE)
    page.evaluate("async () => { window.t140 = await import('/t140.js'); }")
    return page


# ------------------------------------------------------------------------------ helpers
def units(text: str) -> list[int]:
    """UTF-16 code units: lone surrogates reach the browser unchanged."""
    raw = text.encode("utf-16-le", "surrogatepass")
    return [int.from_bytes(raw[i : i + 2], "little") for i in range(0, len(raw), 2)]


def wire(message: Message) -> dict[str, Any]:
    if message is None:
        return {"flush": True}
    if isinstance(message, str):
        return {"s": units(message)}
    if isinstance(message, bytearray):
        return {"ab": list(message)}
    return {"b": list(message)}


def op_dict(op: Operation) -> dict[str, Any]:
    if isinstance(op, Insert):
        return {"type": "insert", "text": op.text}
    if isinstance(op, Erase):
        return {"type": "erase", "count": op.count}
    return {"type": "newline"}


def python_run(messages: Sequence[Message], max_chars: int) -> dict[str, Any]:
    """What the Python module makes of a case (the JS below does the same)."""
    decoder = T140Decoder()
    by_ops = RttText(max_chars=max_chars)
    ops: list[list[dict[str, Any]]] = []
    for message in messages:
        got = decoder.flush() if message is None else decoder.decode(message)
        by_ops.apply(got)
        ops.append([op_dict(op) for op in got])
    fed = RttText(max_chars=max_chars)
    for message in messages:
        if message is not None:
            fed.feed(message)
    return {
        "ops": ops,
        "byOps": by_ops.text,
        "text": fed.text,
        "lines": fed.lines(),
        "length": len(fed),
    }


RUN_JS = """
async (cases) => {
  const m = window.t140;
  const toMessage = (w) => {
    if ('s' in w) return String.fromCharCode(...w.s);
    if ('ab' in w) return new Uint8Array(w.ab).buffer;
    return new Uint8Array(w.b);
  };
  return cases.map(([messages, maxChars]) => {
    const decoder = new m.T140Decoder();
    const byOps = new m.RttText('', { maxChars });
    const ops = [];
    for (const w of messages) {
      const got = w.flush ? decoder.flush() : decoder.decode(toMessage(w));
      byOps.applyOps(got);
      ops.push(got);
    }
    const fed = new m.RttText('', { maxChars });
    for (const w of messages) if (!w.flush) fed.apply(toMessage(w));
    return { ops, byOps: byOps.text, text: fed.text, lines: fed.lines(), length: fed.length };
  });
}
"""


def js_run(page: Page, cases: Sequence[tuple[Sequence[Message], int]]) -> list[dict[str, Any]]:
    arg = [[[wire(m) for m in messages], max_chars] for messages, max_chars in cases]
    result: list[dict[str, Any]] = page.evaluate(RUN_JS, arg)
    return result


PIECES = [
    *"abcxyzäöüß €",
    "😀",
    "👩\u200d👧",
    "\n",
    "\r",
    "\r\n",
    "\u2028",
    "\u2029",
    "\x08",
    "\x08\x08",
    "\ufeff",
    "\ufffd",
    "\x1b",
    "\x1b[",
    "[",
    "1;3",
    "m",
    "\x9b",
    "\x98",
    "\x9c",
    "\x1bX",
    "\x1b\\",
    "\t",
    "\x00",
    "\x7f",
    "\x85",
]


def random_text(rng: random.Random, size: int) -> str:
    out: list[str] = []
    for _ in range(rng.randint(0, size)):
        if rng.random() < 0.15:
            out.append(chr(rng.choice([rng.randint(0x20, 0x2FF), rng.randint(0x1F300, 0x1FAFF)])))
        else:
            out.append(rng.choice(PIECES))
    return "".join(out)


def random_stream(rng: random.Random) -> list[Message]:
    """A text cut anywhere into str / bytes / ArrayBuffer messages, some bytes invalid."""
    data = random_text(rng, 40).encode("utf-8")
    if rng.random() < 0.3:
        at = rng.randint(0, len(data))
        data = (
            data[:at]
            + rng.choice([b"\xff", b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98", b"\x80"])
            + data[at:]
        )
    cuts = sorted({0, len(data), *(rng.randint(0, len(data)) for _ in range(rng.randint(0, 5)))})
    messages: list[Message] = []
    for a, b in itertools.pairwise(cuts):
        chunk = data[a:b]
        kind = rng.random()
        try:
            as_text = chunk.decode("utf-8")
        except UnicodeDecodeError:
            as_text = None
        if as_text is not None and kind < 0.4:
            messages.append(as_text)
        elif kind < 0.7:
            messages.append(bytearray(chunk))
        else:
            messages.append(chunk)
    if rng.random() < 0.2:
        messages.append(None)
    return messages


# ------------------------------------------------------------------------------ tests
def test_constants_and_encoding(rtt: Page) -> None:
    texts = ["Hallo", "a\r\nb\rc\nd", "\ufeffa\x00\tb\x1b[1mc", "Grüße 😀", "a\ud800b", ""]
    got = rtt.evaluate(
        """(texts) => {
          const m = window.t140;
          const s = (u) => String.fromCharCode(...u);
          return {
            constants: [m.SUBPROTOCOL, m.LABEL, m.BACKSPACE, m.LINE_SEPARATOR, m.BOM,
                        m.MISSING_TEXT, m.KEEPALIVE, m.MAX_CHARS, m.MAX_CONTROL_CHARS],
            encoded: texts.map((t) => m.encode(s(t))),
            normalized: texts.map((t) => m.normalize(s(t))),
            erase: [0, 1, 3].map((n) => m.encodeErase(n)),
            badErase: (() => { try { m.encodeErase(-1); return 'no error'; }
                               catch (e) { return e.name; } })(),
          };
        }""",
        [units(t) for t in texts],
    )
    assert got["constants"] == [
        "t140",
        "t140",
        "\x08",
        "\u2028",
        "\ufeff",
        "\ufffd",
        KEEPALIVE.decode("utf-8"),
        MAX_CHARS,
        MAX_CONTROL_CHARS,
    ]
    assert got["encoded"] == [encode(t).decode("utf-8") for t in texts]
    assert got["normalized"] == [normalize(t) for t in texts]
    assert got["erase"] == [encode_erase(n).decode("ascii") for n in (0, 1, 3)]
    assert got["badErase"] == "RangeError"


@pytest.mark.parametrize(("name", "messages", "max_chars"), CASES, ids=[c[0] for c in CASES])
def test_shared_cases(rtt: Page, name: str, messages: Sequence[Message], max_chars: int) -> None:
    assert js_run(rtt, [(messages, max_chars)]) == [python_run(messages, max_chars)]


def test_random_streams(rtt: Page) -> None:
    rng = random.Random(8865)
    cases = [(random_stream(rng), rng.choice([3, 12, 40, MAX_CHARS])) for _ in range(60)]
    js = js_run(rtt, cases)
    for i, ((messages, max_chars), got) in enumerate(zip(cases, js, strict=True)):
        assert got == python_run(messages, max_chars), f"stream {i}: {messages!r}"


def test_diff_round_trips(rtt: Page) -> None:
    rng = random.Random(8865)
    pairs: list[tuple[str, str]] = []
    for _ in range(50):
        old = random_text(rng, 30)
        shape = rng.random()
        if shape < 0.4:  # typing on, or correcting the end
            keep = rng.randint(0, len(old))
            new = old[:keep] + random_text(rng, 8)
        elif shape < 0.6:  # an edit in the middle
            at = rng.randint(0, len(old))
            new = old[:at] + random_text(rng, 3) + old[at + rng.randint(0, 3) :]
        else:
            new = random_text(rng, 30)
        pairs.append((old, new))
    pairs += [("", ""), ("abc", "abc"), ("x😀", "x"), ("x😀", "x😁"), ("ab\r\n", "ab\n")]
    got = rtt.evaluate(
        """(pairs) => {
          const m = window.t140;
          const s = (u) => String.fromCharCode(...u);
          return pairs.map(([a, b]) => {
            const [oldText, newText] = [s(a), s(b)];
            const diff = m.diffToT140(oldText, newText);
            const local = new m.RttText(oldText);
            local.apply(diff);
            const peer = new m.RttText();
            peer.apply(m.encode(oldText));
            peer.apply(diff);
            return { diff, local: local.text, peer: peer.text };
          });
        }""",
        [[units(a), units(b)] for a, b in pairs],
    )
    for (old, new), result in zip(pairs, got, strict=True):
        assert result == {
            "diff": diff_to_t140(old, new).decode("utf-8"),
            "local": normalize(new),
            "peer": normalize(new),
        }, (old, new)


def test_rtt_text_api(rtt: Page) -> None:
    got = rtt.evaluate(
        """() => {
          const m = window.t140;
          const t = new m.RttText('eins\\r\\nzwei', { maxChars: 20 });
          const before = [t.text, t.lines(), t.length, t.maxChars];
          t.erase(2);
          t.erase(0);
          t.applyOps([{ type: 'newline' }, { type: 'insert', text: 'drei\\u001b' }]);
          const after = [t.text, t.lines()];
          t.apply(new Uint8Array([0xf0, 0x9f]));
          t.clear();
          t.apply(new Uint8Array([0x98, 0x80, 0x41]));
          let bad = 'no error';
          try { new m.RttText('', { maxChars: 0 }); } catch (e) { bad = e.name; }
          return { before, after, cleared: t.text, bad };
        }"""
    )
    text = RttText("eins\r\nzwei", max_chars=20)
    before = [text.text, text.lines(), len(text), text.max_chars]
    text.erase(2)
    text.erase(0)
    text.apply([NewLine(), Insert("drei\x1b")])
    after = [text.text, text.lines()]
    text.feed(b"\xf0\x9f")
    text.clear()
    text.feed(b"\x98\x80A")
    assert got == {
        "before": before,
        "after": after,
        "cleared": text.text,
        "bad": "RangeError",
    }
