"""Retries that never double-spend: reads retry 429/5xx/transport failures within their
budget, a create is re-sent only when it provably never arrived (connect failure) or was
refused (429), and downloads land whole or not at all."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from client_helpers import (
    CDN,
    MAX_RETRIES,
    RESPX_BASE,
    ContractRouter,
    Flavor,
    create_body,
    flavor_fixture,  # noqa: F401  (fixtures)
    image,
    job_body,
    mp4_bytes,
    route,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from sora_client import (
    AmbiguousCreateError,
    ConnectError,
    ContentTypeError,
    GenerationFailedError,
    IncompleteDownloadError,
    Job,
    PollTimeoutError,
    ProtocolError,
    RateLimitError,
    ReadTimeoutError,
    ServerError,
    SoraError,
    VideoNotReadyError,
)

POLLING = ["gptproto-v3", "gptproto-videos", "gptge", "vtrix"]
WAIT_TIMEOUT = 120.0
POLL_INTERVAL = 5.0


class FakeTime:
    """The client's sleep: records each delay; the client counts them as time passed."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    @property
    def total(self) -> float:
        return sum(self.sleeps)

    def now(self) -> float:
        """The client's clock: only what it slept (so deadlines are exact)."""
        return self.total


def _kwargs(provider: str) -> dict[str, Any]:
    return {"image": image(720, 1280), "size": "720x1280"}


def _error(status: int) -> httpx.Response:
    headers = {"Retry-After": "1"} if status == 429 else {}
    body = {
        "error": {"message": f"status {status}", "type": str(status), "code": None, "param": None}
    }
    return httpx.Response(status, json=body, headers=headers)


FAULTS = {
    "429": lambda req: _error(429),
    "500": lambda req: _error(500),
    "503": lambda req: _error(503),
    "connect": lambda req: (_ for _ in ()).throw(httpx.ConnectError("refused", request=req)),
    "read-timeout": lambda req: (_ for _ in ()).throw(httpx.ReadTimeout("slow", request=req)),
    "protocol": lambda req: (_ for _ in ()).throw(
        httpx.RemoteProtocolError("peer closed", request=req)
    ),
}
#: what a read raises once its retries are spent
FAULT_ERRORS: dict[str, type[SoraError]] = {
    "429": RateLimitError,
    "500": ServerError,
    "503": ServerError,
    "connect": ConnectError,
    "read-timeout": ReadTimeoutError,
    "protocol": ProtocolError,
}


@dataclass
class Script:
    """A scripted server: answers to polls in order; when they run out, the last status stays."""

    provider: str
    answers: list[str]
    index: int = 0
    gets: int = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.gets += 1
        if self.index < len(self.answers):
            answer = self.answers[self.index]
            self.index += 1
        else:
            answer = next((a for a in reversed(self.answers) if a not in FAULTS), "queued")
        if answer in FAULTS:
            return FAULTS[answer](request)
        return httpx.Response(200, json=job_body(self.provider, answer, "job_1"))


def lifecycles() -> st.SearchStrategy[list[str]]:
    """A monotone lifecycle (queued*, in_progress*, maybe an end) with faults interleaved."""
    lifecycle = st.tuples(
        st.integers(0, 3),
        st.integers(0, 4),
        st.sampled_from(["completed", "failed", None]),
    ).map(lambda t: ["queued"] * t[0] + ["in_progress"] * t[1] + ([t[2]] if t[2] else []))

    def interleave(statuses: list[str]) -> st.SearchStrategy[list[str]]:
        faults = st.lists(st.sampled_from(sorted(FAULTS)), max_size=MAX_RETRIES + 2)
        return st.lists(faults, min_size=len(statuses) + 1, max_size=len(statuses) + 1).map(
            lambda groups: [
                a
                for g, s in zip(groups, [*statuses, None], strict=True)
                for a in g + ([s] if s else [])
            ]
        )

    return lifecycle.flatmap(interleave)


def expected_outcome(answers: list[str]) -> tuple[str, str | type[SoraError], int | None]:
    """('job', status, polls) or ('error', type, polls), simulating the documented policy;
    ``polls`` is how many answers the client must have used (None: until the timeout)."""
    run = 0
    for used, answer in enumerate(answers, start=1):
        if answer in FAULTS:
            run += 1
            if run > MAX_RETRIES:
                return "error", FAULT_ERRORS[answer], used
            continue
        run = 0
        if answer == "completed":
            return "job", "completed", used
        if answer == "failed":
            return "error", GenerationFailedError, used
    return "error", PollTimeoutError, None


@pytest.mark.parametrize("provider", POLLING)
@given(answers=lifecycles())
@settings(max_examples=min(settings.default.max_examples, 50))
def test_wait_ends_completed_or_typed_and_never_creates_twice(
    flavor: Flavor,
    provider: str,
    answers: list[str],
) -> None:
    cr = ContractRouter(provider, validate=False)
    route(cr, "POST", "create").respond(200, json=create_body(provider, "job_1"))
    script = Script(provider, answers)
    route(cr, "GET", "get").mock(side_effect=script)
    clock = FakeTime()
    with flavor.client(
        provider,
        transport=cr.transport(),
        base_url=RESPX_BASE,
        sleep=clock,
        clock=clock.now,
        poll_interval=POLL_INTERVAL,
        max_retries=MAX_RETRIES,
    ) as c:
        job = c.create("p", **_kwargs(provider))
        try:
            outcome: Job | SoraError = c.wait(job, timeout=WAIT_TIMEOUT)
        except SoraError as exc:
            outcome = exc

    assert cr.posts() == 1, "wait must never create"
    kind, what, polls = expected_outcome(answers)
    if kind == "job":
        assert isinstance(outcome, Job) and outcome.status == what
    else:
        assert isinstance(outcome, what), (answers, outcome)  # type: ignore[arg-type]
    if polls is not None:
        assert script.gets == polls, "polled after the job ended or the budget was spent"
    # never more retries than the budget: a run of failed attempts is at most 1 + max_retries
    run = longest = 0
    for answer in answers[: script.index]:
        run = run + 1 if answer in FAULTS else 0
        longest = max(longest, run)
    assert longest <= MAX_RETRIES + 1
    assert all(s >= 0 for s in clock.sleeps)
    if isinstance(outcome, PollTimeoutError):
        assert clock.total == pytest.approx(WAIT_TIMEOUT)
        assert outcome.job.id == "job_1"


# ---------------------------------------------------------------------- create


@pytest.mark.parametrize("provider", ["gptge", "vtrix", "gptproto-v3"])
def test_a_create_that_never_connected_is_retried(flavor: Flavor, provider: str) -> None:
    cr = ContractRouter(provider)
    route(cr, "POST", "create").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json=create_body(provider))]
    )
    clock = FakeTime()
    with flavor.client(provider, transport=cr.transport(), base_url=RESPX_BASE, sleep=clock) as c:
        job = c.create("p", **_kwargs(provider))
    assert job.id == "job_1"
    assert cr.posts() == 2
    assert len(clock.sleeps) == 1 and 0 <= clock.sleeps[0] <= 0.5


def test_a_create_that_is_refused_with_429_is_retried_after_the_hint(
    flavor: Flavor,
) -> None:
    cr = ContractRouter("gptge")
    route(cr, "POST", "create").mock(
        side_effect=[
            httpx.Response(
                429,
                json={"error": {"message": "slow", "type": "x", "param": None, "code": None}},
                headers={"Retry-After": "3"},
            ),
            httpx.Response(200, json=create_body("gptge")),
        ]
    )
    clock = FakeTime()
    with flavor.client("gptge", transport=cr.transport(), base_url=RESPX_BASE, sleep=clock) as c:
        c.create("p", **_kwargs("gptge"))
    assert clock.sleeps == [3.0]
    assert cr.posts() == 2


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(httpx.ReadTimeout("slow"), id="read-timeout"),
        pytest.param(httpx.RemoteProtocolError("peer closed"), id="protocol-error"),
        pytest.param(httpx.WriteError("broken pipe"), id="write-error"),
    ],
)
def test_an_ambiguous_create_is_never_sent_again(
    flavor: Flavor,
    fault: Exception,
) -> None:
    cr = ContractRouter("vtrix")
    route(cr, "POST", "create").mock(
        side_effect=[fault, httpx.Response(200, json=create_body("vtrix"))]
    )
    with flavor.client("vtrix", transport=cr.transport(), base_url=RESPX_BASE) as c:
        with pytest.raises(AmbiguousCreateError) as info:
            c.create("p", **_kwargs("vtrix"))
    assert cr.posts() == 1
    error = info.value
    assert error.provider == "vtrix" and error.sent_at.tzinfo is not None
    assert "not retried" in str(error) and "look the job up" in str(error)
    assert isinstance(error.__cause__, SoraError)


def test_a_5xx_on_create_is_ambiguous_and_carries_the_request_id(
    flavor: Flavor,
) -> None:
    cr = ContractRouter("gptge")
    body = {"error": {"message": "boom", "type": "server_error", "param": None, "code": None}}
    route(cr, "POST", "create").respond(500, json=body, headers={"x-request-id": "req_9"})
    with flavor.client("gptge", transport=cr.transport(), base_url=RESPX_BASE) as c:
        with pytest.raises(AmbiguousCreateError) as info:
            c.create("p", **_kwargs("gptge"))
    assert cr.posts() == 1
    assert (info.value.request_id, info.value.status_code) == ("req_9", 500)
    assert isinstance(info.value.__cause__, ServerError)


def test_a_create_that_never_connects_gives_up_after_its_budget(
    flavor: Flavor,
) -> None:
    cr = ContractRouter("gptge")
    route(cr, "POST", "create").mock(side_effect=httpx.ConnectError("refused"))
    with flavor.client("gptge", transport=cr.transport(), base_url=RESPX_BASE) as c:
        with pytest.raises(ConnectError):
            c.create("p", **_kwargs("gptge"))
    assert cr.posts() == MAX_RETRIES + 1


def test_a_chat_stream_that_breaks_before_the_job_id_is_ambiguous(
    flavor: Flavor,
) -> None:
    class Broken(httpx.SyncByteStream, httpx.AsyncByteStream):
        def __iter__(self):  # type: ignore[no-untyped-def]
            raise httpx.ReadError("reset")
            yield b""

        async def __aiter__(self):  # type: ignore[no-untyped-def]
            raise httpx.ReadError("reset")
            yield b""

    cr = ContractRouter("gptproto-chat")
    route(cr, "POST", "create").mock(
        return_value=httpx.Response(
            200, headers={"content-type": "text/event-stream"}, stream=Broken()
        )
    )
    with flavor.client("gptproto-chat", transport=cr.transport(), base_url=RESPX_BASE) as c:
        with pytest.raises(AmbiguousCreateError, match="event stream broke"):
            c.create("p", image=image(720, 1280))
    assert cr.posts() == 1


# ---------------------------------------------------------------------- reads


def test_reads_back_off_with_full_jitter_within_the_budget(flavor: Flavor) -> None:
    cr = ContractRouter("vtrix")
    route(cr, "GET", "get").mock(
        side_effect=[
            _error(503),
            _error(500),
            httpx.ConnectError("down"),
            httpx.Response(200, json=job_body("vtrix", "queued")),
        ]
    )
    clock = FakeTime()
    with flavor.client("vtrix", transport=cr.transport(), base_url=RESPX_BASE, sleep=clock) as c:
        assert c.get("job_1").status == "queued"
    assert len(clock.sleeps) == 3
    for attempt, delay in enumerate(clock.sleeps):
        assert 0 <= delay <= min(8.0, 0.5 * 2**attempt)


def test_a_retry_after_beyond_reason_is_raised_not_waited(flavor: Flavor) -> None:
    cr = ContractRouter("gptge")
    body = {"error": {"message": "tomorrow", "type": "x", "param": None, "code": None}}
    route(cr, "GET", "get").respond(429, json=body, headers={"Retry-After": "3600"})
    clock = FakeTime()
    with flavor.client("gptge", transport=cr.transport(), base_url=RESPX_BASE, sleep=clock) as c:
        with pytest.raises(RateLimitError) as info:
            c.get("video_1")
    assert info.value.retry_after == 3600
    assert clock.sleeps == [] and len(cr.requests) == 1


def test_wait_polls_at_the_servers_hint(flavor: Flavor) -> None:
    cr = ContractRouter("gptge")
    answers = iter(["in_progress", "in_progress", "completed"])

    def poll(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json=job_body("gptge", next(answers), "job_1"),
            headers={"openai-poll-after-ms": "1500"},
        )

    route(cr, "GET", "get").mock(side_effect=poll)
    clock = FakeTime()
    with flavor.client(
        "gptge", transport=cr.transport(), base_url=RESPX_BASE, sleep=clock, poll_interval=9.0
    ) as c:
        queued = Job("job_1", "gptge", "queued")
        assert c.wait(queued).completed
    assert clock.sleeps == [9.0, 1.5, 1.5]


def test_wait_gives_up_at_its_timeout_with_the_last_state(flavor: Flavor) -> None:
    cr = ContractRouter("vtrix")
    route(cr, "GET", "get").respond(200, json=job_body("vtrix", "in_progress", "job_1", 0.3))
    clock = FakeTime()
    with flavor.client(
        "vtrix",
        transport=cr.transport(),
        base_url=RESPX_BASE,
        sleep=clock,
        clock=clock.now,
        poll_interval=10.0,
    ) as c:
        with pytest.raises(PollTimeoutError) as info:
            c.wait(Job("job_1", "vtrix", "queued"), timeout=35)
    assert clock.sleeps == [10.0, 10.0, 10.0, 5.0]
    assert info.value.job.status == "in_progress" and info.value.job.progress == 0.3
    assert "wait again later" in str(info.value)


def test_wait_returns_a_failed_job_when_asked_not_to_raise(flavor: Flavor) -> None:
    cr = ContractRouter("vtrix")
    route(cr, "GET", "get").respond(200, json=job_body("vtrix", "failed", "job_1"))
    with flavor.client("vtrix", transport=cr.transport(), base_url=RESPX_BASE) as c:
        job = c.wait("job_1", raise_on_failure=False)
        assert (job.status, job.error_code) == ("failed", "003000095")
        with pytest.raises(GenerationFailedError) as info:
            c.wait("job_1")
    assert info.value.code == "003000095"


# ---------------------------------------------------------------------- downloads


def _content_router(provider: str, *answers: Any) -> ContractRouter:
    cr = ContractRouter(provider)
    route(cr, "GET", "content").mock(side_effect=list(answers))
    return cr


def _video(data: bytes, length: int | None = None) -> httpx.Response:
    headers = {"content-type": "video/mp4", "content-length": str(length or len(data))}
    return httpx.Response(200, headers=headers, content=data)


def test_a_download_lands_whole_through_a_temp_file(flavor: Flavor, tmp_path: Path) -> None:
    data = mp4_bytes()
    cr = _content_router("gptge", _video(data))
    with flavor.client("gptge", transport=cr.transport(), base_url=RESPX_BASE) as c:
        path = c.download("video_1", tmp_path / "out.mp4")
    assert path.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_a_short_body_is_retried_and_never_left_behind(flavor: Flavor, tmp_path: Path) -> None:
    data = mp4_bytes()
    cr = _content_router("gptge", _video(data[:100], len(data)), _video(data))
    with flavor.client("gptge", transport=cr.transport(), base_url=RESPX_BASE) as c:
        path = c.download("video_1", tmp_path)
    assert path == tmp_path / "video_1.mp4" and path.read_bytes() == data
    assert [p.name for p in tmp_path.iterdir()] == ["video_1.mp4"]


def test_a_body_short_every_time_fails_and_keeps_the_old_file(
    flavor: Flavor,
    tmp_path: Path,
) -> None:
    data = mp4_bytes()
    target = tmp_path / "out.mp4"
    target.write_bytes(b"the previous video")
    cr = _content_router("gptge", *[_video(data[:10], len(data))] * (MAX_RETRIES + 1))
    with flavor.client("gptge", transport=cr.transport(), base_url=RESPX_BASE) as c:
        with pytest.raises(IncompleteDownloadError):
            c.download("video_1", target)
    assert target.read_bytes() == b"the previous video"
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_gptproto_json_instead_of_video_raises_and_writes_nothing(
    flavor: Flavor,
    tmp_path: Path,
) -> None:
    cr = _content_router(
        "gptproto-videos",
        httpx.Response(200, json=job_body("gptproto-videos", "queued", "video_1")),
    )
    with flavor.client("gptproto-videos", transport=cr.transport(), base_url=RESPX_BASE) as c:
        with pytest.raises(ContentTypeError) as info:
            c.download("video_1", tmp_path / "out.mp4")
    assert info.value.content_type == "application/json"
    assert "queued" in str(info.value) and "No file was written" in str(info.value)
    assert isinstance(info.value, VideoNotReadyError)
    assert list(tmp_path.iterdir()) == []


def test_downloading_an_unfinished_job_refreshes_it_first(flavor: Flavor, tmp_path: Path) -> None:
    cr = ContractRouter("vtrix")
    route(cr, "GET", "get").respond(200, json=job_body("vtrix", "in_progress", "job_1"))
    with flavor.client("vtrix", transport=cr.transport(), base_url=RESPX_BASE) as c:
        with pytest.raises(VideoNotReadyError, match="in_progress"):
            c.download(Job("job_1", "vtrix", "queued"), tmp_path / "out.mp4")
    assert list(tmp_path.iterdir()) == []


def test_a_completed_job_downloads_from_its_video_url(flavor: Flavor, tmp_path: Path) -> None:
    data = mp4_bytes()
    cr = ContractRouter("vtrix")
    route(cr, "GET", "get").respond(200, json=job_body("vtrix", "completed", "job_1"))
    cdn = cr.router.get(f"{CDN}/files/job_1.mp4").mock(return_value=_video(data))
    with flavor.client("vtrix", transport=cr.transport(), base_url=RESPX_BASE) as c:
        job = c.get("job_1")
        path = c.download(job, tmp_path / "v.mp4")
    assert path.read_bytes() == data
    assert cr.problems == []
    assert "authorization" not in cdn.calls.last.request.headers, "the key went to a CDN"


def test_json_answers_carry_no_surprises() -> None:
    # the scripted bodies above are themselves valid for their contracts
    import contracts

    pointers = {
        "gptproto-v3": "#/components/schemas/PredictionEnvelope",
        "gptproto-videos": "#/components/schemas/Video",
        "gptge": "#/components/schemas/Video",
        "vtrix": "#/components/schemas/Task",
    }
    from sora_client._providers import PROVIDERS

    for provider, pointer in pointers.items():
        validator = contracts.load(PROVIDERS[provider].contract_name).schema_validator(pointer)
        for status in ("queued", "in_progress", "completed", "failed"):
            body = json.loads(json.dumps(job_body(provider, status)))
            assert validator.is_valid(body), (provider, status)
