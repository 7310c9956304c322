"""Regression tests for the client faults of the adversarial pass (issue 10, faults 3 and 10):
the chat stream is read as it arrives, every exchange has an overall deadline, no answer is
buffered without bound, on_progress never goes backwards, an unreadable create answer is
ambiguous (never re-sent), and a broken download resumes or raises IncompleteDownloadError.

Every fake here is an httpx transport whose body is a generator the test controls; time is a
fake clock the body moves forward as it is read. Nothing sleeps.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from client_helpers import (
    CDN,
    KEY,
    RESPX_BASE,
    Clock,
    Feed,
    Flavor,
    broken_video,
    chat_chunk,
    create_body,
    events,
    flavor_fixture,  # noqa: F401  (fixtures)
    image,
    job_body,
    mp4_bytes,
    progress_reported,
    stream_answer,
    transport,
    video_rest,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from sora_client import (
    AmbiguousCreateError,
    AsyncSoraClient,
    ContentTypeError,
    IncompleteDownloadError,
    Job,
    PollTimeoutError,
    ReadTimeoutError,
    ResponseTooLargeError,
    UnsupportedOperation,
)
from sora_client._sse import LineTooLong, SSEDecoder


def chat_events(steps: int = 8) -> list[bytes]:
    progress = [chat_chunk(f"> 🏃 Generating... {10 * (i + 1)}%\n\n") for i in range(steps)]
    done = f"> ✅ Video generated successfully, [click here]({CDN}/v.mp4) to view video~~~\n\n"
    return events(
        chat_chunk("> ⌛ Task queued (chatcmpl-1), waiting for a worker...\n\n"),
        *progress,
        chat_chunk(done),
        chat_chunk(None, finish="stop"),
        "[DONE]",
    )


# ====================================================================== fault 3: chat streams


def test_create_returns_at_the_first_chunk_and_progress_arrives_as_it_streams(
    flavor: Flavor,
) -> None:
    feed = Feed(chat_events())
    mock, _ = transport(stream_answer(feed))
    seen: list[tuple[float, int]] = []
    with flavor.client("gptproto-chat", transport=mock, base_url=RESPX_BASE) as c:
        job = c.create("a cat", image=image(720, 1280))
        assert feed.pulled == 1, "create() read past the first chunk"
        done = c.wait(job, on_progress=lambda j: seen.append((j.progress, feed.pulled)))
    assert done.completed and done.video_url == f"{CDN}/v.mp4"
    # each callback fired while its own chunk was the last one read
    progress = [(p, n) for p, n in seen if 0 < p < 1]
    assert progress == [((i + 1) / 10, i + 2) for i in range(8)]


def test_wait_times_out_while_the_stream_is_open_and_reads_on_after(flavor: Flavor) -> None:
    clock = Clock()

    def tick() -> None:
        clock.now += 1.0

    feed = Feed(chat_events(), each=tick)
    mock, _ = transport(stream_answer(feed))
    with flavor.client("gptproto-chat", transport=mock, base_url=RESPX_BASE, clock=clock) as c:
        job = c.create("a cat", image=image(720, 1280))
        with pytest.raises(PollTimeoutError) as info:
            c.wait(job, timeout=3)
        assert info.value.job.status == "in_progress"
        assert feed.pulled <= 5 and not feed.closed, "wait() did not stop at its timeout"
        done = c.wait(job, timeout=60)
    assert done.completed and feed.pulled >= 10 and feed.closed


def test_a_callback_that_raises_stops_the_wait_and_closes_the_stream(flavor: Flavor) -> None:
    class Stop(Exception):
        pass

    def stop_at_half(job: Job) -> None:
        if job.progress >= 0.5:
            raise Stop

    feed = Feed(chat_events())
    mock, _ = transport(stream_answer(feed))
    with flavor.client("gptproto-chat", transport=mock, base_url=RESPX_BASE) as c:
        job = c.create("a cat", image=image(720, 1280))
        with pytest.raises(Stop):
            c.wait(job, on_progress=stop_at_half)
        assert feed.closed and feed.pulled < len(feed.chunks)
        with pytest.raises(UnsupportedOperation, match="closed"):
            c.wait(job)


def test_cancelling_an_async_wait_closes_the_open_stream() -> None:
    class Gate(httpx.AsyncByteStream):
        def __init__(self) -> None:
            self.sent = 0
            self.closed = False
            self.blocked = asyncio.Event()

        async def __aiter__(self) -> AsyncIterator[bytes]:
            for chunk in chat_events()[:3]:
                self.sent += 1
                yield chunk
            self.blocked.set()
            await asyncio.Event().wait()  # the provider goes quiet
            yield b""  # pragma: no cover

        async def aclose(self) -> None:
            self.closed = True

    async def scenario() -> None:
        gate = Gate()
        mock = httpx.MockTransport(
            lambda request: httpx.Response(
                200, headers={"content-type": "text/event-stream"}, stream=gate
            )
        )
        seen: list[float] = []
        async with AsyncSoraClient("gptproto-chat", KEY, base_url=RESPX_BASE, transport=mock) as c:
            job = await c.create("a cat", image=image(720, 1280))
            task = asyncio.create_task(c.wait(job, on_progress=lambda j: seen.append(j.progress)))
            await gate.blocked.wait()
            for _ in range(5):
                await asyncio.sleep(0)  # let wait() take the chunks already sent
            assert seen[-1] == pytest.approx(0.2), "progress did not arrive while streaming"
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert gate.closed, "the cancelled wait left the stream open"

    asyncio.run(scenario())


def test_an_endless_sse_line_is_cut_at_the_limit(flavor: Flavor) -> None:
    first = events(chat_chunk("> ⌛ Task queued (chatcmpl-1), waiting for a worker...\n\n"))
    huge = [b"data: " + b"x" * 65536] + [b"x" * 65536] * 40  # 2.6 MB, no line end
    feed = Feed(first + huge)
    mock, _ = transport(stream_answer(feed))
    with flavor.client("gptproto-chat", transport=mock, base_url=RESPX_BASE) as c:
        job = c.create("a cat", image=image(720, 1280))
        with pytest.raises(ResponseTooLargeError) as info:
            c.wait(job)
    assert info.value.limit == 1 << 20
    assert feed.pulled <= 1 + 17, "the client kept reading past the line limit"


@settings(max_examples=50, deadline=None)
@given(cuts=st.lists(st.integers(0, 400), max_size=12), crlf=st.booleans())
def test_the_sse_decoder_gives_the_same_events_however_the_bytes_are_cut(
    cuts: list[int], crlf: bool
) -> None:
    body = b"".join(chat_events(3)) + b": keep-alive\n\ndata: a\ndata: b\n\n"
    if crlf:
        body = body.replace(b"\n", b"\r\n")
    whole = SSEDecoder()
    expected = whole.feed(body) + whole.close()
    decoder = SSEDecoder()
    got = []
    start = 0
    for cut in sorted(set(cuts)) + [len(body)]:
        got += decoder.feed(body[start:cut])
        start = max(start, cut)
    got += decoder.close()
    assert got == expected
    assert [e.data for e in expected][-2:] == ["[DONE]", "a\nb"]


def test_the_sse_decoder_refuses_a_line_over_its_limit() -> None:
    decoder = SSEDecoder(max_line=100)
    decoder.feed(b"data: " + b"y" * 90)
    with pytest.raises(LineTooLong):
        decoder.feed(b"y" * 20)
    data_lines = SSEDecoder(max_line=100)
    with pytest.raises(LineTooLong):  # many short data lines make one oversized event
        data_lines.feed(b"data: " + b"z" * 40 + b"\n" + (b"data: " + b"z" * 40 + b"\n") * 2)


# ====================================================================== fault 10


def test_a_trickling_answer_hits_the_overall_deadline(flavor: Flavor) -> None:
    clock = Clock()

    def one_second_per_byte() -> None:
        clock.now += 1.0

    body = json.dumps(job_body("gptge", "in_progress", "video_1")).encode()
    feed = Feed([bytes([b]) for b in body], each=one_second_per_byte)
    mock, _ = transport(
        httpx.Response(200, headers={"content-type": "application/json"}, stream=feed)
    )
    with flavor.client(
        "gptge", transport=mock, base_url=RESPX_BASE, clock=clock, timeout=3, max_retries=0
    ) as c:
        with pytest.raises(ReadTimeoutError, match="overall deadline"):
            c.get("video_1")
    assert clock.now <= 5, f"the trickle held the request {clock.now:g} s with timeout=3"


def test_a_trickling_download_is_a_stall(flavor: Flavor, tmp_path: Path) -> None:
    clock = Clock()

    def tick() -> None:
        clock.now += 1.0

    data = mp4_bytes()
    answers = [
        httpx.Response(
            200,
            headers={"content-type": "video/mp4", "content-length": str(len(data))},
            stream=Feed([data[i : i + 100] for i in range(0, len(data), 100)], each=tick),
        )
        for _ in range(2)
    ]
    mock, _ = transport(*answers)
    with flavor.client(
        "gptge", transport=mock, base_url=RESPX_BASE, clock=clock, timeout=5, max_retries=1
    ) as c:
        with pytest.raises(IncompleteDownloadError, match="stalled"):
            c.download("video_1", tmp_path / "v.mp4")
    assert clock.now <= 14 and list(tmp_path.iterdir()) == []


def test_json_without_a_video_type_is_never_saved_as_the_video(
    flavor: Flavor, tmp_path: Path
) -> None:
    body = json.dumps(job_body("gptproto-videos", "queued", "video_1")).encode()
    mock, _ = transport(httpx.Response(200, content=body))  # no Content-Type at all
    target = tmp_path / "v.mp4"
    with flavor.client("gptproto-videos", transport=mock, base_url=RESPX_BASE) as c:
        with pytest.raises(ContentTypeError) as info:
            c.download("video_1", target)
    assert "queued" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_backwards_progress_never_reaches_on_progress(flavor: Flavor) -> None:
    states = [
        ("in_progress", 0.3),
        ("in_progress", 0.6),
        ("in_progress", 0.4),  # a replica behind
        ("queued", 0.0),  # status going back
        ("in_progress", 0.8),
        ("completed", 1.0),
    ]
    assert progress_reported(flavor, states) == [
        ("in_progress", 0.3),
        ("in_progress", 0.6),
        ("in_progress", 0.8),
        ("completed", 1.0),
    ]


ANSWERS: dict[str, Callable[[], httpx.Response]] = {
    "html-200": lambda: httpx.Response(
        200, headers={"content-type": "text/html"}, content=b"<html>ok</html>"
    ),
    "json-200-not-a-job": lambda: httpx.Response(200, json={"unexpected": True}),
    "302-other-host": lambda: httpx.Response(
        302, headers={"location": "https://login.example.net/sso"}
    ),
    "307-other-host": lambda: httpx.Response(
        307, headers={"location": "https://elsewhere.example.net/v1/videos"}
    ),
    "303-same-host": lambda: httpx.Response(
        303, headers={"location": f"{RESPX_BASE}/v1/videos/video_1"}
    ),
}


@pytest.mark.parametrize("answer", list(ANSWERS))
def test_an_unreadable_or_redirected_create_is_ambiguous_and_sent_once(
    flavor: Flavor, answer: str
) -> None:
    mock, seen = transport(ANSWERS[answer](), httpx.Response(200, json=create_body("gptge")))
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as c:
        with pytest.raises(AmbiguousCreateError):
            c.create("a cat", image=image(720, 1280), size="720x1280")
    assert [r.method for r in seen] == ["POST"], "the create was sent again"
    assert all(r.url.host == "provider.test" for r in seen), "the create went to another host"


@pytest.mark.parametrize("status", [307, 308])
def test_a_create_moved_within_the_same_origin_is_followed_once(
    flavor: Flavor, status: int
) -> None:
    moved = httpx.Response(status, headers={"location": f"{RESPX_BASE}/v2/videos"})
    mock, seen = transport(moved, httpx.Response(200, json=create_body("gptge", "video_9")))
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as c:
        job = c.create("a cat", image=image(720, 1280), size="720x1280")
    assert job.id == "video_9"
    assert [(r.method, r.url.path) for r in seen] == [
        ("POST", "/api/v1/videos"),
        ("POST", "/api/v2/videos"),
    ]
    assert seen[0].content == seen[1].content and seen[1].headers["authorization"]


def test_a_short_download_raises_incomplete_download_error(flavor: Flavor, tmp_path: Path) -> None:
    data = mp4_bytes()
    # every attempt breaks after 10 bytes; the server ignores Range (answers 200 again)
    mock, seen = transport(*[broken_video(data, 10) for _ in range(4)])
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as c:
        with pytest.raises(IncompleteDownloadError) as info:
            c.download("video_1", tmp_path / "v.mp4")
    assert info.value.received == 10 and info.value.expected == len(data)
    assert list(tmp_path.iterdir()) == []
    assert seen[1].headers["range"] == "bytes=10-", "no resume was tried"


def test_a_broken_download_resumes_with_range_validated_by_etag(
    flavor: Flavor, tmp_path: Path
) -> None:
    data = mp4_bytes()
    cut = len(data) // 3
    rest = video_rest(data, cut, etag='"v1"')
    mock, seen = transport(broken_video(data, cut, etag='"v1"'), rest)
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as c:
        path = c.download("video_1", tmp_path / "v.mp4")
    assert path.read_bytes() == data
    assert "range" not in seen[0].headers
    assert seen[1].headers["range"] == f"bytes={cut}-" and seen[1].headers["if-range"] == '"v1"'


def test_a_resume_answered_with_another_representation_starts_over(
    flavor: Flavor, tmp_path: Path
) -> None:
    data = mp4_bytes()
    cut = len(data) // 2
    other = httpx.Response(
        206,
        headers={
            "content-type": "video/mp4",
            "content-range": f"bytes {cut}-{len(data) + 99}/{len(data) + 100}",
            "etag": '"v2"',
        },
        content=b"\0" * (len(data) + 100 - cut),
    )
    whole = httpx.Response(
        200, headers={"content-type": "video/mp4", "content-length": str(len(data))}, content=data
    )
    mock, seen = transport(broken_video(data, cut, etag='"v1"'), other, whole)
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as c:
        path = c.download("video_1", tmp_path / "v.mp4")
    assert path.read_bytes() == data
    assert "range" in seen[1].headers and "range" not in seen[2].headers


def test_a_resume_keeps_the_credentials_and_asks_for_the_bytes_as_stored(
    flavor: Flavor, tmp_path: Path
) -> None:
    data = mp4_bytes()
    cut = len(data) // 3
    rest = video_rest(data, cut, etag='"v1"')
    mock, seen = transport(broken_video(data, cut, etag='"v1"'), rest)
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as c:
        c.download("video_1", tmp_path / "v.mp4")
    first, resumed = seen
    assert resumed.headers["authorization"] == f"Bearer {KEY}" == first.headers["authorization"]
    assert resumed.url == first.url
    # byte offsets hold only for the bytes as stored: no gzip of the rest
    assert resumed.headers["accept-encoding"] == "identity"


#: Content-Range of a 206 answering the resume of a download cut at CUT of N bytes, and
#: whether it continues the same representation (else the client starts over without Range)
CONTENT_RANGES = {
    "the-rest": ("bytes {cut}-{last}/{n}", True),
    "unit-in-capitals": ("BYTES {cut}-{last}/{n}", True),
    "total-unknown": ("bytes {cut}-{last}/*", True),
    "another-total": ("bytes {cut}-{last}/{more}", False),
    "total-not-a-number": ("bytes {cut}-{last}/abc", False),
    "end-not-a-number": ("bytes {cut}-end/{n}", False),
    "start-not-a-number": ("bytes x-{last}/{n}", False),
    "another-unit": ("items {cut}-{last}/{n}", False),
    "another-start": ("bytes {later}-{last}/{n}", False),
    "missing": ("", False),
}


@pytest.mark.parametrize("case", list(CONTENT_RANGES))
def test_a_resume_continues_only_a_206_that_carries_on_from_the_cut(
    flavor: Flavor, tmp_path: Path, case: str
) -> None:
    data = mp4_bytes()
    n, cut = len(data), len(data) // 2
    template, continues = CONTENT_RANGES[case]
    value = template.format(cut=cut, last=n - 1, n=n, more=n + 100, later=cut + 1)
    headers = {"content-type": "video/mp4", "etag": '"v1"'}
    if value:
        headers["content-range"] = value
    # the same ETag every time: only Content-Range tells a continuation from something else
    body = data[cut:] if continues else b"\xff" * (n - cut)
    whole = httpx.Response(
        200, headers={"content-type": "video/mp4", "content-length": str(n)}, content=data
    )
    mock, seen = transport(
        broken_video(data, cut, etag='"v1"'),
        httpx.Response(206, headers=headers, content=body),
        whole,
    )
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as c:
        path = c.download("video_1", tmp_path / "v.mp4")
    assert path.read_bytes() == data
    assert len(seen) == (2 if continues else 3)
    if not continues:
        assert "range" not in seen[2].headers, "the fresh start asked for a range"
