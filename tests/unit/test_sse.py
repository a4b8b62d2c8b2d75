"""Properties of the SSE parser and encoder (llm_api.sse), checked with Hypothesis.

However a stream is cut into chunks — inside a line, inside a UTF-8 character, between
``\\r`` and ``\\n``, into empty chunks — the parser yields exactly the events of the whole
stream; and what ``encode_data`` writes, the parser reads back as the same JSON.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_api.binding.events import DONE
from llm_api.errors import BackendError
from llm_api.sse import (
    DONE_FRAME,
    MAX_EVENT_BYTES,
    MAX_LINE_BYTES,
    MAX_STREAM_BYTES,
    SSEParser,
    encode_data,
    encode_response,
    iter_sse_data,
)

#: any text without line breaks, astral characters (emoji) included
LINE_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=30)
EOL = st.sampled_from(["\n", "\r", "\r\n"])
PROFILE = settings(max_examples=200, deadline=None, derandomize=True, database=None)


@st.composite
def data_line(draw: st.DrawFn) -> tuple[str, str]:
    """``(line, value)``: a data field line and the value the parser must read from it."""
    value = draw(LINE_TEXT)
    if draw(st.booleans()):
        return f"data: {value}", value  # one space after the colon is not part of the value
    if draw(st.booleans()):
        return "data" + ("" if value else ":"), ""  # a bare field name means an empty value
    return f"data:{value}", value.removeprefix(" ")


IGNORED_LINE = st.one_of(
    LINE_TEXT.map(lambda text: ":" + text),  # a comment (keep-alive)
    st.tuples(st.sampled_from(["event", "id", "retry", "dat", "datas", "Data"]), LINE_TEXT).map(
        lambda parts: f"{parts[0]}: {parts[1]}"
    ),
)


@st.composite
def sse_stream(draw: st.DrawFn) -> tuple[bytes, list[str]]:
    """A stream's bytes and the data of the events it holds, in order.

    Events are separated by blank lines (one or several: several dispatch nothing more);
    an event without data lines (comments only, or nothing) dispatches nothing. The last
    event may lack its blank line: the stream's end still completes it.
    """
    wire: list[str] = []
    expected: list[str] = []
    for _ in range(draw(st.integers(0, 6))):
        values: list[str] = []
        for _ in range(draw(st.integers(0, 4))):
            if draw(st.booleans()):
                line, value = draw(data_line())
                values.append(value)
            else:
                line = draw(IGNORED_LINE)
            wire.append(line + draw(EOL))
        wire.extend(draw(EOL) for _ in range(draw(st.integers(1, 2))))
        if values:
            expected.append("\n".join(values))
    if draw(st.booleans()):  # a last event whose blank line never comes
        line, value = draw(data_line())
        wire.append(line + draw(st.sampled_from(["", "\n", "\r", "\r\n"])))
        expected.append(value)
    for index in range(1, len(wire)):
        if wire[index - 1].endswith("\r") and wire[index] == "\n":
            wire[index] = "\r"  # "\r" then "\n" would be one line break, not two
    return "".join(wire).encode(), expected


@st.composite
def cuts(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """``data`` in chunks cut at arbitrary byte offsets, empty chunks included."""
    offsets = draw(st.lists(st.integers(0, len(data)), max_size=12))
    # and often right after a CR, sometimes twice there (an empty chunk before the LF)
    after_cr = [index + 1 for index, byte in enumerate(data) if byte == ord("\r")]
    if after_cr:
        offsets += draw(st.lists(st.sampled_from(after_cr), max_size=4))
    bounds = [0, *sorted(offsets), len(data)]
    return [data[start:end] for start, end in itertools.pairwise(bounds)]


def parse(chunks: list[bytes]) -> list[str]:
    parser = SSEParser()
    events = [data for chunk in chunks for data in parser.feed(chunk)]
    return events + parser.close()


def parse_async(chunks: list[bytes]) -> list[str]:
    async def source() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    async def collect() -> list[str]:
        return [data async for data in iter_sse_data(source())]

    return asyncio.run(collect())


@PROFILE
@given(st.data(), sse_stream())
def test_events_do_not_depend_on_where_the_stream_is_cut(
    data: st.DataObject, stream: tuple[bytes, list[str]]
) -> None:
    wire, expected = stream
    assert parse([wire]) == expected
    chunks = data.draw(cuts(wire))
    assert parse(chunks) == expected
    assert parse_async(chunks) == expected


@PROFILE
@given(sse_stream())
def test_byte_by_byte_is_the_same_as_whole(stream: tuple[bytes, list[str]]) -> None:
    wire, expected = stream
    assert parse([wire[i : i + 1] for i in range(len(wire))]) == expected


# JSON values as generation streams carry them: text with line breaks, U+2028, emoji, and
# lone surrogates (an upstream may split an emoji's UTF-16 pair across two events).
SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
JSON_TEXT = st.text(st.characters(codec=None) | SURROGATES, max_size=20)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | JSON_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(JSON_TEXT, inner, max_size=4),
    max_leaves=12,
)


@PROFILE
@given(st.data(), st.lists(JSON_VALUES, max_size=5))
def test_encoded_events_read_back_as_the_same_json(
    data: st.DataObject, payloads: list[Any]
) -> None:
    wire = b"".join(encode_data(payload) for payload in payloads) + DONE_FRAME
    wire.decode("utf-8")  # what goes on the wire is valid UTF-8, whatever the text held
    events = parse(data.draw(cuts(wire)))
    assert events[-1] == DONE
    assert [json.loads(event) for event in events[:-1]] == payloads


@PROFILE
@given(JSON_TEXT)
def test_the_token_frame_shortcut_is_encode_data(text: str) -> None:
    assert encode_response(text) == encode_data({"response": text})
    assert json.loads(parse([encode_response(text)])[0]) == {"response": text}


def test_a_split_surrogate_pair_joins_back_on_the_client() -> None:
    # '{"response": "\ud83d"}' then '{"response": "\ude00"}': the halves of 😀
    halves = [json.loads('"\\ud83d"'), json.loads('"\\ude00"')]
    wire = b"".join(encode_data({"response": half}) for half in halves)
    texts = [json.loads(event)["response"] for event in parse([wire])]
    assert "".join(texts).encode("utf-16", "surrogatepass").decode("utf-16") == "😀"


@pytest.mark.parametrize(
    ("chunks", "events"),
    [
        # found by the properties above: a pending CR must survive an empty chunk...
        ([b"data: a\r", b"", b"\ndata: b\n\n"], ["a\nb"]),
        # ...and end with the LF that completes it, so the next LF is a blank line
        ([b"data: a\r", b"\n", b"\n", b"data: b\n\n"], ["a", "b"]),
        # a character split across chunks, then CR, nothing, LF, LF: one event
        ([b"data: \xf0\x9f", b"\x98\x80\r", b"", b"\n\n"], ["😀"]),
    ],
)
def test_line_breaks_split_across_chunks(chunks: list[bytes], events: list[str]) -> None:
    assert parse(chunks) == events


# --- issue 12, finding 2: upstream stream bytes are bounded, and parsed in linear time ---


def capped_outcome(chunks: list[bytes], cap: int) -> list[str] | str:
    parser = SSEParser(max_line_bytes=cap, max_event_bytes=cap)
    try:
        return [data for chunk in chunks for data in parser.feed(chunk)] + parser.close()
    except BackendError as error:
        return f"{type(error).__name__}: {error.message}"


@PROFILE
@given(st.data(), sse_stream(), st.integers(1, 40))
def test_a_cap_is_broken_or_kept_wherever_the_stream_is_cut(
    data: st.DataObject, stream: tuple[bytes, list[str]], cap: int
) -> None:
    wire, expected = stream
    whole = capped_outcome([wire], cap)
    assert capped_outcome(data.draw(cuts(wire)), cap) == whole
    if isinstance(whole, list):  # kept: exactly the uncapped events
        assert whole == expected


def test_a_long_line_in_many_chunks_is_parsed_in_linear_time() -> None:
    # Before: every chunk re-joined the whole buffer, so a 10 MB line in 4 KB chunks took
    # 4.5-9 s of CPU (and stalled the event loop: /health waited 432 ms). Now ~0.03 s.
    parser = SSEParser(max_line_bytes=1 << 30, max_event_bytes=1 << 30)
    chunk = b"x" * 4096
    started = time.process_time()
    parser.feed(b"data: ")
    for _ in range(10_000_000 // len(chunk)):
        assert parser.feed(chunk) == []
    [event] = parser.feed(b"\n\n")
    elapsed = time.process_time() - started
    assert len(event) == 10_000_000 // len(chunk) * len(chunk)
    assert elapsed < 1.0, f"{elapsed:.2f} s of CPU for a 10 MB line"


def test_a_line_that_never_ends_is_cut_off_at_the_line_cap() -> None:
    parser = SSEParser()
    fed = 0
    with pytest.raises(BackendError, match=f"a stream line over {MAX_LINE_BYTES} bytes"):
        while True:
            parser.feed(b"data: " + b"x" * 4090 if fed == 0 else b"x" * 4096)
            fed += 4096
    assert fed <= MAX_LINE_BYTES  # the line was never held beyond the cap


def test_a_whole_line_over_the_cap_in_one_chunk_is_refused_too() -> None:
    with pytest.raises(BackendError, match="a stream line over"):
        SSEParser().feed(b"data: " + b"x" * MAX_LINE_BYTES + b"\n\n")


def test_data_lines_without_their_blank_line_are_cut_off_at_the_event_cap() -> None:
    parser = SSEParser()
    line = b"data: " + b"x" * 1000 + b"\n"
    with pytest.raises(BackendError, match=f"a stream event over {MAX_EVENT_BYTES} bytes"):
        for _ in range(2 * MAX_EVENT_BYTES // len(line)):
            assert parser.feed(line) == []


def test_a_stream_over_the_total_cap_ends_with_a_backend_error() -> None:
    frame = b'data: {"response":"x"}\n\n'

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield frame

    async def read() -> int:
        count = 0
        async for _ in iter_sse_data(endless(), max_stream_bytes=100 * len(frame)):
            count += 1
        return count

    with pytest.raises(BackendError, match="a stream over"):
        asyncio.run(read())
    assert MAX_STREAM_BYTES == 64 << 20  # the documented default (README.md)


def test_a_chunk_that_is_not_bytes_is_a_backend_error() -> None:
    async def text_chunks() -> AsyncIterator[Any]:
        yield 'data: {"response":"x"}\n\n'

    async def read() -> list[str]:
        return [data async for data in iter_sse_data(text_chunks())]

    with pytest.raises(BackendError, match="not bytes"):
        asyncio.run(read())
