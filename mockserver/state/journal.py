"""The request journal's way into the store: at once when the worker is idle, in batches
under load.

A journal write is a store transaction; one per request was the largest single cost of a
status poll served by several workers (they queue for SQLite's write lock). So a worker keeps
the entries of the requests it answered while others are still in flight, and writes them in
one transaction when the last of those requests finishes, when ``max_batch`` are waiting, or
``max_age`` seconds after the first (a background thread sees to that when no request comes).

What a client can rely on: once every request it sent has been answered, the journal holds
them all, whichever worker it asks; a read of the journal first writes this worker's own.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger("mockserver")

#: this process's id (``os.getpid`` is a system call: once per process, again in a forked child)
_pid = [os.getpid()]
os.register_at_fork(after_in_child=lambda: _pid.__setitem__(0, os.getpid()))


def worker_pid() -> int:
    """This process's id, without a system call."""
    return _pid[0]


@dataclass
class JournalEntry:
    time: float
    method: str
    path: str
    provider: str
    operation: str | None
    status: int
    latency_ms: float
    request_id: str
    key: str | None
    scenario: str | None
    #: the process id of the worker that answered
    worker: int = field(default_factory=worker_pid)
    #: the error message answered, for a 4xx or 5xx
    error: str | None = None
    #: the job the request created or named
    job_id: str | None = None
    #: who sent it, by its ``X-Mock-Client`` header (``dashboard``: the dashboard's own)
    client: str | None = None
    #: what the request carried, bounded and redacted (mockserver.http.requests_log.capture)
    request: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The entry as stored, each text cut to ``MAX_JOURNAL_TEXT`` characters: a request
        path (and the id and error message that repeat it) can be as long as the server's
        header limit allows, and the journal keeps a bounded number of entries, not bytes."""
        entry = dict(self.__dict__)
        for name, value in entry.items():
            if isinstance(value, str) and len(value) > MAX_JOURNAL_TEXT:
                entry[name] = value[:MAX_JOURNAL_TEXT] + "…"
        return entry


#: longest text (path, job id, error message, ...) a journal entry keeps, in characters
MAX_JOURNAL_TEXT = 1024


class JournalSink(Protocol):
    def journal_add(self, *entries: dict[str, Any]) -> None: ...


#: entries kept for a retry while the store refuses journal writes (a full disk): beyond it,
#: the oldest go first
MAX_WAITING = 10_000


class JournalWriter:
    def __init__(self, sink: JournalSink, *, max_batch: int = 64, max_age: float = 0.05) -> None:
        self._sink = sink
        self.max_batch = max_batch
        self.max_age = max_age
        self._failing = False  # the last write failed (logged once, until one succeeds)
        #: called at each write the store refuses (mockserver.state.metrics counts them)
        self.on_error: Callable[[], object] | None = None
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()  # batches reach the store in the order taken
        self._wake = threading.Condition(self._lock)
        self._pending: list[dict[str, Any]] = []
        self._since = 0.0
        self._busy = 0
        self._pid = 0

    def opened(self) -> None:
        """A request began in this worker."""
        with self._lock:
            self._busy += 1

    def closed(self, entry: dict[str, Any] | None) -> None:
        """A request was answered; ``entry`` is its journal entry (None: not journalled)."""
        with self._lock:
            self._busy = max(0, self._busy - 1)
            if entry is not None:
                if not self._pending:
                    self._since = time.monotonic()
                self._pending.append(entry)
            if not self._pending:
                return
            idle = self._busy == 0
            due = (
                idle
                or len(self._pending) >= self.max_batch
                or time.monotonic() - self._since >= self.max_age
            )
            if not due:
                self._watch()
                return
        if idle:  # the last answer in flight: nothing may wait past it
            self.flush()
        elif self._write_lock.acquire(blocking=False):
            try:
                self._write()
            finally:
                self._write_lock.release()
        else:  # a write is under way: the next one (or the watcher) takes these
            with self._lock:
                self._watch()

    def flush(self) -> None:
        """Write every waiting entry now."""
        with self._write_lock:
            self._write()

    def _write(self) -> None:
        """(write lock held) Write what waits, in one call. A store that refuses (a full disk,
        a lost Redis) never fails the answer being given: the entries wait for the next write,
        at most ``MAX_WAITING`` of them, and the failure is logged once until a write succeeds."""
        with self._lock:
            batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            self._sink.journal_add(*batch)
        except Exception as exc:  # noqa: BLE001 - the answer goes out; the journal catches up
            if self.on_error is not None:
                self.on_error()
            with self._lock:
                self._pending[:0] = batch
                del self._pending[:-MAX_WAITING]
            if not self._failing:
                self._failing = True
                log.error("writing the request journal failed (%s); retrying", type(exc).__name__)
            return
        if self._failing:
            self._failing = False
            log.warning("writing the request journal works again")

    def _watch(self) -> None:
        """(lock held) Make sure a waiting entry is written within ``max_age`` even if no
        request comes: one thread per process, started on first need (threads do not survive
        a fork)."""
        if self._pid != _pid[0]:
            self._pid = _pid[0]
            atexit.register(self.flush)
            threading.Thread(target=self._run, name="journal-writer", daemon=True).start()
        self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._pending:
                    self._wake.wait()
                delay = self._since + self.max_age - time.monotonic()
                if delay > 0:
                    self._wake.wait(delay)
                    continue
            self.flush()  # a failure is kept, logged and retried by _write
            if self._failing:  # retry no faster than once per max_age
                with self._lock:
                    self._wake.wait(self.max_age)
