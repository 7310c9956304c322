"""The client's core flows beyond chat mode, answer by answer: which states reach
``on_progress`` while polling, what a download says when the answer is not the video and
what it names its file, how list and delete read (or fail to read) their answers, and that
a remix is treated as the paid create it is.

Each fake provider is an httpx transport answering in order with bodies in the provider's
words (``client_helpers.job_body``); nothing sleeps.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
    create_body,
    flavor_fixture,  # noqa: F401  (fixtures)
    image,
    job_body,
    mp4_bytes,
    progress_reported,
    transport,
    video_rest,
)

from sora_client import (
    AmbiguousCreateError,
    APIError,
    ConnectError,
    ContentTypeError,
    GenerationFailedError,
    IncompleteDownloadError,
    InvalidRequestError,
    Job,
    NetworkError,
    PollTimeoutError,
    UnexpectedResponseError,
    UnsupportedOperation,
    VideoNotReadyError,
)

#: where the fake provider's finished video is (another origin: a CDN)
VIDEO = f"{CDN}/files/v.mp4"
VIDEO_TYPE = {"content-type": "video/mp4"}

# ====================================================================== polling: on_progress


def test_polling_reports_a_state_only_when_it_moves_forward(flavor: Flavor) -> None:
    states = [
        ("queued", 0.0),
        ("queued", 0.0),  # the same again: not news
        ("in_progress", 0.25),
        ("in_progress", 0.25),
        ("in_progress", 0.5),
        ("queued", 0.0),  # a replica behind
        ("completed", 1.0),
    ]
    assert progress_reported(flavor, states) == [
        ("queued", 0.0),
        ("in_progress", 0.25),
        ("in_progress", 0.5),
        ("completed", 1.0),
    ]


# ====================================================================== download: not the video


def _download_answer(flavor: Flavor, tmp_path: Path, response: httpx.Response) -> BaseException:
    mock, seen = transport(response)
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, max_retries=0) as c:
        with pytest.raises((ContentTypeError, GenerationFailedError)) as info:
            c.download("video_1", tmp_path / "v.mp4")
    assert len(seen) == 1 and list(tmp_path.iterdir()) == [], "something was written"
    return info.value


def test_a_job_answered_instead_of_the_video_says_how_far_the_job_is(
    flavor: Flavor, tmp_path: Path
) -> None:
    body = job_body("gptge", "in_progress", "video_1", 0.42)
    error = _download_answer(flavor, tmp_path, httpx.Response(200, json=body))
    assert isinstance(error, ContentTypeError) and error.content_type == "application/json"
    assert str(error) == (
        "gptge answered application/json instead of the video (the job is in_progress, 42%); "
        "it is probably not ready yet: wait() for the job, then download again. "
        "No file was written."
    )
    assert error.body == body


def test_a_failed_job_answered_instead_of_the_video_is_a_generation_failure(
    flavor: Flavor, tmp_path: Path
) -> None:
    body = job_body("gptge", "failed", "video_1")
    body["error"]["message"] = "it broke"  # (the declared failure's words otherwise)
    error = _download_answer(flavor, tmp_path, httpx.Response(200, json=body))
    assert isinstance(error, GenerationFailedError)
    assert error.job.id == "video_1" and error.job.failed and error.job.error_message == "it broke"


@pytest.mark.parametrize(
    "body",
    [
        {"error": {"message": "not ready", "type": "invalid_request_error"}},
        ["video_1"],
        {"id": 7},
    ],
    ids=["error-object", "list", "not-a-job"],
)
def test_json_that_is_no_job_is_shown_as_it_came(flavor: Flavor, tmp_path: Path, body: Any) -> None:
    error = _download_answer(flavor, tmp_path, httpx.Response(200, json=body))
    assert isinstance(error, ContentTypeError) and error.body == body
    assert "instead of the video;" in str(error), "a state was named for no job"


def test_a_text_page_is_shown_cut_and_decoded(flavor: Flavor, tmp_path: Path) -> None:
    page = b"\xff<html>" + b"a" * 600 + b"</html>"
    response = httpx.Response(200, headers={"content-type": "Text/HTML; charset=x"}, content=page)
    error = _download_answer(flavor, tmp_path, response)
    assert isinstance(error, ContentTypeError) and error.content_type == "text/html"
    assert error.body == "\ufffd<html>" + "a" * 493
    assert "answered text/html instead of the video;" in str(error)


def test_an_unlabelled_text_body_is_refused_and_named(flavor: Flavor, tmp_path: Path) -> None:
    body = job_body("gptge", "queued", "video_1", 0.0)
    response = httpx.Response(200, content=b"  " + json.dumps(body).encode())
    error = _download_answer(flavor, tmp_path, response)
    assert isinstance(error, ContentTypeError)
    assert error.content_type == "an unlabelled text body" and error.body == body
    assert "(the job is queued, 0%)" in str(error)


def test_the_key_a_not_video_body_echoes_is_redacted(flavor: Flavor, tmp_path: Path) -> None:
    body = {"error": {"message": f"bad key {KEY}", "type": "invalid_request_error"}}
    error = _download_answer(flavor, tmp_path, httpx.Response(200, json=body))
    assert KEY not in repr(error.body) and KEY not in str(error)  # type: ignore[attr-defined]
    assert "bad key" in json.dumps(error.body)  # type: ignore[attr-defined]


# ====================================================================== list, delete: answers


def read_list(flavor: Flavor, c: Any, into: list[str], **kwargs: Any) -> None:
    """Read client.list() to its end (sync or async), each job's id into ``into`` as it comes."""
    if not flavor.is_async:
        for job in c.list(**kwargs):
            into.append(job.id)
        return

    async def gather() -> None:
        async for job in c.list(**kwargs):
            into.append(job.id)

    c.runner.run(gather())


def test_list_asks_for_the_order_and_page_size_it_was_given(flavor: Flavor) -> None:
    page = {"object": "list", "data": [job_body("gptge", "completed", "video_2")]}
    mock, seen = transport(httpx.Response(200, json=page))
    got: list[str] = []
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as c:
        read_list(flavor, c, got, limit=7, order="asc")
    assert got == ["video_2"]
    (request,) = seen
    assert dict(request.url.params) == {"limit": "7", "order": "asc"}


def test_a_cursor_the_caller_gives_badly_is_refused_before_sending(flavor: Flavor) -> None:
    mock, seen = transport()
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as c:
        with pytest.raises(InvalidRequestError) as info:
            read_list(flavor, c, [], after="no spaces allowed")
    assert info.value.field == "after" and seen == []


def test_a_next_page_cursor_the_contract_refuses_is_the_providers_fault(flavor: Flavor) -> None:
    page = {
        "object": "list",
        "data": [job_body("gptge", "completed", "video_2")],
        "has_more": True,
        "last_id": "no spaces allowed",
    }
    mock, seen = transport(httpx.Response(200, json=page))
    got: list[str] = []
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as c:
        with pytest.raises(UnexpectedResponseError) as info:
            read_list(flavor, c, got)
    assert got == ["video_2"] and len(seen) == 1
    assert info.value.message.startswith("the provider's next-page cursor cannot be sent back (")
    assert (info.value.provider, info.value.status_code) == ("gptge", 200)


def test_a_delete_answer_that_says_nothing_is_unexpected(flavor: Flavor) -> None:
    body = {"id": "video_1", "object": "video.deleted"}  # no `deleted`
    answer = httpx.Response(200, json=body, headers={"x-request-id": "req-7"})
    mock, seen = transport(answer)
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as c:
        with pytest.raises(UnexpectedResponseError) as info:
            c.delete("video_1")
    error = info.value
    assert error.message == (
        "cannot read the answer: ValueError: the answer does not say whether the video was deleted"
    )
    assert (error.provider, error.status_code, error.request_id) == ("gptge", 200, "req-7")
    assert error.body == body and len(seen) == 1


@pytest.mark.parametrize("operation", ["delete", "list"])
def test_an_answer_that_is_not_json_is_unexpected_and_shown_cut(
    flavor: Flavor, operation: str
) -> None:
    page = b"\xff<html>" + b"b" * 700 + b"</html>"
    answer = httpx.Response(
        200, content=page, headers={"content-type": "text/html", "x-request-id": "req-8"}
    )
    mock, _ = transport(answer)
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as c:
        with pytest.raises(UnexpectedResponseError) as info:
            c.delete("video_1") if operation == "delete" else read_list(flavor, c, [])
    error = info.value
    assert error.message == "cannot read the answer: the body is not JSON"
    assert (error.provider, error.status_code, error.request_id) == ("gptge", 200, "req-8")
    assert error.body == "\ufffd<html>" + "b" * 493


# ====================================================================== download: the file name


@pytest.mark.parametrize(
    ("job_id", "name"),
    [("v-1.2/../x y:z", "v-1.2_.._x_y_z.mp4"), ("", "video.mp4")],
    ids=["odd", "empty"],
)
def test_a_download_into_a_folder_is_named_safely_after_the_job(
    flavor: Flavor, tmp_path: Path, job_id: str, name: str
) -> None:
    data = mp4_bytes()
    answer = httpx.Response(200, content=data, headers={"content-type": "video/mp4"})
    mock, seen = transport(answer)
    job = Job(id=job_id, provider="vtrix", status="completed", progress=1.0, video_url=VIDEO)
    with flavor.client("vtrix", transport=mock, base_url=RESPX_BASE) as c:
        saved = c.download(job, tmp_path)
    assert saved == tmp_path / name
    assert [p.name for p in tmp_path.iterdir()] == [name] and saved.read_bytes() == data
    assert [str(r.url) for r in seen] == [VIDEO]


# ====================================================================== remix: a create


def test_a_remix_with_a_prompt_that_is_no_string_is_refused_unsent(flavor: Flavor) -> None:
    mock, seen = transport()
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as c:
        with pytest.raises(InvalidRequestError) as info:
            c.remix("video_1", 42)
    error = info.value
    assert (error.provider, error.field, error.rule) == ("gptge", "prompt", "must be a string")
    assert str(error) == "invalid request for gptge: prompt: must be a string" and seen == []


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, {"error": {"message": "upstream broke", "type": "server_error"}}), (200, {"ok": 1})],
    ids=["5xx", "unreadable-2xx"],
)
def test_a_remix_whose_answer_hides_the_job_is_ambiguous_and_never_resent(
    flavor: Flavor, status: int, body: Any
) -> None:
    mock, seen = transport(httpx.Response(status, json=body))
    before = datetime.now(UTC)
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, max_retries=3) as c:
        with pytest.raises(AmbiguousCreateError) as info:
            c.remix("video_1", "the same, at night")
    assert before <= info.value.sent_at <= datetime.now(UTC)
    assert info.value.status_code == status and len(seen) == 1, "a remix costs money"
    assert info.value.reason.startswith(f"the server answered {status}")


# ====================================================================== download: the body


def test_a_video_labelled_as_such_is_saved_whatever_its_first_byte(
    flavor: Flavor, tmp_path: Path
) -> None:
    data = b"{" + mp4_bytes()  # the contract allows any bytes: only unlabelled text is refused
    answer = httpx.Response(200, content=data, headers={"content-type": "video/mp4"})
    mock, _ = transport(answer)
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as c:
        saved = c.download("video_1", tmp_path / "v.mp4")
    assert saved.read_bytes() == data


KIB16 = 16 * 1024


#: (bytes, seconds that pass before they arrive) per chunk; the bytes of the window that
#: stalled (None: the download completes). The timeout, hence the window, is 5 s.
STALLS: dict[str, tuple[list[tuple[int, float]], int | None]] = {
    "one-short": ([(KIB16 - 1, 5), (4096, 0)], KIB16 - 1),
    "one-enough": ([(KIB16, 5), (4096, 0)], None),
    "two-chunks-enough": ([(KIB16 - 384, 0), (384, 5), (4096, 0)], None),
    "second-short": ([(KIB16, 5), (KIB16 - 1, 5), (4096, 0)], KIB16 - 1),
    "second-enough": ([(KIB16, 5), (KIB16, 5), (4096, 0)], None),
}


@pytest.mark.parametrize("case", list(STALLS))
def test_a_download_stalls_below_16_kib_per_timeout_window(
    flavor: Flavor, tmp_path: Path, case: str
) -> None:
    plan, stalled = STALLS[case]
    clock = Clock()
    data = (mp4_bytes() * 40)[: sum(n for n, _ in plan)]
    chunks, waits, start = [], iter([t for _, t in plan]), 0
    for n, _ in plan:
        chunks.append(data[start : start + n])
        start += n

    def tick() -> None:
        clock.now += next(waits)

    feed = Feed(chunks, each=tick)
    headers = {"content-type": "video/mp4", "content-length": str(len(data))}
    mock, seen = transport(httpx.Response(200, headers=headers, stream=feed))
    target = tmp_path / "v.mp4"
    with flavor.client(
        "gptge", transport=mock, base_url=RESPX_BASE, clock=clock, timeout=5, max_retries=0
    ) as c:
        if stalled is not None:
            with pytest.raises(IncompleteDownloadError, match=f"stalled: {stalled} bytes in 5 s"):
                c.download("video_1", target)
            assert not target.exists()
        else:
            assert c.download("video_1", target).read_bytes() == data
    assert len(seen) == 1


def _download(flavor: Flavor, tmp_path: Path, *answers: httpx.Response) -> Any:
    mock, seen = transport(*answers)
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, max_retries=3) as c:
        saved = c.download("video_1", tmp_path / "v.mp4")
    return saved.read_bytes(), seen


@pytest.mark.parametrize(
    ("validators", "if_range"),
    [
        ({"etag": 'W/"v1"'}, None),  # a weak ETag cannot validate a range: the length does
        ({"etag": 'W/"v1"', "last-modified": "Wed, 21 Oct 2026 07:28:00 GMT"}, "Wed, 21"),
        ({"etag": '"v1"'}, '"v1"'),
    ],
    ids=["weak-etag", "weak-etag-and-date", "strong-etag"],
)
def test_a_broken_download_resumes_validated_by_a_strong_etag_or_the_date(
    flavor: Flavor, tmp_path: Path, validators: dict[str, str], if_range: str | None
) -> None:
    data = mp4_bytes()
    at = len(data) // 2
    got, seen = _download(
        flavor, tmp_path, broken_video(data, at, **validators), video_rest(data, at)
    )
    assert got == data and len(seen) == 2
    assert seen[1].headers["range"] == f"bytes={at}-"
    sent = seen[1].headers.get("if-range")
    assert sent == if_range if if_range is None else sent.startswith(if_range)


def test_a_206_of_another_representation_starts_the_file_over(
    flavor: Flavor, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sora_client")
    data, other = mp4_bytes(), bytes(reversed(mp4_bytes()))
    at = len(data) // 2
    fresh = httpx.Response(
        200, headers={"content-type": "video/mp4", "etag": '"v2"'}, content=other
    )
    got, seen = _download(
        flavor,
        tmp_path,
        broken_video(data, at, etag='"v1"'),
        video_rest(other, at, etag='"v2"'),
        fresh,
    )
    assert got == other, "two representations were spliced into one file"
    assert "the resumed download of gptge changed: starting over" in caplog.messages
    assert (
        len(seen) == 3 and seen[1].headers["if-range"] == '"v1"' and "range" not in seen[2].headers
    )


def test_a_206_without_an_etag_goes_on_where_the_file_stopped(
    flavor: Flavor, tmp_path: Path
) -> None:
    data = mp4_bytes()
    at = len(data) // 3
    got, seen = _download(
        flavor, tmp_path, broken_video(data, at, etag='"v1"'), video_rest(data, at)
    )
    assert got == data and len(seen) == 2


def test_a_compressed_video_is_saved_decoded(flavor: Flavor, tmp_path: Path) -> None:
    data = mp4_bytes()
    packed = gzip.compress(data)
    head = {
        "content-type": "video/mp4",
        "content-encoding": "gzip",
        "content-length": str(len(packed)),
    }
    got, seen = _download(
        flavor, tmp_path, httpx.Response(200, headers=head, stream=Feed([packed]))
    )
    assert got == data and len(seen) == 1


def test_an_unlabelled_video_is_sniffed_on_its_first_chunk_only(
    flavor: Flavor, tmp_path: Path
) -> None:
    data = mp4_bytes()
    chunks = [data[:100], b"{" + data[100:]]  # a later chunk may start with any byte
    answer = httpx.Response(200, stream=Feed(chunks))  # no Content-Type
    got, _ = _download(flavor, tmp_path, answer)
    assert got == b"".join(chunks)


def test_a_download_writes_beside_the_target_and_makes_its_folders(
    flavor: Flavor, tmp_path: Path
) -> None:
    data = mp4_bytes()
    folder = tmp_path / "a" / "b"
    during: list[list[str]] = []
    feed = Feed([data[:500], data[500:]], each=lambda: during.append(_names(folder)))
    answer = httpx.Response(200, headers={"content-type": "video/mp4"}, stream=feed)
    mock, _ = transport(answer)
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as c:
        saved = c.download("video_1", folder / "v.mp4")
    assert saved == folder / "v.mp4" and saved.read_bytes() == data
    # while it streamed, the only file was a hidden partial one beside the target
    (partial,) = during[1]
    assert partial.startswith(".v.mp4.") and partial.endswith(".part")
    assert _names(folder) == ["v.mp4"]


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_download_that_breaks_twice_resumes_twice(flavor: Flavor, tmp_path: Path) -> None:
    data = mp4_bytes()
    one, two = len(data) // 3, 2 * len(data) // 3
    second = video_rest(data, one)
    second.stream = Feed([data[one:two]], error=httpx.ReadError("reset again"))
    got, seen = _download(
        flavor, tmp_path, broken_video(data, one, etag='"v1"'), second, video_rest(data, two)
    )
    assert got == data
    assert [r.headers.get("range") for r in seen] == [None, f"bytes={one}-", f"bytes={two}-"]


def test_a_resume_learns_the_length_from_content_range(flavor: Flavor, tmp_path: Path) -> None:
    """The first answer names no length; the 206 does, so a 206 that ends short (without an
    error) is not taken for the whole video."""
    data = mp4_bytes()
    one, two = len(data) // 3, 2 * len(data) // 3
    first = httpx.Response(
        200,
        headers={"content-type": "video/mp4", "etag": '"v1"'},
        stream=Feed([data[:one]], error=httpx.ReadError("reset")),
    )
    short = video_rest(data, one)
    short.stream = Feed([data[one:two]])  # ends cleanly, short of the range it announced
    got, seen = _download(flavor, tmp_path, first, short, video_rest(data, two))
    assert got == data and len(seen) == 3
    assert seen[2].headers["range"] == f"bytes={two}-"


def test_a_saved_video_is_logged_and_has_a_new_files_usual_permissions(
    flavor: Flavor, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Not the 0600 of a temp file: the mode any file this process creates gets."""
    caplog.set_level(logging.DEBUG, logger="sora_client")
    data = mp4_bytes()
    got, _ = _download(flavor, tmp_path, httpx.Response(200, content=data, headers=VIDEO_TYPE))
    reference = tmp_path / "reference"
    reference.write_bytes(b"")
    saved = tmp_path / "v.mp4"
    assert got == data
    assert stat.S_IMODE(saved.stat().st_mode) == stat.S_IMODE(reference.stat().st_mode)
    assert f"saved {len(data)} bytes to {saved}" in caplog.messages


def test_a_download_that_breaks_before_any_byte_is_the_transport_error(
    flavor: Flavor, tmp_path: Path
) -> None:
    answer = httpx.Response(
        200, headers=VIDEO_TYPE, stream=Feed([], error=httpx.ReadError("connection reset"))
    )
    mock, seen = transport(answer)
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, max_retries=0) as c:
        with pytest.raises(NetworkError) as info:
            c.download("video_1", tmp_path / "v.mp4")
    assert str(info.value) == "connection to gptge failed (ReadError): connection reset"
    assert isinstance(info.value.__cause__, httpx.ReadError)
    assert len(seen) == 1 and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("total", [True, False], ids=["length-known", "length-unknown"])
def test_a_download_short_on_every_attempt_says_how_far_it_got(
    flavor: Flavor, tmp_path: Path, total: bool
) -> None:
    data = mp4_bytes()
    head = {"content-length": str(len(data))} if total else {}
    answer = httpx.Response(
        200,
        headers={**VIDEO_TYPE, **head},
        stream=Feed([data[:700]], error=httpx.ReadError("connection reset")),
    )
    mock, seen = transport(answer)
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, max_retries=0) as c:
        with pytest.raises(IncompleteDownloadError) as info:
            c.download("video_1", tmp_path / "v.mp4")
    of = str(len(data)) if total else "an unknown number of"
    assert str(info.value) == (
        f"the video from gptge ended after 700 of {of} bytes "
        "(connection to gptge failed (ReadError): connection reset)"
    )
    assert (info.value.received, info.value.expected) == (700, len(data) if total else None)
    assert isinstance(info.value.__cause__, httpx.ReadError)
    assert len(seen) == 1 and list(tmp_path.iterdir()) == []


# ====================================================================== polling: when


def _polling(flavor: Flavor, statuses: list[str], **kwargs: Any) -> Any:
    """A client whose clock moves only by its sleeps, on a provider answering ``statuses``."""
    clock, slept = Clock(), []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    answers = [httpx.Response(200, json=job_body("gptge", s, "video_1")) for s in statuses]
    mock, seen = transport(*answers)
    client = flavor.client(
        "gptge", transport=mock, base_url=RESPX_BASE, clock=clock, sleep=sleep, **kwargs
    )
    return client, slept, seen


def test_wait_polls_at_the_interval_it_is_given_until_its_deadline(flavor: Flavor) -> None:
    client, slept, seen = _polling(flavor, ["in_progress"] * 4 + ["completed"], poll_interval=60)
    with client as c:
        done = c.wait("video_1", timeout=10, poll_interval=3)
    assert done.completed and len(seen) == 5
    assert slept == [3, 3, 3, 1], "the last sleep is what is left of the timeout"


def test_wait_keeps_a_poll_interval_below_a_second(flavor: Flavor) -> None:
    client, slept, seen = _polling(flavor, ["queued", "in_progress", "completed"])
    with client as c:
        assert c.wait("video_1", timeout=10, poll_interval=0.25).completed
    assert slept == [0.25, 0.25] and len(seen) == 3


def test_wait_gives_up_once_its_timeout_is_spent(flavor: Flavor) -> None:
    client, slept, seen = _polling(flavor, ["in_progress"] * 4)
    with client as c:
        with pytest.raises(PollTimeoutError) as info:
            c.wait("video_1", timeout=9, poll_interval=3)
    assert slept == [3, 3, 3] and len(seen) == 4 and info.value.timeout == 9


def test_a_body_that_ends_short_cleanly_says_so_without_a_cause(
    flavor: Flavor, tmp_path: Path
) -> None:
    data = mp4_bytes()
    for sent in (700, 0):
        head = {**VIDEO_TYPE, "content-length": str(len(data))}
        answer = httpx.Response(200, headers=head, stream=Feed([data[:sent]] if sent else []))
        mock, _ = transport(answer)
        with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, max_retries=0) as c:
            with pytest.raises(IncompleteDownloadError) as info:
                c.download("video_1", tmp_path / "v.mp4")
        assert str(info.value) == f"the video from gptge ended after {sent} of {len(data)} bytes"
        assert info.value.__cause__ is None and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("at", "validators", "resumes"),
    [
        (0, {"etag": '"v1"'}, False),  # nothing kept: nothing to resume
        (1, {"etag": '"v1"'}, True),
        (700, {}, False),  # no ETag, date or length: a range could not be checked
        (700, {"last-modified": "Wed, 21 Oct 2026 07:28:00 GMT"}, True),
    ],
    ids=["nothing-kept", "one-byte-kept", "no-validator", "date-only"],
)
def test_a_broken_download_resumes_only_what_can_be_checked(
    flavor: Flavor,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    at: int,
    validators: dict[str, str],
    resumes: bool,
) -> None:
    caplog.set_level(logging.INFO, logger="sora_client")
    data = mp4_bytes()
    first = httpx.Response(
        200,
        headers={**VIDEO_TYPE, **validators},
        stream=Feed([data[:at]] if at else [], error=httpx.ReadError("connection reset")),
    )
    again = (
        video_rest(data, at) if resumes else httpx.Response(200, headers=VIDEO_TYPE, content=data)
    )
    got, seen = _download(flavor, tmp_path, first, again)
    assert got == data and len(seen) == 2
    assert seen[1].headers.get("range") == (f"bytes={at}-" if resumes else None)
    word = "resume" if resumes else "retry"
    assert any(
        re.fullmatch(rf"download from gptge broke after {at} bytes; {word} in \d+\.\d\d s", m)
        for m in caplog.messages
    ), caplog.messages


def test_a_download_gets_its_full_retry_budget(flavor: Flavor, tmp_path: Path) -> None:
    data = mp4_bytes()
    cuts = [400, 800, 1200]
    answers = [broken_video(data, cuts[0], etag='"v1"')]
    for start, stop in zip(cuts, cuts[1:], strict=False):
        part = video_rest(data, start)
        part.stream = Feed([data[start:stop]], error=httpx.ReadError("reset"))
        answers.append(part)
    answers.append(video_rest(data, cuts[-1]))
    got, seen = _download(flavor, tmp_path, *answers)  # max_retries=3: three breaks are fine
    assert got == data and len(seen) == 4


# ====================================================================== download: which job


def test_a_download_by_id_reads_the_job_first_where_there_is_no_content_endpoint(
    flavor: Flavor, tmp_path: Path
) -> None:
    data = mp4_bytes()
    done = httpx.Response(200, json=job_body("vtrix", "completed", "task_9"))
    mock, seen = transport(done, httpx.Response(200, headers=VIDEO_TYPE, content=data))
    with flavor.client("vtrix", transport=mock, base_url=RESPX_BASE) as c:
        saved = c.download("task_9", tmp_path / "v.mp4")
    assert saved.read_bytes() == data
    assert seen[0].url.path.endswith("/task_9") and str(seen[1].url) == f"{CDN}/files/task_9.mp4"


def test_a_failed_job_is_never_downloaded(flavor: Flavor, tmp_path: Path) -> None:
    failed = httpx.Response(200, json=job_body("vtrix", "failed", "task_9"))
    mock, seen = transport(failed)
    with flavor.client("vtrix", transport=mock, base_url=RESPX_BASE) as c:
        with pytest.raises(GenerationFailedError) as by_id:
            c.download("task_9", tmp_path / "v.mp4")
        job = Job(id="task_8", provider="vtrix", status="failed", error_message="no")
        with pytest.raises(GenerationFailedError) as given:
            c.download(job, tmp_path / "v.mp4")
    assert by_id.value.job.id == "task_9" and by_id.value.job.failed
    assert given.value.job is job and len(seen) == 1


def test_a_job_not_done_is_not_downloaded_and_says_to_wait(flavor: Flavor, tmp_path: Path) -> None:
    running = httpx.Response(200, json=job_body("vtrix", "in_progress", "task_9", 0.25))
    mock, seen = transport(running)
    job = Job(id="task_9", provider="vtrix", status="queued")
    with flavor.client("vtrix", transport=mock, base_url=RESPX_BASE) as c:
        with pytest.raises(VideoNotReadyError) as info:
            c.download(job, tmp_path / "v.mp4")
    assert str(info.value) == (
        "vtrix job task_9 is in_progress (25%): wait() for it before downloading"
    )
    assert len(seen) == 1 and list(tmp_path.iterdir()) == []


def test_a_completed_job_is_fetched_from_the_content_endpoint_if_there_is_one(
    flavor: Flavor, tmp_path: Path
) -> None:
    data = mp4_bytes()
    mock, seen = transport(httpx.Response(200, headers=VIDEO_TYPE, content=data))
    job = Job(id="video_1", provider="gptge", status="completed", progress=1.0)  # no URL
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as c:
        assert c.download(job, tmp_path / "v.mp4").read_bytes() == data
    assert seen[0].url.path.endswith("/v1/videos/video_1/content")


def test_a_completed_job_without_a_video_url_is_unexpected(flavor: Flavor, tmp_path: Path) -> None:
    raw = {"id": "task_9", "status": "completed"}
    job = Job(id="task_9", provider="vtrix", status="completed", progress=1.0, raw=raw)
    mock, seen = transport()
    with flavor.client("vtrix", transport=mock, base_url=RESPX_BASE) as c:
        with pytest.raises(UnexpectedResponseError) as info:
            c.download(job, tmp_path / "v.mp4")
    error = info.value
    assert error.message == "the completed job names no video URL"
    assert (error.provider, error.status_code, error.body) == ("vtrix", 200, raw)
    assert seen == []


# ====================================================================== get, create: answers


def test_a_status_answer_that_is_not_json_is_unexpected_and_shown_cut(flavor: Flavor) -> None:
    page = b"\xff<html>" + b"c" * 700
    answer = httpx.Response(
        200, content=page, headers={"content-type": "text/html", "x-request-id": "req-3"}
    )
    mock, _ = transport(answer)
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as c:
        with pytest.raises(UnexpectedResponseError) as info:
            c.get("video_1")
    error = info.value
    assert error.message == "cannot read the answer: the body is not JSON"
    assert (error.provider, error.status_code, error.request_id) == ("gptge", 200, "req-3")
    assert error.body == "\ufffd<html>" + "c" * 493


def test_a_status_answer_that_is_no_job_is_unexpected(flavor: Flavor) -> None:
    body = {"id": "video_1", "object": "video"}  # no status
    mock, _ = transport(httpx.Response(200, json=body))
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as c:
        with pytest.raises(UnexpectedResponseError) as info:
            c.get("video_1")
    assert info.value.message == "cannot read the answer: KeyError: 'status'"
    assert info.value.body == body and info.value.provider == "gptge"


def test_a_create_answered_2xx_unreadably_is_ambiguous_naming_the_request(
    flavor: Flavor,
) -> None:
    answer = httpx.Response(200, json={"ok": 1}, headers={"x-request-id": "req-5"})
    mock, seen = transport(answer)
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, max_retries=3) as c:
        with pytest.raises(AmbiguousCreateError) as info:
            c.create("a cat", image=image(720, 1280), seconds=4)
    error = info.value
    assert (error.provider, error.request_id, error.status_code) == ("gptge", "req-5", 200)
    assert error.reason.startswith("the server answered 200 but cannot read the answer: ")
    assert len(seen) == 1


# ====================================================================== reads: retries and errors


def test_a_read_that_cannot_connect_is_a_connect_error_from_its_cause(flavor: Flavor) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    mock = httpx.MockTransport(refuse)
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, max_retries=0) as c:
        with pytest.raises(ConnectError) as info:
            c.get("video_1")
    assert str(info.value) == "could not reach gptge: connection refused"
    assert isinstance(info.value.__cause__, httpx.ConnectError)


@pytest.mark.parametrize("status", [300, 501])
def test_a_status_answer_that_is_no_success_nor_retryable_is_raised_at_once(
    flavor: Flavor, status: int
) -> None:
    body = job_body("gptge", "completed", "video_1")  # a job body, under a wrong status
    mock, seen = transport(*(httpx.Response(status, json=body) for _ in range(4)))
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, max_retries=3) as c:
        with pytest.raises(APIError) as info:
            c.get("video_1")
    assert info.value.status_code == status and len(seen) == 1


def test_a_retried_read_is_logged_with_its_request_and_cause(
    flavor: Flavor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sora_client")
    error = {"error": {"message": "try later", "type": "server_error"}}
    answers = (
        httpx.Response(500, json=error),
        httpx.Response(200, json=job_body("gptge", "queued")),
    )
    mock, seen = transport(*answers)
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, max_retries=3) as c:
        assert c.get("job_1").status == "queued"
    assert len(seen) == 2
    pattern = r"GET /api/v1/videos/job_1 failed \(.*try later.*\); retry in \d+\.\d\d s"
    assert any(re.fullmatch(pattern, m) for m in caplog.messages), caplog.messages


def test_an_error_body_is_read_up_to_one_mib_and_no_further(flavor: Flavor, tmp_path: Path) -> None:
    mib = 1 << 20
    feed = Feed([b"x" * (mib - 1)] + [b"y"] * 10)  # 1 MiB is reached by the second chunk
    answer = httpx.Response(404, headers={"content-type": "text/plain"}, stream=feed)
    mock, _ = transport(answer)
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, max_retries=0) as c:
        with pytest.raises(APIError) as info:
            c.download("video_1", tmp_path / "v.mp4")
    assert info.value.status_code == 404
    assert feed.pulled == 2 and feed.closed


def test_a_list_answer_without_its_jobs_is_unexpected(flavor: Flavor) -> None:
    body = {"object": "list", "has_more": False}  # no data
    mock, _ = transport(httpx.Response(200, json=body, headers={"x-request-id": "req-4"}))
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as c:
        with pytest.raises(UnexpectedResponseError) as info:
            read_list(flavor, c, [])
    error = info.value
    assert error.message == "cannot read the answer: ValueError: the list has no data array"
    assert (error.provider, error.status_code, error.request_id) == ("gptge", 200, "req-4")
    assert error.body == body


def test_a_job_that_turns_out_failed_when_read_again_is_not_downloaded(
    flavor: Flavor, tmp_path: Path
) -> None:
    failed = httpx.Response(200, json=job_body("vtrix", "failed", "task_9"))
    mock, seen = transport(failed)
    job = Job(id="task_9", provider="vtrix", status="in_progress", progress=0.5)
    with flavor.client("vtrix", transport=mock, base_url=RESPX_BASE) as c:
        with pytest.raises(GenerationFailedError) as info:
            c.download(job, tmp_path / "v.mp4")
    assert info.value.job.id == "task_9" and info.value.job.failed and len(seen) == 1


def test_get_in_chat_mode_says_to_wait_on_the_created_job(flavor: Flavor) -> None:
    mock, seen = transport()
    with flavor.client("gptproto-chat", transport=mock, base_url=RESPX_BASE) as c:
        with pytest.raises(UnsupportedOperation) as info:
            c.get("chatcmpl-1")
    assert str(info.value) == (
        "gptproto-chat has no status endpoint: the job is its event stream; "
        "pass the Job from create() to wait()"
    )
    assert seen == []


def test_an_empty_content_encoding_is_identity(flavor: Flavor, tmp_path: Path) -> None:
    data = mp4_bytes()
    head = {**VIDEO_TYPE, "content-encoding": "", "content-length": str(len(data))}
    answer = httpx.Response(200, headers=head, stream=Feed([data[:700]]))  # ends short
    mock, _ = transport(answer)
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, max_retries=0) as c:
        with pytest.raises(IncompleteDownloadError, match=f"after 700 of {len(data)} bytes"):
            c.download("video_1", tmp_path / "v.mp4")


def test_a_trickling_error_body_is_read_until_the_timeout(flavor: Flavor, tmp_path: Path) -> None:
    clock = Clock()

    def tick() -> None:
        clock.now += 1.0

    body = json.dumps({"error": {"message": "no such video", "type": "invalid_request_error"}})
    feed = Feed([body.encode()] + [b" "] * 30, each=tick)  # then a space a second, on and on
    answer = httpx.Response(404, headers={"content-type": "application/json"}, stream=feed)
    mock, _ = transport(answer)
    with flavor.client(
        "gptge", transport=mock, base_url=RESPX_BASE, clock=clock, timeout=5, max_retries=0
    ) as c:
        with pytest.raises(APIError) as info:
            c.download("video_1", tmp_path / "v.mp4")
    assert str(info.value) == "gptge answered 404, invalid_request_error: no such video"
    assert feed.pulled == 5 and feed.closed, "read past the timeout, or left open"


# ====================================================================== create: before sending


def test_a_prompt_that_is_no_string_is_refused_unsent(flavor: Flavor) -> None:
    mock, seen = transport()
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as c:
        with pytest.raises(InvalidRequestError) as info:
            c.create(42, image=image(720, 1280), seconds=4)
    error = info.value
    assert (error.provider, error.field, error.rule) == ("gptge", "prompt", "must be a string")
    assert str(error) == "invalid request for gptge: prompt: must be a string" and seen == []


def test_seconds_given_as_digits_are_sent_as_the_number(flavor: Flavor) -> None:
    mock, seen = transport(httpx.Response(200, json=create_body("gptge")))
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as c:
        c.create("a cat", image=image(720, 1280), seconds=" 8 ", size="720x1280")
    (request,) = seen
    assert b'name="seconds"\r\n\r\n8\r\n' in request.content


def test_every_problem_of_a_create_is_named_at_once_by_provider(flavor: Flavor) -> None:
    mock, seen = transport()
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as c:
        with pytest.raises(InvalidRequestError) as info:
            # seconds the contract refuses, and an image that is not the size asked for
            c.create("a cat", image=image(1280, 720), seconds=7, size="720x1280")
    error = info.value
    fields = [f for f, _ in error.problems]
    assert error.provider == "gptge" and fields == ["seconds", "image"]
    assert "gptge requires them to match exactly" in dict(error.problems)["image"]
    assert (error.field, error.rule) == error.problems[0] and seen == []


def _redirect(to: str, status: int = 307) -> httpx.Response:
    return httpx.Response(status, headers={"location": to})


@pytest.mark.parametrize(("hops", "made"), [(5, True), (6, False)])
def test_a_create_follows_at_most_five_same_origin_redirects(
    flavor: Flavor, hops: int, made: bool
) -> None:
    answers = [_redirect(f"{RESPX_BASE}/v1/videos?hop={i}") for i in range(hops)]
    mock, seen = transport(*answers, httpx.Response(200, json=create_body("gptge")))
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as c:
        if made:
            assert c.create("a cat", image=image(720, 1280), seconds=4).id == "job_1"
        else:
            with pytest.raises(AmbiguousCreateError, match="answered 307, a redirect to provider"):
                c.create("a cat", image=image(720, 1280), seconds=4)
    assert len(seen) == min(hops, 5) + 1
    assert all(r.method == "POST" and r.content == seen[0].content for r in seen)


def test_a_create_redirected_elsewhere_is_not_followed(flavor: Flavor) -> None:
    mock, seen = transport(_redirect("https://login.example.net/sso", 302))
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as c:
        with pytest.raises(AmbiguousCreateError) as info:
            c.create("a cat", image=image(720, 1280), seconds=4)
    assert "to login.example.net" in info.value.reason and len(seen) == 1


def test_a_create_that_breaks_after_sending_is_ambiguous_from_its_cause(flavor: Flavor) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("connection reset", request=request)

    mock = httpx.MockTransport(broken)
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, max_retries=3) as c:
        with pytest.raises(AmbiguousCreateError) as info:
            c.create("a cat", image=image(720, 1280), seconds=4)
    assert info.value.reason == "ReadError after the request was sent"
    cause = info.value.__cause__
    assert str(cause) == "connection to gptge failed (ReadError): connection reset"
    assert isinstance(cause.__cause__, httpx.ReadError)


def test_a_redirect_without_a_location_is_ambiguous_and_named(flavor: Flavor) -> None:
    answer = httpx.Response(302, headers={"x-request-id": "req-6"})
    mock, seen = transport(answer)
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as c:
        with pytest.raises(AmbiguousCreateError) as info:
            c.create("a cat", image=image(720, 1280), seconds=4)
    error = info.value
    assert (
        error.reason
        == "the server answered 302, a redirect that the client does not follow for a create"
    )
    assert (error.provider, error.request_id, error.status_code) == ("gptge", "req-6", 302)
    assert len(seen) == 1


def test_a_create_answered_300_is_no_job(flavor: Flavor) -> None:
    mock, seen = transport(httpx.Response(300, json=create_body("gptge")))
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as c:
        with pytest.raises(AmbiguousCreateError, match="answered 300, a redirect"):
            c.create("a cat", image=image(720, 1280), seconds=4)
    assert len(seen) == 1


def test_a_chat_create_redirected_elsewhere_is_ambiguous(flavor: Flavor) -> None:
    mock, seen = transport(_redirect("https://login.example.net/sso", 302))
    with flavor.client("gptproto-chat", transport=mock, base_url=RESPX_BASE) as c:
        with pytest.raises(AmbiguousCreateError, match="a redirect to login.example.net"):
            c.create("a cat", image=image(720, 1280))
    assert len(seen) == 1


def test_a_create_that_did_not_connect_is_retried_and_logged(
    flavor: Flavor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sora_client")
    answers = iter([None, httpx.Response(200, json=create_body("gptge"))])

    def once_refused(request: httpx.Request) -> httpx.Response:
        answer = next(answers)
        if answer is None:
            raise httpx.ConnectError("connection refused", request=request)
        return answer

    mock = httpx.MockTransport(once_refused)
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, max_retries=3) as c:
        assert c.create("a cat", image=image(720, 1280), seconds=4).id == "job_1"
    pattern = r"create to gptge did not connect; retry in \d+\.\d\d s"
    assert any(re.fullmatch(pattern, m) for m in caplog.messages), caplog.messages


def test_a_create_answered_5xx_is_ambiguous_naming_the_provider(flavor: Flavor) -> None:
    error_body = {"error": {"message": "upstream broke", "type": "server_error"}}
    mock, seen = transport(httpx.Response(500, json=error_body))
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, max_retries=3) as c:
        with pytest.raises(AmbiguousCreateError) as info:
            c.create("a cat", image=image(720, 1280), seconds=4)
    assert info.value.provider == "gptge" and info.value.reason == "the server answered 500"
    assert len(seen) == 1


def test_a_rate_limited_create_is_retried_and_logged(
    flavor: Flavor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sora_client")
    limited = {"error": {"message": "slow down", "type": "rate_limit_error"}}
    answers = (httpx.Response(429, json=limited), httpx.Response(200, json=create_body("gptge")))
    mock, seen = transport(*answers)
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, max_retries=3) as c:
        assert c.create("a cat", image=image(720, 1280), seconds=4).id == "job_1"
    assert len(seen) == 2
    pattern = r"create to gptge rate limited; retry in \d+\.\d\d s"
    assert any(re.fullmatch(pattern, m) for m in caplog.messages), caplog.messages


def test_an_image_that_cannot_be_read_is_refused_naming_the_provider(flavor: Flavor) -> None:
    mock, seen = transport()
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as c:
        with pytest.raises(InvalidRequestError) as info:
            c.create("a cat", image=b"not an image at all", seconds=4)
    assert info.value.provider == "gptge" and seen == []
