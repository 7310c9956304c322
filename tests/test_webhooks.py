"""Webhooks (issue 26): a job's terminal event POSTed to the `callback_url` its create named,
as its provider's declaration describes it (OpenRouter's contract first; a throwaway provider
declared in a temporary file too), to a real loopback receiver started in each test.

The mock's virtual clock is the only time that moves a job: a test advances it and then waits
for the receiver with a bound, never for a duration. Retries, leases and two workers are
driven one step at a time (``Webhooks.claim`` and ``Webhooks.attempt``, the dispatcher thread
kept off), so what must not happen is checked at a known moment. Signatures are checked with
the standard library's ``hmac`` here, never with the mock's own function."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from redis_server import redis_server

import contracts
from mockserver.http.app import create_app
from mockserver.http.webhooks import LEASE_MARGIN, Webhooks
from mockserver.state.service import MockService
from mockserver.testing import test_config

SECRET = "whsec-test-5f1d"
KEY = "sk-or-test-key-never-shown"
CREATE = "/openrouter/api/v1/videos"
#: how long a test waits for something that happens at once (a bound, not a duration)
BOUND = 10.0


class Receiver:
    """A loopback HTTP server that keeps what it is sent and answers with the statuses it is
    given in turn (then 204); ``"hang"`` holds the answer until the test ends, ``"drip"``
    sends a byte at a time and never ends its status line."""

    def __init__(self, answers: list[int | str] | None = None) -> None:
        self.got: list[dict[str, Any]] = []
        self.answers = list(answers or [])
        self.changed = threading.Condition()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.changed:
                    receiver.got.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body}
                    )
                    answer = receiver.answers.pop(0) if receiver.answers else 204
                    receiver.changed.notify_all()
                if answer == "hang":
                    receiver.release.wait(BOUND)
                    return
                if answer == "drip":  # a byte of a status line every 50 ms, never ending
                    try:
                        while not receiver.release.wait(0.05):
                            self.wfile.write(b"H")
                            self.wfile.flush()
                    except OSError:
                        pass  # the mock hung up
                    return
                self.send_response(int(answer))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def wait_for(self, count: int) -> list[dict[str, Any]]:
        with self.changed:
            arrived = self.changed.wait_for(lambda: len(self.got) >= count, BOUND)
        assert arrived, f"{len(self.got)} of {count} deliveries within {BOUND} s"
        return self.got

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver()
    yield started
    started.close()


def _app(**overrides: Any) -> Flask:
    return create_app(test_config(**overrides))


def _service(app: Flask) -> MockService:
    service: MockService = app.extensions["sora_mock"]
    return service


@pytest.fixture
def stepped() -> Iterator[list[Flask]]:
    """Apps whose dispatcher thread never runs: the test takes each step itself."""
    apps: list[Flask] = []
    yield apps
    for app in apps:
        _service(app).webhooks.stop()


def _stepped_app(stepped: list[Flask], **overrides: Any) -> tuple[Flask, Webhooks]:
    app = _app(webhook_secret=SECRET, **overrides)
    webhooks = _service(app).webhooks
    webhooks.stopped = True  # started() does nothing: no thread claims behind the test's back
    stepped.append(app)
    return app, webhooks


def _create(app: Flask, callback: str, **body: Any) -> Any:
    answer = app.test_client().post(
        CREATE,
        json={
            "model": "openai/sora-2-pro",
            "prompt": "a lighthouse at dusk",
            "duration": 4,
            "size": "720x1280",
            "callback_url": callback,
            **body,
        },
        headers={"Authorization": f"Bearer {KEY}", **body.pop("headers", {})},
    )
    return answer


def _verified(delivery: dict[str, Any], secret: str = SECRET) -> int:
    """The signature header checked the way OpenRouter's cookbook does it: HMAC-SHA256 of
    ``<t>,<raw body>``, hex; returns ``t``."""
    header = delivery["headers"]["X-OpenRouter-Signature"]
    parts = dict(item.split("=", 1) for item in header.split(","))
    assert set(parts) == {"t", "v1"}, header
    signed = parts["t"].encode() + b"," + delivery["body"]
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected), header
    return int(parts["t"])


def _ends(app: Flask) -> None:
    """Move the clock past the end of any job just created (a few seconds at most)."""
    _service(app).clock.advance(120)  # type: ignore[attr-defined]


# ---------------------------------------------------------------------- what is sent


def test_a_job_that_completes_posts_its_signed_event_when_the_clock_passes_its_end(
    receiver: Receiver,
) -> None:
    app = _app(webhook_secret=SECRET)
    created = _create(app, receiver.url("/hooks/video?token=abc"))
    assert created.status_code == 202, created.json
    job_id = created.json["id"]
    # no read of the job, no poll: the clock alone ends it, and the dispatcher notices
    moved = app.test_client().post("/__mock/clock/advance", json={"seconds": 120})
    assert moved.status_code == 200
    [delivery] = receiver.wait_for(1)
    _service(app).webhooks.stop()
    assert delivery["path"] == "/hooks/video?token=abc"  # the receiver gets its whole URL
    headers = delivery["headers"]
    assert headers["Content-Type"] == "application/json"
    assert headers["X-OpenRouter-Idempotency-Key"] == f"{job_id}-completed"
    _verified(delivery)
    event = json.loads(delivery["body"])
    assert event["type"] == "video.generation.completed"
    assert isinstance(event["created_at"], str) and event["created_at"].startswith("2026-01-01T")
    data = event["data"]
    assert data["id"] == job_id and data["status"] == "completed"
    assert data["model"] == "openai/sora-2-pro" and data["generation_id"] == job_id
    assert data["unsigned_urls"] == [
        f"http://localhost/openrouter/api/v1/videos/{job_id}/content?index=0"
    ]
    assert data["usage"] == {"cost": 1.2, "is_byok": False} and "error" not in data
    # the event the contract describes, checked against its own schema
    contract = contracts.load("openrouter-videos")
    schema = {**contract.spec["components"]["schemas"]["WebhookEvent"]}
    import jsonschema

    jsonschema.validate(event, {**schema, "components": contract.spec["components"]})


def test_a_job_that_fails_posts_the_failed_event_with_its_message(receiver: Receiver) -> None:
    app = _app(webhook_secret=SECRET)
    created = _create(app, receiver.url(), headers={"X-Mock-Scenario": "generation_failed"})
    _ends(app)
    [delivery] = receiver.wait_for(1)
    _service(app).webhooks.stop()
    event = json.loads(delivery["body"])
    assert event["type"] == "video.generation.failed"
    assert event["data"]["status"] == "failed"
    assert event["data"]["error"] == "The video generation failed"
    assert "unsigned_urls" not in event["data"] and "usage" not in event["data"]
    job_id = created.json["id"]
    assert delivery["headers"]["X-OpenRouter-Idempotency-Key"] == f"{job_id}-failed"


def test_without_a_signing_secret_the_event_goes_unsigned(
    receiver: Receiver, stepped: list[Flask]
) -> None:
    app, webhooks = _stepped_app(stepped)
    _service(app).config.webhook_secret = None
    _create(app, receiver.url())
    _ends(app)
    [record] = webhooks.claim(4)
    webhooks.attempt(record)
    [delivery] = receiver.got
    assert "X-OpenRouter-Signature" not in delivery["headers"]
    assert "X-OpenRouter-Idempotency-Key" in delivery["headers"]


def test_nothing_is_due_before_the_job_ends(receiver: Receiver, stepped: list[Flask]) -> None:
    app, webhooks = _stepped_app(stepped)
    job_id = _create(app, receiver.url()).json["id"]
    job = _service(app).store.get(job_id)
    assert job is not None
    end = job.created_at + job.queue_seconds + job.render_seconds
    _service(app).clock.advance(end - job.created_at - 0.01)  # type: ignore[attr-defined]
    assert webhooks.claim(4) == []
    _service(app).clock.advance(0.02)  # type: ignore[attr-defined]
    assert [r["job_id"] for r in webhooks.claim(4)] == [job_id]


# ---------------------------------------------------------------------- where it may go


@pytest.mark.parametrize(
    "callback",
    [
        "http://hooks.example.org/in",
        "https://203.0.113.7/in",
        "http://127.0.0.1.nip.io/in",
        "http://localhost.example.org/in",
    ],
)
def test_a_callback_url_elsewhere_is_refused_at_create_saying_how_to_allow_it(
    callback: str,
) -> None:
    app = _app()
    refused = _create(app, callback + "?token=hush")
    assert refused.status_code == 400
    error = refused.json["error"]
    assert error["code"] == 400 and set(refused.json) == {"error"}  # OpenRouter's shape
    host = callback.split("/")[2]
    assert error["message"].startswith("callback_url: ")
    assert f"--webhook-allow-host {host}" in error["message"]
    assert "SORA_MOCK_WEBHOOK_ALLOW_HOST" in error["message"]
    assert "hush" not in error["message"]  # the URL's query is not repeated
    assert app.test_client().get("/__mock/jobs").json["data"] == []  # nothing was kept


@pytest.mark.parametrize(
    ("allowed", "callback"),
    [
        ((), "http://127.0.0.1:9/in"),
        ((), "http://[::1]:9/in"),
        ((), "http://localhost:9/in"),
        (("hooks.example.org",), "https://hooks.example.org/in"),
        (("HOOKS.example.org.",), "https://hooks.example.org/in"),
        ((".example.org",), "https://a.b.example.org/in"),
        ((".example.org",), "https://example.org/in"),
    ],
)
def test_loopback_and_the_hosts_the_user_allows_are_accepted(
    allowed: tuple[str, ...], callback: str, stepped: list[Flask]
) -> None:
    app, _ = _stepped_app(stepped, webhook_allow_hosts=allowed)
    assert _create(app, callback).status_code == 202


def test_a_loopback_name_is_sent_to_loopback_without_being_looked_up(
    receiver: Receiver, stepped: list[Flask]
) -> None:
    app, webhooks = _stepped_app(stepped)
    port = receiver.server.server_port
    _create(app, f"http://hooks.localhost:{port}/hook")  # no resolver knows this name
    _ends(app)
    [record] = webhooks.claim(4)
    assert webhooks.attempt(record)["state"] == "delivered"
    [delivery] = receiver.got
    assert delivery["headers"]["Host"] == f"hooks.localhost:{port}"  # the name it was given


def test_an_allowed_domain_does_not_allow_a_name_that_merely_ends_like_it() -> None:
    app = _app(webhook_allow_hosts=(".example.org",))
    assert _create(app, "https://badexample.org/in").status_code == 400


# ---------------------------------------------------------------------- retries


def test_a_receiver_that_fails_twice_gets_the_same_event_again_on_the_clock(
    stepped: list[Flask],
) -> None:
    receiver = Receiver([500, 503])
    try:
        app, webhooks = _stepped_app(stepped)
        clock = _service(app).clock
        job_id = _create(app, receiver.url()).json["id"]
        _ends(app)
        for waited in (10, 20):  # the backoff: 10 s, then doubled
            [record] = webhooks.claim(4)
            webhooks.attempt(record)
            shown = app.test_client().get(f"/__mock/jobs/{job_id}").json["webhook"]
            assert shown["state"] == "retrying"
            assert shown["next_at"] == pytest.approx(clock.now() + waited)
            clock.advance(waited - 0.5)  # type: ignore[attr-defined]
            assert webhooks.claim(4) == []  # not before its time
            clock.advance(0.5)  # type: ignore[attr-defined]
        [record] = webhooks.claim(4)
        webhooks.attempt(record)
        assert len(receiver.got) == 3
        bodies = {d["body"] for d in receiver.got}
        keys = {d["headers"]["X-OpenRouter-Idempotency-Key"] for d in receiver.got}
        assert len(bodies) == 1 and keys == {f"{job_id}-completed"}
        for delivery in receiver.got:
            _verified(delivery)
        shown = app.test_client().get(f"/__mock/jobs/{job_id}").json["webhook"]
        assert shown["state"] == "delivered" and shown["attempts"] == 3
        assert shown["next_at"] is None and shown["last"]["status"] == 204
        clock.advance(3600)  # type: ignore[attr-defined]
        assert webhooks.claim(4) == []  # delivered: never again
    finally:
        receiver.close()


def test_an_event_no_receiver_takes_is_given_up_after_the_last_attempt(
    stepped: list[Flask],
) -> None:
    with socket.socket() as unused:  # a port nobody listens on: connection refused
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    app, webhooks = _stepped_app(stepped, webhook_attempts=2)
    job_id = _create(app, f"http://127.0.0.1:{port}/in").json["id"]
    _ends(app)
    [record] = webhooks.claim(4)
    assert webhooks.attempt(record)["state"] == "retrying"
    _service(app).clock.advance(10)  # type: ignore[attr-defined]
    [record] = webhooks.claim(4)
    assert webhooks.attempt(record)["state"] == "given_up"
    _service(app).clock.advance(3600)  # type: ignore[attr-defined]
    assert webhooks.claim(4) == []
    shown = app.test_client().get(f"/__mock/jobs/{job_id}").json["webhook"]
    assert shown["state"] == "given_up" and shown["attempts"] == 2 and shown["next_at"] is None
    assert shown["last"]["status"] is None
    assert shown["last"]["error"] == "connection refused"


@pytest.mark.parametrize("answer", ["hang", "drip"])
def test_a_receiver_that_never_answers_is_left_at_the_deadline_and_holds_no_request(
    stepped: list[Flask], answer: str
) -> None:
    receiver = Receiver([answer])
    try:
        app = _app(webhook_secret=SECRET, webhook_timeout_seconds=0.3)
        stepped.append(app)
        job_id = _create(app, receiver.url()).json["id"]
        _ends(app)
        receiver.wait_for(1)  # the receiver holds the dispatcher's sender, not a request
        client = app.test_client()
        assert (
            client.get(
                f"/openrouter/api/v1/videos/{job_id}", headers={"Authorization": f"Bearer {KEY}"}
            ).status_code
            == 200
        )
        assert _create(app, receiver.url()).status_code == 202
        service = _service(app)
        done = threading.Event()

        def attempted() -> bool:
            record = service.store.webhook_get(job_id)
            return record is not None and record["attempts"] == 1

        for _ in range(int(BOUND / 0.05)):  # a condition, polled with a bound
            if attempted():
                break
            done.wait(0.05)
        record = service.store.webhook_get(job_id)
        assert record is not None and record["state"] == "retrying"
        assert record["last"]["error"] == "timed out after 0.3 s"
    finally:
        receiver.close()


# ---------------------------------------------------------------------- workers


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "redis"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:{tmp_path / 'state.sqlite'}"
    url: str = request.getfixturevalue("redis_url")
    return url


def test_two_workers_sharing_a_store_send_each_event_once(
    receiver: Receiver, stepped: list[Flask], shared_store: str
) -> None:
    first, one = _stepped_app(stepped, store=shared_store)
    _service(first).reset()
    second, other = _stepped_app(stepped, store=shared_store)
    jobs = {_create(first, receiver.url()).json["id"] for _ in range(3)}
    _ends(first)
    mine = one.claim(2)  # as many as it has free senders
    theirs = other.claim(4)  # only what no lease holds
    assert len(mine) == 2 and len(theirs) == 1
    assert {r["job_id"] for r in mine + theirs} == jobs
    assert one.claim(4) == [] and other.claim(4) == []
    for record in mine:
        one.attempt(record)
    other.attempt(theirs[0])
    _service(second).clock.advance(3600)  # type: ignore[attr-defined]
    assert other.claim(4) == [] and one.claim(4) == []
    assert sorted(d["headers"]["X-OpenRouter-Idempotency-Key"] for d in receiver.got) == sorted(
        f"{j}-completed" for j in jobs
    )
    _service(first).reset()


def test_an_event_a_dead_worker_held_is_sent_by_another_once_its_lease_lapses(
    receiver: Receiver, stepped: list[Flask], shared_store: str
) -> None:
    first, dead = _stepped_app(stepped, store=shared_store)
    _service(first).reset()
    second, alive = _stepped_app(stepped, store=shared_store)
    job_id = _create(first, receiver.url()).json["id"]
    _ends(first)
    [held] = dead.claim(4)  # ... and the worker dies before any attempt
    assert alive.claim(4) == []
    real = alive.wall()
    lease = _service(second).config.webhook_timeout_seconds + LEASE_MARGIN
    alive.wall = lambda: real + lease - 1
    assert alive.claim(4) == []  # still held
    alive.wall = lambda: real + lease + 1
    [record] = alive.claim(4)
    assert alive.attempt(record)["state"] == "delivered"
    assert [d["headers"]["X-OpenRouter-Idempotency-Key"] for d in receiver.got] == [
        f"{job_id}-completed"
    ]
    # the dead worker's late word changes nothing: its lease is no longer the one held
    assert not _service(first).store.webhook_settle(job_id, held, 0.0, "stale-token")
    assert _service(second).store.webhook_get(job_id)["state"] == "delivered"  # type: ignore[index]
    _service(first).reset()


# ---------------------------------------------------------------------- journal, keys


def test_each_attempt_is_a_journal_entry_without_the_query_the_key_or_the_secret(
    stepped: list[Flask],
) -> None:
    receiver = Receiver([500])
    try:
        app, webhooks = _stepped_app(stepped)
        job_id = _create(app, receiver.url("/in?token=hush-hush")).json["id"]
        _ends(app)
        for _ in range(2):
            [record] = webhooks.claim(4)
            webhooks.attempt(record)
            _service(app).clock.advance(10)  # type: ignore[attr-defined]
        journal = app.test_client().get(f"/__mock/journal?job_id={job_id}").json["data"]
        attempts = [e for e in journal if e["operation"] == "webhook"]
        assert [(e["attempt"], e["status"]) for e in attempts] == [(1, 500), (2, 204)]
        first, second = attempts
        assert first["method"] == "POST" and first["provider"] == "openrouter"
        assert first["path"] == receiver.url("/in")  # no query
        assert first["webhook"] == "video.generation.completed"
        assert first["error"] == "the receiver answered 500" and second["error"] is None
        assert first["latency_ms"] >= 0 and first["job_id"] == job_id
        assert first["key"].startswith("key_")
        everything = json.dumps(app.test_client().get("/__mock/journal").json)
        for secret in ("hush-hush", KEY, SECRET):
            assert secret not in everything
        # the mock sent them: they are not among the requests it received
        received = app.test_client().get(f"/__mock/requests?job_id={job_id}").json["data"]
        assert [r["operation"] for r in received] == ["createVideos"]
    finally:
        receiver.close()


# ---------------------------------------------------------------------- a provider as data

HOOKS = """\
  webhooks:
    url: /hook
    events: {completed: clip.done, failed: clip.broken}
    body: {kind: "{event}", clip: "{job.id}", state: "{status}"}
    headers: {X-Acme-Event: "{event}"}
"""


def _with_hook(contract: str) -> str:
    """The throwaway provider's contract with a `hook` field in its create's body."""
    return contract.replace(
        "dims: {type: string}", "dims: {type: string}\n                hook: {type: string}"
    )


def test_a_provider_declared_in_one_file_gets_its_own_webhooks(
    receiver: Receiver, tmp_path: Path
) -> None:
    from test_declared_providers import ACME

    path = tmp_path / "acme-hooks.yaml"
    path.write_text(_with_hook(ACME) + HOOKS)
    contracts.add_provider(path)
    try:
        app = _app(webhook_secret=SECRET)
        created = app.test_client().post(
            "/acme/v2/jobs",
            json={"engine": "acme-1", "text": "a clip", "hook": receiver.url()},
            headers={"Authorization": "Bearer acme-key"},
        )
        assert created.status_code == 201, created.json
        _ends(app)
        [delivery] = receiver.wait_for(1)
        _service(app).webhooks.stop()
    finally:
        contracts.forget_provider("acme-hooks")
    assert json.loads(delivery["body"]) == {
        "kind": "clip.done",
        "clip": created.json["job_id"],
        "state": "done",
    }
    assert delivery["headers"]["X-Acme-Event"] == "clip.done"
    assert not any(h.startswith("X-OpenRouter") for h in delivery["headers"])


@pytest.mark.parametrize(
    ("old", "new", "where", "fix"),
    [
        (
            "completed: clip.done",
            "cancelled: clip.done",
            "/x-sora-mock/webhooks/events/cancelled",
            "`cancelled` is no status a job ends in: use completed or failed",
        ),
        (
            'clip: "{job.id}"',
            'clip: "{job.ident}"',
            "/x-sora-mock/webhooks/body/clip",
            "`{job.ident}` is not a value a template can use",
        ),
        (
            "url: /hook",
            "url: hook",
            "/x-sora-mock/webhooks/url",
            "a JSON pointer into the create's body",
        ),
        (
            "url: /hook",
            "url: /hok",
            "/x-sora-mock/webhooks/url",
            "the body of `startJob` has no `hok`: use one of dims, engine, hook, length",
        ),
        (
            "    headers:",
            "    signature: {header: X-Sig, value: 't={timestamp}', signed: '{body}'}\n"
            "    headers:",
            "/x-sora-mock/webhooks/signature/value",
            "must hold `{signature}`",
        ),
    ],
)
def test_a_webhooks_block_with_a_mistake_is_refused_naming_the_place_and_the_fix(
    tmp_path: Path, old: str, new: str, where: str, fix: str
) -> None:
    from test_declared_providers import ACME

    assert old in HOOKS
    path = tmp_path / "acme-broken.yaml"
    path.write_text(_with_hook(ACME) + HOOKS.replace(old, new, 1))
    with pytest.raises(contracts.ContractError) as refused:
        contracts.add_provider(path)
    message = str(refused.value)
    assert message.startswith(f"acme-broken.yaml: at {where}"), message
    assert fix in message, message


# ---------------------------------------------------------------------- a served server


def _until_delivered(admin: httpx.Client, job_id: str) -> dict[str, Any]:
    """The job's webhook once delivered (read again and again, within the bound)."""
    for _ in range(int(BOUND / 0.05)):
        shown: dict[str, Any] = admin.get(f"/__mock/jobs/{job_id}").json()["webhook"]
        if shown["state"] == "delivered":
            break
        threading.Event().wait(0.05)
    return shown


def test_a_served_server_of_two_workers_sends_each_event_once_even_if_its_owner_is_killed(
    receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One server for two stories (its start is most of the cost): six events sent once each
    by two workers; then the worker that owed a seventh is killed before it is due, and the
    other sends it."""
    import os
    import signal

    from served import served

    monkeypatch.setenv("SORA_MOCK_WEBHOOK_SECRET", SECRET)  # the flag's variable
    store = f"sqlite:{tmp_path / 'state.sqlite'}"
    args = ("--clock", "virtual", "--store", store, "--quiet")
    body = {"model": "openai/sora-2-pro", "prompt": "p", "callback_url": receiver.url()}
    with (
        served(*args, workers=2) as server,
        server.client("openrouter", KEY) as client,
        httpx.Client(base_url=server.url, timeout=30.0) as admin,
    ):
        jobs = []
        for _ in range(6):  # several creates: each worker is likely to take some
            created = client.post("/api/v1/videos", json=body)
            assert created.status_code == 202, created.text
            jobs.append(created.json()["id"])
        assert admin.post("/__mock/clock/advance", json={"seconds": 120}).status_code == 200
        receiver.wait_for(len(jobs))
        for job_id in jobs:  # each settled: nothing more is owed
            shown = _until_delivered(admin, job_id)
            assert shown["state"] == "delivered" and shown["attempts"] == 1, shown
        journal = admin.get("/__mock/journal?limit=1000").json()["data"]

        late = client.post("/api/v1/videos", json=body).json()["id"]
        entries = admin.get(f"/__mock/journal?job_id={late}").json()["data"]
        [owner] = {e["worker"] for e in entries if e["operation"] == "createVideos"}
        assert owner in server.children()
        os.kill(owner, signal.SIGKILL)  # it owed the event: in its memory it would be lost
        for _ in range(int(BOUND / 0.05)):  # the server answers again (one worker left)
            try:
                moved = admin.post("/__mock/clock/advance", json={"seconds": 120})
                break
            except httpx.TransportError:
                threading.Event().wait(0.05)
        assert moved.status_code == 200
        shown = _until_delivered(admin, late)  # whichever worker reads it
        assert shown["state"] == "delivered" and shown["attempts"] == 1, shown
    keys = sorted(d["headers"]["X-OpenRouter-Idempotency-Key"] for d in receiver.got)
    assert keys == sorted(f"{j}-completed" for j in [*jobs, late])
    for delivery in receiver.got:
        _verified(delivery)
    attempts = [e for e in journal if e["operation"] == "webhook"]
    assert sorted(e["job_id"] for e in attempts) == sorted(jobs)
    assert SECRET not in "".join(server.output) + json.dumps(journal)


def test_each_attempt_is_a_console_line_too(
    stepped: list[Flask], capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    app, webhooks = _stepped_app(stepped, log_format="text")
    _create(app, f"http://127.0.0.1:{port}/in?token=hush")
    _ends(app)
    assert app.extensions["sora_mock_console"].flush()
    capsys.readouterr()
    [record] = webhooks.claim(4)
    webhooks.attempt(record)
    assert app.extensions["sora_mock_console"].flush()
    [line] = capsys.readouterr().out.splitlines()
    assert f"POST    http://127.0.0.1:{port}/in" in line and "hush" not in line
    assert line.endswith("[webhook #1: connection refused]"), line


def test_a_job_whose_render_failed_sends_its_failed_event_now_not_at_its_planned_end(
    receiver: Receiver, stepped: list[Flask]
) -> None:
    from mockserver.media import RenderCrashed

    app, webhooks = _stepped_app(stepped)
    service = _service(app)
    job_id = _create(app, receiver.url()).json["id"]
    job = service.store.get(job_id)
    assert job is not None
    service.clock.advance(job.queue_seconds + job.render_seconds / 2)  # type: ignore[attr-defined]
    service.render_crashed(job, RenderCrashed("killed by the test"))
    [record] = webhooks.claim(4)  # the clock has not moved since
    webhooks.attempt(record)
    [delivery] = receiver.got
    event = json.loads(delivery["body"])
    assert event["type"] == "video.generation.failed" and event["data"]["status"] == "failed"


# ---------------------------------------------------------------------- the command line


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The configurations ``sora-mock serve`` would have run (nothing is served)."""
    from mockserver.http import serving

    taken: list[Any] = []
    monkeypatch.setattr(serving, "serve", lambda config, *_, **__: taken.append(config) or 0)
    return taken


def test_the_webhook_options_reach_the_server_and_the_secret_is_never_shown(
    runs: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mockserver import cli

    monkeypatch.setenv("SORA_MOCK_WEBHOOK_SECRET", SECRET)
    argv = ["serve", "--workers=1", "--webhook-allow-host=a.test", "--webhook-allow-host=.b.test"]
    assert cli.main([*argv, "--webhook-attempts=3", "--webhook-timeout=2.5"]) == 0
    [config] = runs
    assert config.webhook_allow_hosts == ("a.test", ".b.test")
    assert config.webhook_secret == SECRET
    assert (config.webhook_attempts, config.webhook_timeout_seconds) == (3, 2.5)
    assert SECRET not in repr(config)
    assert cli.main(["serve", "--workers=1"]) == 0 and runs[1].webhook_attempts == 5


@pytest.mark.parametrize(
    "option",
    [
        "--webhook-attempts=0",
        "--webhook-timeout=0",
        "--webhook-timeout=-1",
        "--webhook-timeout=nan",
    ],
)
def test_a_webhook_option_out_of_range_is_one_line_and_exit_code_2(
    runs: list[Any], capsys: pytest.CaptureFixture[str], option: str
) -> None:
    from mockserver import cli

    assert cli.main(["serve", "--workers=1", option]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sora-mock: --webhook-attempts must be at least 1")
    assert err.count("\n") == 1 and runs == []


def test_a_purged_job_leaves_no_webhook_record_behind(
    receiver: Receiver, stepped: list[Flask]
) -> None:
    app, webhooks = _stepped_app(stepped)
    service = _service(app)
    read, swept = (_create(app, receiver.url()).json["id"] for _ in range(2))
    _ends(app)
    for record in webhooks.claim(4):
        webhooks.attempt(record)
    service.clock.advance(25 * 3600)  # type: ignore[attr-defined]  # past --retention (24h)
    gone = app.test_client().get(
        f"/openrouter/api/v1/videos/{read}", headers={"Authorization": f"Bearer {KEY}"}
    )
    assert gone.status_code == 404  # purged when read
    assert service.store.webhook_get(read) is None
    assert service.store.webhook_get(swept) is not None
    service.purge_expired()  # the sweep each create makes
    assert service.store.webhook_get(swept) is None


@pytest.fixture(params=["memory", "sqlite", "redis"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    from mockserver.state.stores import open_store

    spec = {"memory": "memory", "sqlite": f"sqlite:{tmp_path / 's.db'}"}.get(request.param)
    opened = open_store(spec or request.getfixturevalue("redis_url"))
    opened.reset()
    opened.webhook_clear()
    yield opened
    opened.reset()
    opened.close()


def test_the_three_stores_keep_webhook_records_alike(any_store: Any) -> None:
    store = any_store
    store.webhook_put("a", {"job_id": "a", "n": 1}, 10.0)
    store.webhook_put("b", {"job_id": "b", "n": 1}, 20.0)
    assert store.webhook_next_due(0.0) == 10.0
    assert store.webhook_claim(15.0, 100.0, 200.0, "t1", 5) == [{"job_id": "a", "n": 1}]
    assert store.webhook_next_due(100.0) == 20.0  # a is leased
    assert store.webhook_claim(15.0, 150.0, 250.0, "t2", 5) == []  # a leased, b not due
    assert not store.webhook_settle("a", {"job_id": "a", "n": 2}, None, "t2")  # not its lease
    assert store.webhook_settle("a", {"job_id": "a", "n": 2}, None, "t1")
    assert store.webhook_get("a") == {"job_id": "a", "n": 2, "due": None, "open": False}
    assert store.webhook_claim(25.0, 250.0, 300.0, "t3", 5) == [{"job_id": "b", "n": 1}]
    assert store.webhook_claim(25.0, 299.0, 400.0, "t4", 5) == []
    assert store.webhook_claim(25.0, 300.0, 400.0, "t4", 5) == [{"job_id": "b", "n": 1}]  # lapsed
    assert not store.webhook_settle("b", {"job_id": "b", "n": 2}, 40.5, "t3")
    assert store.webhook_settle("b", {"job_id": "b", "n": 2}, 40.5, "t4")
    assert store.webhook_get("b") == {"job_id": "b", "n": 2, "due": 40.5, "open": True}
    assert store.webhook_next_due(0.0) == 40.5
    store.webhook_forget(["b", "unknown"])
    assert store.webhook_get("b") is None and store.webhook_next_due(0.0) is None
    assert store.webhook_get("a") is not None
    store.webhook_put("c", {"job_id": "c"}, 1.0)
    store.webhook_clear()
    assert store.webhook_get("a") is None and store.webhook_get("c") is None
    assert store.webhook_next_due(1e18) is None


def test_the_client_passes_a_callback_url_and_the_event_follows(receiver: Receiver) -> None:
    from mockserver.testing import SoraMock
    from sora_client import SoraClient

    mock = SoraMock(_app(webhook_secret=SECRET))
    with SoraClient(
        "openrouter",
        api_key=KEY,
        base_url=mock.base_url("openrouter"),
        transport=mock.transport(),
        sleep=mock.advance,
    ) as client:
        job = client.create("a lighthouse", model="openai/sora-2-pro", callback_url=receiver.url())
        done = client.wait(job.id, timeout=600)
    [delivery] = receiver.wait_for(1)
    mock.service.webhooks.stop()
    assert done.status == "completed"
    assert json.loads(delivery["body"])["data"]["id"] == job.id
    _verified(delivery)
