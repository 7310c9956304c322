"""The webhooks' dispatcher and attempts (``mockserver/http/webhooks.py``), rule by rule, in the
test's own thread: a stand-in service (a real memory store, a real virtual clock, a real
configuration, a journal writer and a console that keep what they are given), the module's
``post``, ``time`` and ``threading.Thread`` as stand-ins (an attempt's answer, its latency
and timestamp, the threads it would start: recorded, never run). What is sent is OpenRouter's
declaration (contracts/openrouter-videos.yaml, ``x-sora-mock`` ``webhooks``) or one changed
from it in the test; signatures are checked with the standard library's ``hmac``.

``tests/test_webhooks.py`` covers the same through a real app, real receivers and threads,
two workers and a served server; this file is what mutation testing runs (no thread, no
socket, no wait)."""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import hmac
import json
import os
import re
import threading
import types
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from contracts import _declaration as decl
from mockserver.http import webhooks as wh
from mockserver.http.console import RequestLine
from mockserver.http.webhooks import Webhooks
from mockserver.state.clock import RealClock, SteppingClock, VirtualClock
from mockserver.state.lifecycle import Job, JobState, Status, state_at
from mockserver.state.store_guard import StoreUnavailable
from mockserver.state.store_memory import MemoryStore
from mockserver.testing import CLOCK_START, test_config

SECRET = "whsec-rules-9c2e"
START = float(CLOCK_START)
#: the stand-in wall clock (real seconds) and the attempt's timestamp
WALL = 1_800_000_000.0


def _openrouter() -> decl.Declaration:
    [found] = [d for d in decl.declarations() if d.contract == "openrouter-videos"]
    return found


class Writer:
    """The journal writer: keeps the calls in order."""

    def __init__(self) -> None:
        self.calls: list[Any] = []

    def opened(self) -> None:
        self.calls.append("opened")

    def closed(self, entry: dict[str, Any] | None) -> None:
        self.calls.append(("closed", entry))


class Service:
    """What the webhooks read of the mock (``webhooks.MockService``)."""

    def __init__(self, clock: Any = None, **config: Any) -> None:
        self.config = test_config(**config)
        self.store = MemoryStore()
        self.clock = clock if clock is not None else VirtualClock(self.store, START)
        self.journal_writer = Writer()
        self.errors: list[tuple[BaseException, str]] = []

    def media_path(self, job_id: str, variant: str = "video") -> str:
        return f"/media/{job_id}/{variant}.mp4"

    def note_error(self, exc: BaseException, where: str) -> None:
        self.errors.append((exc, where))


class Thread:
    """``threading.Thread`` as a stand-in: recorded, never run."""

    made: list[Thread] = []

    def __init__(self, *, target: Any, args: tuple[Any, ...], name: str, daemon: bool) -> None:
        self.target, self.args, self.name, self.daemon = target, args, name, daemon
        self.started = False
        Thread.made.append(self)

    def start(self) -> None:
        self.started = True


class Clocks:
    """The module's ``time``: the wall clock, the attempt's timestamp, the latency's counter
    and the monotonic clock of ``request_seen``, each moved by the test."""

    def __init__(self) -> None:
        self.wall = WALL
        self.counter = [5.0, 5.25]  # one attempt: 250 ms
        self.monotonic_now = 100.0

    def time(self) -> float:
        return self.wall

    def perf_counter(self) -> float:
        return self.counter.pop(0) if len(self.counter) > 1 else self.counter[0]

    def monotonic(self) -> float:
        return self.monotonic_now


class Posts:
    """``post`` as a stand-in: keeps each call and answers in turn (then 204)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.answers: list[tuple[int | None, str | None]] = []

    def __call__(
        self, url: str, body: bytes, headers: dict[str, str], timeout: float, allowed: Any
    ) -> tuple[int | None, str | None]:
        self.sent.append(
            {"url": url, "body": body, "headers": headers, "timeout": timeout, "allowed": allowed}
        )
        return self.answers.pop(0) if self.answers else (204, None)


@pytest.fixture
def clocks(monkeypatch: pytest.MonkeyPatch) -> Clocks:
    fake = Clocks()
    monkeypatch.setattr(wh, "time", fake)
    Thread.made = []
    monkeypatch.setattr(
        wh,
        "threading",
        types.SimpleNamespace(Thread=Thread, Lock=threading.Lock, Event=threading.Event),
    )
    return fake


@pytest.fixture
def posts(monkeypatch: pytest.MonkeyPatch) -> Posts:
    fake = Posts()
    monkeypatch.setattr(wh, "post", fake)
    return fake


@pytest.fixture
def service(clocks: Clocks) -> Iterator[Service]:
    made = Service(webhook_secret=SECRET)
    yield made
    made.store.close()


def _job(**fields: Any) -> Job:
    values: dict[str, Any] = {
        "id": "video_abc123",
        "api": "openrouter-videos",
        "model": "openai/sora-2-pro",
        "prompt": "a lighthouse at dusk",
        "width": 720,
        "height": 1280,
        "seconds": 4,
        "owner": "key_owner1",
        "created_at": START,
        "queue_seconds": 2.0,
        "render_seconds": 10.0,
    }
    values.update(fields)
    return Job(**values)


def _owed(
    service: Service, webhooks: Webhooks, job: Job | None = None, url: str = ""
) -> tuple[Job, dict[str, Any]]:
    """A job kept and its event owed; the clock moved past its end; the record claimed."""
    job = job or _job()
    service.store.add(job)
    webhooks.owe(job, url or "http://127.0.0.1:9/in?token=hush", "http://base", "http://host")
    service.clock.advance(wh.ends_at(job) - service.clock.now() + 1)
    [record] = webhooks.claim(4)
    return job, record


def _signed(headers: dict[str, str], body: bytes, secret: str = SECRET) -> int:
    parts = dict(item.split("=", 1) for item in headers["X-OpenRouter-Signature"].split(","))
    assert set(parts) == {"t", "v1"}
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"," + body, hashlib.sha256)
    assert hmac.compare_digest(parts["v1"], expected.hexdigest())
    return int(parts["t"])


# ---------------------------------------------------------------------- what is sent


def test_a_job_ends_after_its_queue_and_its_render_or_where_it_fails() -> None:
    assert wh.ends_at(_job(created_at=100.0, queue_seconds=2.0, render_seconds=10.0)) == 112.0
    failing = _job(created_at=100.0, queue_seconds=2.0, render_seconds=10.0, outcome="failed")
    assert wh.ends_at(failing) == 107.0  # half way, the default
    assert wh.ends_at(dataclasses.replace(failing, fail_progress=0.3)) == pytest.approx(105.0)


@pytest.mark.parametrize(
    ("when", "text"),
    [
        (0.0, "1970-01-01T00:00:00.000Z"),
        (1767225600.5, "2026-01-01T00:00:00.500Z"),
        (1767225601.2349, "2026-01-01T00:00:01.234Z"),
    ],
)
def test_an_event_time_is_iso_utc_in_milliseconds(when: float, text: str) -> None:
    assert wh._iso(when) == text


def _declared(**changes: Any) -> decl.Declaration:
    """OpenRouter's declaration with words of its own, so each value shows where it came
    from (a status word unlike the lifecycle's, a price with many digits)."""
    openrouter = _openrouter()
    base: dict[str, Any] = {
        "statuses": {
            "queued": "waiting",
            "in_progress": "busy",
            "completed": "done",
            "failed": "broken",
        },
        "failure": ("E_DEFAULT", "the default failure"),
        "price_per_second": 0.123456,
    }
    base.update(changes)
    return dataclasses.replace(openrouter, **base)


def test_the_values_of_a_completed_job() -> None:
    job = _job(created_at=1000.9, seconds=7, expires_at=90000.7)
    state = state_at(job, 2000.0)
    values = wh.job_values(_declared(), job, state, "http://base/x", "http://host/v.mp4")
    assert values == {
        "job.id": "video_abc123",
        "job.model": "openai/sora-2-pro",
        "job.prompt": "a lighthouse at dusk",
        "job.seconds": 7,
        "job.size": "720x1280",
        "job.width": 720,
        "job.height": 1280,
        "job.created_at": 1000,
        "status": "done",
        "progress": 1.0,
        "progress_percent": 100,
        "completed_at": 1012,  # 1000.9 + 2 + 10, whole seconds
        "expires_at": 90000,
        "base_url": "http://base/x",
        "video_url": "http://host/v.mp4",
        "cost": 0.8642,
        "error.code": None,
        "error.message": None,
        "event": "video.generation.completed",
        "event.created_at": "1970-01-01T00:16:52.900Z",
        "event.created_at_unix": 1012,
        # the job's values a read's template has (one function for both): WEBHOOK_VALUES
        # names them, so a webhook body may too
        "job.seconds_text": "7",
        "cost_text": "0.8642",
        "job.notes": [],
        "job.remixed_from": None,
    }


def test_the_values_of_a_failed_job_say_its_own_error_or_the_declared_one() -> None:
    job = _job(created_at=1000.0, outcome="failed", fail_progress=0.12345, expires_at=5000.0)
    state = state_at(job, 2000.0)
    values = wh.job_values(_declared(), job, state, "b", "v")
    assert values["status"] == "broken"
    assert values["progress"] == 0.123 and values["progress_percent"] == 12
    assert values["error.code"] == "E_DEFAULT"
    assert values["error.message"] == "the default failure"
    assert values["completed_at"] is None and values["expires_at"] is None
    assert values["event"] == "video.generation.failed"
    assert values["event.created_at_unix"] == 1003  # 1000 + 2 + 10 * 0.12345
    own = dataclasses.replace(job, error_code="E_OWN", error_message="its own words")
    values = wh.job_values(_declared(), own, state_at(own, 2000.0), "b", "v")
    assert (values["error.code"], values["error.message"]) == ("E_OWN", "its own words")


def test_a_failed_job_s_percent_is_its_progress_in_whole_percents() -> None:
    job = _job(outcome="failed", fail_progress=0.129)
    assert (
        wh.job_values(_declared(), job, state_at(job, START + 100), "b", "v")["progress_percent"]
        == 12
    )


def test_the_event_time_is_the_end_the_state_says() -> None:
    job = _job(created_at=1000.0)  # its plan ends at 1012
    state = JobState(Status.COMPLETED, 1.0, 1002.0, 1500.25)
    values = wh.job_values(_declared(), job, state, "b", "v")
    assert values["event.created_at_unix"] == 1500 and values["completed_at"] == 1500
    assert values["event.created_at"] == "1970-01-01T00:25:00.250Z"


def test_a_job_that_fails_at_its_very_end_is_still_short_of_100_percent() -> None:
    job = _job(outcome="failed", fail_progress=1.0)
    values = wh.job_values(_declared(), job, state_at(job, START + 100), "b", "v")
    assert values["progress_percent"] == 99 and values["progress"] == 1.0


def test_a_state_without_an_end_time_takes_the_plan_s_end() -> None:
    job = _job(created_at=1000.0, expires_at=0.0)
    state = JobState(Status.COMPLETED, 1.0, 1002.0, None)
    values = wh.job_values(_declared(), job, state, "b", "v")
    assert values["completed_at"] is None  # no end time: none shown
    assert values["expires_at"] is None  # an expiry of 0 is none
    assert values["event.created_at_unix"] == 1012
    assert values["event.created_at"] == "1970-01-01T00:16:52.000Z"


def test_a_status_without_an_event_and_a_provider_without_webhooks_have_none() -> None:
    hooks = _openrouter().webhooks
    assert hooks is not None
    only_done = _declared(webhooks=dataclasses.replace(hooks, events={"completed": "done!"}))
    failed = _job(outcome="failed")
    assert (
        wh.job_values(only_done, failed, state_at(failed, START + 100), "b", "v")["event"] is None
    )
    done = _job()
    state = state_at(done, START + 100)
    assert wh.job_values(only_done, done, state, "b", "v")["event"] == "done!"
    assert wh.job_values(_declared(webhooks=None), done, state, "b", "v")["event"] is None


def test_which_apis_declare_webhooks() -> None:
    assert wh.webhooks_of("openrouter-videos") is _openrouter()
    assert wh.webhooks_of("vtrix-generation") is None  # declared, without webhooks
    assert wh.webhooks_of("openrouter") is None  # a prefix is no contract
    assert Webhooks.declaring() == frozenset({"openrouter-videos"})


# ---------------------------------------------------------------------- owed, and shown


def test_a_new_webhooks_starts_idle_on_the_wall_clock(service: Service, clocks: Clocks) -> None:
    webhooks = Webhooks(service)
    assert webhooks.service is service
    assert webhooks.wall() == WALL
    assert webhooks.stopped is False and webhooks.console is None
    assert webhooks._sending == 0 and webhooks._pid == 0 and webhooks._next_check == 0.0
    assert not webhooks._wake.is_set()
    assert Thread.made == []


def test_an_owed_event_is_a_pending_record_due_at_the_job_s_end(service: Service) -> None:
    webhooks = Webhooks(service)
    job = _job()
    webhooks.owe(job, "http://127.0.0.1:9/in", "http://base", "http://host")
    assert service.store.webhook_get(job.id) == {
        "job_id": job.id,
        "api": "openrouter-videos",
        "url": "http://127.0.0.1:9/in",
        "base_url": "http://base",
        "host_url": "http://host",
        "state": "pending",
        "attempts": 0,
        "event": None,
        "body": None,
        "headers": None,
        "last": None,
        "due": START + 12.0,
        "open": True,
    }
    assert webhooks._wake.is_set()
    [thread] = Thread.made  # this worker's dispatcher runs
    assert thread.target is wh._dispatch and thread.args[0]() is webhooks
    assert thread.name == "webhooks" and thread.daemon is True and thread.started


def test_the_dispatcher_starts_once_per_process_and_never_once_stopped(service: Service) -> None:
    webhooks = Webhooks(service)
    webhooks.stopped = True
    webhooks.started()
    assert Thread.made == [] and webhooks._pid == 0
    webhooks.stopped = False
    webhooks._sending = 3
    old_wake = webhooks._wake
    webhooks.started()
    assert len(Thread.made) == 1 and webhooks._pid == os.getpid()
    assert webhooks._sending == 0 and webhooks._wake is not old_wake  # a fresh start
    webhooks.started()
    assert len(Thread.made) == 1
    webhooks._pid = -1  # as in a forked worker: its parent's thread is not there
    webhooks.started()
    assert len(Thread.made) == 2


def test_a_dispatcher_started_by_another_thread_meanwhile_is_not_started_again(
    service: Service,
) -> None:
    webhooks = Webhooks(service)

    class Raced:
        def __enter__(self) -> None:
            webhooks._pid = os.getpid()  # another thread got there while this one waited

        def __exit__(self, *_: Any) -> None:
            pass

    webhooks._lock = Raced()  # type: ignore[assignment]
    webhooks.started()
    assert Thread.made == []


def test_the_admin_api_shows_a_job_s_webhook(service: Service) -> None:
    webhooks = Webhooks(service)
    service.config.webhook_attempts = 7
    job = _job()
    assert webhooks.status(job) is None  # none owed
    webhooks.owe(job, "http://u:p@127.0.0.1:9/in?token=hush", "b", "h")
    assert webhooks.status(job) == {
        "state": "pending",
        "url": "http://127.0.0.1:9/in",
        "event": None,
        "attempts": 0,
        "max_attempts": 7,
        "next_at": START + 12.0,
        "last": None,
    }
    service.store.webhook_claim(1e12, 0.0, 10.0, "t", 1)
    service.store.webhook_settle(
        job.id, {**service.store.webhook_get(job.id), "state": "delivered"}, None, "t"
    )
    shown = webhooks.status(job)
    assert shown is not None and shown["state"] == "delivered" and shown["next_at"] is None


def test_a_job_of_an_api_without_webhooks_shows_none(service: Service) -> None:
    webhooks = Webhooks(service)
    job = _job(api="vtrix-generation")
    service.store.webhook_put(job.id, {"state": "pending"}, 1.0)  # whatever the store holds
    assert webhooks.status(job) is None


def test_a_job_that_ends_early_makes_its_event_due_then(service: Service) -> None:
    webhooks = Webhooks(service)
    job = _job()
    webhooks.owe(job, "http://127.0.0.1:9/in", "b", "h")
    webhooks._wake.clear()
    failed = dataclasses.replace(job, outcome="failed", fail_progress=0.2)
    webhooks.ended_early(failed)
    assert webhooks._wake.is_set()
    record = service.store.webhook_get(job.id)
    assert record is not None and record["due"] == START + 4.0 and record["state"] == "pending"
    # the record as kept (a claim hands it out): no `due` or `open` of a read inside it
    [claimed] = service.store.webhook_claim(START + 4.0, 0.0, 1.0, "t", 1)
    assert "due" not in claimed and "open" not in claimed


def test_an_event_already_attempted_or_closed_or_never_owed_is_left_as_it_is(
    service: Service,
) -> None:
    webhooks = Webhooks(service)
    webhooks.ended_early(_job(id="never"))  # nothing owed: nothing done
    assert service.store.webhook_get("never") is None
    job = _job()
    webhooks.owe(job, "http://127.0.0.1:9/in", "b", "h")
    [record] = service.store.webhook_claim(1e12, 0.0, 10.0, "t", 1)
    service.store.webhook_settle(job.id, {**record, "attempts": 1}, START + 50, "t")
    webhooks._wake.clear()
    webhooks.ended_early(dataclasses.replace(job, outcome="failed"))
    assert service.store.webhook_get(job.id)["due"] == START + 50  # type: ignore[index]
    assert not webhooks._wake.is_set()
    [record] = service.store.webhook_claim(1e12, 20.0, 30.0, "u", 1)
    service.store.webhook_settle(job.id, {**record, "attempts": 0}, None, "u")  # closed
    webhooks.ended_early(dataclasses.replace(job, outcome="failed"))
    assert service.store.webhook_get(job.id)["open"] is False  # type: ignore[index]
    assert not webhooks._wake.is_set()


def test_stopping_wakes_the_dispatcher_to_end(service: Service) -> None:
    webhooks = Webhooks(service)
    webhooks.stop()
    assert webhooks.stopped and webhooks._wake.is_set()
    webhooks.owe(_job(), "http://127.0.0.1:9/in", "b", "h")
    assert Thread.made == []  # a stopped one never starts


# ---------------------------------------------------------------------- a request seen


class Looks:
    """``webhook_next_due`` of the store, counted (and answering what it is told)."""

    def __init__(self, answer: float | None | BaseException) -> None:
        self.asked: list[float] = []
        self.answer = answer

    def __call__(self, wall: float) -> float | None:
        self.asked.append(wall)
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


def test_a_request_makes_a_worker_without_a_dispatcher_look_for_events_owed(
    service: Service, clocks: Clocks
) -> None:
    webhooks = Webhooks(service)
    looks = Looks(None)
    service.store.webhook_next_due = looks  # type: ignore[method-assign]
    webhooks.request_seen()
    assert looks.asked == [wh.FOREVER] and Thread.made == []
    clocks.monotonic_now += 0.99  # at most once a second
    webhooks.request_seen()
    assert len(looks.asked) == 1
    clocks.monotonic_now += 0.01
    looks.answer = 123.0  # a record owed (by a worker that died)
    webhooks.request_seen()
    assert len(looks.asked) == 2 and len(Thread.made) == 1
    clocks.monotonic_now += 5
    webhooks.request_seen()  # its dispatcher runs now: no more looks
    assert len(looks.asked) == 2


def test_a_request_looks_not_when_stopped_nor_when_the_store_is_down(
    service: Service, clocks: Clocks
) -> None:
    webhooks = Webhooks(service)
    looks = Looks(StoreUnavailable("redis is down"))
    service.store.webhook_next_due = looks  # type: ignore[method-assign]
    webhooks.request_seen()
    assert len(looks.asked) == 1 and Thread.made == []  # the outage is no record owed
    webhooks.stopped = True
    clocks.monotonic_now += 10
    webhooks.request_seen()
    assert len(looks.asked) == 1


# ---------------------------------------------------------------------- the dispatcher's turn


def test_a_turn_with_nothing_owed_sleeps_long_in_memory_and_polls_a_shared_store(
    service: Service,
) -> None:
    webhooks = Webhooks(service)
    assert webhooks.step() == wh.MEMORY_IDLE == 5.0
    service.config.store = "sqlite:/tmp/x.sqlite"  # another worker may write records
    assert webhooks.step() == wh.IDLE_POLL == 0.5


def test_a_turn_claims_what_is_due_and_hands_each_to_a_sender(service: Service) -> None:
    webhooks = Webhooks(service)
    for n in range(3):
        webhooks.owe(_job(id=f"video_{n}", created_at=START + n), "http://127.0.0.1:9/in", "b", "h")
    webhooks.owe(_job(id="video_late", created_at=START + 500), "http://127.0.0.1:9/in", "b", "h")
    webhooks.owe(_job(id="video_9", created_at=START + 9), "http://127.0.0.1:9/in", "b", "h")
    Thread.made.clear()
    service.clock.advance(100)
    webhooks._sending = 2  # two of the four senders busy: two claimed
    assert webhooks.step() == wh.BUSY_POLL == 0.05  # one is still open: look again soon
    assert [t.args[0]["job_id"] for t in Thread.made] == ["video_0", "video_1"]
    for thread in Thread.made:
        assert thread.target == webhooks._send and thread.name == "webhook-sender"
        assert thread.daemon is True and thread.started
    assert webhooks._sending == 4
    assert webhooks.step() == 0.05  # no sender free: nothing claimed
    assert len(Thread.made) == 2
    webhooks._sending = 3  # one sender free: one claimed
    webhooks.step()
    assert [t.args[0]["job_id"] for t in Thread.made][2:] == ["video_2"]
    assert webhooks._sending == 4
    webhooks._sending = 0
    webhooks.step()
    assert [t.args[0]["job_id"] for t in Thread.made][3:] == ["video_9"]


def test_a_turn_with_every_sender_busy_does_not_look_for_work(service: Service) -> None:
    """It reads only when the next turn is (one look at the store per turn: every worker's
    dispatcher turns every 50 ms while a record is open)."""
    webhooks = Webhooks(service)
    webhooks.owe(_job(), "http://127.0.0.1:9/in", "b", "h")
    service.clock.advance(100)
    looks = Looks(START + 12.0)
    service.store.webhook_next_due = looks  # type: ignore[method-assign]
    webhooks._sending = wh.SENDERS
    assert webhooks.step() == 0.05
    assert len(looks.asked) == 1


@pytest.mark.parametrize(("advance", "limit"), [(100.0, 0), (5.0, 4)])
def test_a_claim_with_nothing_to_take_writes_nothing(
    service: Service, advance: float, limit: int
) -> None:
    """No room, or nothing due yet: the store's claim (a write in SQLite and Redis, which
    every worker's read instants notice) is not made."""
    webhooks = Webhooks(service)
    webhooks.owe(_job(), "http://127.0.0.1:9/in", "b", "h")
    service.clock.advance(advance)
    claims: list[Any] = []
    service.store.webhook_claim = lambda *args: claims.append(args) or []  # type: ignore[method-assign]
    assert webhooks.claim(limit) == [] and claims == []


@pytest.mark.parametrize(("ahead", "pause"), [(0.2, 0.2), (3.0, 0.5), (0.01, 0.05), (-5.0, 0.05)])
def test_on_the_real_clock_a_turn_waits_until_the_next_due_within_bounds(
    clocks: Clocks, ahead: float, pause: float
) -> None:
    class Fixed(RealClock):
        def now(self) -> float:
            return 5000.0

    service = Service(clock=Fixed())
    webhooks = Webhooks(service)
    service.store.webhook_put("x", {"job_id": "x"}, 5000.0 + ahead)
    if ahead < 0:  # overdue, and every sender busy: nothing claimed, look again soon
        webhooks._sending = wh.SENDERS
    assert webhooks.step() == pytest.approx(pause)


def test_a_turn_with_the_store_down_waits_and_one_that_fails_is_counted(
    service: Service,
) -> None:
    webhooks = Webhooks(service)
    service.store.webhook_next_due = Looks(StoreUnavailable("down"))  # type: ignore[method-assign]
    assert webhooks.step() == 0.5 and service.errors == []
    broken = RuntimeError("a bug")
    service.store.webhook_next_due = Looks(broken)  # type: ignore[method-assign]
    assert webhooks.step() == 0.5
    assert service.errors == [(broken, "the webhook dispatcher")]


def test_a_sender_frees_its_place_and_wakes_the_dispatcher_whatever_happens(
    service: Service,
) -> None:
    webhooks = Webhooks(service)
    outcomes: list[BaseException | None] = [None, StoreUnavailable("down"), KeyError("bug")]
    seen: list[dict[str, Any]] = []

    def attempt(record: dict[str, Any]) -> dict[str, Any]:
        seen.append(record)
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome
        return record

    webhooks.attempt = attempt  # type: ignore[method-assign]
    webhooks._sending = 3
    for n in range(3):
        webhooks._wake.clear()
        webhooks._send({"job_id": f"j{n}"})
        assert webhooks._sending == 2 - n and webhooks._wake.is_set()
    assert [r["job_id"] for r in seen] == ["j0", "j1", "j2"]
    [(error, where)] = service.errors  # the outage is not an error of the mock's
    assert isinstance(error, KeyError) and where == "a webhook sender"


def test_the_dispatcher_loop_turns_and_waits_until_stopped(service: Service) -> None:
    webhooks = Webhooks(service)
    pauses = [0.5, 5.0, 0.05]
    done: list[Any] = []

    class Wake:
        def wait(self, pause: float) -> None:
            done.append(("wait", pause))
            if len(done) == 5:
                webhooks.stopped = True

        def clear(self) -> None:
            done.append("clear")

    webhooks._wake = Wake()  # type: ignore[assignment]
    webhooks.step = lambda: pauses.pop(0)  # type: ignore[method-assign]
    wh._dispatch(weakref.ref(webhooks))
    assert done == [("wait", 0.5), "clear", ("wait", 5.0), "clear", ("wait", 0.05), "clear"]


def test_the_dispatcher_loop_ends_with_its_webhooks(service: Service) -> None:
    holder = [Webhooks(service)]
    turns: list[float] = []

    class Wake:
        def wait(self, pause: float) -> None:
            turns.append(pause)
            holder.clear()  # the app is dropped while the loop waits
            gc.collect()

        def clear(self) -> None:
            pass

    holder[0]._wake = Wake()  # type: ignore[assignment]
    holder[0].step = lambda: 1.5  # type: ignore[method-assign]
    wh._dispatch(weakref.ref(holder[0]))
    assert turns == [1.5]  # the loop held no reference of its own across the wait


# ---------------------------------------------------------------------- claim


def test_now_reads_a_stepping_clock_without_moving_it(clocks: Clocks) -> None:
    store = MemoryStore()
    service = Service(clock=SteppingClock(store, START, 7.0))
    service.store = store
    webhooks = Webhooks(service)
    assert webhooks.now() == webhooks.now() == START
    virtual = Service()
    virtual.clock.advance(3)  # type: ignore[attr-defined]
    assert Webhooks(virtual).now() == START + 3


def test_a_claim_takes_the_records_due_now_under_a_lease_of_the_deadline_and_a_margin(
    service: Service, clocks: Clocks
) -> None:
    webhooks = Webhooks(service)
    service.config.webhook_timeout_seconds = 4.0
    webhooks.owe(_job(), "http://127.0.0.1:9/in", "b", "h")
    service.clock.advance(11.99)
    assert webhooks.claim(4) == []  # not yet
    service.clock.advance(0.01)
    assert webhooks.claim(0) == []  # no room
    [record] = webhooks.claim(1)  # due exactly now
    assert record["job_id"] == "video_abc123"
    lease = WALL + 4.0 + wh.LEASE_MARGIN
    assert service.store.webhook_next_due(lease - 0.01) is None
    assert service.store.webhook_next_due(lease) == START + 12.0
    assert service.store.webhook_settle(record["job_id"], record, None, webhooks._claim_token())
    assert webhooks.claim(4) == []  # nothing open at all


def test_a_claim_leaves_a_record_another_worker_holds(service: Service, clocks: Clocks) -> None:
    webhooks = Webhooks(service)
    webhooks.owe(_job(), "http://127.0.0.1:9/in", "b", "h")
    service.clock.advance(100)
    service.store.webhook_claim(1e12, 0.0, WALL + 10, "other", 1)
    assert webhooks.claim(4) == []
    clocks.wall = WALL + 10  # its lease lapsed
    assert len(webhooks.claim(4)) == 1


def test_a_worker_that_is_process_1_names_itself_too(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A container's entrypoint runs as process 1: its lease token is still its own."""
    monkeypatch.setattr(wh, "os", types.SimpleNamespace(getpid=lambda: 1))
    assert re.fullmatch(r"1-[0-9a-f]{12}", Webhooks(service)._claim_token())


def test_a_worker_names_itself_in_a_lease_and_a_forked_one_anew(service: Service) -> None:
    webhooks = Webhooks(service)
    token = webhooks._claim_token()
    assert re.fullmatch(rf"{os.getpid()}-[0-9a-f]{{12}}", token)
    assert webhooks._claim_token() == token
    assert Webhooks(service)._claim_token() != token  # each its own
    webhooks._token_pid = -1  # as after a fork
    assert webhooks._claim_token() != token


# ---------------------------------------------------------------------- attempts


def test_a_first_attempt_builds_signs_and_posts_the_event_and_a_2xx_delivers_it(
    service: Service, posts: Posts, clocks: Clocks
) -> None:
    webhooks = Webhooks(service)
    service.config.webhook_timeout_seconds = 2.5
    service.config.webhook_allow_hosts = ("a.test",)
    job, record = _owed(service, webhooks)
    done = webhooks.attempt(record)
    [sent] = posts.sent
    assert sent["url"] == "http://127.0.0.1:9/in?token=hush" and sent["timeout"] == 2.5
    assert sent["allowed"] == ("a.test",)
    headers = sent["headers"]
    assert _signed(headers, sent["body"]) == int(WALL)
    assert headers == {
        "Content-Type": "application/json",
        "User-Agent": "sora-mock-webhooks",
        "X-OpenRouter-Idempotency-Key": f"{job.id}-completed",
        "X-OpenRouter-Signature": headers["X-OpenRouter-Signature"],
    }
    event = json.loads(sent["body"])
    assert event == {
        "type": "video.generation.completed",
        "created_at": wh._iso(START + 12.0),
        "data": {
            "id": job.id,
            "status": "completed",
            "generation_id": job.id,
            "model": "openai/sora-2-pro",
            "unsigned_urls": [f"http://base/api/v1/videos/{job.id}/content?index=0"],
            "usage": {"cost": 1.2, "is_byok": False},
        },
    }
    assert sent["body"] == json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
    now = START + 13.0
    assert done["state"] == "delivered" and done["attempts"] == 1
    assert done["last"] == {"status": 204, "error": None, "at": now}
    assert done["event"] == "video.generation.completed"
    kept = service.store.webhook_get(job.id)
    assert kept == {**done, "due": None, "open": False}
    assert webhooks.claim(4) == []


def test_each_attempt_is_a_journal_entry(service: Service, posts: Posts, clocks: Clocks) -> None:
    webhooks = Webhooks(service)
    job, record = _owed(service, webhooks, url="http://u:pw@127.0.0.1:9/in?token=hush")
    posts.answers = [(503, None)]
    webhooks.attempt(record)
    writer = service.journal_writer
    assert writer.calls[0] == "opened"
    [(closed, entry)] = writer.calls[1:]
    assert closed == "closed"
    request_id = entry.pop("request_id")
    assert re.fullmatch(r"webhook_[0-9a-f]{16}", request_id)
    assert entry == {
        "time": START + 13.0,
        "method": "POST",
        "path": "http://127.0.0.1:9/in",
        "provider": "openrouter",
        "operation": "webhook",
        "status": 503,
        "latency_ms": 250.0,
        "key": "key_owner1",
        "scenario": None,
        "worker": os.getpid(),
        "error": "the receiver answered 503",
        "job_id": job.id,
        "client": None,
        "webhook": "video.generation.completed",
        "attempt": 1,
    }


def test_an_attempt_without_an_answer_is_status_0_in_the_journal_and_on_the_console(
    service: Service, posts: Posts, clocks: Clocks
) -> None:
    webhooks = Webhooks(service)
    lines: list[RequestLine] = []
    webhooks.console = types.SimpleNamespace(write=lines.append)
    job, record = _owed(service, webhooks)
    clocks.counter = [1.0, 1.0123456]
    posts.answers = [(None, "connection refused")]
    done = webhooks.attempt(record)
    assert done["last"] == {"status": None, "error": "connection refused", "at": START + 13.0}
    entry = service.journal_writer.calls[1][1]
    assert entry["status"] == 0 and entry["latency_ms"] == 12.346
    assert lines == [
        RequestLine(
            time=WALL,
            method="POST",
            path="http://127.0.0.1:9/in",
            provider="openrouter",
            status=0,
            latency_ms=pytest.approx(12.3456),  # type: ignore[arg-type]
            scenario="webhook #1: connection refused",
            error="connection refused",
            job_id=job.id,
        )
    ]


def test_the_console_line_of_an_answered_attempt_names_only_the_attempt(
    service: Service, posts: Posts, clocks: Clocks
) -> None:
    webhooks = Webhooks(service)
    lines: list[RequestLine] = []
    webhooks.console = types.SimpleNamespace(write=lines.append)
    _, record = _owed(service, webhooks)
    posts.answers = [(500, None)]
    record = webhooks.attempt(record)
    service.clock.advance(10)
    [record] = webhooks.claim(4)
    webhooks.attempt(record)
    assert [(line.scenario, line.status, line.error) for line in lines] == [
        ("webhook #1", 500, "the receiver answered 500"),
        ("webhook #2", 204, None),
    ]


@pytest.mark.parametrize(
    ("status", "delivered"), [(199, False), (200, True), (299, True), (300, False)]
)
def test_only_a_2xx_delivers(service: Service, posts: Posts, status: int, delivered: bool) -> None:
    webhooks = Webhooks(service)
    _, record = _owed(service, webhooks)
    posts.answers = [(status, None)]
    done = webhooks.attempt(record)
    assert done["state"] == ("delivered" if delivered else "retrying")
    assert done["last"]["error"] == (None if delivered else f"the receiver answered {status}")


def test_a_failed_attempt_is_retried_after_a_backoff_doubled_each_time_up_to_300_s(
    service: Service, posts: Posts
) -> None:
    webhooks = Webhooks(service)
    service.config.webhook_backoff_seconds = 40.0
    service.config.webhook_attempts = 6
    job, record = _owed(service, webhooks)
    posts.answers = [(500, None)] * 6
    waits = []
    for number in range(1, 6):
        done = webhooks.attempt(record)
        assert done["state"] == "retrying" and done["attempts"] == number
        kept = service.store.webhook_get(job.id)
        assert kept is not None and kept["open"]
        waits.append(kept["due"] - service.clock.now())
        assert webhooks.claim(4) == []  # not before its time
        service.clock.advance(waits[-1])
        [record] = webhooks.claim(4)
    assert waits == [40.0, 80.0, 160.0, 300.0, 300.0]
    done = webhooks.attempt(record)  # the sixth and last
    assert done["state"] == "given_up" and done["attempts"] == 6
    assert service.store.webhook_get(job.id)["open"] is False  # type: ignore[index]
    # every attempt sent the same bytes and the same key
    assert len({p["body"] for p in posts.sent}) == 1 and len(posts.sent) == 6
    keys = {p["headers"]["X-OpenRouter-Idempotency-Key"] for p in posts.sent}
    assert keys == {f"{job.id}-completed"}


def test_a_single_attempt_allowed_is_given_up_at_once(service: Service, posts: Posts) -> None:
    webhooks = Webhooks(service)
    service.config.webhook_attempts = 1
    _, record = _owed(service, webhooks)
    posts.answers = [(None, "timed out after 10 s")]
    assert webhooks.attempt(record)["state"] == "given_up"


def test_a_retry_sends_what_was_built_even_if_the_job_is_gone_since(
    service: Service, posts: Posts, clocks: Clocks
) -> None:
    webhooks = Webhooks(service)
    job, record = _owed(service, webhooks)
    posts.answers = [(500, None)]
    webhooks.attempt(record)
    service.store.delete(job.id)
    service.clock.advance(10)
    [record] = webhooks.claim(4)
    clocks.wall += 60  # a later attempt: signed anew, at its own time
    assert webhooks.attempt(record)["state"] == "delivered"
    first, second = posts.sent
    assert first["body"] == second["body"]
    assert _signed(second["headers"], second["body"]) == int(WALL) + 60
    entry = service.journal_writer.calls[-1][1]
    assert entry["key"] is None and entry["attempt"] == 2


def test_without_a_secret_the_event_goes_unsigned(service: Service, posts: Posts) -> None:
    webhooks = Webhooks(service)
    service.config.webhook_secret = None
    _, record = _owed(service, webhooks)
    webhooks.attempt(record)
    assert "X-OpenRouter-Signature" not in posts.sent[0]["headers"]


def test_a_job_that_is_gone_gives_its_event_up_without_sending(
    service: Service, posts: Posts
) -> None:
    webhooks = Webhooks(service)
    job, record = _owed(service, webhooks)
    service.store.delete(job.id)
    done = webhooks.attempt(record)
    assert done["state"] == "given_up" and done["attempts"] == 0
    assert done["last"] == {"status": None, "error": "the job is gone", "at": None}
    assert service.store.webhook_get(job.id)["open"] is False  # type: ignore[index]
    assert posts.sent == [] and service.journal_writer.calls == []


def test_an_event_of_an_api_without_webhooks_is_given_up_without_sending(
    service: Service, posts: Posts
) -> None:
    webhooks = Webhooks(service)
    job = _job(api="vtrix-generation")
    service.store.add(job)
    webhooks.owe(job, "http://127.0.0.1:9/in", "b", "h")
    service.clock.advance(100)
    [record] = webhooks.claim(4)
    done = webhooks.attempt(record)
    assert done["state"] == "given_up"
    assert done["last"] == {"status": None, "error": "its API declares no webhooks", "at": None}
    assert service.store.webhook_get(job.id)["open"] is False  # type: ignore[index]
    assert posts.sent == []


def test_an_event_whose_job_has_not_ended_waits_for_the_new_end(
    service: Service, posts: Posts
) -> None:
    webhooks = Webhooks(service)
    job, record = _owed(service, webhooks)  # claimed at START + 13
    later = dataclasses.replace(job, render_seconds=40.0)  # its plan changed: ends at + 42
    service.store.add(later)
    done = webhooks.attempt(record)
    assert done["state"] == "pending" and done["attempts"] == 0 and posts.sent == []
    kept = service.store.webhook_get(job.id)
    assert kept is not None and kept["due"] == START + 42.0 and kept["open"]
    assert webhooks.claim(4) == []  # the lease was given back, and it is not due yet


def test_an_event_whose_job_ends_within_a_second_looks_again_a_second_later(
    service: Service, posts: Posts
) -> None:
    webhooks = Webhooks(service)
    job, record = _owed(service, webhooks)  # claimed at START + 13
    service.store.add(dataclasses.replace(job, render_seconds=11.5))  # ends at START + 13.5
    webhooks.attempt(record)
    assert service.store.webhook_get(job.id)["due"] == START + 14.0  # type: ignore[index]


def test_a_status_the_provider_sends_no_event_for_is_not_sent(
    service: Service, posts: Posts, monkeypatch: pytest.MonkeyPatch
) -> None:
    openrouter = _openrouter()
    assert openrouter.webhooks is not None
    only_done = dataclasses.replace(
        openrouter,
        webhooks=dataclasses.replace(openrouter.webhooks, events={"completed": "done"}),
    )
    monkeypatch.setattr(decl, "declarations", lambda: [only_done])
    webhooks = Webhooks(service)
    job, record = _owed(service, webhooks, _job(outcome="failed"))
    done = webhooks.attempt(record)
    assert done["state"] == "not_sent" and done["event"] is None and done["body"] is None
    assert done["last"] == {
        "status": None,
        "error": "openrouter sends no event when a job is failed",
        "at": None,
    }
    assert service.store.webhook_get(job.id)["open"] is False  # type: ignore[index]
    assert posts.sent == []


def test_a_declared_body_and_headers_are_filled_with_the_job_s_values(
    service: Service, posts: Posts, monkeypatch: pytest.MonkeyPatch
) -> None:
    openrouter = _openrouter()
    assert openrouter.webhooks is not None
    hooks = dataclasses.replace(
        openrouter.webhooks,
        body={"clip": "{video_url}", "n": "{job.seconds}", "state": "{status}"},
        headers={"Content-Type": "application/cloudevents+json", "X-N": "{job.seconds}"},
        signature=None,
    )
    monkeypatch.setattr(
        decl, "declarations", lambda: [dataclasses.replace(openrouter, webhooks=hooks)]
    )
    webhooks = Webhooks(service)
    job, record = _owed(service, webhooks)
    webhooks.attempt(record)
    [sent] = posts.sent
    assert json.loads(sent["body"]) == {
        "clip": f"http://host/media/{job.id}/video.mp4",
        "n": 4,
        "state": "completed",
    }
    # the declared headers are text and come last; no signature is declared, none is sent
    assert sent["headers"] == {
        "Content-Type": "application/cloudevents+json",
        "User-Agent": "sora-mock-webhooks",
        "X-N": "4",
    }


def test_a_host_no_longer_allowed_is_given_up_without_a_retry(
    service: Service, posts: Posts
) -> None:
    webhooks = Webhooks(service)
    service.config.webhook_allow_hosts = ("hooks.example.org",)
    job, record = _owed(service, webhooks, url="https://hooks.example.org/in")
    service.config.webhook_allow_hosts = ()  # restarted without the flag
    done = webhooks.attempt(record)
    assert posts.sent == []
    assert done["state"] == "given_up" and done["attempts"] == 1
    assert done["last"]["status"] is None
    assert done["last"]["error"].startswith("the mock delivers webhooks only to loopback")
    assert service.store.webhook_get(job.id)["open"] is False  # type: ignore[index]
    entry = service.journal_writer.calls[1][1]
    assert entry["status"] == 0 and entry["error"] == done["last"]["error"]


def test_an_attempt_reads_a_stepping_clock_without_moving_it(clocks: Clocks, posts: Posts) -> None:
    store = MemoryStore()
    service = Service(clock=SteppingClock(store, START, 0.0))
    service.store = store
    webhooks = Webhooks(service)
    job = _job()
    store.add(job)
    webhooks.owe(job, "http://127.0.0.1:9/in", "b", "h")
    store.clock_advance(20.0, START)
    service.clock.step = 1000.0  # type: ignore[attr-defined]  # any read would move it far
    [record] = webhooks.claim(4)
    done = webhooks.attempt(record)
    assert done["last"]["at"] == START + 20.0
    assert service.journal_writer.calls[1][1]["time"] == START + 20.0


def test_a_retry_whose_provider_is_no_longer_declared_is_given_up(
    service: Service, posts: Posts, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record built and tried once, then the server restarted without the provider's file
    (a shared store keeps the record): given up in so many words, as a first attempt would
    be, not an error at every lease."""
    webhooks = Webhooks(service)
    job, record = _owed(service, webhooks)
    posts.answers = [(500, None)]
    webhooks.attempt(record)
    service.clock.advance(10)
    [record] = webhooks.claim(4)
    monkeypatch.setattr(decl, "declarations", lambda: [])
    done = webhooks.attempt(record)
    assert done["state"] == "given_up" and done["attempts"] == 1
    assert done["last"] == {"status": None, "error": "its API declares no webhooks", "at": None}
    assert service.store.webhook_get(job.id)["open"] is False  # type: ignore[index]
    assert len(posts.sent) == 1 and service.errors == []
