"""Webhooks: a job's terminal event POSTed to the callback URL its create named.

What is sent is declared with the provider (the ``webhooks`` block of its ``x-sora-mock``
declaration, read by ``contracts/_declaration.py``): where a create names its callback URL,
the event of each terminal status, the body and headers (templates), and the signature. No
provider has Python of its own here.

The life of one event:

* at create (``DeclaredDialect.create``), a callback URL that is neither loopback nor a host
  the user allows (``--webhook-allow-host``) is refused with a 400 (:func:`refusal`); an
  accepted one becomes a record in the store, due when the job's plan ends it
  (:meth:`Webhooks.owe`): a delivery the mock owes is in the store, not in a thread's memory;
* a dispatcher thread per worker (started when the worker owes an event, or finds one owed
  in a shared store at a request: threads do not survive a fork) notices a due record
  without any poll from the client, whichever clock runs: the virtual clock advanced past
  the job's end makes it due. It claims the record in the store
  (a lease in real seconds: one worker at a time sends it; a worker that dies mid-attempt
  leaves it to another once the lease lapses) and sends it from a sender thread, never from
  a request's thread, within a deadline (connection and answer);
* the body is built once, at the first attempt, and kept with the record: every retry sends
  the same bytes and the same idempotency key; the signature is made anew at each attempt;
* a 2xx answer delivers it; anything else (refused, timed out, another status) is retried
  on the mock's clock, ``webhook_backoff_seconds`` doubled at each retry (at most 300 s), up
  to ``webhook_attempts`` in all, then it is given up;
* each attempt is a journal entry (``operation: webhook``, the URL without its query, the
  status or 0 for no answer, the attempt's number, its latency and error); the admin API's
  job (and the dashboard's job page) says delivered, retrying or given up.

Delivery is at least once: a worker that dies between the receiver's answer and writing it
down leaves the event to be sent again, with the same idempotency key (what the key is for).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Protocol

from contracts import _declaration as decl
from mockserver.http.console import RequestLine
from mockserver.http.webhook_sending import post, refusal, shown_url, sign
from mockserver.state import template_values
from mockserver.state._json import dumps_text
from mockserver.state.clock import RealClock, SteppingClock, VirtualClock
from mockserver.state.lifecycle import Job, JobState, state_at
from mockserver.state.store_guard import StoreUnavailable

__all__ = ["Webhooks", "ends_at", "job_values", "post", "refusal", "shown_url", "sign"]

if TYPE_CHECKING:
    from mockserver.settings.config import MockConfig
    from mockserver.state.clock import Clock
    from mockserver.state.journal import JournalWriter
    from mockserver.state.store import Store


class MockService(Protocol):
    """What the webhooks read of the mock (``mockserver.state.service.MockService`` is one; it
    makes their ``Webhooks``, so this module does not import it)."""

    @property
    def config(self) -> MockConfig: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def store(self) -> Store: ...

    @property
    def journal_writer(self) -> JournalWriter: ...

    def media_path(self, job_id: str, variant: str = "video") -> str: ...

    def note_error(self, exc: BaseException, where: str) -> None: ...


log = logging.getLogger("mockserver")

#: this process's id, kept up to date across forks (``os.getpid`` is a system call, and a
#: request asks whether this worker's dispatcher runs)
_process = [os.getpid()]
os.register_at_fork(after_in_child=lambda: _process.__setitem__(0, os.getpid()))

#: a claim's lease beyond the attempt's own deadline, in real seconds
LEASE_MARGIN = 30.0
#: the longest wait between two retries, in clock seconds
MAX_BACKOFF = 300.0
#: events one worker sends at once (a slow receiver holds one sender, not the others)
SENDERS = 4
#: real seconds between two looks at the store when nothing is due here (another worker's
#: records, a lease that lapsed); a virtual clock is looked at every BUSY_POLL while a record
#: is open (anyone may advance it)
IDLE_POLL = 0.5
BUSY_POLL = 0.05
#: with an in-process store nobody else writes: the dispatcher sleeps until woken
MEMORY_IDLE = 5.0
#: how often a worker without a dispatcher looks for webhooks owed, at a request (seconds)
CHECK_EVERY = 1.0
#: a lease end later than any (real seconds): "any record open at all?"
FOREVER = 1e18
#: the states a record goes through (the admin API's `webhook.state`)
PENDING, RETRYING, DELIVERED, GIVEN_UP = "pending", "retrying", "delivered", "given_up"
#: the job ended in a status its provider sends no event for
NOT_SENT = "not_sent"


# ---------------------------------------------------------------------- what is sent


def ends_at(job: Job) -> float:
    """When the job's plan ends it (completed, or failed where it fails), clock seconds."""
    span = job.render_seconds * (job.fail_progress if job.outcome == "failed" else 1.0)
    return job.created_at + job.queue_seconds + span


def _iso(when: float) -> str:
    moment = dt.datetime.fromtimestamp(when, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def job_values(
    declaration: decl.Declaration,
    job: Job,
    state: JobState,
    base_url: str,
    video_url: str,
) -> dict[str, Any]:
    """The values a template may use (``decl.WEBHOOK_VALUES``) for a job that has ended: the
    job's own as a read renders them (``template_values.job_values``), its URLs, the event."""
    ended = state.finished_at if state.finished_at is not None else ends_at(job)
    return {
        **template_values.job_values(declaration, job, state),
        "base_url": base_url,
        "video_url": video_url,
        "event": declaration.webhooks.events.get(state.status.value)
        if declaration.webhooks
        else None,
        "event.created_at": _iso(ended),
        "event.created_at_unix": int(ended),
    }


# ---------------------------------------------------------------------- the dispatcher


def webhooks_of(api: str) -> decl.Declaration | None:
    """The declaration of the API (contract) ``api`` if it declares webhooks."""
    for declaration in decl.declarations():
        if declaration.contract == api and declaration.webhooks is not None:
            return declaration
    return None


class Webhooks:
    """The webhooks one worker owes and sends (one per ``MockService``)."""

    def __init__(self, service: MockService) -> None:
        self.service = service
        #: real seconds (shared by every process: a lease must mean the same to all); tests
        #: replace it to let a lease lapse without waiting
        self.wall = time.time
        self.stopped = False
        #: the server's console (``mockserver.http.console.RequestLog``): a line per attempt
        self.console: Any = None
        self._lock = threading.Lock()
        self._pid = 0
        self._next_check = 0.0
        self._token = ""
        self._token_pid = 0
        self._sending = 0
        self._wake = threading.Event()

    # -------------------------------------------------------------- owed, and shown

    def owe(self, job: Job, url: str, base_url: str, host_url: str) -> None:
        """Keep the event a created job owes its callback URL (in the store, due when the
        job's plan ends it) and make sure this worker's dispatcher runs."""
        record = {
            "job_id": job.id,
            "api": job.api,
            "url": url,
            "base_url": base_url,
            "host_url": host_url,
            "state": PENDING,
            "attempts": 0,
            "event": None,
            "body": None,
            "headers": None,
            "last": None,
        }
        self.service.store.webhook_put(job.id, record, ends_at(job))
        self.started()
        self._wake.set()

    @staticmethod
    def declaring() -> frozenset[str]:
        """The APIs (contracts) whose declarations have webhooks."""
        return frozenset(d.contract for d in decl.declarations() if d.webhooks is not None)

    def ended_early(self, job: Job) -> None:
        """The job's plan changed (its render failed): its event, not yet attempted, is due
        when the new plan ends it. Nothing holds it now: it was due later."""
        store = self.service.store
        record = store.webhook_get(job.id)
        if record is None or not record.pop("open") or record["attempts"]:
            return
        record.pop("due")
        store.webhook_put(job.id, record, ends_at(job))
        self._wake.set()

    def status(self, job: Job) -> dict[str, Any] | None:
        """What the admin API shows of a job's webhook; None when it has none."""
        if webhooks_of(job.api) is None:
            return None
        record = self.service.store.webhook_get(job.id)
        if record is None:
            return None
        return {
            "state": record["state"],
            "url": shown_url(record["url"]),
            "event": record["event"],
            "attempts": record["attempts"],
            "max_attempts": self.service.config.webhook_attempts,
            "next_at": record["due"] if record["open"] else None,
            "last": record["last"],
        }

    # -------------------------------------------------------------- the thread

    def started(self) -> None:
        """Run this worker's dispatcher thread (once per process: threads do not survive a
        fork)."""
        if self._pid == os.getpid() or self.stopped:
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._sending = 0
            self._wake = threading.Event()
            threading.Thread(
                target=_dispatch, args=(weakref.ref(self),), name="webhooks", daemon=True
            ).start()

    def request_seen(self) -> None:
        """A request reached this worker (a shared store): if its dispatcher is not running,
        look (at most every ``CHECK_EVERY`` seconds) whether the store holds webhooks still
        owed (a worker that died, a server restarted) and run it if so. A worker that owes
        one itself runs it from then on (``owe``)."""
        if self._pid == _process[0] or self.stopped:
            return
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + CHECK_EVERY
        try:
            owed = self.service.store.webhook_next_due(FOREVER) is not None
        except StoreUnavailable:
            owed = False
        if owed:
            self.started()

    def stop(self) -> None:
        self.stopped = True
        self._wake.set()

    def step(self) -> float:
        """One turn of the dispatcher: claim what is due (as many as there are free senders),
        start sending each, and say how long to wait before the next turn (real seconds)."""
        store = self.service.store
        try:
            free = SENDERS - self._sending
            for record in self.claim(free) if free > 0 else []:
                with self._lock:
                    self._sending += 1
                threading.Thread(
                    target=self._send, args=(record,), name="webhook-sender", daemon=True
                ).start()
            upcoming = store.webhook_next_due(self.wall())
        except StoreUnavailable:  # the guard told the console; the records wait in the store
            return IDLE_POLL
        except Exception as exc:  # noqa: BLE001 - the thread goes on; the error is counted
            self.service.note_error(exc, "the webhook dispatcher")
            return IDLE_POLL
        if upcoming is None:
            return IDLE_POLL if self._shared else MEMORY_IDLE
        if isinstance(self.service.clock, RealClock):
            return max(BUSY_POLL, min(upcoming - self.now(), IDLE_POLL))
        return BUSY_POLL

    @property
    def _shared(self) -> bool:
        return self.service.config.store != "memory"

    def _send(self, record: dict[str, Any]) -> None:
        try:
            self.attempt(record)
        except StoreUnavailable:
            pass  # the lease lapses and the record is tried again
        except Exception as exc:  # noqa: BLE001 - a sender never dies loudly; counted
            self.service.note_error(exc, "a webhook sender")
        finally:
            with self._lock:
                self._sending -= 1
            self._wake.set()

    # -------------------------------------------------------------- claim, attempt

    def now(self) -> float:
        """The mock's time, read without moving a stepping clock."""
        clock = self.service.clock
        if isinstance(clock, SteppingClock):
            return VirtualClock.now(clock)
        return clock.now()

    def claim(self, limit: int) -> list[dict[str, Any]]:
        """The records due now that no other worker holds, leased to this one."""
        store = self.service.store
        now, wall = self.now(), self.wall()
        upcoming = store.webhook_next_due(wall)
        if upcoming is None or upcoming > now or limit <= 0:
            return []
        lease = wall + self.service.config.webhook_timeout_seconds + LEASE_MARGIN
        return store.webhook_claim(now, wall, lease, self._claim_token(), limit)

    def _claim_token(self) -> str:
        """This process's name in a lease (a forked worker gets its own)."""
        if self._token_pid != os.getpid():
            self._token_pid = os.getpid()
            self._token = f"{os.getpid()}-{secrets.token_hex(6)}"
        return self._token

    def attempt(self, record: dict[str, Any]) -> dict[str, Any]:
        """One attempt at a claimed record, written back to the store; the record as written."""
        config = self.service.config
        store = self.service.store
        token = self._claim_token()
        job_id = record["job_id"]
        declaration = webhooks_of(record["api"])
        job = store.get(job_id)
        # a retry needs no job (its body is built), but its provider still declared: a
        # restart without the provider's file gives it up, as a first attempt would be
        gone = job is None and record["body"] is None
        if gone or declaration is None or declaration.webhooks is None:
            why = "the job is gone" if gone else "its API declares no webhooks"
            record.update(state=GIVEN_UP, last={"status": None, "error": why, "at": None})
            store.webhook_settle(job_id, record, None, token)
            return record
        if record["body"] is None:
            assert job is not None
            state = state_at(job, self.now())
            if not state.status.terminal:  # not ended yet (its plan changed): look again then
                store.webhook_settle(job_id, record, max(ends_at(job), self.now() + 1), token)
                return record
            self._build(record, declaration, job, state)
            if record["event"] is None:
                why = f"{declaration.prefix} sends no event when a job is {state.status.value}"
                record.update(state=NOT_SENT, last={"status": None, "error": why, "at": None})
                store.webhook_settle(job_id, record, None, token)
                return record
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "sora-mock-webhooks",
            **record["headers"],
        }
        signature = declaration.webhooks.signature
        if signature is not None and config.webhook_secret:
            headers[signature.header] = sign(
                signature, config.webhook_secret, int(time.time()), record["body"]
            )
        number = record["attempts"] + 1
        allowed = config.webhook_allow_hosts
        refused = refusal(record["url"], allowed)
        started = time.perf_counter()
        status: int | None
        error: str | None
        if refused is not None:  # allowed when it was accepted, no longer (a restart)
            status, error = None, refused
        else:
            status, error = post(
                record["url"],
                record["body"].encode(),
                headers,
                config.webhook_timeout_seconds,
                allowed,
            )
        latency_ms = (time.perf_counter() - started) * 1000
        if error is None and status is not None and not 200 <= status < 300:
            error = f"the receiver answered {status}"
        now = self.now()
        due: float | None
        if error is None:
            record["state"], due = DELIVERED, None
        elif number >= config.webhook_attempts or refused is not None:
            record["state"], due = GIVEN_UP, None
        else:
            backoff = config.webhook_backoff_seconds * 2 ** (number - 1)
            record["state"], due = RETRYING, now + min(backoff, MAX_BACKOFF)
        record["attempts"] = number
        record["last"] = {"status": status, "error": error, "at": now}
        self._journal(record, declaration, job, status, error, latency_ms, number, now)
        store.webhook_settle(job_id, record, due, token)
        return record

    def _build(
        self, record: dict[str, Any], declaration: decl.Declaration, job: Job, state: JobState
    ) -> None:
        """The event's body and headers, made once: every retry sends the same."""
        hooks = declaration.webhooks
        assert hooks is not None
        video_url = record["host_url"] + self.service.media_path(job.id)
        values = job_values(declaration, job, state, record["base_url"], video_url)
        event = hooks.events.get(state.status.value)
        record["event"] = event
        if event is None:  # the provider sends nothing for this end
            return
        body = decl.fill(hooks.body, values, state.status.value)
        record["body"] = dumps_text(body)
        record["headers"] = {
            name: str(decl.fill(value, values, state.status.value))
            for name, value in hooks.headers.items()
        }

    def _journal(
        self,
        record: dict[str, Any],
        declaration: decl.Declaration,
        job: Job | None,
        status: int | None,
        error: str | None,
        latency_ms: float,
        number: int,
        now: float,
    ) -> None:
        """The attempt as a journal entry (the fields of a request's, and the attempt's)."""
        entry = {
            "time": now,
            "method": "POST",
            "path": shown_url(record["url"]),
            "provider": declaration.prefix,
            "operation": "webhook",
            "status": status or 0,
            "latency_ms": round(latency_ms, 3),
            "request_id": f"webhook_{secrets.token_hex(8)}",
            "key": job.owner if job is not None else None,
            "scenario": None,
            "worker": os.getpid(),
            "error": error,
            "job_id": record["job_id"],
            "client": None,
            "webhook": record["event"],
            "attempt": number,
        }
        writer = self.service.journal_writer
        writer.opened()
        writer.closed(entry)
        if self.console is not None:
            said = f"webhook #{number}" + (f": {error}" if error and not status else "")
            self.console.write(
                RequestLine(
                    time=time.time(),
                    method="POST",
                    path=entry["path"],
                    provider=declaration.prefix,
                    status=status or 0,
                    latency_ms=latency_ms,
                    scenario=said,
                    error=error,
                    job_id=record["job_id"],
                )
            )


def _dispatch(ref: weakref.ref[Webhooks]) -> None:
    """The dispatcher's loop; it ends with its ``Webhooks`` (an app dropped by a test)."""
    while True:
        webhooks = ref()
        if webhooks is None or webhooks.stopped:
            return
        pause = webhooks.step()
        wake = webhooks._wake
        del webhooks
        wake.wait(pause)
        wake.clear()
