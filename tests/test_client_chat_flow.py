"""The client's chat-mode flow, against fake providers whose answers the test controls
chunk by chunk.

Chat mode (``gptproto-chat``) has no status endpoint: the create's event stream *is* the job.
So a create that cannot read a job id from the stream's first chunk must say it does not know
whether a job was made (AmbiguousCreateError, never re-sent), ``wait()`` reads the same stream
on, and once that stream is gone the job cannot be read again. The chunks are built from the
contract's own chunk example and the mock's progress words, not written out here; nothing
sleeps (time is a fake clock the body moves as it is read).
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from client_helpers import (
    RESPX_BASE,
    Clock,
    Feed,
    Flavor,
    events,
    flavor_fixture,  # noqa: F401  (fixtures)
    image,
    stream_answer,
    transport,
)

import contracts
from mockserver.providers.gptproto_chat import FAILURE, PROGRESS, QUEUED
from sora_client import (
    AmbiguousCreateError,
    GenerationFailedError,
    Job,
    NetworkError,
    PollTimeoutError,
    ResponseTooLargeError,
    UnexpectedResponseError,
    UnsupportedOperation,
)

CHAT = "gptproto-chat"
#: the contract's example chunk: the document's own success line, with its video link
EXAMPLE = contracts.load(CHAT).resolve("#/components/schemas/ChatCompletionChunk")["examples"][0]
SUCCESS_LINE = EXAMPLE["choices"][0]["delta"]["content"]
VIDEO_URL = SUCCESS_LINE.split("](", 1)[1].split(")", 1)[0]
JOB_ID = "chatcmpl-7Zq"
REQUEST_ID = "req-chat-42"
#: what wait() says once the stream is gone, and why the job cannot be read again
CANNOT = "chat mode has no status endpoint: its state cannot be read again$"
CLOSED = r"stream was closed \(cancelled or broken\) and " + CANNOT
GONE = "stream is gone and " + CANNOT
TOO_LONG = f"{CHAT} sent an event-stream line longer than 1048576 bytes; the stream was closed"


def chunk(content: str | None = None, finish: str | None = None, job_id: str = JOB_ID) -> Any:
    """The contract's example chunk with another delta (None: an empty delta)."""
    out = copy.deepcopy(EXAMPLE)
    out["id"] = job_id
    out["created"] = 1766556441
    choice = out["choices"][0]
    choice["delta"] = {} if content is None else {"role": "assistant", "content": content}
    choice["finish_reason"] = finish
    return out


def queued() -> Any:
    return chunk(QUEUED.format(id=JOB_ID))


def progress(percent: int) -> Any:
    return chunk(PROGRESS.format(percent=percent))


def finished() -> list[Any]:
    return [chunk(SUCCESS_LINE), chunk(None, finish="stop"), "[DONE]"]


def answer(feed: Feed, content_type: str = "text/event-stream") -> httpx.Response:
    return stream_answer(feed, content_type, **{"x-request-id": REQUEST_ID})


def create(c: Any) -> Job:
    job: Job = c.create("a cat walks", image=image(720, 1280))
    return job


# ====================================================================== create: the first chunk


def test_create_sends_one_streaming_request_and_returns_the_first_chunks_job(
    flavor: Flavor,
) -> None:
    feed = Feed(events(queued(), progress(40), *finished()))
    mock, seen = transport(answer(feed))
    with flavor.client(CHAT, transport=mock, base_url=RESPX_BASE) as c:
        job = create(c)
        assert feed.pulled == 1 and not feed.closed, "create() must stop at the first chunk"
        assert (job.id, job.status, job.progress) == (JOB_ID, "queued", 0.0)
        assert job.model == EXAMPLE["model"] and job.request_id == REQUEST_ID
        assert job.created_at == datetime.fromtimestamp(1766556441, UTC)
        assert not job.done
    (request,) = seen
    assert request.method == "POST" and request.url.path.endswith("/v1/chat/completions")
    assert request.headers["accept"] == "text/event-stream"
    assert json.loads(request.content)["stream"] is True


def test_a_first_chunk_that_already_names_the_video_ends_the_stream(flavor: Flavor) -> None:
    feed = Feed(events(*finished()))
    mock, seen = transport(answer(feed))
    with flavor.client(CHAT, transport=mock, base_url=RESPX_BASE) as c:
        job = create(c)
        assert job.completed and job.video_url == VIDEO_URL
        assert feed.closed and feed.pulled == 1
        again = c.wait(job)  # nothing left to read: the job as it is
        assert again.completed and again.video_url == VIDEO_URL and feed.pulled == 1
    assert len(seen) == 1


def test_an_event_stream_type_is_recognized_whatever_its_case_and_parameters(
    flavor: Flavor,
) -> None:
    feed = Feed(events(queued(), progress(50), *finished()))
    mock, _ = transport(answer(feed, "Text/Event-Stream; charset=utf-8"))
    with flavor.client(CHAT, transport=mock, base_url=RESPX_BASE) as c:
        job = create(c)
        assert job.status == "queued" and feed.pulled == 1
        assert c.wait(job).video_url == VIDEO_URL


def _completion(content: str) -> dict[str, Any]:
    """A non-stream ``chat.completion`` (what a server answers when it ignores ``stream``)."""
    body = chunk()
    body["object"] = "chat.completion"
    body["choices"][0] = {
        "index": 0,
        "message": {"role": "assistant", "content": content},
        "finish_reason": "stop",
    }
    return body


def test_a_server_that_ignores_stream_answers_with_one_completion(flavor: Flavor) -> None:
    feed = Feed([json.dumps(_completion(SUCCESS_LINE)).encode()])
    mock, seen = transport(answer(feed, "application/json"))
    with flavor.client(CHAT, transport=mock, base_url=RESPX_BASE) as c:
        job = create(c)
    assert job.completed and job.video_url == VIDEO_URL and job.id == JOB_ID
    assert feed.closed and len(seen) == 1


def test_an_answer_without_a_content_type_is_read_as_one_completion(flavor: Flavor) -> None:
    body = json.dumps(_completion(SUCCESS_LINE)).encode()
    mock, seen = transport(httpx.Response(200, stream=Feed([body])))  # no Content-Type
    with flavor.client(CHAT, transport=mock, base_url=RESPX_BASE) as c:
        job = create(c)
    assert job.completed and job.video_url == VIDEO_URL and len(seen) == 1


#: stream bodies from which no job id can be read, and what the error says
NO_JOB: dict[str, tuple[list[bytes], str]] = {
    "empty": ([], "ended before its first chunk"),
    "done-at-once": (events("[DONE]"), "ended before its first chunk"),
    "done-padded": ([b"data:  [DONE]  \n\n"], "ended before its first chunk"),
    "not-json": ([b"data: {not json\n\n"], "first chunk is unreadable"),
    "no-id": (events(chunk(QUEUED.format(id="x"), job_id="")), "first chunk is unreadable"),
    "not-an-object": (events("[1, 2]"), "first chunk is unreadable"),
}


@pytest.mark.parametrize("case", list(NO_JOB))
def test_a_stream_that_names_no_job_is_ambiguous_and_never_resent(
    flavor: Flavor, case: str
) -> None:
    body, reason = NO_JOB[case]
    feed = Feed(body)
    mock, seen = transport(answer(feed))
    before = datetime.now(UTC)
    with flavor.client(CHAT, transport=mock, base_url=RESPX_BASE, max_retries=3) as c:
        with pytest.raises(AmbiguousCreateError) as info:
            create(c)
    error = info.value
    if "unreadable" in reason:
        assert isinstance(error.__cause__, UnexpectedResponseError)
        assert error.reason == f"its {reason} ({error.__cause__.message})"
    else:
        assert error.reason == f"the event stream {reason}"
    assert (error.provider, error.status_code, error.request_id) == (CHAT, 200, REQUEST_ID)
    assert before <= error.sent_at <= datetime.now(UTC)
    assert len(seen) == 1 and feed.closed


def test_a_stream_that_breaks_before_its_first_chunk_is_ambiguous(flavor: Flavor) -> None:
    feed = Feed([b'data: {"id": "chatcmpl'], error=httpx.ReadError("connection reset"))
    mock, seen = transport(answer(feed))
    with flavor.client(CHAT, transport=mock, base_url=RESPX_BASE, max_retries=3) as c:
        with pytest.raises(AmbiguousCreateError) as info:
            create(c)
    assert info.value.reason == "the event stream broke before the job id arrived (ReadError)"
    assert info.value.request_id == REQUEST_ID and info.value.status_code == 200
    cause = info.value.__cause__
    assert isinstance(cause, NetworkError) and isinstance(cause.__cause__, httpx.ReadError)
    assert str(cause) == f"connection to {CHAT} failed (ReadError): connection reset"
    assert len(seen) == 1 and feed.closed


def test_an_endless_first_line_is_ambiguous_and_closes_the_stream(flavor: Flavor) -> None:
    feed = Feed([b"data: " + b"x" * 65536] + [b"x" * 65536] * 40)
    mock, seen = transport(answer(feed))
    with flavor.client(CHAT, transport=mock, base_url=RESPX_BASE) as c:
        with pytest.raises(AmbiguousCreateError) as info:
            create(c)
    cause = info.value.__cause__
    assert isinstance(cause, ResponseTooLargeError) and cause.limit == 1 << 20
    assert info.value.reason == str(cause) == TOO_LONG
    assert len(seen) == 1 and feed.closed and feed.pulled <= 17


# ====================================================================== wait: reading on


def test_wait_reports_each_step_forward_once_and_keeps_the_final_job(flavor: Flavor) -> None:
    feed = Feed(events(queued(), progress(40), progress(40), queued(), progress(70), *finished()))
    mock, seen = transport(answer(feed))
    reported: list[tuple[str, float]] = []
    with flavor.client(CHAT, transport=mock, base_url=RESPX_BASE) as c:
        job = create(c)
        done = c.wait(job, on_progress=lambda j: reported.append((j.status, j.progress)))
        assert feed.closed and feed.pulled == 6, "read on past the video link"
        assert done.completed and done.video_url == VIDEO_URL and done.id == JOB_ID
        assert done.progress == 1.0
        # the stream was read to its end: a second wait gives the same job, reading nothing
        again = c.wait(job, on_progress=lambda j: reported.append(("again", j.progress)))
        assert again is done
    assert reported == [
        ("queued", 0.0),
        ("in_progress", 0.4),
        ("in_progress", 0.7),
        ("completed", 1.0),
    ]
    assert len(seen) == 1


def test_a_stream_whose_last_event_has_no_blank_line_still_ends_the_job(flavor: Flavor) -> None:
    last = f"data: {json.dumps(chunk(SUCCESS_LINE))}".encode()  # the body simply ends
    feed = Feed([*events(queued(), progress(20)), last])
    mock, _ = transport(answer(feed))
    with flavor.client(CHAT, transport=mock, base_url=RESPX_BASE) as c:
        done = c.wait(create(c))
    assert done.completed and done.video_url == VIDEO_URL and feed.closed


def test_wait_stops_at_its_deadline_exactly_then_reads_on(flavor: Flavor) -> None:
    clock = Clock()

    def tick() -> None:
        clock.now += 1.0

    # the third chunk says nothing new (an empty delta, as the contract allows): the job
    # stays as the chunks before it left it
    body = events(queued(), progress(10), progress(30), chunk(None), progress(50), *finished())
    feed = Feed(body, each=tick)
    mock, seen = transport(answer(feed))
    with flavor.client(CHAT, transport=mock, base_url=RESPX_BASE, clock=clock) as c:
        job = create(c)  # chunk 1, at t=1
        with pytest.raises(PollTimeoutError) as info:
            c.wait(job, timeout=3)  # reads at t=1, 2, 3; at t=4 the deadline has come
        assert feed.pulled == 4 and not feed.closed
        assert info.value.timeout == 3
        assert (info.value.job.status, info.value.job.progress) == ("in_progress", 0.3)
        with pytest.raises(PollTimeoutError):
            c.wait(job, timeout=0)  # no time at all: nothing is read
        assert feed.pulled == 4
        done = c.wait(job, timeout=60)
    assert done.completed and feed.closed and len(seen) == 1


def test_a_stream_that_breaks_mid_wait_is_a_typed_error_and_cannot_be_read_again(
    flavor: Flavor,
) -> None:
    feed = Feed(events(queued(), progress(30)), error=httpx.ReadError("connection reset"))
    mock, seen = transport(answer(feed))
    with flavor.client(CHAT, transport=mock, base_url=RESPX_BASE) as c:
        job = create(c)
        with pytest.raises(NetworkError) as info:
            c.wait(job)
        assert str(info.value) == f"connection to {CHAT} failed (ReadError): connection reset"
        assert isinstance(info.value.__cause__, httpx.ReadError) and feed.closed
        with pytest.raises(UnsupportedOperation, match=CLOSED):
            c.wait(job)
    assert len(seen) == 1


def test_an_endless_line_mid_wait_closes_the_stream_for_good(flavor: Flavor) -> None:
    feed = Feed(events(queued()) + [b"data: " + b"x" * 65536] + [b"x" * 65536] * 40)
    mock, _ = transport(answer(feed))
    with flavor.client(CHAT, transport=mock, base_url=RESPX_BASE) as c:
        job = create(c)
        with pytest.raises(ResponseTooLargeError, match=f"^{TOO_LONG}$"):
            c.wait(job)
        assert feed.closed
        with pytest.raises(UnsupportedOperation, match=CLOSED):
            c.wait(job)


def test_an_unreadable_chunk_mid_wait_is_an_unexpected_response(flavor: Flavor) -> None:
    feed = Feed([*events(queued(), progress(10)), b"data: {oops\n\n", *events(*finished())])
    mock, _ = transport(answer(feed))
    with flavor.client(CHAT, transport=mock, base_url=RESPX_BASE) as c:
        job = create(c)
        with pytest.raises(UnexpectedResponseError) as info:
            c.wait(job)
    assert info.value.message.startswith("cannot read the answer: unreadable chunk: ")
    assert info.value.body == "{oops" and info.value.provider == CHAT
    assert info.value.request_id == REQUEST_ID


@pytest.mark.parametrize("end", ["[DONE]", "eof"])
def test_a_stream_that_ends_without_the_video_is_unexpected_and_over(
    flavor: Flavor, end: str
) -> None:
    last = progress(60)
    feed = Feed(events(queued(), last, *(["[DONE]"] if end == "[DONE]" else [])))
    mock, seen = transport(answer(feed))
    with flavor.client(CHAT, transport=mock, base_url=RESPX_BASE) as c:
        job = create(c)
        with pytest.raises(UnexpectedResponseError) as info:
            c.wait(job)
        assert info.value.message == (
            "cannot read the answer: the event stream ended before the video was reported"
        )
        assert info.value.body == last and info.value.request_id == REQUEST_ID
        assert feed.closed
        with pytest.raises(UnsupportedOperation, match=CLOSED):
            c.wait(job)  # the stream is over: nothing is read again
    assert len(seen) == 1


def test_a_failure_line_fails_the_job_or_raises(flavor: Flavor) -> None:
    def body() -> list[bytes]:
        failure = FAILURE.format(reason="out of GPUs")
        return events(queued(), progress(30), chunk(failure), chunk(None, "error"), "[DONE]")

    for raise_on_failure in (False, True):
        feed = Feed(body())
        mock, _ = transport(answer(feed))
        with flavor.client(CHAT, transport=mock, base_url=RESPX_BASE) as c:
            job = create(c)
            if raise_on_failure:
                with pytest.raises(GenerationFailedError) as info:
                    c.wait(job)
                failed = info.value.job
            else:
                failed = c.wait(job, raise_on_failure=False)
        assert failed.failed and failed.error_message == "out of GPUs" and feed.closed


def test_a_job_without_its_stream_cannot_be_waited_for_unless_it_is_done(
    flavor: Flavor,
) -> None:
    mock, seen = transport()
    with flavor.client(CHAT, transport=mock, base_url=RESPX_BASE) as c:
        pending = Job(id=JOB_ID, provider=CHAT, status="in_progress", progress=0.5)
        with pytest.raises(UnsupportedOperation, match=GONE):
            c.wait(pending)
        with pytest.raises(UnsupportedOperation, match="needs the Job from create"):
            c.wait(JOB_ID)
        done = Job(id=JOB_ID, provider=CHAT, status="completed", progress=1.0, video_url="u")
        assert c.wait(done) is done
    assert seen == []
