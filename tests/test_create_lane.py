"""The lane (mockserver.http.lane) serves a create exactly as Flask's path would.

tests/test_lane.py holds polls to the same: here each example sends one create through the
lane and the same one around it (``lane.inner``: the edge and Flask), and compares what a
client or a user sees (status, headers but the request id, body bytes, the journal entry with
its capture of the request, the console line) once the new job's id is read as one name: two
creates make two jobs, everything else about them is the same (the clock does not move
between them; scenario rules are given two uses, one for each path).
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from providers import data_url, png
from test_lane import KEYS, RULE, Both
from werkzeug.test import Client, EnvironBuilder

from mockserver.http.app import service_of
from mockserver.settings.config import Timings

#: every operation that creates a job and answers JSON: the lane takes them all
CREATES = {
    ("gptproto", "createSora2ImageToVideo"),
    ("gptproto", "createVideo"),
    ("gptproto", "remixVideo"),
    ("gptge", "createVideo"),
    ("gptge", "remixVideo"),
    ("vtrix", "createGeneration"),
    ("openrouter", "createVideos"),
}
BOUNDARY = "lane-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def multipart(fields: dict[str, bytes], image: bytes | None, name: str = "cat.png") -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'.encode() + v
        for k, v in fields.items()
    ]
    if image is not None:
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="input_reference"; '
            f'filename="{name}"\r\nContent-Type: image/png\r\n\r\n'.encode()
            + image
        )
    return b"\r\n".join(parts) + f"\r\n--{BOUNDARY}--\r\n".encode()


def _form(**changed: bytes) -> dict[str, bytes]:
    return {"prompt": b"a hat", "model": b"sora-2-pro", "seconds": b"8", "size": b"1792x1024"} | (
        changed
    )


WIDE = png(1792, 1024)
VTRIX = {"model": "sora_2_pro_i2v", "prompt": "stairs", "size": "1280x720", "seconds": "4"}
V3 = {"prompt": "smile", "images": [data_url(png(720, 1280))], "size": "small", "duration": 10}
V3 |= {"model": "sora-2"}
ROUTER = {"model": "openai/sora-2-pro", "prompt": "a lighthouse", "duration": 4, "size": "720x1280"}
JSON = "application/json"
#: (path, content type, body): good creates of each kind, and each way a create is refused
CASES: dict[str, tuple[str, str, bytes]] = {
    "gptge multipart": ("/gptge/v1/videos", MULTIPART, multipart(_form(), WIDE)),
    "gptge multipart, no image": ("/gptge/v1/videos", MULTIPART, multipart(_form(), None)),
    "gptge multipart, wrong seconds": (
        "/gptge/v1/videos",
        MULTIPART,
        multipart(_form(seconds=b"7"), WIDE),
    ),
    "gptge multipart, image of another size": (
        "/gptge/v1/videos",
        MULTIPART,
        multipart(_form(), png(64, 64)),
    ),
    "gptge multipart, unknown model": (
        "/gptge/v1/videos",
        MULTIPART,
        multipart(_form(model=b"sora-9"), None),
    ),
    "gptge multipart, field not UTF-8 (the edge)": (
        "/gptge/v1/videos",
        MULTIPART,
        multipart(_form(prompt=b"\xff\xfe"), None),
    ),
    "gptge multipart, a field over Flask's form limit (413 raised)": (
        "/gptge/v1/videos",
        MULTIPART,
        multipart(_form(prompt=b"x" * (1024 * 1024 + 1)), None),
    ),
    "gptge multipart, a field over Werkzeug's default form limit, under Flask's": (
        "/gptge/v1/videos",
        MULTIPART,
        multipart(_form(prompt=b"x" * 600_000), None),
    ),
    "gptge multipart, more parts than Flask's limit (413 raised)": (
        "/gptge/v1/videos",
        MULTIPART,
        multipart(_form(**{f"extra{i}": b"x" for i in range(120)}), None),
    ),
    "gptge multipart, body over the body limit (413 at the edge)": (
        "/gptge/v1/videos",
        MULTIPART,
        multipart(_form(prompt=b"x" * (2 * 1024 * 1024)), None),
    ),
    "gptge multipart, malformed": ("/gptge/v1/videos", MULTIPART, b"--nothing here"),
    "gptge JSON where multipart is declared (415)": ("/gptge/v1/videos", JSON, b"{}"),
    "gptge text": ("/gptge/v1/videos", "text/plain", b"hello"),
    "gptge empty body": ("/gptge/v1/videos", MULTIPART, b""),
    "gptproto multipart": ("/gptproto/v1/videos", MULTIPART, multipart(_form(), WIDE)),
    "gptproto v3 JSON": (
        "/gptproto/api/v3/openai/reverse/sora-2/image-to-video",
        JSON,
        json.dumps(V3).encode(),
    ),
    "vtrix JSON": ("/vtrix/model/v1/generation", JSON, json.dumps(VTRIX).encode()),
    "vtrix JSON, NaN (the edge)": ("/vtrix/model/v1/generation", JSON, b'{"model": NaN}'),
    "vtrix JSON, too deep (the edge)": (
        "/vtrix/model/v1/generation",
        JSON,
        b"[" * 100 + b"]" * 100,
    ),
    "vtrix JSON, over the JSON limit (413 at the edge)": (
        "/vtrix/model/v1/generation",
        JSON,
        json.dumps(VTRIX | {"prompt": "x" * 300_000}).encode(),
    ),
    "vtrix JSON, malformed": ("/vtrix/model/v1/generation", JSON, b'{"model":'),
    "vtrix JSON, not an object": ("/vtrix/model/v1/generation", JSON, b"[1, 2]"),
    "openrouter JSON": ("/openrouter/api/v1/videos", JSON, json.dumps(ROUTER).encode()),
    "openrouter JSON, callback refused": (
        "/openrouter/api/v1/videos",
        JSON,
        json.dumps(ROUTER | {"callback_url": "https://example.com/hook"}).encode(),
    ),
    "gptge remix": ("/gptge/v1/videos/{done}/remix", JSON, b'{"prompt": "again"}'),
    "gptge remix, unknown video": (
        "/gptge/v1/videos/video_0123456789abcdef/remix",
        JSON,
        b'{"prompt": "again"}',
    ),
}
SCENARIO = st.sampled_from(
    [
        None,
        "server_error",
        "rate_limited",
        "content_policy",
        "model_unavailable",
        "nonsense",
        "unauthorized",
        "generation_failed",
    ]
)


class Creates(Both):
    """``Both`` with limits a test can cross (2 MiB bodies, 256 kB JSON), a finished gpt.ge
    job to remix, and jobs planned without jitter (a job's jitter is drawn from its id)."""

    def __init__(self) -> None:
        super().__init__(
            max_body_bytes=2 * 1024 * 1024, max_json_bytes=256 * 1000, timings=Timings(jitter=0)
        )
        self.mock.advance(1_000)  # finished, not expired
        self.done = self.jobs["gptge-videos"]


@pytest.fixture(scope="module")
def shared() -> Creates:
    return Creates()


@pytest.fixture
def creates(shared: Creates) -> Creates:
    service_of(shared.app).store.clear_rules()  # (an example's rule a refusal left unused)
    return shared


def send(both: Creates, client: Client, case: str, headers: dict[str, str]) -> tuple[Any, ...]:
    """One create: (status, headers, body, journal entry, console line), the new job's id
    read as ``<job>``."""
    path, content_type, body = CASES[case]
    response = client.post(
        path.format(done=both.done),
        input_stream=io.BytesIO(body),  # as it is (``data=b""`` would be a form of its own)
        content_length=len(body),
        content_type=content_type,
        headers=headers,
    )
    assert response.headers["x-request-id"].startswith("req_")
    journal, line = both.last()
    made = journal.get("job_id")
    if made == both.done or made == "video_0123456789abcdef":
        made = None  # the video a remix names: the same on both paths

    def same(text: str) -> str:
        return text.replace(made, "<job>") if made else text

    return (
        response.status_code,
        sorted((k, same(v)) for k, v in response.headers.items() if k != "x-request-id"),
        same(response.get_data(as_text=True)),
        json.loads(same(json.dumps(journal))),
        json.loads(same(json.dumps(line))),
    )


def test_the_lane_takes_every_create_that_answers_json(creates: Creates) -> None:
    taken = {
        (pipeline.dialect.prefix, pipeline.op.operation_id)
        for routes in creates.lane.creates.values()
        for _, pipeline in routes
    }
    assert taken == CREATES


def test_a_create_taken_by_the_lane_never_reaches_flask(
    creates: Creates, monkeypatch: pytest.MonkeyPatch
) -> None:
    reached: list[str] = []
    inner = creates.lane.inner
    writer = service_of(creates.app).journal_writer
    opened = writer.opened
    monkeypatch.setattr(writer, "opened", lambda: reached.append("opened") or opened())

    def spy(environ: dict[str, Any], start_response: Any) -> Any:
        reached.append(environ["PATH_INFO"])
        return inner(environ, start_response)

    creates.lane.inner = spy
    try:
        path, content_type, body = CASES["vtrix JSON"]
        headers = {"Authorization": "Bearer sk-test", "Content-Type": content_type}
        lane = Client(creates.lane)
        assert lane.post(path, data=body, headers=headers).status_code == 200
        assert reached == ["opened"]  # (the journal's count of requests in flight)
        reached.clear()
        # chunked (measured by the edge first), a trailing slash, another method: Flask's
        chunked = {"Transfer-Encoding": "chunked", **headers}
        lane.post(path, data=body, headers=chunked)
        lane.post(path + "/", data=body, headers=headers)
        lane.put(path, data=body, headers=headers)
        assert [r for r in reached if r != "opened"] == [path, path + "/", path]
    finally:
        creates.lane.inner = inner


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=st.sampled_from(sorted(CASES)), headers=KEYS, scenario=SCENARIO, rule=RULE)
def test_the_lane_creates_exactly_as_flask_would(
    creates: Creates,
    case: str,
    headers: dict[str, str],
    scenario: str | None,
    rule: str | None,
) -> None:
    if scenario is not None:
        headers = headers | {"X-Mock-Scenario": scenario}
    service = service_of(creates.app)
    service.store.clear_rules()
    if rule is not None:  # one use for each path
        service.store.add_rule(rule, None, None, 2)
    flask = send(creates, creates.via_flask, case, headers)
    lane = send(creates, creates.via_lane, case, headers)
    assert flask == lane
    assert lane[3]["path"] == CASES[case][0].format(done=creates.done)


@pytest.mark.parametrize("error", ["bug", "store", "render"])
def test_an_exception_in_a_create_is_answered_as_flasks_handlers_answer_it(
    creates: Creates, monkeypatch: pytest.MonkeyPatch, error: str
) -> None:
    from mockserver.media import RenderCrashed
    from mockserver.state.store_guard import StoreUnavailable

    raised = {
        "bug": RuntimeError("a bug in a dialect"),
        "store": StoreUnavailable("disk full"),
        "render": RenderCrashed("the encoder died"),
    }[error]

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise raised

    service = service_of(creates.app)
    monkeypatch.setattr(service, "create_job", broken)
    before = service.error_count
    headers = {"Authorization": "Bearer sk-test"}
    answers = [
        send(creates, c, "gptge multipart", headers) for c in (creates.via_flask, creates.via_lane)
    ]
    service.errors.clear()
    assert answers[0] == answers[1]
    status, seen, body = answers[1][:3]
    assert status == {"bug": 500, "store": 503, "render": 500}[error]
    assert service.error_count == before + (2 if error == "bug" else 0)
    assert str(raised) in body or error == "bug"
    assert (("Retry-After", "1") in seen) is (error == "store")


def test_the_rate_limiter_answers_a_create_alike_on_both_paths() -> None:
    from mockserver.http.app import create_app
    from mockserver.testing import test_config

    lane = create_app(test_config(rate_limit_rpm=1)).wsgi_app.inner  # type: ignore[attr-defined]
    path, content_type, body = CASES["vtrix JSON"]
    answers = []
    for client in (Client(lane.inner), Client(lane)):
        key = {"Authorization": f"Bearer sk-{len(answers)}"}  # a full bucket each
        statuses = []
        for _ in range(2):
            response = client.post(path, data=body, content_type=content_type, headers=key)
            statuses.append(response.status_code)
        answers.append((statuses, response.headers.get("Retry-After"), response.get_json()))
    assert answers[0] == answers[1]
    assert answers[1][0] == [200, 429]


def _answers() -> dict[str, Any]:
    from flask import Response

    from mockserver.http.responses import json_response

    def made(**changes: Any) -> Response:
        response = json_response({"id": "video_1"}, 200, {"X-Mock-Notes": "a note"})
        for name, value in changes.items():
            setattr(response, name, value)
        return response

    located = made()
    located.headers["Location"] = "/v1/vidéos/1"
    closing = made()
    closing.call_on_close(lambda: None)
    unmeasured = made()
    del unmeasured.headers["Content-Length"]
    return {
        "json_response": made(),
        "constructor": Response(b'{"a": 1}', status=202, content_type="application/json"),
        "two pieces": made(response=[b"{", b"}"]),
        "text piece": made(response=["{}"]),
        "204": made(status=204),
        "304": made(status=304),
        "101": made(status=101),
        "Location": located,
        "on close": closing,
        "passthrough": made(direct_passthrough=True),
        "no Content-Length": unmeasured,
    }


@pytest.mark.parametrize("method", ["POST", "HEAD"])
@pytest.mark.parametrize("name", sorted(_answers()))
def test_an_answer_is_handed_over_as_werkzeug_hands_it_over(name: str, method: str) -> None:
    from mockserver.http.lane import _handed_over

    environ = {"REQUEST_METHOD": method, "PATH_INFO": "/x", "HTTP_HOST": "mock"}
    environ |= {"SERVER_NAME": "mock", "SERVER_PORT": "80", "wsgi.url_scheme": "http"}
    outs, general = [], []
    for hand in (lambda r, e, s: r(e, s), _handed_over):
        started: list[Any] = []
        response = _answers()[name]
        wsgi = response.get_wsgi_response
        response.get_wsgi_response = lambda e, w=wsgi: general.append(1) or w(e)  # type: ignore[method-assign]
        body = hand(response, dict(environ), lambda *a, seen=started: seen.append(a))
        outs.append((started, b"".join(body)))
    assert outs[0] == outs[1]
    fast = name in ("json_response", "constructor") and method == "POST"
    assert len(general) == (1 if fast else 2)  # Werkzeug's general way only where needed


def test_a_server_terminated_body_is_read_to_the_limit_on_both_paths(creates: Creates) -> None:
    """A server that says it ends the body itself (``wsgi.input_terminated``) may send more
    than ``Content-Length`` says: Flask's request reads it up to ``MAX_CONTENT_LENGTH``, no
    further (here: the form's end is cut off; text parts, as a file part cut off is left
    unclosed by Werkzeug's parse, on Flask's path too)."""
    bulk = {f"extra{n}": b"x" * 800_000 for n in range(3)}
    body = multipart(_form(**bulk), WIDE)
    answers = []
    for app in (creates.lane.inner, creates.lane):
        environ = EnvironBuilder(
            path="/gptge/v1/videos", method="POST", headers={"Authorization": "Bearer sk-test"}
        ).get_environ()
        environ |= {"CONTENT_TYPE": MULTIPART, "CONTENT_LENGTH": "5"}
        environ |= {"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True}
        status: list[str] = []
        out = b"".join(app(environ, lambda s, h, *_, seen=status: seen.append(s)))
        answers.append((status, out))
    assert answers[0] == answers[1]
    assert answers[1][0] == ["400 BAD REQUEST"]
