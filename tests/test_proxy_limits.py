"""The proxy's bounds one piece at a time (``mockserver.conformance.bounds``): a request body
counted as it streams, a deadline that shuts the upstream's socket, the client's side of an
answer, an event stream cut into blocks, content codings taken off layer by layer, and a
request path kept inside the upstream's base path.

``tests/test_proxy_bounds.py`` shows the same bounds through a running proxy; here each piece
is driven alone (a fake ``wsgi.input``, a socket pair, a fake network stream), so each test
takes milliseconds and waits for nothing but a condition with a bound.
"""

from __future__ import annotations

import gzip
import io
import socket
import threading
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from werkzeug.exceptions import ClientDisconnected

from mockserver.conformance import bounds
from mockserver.conformance.bounds import (
    CHUNK,
    Answer,
    BodyRefused,
    ClientGone,
    Deadline,
    Decoder,
    EventBlocks,
    Watchdog,
    contained_target,
    decoder_for,
    read_body,
    shut,
    socket_of,
    then,
)

WAIT = 10.0  # the bound on every wait for a condition


# --------------------------------------------------------------------------- request bodies


class Input:
    """A ``wsgi.input`` that hands out the given pieces and notes every size asked for."""

    def __init__(self, *pieces: bytes, error: BaseException | None = None, read1: bool = True):
        self.pieces = list(pieces)
        self.asked: list[tuple[str, int]] = []
        self.error = error
        if read1:
            self.read1 = self._read1

    def _next(self, how: str, size: int) -> bytes:
        self.asked.append((how, size))
        if not self.pieces and self.error is not None:
            raise self.error
        return self.pieces.pop(0) if self.pieces else b""

    def read(self, size: int = -1) -> bytes:
        return self._next("read", size)

    def _read1(self, size: int = -1) -> bytes:
        return self._next("read1", size)


def body(stream: Input, declared: int | None, limit: int = 1000, **environ: Any) -> list[bytes]:
    held: list[bytes] = []
    got = list(read_body({"wsgi.input": stream, **environ}, declared, limit, held))
    assert held == got
    return got


def test_a_declared_body_is_read_as_it_arrives() -> None:
    stream = Input(b"abc", b"de")
    assert body(stream, 5) == [b"abc", b"de"]
    # each read asks for at most what is left, from what the socket has (read1)
    assert stream.asked == [("read1", 5), ("read1", 2)]


def test_a_declared_body_whose_last_read_is_one_byte_ends_there() -> None:
    stream = Input(b"ab", b"c", b"never read")
    assert body(stream, 3) == [b"ab", b"c"]
    assert stream.asked == [("read1", 3), ("read1", 1)]


def test_a_large_declared_body_is_read_a_chunk_at_a_time() -> None:
    stream = Input(b"x" * CHUNK, b"y")
    assert body(stream, CHUNK + 1, limit=2 * CHUNK) == [b"x" * CHUNK, b"y"]
    assert stream.asked == [("read1", CHUNK), ("read1", 1)]


def test_a_declared_body_read_without_read1_uses_read() -> None:
    stream = Input(b"ab", read1=False)
    assert body(stream, 2) == [b"ab"]
    assert stream.asked == [("read", 2)]


def test_a_chunked_body_is_read_until_it_ends() -> None:
    stream = Input(b"a", b"bc", b"")
    assert body(stream, None, **{"wsgi.input_terminated": True}) == [b"a", b"bc"]
    # no declared length: whole chunks, through read (Werkzeug's dechunking stream)
    assert stream.asked == [("read", CHUNK)] * 3


def test_a_chunked_body_ignores_a_declared_length() -> None:
    stream = Input(b"abcdef", b"")
    assert body(stream, 2, **{"wsgi.input_terminated": True}) == [b"abcdef"]


def test_no_declared_length_and_no_chunks_is_an_empty_body() -> None:
    stream = Input(b"never read")
    assert body(stream, None) == [] and body(stream, 0) == []
    assert stream.asked == []


def test_a_body_cut_before_its_declared_end_is_refused() -> None:
    with pytest.raises(BodyRefused) as refused:
        body(Input(b"abc"), 10)
    assert (refused.value.status, refused.value.code) == (400, "bad_request")
    assert refused.value.message == (
        "the request body ended before its declared end: not forwarded whole"
    )
    assert str(refused.value) == refused.value.message


def test_a_body_one_byte_short_is_refused_too() -> None:
    with pytest.raises(BodyRefused) as refused:
        body(Input(b"ab"), 3)
    assert (refused.value.status, refused.value.code) == (400, "bad_request")


@pytest.mark.parametrize(
    "error", [OSError("reset"), ClientDisconnected()], ids=["socket", "werkzeug"]
)
def test_a_client_that_drops_mid_body_is_a_400(error: BaseException) -> None:
    with pytest.raises(BodyRefused) as refused:
        body(Input(b"ab", error=error), 10)
    assert (refused.value.status, refused.value.code) == (400, "bad_request")
    assert "ended before its declared end" in refused.value.message
    assert refused.value.__cause__ is error


def test_a_body_over_the_limit_is_refused_as_it_streams_and_not_held() -> None:
    held: list[bytes] = []
    stream = Input(b"a" * 6, b"b" * 6, b"never")
    reader = read_body({"wsgi.input": stream, "wsgi.input_terminated": True}, None, 10, held)
    assert next(reader) == b"a" * 6
    with pytest.raises(BodyRefused) as refused:
        next(reader)
    assert (refused.value.status, refused.value.code) == (413, "request_too_large")
    assert refused.value.message == (
        "the request body is larger than the proxy's limit of 10 bytes "
        "(counted as it streamed): not forwarded whole"
    )
    assert held == [b"a" * 6]  # the chunk past the limit is never kept
    assert len(stream.asked) == 2


def test_a_body_of_exactly_the_limit_passes() -> None:
    assert body(Input(b"a" * 4, b"b" * 6), 10, limit=10) == [b"a" * 4, b"b" * 6]


def test_then_runs_its_callback_once_the_body_is_all_sent() -> None:
    done: list[str] = []
    chunks = then(iter([b"a", b"b"]), lambda: done.append("armed"))
    assert next(chunks) == b"a" and next(chunks) == b"b"
    assert done == []
    assert list(chunks) == [] and done == ["armed"]


# --------------------------------------------------------------------------- deadlines


class Noted(Deadline):
    """A deadline that says when it fired."""

    def __init__(self, watchdog: Watchdog, seconds: float) -> None:
        super().__init__(watchdog, seconds)
        self.fired = threading.Event()

    def expire(self) -> None:
        super().expire()
        self.fired.set()


@pytest.fixture
def watchdog() -> Iterator[Watchdog]:
    dog = Watchdog()
    yield dog
    dog.close()


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def shut_down(sock: socket.socket) -> bool:
    """Whether our end was shut: a shut socket reads its end at once."""
    sock.settimeout(WAIT)
    return sock.recv(1) == b""


def test_a_passed_deadline_shuts_the_upstream_socket(
    watchdog: Watchdog, pair: tuple[socket.socket, socket.socket]
) -> None:
    deadline = Noted(watchdog, 0.0)
    assert deadline.expired is False
    deadline.watch(pair[0])
    deadline.arm()
    assert deadline.fired.wait(WAIT)
    assert deadline.expired and shut_down(pair[0])


def test_only_the_deadlines_that_passed_fire(watchdog: Watchdog) -> None:
    soon, later = Noted(watchdog, 0.0), Noted(watchdog, 3600.0)
    later.arm()
    soon.arm()
    assert soon.fired.wait(WAIT)
    assert not later.fired.is_set() and not later.expired
    assert list(watchdog._due) == [later]  # the fired one is no longer watched


def test_a_disarmed_deadline_never_fires(watchdog: Watchdog) -> None:
    kept, dropped = Noted(watchdog, 3600.0), Noted(watchdog, 3600.0)
    kept.arm()
    dropped.arm()
    dropped.disarm()
    dropped.disarm()  # twice is harmless
    assert list(watchdog._due) == [kept]


def test_rearming_a_deadline_restarts_its_clock(watchdog: Watchdog) -> None:
    deadline = Noted(watchdog, 0.0)
    deadline.seconds = 3600.0
    deadline.arm()
    first = watchdog._due[deadline]
    deadline.seconds = 7200.0
    deadline.arm()
    assert watchdog._due[deadline] - first >= 3600.0 - 1
    assert len(watchdog._due) == 1


def test_one_watchdog_thread_serves_every_deadline(watchdog: Watchdog) -> None:
    before = set(threading.enumerate())
    for _ in range(3):
        Noted(watchdog, 3600.0).arm()
    started = set(threading.enumerate()) - before
    assert len(started) == 1
    (thread,) = started
    assert thread.name == "sora-mock-proxy-deadlines" and thread.daemon


def test_a_watchdog_starts_no_thread_before_a_deadline(watchdog: Watchdog) -> None:
    assert watchdog._thread is None


def test_a_closed_watchdog_stops_its_thread_and_starts_no_other() -> None:
    dog = Watchdog()
    Noted(dog, 3600.0).arm()
    thread = dog._thread
    assert thread is not None
    dog.close()
    thread.join(WAIT)
    assert not thread.is_alive()
    late = Noted(dog, 0.0)
    late.arm()
    assert dog._thread is thread  # no new thread
    assert not late.fired.is_set()


def test_the_watchdog_wakes_for_a_sooner_deadline(watchdog: Watchdog) -> None:
    Noted(watchdog, 3600.0).arm()  # the thread now waits an hour
    soon = Noted(watchdog, 0.0)
    soon.arm()
    assert soon.fired.wait(WAIT)


class Stepped:
    """The watchdog's condition, driven by the test: each ``wait`` is noted and runs the
    test's next step instead of blocking."""

    def __init__(self, *steps: Any) -> None:
        self.waits: list[float | None] = []
        self.steps = list(steps)

    def __enter__(self) -> Stepped:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        self.steps.pop(0)()
        return True

    def notify(self) -> None:
        return None


def test_the_watchdog_sleeps_until_the_soonest_deadline_then_fires_it() -> None:
    dog = Watchdog()
    later, soon = Noted(dog, 0.0), Noted(dog, 0.0)
    now = bounds.time.monotonic()
    dog._due = {later: now + 7200.0, soon: now + 3600.0}

    def time_passes() -> None:
        dog._due[soon] = 0.0  # soon's time has come

    def close() -> None:
        dog._closed = True

    dog._cond = Stepped(time_passes, close)  # type: ignore[assignment]
    dog._run()
    waits = dog._cond.waits  # type: ignore[attr-defined]
    assert len(waits) == 2
    assert waits[0] is not None and 3500 < waits[0] <= 3600  # until the soonest, not forever
    assert waits[1] is not None and 7100 < waits[1] <= 7200
    assert soon.fired.is_set() and not later.fired.is_set()
    assert list(dog._due) == [later]


def test_a_watchdog_with_nothing_due_waits_to_be_woken() -> None:
    dog = Watchdog()

    def close() -> None:
        dog._closed = True

    dog._cond = Stepped(close)  # type: ignore[assignment]
    dog._run()
    assert dog._cond.waits == [None]  # type: ignore[attr-defined]


def test_a_socket_watched_after_the_deadline_passed_is_shut_at_once(
    watchdog: Watchdog, pair: tuple[socket.socket, socket.socket]
) -> None:
    deadline = Deadline(watchdog, 1.0)
    deadline.expire()
    deadline.watch(pair[0])
    assert shut_down(pair[0])


def test_a_socket_watched_in_time_is_left_open(
    watchdog: Watchdog, pair: tuple[socket.socket, socket.socket]
) -> None:
    deadline = Deadline(watchdog, 1.0)
    deadline.watch(pair[0])
    deadline.watch(None)  # no socket to watch: the one watched stays
    pair[1].sendall(b"x")
    pair[0].settimeout(WAIT)
    assert pair[0].recv(1) == b"x"
    deadline.expire()
    assert shut_down(pair[0])


def test_a_released_connection_is_never_shut(
    watchdog: Watchdog, pair: tuple[socket.socket, socket.socket]
) -> None:
    deadline = Deadline(watchdog, 3600.0)
    deadline.watch(pair[0])
    deadline.arm()
    deadline.release()
    assert deadline not in watchdog._due
    deadline.expire()
    pair[1].sendall(b"y")
    pair[0].settimeout(WAIT)
    assert pair[0].recv(1) == b"y"  # still open


class Stream:
    """httpcore's network stream, as its trace and the response's extension show it."""

    def __init__(self, sock: Any) -> None:
        self.sock = sock

    def get_extra_info(self, name: str) -> Any:
        return self.sock if name == "socket" else None


def test_the_deadline_follows_the_connection_httpcore_opens(
    watchdog: Watchdog, pair: tuple[socket.socket, socket.socket]
) -> None:
    deadline = Deadline(watchdog, 1.0)
    deadline.trace("connection.connect_tcp.started", {"return_value": Stream(pair[1])})
    deadline.trace("connection.connect_tcp.complete", {"return_value": None})
    deadline.trace("connection.connect_tcp.complete", {})
    deadline.trace("connection.connect_tcp.complete", {"return_value": Stream(pair[0])})
    deadline.expire()
    assert shut_down(pair[0])


def test_a_connection_going_back_to_the_pool_is_let_go(
    watchdog: Watchdog, pair: tuple[socket.socket, socket.socket]
) -> None:
    deadline = Deadline(watchdog, 3600.0)
    deadline.trace("connection.connect_tcp.complete", {"return_value": Stream(pair[0])})
    deadline.arm()
    deadline.trace("http11.response_closed.complete", {})  # not yet
    assert deadline in watchdog._due
    deadline.trace("http11.response_closed.started", {})
    assert deadline not in watchdog._due
    deadline.expire()
    pair[1].sendall(b"z")
    pair[0].settimeout(WAIT)
    assert pair[0].recv(1) == b"z"


def test_shutting_a_closed_socket_is_harmless() -> None:
    a, b = socket.socketpair()
    b.close()
    a.close()
    shut(a)


def test_the_socket_of_an_answer() -> None:
    a, b = socket.socketpair()
    with a, b:
        answer = httpx.Response(200, extensions={"network_stream": Stream(a)})
        assert socket_of(answer) is a
        assert socket_of(httpx.Response(200, extensions={"network_stream": Stream("fd")})) is None
        assert socket_of(httpx.Response(200)) is None


# --------------------------------------------------------------------------- the client's side


def test_an_answer_starts_once_its_status_is_given() -> None:
    given: list[tuple[str, list[tuple[str, str]]]] = []
    answer = Answer({}, lambda status, headers: given.append((status, headers)))
    assert answer.started is False
    answer.start("200 OK", [("X", "1")])
    assert answer.started and given == [("200 OK", [("X", "1")])]


def test_a_client_still_there_is_not_gone(pair: tuple[socket.socket, socket.socket]) -> None:
    answer = Answer({"werkzeug.socket": pair[0]}, lambda *a: None)
    answer.check_client()  # nothing to read: still there
    pair[1].sendall(b"next request")
    answer.check_client()  # bytes waiting are not an end
    assert pair[0].recv(100) == b"next request"  # and were only peeked at


def test_checking_the_client_never_waits(
    pair: tuple[socket.socket, socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []
    real = bounds.select.select

    def select(r: Any, w: Any, x: Any, timeout: float) -> Any:
        waits.append(timeout)
        return real(r, w, x, timeout)

    monkeypatch.setattr(bounds.select, "select", select)
    Answer({"werkzeug.socket": pair[0]}, lambda *a: None).check_client()
    assert waits == [0]


def test_a_client_that_closed_is_gone(pair: tuple[socket.socket, socket.socket]) -> None:
    answer = Answer({"werkzeug.socket": pair[0]}, lambda *a: None)
    pair[1].close()
    with pytest.raises(ClientGone):
        answer.check_client()


def test_a_client_whose_socket_broke_is_gone() -> None:
    a, b = socket.socketpair()
    b.close()
    a.close()  # select() refuses a closed socket
    with pytest.raises(ClientGone):
        Answer({"werkzeug.socket": a}, lambda *a: None).check_client()


def test_without_a_socket_the_client_is_taken_as_there() -> None:
    Answer({}, lambda *a: None).check_client()
    Answer({"werkzeug.socket": "not a socket"}, lambda *a: None).check_client()


def test_cutting_an_answer_not_begun_gives_a_status_then_shuts(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    given: list[tuple[str, list[tuple[str, str]]]] = []
    answer = Answer({"werkzeug.socket": pair[0]}, lambda s, h: given.append((s, h)))
    answer.cut()
    assert given == [("502 Bad Gateway", [("Content-Length", "1")])] and answer.started
    pair[1].settimeout(WAIT)
    assert pair[1].recv(1) == b""  # the client sees the connection end


def test_cutting_an_answer_under_way_gives_no_second_status(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    given: list[str] = []
    answer = Answer({"werkzeug.socket": pair[0]}, lambda s, h: given.append(s))
    answer.start("200 OK", [])
    answer.cut()
    assert given == ["200 OK"]
    pair[1].settimeout(WAIT)
    assert pair[1].recv(1) == b""


def test_cutting_without_a_socket_raises_so_the_server_drops_the_connection() -> None:
    given: list[str] = []
    answer = Answer({}, lambda s, h: given.append(s))
    with pytest.raises(ConnectionAbortedError, match="^sora-mock proxy: answer cut short$"):
        answer.cut()
    assert given == []


# --------------------------------------------------------------------------- event blocks


@pytest.mark.parametrize(
    ("chunks", "blocks", "rest"),
    [
        ([b"data: a\n\ndata: b\n\n"], [b"data: a\n\n", b"data: b\n\n"], b""),
        ([b"data: a\n", b"\ndata: b"], [b"data: a\n\n"], b"data: b"),
        ([b"data: a\r\n\r", b"\n"], [b"data: a\r\n\r\n"], b""),
        ([b"data: a\r", b"\r", b"x"], [b"data: a\r\r"], b"x"),
        ([b"a\r\n\r\nb\n\nc\r\rd"], [b"a\r\n\r\n", b"b\n\n", b"c\r\r"], b"d"),
        ([b"a\n\nb\r\n\r\n"], [b"a\n\n", b"b\r\n\r\n"], b""),
        ([b"a\r\rb\n\n"], [b"a\r\r", b"b\n\n"], b""),
        ([b"abc", b"def", b"\n", b"\n"], [b"abcdef\n\n"], b""),
        ([b"a\n", b"\n", b"b\n", b"\n"], [b"a\n\n", b"b\n\n"], b""),
        ([b"\n\n\n\n"], [b"\n\n", b"\n\n"], b""),
        ([b""], [], b""),
    ],
)
def test_a_stream_is_cut_at_each_blank_line(
    chunks: list[bytes], blocks: list[bytes], rest: bytes
) -> None:
    cutter = EventBlocks()
    got = [block for chunk in chunks for block in cutter.feed(chunk)]
    assert got == blocks
    assert cutter.held == len(rest)
    assert cutter.take() == rest
    assert cutter.held == 0 and cutter.take() == b""


def test_a_separator_split_across_many_feeds_is_found() -> None:
    cutter = EventBlocks()
    stream = b"data: " + b"x" * 10 + b"\r\n\r\n" + b"data: y\r\n\r\n"
    got = [block for byte in stream for block in cutter.feed(bytes([byte]))]
    assert got == [b"data: " + b"x" * 10 + b"\r\n\r\n", b"data: y\r\n\r\n"]


class ScanCounting(bytearray):
    """A buffer that counts the bytes its searches actually look at."""

    scanned = 0

    def find(self, sub: Any, start: Any = 0, *rest: Any) -> int:
        at = super().find(sub, start, *rest)
        self.scanned += (at + len(sub) if at >= 0 else len(self)) - (start or 0)
        return at


def test_a_chunk_of_many_small_events_is_searched_in_linear_time() -> None:
    blocks = EventBlocks()
    buffer = blocks._buffer = ScanCounting()
    chunk = b"data: x\n\n" * 2000  # 18 kB, one feed
    assert blocks.feed(chunk) == [b"data: x\n\n"] * 2000
    # a separator that is not there is searched for once, not once per event: a few
    # passes over the chunk, not 2000 (about 36 MB)
    assert buffer.scanned < 4 * len(chunk)


def test_blocks_after_a_taken_rest_start_afresh() -> None:
    cutter = EventBlocks()
    cutter.feed(b"partial\n")
    assert cutter.take() == b"partial\n"
    assert cutter.held == 0
    assert cutter.feed(b"\n\ndata: z\n\n") == [b"\n\n", b"data: z\n\n"]


# --------------------------------------------------------------------------- content codings


@pytest.mark.parametrize(
    ("values", "codings"),
    [
        (["gzip"], ["gzip"]),
        (["GZip , Deflate"], ["gzip", "deflate"]),
        (["deflate", "gzip"], ["deflate", "gzip"]),
        (["identity, gzip, identity"], ["gzip"]),
        ([" , gzip,"], ["gzip"]),
    ],
)
def test_an_answer_s_codings_are_read_from_every_content_encoding(
    values: list[str], codings: list[str]
) -> None:
    headers = httpx.Headers([("Content-Encoding", v) for v in values])
    decoder = decoder_for(headers)
    assert decoder is not None and decoder.codings == codings


@pytest.mark.parametrize("values", [[], ["identity"], ["Identity, identity"], [" "]])
def test_an_answer_without_a_coding_needs_no_decoder(values: list[str]) -> None:
    assert decoder_for(httpx.Headers([("Content-Encoding", v) for v in values])) is None


def decode(decoder: Decoder, data: bytes, step: int = 5) -> bytes:
    out = b"".join(p for i in range(0, len(data), step) for p in decoder.feed(data[i : i + step]))
    return out + b"".join(decoder.end())


@pytest.mark.parametrize("coding", ["gzip", "x-gzip"])
def test_gzip_by_either_name(coding: str) -> None:
    decoder = Decoder([coding])
    assert decode(decoder, gzip.compress(b"hello")) == b"hello" and decoder.failed == ""


def test_deflate_is_zlib_wrapped() -> None:
    decoder = Decoder(["deflate"])
    assert decode(decoder, zlib.compress(b"hello")) == b"hello" and decoder.failed == ""


def test_codings_come_off_last_applied_first() -> None:
    data = zlib.compress(gzip.compress(b"layers"))  # gzip first, then deflate
    decoder = Decoder(["gzip", "deflate"])
    assert decode(decoder, data) == b"layers" and decoder.failed == ""
    wrong = Decoder(["deflate", "gzip"])
    decode(wrong, data)
    assert "could not be decoded" in wrong.failed


def test_zero_padding_after_a_gzip_member_is_allowed() -> None:
    decoder = Decoder(["gzip"])
    assert decode(decoder, gzip.compress(b"one") + b"\0\0\0\0", step=100) == b"one"
    assert decoder.failed == ""


def test_bytes_other_than_zero_padding_after_a_member_are_a_failure() -> None:
    decoder = Decoder(["gzip"])
    decode(decoder, gzip.compress(b"one") + b"XX", step=100)
    assert decoder.failed.startswith("Content-Encoding gzip: could not be decoded (")


def test_members_of_gzip_inside_a_second_layer_are_all_read() -> None:
    inner = gzip.compress(b"a") + gzip.compress(b"b")
    decoder = Decoder(["gzip", "gzip"])
    assert decode(decoder, gzip.compress(inner)) == b"ab" and decoder.failed == ""


def test_an_unknown_coding_is_named_and_nothing_is_decoded() -> None:
    decoder = Decoder(["gzip", "br", "zstd"])
    assert decoder.failed == (
        "Content-Encoding gzip, br, zstd: the proxy cannot decode br, zstd "
        "(it asked for identity), so the body was not judged"
    )
    assert list(decoder.feed(gzip.compress(b"x"))) == [] and list(decoder.end()) == []


def test_a_broken_body_says_which_codings_it_had() -> None:
    decoder = Decoder(["deflate", "gzip"])
    assert list(decoder.feed(b"not gzip at all")) == []
    assert decoder.failed.startswith("Content-Encoding deflate, gzip: could not be decoded (")
    assert list(decoder.feed(gzip.compress(b"x"))) == []  # a failed decoder stays failed
    assert list(decoder.end()) == []


def test_a_truncated_body_ends_early() -> None:
    decoder = Decoder(["gzip"])
    data = gzip.compress(b"x" * 1000)
    assert decode(decoder, data[: len(data) // 2]) != b"x" * 1000
    assert decoder.failed == "Content-Encoding gzip: the encoded body ends early"


def test_an_inner_layer_cut_short_ends_early_too() -> None:
    inner = gzip.compress(b"y" * 1000)
    decoder = Decoder(["gzip", "gzip"])
    decode(decoder, gzip.compress(inner[:-10]))
    assert decoder.failed == "Content-Encoding gzip, gzip: the encoded body ends early"


def test_garbage_after_the_end_of_a_layer_is_a_decoding_failure() -> None:
    decoder = Decoder(["deflate"])
    decode(decoder, zlib.compress(b"x") + b"more")
    assert decoder.failed.startswith("Content-Encoding deflate: could not be decoded (")


class FailingLayer:
    """A layer that fails only when asked to flush (at the body's end)."""

    eof = False
    unconsumed_tail = b""
    unused_data = b""

    def decompress(self, data: bytes, size: int) -> bytes:
        if not data:
            raise zlib.error("flush failed")
        return b""


def test_a_failure_while_flushing_at_the_end_is_reported() -> None:
    decoder = Decoder(["gzip", "deflate"])
    decoder._layers[1] = FailingLayer()  # type: ignore[call-overload]
    assert list(decoder.end()) == []
    assert decoder.failed == "Content-Encoding gzip, deflate: could not be decoded (flush failed)"


def test_a_large_body_comes_out_whole_through_two_layers() -> None:
    body = bytes(range(256)) * 2048  # 512 KiB
    decoder = Decoder(["gzip", "deflate"])
    assert decode(decoder, zlib.compress(gzip.compress(body)), step=4096) == body
    assert decoder.failed == ""


def test_each_step_hands_out_at_most_a_chunk() -> None:
    decoder = Decoder(["gzip"])
    pieces = decoder.feed(gzip.compress(b"\0" * (5 * CHUNK + 7)))
    sizes = [len(p) for p in pieces]
    assert sizes == [CHUNK] * 5 + [7]


def test_an_empty_feed_yields_nothing() -> None:
    decoder = Decoder(["gzip"])
    assert list(decoder.feed(b"")) == []
    assert decoder.failed == ""


# --------------------------------------------------------------------------- request paths


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/", "/"),
        ("/v1/videos/abc", "/v1/videos/abc"),
        ("/v1/./videos", "/v1/videos"),
        ("/v1/videos/.", "/v1/videos/"),
        ("/v1/videos/..", "/v1/"),
        ("/v1/a/../b/../c", "/v1/c"),
        ("/a/%2E", "/a/"),
        ("/a/b?x=1", "/a/b?x=1"),
        ("/a/?", "/a/?"),
        ("/a//b", "/a//b"),
        ("/..a/b..", "/..a/b.."),  # dots inside a name are a name
        ("/a/%2e%2e%2e", "/a/%2e%2e%2e"),
        ("/../a", None),
        ("/a/../..", None),
        ("/a/..%2f..%2fetc", None),
        ("/a/..%5c..", None),  # a backslash is a separator to some servers
        ("/x/a%2f.%2fb", None),  # a `.` hidden between encoded slashes
        ("/x/a%5c.", None),
        ("/a/%252e%252e", None),  # decoded twice
        ("/a/%25252e%25252e", None),  # three times
        ("/a/%2525252e%2525252e", None),  # more than the proxy unwraps: refused
        ("/a/%25252541", None),  # even a name, when it still decodes after three rounds
        ("/a/%252541", "/a/%252541"),  # a name that settles within them is kept as sent
    ],
)
def test_a_path_stays_inside_the_upstream_base_path(raw: str, expected: str | None) -> None:
    assert contained_target(raw) == expected


def test_the_query_is_never_read_as_a_path() -> None:
    assert contained_target("/a?next=/../../etc") == "/a?next=/../../etc"


def test_an_ordinary_body_reads_as_bytes() -> None:
    # a sanity check of the fake input: what read_body forwards is the bytes the client sent
    raw = io.BytesIO(b"hello")
    assert list(read_body({"wsgi.input": raw}, 5, 10, [])) == [b"hello"]
