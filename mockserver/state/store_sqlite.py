"""``SQLiteStore``: everything a client can observe in one SQLite file in WAL mode. Jobs
survive a restart, and every worker process of one server shares the file, so N workers
behave as one server. Writers queue in :mod:`mockserver.state.store_writers`; the journal is a file
per worker (:mod:`mockserver.state.store_journal`)."""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mockserver.state import store_interface  # (GRAVEYARD_SIZE read when used: one setting)
from mockserver.state import store_sqlite_memory as memory
from mockserver.state._json import dumps_text
from mockserver.state.journal import worker_pid
from mockserver.state.lifecycle import Job
from mockserver.state.store_guard import MISS, guarded
from mockserver.state.store_interface import (
    Filters,
    JobListing,
    Page,
    Rule,
    refill_bucket,
    take_page,
)
from mockserver.state.store_journal import FileJournal
from mockserver.state.store_webhooks import SQLiteWebhooks
from mockserver.state.store_writers import (
    ChangeCounter,
    EarliestExpiry,
    GroupCommit,
    Remembered,
    WriterQueue,
    _Memo,
    _QueuedWriters,
    _rollback,
    write_jobs,
)

log = logging.getLogger("mockserver")


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

#: entries a thread's read memo holds before it starts afresh (SQLiteStore.read_instant)
MEMO_SIZE = 1024

#: every table of a server's state: ``reset`` empties them all
_STATE_TABLES = ("jobs", "blobs", "clock", "rules", "buckets", "counters", "faults", "graveyard")


def _sqlite_outage(exc: BaseException) -> str | None:
    """An error of the store's files rather than of the mock: SQLite's operational errors (a
    full disk, a read-only or vanished file, an I/O error) and the journal's and lock file's
    OS errors. Answered 503 (mockserver.state.store_guard)."""
    if isinstance(exc, sqlite3.OperationalError):
        return f"SQLite: {exc}"
    if isinstance(exc, OSError):
        return f"SQLite store files: {exc.strerror or type(exc).__name__}"
    return None


@guarded("SQLite", _sqlite_outage, memory.PEEKS)
class SQLiteStore(JobListing, SQLiteWebhooks):
    """One SQLite file in WAL mode; a connection per thread; writes in short transactions."""

    def __init__(self, path: str | Path, journal_size: int = 1000) -> None:
        self.journal_size = journal_size
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._pid = worker_pid()
        self._writers = WriterQueue(self.path.with_name(self.path.name + ".lock"))
        #: moved by every write transaction of every process: a read instant's freshness check
        self._changes = ChangeCounter(self.path.with_name(self.path.name + ".changes"))
        #: moved by the writes of the clock, the rules and the fault setting only: what the
        #: reads of those check (every request makes them; they change seldom)
        self._settings = ChangeCounter(self.path.with_name(self.path.name + ".settings"))
        #: the sweep's statement is needed from this moment only (``expired``)
        self._expiry = EarliestExpiry(self.path.with_name(self.path.name + ".expiry"))
        self._shared = _Memo(None)
        self._remembered = Remembered(self._settings)
        self._creates = GroupCommit(lambda jobs: write_jobs(self._conn(), self._expiry, jobs))
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
            self._expiry.set(-math.inf)  # not known: jobs may have been added with another tool
        finally:
            self._writers.release()

    def _conn(self) -> sqlite3.Connection:
        if worker_pid() != self._pid:  # (without a system call)
            # a forked worker must never use its parent's connections (SQLite forbids it)
            self._local = threading.local()
            self._pid = worker_pid()
            self._shared = _Memo(None)
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, factory=_QueuedWriters
            )
            conn.writers = self._writers
            conn.changes = self._changes
            conn.settings = self._settings
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA wal_autocheckpoint=0")  # outside the writers' queue instead
            self._local.conn = conn
        return conn

    def _write(
        self, sql: str, args: tuple[Any, ...] = (), *, settings: bool = False, queued: Any = None
    ) -> sqlite3.Cursor:
        """One write statement: a transaction of its own (SQLite's autocommit), in the
        writers' queue; no ``BEGIN`` and ``COMMIT`` around it. ``settings``: it writes the
        clock, the rules or the fault setting; ``queued``: called in the queue first."""
        conn = self._settings_written() if settings else self._conn()
        assert isinstance(conn, _QueuedWriters)
        return conn.write_one(sql, args, queued)

    def _settings_written(self) -> sqlite3.Connection:
        """This thread's connection, its next write counted as one of the settings'."""
        conn = self._conn()
        assert isinstance(conn, _QueuedWriters)
        conn.settings_written()
        return conn

    def reset(self) -> None:
        conn = self._settings_written()
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
        # the job's JSON made before the writers' queue; the job committed with the creates
        # of this worker waiting for the queue at the same time (GroupCommit)
        row = (job.id, job.api, job.owner, dumps_text(job.to_dict()), job.provider, job.expires_at)
        self._creates.commit((row, job.image_key, image))
        self._local.reading = False  # (maybe written on another thread's connection)

    def get(self, job_id: str) -> Job | None:
        job: Job | None = memory.job(self, job_id)
        if job is not MISS:
            return job
        row = self._conn().execute("SELECT body FROM jobs WHERE id = ?", (job_id,)).fetchone()
        job = _load_job(job_id, row[0]) if row else None
        if (memo := self._memo()) is not None:
            memo[("job", job_id)] = job
        return job

    def replace_job(self, job: Job) -> bool:
        cur = self._write(
            "UPDATE jobs SET body = ? WHERE id = ?", (dumps_text(job.to_dict()), job.id)
        )
        return cur.rowcount > 0

    def read_instant(self, job_hint: str | None = None) -> memory.Instant:
        """Within the block, reads of jobs may be answered from what a thread of this
        process read before, when nothing was written to the store since (the clock, the
        fault setting and "are there rules at all" come from memory in and out of a block,
        while no write changed them: ``memory.setting``): the store's :class:`ChangeCounter`
        moves with every write transaction of every process (one read of shared memory, no
        statement); this connection's ``total_changes`` with its own writes inside the block.
        The memo is the process's, not the thread's: after a write, the first poll reads again
        for every thread of the worker, not each of its threads once. (The memo is taken by
        the call: ``memory.Instant``.)"""
        conn = self._conn()
        local = self._local
        version = self._changes.read()  # before any read: what follows is at least this new
        shared = self._shared
        if shared.version != version or len(shared.entries) > MEMO_SIZE:
            shared = self._shared = _Memo(version)
        # (one attribute of the thread's: each costs a thread-local lookup; False: none)
        local.reading = (shared.entries, conn.total_changes, conn)
        return memory.Instant(local)

    def _memo(self) -> dict[tuple[str, ...], Any] | None:
        """This thread's memo inside a read instant, unless it wrote since (then never again
        in this block)."""
        reading: Any = getattr(self._local, "reading", False)
        if not reading:
            return None
        memo, changes_at, conn = reading
        if conn.total_changes != changes_at:
            self._local.reading = False
            return None
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
                        ((cur.lastrowid or 0) - store_interface.GRAVEYARD_SIZE,),
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
        # every create sweeps: no statement while no job can be due (EarliestExpiry)
        if now < self._expiry.read():
            return []
        rows = self._conn().execute(
            "SELECT id FROM jobs WHERE expires_at IS NOT NULL AND expires_at <= ? "
            "ORDER BY expires_at LIMIT ?",
            (now, limit),
        )
        due = [row[0] for row in rows]
        if not due:  # none before the earliest, as read in the writers' queue
            self._expiry.learn(self._writers, self._earliest_expiry)
        return due

    def _earliest_expiry(self) -> float | None:
        sql = "SELECT min(expires_at) FROM jobs WHERE expires_at IS NOT NULL"
        earliest: float | None = self._conn().execute(sql).fetchone()[0]
        return earliest

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
        self._write("INSERT OR IGNORE INTO clock (id, now) VALUES (1, ?)", (start,), settings=True)
        return self.clock_get(start)

    def clock_get(self, default: float) -> float:
        return memory.clock_of(memory.setting(self, "clock"), default)

    def clock_advance(self, seconds: float, default: float) -> float:
        conn = self._settings_written()
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
            settings=True,
        )
        return Rule(int(cur.lastrowid or 0), scenario, key, provider, remaining)

    def rules(self) -> list[Rule]:
        rows = self._conn().execute(
            "SELECT id, scenario, key, provider, remaining FROM rules ORDER BY id"
        )
        return [Rule(*row) for row in rows]

    def clear_rules(self, key: str | None = None) -> int:
        if key is None:
            return self._write("DELETE FROM rules", settings=True).rowcount
        return self._write("DELETE FROM rules WHERE key = ?", (key,), settings=True).rowcount

    def remove_rule(self, rule_id: int) -> Rule | None:
        conn = self._settings_written()
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
        # every request asks; a read (no write lock) answers the common case: no rules at all
        if memory.setting(self, "no rules")[0]:
            return None
        conn = self._conn()
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
                    conn.settings_written()  # type: ignore[attr-defined]  # (a _QueuedWriters)
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
            tokens, wait = refill_bucket(tokens, last, capacity, per_second, now)
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
        # every provider request asks (unless a header or rule chose its scenario): from
        # memory while no write changed the settings (``memory.setting``)
        return memory.faults_of(memory.setting(self, "faults"))

    def faults_restart(self, rate: float, seed: int) -> None:
        self._write(
            "INSERT OR REPLACE INTO faults (id, rate, seed, drawn) VALUES (1, ?, ?, 0)",
            (rate, seed),
            settings=True,
        )

    def faults_next(self, rate: float, seed: int) -> tuple[float, int, int] | None:
        setting = self.faults_setting()
        if (setting[0] if setting else rate) <= 0:
            return None  # no fault rate in force: a read, no write lock
        # (not counted as a write of the settings: it moves the position only; a row it
        # inserts has no rate, which reads as no setting, as no row does)
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
