"""Where everything a client can observe lives: jobs, reference images, scenario rules, the
virtual clock, rate-limit buckets, the fault stream (its setting and place) and the journal.

``MemoryStore`` keeps it in this process (one worker). ``SQLiteStore`` keeps it in one SQLite
file in WAL mode: jobs survive a restart, and every worker process of one server shares it, so
N workers behave as one server. A job is written once, when it is accepted, and removed only
by a delete: nothing accepted is lost.
"""

from __future__ import annotations

import bisect
import fcntl
import functools
import heapq
import json
import logging
import mmap
import os
import sqlite3
import struct
import threading
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mockserver._json import dumps_text
from mockserver.lifecycle import Job
from mockserver.store_guard import guarded
from mockserver.store_journal import FileJournal

log = logging.getLogger("mockserver")


@dataclass
class Rule:
    """A scenario switched on through the admin API or a per-key setting."""

    id: int
    scenario: str
    key: str | None = None
    provider: str | None = None
    #: how many more requests it applies to (None: until cleared)
    remaining: int | None = None

    def matches(self, key: str | None, provider: str) -> bool:
        return (self.key is None or self.key == key) and (
            self.provider is None or self.provider == provider
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "scenario": self.scenario,
            "key": self.key,
            "provider": self.provider,
            "remaining": self.remaining,
        }


@dataclass
class Page:
    jobs: list[Job]
    #: more jobs follow ``cursor`` in this order
    has_more: bool
    #: the id to pass as ``after`` for the next page (the last job examined)
    cursor: str | None


@dataclass(frozen=True)
class Filters:
    """Which jobs a page holds; the store walks the narrowest index these allow."""

    api: str | None = None
    owner: str | None = None
    provider: str | None = None
    #: any other condition, tested on each job the walk meets (e.g. its status now)
    where: Callable[[Job], bool] | None = None

    def index(self) -> tuple[str, ...]:
        if self.api is not None and self.owner is not None:
            return ("api-owner", self.api, self.owner)
        if self.api is not None:
            return ("api", self.api)
        if self.owner is not None:
            return ("owner", self.owner)
        if self.provider is not None:
            return ("provider", self.provider)
        return ("all",)

    def accepts(self, job: Job) -> bool:
        return (
            (self.api is None or job.api == self.api)
            and (self.owner is None or job.owner == self.owner)
            and (self.provider is None or job.provider == self.provider)
            and (self.where is None or self.where(job))
        )


def job_indexes(job: Job) -> list[tuple[str, ...]]:
    """Every index a job is listed in, in creation order."""
    return [
        ("all",),
        ("api", job.api),
        ("owner", job.owner),
        ("api-owner", job.api, job.owner),
        ("provider", job.provider),
    ]


class Store(Protocol):
    def add(self, job: Job, image: bytes | None = None) -> None:
        """Keep a job and (stored once per content, under ``job.image_key``) its image."""

    def get(self, job_id: str) -> Job | None: ...
    def replace_job(self, job: Job) -> bool:
        """Write a stored job's record anew (same id, API and owner); False if it is gone."""

    def delete(self, job_id: str) -> bool: ...
    def page(
        self,
        filters: Filters,
        *,
        order: str = "desc",
        after: str | None = None,
        limit: int = 100,
        scan: int | None = None,
    ) -> Page: ...
    def expired(self, now: float, limit: int) -> list[str]: ...
    def stats(self) -> dict[str, int]: ...
    def jobs(
        self,
        *,
        api: str | None = None,
        owner: str | None = None,
        order: str = "desc",
        after: str | None = None,
        limit: int | None = None,
    ) -> tuple[list[Job], bool]: ...
    def put_blob(self, key: str, data: bytes, *, replace: bool = False) -> None:
        """Keep ``data`` under ``key``; a key already held keeps its bytes unless ``replace``
        (blobs are content-addressed: the same key is the same bytes)."""

    def get_blob(self, key: str) -> bytes | None: ...
    def delete_blob(self, key: str) -> bool:
        """Forget the blob under ``key``; whether there was one."""

    def files(self) -> list[tuple[str, int]]:
        """The uploaded files' blobs (``file:<id>``), oldest first, with their sizes."""

    def clock_init(self, start: float) -> float: ...
    def clock_get(self, default: float) -> float: ...
    def clock_advance(self, seconds: float, default: float) -> float: ...
    def add_rule(
        self, scenario: str, key: str | None, provider: str | None, remaining: int | None
    ) -> Rule: ...
    def rules(self) -> list[Rule]: ...
    def clear_rules(self, key: str | None = None) -> int: ...
    def remove_rule(self, rule_id: int) -> Rule | None:
        """Switch off one rule, the others untouched; the rule removed, None if none had it."""

    def take_rule(self, key: str | None, provider: str) -> str | None: ...
    def take_token(self, key: str, capacity: float, per_second: float, now: float) -> float: ...
    def next_count(self, name: str) -> int: ...
    # the seeded fault stream (mockserver.faults.FaultStream): its setting and position
    def faults_setting(self) -> tuple[float, int] | None: ...
    def faults_restart(self, rate: float, seed: int) -> None: ...
    def faults_next(self, rate: float, seed: int) -> tuple[float, int, int] | None: ...
    def journal_add(self, *entries: dict[str, Any]) -> None: ...
    def read_instant(self, job_hint: str | None = None) -> AbstractContextManager[None]: ...
    def journal(self, limit: int) -> list[dict[str, Any]]: ...
    def reset(self) -> None: ...
    def close(self) -> None: ...


def take_page(walk: Iterator[Job], filters: Filters, limit: int, scan: int | None) -> Page:
    """Up to ``limit`` jobs the filters accept, examining at most ``scan`` jobs of the walk
    (a selective filter never makes one request read every job)."""
    found: list[Job] = []
    cursor: str | None = None
    examined = 0
    for job in walk:
        if len(found) == limit or (scan is not None and examined == scan):
            return Page(found, True, cursor)
        examined += 1
        cursor = job.id
        if filters.accepts(job):
            found.append(job)
    return Page(found, False, cursor)


class JobListing:
    """``jobs()``: a page of one API's (and one key's) jobs, as the provider list endpoints
    and the tests read them; every store implements ``page``."""

    def read_instant(self, job_hint: str | None = None) -> AbstractContextManager[None]:
        """A read request's block: reads inside may come from what this thread read before,
        as long as nothing was written since. ``job_hint``: the job the request names, which
        a store may fetch with the rest (Redis does). Only the SQLite and Redis stores do
        anything here."""
        return nullcontext()

    def page(
        self,
        filters: Filters,
        *,
        order: str = "desc",
        after: str | None = None,
        limit: int = 100,
        scan: int | None = None,
    ) -> Page:
        raise NotImplementedError

    def jobs(
        self,
        *,
        api: str | None = None,
        owner: str | None = None,
        order: str = "desc",
        after: str | None = None,
        limit: int | None = None,
    ) -> tuple[list[Job], bool]:
        if limit is None:  # every job: tests and small stores only, never a request path
            found: list[Job] = []
            while True:
                page = self.page(Filters(api, owner), order=order, after=after, limit=1000)
                found += page.jobs
                if not page.has_more:
                    return found, False
                after = page.cursor
        page = self.page(Filters(api, owner), order=order, after=after, limit=limit)
        return page.jobs, page.has_more


#: deleted ids whose place a page cursor may still name (a client paging while jobs go)
GRAVEYARD_SIZE = 10_000


class _Sequence:
    """Ids in creation order (each with its store-wide sequence number): O(1) append and
    removal (a tombstone), and a walk from any sequence number (found by bisection)."""

    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.ids: list[str | None] = []
        self.pos: dict[str, int] = {}
        self.dead = 0

    def __len__(self) -> int:
        return len(self.pos)

    def append(self, job_id: str, seq: int) -> None:
        self.pos[job_id] = len(self.ids)
        self.seqs.append(seq)
        self.ids.append(job_id)

    def remove(self, job_id: str) -> None:
        at = self.pos.pop(job_id, None)
        if at is None:
            return
        self.ids[at] = None
        self.dead += 1
        if self.dead > 64 and self.dead * 2 > len(self.ids):
            live = [(q, i) for q, i in zip(self.seqs, self.ids, strict=True) if i is not None]
            self.seqs = [q for q, _ in live]
            self.ids = [i for _, i in live]
            self.pos = {i: n for n, (_, i) in enumerate(live)}
            self.dead = 0

    def walk(self, order: str, after_seq: int | None) -> Iterator[str]:
        if order == "asc":
            start = 0 if after_seq is None else bisect.bisect_right(self.seqs, after_seq)
            steps = range(start, len(self.ids))
        else:
            end = len(self.ids) if after_seq is None else bisect.bisect_left(self.seqs, after_seq)
            steps = range(end - 1, -1, -1)
        for at in steps:
            job_id = self.ids[at]
            if job_id is not None:
                yield job_id


class MemoryStore(JobListing):
    def __init__(self, journal_size: int = 1000) -> None:
        self.journal_size = journal_size
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._jobs: dict[str, Job] = {}
            self._indexes: dict[tuple[str, ...], _Sequence] = {}
            self._seq_of: dict[str, int] = {}
            self._graveyard: OrderedDict[str, int] = OrderedDict()
            self._job_seq = 0
            self._expiry: list[tuple[float, str]] = []  # a heap
            self._blobs: dict[str, bytes] = {}
            #: how many jobs use each reference image (stored once per content)
            self._refs: dict[str, int] = {}
            self._clock: float | None = None
            self._rules: list[Rule] = []
            self._rule_seq = 0
            self._buckets: dict[str, tuple[float, float]] = {}
            self._counters: dict[str, int] = {}
            #: the fault stream: the rate and seed set at run time (None: the start-up flags),
            #: and how many requests drew from it since it (re)started
            self._faults: tuple[float | None, int | None, int] = (None, None, 0)
            self._journal: deque[dict[str, Any]] = deque(maxlen=self.journal_size)

    def add(self, job: Job, image: bytes | None = None) -> None:
        with self._lock:
            if job.image_key and image is not None:
                self._blobs.setdefault(job.image_key, image)
            self._jobs[job.id] = Job.from_dict(job.to_dict())
            self._job_seq += 1
            self._seq_of[job.id] = self._job_seq
            for index in job_indexes(job):
                self._indexes.setdefault(index, _Sequence()).append(job.id, self._job_seq)
            if job.expires_at is not None:
                heapq.heappush(self._expiry, (job.expires_at, job.id))
            if job.image_key:
                self._refs[job.image_key] = self._refs.get(job.image_key, 0) + 1

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return Job.from_dict(job.to_dict()) if job else None

    def replace_job(self, job: Job) -> bool:
        with self._lock:
            if job.id not in self._jobs:
                return False
            self._jobs[job.id] = Job.from_dict(job.to_dict())
            return True

    def delete(self, job_id: str) -> bool:
        with self._lock:
            job = self._jobs.pop(job_id, None)
            if job is None:
                return False
            for index in job_indexes(job):
                sequence = self._indexes[index]
                sequence.remove(job.id)
                if not sequence:
                    del self._indexes[index]
            self._graveyard[job.id] = self._seq_of.pop(job.id)
            if len(self._graveyard) > GRAVEYARD_SIZE:
                self._graveyard.popitem(last=False)
            if job.image_key:
                self._refs[job.image_key] -= 1
                if self._refs[job.image_key] <= 0:
                    del self._refs[job.image_key]
                    self._blobs.pop(job.image_key, None)
            return True

    def page(
        self,
        filters: Filters,
        *,
        order: str = "desc",
        after: str | None = None,
        limit: int = 100,
        scan: int | None = None,
    ) -> Page:
        with self._lock:
            after_seq = None
            if after is not None:
                after_seq = self._seq_of.get(after, self._graveyard.get(after))
                if after_seq is None:
                    return Page([], False, None)
            sequence = self._indexes.get(filters.index(), _Sequence())
            walk = (self._jobs[i] for i in sequence.walk(order, after_seq))
            found = take_page(walk, filters, limit, scan)
            found.jobs = [Job.from_dict(j.to_dict()) for j in found.jobs]
            return found

    def stats(self) -> dict[str, int]:
        """What the store holds: jobs, stored images and their bytes (the memory accounting)."""
        with self._lock:
            images = [k for k in self._blobs if k.startswith("image:")]
            return {
                "jobs": len(self._jobs),
                "images": len(images),
                "image_bytes": sum(len(self._blobs[k]) for k in images),
            }

    def expired(self, now: float, limit: int) -> list[str]:
        with self._lock:
            due: list[tuple[float, str]] = []
            while self._expiry and self._expiry[0][0] <= now and len(due) < limit:
                entry = heapq.heappop(self._expiry)
                if entry[1] in self._jobs:  # entries of deleted jobs just go
                    due.append(entry)
            for entry in due:  # a read: they stay until deleted
                heapq.heappush(self._expiry, entry)
            return [job_id for _, job_id in due]

    def put_blob(self, key: str, data: bytes, *, replace: bool = False) -> None:
        with self._lock:
            if replace:
                self._blobs[key] = data
            else:
                self._blobs.setdefault(key, data)

    def get_blob(self, key: str) -> bytes | None:
        with self._lock:
            return self._blobs.get(key)

    def delete_blob(self, key: str) -> bool:
        with self._lock:
            return self._blobs.pop(key, None) is not None

    def files(self) -> list[tuple[str, int]]:
        with self._lock:  # a dict keeps its insertion order: the oldest first
            return [(k, len(v)) for k, v in self._blobs.items() if k.startswith("file:")]

    def clock_init(self, start: float) -> float:
        with self._lock:
            if self._clock is None:
                self._clock = start
            return self._clock

    def clock_get(self, default: float) -> float:
        with self._lock:
            return default if self._clock is None else self._clock

    def clock_advance(self, seconds: float, default: float) -> float:
        with self._lock:
            self._clock = (default if self._clock is None else self._clock) + seconds
            return self._clock

    def add_rule(self, scenario, key, provider, remaining):
        with self._lock:
            self._rule_seq += 1
            rule = Rule(self._rule_seq, scenario, key, provider, remaining)
            self._rules.append(rule)
            return rule

    def rules(self) -> list[Rule]:
        with self._lock:
            return [Rule(**r.to_dict()) for r in self._rules]

    def clear_rules(self, key: str | None = None) -> int:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if key is not None and r.key != key]
            return before - len(self._rules)

    def remove_rule(self, rule_id: int) -> Rule | None:
        with self._lock:
            for rule in self._rules:
                if rule.id == rule_id:
                    self._rules.remove(rule)
                    return Rule(**rule.to_dict())
            return None

    def take_rule(self, key: str | None, provider: str) -> str | None:
        with self._lock:
            # key-specific rules win over global ones; among equals the newest wins
            for rule in sorted(self._rules, key=lambda r: (r.key is None, -r.id)):
                if rule.matches(key, provider):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining <= 0:
                            self._rules.remove(rule)
                    return rule.scenario
            return None

    def take_token(self, key: str, capacity: float, per_second: float, now: float) -> float:
        with self._lock:
            tokens, last = self._buckets.get(key, (capacity, now))
            tokens, wait = _bucket(tokens, last, capacity, per_second, now)
            self._buckets[key] = (tokens, now)
            return wait

    def next_count(self, name: str) -> int:
        with self._lock:
            self._counters[name] = count = self._counters.get(name, 0) + 1
            return count

    def faults_setting(self) -> tuple[float, int] | None:
        rate, seed, _ = self._faults
        return None if rate is None or seed is None else (rate, seed)

    def faults_restart(self, rate: float, seed: int) -> None:
        with self._lock:
            self._faults = (rate, seed, 0)

    def faults_next(self, rate: float, seed: int) -> tuple[float, int, int] | None:
        with self._lock:
            stored_rate, stored_seed, drawn = self._faults
            if stored_rate is not None and stored_seed is not None:
                rate, seed = stored_rate, stored_seed
            if rate <= 0:
                return None
            self._faults = (stored_rate, stored_seed, drawn + 1)
            return rate, seed, drawn + 1

    def journal_add(self, *entries: dict[str, Any]) -> None:
        with self._lock:
            self._journal.extend(entries)

    def journal(self, limit: int) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._journal)[-limit:] if limit > 0 else []

    def close(self) -> None:
        pass


def _bucket(
    tokens: float, last: float, capacity: float, per_second: float, now: float
) -> tuple[float, float]:
    """A token bucket refilled up to ``now``: (tokens left, seconds to wait; 0 if one was taken)."""
    tokens = min(capacity, tokens + max(0.0, now - last) * per_second)
    if tokens >= 1.0:
        return tokens - 1.0, 0.0
    return tokens, (1.0 - tokens) / per_second


_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    api TEXT NOT NULL,
    owner TEXT NOT NULL,
    body TEXT NOT NULL,
    provider TEXT,
    expires_at REAL
);
CREATE TABLE IF NOT EXISTS blobs (
    key TEXT PRIMARY KEY, data BLOB NOT NULL, refs INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS clock (id INTEGER PRIMARY KEY CHECK (id = 1), now REAL NOT NULL);
CREATE TABLE IF NOT EXISTS rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    scenario TEXT NOT NULL,
    key TEXT,
    provider TEXT,
    remaining INTEGER
);
CREATE TABLE IF NOT EXISTS buckets (key TEXT PRIMARY KEY, tokens REAL NOT NULL, last REAL NOT NULL);
CREATE TABLE IF NOT EXISTS graveyard (id TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS faults (
    id INTEGER PRIMARY KEY CHECK (id = 1), rate REAL, seed INTEGER, drawn INTEGER NOT NULL
);
"""

#: the indexes a page walks (one per Filters.index), and the expiry sweep's
_INDEXES = """
CREATE INDEX IF NOT EXISTS jobs_api ON jobs (api, seq);
CREATE INDEX IF NOT EXISTS jobs_owner ON jobs (owner, seq);
CREATE INDEX IF NOT EXISTS jobs_api_owner ON jobs (api, owner, seq);
CREATE INDEX IF NOT EXISTS jobs_provider ON jobs (provider, seq);
CREATE INDEX IF NOT EXISTS jobs_expiry ON jobs (expires_at) WHERE expires_at IS NOT NULL;
"""
#: columns added since the first release: a store file written by it gains them on open
_ADDED_COLUMNS = {
    "jobs": {"provider": "TEXT", "expires_at": "REAL"},
    "blobs": {"refs": "INTEGER NOT NULL DEFAULT 0"},
}
#: (index kind) -> the WHERE clause selecting it
_INDEX_WHERE = {
    "all": "",
    "api": "api = ?",
    "owner": "owner = ?",
    "api-owner": "api = ? AND owner = ?",
    "provider": "provider = ?",
}

_INSERT_JOB = (
    "INSERT INTO jobs (id, api, owner, body, provider, expires_at) VALUES (?, ?, ?, ?, ?, ?)"
)
#: a reference image stored once per content, with how many jobs use it
_COUNT_IMAGE = (
    "INSERT INTO blobs (key, data, refs) VALUES (?, ?, 1) "
    "ON CONFLICT (key) DO UPDATE SET refs = refs + 1"
)

#: entries a thread's read memo holds before it starts afresh (SQLiteStore.read_instant)
MEMO_SIZE = 1024

#: every table of a server's state: ``reset`` empties them all
_STATE_TABLES = ("jobs", "blobs", "clock", "rules", "buckets", "counters", "faults", "graveyard")


def _sqlite_outage(exc: BaseException) -> str | None:
    """An error of the store's files rather than of the mock: SQLite's operational errors (a
    full disk, a read-only or vanished file, an I/O error) and the journal's and lock file's
    OS errors. Answered 503 (mockserver.store_guard)."""
    if isinstance(exc, sqlite3.OperationalError):
        return f"SQLite: {exc}"
    if isinstance(exc, OSError):
        return f"SQLite store files: {exc.strerror or type(exc).__name__}"
    return None


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back a failed write. SQLite may have rolled it back itself (a full disk: "cannot
    rollback - no transaction is active"); the writer queue is left all the same, and the
    error that failed the write is the one raised."""
    try:
        conn.execute("ROLLBACK")
    except sqlite3.OperationalError:
        pass


@guarded("SQLite", _sqlite_outage)
class SQLiteStore(JobListing):
    """One SQLite file in WAL mode; a connection per thread; writes in short transactions."""

    def __init__(self, path: str | Path, journal_size: int = 1000) -> None:
        self.journal_size = journal_size
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._pid = os.getpid()
        self._writers = WriterQueue(self.path.with_name(self.path.name + ".lock"))
        #: moved by every write transaction of every process: a read instant's freshness check
        self._changes = ChangeCounter(self.path.with_name(self.path.name + ".changes"))
        self._shared = _Memo(None)
        # the journal is a file per worker beside this one (no worker waits for another)
        self._journal = FileJournal(self.path, journal_size)
        conn = self._conn()
        conn.executescript(_SCHEMA)
        for table, columns in _ADDED_COLUMNS.items():
            have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            for name, kind in columns.items():
                if name not in have:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
        conn.execute(
            "UPDATE jobs SET provider = substr(api, 1, instr(api || '-', '-') - 1) "
            "WHERE provider IS NULL"
        )
        conn.executescript(_INDEXES)
        self._writers.acquire()  # (opening may have migrated rows another process memoized)
        try:
            self._changes.bump()
        finally:
            self._writers.release()

    def _conn(self) -> sqlite3.Connection:
        if os.getpid() != self._pid:
            # a forked worker must never use its parent's connections (SQLite forbids it)
            self._local = threading.local()
            self._pid = os.getpid()
            self._shared = _Memo(None)
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, factory=_QueuedWriters
            )
            conn.writers = self._writers
            conn.changes = self._changes
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA wal_autocheckpoint=0")  # outside the writers' queue instead
            self._local.conn = conn
        return conn

    def _write(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        """One write statement: a transaction of its own (SQLite's autocommit), in the
        writers' queue; no ``BEGIN`` and ``COMMIT`` around it."""
        conn = self._conn()
        assert isinstance(conn, _QueuedWriters)
        return conn.write_one(sql, args)

    def reset(self) -> None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for table in _STATE_TABLES:
                conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)  # else the writer queue stays taken: every writer would hang
            raise
        self._journal.clear()

    def add(self, job: Job, image: bytes | None = None) -> None:
        # everything but the statements before the writers' queue: every create of every
        # worker waits while one holds it (a create is one transaction, of one statement
        # without an image, of two with one: its blob counted or stored, and the job)
        row = (job.id, job.api, job.owner, dumps_text(job.to_dict()), job.provider, job.expires_at)
        if not job.image_key:
            self._write(_INSERT_JOB, row)
            return
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            if image is not None:
                conn.execute(_COUNT_IMAGE, (job.image_key, image))
            else:
                conn.execute("UPDATE blobs SET refs = refs + 1 WHERE key = ?", (job.image_key,))
            conn.execute(_INSERT_JOB, row)
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise

    def get(self, job_id: str) -> Job | None:
        memo = self._memo()
        if memo is not None and ("job", job_id) in memo:
            job: Job | None = memo[("job", job_id)]
            return job
        row = self._conn().execute("SELECT body FROM jobs WHERE id = ?", (job_id,)).fetchone()
        job = _load_job(job_id, row[0]) if row else None
        if memo is not None:
            memo[("job", job_id)] = job
        return job

    def replace_job(self, job: Job) -> bool:
        cur = self._write(
            "UPDATE jobs SET body = ? WHERE id = ?", (dumps_text(job.to_dict()), job.id)
        )
        return cur.rowcount > 0

    @contextmanager
    def read_instant(self, job_hint: str | None = None) -> Iterator[None]:
        """Within the block, reads of jobs, of the clock, of the fault setting and "are there
        rules at all" may be answered from what a thread of this process read before, when
        nothing was written to the store since: the store's :class:`ChangeCounter` moves with
        every write transaction of every process (one read of shared memory, no statement);
        this connection's ``total_changes`` with its own writes inside the block. The memo is
        the process's, not the thread's: after a write, the first poll reads again for every
        thread of the worker, not each of its threads once."""
        conn = self._conn()
        local = self._local
        version = self._changes.read()  # before any read: what follows is at least this new
        shared = self._shared
        if shared.version != version or len(shared.entries) > MEMO_SIZE:
            shared = self._shared = _Memo(version)
        local.memo, local.changes_at = shared.entries, conn.total_changes
        local.reading = True
        try:
            yield
        finally:
            local.reading = False

    def _memo(self) -> dict[tuple[str, ...], Any] | None:
        """This thread's memo inside a read instant, unless it wrote since (then never again
        in this block)."""
        local = self._local
        if not getattr(local, "reading", False):
            return None
        if local.conn.total_changes != local.changes_at:
            local.reading = False
            return None
        memo: dict[tuple[str, ...], Any] = local.memo
        return memo

    def delete(self, job_id: str) -> bool:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT body, seq FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is not None:
                conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
                # a cursor naming a deleted job still knows its place
                cur = conn.execute(
                    "INSERT OR REPLACE INTO graveyard (id, seq) VALUES (?, ?)", (job_id, row[1])
                )
                if (cur.lastrowid or 0) % 64 == 0:
                    conn.execute(
                        "DELETE FROM graveyard WHERE rowid <= ?",
                        ((cur.lastrowid or 0) - GRAVEYARD_SIZE,),
                    )
                image_key = json.loads(row[0]).get("image_key")
                if image_key:  # an image is stored once, for every job that uses it
                    conn.execute("UPDATE blobs SET refs = refs - 1 WHERE key = ?", (image_key,))
                    conn.execute("DELETE FROM blobs WHERE key = ? AND refs <= 0", (image_key,))
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise
        return row is not None

    def page(
        self,
        filters: Filters,
        *,
        order: str = "desc",
        after: str | None = None,
        limit: int = 100,
        scan: int | None = None,
    ) -> Page:
        kind, *values = filters.index()
        conn = self._conn()
        last_seq: int | None = None
        if after is not None:
            row = conn.execute(
                "SELECT seq FROM jobs WHERE id = ? "
                "UNION ALL SELECT seq FROM graveyard WHERE id = ?",
                (after, after),
            ).fetchone()
            if row is None:
                return Page([], False, None)
            last_seq = row[0]
        ascending = order == "asc"
        # read in chunks: a page reads only as far as it must
        chunk = min(limit + 1, 500) if filters.where is None else 500

        def walk() -> Iterator[Job]:
            position = last_seq
            while True:
                where = [_INDEX_WHERE[kind]] if _INDEX_WHERE[kind] else []
                args: list[Any] = list(values)
                if position is not None:
                    where.append("seq > ?" if ascending else "seq < ?")
                    args.append(position)
                sql = "SELECT seq, id, body FROM jobs"
                sql += (" WHERE " + " AND ".join(where)) if where else ""
                sql += f" ORDER BY seq {'ASC' if ascending else 'DESC'} LIMIT ?"
                rows = conn.execute(sql, [*args, chunk]).fetchall()
                for _, job_id, body in rows:
                    job = _load_job(job_id, body)
                    if job is not None:
                        yield job
                if len(rows) < chunk:
                    return
                position = rows[-1][0]

        return take_page(walk(), filters, limit, scan)

    def stats(self) -> dict[str, int]:
        conn = self._conn()
        jobs = conn.execute("SELECT count(*) FROM jobs").fetchone()[0]
        images, size = conn.execute(
            "SELECT count(*), coalesce(sum(length(data)), 0) FROM blobs WHERE key LIKE 'image:%'"
        ).fetchone()
        return {"jobs": jobs, "images": images, "image_bytes": size}

    def expired(self, now: float, limit: int) -> list[str]:
        rows = self._conn().execute(
            "SELECT id FROM jobs WHERE expires_at IS NOT NULL AND expires_at <= ? "
            "ORDER BY expires_at LIMIT ?",
            (now, limit),
        )
        return [row[0] for row in rows]

    def put_blob(self, key: str, data: bytes, *, replace: bool = False) -> None:
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        self._write(f"{verb} INTO blobs (key, data) VALUES (?, ?)", (key, data))

    def get_blob(self, key: str) -> bytes | None:
        row = self._conn().execute("SELECT data FROM blobs WHERE key = ?", (key,)).fetchone()
        return bytes(row[0]) if row else None

    def delete_blob(self, key: str) -> bool:
        return self._write("DELETE FROM blobs WHERE key = ?", (key,)).rowcount > 0

    def files(self) -> list[tuple[str, int]]:
        # a range of the primary key ("file;" follows "file:"), in insertion (rowid) order
        rows = self._conn().execute(
            "SELECT key, length(data) FROM blobs WHERE key >= 'file:' AND key < 'file;' "
            "ORDER BY rowid"
        )
        return [(key, int(size)) for key, size in rows]

    def clock_init(self, start: float) -> float:
        """Persist the clock's start unless a time is stored already (a restart, or another
        worker came first): a clock nobody advanced keeps its time across restarts."""
        self._write("INSERT OR IGNORE INTO clock (id, now) VALUES (1, ?)", (start,))
        return self.clock_get(start)

    def clock_get(self, default: float) -> float:
        memo = self._memo()
        if memo is not None and ("clock",) in memo:
            row = memo[("clock",)]
        else:
            row = self._conn().execute("SELECT now FROM clock WHERE id = 1").fetchone()
            if memo is not None:
                memo[("clock",)] = row
        return float(row[0]) if row else default

    def clock_advance(self, seconds: float, default: float) -> float:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT now FROM clock WHERE id = 1").fetchone()
            now = (float(row[0]) if row else default) + seconds
            conn.execute("INSERT OR REPLACE INTO clock (id, now) VALUES (1, ?)", (now,))
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise
        return now

    def add_rule(self, scenario, key, provider, remaining):
        cur = self._write(
            "INSERT INTO rules (scenario, key, provider, remaining) VALUES (?, ?, ?, ?)",
            (scenario, key, provider, remaining),
        )
        return Rule(int(cur.lastrowid or 0), scenario, key, provider, remaining)

    def rules(self) -> list[Rule]:
        rows = self._conn().execute(
            "SELECT id, scenario, key, provider, remaining FROM rules ORDER BY id"
        )
        return [Rule(*row) for row in rows]

    def clear_rules(self, key: str | None = None) -> int:
        if key is None:
            return self._write("DELETE FROM rules").rowcount
        return self._write("DELETE FROM rules WHERE key = ?", (key,)).rowcount

    def remove_rule(self, rule_id: int) -> Rule | None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(
                "DELETE FROM rules WHERE id = ? RETURNING id, scenario, key, provider, remaining",
                (rule_id,),
            ).fetchone()
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return Rule(*row) if row else None

    def take_rule(self, key: str | None, provider: str) -> str | None:
        conn = self._conn()
        # every request asks; a read (no write lock) answers the common case: no rules at all
        memo = self._memo()
        if memo is not None and ("no rules",) in memo:
            return None
        if conn.execute("SELECT NOT EXISTS (SELECT 1 FROM rules)").fetchone()[0]:
            if memo is not None:
                memo[("no rules",)] = True
            return None
        conn.execute("BEGIN IMMEDIATE")
        try:
            rows = conn.execute(
                "SELECT id, scenario, key, provider, remaining FROM rules"
                " ORDER BY key IS NULL, id DESC"
            ).fetchall()
            for row in rows:
                rule = Rule(*row)
                if not rule.matches(key, provider):
                    continue
                if rule.remaining is not None:
                    if rule.remaining <= 1:
                        conn.execute("DELETE FROM rules WHERE id = ?", (rule.id,))
                    else:
                        conn.execute(
                            "UPDATE rules SET remaining = remaining - 1 WHERE id = ?", (rule.id,)
                        )
                conn.execute("COMMIT")
                return rule.scenario
            conn.execute("COMMIT")
            return None
        except BaseException:
            _rollback(conn)
            raise

    def take_token(self, key: str, capacity: float, per_second: float, now: float) -> float:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT tokens, last FROM buckets WHERE key = ?", (key,)).fetchone()
            tokens, last = row if row else (capacity, now)
            tokens, wait = _bucket(tokens, last, capacity, per_second, now)
            conn.execute(
                "INSERT OR REPLACE INTO buckets (key, tokens, last) VALUES (?, ?, ?)",
                (key, tokens, now),
            )
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise
        return float(wait)

    def next_count(self, name: str) -> int:
        # (a transaction of its own: a statement RETURNING rows commits in autocommit only
        # once they are read, which would be after the writers' queue was left)
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(
                "INSERT INTO counters (name, value) VALUES (?, 1) ON CONFLICT (name) "
                "DO UPDATE SET value = value + 1 RETURNING value",
                (name,),
            ).fetchone()
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise
        return int(row[0])

    def faults_setting(self) -> tuple[float, int] | None:
        # every provider request asks (unless a header or rule chose its scenario): in a read
        # instant the answer comes from memory while nothing was written to the store
        memo = self._memo()
        if memo is not None and ("faults",) in memo:
            row = memo[("faults",)]
        else:
            row = self._conn().execute("SELECT rate, seed FROM faults WHERE id = 1").fetchone()
            if memo is not None:
                memo[("faults",)] = row
        return (float(row[0]), int(row[1])) if row and row[0] is not None else None

    def faults_restart(self, rate: float, seed: int) -> None:
        self._write(
            "INSERT OR REPLACE INTO faults (id, rate, seed, drawn) VALUES (1, ?, ?, 0)",
            (rate, seed),
        )

    def faults_next(self, rate: float, seed: int) -> tuple[float, int, int] | None:
        setting = self.faults_setting()
        if (setting[0] if setting else rate) <= 0:
            return None  # no fault rate in force: a read, no write lock
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            # the setting and the position in one statement: a restart by another worker is
            # either wholly before this draw or wholly after it
            row = conn.execute(
                "INSERT INTO faults (id, drawn) VALUES (1, 1) "
                "ON CONFLICT (id) DO UPDATE SET drawn = drawn + 1 RETURNING rate, seed, drawn"
            ).fetchone()
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if row[0] is not None:
            rate, seed = float(row[0]), int(row[1])
        return (rate, seed, int(row[2])) if rate > 0 else None

    def journal_add(self, *entries: dict[str, Any]) -> None:
        self._journal.add(*entries)

    def journal(self, limit: int) -> list[dict[str, Any]]:
        return self._journal.read(limit)

    def close(self) -> None:
        self._journal.close()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class WriterQueue:
    """One writer at a time across the threads and processes sharing a store file.

    SQLite lets one connection write at a time and makes the others retry in its busy
    handler, which sleeps (1, 2, 5, ... up to 100 ms) between tries: under a burst of creates
    from two workers' threads, a write could wait most of a second with the lock long free.
    Writers queue here instead, on a thread lock and then an ``flock`` on ``<store>.lock``,
    and the kernel wakes the next one the moment the lock is released.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fd = -1
        self._pid = 0
        os.register_at_fork(after_in_child=functools.partial(_forked, weakref.ref(self)))

    def acquire(self) -> None:
        self._lock.acquire()
        try:
            if self._pid != os.getpid():  # each process its own descriptor (flock is per open)
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                self._pid = os.getpid()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._lock.release()
            raise

    def release(self) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._lock.release()


def _forked(ref: weakref.ref[WriterQueue]) -> None:
    """In a new worker the queue starts free: its parent's lock and descriptor are not its."""
    queue = ref()
    if queue is not None:
        queue._lock = threading.Lock()
        queue._fd, queue._pid = -1, 0


_COUNT = struct.Struct("=Q")
#: write transactions (of every process) between two WAL checkpoints: a create writes ~10
#: pages, so ~640 pages, about where SQLite's own checkpoint (1,000 pages) would run
CHECKPOINT_EVERY = 64


class ChangeCounter:
    """A count of the write transactions of every process sharing a store file, in a small
    file beside it (``<store>.changes``), mapped into memory.

    A writer bumps it after its ``COMMIT`` (or ``ROLLBACK``) while it still holds the
    :class:`WriterQueue`, so the bumps of two processes never interleave, and a reader who
    sees the new count reads the store with the write in it. A reader compares one integer
    read from shared memory: no statement, no system call, the GIL kept (SQLite's
    ``PRAGMA data_version``, which this replaced, was a statement per poll, ~30 % of a served
    poll's samples). Only the mock's own writes move it: a row changed with another tool (the
    ``sqlite3`` shell) is seen by the reads outside a read instant, and by read instants from
    the next write the mock makes. What a read instant keeps (jobs, the clock, rules, the
    fault setting) is only ever written in a write transaction; ``next_count``'s counters,
    written without one, are never kept.
    """

    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < _COUNT.size:  # new (two openers: the same 8 zeros)
                os.ftruncate(fd, _COUNT.size)
            self._map = mmap.mmap(fd, _COUNT.size)  # shared: every process sees every bump
        finally:
            os.close(fd)

    def read(self) -> int:
        value: int = _COUNT.unpack_from(self._map)[0]
        return value

    def bump(self) -> int:
        """(WriterQueue held) One more write transaction ended: the new count."""
        count: int = (_COUNT.unpack_from(self._map)[0] + 1) % 2**64
        _COUNT.pack_into(self._map, 0, count)
        return count


class _Memo:
    """What the threads of one process read in read instants at one count of the store's
    writes (``version``; None: none yet)."""

    __slots__ = ("version", "entries")

    def __init__(self, version: int | None) -> None:
        self.version = version
        self.entries: dict[tuple[str, ...], Any] = {}


class _QueuedWriters(sqlite3.Connection):
    """A connection whose ``BEGIN IMMEDIATE`` first takes its place in the store's
    :class:`WriterQueue`, left at ``COMMIT`` or ``ROLLBACK``."""

    writers: WriterQueue
    changes: ChangeCounter
    _writing = False

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql == "BEGIN IMMEDIATE" and not self._writing:  # (nested: SQLite's own error)
            self.writers.acquire()
            self._writing = True
            try:
                return super().execute(sql, *args)
            except BaseException:
                self._writing = False
                self.writers.release()
                raise
        if self._writing and sql in ("COMMIT", "ROLLBACK"):
            try:
                return super().execute(sql, *args)
            finally:
                self._writing = False
                self._leave_queue()
        return super().execute(sql, *args)

    def _leave_queue(self) -> None:
        """The end of a write: the count moved (after the commit, under the queue: a reader
        seeing it sees the write), the queue left, and once in ``CHECKPOINT_EVERY`` writes
        the WAL copied into the database outside the queue."""
        try:
            count = self.changes.bump()
        finally:
            self.writers.release()
        if count % CHECKPOINT_EVERY == 0:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Copy the WAL into the database file without waiting for readers or writers (a
        passive checkpoint takes no write lock: the next writer goes on meanwhile). SQLite's
        own (``wal_autocheckpoint``, off on the store's connections) runs in the ``COMMIT``
        that crosses 1,000 pages, syncing the WAL and the database file while every writer
        of every worker waits in the queue. A checkpoint that fails is left to the next."""
        try:
            super().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:
            log.debug("WAL checkpoint failed, left to the next: %s", exc)

    def write_one(self, sql: str, args: tuple[Any, ...]) -> sqlite3.Cursor:
        """One statement as a transaction of its own (autocommit), in the writers' queue.
        Not for a statement RETURNING rows (it commits once they are read)."""
        if self._writing:  # inside a transaction: part of it
            return self.execute(sql, args)
        self.writers.acquire()
        try:
            return self.execute(sql, args)
        finally:
            self._leave_queue()


def _load_job(job_id: str, body: str) -> Job | None:
    """A stored job, or None for a row no version of the mock could read (logged): one bad row
    must not break every list."""
    try:
        return Job.from_dict(json.loads(body))
    except (ValueError, TypeError) as exc:
        if job_id not in _unreadable and len(_unreadable) < 1000:  # logged once per row
            _unreadable.add(job_id)
            log.error("job %s in the store cannot be read, skipped: %s", job_id, exc)
        return None


_unreadable: set[str] = set()


def open_store(spec: str, journal_size: int = 1000) -> Store:
    """``memory``, ``sqlite:PATH`` or ``redis://HOST:PORT/DB``."""
    if spec == "memory":
        return MemoryStore(journal_size)
    if spec.startswith("sqlite:") and len(spec) > len("sqlite:"):
        path = spec[len("sqlite:") :]
        try:
            return SQLiteStore(path, journal_size)
        except (sqlite3.Error, OSError) as exc:  # one line at start-up, no traceback
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ValueError(f"cannot use the store {path}: {why}") from None
    if spec.startswith(("redis://", "rediss://", "unix://")):
        from mockserver.store_redis import RedisStore

        return RedisStore(spec, journal_size)
    raise ValueError(
        f"unknown store {spec!r}: use 'memory', 'sqlite:PATH' or 'redis://HOST:PORT/DB'"
    )
