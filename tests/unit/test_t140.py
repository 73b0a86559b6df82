"""Real-time text (booth/media/t140.py): T.140 over a data channel, RFC 8865.

Sending (normalised text, erasures, field diffs), receiving (incremental UTF-8, new lines,
ignored controls and escape sequences), the bounded text of one direction and the conversation
with its counters; property tests for the diff round trip and for message splitting.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from booth.media import t140
from booth.media.t140 import (
    BACKSPACE,
    BOM,
    KEEPALIVE,
    LINE_SEPARATOR,
    MAX_CHARS,
    MAX_CONTROL_CHARS,
    MISSING_TEXT,
    Erase,
    Insert,
    NewLine,
    RttConversation,
    RttText,
    T140Decoder,
    diff_to_t140,
    encode,
    encode_erase,
    normalize,
)

LS = LINE_SEPARATOR
ROOT = Path(__file__).parents[2]
EMOJI = "😀"  # U+1F600: four bytes in UTF-8, two UTF-16 units in a browser

#: characters that exercise every path of the decoder, mixed into random text
TRICKY = st.sampled_from(
    [
        *("a", "b", "ß", EMOJI, "\n", "\r", "\r\n", LS, "\u2029", BACKSPACE, BOM, MISSING_TEXT),
        *("\x1b", "[", "m", "3", "\x98", "\x9c", "\x9b", "\\", "\t", "\x00", "\x7f", "\x85"),
    ]
)
TEXT = st.lists(st.one_of(TRICKY, st.characters()), max_size=60).map("".join)


def shown(*messages: bytes | str, max_chars: int = MAX_CHARS) -> str:
    text = RttText(max_chars=max_chars)
    for message in messages:
        text.feed(message)
    return text.text


# ------------------------------------------------------------------------------ constants
def test_rfc_8865_constants() -> None:
    assert t140.SUBPROTOCOL == "t140"
    assert t140.LABEL == "t140"
    assert BACKSPACE == "\x08"
    assert LS == "\u2028"
    assert BOM == "\ufeff"
    assert MISSING_TEXT == "\ufffd"
    assert KEEPALIVE == b"\xef\xbb\xbf"


# ------------------------------------------------------------------------------ sending
@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        ("Hallo", "Hallo"),
        ("a\nb", f"a{LS}b"),
        ("a\r\nb", f"a{LS}b"),
        ("a\rb", f"a{LS}b"),
        ("a\r\rb", f"a{LS}{LS}b"),
        ("a\n\rb", f"a{LS}{LS}b"),
        ("a\u2029b", f"a{LS}b"),
        (f"a{LS}b", f"a{LS}b"),
        ("a\tb\x00c\x7fd\x85e\x9bf", "abcdef"),
        (f"{BOM}a{BOM}", "a"),
        ("a\x08b", "ab"),  # a backspace in a field's value is not an erasure
        ("a\ud800b", f"a{MISSING_TEXT}b"),
        (f"Grüße {EMOJI}", f"Grüße {EMOJI}"),
        ("", ""),
    ],
)
def test_normalize_and_encode(typed: str, sent: str) -> None:
    assert normalize(typed) == sent
    assert encode(typed) == sent.encode("utf-8")


def test_encode_erase() -> None:
    assert encode_erase() == b"\x08"
    assert encode_erase(3) == b"\x08\x08\x08"
    assert encode_erase(0) == b""
    with pytest.raises(ValueError):
        encode_erase(-1)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("", "", ""),
        ("abc", "abc", ""),
        ("", "Hallo", "Hallo"),
        ("Hal", "Hallo", "lo"),
        ("Hallo", "Hal", "\x08\x08"),
        ("Hallo", "Hilfe", "\x08\x08\x08\x08ilfe"),
        ("ab\ncd", "ab\nxy", "\x08\x08xy"),
        ("ab\ncd", "ab", "\x08\x08\x08"),  # the line separator is erased too
        ("ab", "ab\r\n", LS),
        (f"x{EMOJI}", "x", "\x08"),  # one backspace per code point, not per UTF-16 unit
        (f"x{EMOJI}", "x😁", "\x08😁"),
    ],
)
def test_diff_to_t140(old: str, new: str, message: str) -> None:
    assert diff_to_t140(old, new) == message.encode("utf-8")


@given(old=TEXT, new=TEXT)
def test_diff_round_trip(old: str, new: str) -> None:
    text = RttText(old)
    text.feed(diff_to_t140(old, new))
    assert text.text == normalize(new)
    received = RttText()  # the same, as the peer sees it
    received.feed(encode(old))
    received.feed(diff_to_t140(old, new))
    assert received.text == normalize(new)


@given(typed=TEXT)
def test_what_is_sent_is_shown_unchanged(typed: str) -> None:
    assert shown(encode(typed)) == normalize(typed)
    assert shown(normalize(typed)) == normalize(typed)


# ------------------------------------------------------------------------------ receiving
def test_operations_are_coalesced_in_order() -> None:
    decoder = T140Decoder()
    assert decoder.decode(b"ab\x08\x08c\r\nd") == [
        Insert("ab"),
        Erase(2),
        Insert("c"),
        NewLine(),
        Insert("d"),
    ]
    assert decoder.decode("") == []
    assert decoder.decode(KEEPALIVE) == []


def test_erase_removes_the_last_character_including_a_line_separator() -> None:
    assert shown("ab\ncd", "\x08\x08") == f"ab{LS}"
    assert shown("ab\ncd", "\x08\x08\x08") == "ab"
    assert shown("ab\ncd", "\x08" * 4) == "a"
    assert shown("ab", "\x08" * 10) == ""  # past the start: nothing left, no error
    assert shown("\x08\x08x") == "x"
    assert shown(f"x{EMOJI}", "\x08") == "x"


def test_erase_in_the_same_message_as_the_text() -> None:
    assert shown("Hallp\x08o") == "Hallo"
    assert shown(b"\xc3\xa4\x08b") == "b"


def test_a_four_byte_emoji_split_into_single_bytes() -> None:
    decoder = T140Decoder()
    data = EMOJI.encode("utf-8")
    assert len(data) == 4
    assert [decoder.decode(data[i : i + 1]) for i in range(3)] == [[], [], []]
    assert decoder.decode(data[3:]) == [Insert(EMOJI)]


def test_utf8_split_at_every_position() -> None:
    text = f"Grüße, {EMOJI} € ok\nzweite Zeile"
    data = text.encode("utf-8")
    for cut in range(len(data) + 1):
        assert shown(data[:cut], data[cut:]) == normalize(text), cut


@given(typed=TEXT, cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=6))
def test_any_split_into_messages_shows_the_same(typed: str, cuts: list[int]) -> None:
    """Splitting a stream anywhere (inside UTF-8, CR LF, escape sequences) changes nothing."""
    data = typed.encode("utf-8")
    bounds = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    parts = [data[a:b] for a, b in itertools.pairwise(bounds)]
    assert shown(*parts) == shown(data)
    assert shown(typed) == shown(data)  # str and bytes messages mean the same


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"\xff", MISSING_TEXT),
        (b"a\xc3(b", f"a{MISSING_TEXT}(b"),
        (b"\xe2\x82(", f"{MISSING_TEXT}("),
        (b"\xf0\x9f\x98A", f"{MISSING_TEXT}A"),
        (b"\xed\xa0\x80", MISSING_TEXT * 3),  # an encoded surrogate
        (b"\xc0\xaf", MISSING_TEXT * 2),  # overlong
        (b"\xf4\x90\x80\x80", MISSING_TEXT * 4),  # beyond U+10FFFF
        (b"ok\x80\x80ok", f"ok{MISSING_TEXT}{MISSING_TEXT}ok"),
    ],
)
def test_invalid_utf8_becomes_the_missing_text_marker(data: bytes, text: str) -> None:
    assert shown(data) == text


def test_an_unfinished_sequence_is_missing_text_at_flush_or_before_a_str_message() -> None:
    decoder = T140Decoder()
    assert decoder.decode(b"a\xf0\x9f") == [Insert("a")]
    assert decoder.flush() == [Insert(MISSING_TEXT)]
    assert decoder.flush() == []
    assert decoder.decode(b"\xe2\x82") == []
    assert decoder.decode("b") == [Insert(f"{MISSING_TEXT}b")]


def test_a_lone_surrogate_in_a_str_message() -> None:
    assert shown("a\udc00b") == f"a{MISSING_TEXT}b"


@pytest.mark.parametrize("newline", ["\r\n", "\r", "\n", LS, "\u2029"])
def test_new_lines_are_normalised(newline: str) -> None:
    assert shown(f"eins{newline}zwei") == f"eins{LS}zwei"
    assert shown(f"eins{newline}zwei".encode()) == f"eins{LS}zwei"


def test_cr_lf_split_across_messages_is_one_new_line() -> None:
    decoder = T140Decoder()
    assert decoder.decode("a\r") == [Insert("a"), NewLine()]  # shown at once
    assert decoder.decode("\nb") == [Insert("b")]
    assert shown("a\r", "\r\n", "b") == f"a{LS}{LS}b"
    assert shown("a\r", "x\n") == f"a{LS}x{LS}"
    assert shown("\n\n") == LS * 2


def test_bom_is_ignored() -> None:
    assert shown(KEEPALIVE, "a", BOM, f"b{BOM}c", KEEPALIVE) == "abc"
    assert T140Decoder().decode(KEEPALIVE + KEEPALIVE) == []


KEPT = {0x08, 0x0A, 0x0D, 0x1B, 0x90, 0x98, 0x9B, 0x9D, 0x9E, 0x9F}


@pytest.mark.parametrize(
    "control", [cp for cp in (*range(0x20), *range(0x7F, 0xA0)) if cp not in KEPT]
)
def test_other_controls_are_dropped(control: int) -> None:
    assert shown(f"a{chr(control)}b") == "ab"
    assert shown(f"a{chr(control)}b".encode()) == "ab"


@pytest.mark.parametrize(
    ("received", "text"),
    [
        ("a\x1b[1;31mb\x1b[0mc", "abc"),  # graphic rendition (T.140 SGR)
        ("a\x9b7mb", "ab"),  # the same with the C1 CSI
        ("a\x1bab", "ab"),  # T.140 INT: ESC a
        ("a\x1b(Bb", "ab"),  # an intermediate, then a final
        ("a\x98protocol extension\x9cb", "ab"),  # SOS … ST
        ("a\x1bXstring\x1b\\b", "ab"),  # ESC X … ESC \
        ("a\x1b]0;title\x9cb", "ab"),  # OSC
        ("a\x90dcs\x1b\x1b\\b", "ab"),
        ("a\x98x\ny\x08z\x9cb", "ab"),  # nothing inside a string has an effect
        ("a\x1bäb", "aäb"),  # ESC before a non-ASCII character: only the ESC goes
        ("a\x1b\nb", f"a{LS}b"),
        ("a\x1b[12äb", "aäb"),  # a character that cannot belong to a CSI ends it
        ("a\x1b[\x08b", "b"),
        ("a\x9c\x1b\\b", "ab"),  # lone ST; ESC \ (a complete escape sequence)
    ],
)
def test_escape_sequences_and_control_strings_are_ignored(received: str, text: str) -> None:
    assert shown(received) == text
    assert shown(received.encode()) == text


def test_an_escape_sequence_split_across_messages() -> None:
    assert shown("a\x1b", "[3", "1m", "b") == "ab"
    assert shown("a\x98sec", "ret", "\x9cb") == "ab"
    assert shown(b"a\xc2", b"\x98x\xc2\x9c", b"b") == "ab"  # C1 SOS/ST in UTF-8, split


def test_an_unterminated_control_string_cannot_swallow_the_conversation() -> None:
    assert shown("a\x98" + "x" * MAX_CONTROL_CHARS + "visible") == "avisible"
    assert shown("a\x1b[" + "1" * (MAX_CONTROL_CHARS - 1) + "xyz") == "axyz"
    assert shown("\x98" + "x" * (MAX_CONTROL_CHARS - 1) + "\x9cb") == "b"


def test_decoder_reset() -> None:
    decoder = T140Decoder()
    decoder.decode(b"\x1b[3\r\xf0\x9f")
    decoder.reset()
    assert decoder.decode("\nm") == [NewLine(), Insert("m")]
    assert decoder.flush() == []


# ------------------------------------------------------------------------------ RttText
def test_rtt_text_basics() -> None:
    text = RttText("eins\r\nzwei")
    assert text.text == f"eins{LS}zwei"
    assert text.lines() == ["eins", "zwei"]
    assert len(text) == 9
    assert text.max_chars == MAX_CHARS
    text.apply(NewLine())
    assert text.lines() == ["eins", "zwei", ""]
    text.apply([Erase(2), Insert("i\x1bx"), Insert("\x00")])
    assert text.text == f"eins{LS}zweix"
    text.erase(0)
    text.erase(-1)
    assert text.text == f"eins{LS}zweix"
    text.clear()
    assert text.text == ""
    assert text.lines() == [""]
    with pytest.raises(ValueError):
        RttText(max_chars=0)


def test_clear_forgets_what_was_half_received() -> None:
    text = RttText()
    text.feed(b"a\xf0\x9f")
    text.clear()
    text.feed(b"\x98\x80b")
    assert text.text == f"{MISSING_TEXT}{MISSING_TEXT}b"


def test_bound_drops_whole_lines_from_the_start() -> None:
    text = RttText(max_chars=12)
    text.feed("eins\nzwei\ndrei")
    assert text.text == f"zwei{LS}drei"  # 14 > 12: the first line goes
    text.feed("\nvier")
    assert text.text == f"drei{LS}vier"
    text.feed("\n")
    assert text.text == f"drei{LS}vier{LS}"


def test_bound_cuts_a_single_long_line() -> None:
    text = RttText(max_chars=5)
    text.feed("abcdefgh")
    assert text.text == "defgh"
    text.feed("\nxy")
    assert text.text == "xy"  # "defgh␤xy" is 8: the line "defgh" goes


def test_default_bound() -> None:
    text = RttText()
    for _ in range(MAX_CHARS // 10 + 5):
        text.feed("123456789\n")
    assert len(text) <= MAX_CHARS
    assert text.lines()[-1] == ""
    assert set(text.lines()[:-1]) == {"123456789"}
    text.feed("x" * (MAX_CHARS + 1))
    assert text.text == "x" * MAX_CHARS


@given(
    messages=st.lists(TEXT, max_size=20),
    max_chars=st.integers(min_value=1, max_value=30),
)
def test_the_bound_always_holds(messages: list[str], max_chars: int) -> None:
    text = RttText(max_chars=max_chars)
    unbounded = RttText(max_chars=10_000)
    peak = 0
    for message in messages:
        text.feed(message)
        unbounded.feed(message)
        peak = max(peak, len(unbounded))
        assert len(text) <= max_chars
    # text dropped by the bound cannot come back when later erasures shrink the text again:
    # the two agree when the bound was never reached
    if peak <= max_chars:
        assert text.text == unbounded.text


# ------------------------------------------------------------------------------ conversation
def test_conversation_counts_and_clears() -> None:
    talk = RttConversation(max_chars=100)
    assert talk.send_text("Hallo\n") == f"Hallo{LS}".encode()
    assert talk.send_erase(2) == b"\x08\x08"
    assert talk.sent.text == "Hall"
    assert talk.chars_out == 8
    assert talk.receive(b"Guten Tag\r\n\x1b[1m!\x08") == [
        Insert("Guten Tag"),
        NewLine(),
        Insert("!"),
        Erase(1),
    ]
    assert talk.received.lines() == ["Guten Tag", ""]
    assert talk.chars_in == 12
    talk.receive(KEEPALIVE)
    assert talk.chars_in == 12  # keep-alives and ignored controls do not count
    talk.clear()
    assert (talk.sent.text, talk.received.text) == ("", "")
    assert (talk.chars_in, talk.chars_out) == (12, 8)  # monotonic


def test_conversation_sends_a_text_field() -> None:
    talk = RttConversation()
    peer = RttText()
    for value in ["H", "Ha", "Hal", "Hallo", "Hallo\n", "Hallo\nWelt", "Hallo", "", "Tschüss"]:
        peer.feed(talk.update_field(value))
        assert peer.text == talk.sent.text == normalize(value)
    assert talk.update_field("Tschüss") == b""
    assert talk.chars_out == 1 + 1 + 1 + 2 + 1 + 4 + 5 + 5 + 7


def test_no_typed_text_in_any_repr() -> None:
    talk = RttConversation()
    talk.send_text("Geheimnis")
    talk.receive("Geheimnis")
    for obj in (Insert("Geheimnis"), talk.sent, talk.received, talk):
        assert "Geheimnis" not in repr(obj)


def test_nothing_is_logged_or_written() -> None:
    source = (ROOT / "booth" / "media" / "t140.py").read_text(encoding="utf-8")
    for forbidden in ("import logging", "getLogger", "print(", "open(", "write("):
        assert forbidden not in source, forbidden


def test_the_browser_twins_are_identical() -> None:
    portal = (ROOT / "cloud_bridge" / "web" / "t140.js").read_bytes()
    assert (ROOT / "booth" / "web" / "t140.js").read_bytes() == portal
