"""One ``sora-mock verify`` run, request by request (mockserver/conformance/verifier.py): the
plan a dry run prints, the hard cap on paid creates where requests leave, the contract's links
followed from a create (the status read polled until the job ends, within its read and time
budgets; the other reads once; writes never), a stream read event by event within its budget,
each answer judged (status the probe expects, a 2xx for an id that cannot exist, a transient
status, a file that is not what it says), the console line of each request, and what keeps a
run from verifying (no answer, rejected credentials, nothing sent) - never drift.

The provider is a mock app built in the test, reached through an httpx transport (no port);
a test that needs the provider to answer something else changes that one answer on the way."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from mockserver.conformance.planning import UNKNOWN_ID, RequestSpec
from mockserver.conformance.results import CreateCapReached, Exchange
from mockserver.conformance.verifier import (
    USER_AGENT,
    Verifier,
    _message,
    _rejected,
    retired_model,
)
from mockserver.http.app import create_app
from mockserver.testing import SoraMock, test_config

KEY = "sk-RUNKEY-0123456789abcdef01234"
BASE = "http://127.0.0.1:9"
PREFIX = {
    "vtrix": "vtrix",
    "gptge": "gptge",
    "gptproto-chat": "gptproto",
    "gptproto-v3": "gptproto",
}
Edit = Callable[[httpx.Request, httpx.Response], "httpx.Response | None"]


class Provider(httpx.BaseTransport):
    """The mock, with the answers a test edits changed on the way back."""

    def __init__(
        self,
        mock: SoraMock,
        edit: Edit | None = None,
        instead: Callable[[httpx.Request], httpx.Response | None] | None = None,
    ) -> None:
        self.inner = mock.transport()
        self.edit = edit
        self.instead = instead
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        own = self.instead(request) if self.instead is not None else None
        if own is not None:
            return own
        response = self.inner.handle_request(request)
        if self.edit is None:
            return response
        response.read()
        return self.edit(request, response) or response


def answer(status: int, body: Any, content_type: str = "application/json") -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(status, headers={"Content-Type": content_type}, content=content)


def changed(response: httpx.Response, code: int | None = None, **fields: Any) -> httpx.Response:
    body = response.json() | fields
    for name in [k for k, v in fields.items() if v is None]:
        del body[name]
    return answer(code or response.status_code, body)


def is_create(request: httpx.Request) -> bool:
    return request.method == "POST"


def is_poll(request: httpx.Request) -> bool:
    return request.method == "GET" and UNKNOWN_ID not in str(request.url)


class Run:
    def __init__(
        self,
        provider: str = "vtrix",
        edit: Edit | None = None,
        advance: bool = True,
        instead: Callable[[httpx.Request], httpx.Response | None] | None = None,
        **kwargs: Any,
    ) -> None:
        self.mock = SoraMock(create_app(test_config()))
        self.transport = Provider(self.mock, edit, instead)
        self.out = io.StringIO()
        self.sleeps: list[float] = []

        def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)
            if advance:
                self.mock.advance(seconds)

        kwargs.setdefault("generated", 0)
        self.verifier = Verifier(
            provider,
            f"{BASE}/{PREFIX[provider]}",
            KEY,
            sleep=sleep,
            out=self.out,
            transport=self.transport,
            **kwargs,
        )

    def run(self) -> Any:
        return self.verifier.run()

    @property
    def lines(self) -> list[str]:
        return self.out.getvalue().splitlines()

    def exchanges(self, op_id: str) -> list[Exchange]:
        return self.verifier.result.operations[op_id].exchanges


def ids_hidden(lines: list[str]) -> list[str]:
    return [re.sub(r"video_[0-9a-f]{32}", "video_ID", line) for line in lines]


# --------------------------------------------------------------------------- a clean run


def test_a_clean_run_reads_every_answer_and_polls_until_the_job_ends() -> None:
    run = Run(poll_interval=2.5)
    result = run.run()
    task = f"{BASE}/vtrix/model/v1/generation/task"
    assert ids_hidden(run.lines) == [
        f"sora-mock verify vtrix: contract vtrix-generation against {BASE}/vtrix (at most 1 paid "
        "create(s))",
        f"  [probe: no credentials] GET {task}/{UNKNOWN_ID} -> 401 ok",
        f"  [probe: unknown id] GET {task}/{UNKNOWN_ID} -> 404 ok",
        f"  [paid create] POST {BASE}/vtrix/model/v1/generation -> 200 ok",
    ] + [f"  [link GetTask] GET {task}/video_ID -> 200 ok"] * (len(run.sleeps) + 1)
    assert set(run.sleeps) == {2.5}
    assert result.ok
    assert (result.creates_sent, result.requests, result.blockers) == (
        1,
        3 + len(run.sleeps) + 1,
        [],
    )
    polls = run.exchanges("getGenerationTask")[2:]
    assert [x.notes for x in polls] == [[]] * len(run.sleeps) + [["job status: completed"]]
    assert 0 < result.seconds < 60


def test_every_request_carries_the_user_agent_and_only_the_probe_goes_without_the_key() -> None:
    run = Run()
    run.run()
    assert {r.headers["User-Agent"] for r in run.transport.requests} == {USER_AGENT}
    keyless = [r for r in run.transport.requests if "Authorization" not in r.headers]
    assert [str(r.url) for r in keyless] == [f"{BASE}/vtrix/model/v1/generation/task/{UNKNOWN_ID}"]
    assert {r.headers["Authorization"] for r in run.transport.requests if r not in keyless} == {
        f"Bearer {KEY}"
    }
    probe, unknown = run.exchanges("getGenerationTask")[:2]
    assert (probe.authenticated, unknown.authenticated) == (False, True)


# --------------------------------------------------------------------------- polling


def test_polling_stops_after_max_polls_reads_past_the_first() -> None:
    run = Run(advance=False, max_polls=2, poll_interval=4)
    run.run()
    polls = run.exchanges("getGenerationTask")[2:]
    assert len(polls) == 3
    assert run.sleeps == [4, 4]
    assert polls[-1].notes == [
        "job still 'pending' after 3 reads: polling stopped (--max-polls 2, --poll-seconds 600)"
    ]


@pytest.mark.parametrize(("budget", "reads"), [(20.0, 3), (20.5, 4), (25.0, 4)])
def test_polling_stops_when_the_time_slept_reaches_poll_seconds(budget: float, reads: int) -> None:
    run = Run(advance=False, poll_interval=10, poll_seconds=budget)
    run.run()
    polls = run.exchanges("getGenerationTask")[2:]
    assert run.sleeps == [10] * (reads - 1)
    assert len(polls) == reads
    assert polls[-1].notes == [
        f"job still 'pending' after {reads} reads: polling stopped (--max-polls 60, "
        f"--poll-seconds {budget:g})"
    ]


def test_a_status_word_in_capitals_still_ends_the_job() -> None:
    def shout(request: httpx.Request, response: httpx.Response) -> httpx.Response | None:
        return changed(response, status="FAILED") if is_poll(request) else None

    run = Run(edit=shout)
    run.run()
    polls = run.exchanges("getGenerationTask")[2:]
    assert len(polls) == 1
    assert polls[0].notes == ["job status: FAILED"]


def test_a_read_that_is_not_200_ends_the_polling() -> None:
    def busy(request: httpx.Request, response: httpx.Response) -> httpx.Response | None:
        return changed(response, 503) if is_poll(request) else None

    run = Run(edit=busy)
    run.run()
    polls = run.exchanges("getGenerationTask")[2:]
    assert len(polls) == 1
    assert polls[0].notes == ["job status: pending"]
    assert run.sleeps == []


def test_a_read_without_a_status_ends_the_polling_quietly() -> None:
    def wordless(request: httpx.Request, response: httpx.Response) -> httpx.Response | None:
        return changed(response, status=None) if is_poll(request) else None

    run = Run(edit=wordless)
    run.run()
    polls = run.exchanges("getGenerationTask")[2:]
    assert len(polls) == 1
    assert polls[0].notes == []
    assert [p.where for p in polls[0].problems] == ["/status"]


# --------------------------------------------------------------------------- the create


def test_a_create_that_failed_follows_no_link() -> None:
    def refuse(request: httpx.Request, response: httpx.Response) -> httpx.Response | None:
        if is_create(request):
            return answer(400, {"error": {"code": "400", "error_message": "bad"}})
        return None

    run = Run(edit=refuse)
    result = run.run()
    (create,) = run.exchanges("createGeneration")
    assert create.notes == ["links not followed: the create did not succeed"]
    assert len(run.exchanges("getGenerationTask")) == 2
    assert result.ok


def test_a_create_refused_for_its_model_is_a_retired_model_not_drift() -> None:
    def retired(request: httpx.Request, response: httpx.Response) -> httpx.Response | None:
        if is_create(request):
            return answer(404, {"error": {"code": "404", "error_message": "Model Not Found"}})
        return None

    run = Run(edit=retired)
    result = run.run()
    (create,) = run.exchanges("createGeneration")
    assert create.problems == []
    assert create.notes == ["the provider answers 'model not found' for sora_2_pro_i2v"]
    assert result.retired_models == ["sora_2_pro_i2v"]
    assert len(run.exchanges("getGenerationTask")) == 2


def test_an_id_missing_from_the_create_is_one_problem_however_many_links_need_it() -> None:
    def no_id(request: httpx.Request, response: httpx.Response) -> httpx.Response | None:
        return changed(response, id=None) if is_create(request) else None

    run = Run("gptge", edit=no_id)
    result = run.run()
    (create,) = run.exchanges("createVideo")
    missing = [p for p in create.problems if "links" in p.message]
    assert [(p.where, p.message) for p in missing] == [
        ("/id", "$response.body#/id (the contract's links) is missing from the answer")
    ]
    assert run.exchanges("getVideoContent") == run.exchanges("getVideoContent")[:1]
    assert result.drift_count >= 2


def test_writes_a_create_links_to_are_never_followed_and_reads_once_after_the_job() -> None:
    video = b"\x00\x00\x00\x18ftypmp42" + bytes(8)

    def quick_file(request: httpx.Request, response: httpx.Response) -> httpx.Response | None:
        if request.url.path.endswith("/content") and response.status_code == 200:
            return answer(200, video, "video/mp4")  # not rendered: the test needs no frames
        return None

    run = Run("gptge", edit=quick_file)
    result = run.run()
    (create,) = run.exchanges("createVideo")
    assert create.notes == [
        "link RemixVideo (POST remixVideo) not followed",
        "link DeleteVideo (DELETE deleteVideo) not followed",
    ]
    content = run.exchanges("getVideoContent")
    assert [x.kind for x in content] == ["probe: unknown id", "link GetVideoContent"]
    assert content[1].excerpt == f"<{len(video)} bytes of video/mp4>"
    assert run.exchanges("getVideo")[-1].notes == ["job status: completed"]
    assert run.exchanges("remixVideo") == run.exchanges("deleteVideo") == []
    assert result.ok


def test_a_file_that_is_not_what_its_type_says_is_drift() -> None:
    def not_a_video(request: httpx.Request, response: httpx.Response) -> httpx.Response | None:
        if request.url.path.endswith("/content") and response.status_code == 200:
            return answer(200, b"<html>oops</html>", "video/mp4")
        return None

    run = Run("gptge", edit=not_a_video)
    run.run()
    read = run.exchanges("getVideoContent")[1]
    assert [(p.where, p.message) for p in read.problems] == [
        ("body", "Content-Type is video/mp4 but the body is not an MP4 (no ftyp box)")
    ]


def test_a_link_parameter_that_is_a_constant_or_unsupported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = Run()
    target = run.verifier.contract.operations["getGenerationTask"]
    links = [
        ("Fixed", target, {"task_id": "task-fixed"}),
        ("Asked", target, {"path.task_id": "$request.path.id"}),
    ]
    monkeypatch.setattr(run.verifier.map, "link_targets", lambda op: links)
    run.run()
    (create,) = run.exchanges("createGeneration")
    assert create.notes == ["link Asked: $request.path.id is not supported: not followed"]
    reads = run.exchanges("getGenerationTask")[2:]
    assert [(x.kind, x.url.rsplit("/", 1)[-1]) for x in reads] == [("link Fixed", "task-fixed")]


def test_link_values_outside_the_path_go_in_the_query() -> None:
    run = Run()
    target = run.verifier.contract.operations["getGenerationTask"]
    spec = run.verifier._link_spec(target, {"task_id": "t/1", "expand": "all"}, "link X")
    assert (spec.kind, spec.method, spec.path, spec.query) == (
        "link X",
        "GET",
        "/model/v1/generation/task/t%2F1",
        [("expand", "all")],
    )


def test_a_link_value_is_a_constant_or_a_pointer_into_the_answer() -> None:
    verifier = Run().verifier
    assert verifier._evaluate(7, {}) == (7, "")
    assert verifier._evaluate("plain", {}) == ("plain", "")
    assert verifier._evaluate("$response.body#/data/id", {"data": {"id": "x"}}) == (
        "x",
        "/data/id",
    )
    with pytest.raises(KeyError):
        verifier._evaluate("$response.body#/id", {})
    with pytest.raises(NotImplementedError):
        verifier._evaluate("$response.header.Location", {})


def test_an_example_that_cannot_be_sent_leaves_the_create_unsent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = Run()

    def cannot(op: Any, kind: str = "paid create") -> RequestSpec:
        raise LookupError("createGeneration: cannot send a application/xml example")

    monkeypatch.setattr(run.verifier, "create_spec", cannot)
    run.run()
    assert run.exchanges("createGeneration") == []
    assert run.verifier.result.operations["createGeneration"].not_sent == (
        "not sent: createGeneration: cannot send a application/xml example"
    )


# --------------------------------------------------------------------------- the cap


def test_a_paid_request_past_the_cap_is_not_sent_and_stops_the_run() -> None:
    run = Run()
    run.verifier.creates_sent = 1  # as if the one create allowed had gone out
    result = run.run()
    assert result.notes == ["stopped: POST createGeneration not sent: --max-creates 1 reached"]
    assert [r.method for r in run.transport.requests] == ["GET", "GET"]
    assert run.exchanges("createGeneration") == []


def test_the_cap_counts_only_authenticated_requests_that_are_not_reads() -> None:
    run = Run("gptproto-chat", max_creates=0)
    result = run.run()
    (probe,) = run.exchanges("createChatCompletion")
    assert (probe.kind, probe.authenticated, probe.status) == ("probe: no credentials", False, 401)
    assert result.creates_sent == 0
    verifier = Run("vtrix", max_creates=1).verifier
    with httpx.Client(transport=verifier.transport) as client:
        verifier._client = client
        spec = verifier.create_spec(verifier.create_operations()[0])
        verifier.send(spec)
        assert (verifier.creates_sent, verifier.result.creates_sent) == (1, 1)
        with pytest.raises(CreateCapReached, match="--max-creates 1 reached"):
            verifier.send(spec)
        spec.headers = {"Cookie": "session=1"}
        spec.auth = False
        spec.kind = "probe"
        verifier.send(spec)  # a cookie is not the run's credentials
    assert verifier.creates_sent == 1


# --------------------------------------------------------------------------- streams


def test_a_stream_is_read_event_by_event_with_the_clock_stepped_between() -> None:
    run = Run("gptproto-chat", stream_pause=5.0)
    result = run.run()
    (_, create) = run.exchanges("createChatCompletion")
    # a step between two events, none after the last ([DONE])
    assert create.notes == ["5 events"]
    assert create.problems == []
    assert run.sleeps == [5.0] * 4
    assert result.ok


def test_a_stream_longer_than_poll_seconds_is_cut_and_not_judged_unfinished() -> None:
    run = Run("gptproto-chat", stream_pause=5.0, poll_seconds=5.0)
    result = run.run()
    (_, create) = run.exchanges("createChatCompletion")
    assert create.notes == [
        "stream cut after 5 s (--poll-seconds): not finished",
        "2 events",
    ]
    assert create.problems == []
    assert run.sleeps == [5.0]
    assert result.ok


def test_a_stream_that_ends_without_its_terminator_is_drift() -> None:
    chunk = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1767225600,
        "model": "sora-2",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi"}}],
    }
    stream = b": keep-alive\n\ndata: " + json.dumps(chunk).encode() + b"\n\n"

    def cut(request: httpx.Request) -> httpx.Response | None:
        if is_create(request) and "Authorization" in request.headers:
            return answer(200, stream, "text/event-stream")
        return None

    run = Run("gptproto-chat", instead=cut)
    run.run()
    (_, create) = run.exchanges("createChatCompletion")
    assert create.notes == ["1 events"]
    assert [(p.where, p.message) for p in create.problems] == [
        ("stream end", "the stream ended without `data: [DONE]`")
    ]
    assert create.excerpt == stream.decode().strip()  # the stream as it came, block by block


# --------------------------------------------------------------------------- each answer


def test_a_probe_that_gets_another_status_than_the_contract_says_is_drift() -> None:
    def open_door(request: httpx.Request, response: httpx.Response) -> httpx.Response | None:
        if "Authorization" not in request.headers:
            return answer(404, {"error": {"code": "404", "error_message": "no"}})
        return None

    run = Run(edit=open_door)
    run.run()
    probe = run.exchanges("getGenerationTask")[0]
    assert [(p.where, p.message) for p in probe.problems] == [
        ("status code", "expected 401 (contract), got 404")
    ]
    assert probe.notes == []
    assert "  [probe: no credentials] GET" in run.lines[1]
    assert run.lines[1].endswith("-> 404 DRIFT (1)")
    assert run.lines[2] == "      status code: expected 401 (contract), got 404"


def test_an_id_that_cannot_exist_answered_with_a_2xx_is_drift() -> None:
    def found(request: httpx.Request, response: httpx.Response) -> httpx.Response | None:
        if UNKNOWN_ID in str(request.url) and "Authorization" in request.headers:
            return answer(
                200,
                {"id": UNKNOWN_ID, "model": "m", "status": "pending", "created_at": 1},
            )
        return None

    run = Run(edit=found)
    run.run()
    unknown = run.exchanges("getGenerationTask")[1]
    assert ("status code", "answered 200 for an id that cannot exist") in [
        (p.where, p.message) for p in unknown.problems
    ]


@pytest.mark.parametrize("status", [429, 503])
def test_a_transient_answer_to_a_probe_is_inconclusive_not_drift(status: int) -> None:
    def busy(request: httpx.Request, response: httpx.Response) -> httpx.Response | None:
        if UNKNOWN_ID in str(request.url):
            return answer(status, {"error": {"code": str(status), "error_message": "busy"}})
        return None

    run = Run(edit=busy)
    run.run()
    probe, unknown = run.exchanges("getGenerationTask")[:2]
    for exchange in (probe, unknown):
        assert exchange.notes == [f"{status} is transient: the probe is inconclusive"]
        assert not [p for p in exchange.problems if p.where == "status code"]
    polls = run.exchanges("getGenerationTask")[2:]
    assert all(not any("transient" in n for n in x.notes) for x in polls)


def test_the_excerpt_of_an_answer_is_redacted_and_cut() -> None:
    verifier = Run().verifier
    assert verifier._excerpt(b'{"k": 1}', "application/json", {"api_key": KEY}) == (
        '{"api_key": "[REDACTED]"}'
    )
    assert verifier._excerpt(f"say {KEY}".encode(), "text/plain", None) == "say [REDACTED]"
    assert verifier._excerpt(b"\xff oops", "application/json", None) == "\ufffd oops"
    assert verifier._excerpt(b"", "image/png", None) == ""
    assert verifier._excerpt(b"abc", "image/png", None) == "<3 bytes of image/png>"
    assert verifier._excerpt(b"abc", "", None) == "<3 bytes of unknown type>"
    assert verifier._excerpt(b"x" * 500, "text/plain", None) == "x" * 400 + "... (500 characters)"
    assert verifier._excerpt(b"", "", {"é": "ü"}) == '{"é": "ü"}'


def test_the_console_line_of_each_kind_of_answer() -> None:
    verifier = Run().verifier
    long = "http://127.0.0.1:9/" + "a" * 120
    verifier._echo(Exchange("k", "GET", long, status=200))
    verifier._echo(Exchange("k", "GET", "u", error="ConnectError: refused"))
    verifier._echo(Exchange("k", "GET", "u", status=401, authenticated=True))
    verifier._echo(Exchange("k", "GET", "u", status=403, authenticated=True))
    verifier._echo(Exchange("k", "GET", "u", status=401))
    verifier._echo(Exchange("k", "GET", "u", status=400, authenticated=True))
    assert (
        verifier.out.getvalue().splitlines()
        == [  # type: ignore[attr-defined]
            f"  [k] GET {long[:117]}... -> 200 ok",
            "  [k] GET u -> - ERROR ConnectError: refused",
            "  [k] GET u -> 401 refused the credentials",
            "  [k] GET u -> 403 refused the credentials",
            "  [k] GET u -> 401 ok",
            "  [k] GET u -> 400 ok",
        ]
    )
    verifier.out = io.StringIO()
    verifier._echo(Exchange("k", "GET", "x" * 120, status=200))
    verifier._echo(Exchange("k", "GET", "y" * 121, status=200))
    assert verifier.out.getvalue() == (
        f"  [k] GET {'x' * 120} -> 200 ok\n  [k] GET {'y' * 117}... -> 200 ok\n"
    )


# --------------------------------------------------------------------------- not verified


def test_a_provider_that_answers_nothing_gets_nothing_paid() -> None:
    refusals: list[str] = []

    def down(request: httpx.Request) -> httpx.Response | None:
        refusals.append("connection refused" if not refusals else "connection reset")
        raise httpx.ConnectError(refusals[-1], request=request)

    run = Run(instead=down)
    result = run.run()
    assert [r.method for r in run.transport.requests] == ["GET", "GET"]
    assert result.notes == ["no free probe got an answer: no create and no generated case was sent"]
    assert result.operations["createGeneration"].not_sent == (
        "not sent: the provider did not answer the free probes"
    )
    (blocker,) = result.blockers
    assert (blocker.kind, blocker.reason) == (
        "unreachable",
        f"cannot reach {BASE}/vtrix: no answer to any of 2 request(s) (ConnectError: "
        "connection refused)",
    )
    probe, unknown = run.exchanges("getGenerationTask")
    assert probe.error == "ConnectError: connection refused"
    assert unknown.error == "ConnectError: connection reset"
    assert 0 <= probe.seconds < 30
    assert run.verifier._client is None  # the run's client is closed and let go
    assert run.lines[1].endswith("-> - ERROR ConnectError: connection refused")


def test_requests_left_unanswered_are_counted_by_operation() -> None:
    def flaky(request: httpx.Request, response: httpx.Response) -> httpx.Response | None:
        if is_poll(request):
            raise httpx.ReadTimeout("timed out", request=request)
        return None

    run = Run(edit=flaky)
    result = run.run()
    (blocker,) = result.blockers
    assert (blocker.kind, blocker.reason) == (
        "no-answer",
        "1 of 4 request(s) got no answer (getGenerationTask; first: ReadTimeout: timed out)",
    )


def test_rejected_credentials_stop_the_run_after_the_free_probes() -> None:
    def rejected(request: httpx.Request, response: httpx.Response) -> httpx.Response | None:
        if "Authorization" in request.headers:
            return answer(403, {"error": {"code": "403", "error_message": f"bad key {KEY}"}})
        return None

    run = Run(edit=rejected)
    result = run.run()
    assert [r.method for r in run.transport.requests] == ["GET", "GET"]
    assert result.notes == [
        "the free probes' credentials were rejected: no create and no generated case was sent"
    ]
    assert result.operations["createGeneration"].not_sent == (
        "not sent: the provider rejected the credentials"
    )
    (blocker,) = result.blockers
    assert blocker.kind == "credentials"
    assert blocker.reason == (
        "the provider rejected the credentials: it answered 403 to every request sent with "
        "them (1 sent; check VTRIX_API_KEY); it said: 'bad key [REDACTED]'"
    )
    probe, unknown = run.exchanges("getGenerationTask")
    assert probe.unverified is None
    assert unknown.unverified == "403: the credentials were rejected"
    assert KEY not in run.out.getvalue()


def test_every_status_that_refused_the_credentials_is_named() -> None:
    def rejected(request: httpx.Request, response: httpx.Response) -> httpx.Response | None:
        if "Authorization" in request.headers:
            status = 403 if is_create(request) else 401
            return answer(status, b"<html>no</html>", "text/html")
        return None

    run = Run(edit=rejected)
    # the probes pass the first check only if one authenticated answer is not a refusal
    run.verifier.probe_specs = lambda: []  # type: ignore[method-assign]
    result = run.run()
    (blocker,) = result.blockers
    assert blocker.reason == (
        "the provider rejected the credentials: it answered 403 to every request sent with "
        "them (1 sent; check VTRIX_API_KEY); it said: <html>no</html>"
    )


def test_a_run_that_sent_nothing_checked_nothing() -> None:
    run = Run(max_creates=0)
    run.verifier.probe_specs = lambda: []  # type: ignore[method-assign]
    result = run.run()
    assert [(b.kind, b.reason) for b in result.blockers] == [
        ("nothing-checked", "no check ran: nothing was sent")
    ]


def test_generated_cases_that_cannot_run_stop_the_run_before_anything_is_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = Run(generated=2)
    monkeypatch.setattr(run.verifier, "generation_missing", lambda: "schemathesis is missing")
    result = run.run()
    assert run.transport.requests == []
    assert [(b.kind, b.reason) for b in result.blockers] == [
        ("missing-dependency", "schemathesis is missing")
    ]
    assert {o.not_sent for o in result.operations.values()} == {
        "not sent: the run stopped before sending anything (--generated)"
    }


def test_a_reason_already_given_is_kept() -> None:
    run = Run(max_creates=0, generated=2)
    run.verifier.generation_missing = lambda: "missing"  # type: ignore[method-assign]
    result = run.run()
    assert result.operations["createGeneration"].not_sent == (
        "not sent: --max-creates 0 (a create costs money)"
    )


def test_generated_cases_are_sent_after_the_create() -> None:
    run = Run(generated=1, max_creates=0)
    run.run()
    generated = [x for x in run.exchanges("getGenerationTask") if x.kind == "generated"]
    assert len(generated) == 1
    assert generated[0].url.startswith(f"{BASE}/vtrix/model/v1/generation/task/")
    # judged against the operation whatever the drawn id: the mock's 404 is what it allows
    assert generated[0].problems == []


# --------------------------------------------------------------------------- helpers


def test_credentials_are_rejected_only_when_every_authenticated_answer_refused_them() -> None:
    def x(status: int | None, auth: bool = True) -> Exchange:
        return Exchange("k", "GET", "u", status=status, authenticated=auth)

    assert _rejected([x(401), x(403), x(None), x(200, auth=False)])
    assert not _rejected([x(401), x(200)])
    assert not _rejected([x(None), x(401, auth=False)])
    assert not _rejected([])


def test_the_message_of_a_refusal_in_each_providers_words() -> None:
    assert _message('{"error": {"message": "bad key"}}') == "'bad key'"
    assert _message('{"error": {"message": " ", "error_message": "vtrix says"}}') == "'vtrix says'"
    assert _message('{"msg": "short"}') == "'short'"
    assert _message('{"detail": "d", "msg": 3}') == "'d'"
    assert _message('{"error": "plain"}') == '{"error": "plain"}'
    assert _message("[1, 2]") == "[1, 2]"
    assert _message("not json " + "y" * 200) == "not json " + "y" * 151 + "... (209 characters)"
    cut = _message('{"message": "' + "m" * 200 + '"}')
    assert cut == repr("m" * 200)[:160] + "... (202 characters)"
    long = '{"x": "' + "q" * 300 + '"}'
    assert _message(long) == long[:160] + f"... ({len(long)} characters)"


def spec_with(body: Any = None, form: Any = None) -> RequestSpec:
    run = Run()
    op = run.verifier.contract.operations["createGeneration"]
    return RequestSpec("paid create", op, "POST", "/x", json_body=body, multipart=form)


def test_a_retired_model_is_named_from_the_request() -> None:
    gone = Exchange("k", "POST", "u", status=503)
    relay = {"error": {"code": "model_not_found", "message": "No channel"}}
    assert retired_model(spec_with({"model": "sora-2"}), gone, relay) == "sora-2"
    said = {"error": {"message": "Model not found: sora-2"}}
    assert retired_model(spec_with({"model": "sora-2"}), gone, said) == "sora-2"
    worded = {"error": {"code": "x", "error_message": "The model not found here"}}
    assert retired_model(spec_with({"model": "sora-2"}), gone, worded) == "sora-2"
    form = {"model": (None, "sora-2-pro", None)}
    assert retired_model(spec_with(form=form), gone, {"code": "MODEL_NOT_FOUND"}) == "sora-2-pro"
    assert retired_model(spec_with(["list"]), gone, relay) == "the requested model"


@pytest.mark.parametrize(
    ("status", "document"),
    [
        (None, {"error": {"code": "model_not_found"}}),
        (399, {"error": {"code": "model_not_found"}}),
        (404, ["model not found"]),
        (404, {"error": "model not found"}),
        (404, {"error": {"code": "not_found", "message": "task not found"}}),
    ],
)
def test_other_refusals_are_not_a_retired_model(status: int | None, document: Any) -> None:
    exchange = Exchange("k", "POST", "u", status=status)
    assert retired_model(spec_with({"model": "sora-2"}), exchange, document) is None


def test_a_refusal_at_400_can_name_a_retired_model() -> None:
    exchange = Exchange("k", "POST", "u", status=400)
    document = {"error": {"code": "model_not_found"}}
    assert retired_model(spec_with({"model": "m"}), exchange, document) == "m"


# --------------------------------------------------------------------------- dry run


def dry(provider: str, **kwargs: Any) -> list[str]:
    run = Run(provider, **kwargs)
    run.verifier.dry_run()
    assert run.transport.requests == []
    return run.lines


def test_the_dry_run_of_a_videos_api() -> None:
    base = f"{BASE}/gptge/v1/videos"
    unknown = f"{base}/{UNKNOWN_ID}"
    lines = dry("gptge", poll_interval=2.5, max_polls=7, poll_seconds=90)
    assert lines[:5] == [
        f"sora-mock verify gptge: DRY RUN against {BASE}/gptge (contract gptge-videos); nothing "
        "is sent",
        f"  1. [probe: no credentials] GET {unknown} [no Authorization] (expect 401)",
        f"  2. [probe: unknown id] GET {unknown} [Authorization: [REDACTED]] (expect an error "
        "the contract allows)",
        f"  3. [probe: unknown id] GET {unknown}/content [Authorization: [REDACTED]] (expect an "
        "error the contract allows)",
        f"  4. [probe: list] GET {base} [Authorization: [REDACTED]]",
    ]
    assert lines[5].startswith(
        f"  5. [paid create] POST {base} multipart {{prompt='A fierce tiger bursts into a "
    )
    assert lines[5].endswith(
        "..., model='sora-2', seconds='4', size='720x1280', input_reference=<image/png file "
        "reference-720x1280.png, 6869 bytes>} [Authorization: [REDACTED]]"
    )
    assert lines[6:] == [
        f"  6. [link GetVideo] GET {BASE}/gptge/v1/videos/{{video_id}} "
        "(video_id=$response.body#/id), polled every 2.5 s until the job ends, at most 7 times "
        "or 90 s",
        f"  7. [link GetVideoContent] GET {BASE}/gptge/v1/videos/{{video_id}}/content "
        "(video_id=$response.body#/id) once the job ends",
        "     [link RemixVideo] not followed: POST /v1/videos/{video_id}/remix",
        "     [link DeleteVideo] not followed: DELETE /v1/videos/{video_id}",
        "     deleteVideo: not sent: it deletes data (verify only reads and creates)",
        "     remixVideo: not sent: POST on an existing job would cost money or change it",
        "7 requests planned, at most 1 of them paid; nothing was sent (dry run)",
    ]


def test_the_dry_run_of_a_stream_with_json_bodies_shown_redacted() -> None:
    lines = dry("gptproto-chat", poll_seconds=45)
    url = f"{BASE}/gptproto/v1/chat/completions"
    body = (
        'json {model=\'sora-2\', messages=\'[{"role": "user", "content": [{"type": '
        '"text", "text": "vide\'..., stream=\'true\'}'
    )
    assert lines[1:] == [
        f"  1. [probe: no credentials] POST {url} {body} [no Authorization] (expect 401)",
        f"  2. [paid create] POST {url} {body} [Authorization: [REDACTED]]",
        "       a streamed answer is read event by event, at most 45 s, each event checked "
        "against the contract",
        "2 requests planned, at most 1 of them paid; nothing was sent (dry run)",
    ]


def test_the_dry_run_without_creates_and_with_generated_reads() -> None:
    lines = dry("vtrix", max_creates=0, generated=1)
    assert lines[-3].startswith(f"  3. [generated] GET {BASE}/vtrix/model/v1/generation/task/")
    assert lines[-3].endswith(" [Authorization: [REDACTED]]")
    assert lines[-2:] == [
        "     createGeneration: not sent: --max-creates 0 (a create costs money)",
        "3 requests planned, at most 0 of them paid; nothing was sent (dry run)",
    ]


def test_a_dry_run_says_when_generated_reads_cannot_run(monkeypatch: pytest.MonkeyPatch) -> None:
    run = Run("vtrix", generated=3)
    monkeypatch.setattr(run.verifier, "generation_missing", lambda: "needs schemathesis")
    run.verifier.dry_run()
    assert "     generated read cases: cannot run: needs schemathesis" in run.lines
    assert [(b.kind, b.reason) for b in run.verifier.result.blockers] == [
        ("missing-dependency", "needs schemathesis")
    ]


def test_a_request_is_described_with_its_query_and_secret_fields_masked() -> None:
    verifier = Run("vtrix").verifier
    op = verifier.contract.operations["getGenerationTask"]
    spec = RequestSpec("generated", op, "GET", "/t/1", query=[("a", "1"), ("b", "x y")])
    assert verifier.describe(spec) == (
        f"[generated] GET {BASE}/vtrix/t/1?a=1&b=x+y [Authorization: [REDACTED]]"
    )
    form = {
        "token": (None, KEY, None),
        "prompt": (None, "hi", None),
        "image": ("a.png", b"1234", "image/png"),
    }
    spec = RequestSpec("c", op, "POST", "/x", auth=False, multipart=form, expect_status=401)
    assert verifier.describe(spec) == (
        f"[c] POST {BASE}/vtrix/x multipart {{token='[REDACTED]', prompt='hi', "
        "image=<image/png file a.png, 4 bytes>} [no Authorization] (expect 401)"
    )
    spec = RequestSpec("c", op, "POST", "/x", json_body={"api_key": KEY, "n": 1})
    assert verifier.describe(spec) == (
        f"[c] POST {BASE}/vtrix/x json {{api_key='[REDACTED]', n='1'}} [Authorization: [REDACTED]]"
    )


def test_a_status_nested_beside_the_id_is_polled_until_the_job_ends() -> None:
    run = Run("gptproto-v3")
    result = run.run()
    reads = run.exchanges("getPredictionResult")[2:]
    assert [x.notes for x in reads] == [[]] * len(run.sleeps) + [["job status: completed"]]
    assert run.sleeps == [10.0] * len(run.sleeps) and run.sleeps
    assert result.ok


def test_the_run_records_where_it_went_and_when_without_the_key() -> None:
    verifier = Verifier("vtrix", f"http://user:{KEY}@127.0.0.1:9/vtrix/", KEY, generated=0)
    assert verifier.base_url == f"http://user:{KEY}@127.0.0.1:9/vtrix"
    assert verifier.strip_prefix == "/vtrix"
    result = verifier.result
    assert KEY not in result.base_url
    assert result.base_url.endswith("@127.0.0.1:9/vtrix")
    assert (result.provider, result.contract.name, result.max_creates) == (
        "vtrix",
        "vtrix-generation",
        1,
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", result.started)
    assert list(result.operations) == ["createGeneration", "getGenerationTask"]
    assert result.operations["getGenerationTask"].operation.path == (
        "/model/v1/generation/task/{task_id}"
    )


def test_a_base_url_with_a_trailing_slash_verifies_as_without(tmp_path: Any) -> None:
    run = Run()
    run.verifier = Verifier(
        "vtrix",
        f"{BASE}/vtrix/",
        KEY,
        generated=0,
        sleep=run.mock.advance,
        out=run.out,
        transport=run.transport,
    )
    result = run.run()
    assert result.ok
    assert all("//model" not in str(r.url) for r in run.transport.requests)


def test_an_event_the_contract_does_not_allow_is_drift_of_that_event() -> None:
    bad = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "choices": []}

    def odd(request: httpx.Request) -> httpx.Response | None:
        if is_create(request) and "Authorization" in request.headers:
            body = b"data: " + json.dumps(bad).encode() + b"\n\ndata: [DONE]\n\n"
            return answer(200, body, "text/event-stream; charset=utf-8")
        return None

    run = Run("gptproto-chat", instead=odd)
    result = run.run()
    (_, create) = run.exchanges("createChatCompletion")
    assert create.notes == ["2 events"]
    assert [p.where.startswith("SSE event 1") for p in create.problems] == [True]
    assert "'model' is a required property" in create.problems[0].message
    assert result.drift_count == 1
    assert create.content_type == "text/event-stream; charset=utf-8"


def test_the_console_is_redacted_and_sleeps_go_to_the_given_sleep() -> None:
    run = Run()
    run.verifier.say(f"key {KEY}")
    run.verifier.sleep(1.5)
    assert run.lines == ["key [REDACTED]"]
    assert run.sleeps == [1.5]


def test_a_create_answered_with_a_3xx_follows_no_link() -> None:
    def moved(request: httpx.Request, response: httpx.Response) -> httpx.Response | None:
        return changed(response, 300) if is_create(request) else None

    run = Run(edit=moved)
    run.run()
    (create,) = run.exchanges("createGeneration")
    assert create.notes == ["links not followed: the create did not succeed"]
    assert len(run.exchanges("getGenerationTask")) == 2


def test_an_unknown_id_answered_with_a_3xx_is_not_taken_for_found() -> None:
    def moved(request: httpx.Request, response: httpx.Response) -> httpx.Response | None:
        if UNKNOWN_ID in str(request.url) and "Authorization" in request.headers:
            return changed(response, 300)
        return None

    run = Run(edit=moved)
    run.run()
    unknown = run.exchanges("getGenerationTask")[1]
    assert unknown.status == 300
    assert "answered 300 for an id that cannot exist" not in [p.message for p in unknown.problems]


def test_a_long_value_cut_from_a_problem_is_shown_after_it() -> None:
    reads = []

    def long_word(request: httpx.Request, response: httpx.Response) -> httpx.Response | None:
        if is_poll(request):
            reads.append(request)
            if len(reads) == 1:
                return changed(response, status="z" * 300)
        return None

    run = Run(edit=long_word)
    run.run()
    first = run.exchanges("getGenerationTask")[2]
    (problem,) = first.problems
    assert problem.where == "/status"
    assert problem.message.endswith('(value: "' + "z" * 79 + "...)")


def test_links_of_the_test_own_are_followed_by_their_parameter_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = Run()
    target = run.verifier.contract.operations["getGenerationTask"]
    links = [
        ("Odd", target, {"task_id": "$response.body#/odd#key"}),
        ("GetTask", target, {"path.task_id": "$response.body#/id"}),
    ]
    monkeypatch.setattr(run.verifier.map, "link_targets", lambda op: links)
    result = run.run()
    (create,) = run.exchanges("createGeneration")
    assert [(p.where, p.message) for p in create.problems] == [
        ("/odd#key", "$response.body#/odd#key (the contract's links) is missing from the answer")
    ]
    # the status link (the first read) could not be resolved: the other read goes once
    (read,) = run.exchanges("getGenerationTask")[2:]
    assert read.kind == "link GetTask"
    assert re.search(r"/task/video_[0-9a-f]{32}$", read.url), read.url
    assert result.drift_count == 1


def test_a_status_link_with_a_constant_id_polls_the_status_at_the_top(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[str] = []

    def fixed(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/task/task-fixed"):
            seen.append("read")
            word = "pending" if len(seen) == 1 else "completed"
            return answer(
                200,
                {"id": "task-fixed", "model": "m", "status": word, "created_at": 1767225600},
            )
        return None

    run = Run(instead=fixed)
    target = run.verifier.contract.operations["getGenerationTask"]
    monkeypatch.setattr(
        run.verifier.map, "link_targets", lambda op: [("Fixed", target, {"task_id": "task-fixed"})]
    )
    run.run()
    assert seen == ["read", "read"]
    assert run.exchanges("getGenerationTask")[-1].notes == ["job status: completed"]


def test_a_status_link_without_parameters_is_polled_at_the_top_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[str] = []

    def bare(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/task/"):  # no parameter: nothing filled in
            seen.append("read")
            word = "pending" if len(seen) == 1 else "completed"
            return answer(200, {"id": "t", "model": "m", "status": word, "created_at": 1})
        return None

    run = Run(instead=bare)
    target = run.verifier.contract.operations["getGenerationTask"]
    monkeypatch.setattr(run.verifier.map, "link_targets", lambda op: [("Bare", target, {})])
    run.run()
    assert seen == ["read", "read"]


def test_requests_left_unanswered_name_every_operation_concerned() -> None:
    def flaky(request: httpx.Request) -> httpx.Response | None:
        if (
            is_create(request)
            or UNKNOWN_ID in str(request.url)
            and "Authorization" in (request.headers)
        ):
            raise httpx.ReadTimeout("timed out", request=request)
        return None

    run = Run(instead=flaky)
    result = run.run()
    (blocker,) = result.blockers
    assert blocker.reason == (
        "2 of 3 request(s) got no answer (createGeneration, getGenerationTask; first: "
        "ReadTimeout: timed out)"
    )


def test_every_refusing_status_is_named_and_a_silent_refusal_quotes_nothing() -> None:
    def refuse(request: httpx.Request) -> httpx.Response | None:
        if "Authorization" not in request.headers:
            return None
        return httpx.Response(401 if UNKNOWN_ID in str(request.url) else 403)

    run = Run("gptge", instead=refuse)
    result = run.run()
    (blocker,) = result.blockers
    assert blocker.reason == (
        "the provider rejected the credentials: it answered 401/403 to every request sent "
        "with them (3 sent; check GPTGE_API_KEY)"
    )


def test_an_answer_without_a_content_type_is_bytes_of_unknown_type() -> None:
    def bare(request: httpx.Request) -> httpx.Response | None:
        if UNKNOWN_ID in str(request.url) and "Authorization" in request.headers:
            return httpx.Response(404, content=b"\x00\x01\x02")
        return None

    run = Run(instead=bare)
    run.run()
    unknown = run.exchanges("getGenerationTask")[1]
    assert (unknown.content_type, unknown.excerpt) == ("", "<3 bytes of unknown type>")
    assert 0 <= unknown.seconds < 30


def test_the_excerpt_of_a_json_answer_is_the_document_as_read() -> None:
    run = Run()
    run.run()
    probe = run.exchanges("getGenerationTask")[0]
    assert probe.excerpt == (
        '{"error": {"code": "401", "error_message": "Invalid signature: API key is missing or '
        'malformed"}}'
    )


def test_each_paid_request_is_counted_up_to_the_cap() -> None:
    verifier = Run("vtrix", max_creates=2).verifier
    with httpx.Client(transport=verifier.transport) as client:
        verifier._client = client
        spec = verifier.create_spec(verifier.create_operations()[0])
        verifier.send(spec)
        verifier.send(spec)
        assert (verifier.creates_sent, verifier.result.creates_sent) == (2, 2)
        with pytest.raises(CreateCapReached, match="--max-creates 2 reached"):
            verifier.send(spec)


@pytest.mark.parametrize(("budget", "events"), [(5.5, 3), (12.0, 4)])
def test_a_stream_is_cut_once_the_pauses_reach_poll_seconds(budget: float, events: int) -> None:
    run = Run("gptproto-chat", stream_pause=5.0, poll_seconds=budget)
    run.run()
    (_, create) = run.exchanges("createChatCompletion")
    assert create.notes == [
        f"stream cut after {budget:g} s (--poll-seconds): not finished",
        f"{events} events",
    ]
    assert run.sleeps == [5.0] * (events - 1)


def test_a_short_stream_pause_still_steps_the_clock() -> None:
    run = Run("gptproto-chat", stream_pause=0.5)
    with run.mock.stepping(0.5):
        run.run()
    assert run.sleeps and set(run.sleeps) == {0.5}


def test_a_dry_run_names_every_parameter_of_a_link(monkeypatch: pytest.MonkeyPatch) -> None:
    run = Run("vtrix")
    target = run.verifier.contract.operations["getGenerationTask"]
    params = {"task_id": "$response.body#/id", "query.expand": "all"}
    monkeypatch.setattr(run.verifier.map, "link_targets", lambda op: [("Two", target, params)])
    run.verifier.dry_run()
    assert any(
        "[link Two] GET " in line and "(task_id=$response.body#/id, query.expand=all)" in line
        for line in run.lines
    ), run.lines


def test_a_request_carries_its_query_whatever_its_body() -> None:
    verifier = Run("vtrix").verifier
    op = verifier.contract.operations["createGeneration"]
    with httpx.Client() as client:
        verifier._client = client
        form = RequestSpec(
            "c", op, "POST", "/x", query=[("a", "1")], multipart={"p": (None, "v", None)}
        )
        sent = verifier._build(form)
        assert str(sent.url) == f"{BASE}/vtrix/x?a=1"
        assert sent.headers["Content-Type"].startswith("multipart/form-data")
        body = RequestSpec("c", op, "POST", "/x", query=[("b", "2")], json_body={"k": 1})
        sent = verifier._build(body)
        assert str(sent.url) == f"{BASE}/vtrix/x?b=2"
        assert json.loads(sent.read()) == {"k": 1}
        bare = verifier._build(RequestSpec("c", op, "GET", "/y"))
        assert str(bare.url) == f"{BASE}/vtrix/y"
        assert bare.headers["User-Agent"] == USER_AGENT
        assert bare.headers["Authorization"] == f"Bearer {KEY}"


def test_the_verifiers_defaults_are_the_commands() -> None:
    import argparse

    from mockserver.conformance import verify_command

    parser = argparse.ArgumentParser()
    verify_command.add_parser(parser.add_subparsers())
    args = parser.parse_args(["verify", "--provider", "vtrix"])
    verifier = Verifier("vtrix", BASE, KEY)
    assert (
        verifier.max_creates,
        verifier.timeout,
        verifier.poll_seconds,
        verifier.poll_interval,
        verifier.max_polls,
        verifier.generated,
    ) == (
        args.max_creates,
        args.timeout,
        args.poll_seconds,
        args.poll_interval,
        args.max_polls,
        args.generated,
    )
    assert verifier.stream_pause == 0.0  # events are read as they come
    assert verifier.image_url is None


def test_a_base_url_ending_in_a_letter_x_is_kept_whole() -> None:
    verifier = Verifier("vtrix", "http://127.0.0.1:9/BOX/", KEY, generated=0)
    assert verifier.base_url == "http://127.0.0.1:9/BOX"
    assert verifier.strip_prefix == "/BOX"


def test_the_start_of_a_run_is_in_utc_whatever_the_local_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time
    from datetime import UTC, datetime, timedelta

    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        started = Verifier("vtrix", BASE, KEY, generated=0).result.started
    finally:
        monkeypatch.undo()
        time.tzset()
    when = datetime.strptime(started, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - when) < timedelta(minutes=5)
