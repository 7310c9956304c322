"""How the client reads a server-sent event stream (sora_client._sse.SSEDecoder): whatever the
line ends and however the bytes are split into chunks, the same events come out; comments are
skipped, data lines joined, the event name reset and the last id kept from event to event; a
line or an event over the decoder's limit is refused, not buffered."""

from __future__ import annotations

import pytest

from sora_client._sse import MAX_LINE, Event, LineTooLong, SSEDecoder

STREAM = (
    ': keep-alive\nevent: progress\nid: 1\ndata: {"a": 1}\ndata: second line\n\ndata: [DONE]\n\n'
)
EVENTS = [
    Event('{"a": 1}\nsecond line', "progress", "1"),
    Event("[DONE]", "message", "1"),  # the last id stays; the event name does not
]


def _decode(chunks: list[bytes], max_line: int = MAX_LINE) -> list[Event]:
    decoder = SSEDecoder(max_line)
    events: list[Event] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    return events + decoder.close()


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
def test_every_line_end_gives_the_same_events(end: str) -> None:
    data = STREAM.replace("\n", end).encode()
    assert _decode([data]) == EVENTS
    assert _decode([data[i : i + 1] for i in range(len(data))]) == EVENTS, "byte by byte"


def test_a_crlf_split_between_chunks_is_one_line_end() -> None:
    # the LF opening the next chunk belongs to the CR that ended the last one: it is no
    # blank line, which would end the event early
    assert _decode([b"data: a\r", b"\ndata: b\r", b"\n\r\n"]) == [Event("a\nb")]


def test_a_cr_ending_a_chunk_does_not_swallow_a_later_lf() -> None:
    # the CR at a chunk's end is forgotten once the next chunk starts with something else
    assert _decode([b"data: a\r", b"data: b", b"\n\n"]) == [Event("a\nb")]
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"data: b") == []
    assert decoder.feed(b"\n\n") == [Event("a\nb")]


def test_a_cr_followed_by_another_line_in_the_same_chunk() -> None:
    assert _decode([b"data: a\rdata: b\r\rdata: c\n\n"]) == [Event("a\nb"), Event("c")]


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        ([b"data: a\ndata: b\r\r"], [Event("a\nb")]),  # an LF line, then CR lines
        ([b"data: a\r\ndata: b\n\r"], [Event("a\nb")]),
        ([b"data: a\n\n", b"\ndata: b\r\r"], [Event("a"), Event("b")]),  # LF opens a chunk
        ([b"\ndata: b\r\r"], [Event("b")]),
    ],
)
def test_line_ends_mixed_in_one_stream_each_end_one_line(
    chunks: list[bytes], expected: list[Event]
) -> None:
    assert _decode(chunks) == expected


def test_events_come_out_as_soon_as_their_blank_line_arrives() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: one\n") == []
    assert decoder.feed(b"\ndata: tw") == [Event("one")]
    assert decoder.feed(b"o\n\ndata: three\n\n") == [Event("two"), Event("three")]
    assert decoder.close() == []


def test_the_end_of_the_stream_flushes_a_last_line_and_a_pending_event() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\ndata: b") == []
    assert decoder.close() == [Event("a\nb")]
    pending = SSEDecoder()
    assert pending.feed(b"data: a\n") == []
    assert pending.close() == [Event("a")]
    # a last line that came in pieces, or with bytes that are not UTF-8
    assert _decode([b"data: a", b"b", b"c"]) == [Event("abc")]
    assert _decode([b"data: caf\xc3", b"\xa9 \xff"]) == [Event("caf\u00e9 \ufffd")]
    # a last line that is a comment or a name only: no event
    assert _decode([b": bye"]) == []
    assert _decode([b"event: x"]) == []
    assert SSEDecoder().close() == []


def test_comments_unknown_fields_and_blank_lines_alone_make_no_event() -> None:
    assert _decode([b": one\n\n\n\nretry: 10\nfoo: bar\n\n"]) == []


def test_an_event_name_without_data_is_forgotten_at_the_blank_line() -> None:
    assert _decode([b"event: progress\n\ndata: x\n\n"]) == [Event("x", "message")]


def test_an_event_name_is_reset_after_each_event() -> None:
    text = b"event: a\ndata: 1\n\ndata: 2\n\nevent: b\ndata: 3\n\n"
    assert [e.event for e in _decode([text])] == ["a", "message", "b"]


def test_an_id_is_kept_until_another_one_comes() -> None:
    text = b"data: 1\n\nid: 7\ndata: 2\n\ndata: 3\n\nid: 8\ndata: 4\n\n"
    assert [e.id for e in _decode([text])] == [None, "7", "7", "8"]


def test_only_one_space_after_the_colon_is_dropped() -> None:
    text = b"data:x\n\ndata:  y\n\ndata: a: b\n\ndata\n\nevent:\tz\ndata: 1\n\n"
    events = _decode([text])
    assert [e.data for e in events] == ["x", " y", "a: b", "", "1"]
    assert events[-1].event == "\tz"


def test_bytes_that_are_not_utf8_are_replaced_not_fatal() -> None:
    assert _decode([b"data: caf\xc3", b"\xa9 \xff\n\n"]) == [Event("caf\u00e9 \ufffd")]


def test_a_line_up_to_the_limit_is_read_and_one_byte_more_is_refused() -> None:
    line = b"data: " + b"x" * 4  # 10 bytes
    assert _decode([line + b"\n\n"], max_line=10) == [Event("xxxx")]
    assert _decode([line[:3], line[3:], b"\n\n"], max_line=10) == [Event("xxxx")]
    with pytest.raises(LineTooLong) as refused:
        _decode([line + b"y\n\n"], max_line=10)
    assert refused.value.limit == 10
    assert str(refused.value) == "an event-stream line or event exceeds 10 bytes"
    # split over chunks, the line is counted whole
    with pytest.raises(LineTooLong):
        _decode([line[:5], line[5:], b"y"], max_line=10)


def test_the_limit_counts_each_line_on_its_own() -> None:
    # many lines, each within the limit: the count starts again at every line end
    text = b"".join(b": " + b"c" * 8 + b"\n" for _ in range(20))
    assert _decode([text], max_line=10) == []
    assert _decode([text.replace(b"\n", b"\r")], max_line=10) == []


def test_an_event_whose_data_lines_add_up_past_the_limit_is_refused() -> None:
    # each data line counts its value and the newline that joins it: 4 + 1 per line
    fits = b"data: abcd\n" * 2 + b"\n"
    assert _decode([fits], max_line=10) == [Event("abcd\nabcd")]
    with pytest.raises(LineTooLong) as refused:
        _decode([b"data: abcd\n" * 2 + b"data: a\n\n"], max_line=10)
    assert refused.value.limit == 10
    # the count starts again with each event
    assert _decode([fits * 3], max_line=10) == [Event("abcd\nabcd")] * 3


def test_the_default_limit_is_one_mebibyte() -> None:
    assert MAX_LINE == 1024 * 1024
    assert SSEDecoder().max_line == MAX_LINE
    big = b"data: " + b"x" * (MAX_LINE - 6) + b"\n\n"
    assert _decode([big]) == [Event("x" * (MAX_LINE - 6))]
    with pytest.raises(LineTooLong):
        _decode([b"data: " + b"x" * (MAX_LINE - 5) + b"\n\n"])


def test_a_closed_decoder_reads_the_next_stream_afresh() -> None:
    decoder = SSEDecoder(max_line=10)
    assert decoder.feed(b"event: x\ndata: 12") == []
    assert decoder.close() == [Event("12", "x")]
    # a full-length line is still within the limit: nothing of the last one is counted
    assert decoder.feed(b"data: abcd\n\n") == [Event("abcd")]
    assert decoder.close() == []
