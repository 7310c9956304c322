"""Where jobs, reference images, scenario rules and the virtual clock live.

``MemoryStore`` (default) keeps everything in this process. ``SQLiteStore`` keeps it in one
SQLite file in WAL mode: jobs survive a restart and several worker processes share them.
A job is written once, when it is accepted, and removed only by a delete: nothing accepted is
lost.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mockserver.lifecycle import Job

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


class Store(Protocol):
    def add(self, job: Job) -> None: ...
    def get(self, job_id: str) -> Job | None: ...
    def delete(self, job_id: str) -> bool: ...
    def jobs(
        self,
        *,
        api: str | None = None,
        owner: str | None = None,
        order: str = "desc",
        after: str | None = None,
        limit: int | None = None,
    ) -> tuple[list[Job], bool]: ...
    def put_blob(self, key: str, data: bytes) -> None: ...
    def get_blob(self, key: str) -> bytes | None: ...
    def clock_init(self, start: float) -> float: ...
    def clock_get(self, default: float) -> float: ...
    def clock_advance(self, seconds: float, default: float) -> float: ...
    def add_rule(
        self, scenario: str, key: str | None, provider: str | None, remaining: int | None
    ) -> Rule: ...
    def rules(self) -> list[Rule]: ...
    def clear_rules(self, key: str | None = None) -> int: ...
    def take_rule(self, key: str | None, provider: str) -> str | None: ...
    def reset(self) -> None: ...
    def close(self) -> None: ...


def _page(
    ordered: list[Job], order: str, after: str | None, limit: int | None
) -> tuple[list[Job], bool]:
    if order == "desc":
        ordered = ordered[::-1]
    if after is not None:
        ids = [j.id for j in ordered]
        ordered = ordered[ids.index(after) + 1 :] if after in ids else []
    if limit is None:
        return ordered, False
    return ordered[:limit], len(ordered) > limit


class MemoryStore:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._jobs: dict[str, Job] = {}
            self._blobs: dict[str, bytes] = {}
            self._clock: float | None = None
            self._rules: list[Rule] = []
            self._rule_seq = 0

    def add(self, job: Job) -> None:
        with self._lock:
            self._jobs[job.id] = Job.from_dict(job.to_dict())

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return Job.from_dict(job.to_dict()) if job else None

    def delete(self, job_id: str) -> bool:
        with self._lock:
            job = self._jobs.pop(job_id, None)
            if job and job.image_key:
                self._blobs.pop(job.image_key, None)
            return job is not None

    def jobs(self, *, api=None, owner=None, order="desc", after=None, limit=None):
        with self._lock:
            selected = [
                j
                for j in self._jobs.values()
                if (api is None or j.api == api) and (owner is None or j.owner == owner)
            ]
        return _page(selected, order, after, limit)

    def put_blob(self, key: str, data: bytes) -> None:
        with self._lock:
            self._blobs[key] = data

    def get_blob(self, key: str) -> bytes | None:
        with self._lock:
            return self._blobs.get(key)

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

    def close(self) -> None:
        pass


_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    api TEXT NOT NULL,
    owner TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS blobs (key TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS clock (id INTEGER PRIMARY KEY CHECK (id = 1), now REAL NOT NULL);
CREATE TABLE IF NOT EXISTS rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    scenario TEXT NOT NULL,
    key TEXT,
    provider TEXT,
    remaining INTEGER
);
"""


class SQLiteStore:
    """One SQLite file in WAL mode; a connection per thread; writes in short transactions."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._pid = os.getpid()
        with self._conn() as conn:
            conn.executescript(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        if os.getpid() != self._pid:
            # a forked worker must never use its parent's connections (SQLite forbids it)
            self._local = threading.local()
            self._pid = os.getpid()
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    def _write(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            cur = conn.execute(sql, args)
            conn.execute("COMMIT")
            return cur
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def reset(self) -> None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        for table in ("jobs", "blobs", "clock", "rules"):
            conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
        conn.execute("COMMIT")

    def add(self, job: Job) -> None:
        self._write(
            "INSERT INTO jobs (id, api, owner, body) VALUES (?, ?, ?, ?)",
            (job.id, job.api, job.owner, json.dumps(job.to_dict())),
        )

    def get(self, job_id: str) -> Job | None:
        row = self._conn().execute("SELECT body FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _load_job(job_id, row[0]) if row else None

    def delete(self, job_id: str) -> bool:
        job = self.get(job_id)
        if job is None:
            return False
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        cur = conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
        if job.image_key:
            conn.execute("DELETE FROM blobs WHERE key = ?", (job.image_key,))
        conn.execute("COMMIT")
        return cur.rowcount > 0

    def jobs(self, *, api=None, owner=None, order="desc", after=None, limit=None):
        sql = "SELECT id, body FROM jobs WHERE 1=1"
        args: list[Any] = []
        if api is not None:
            sql += " AND api = ?"
            args.append(api)
        if owner is not None:
            sql += " AND owner = ?"
            args.append(owner)
        rows = self._conn().execute(sql + " ORDER BY seq", args).fetchall()
        loaded = [_load_job(job_id, body) for job_id, body in rows]
        return _page([j for j in loaded if j is not None], order, after, limit)

    def put_blob(self, key: str, data: bytes) -> None:
        self._write("INSERT OR REPLACE INTO blobs (key, data) VALUES (?, ?)", (key, data))

    def get_blob(self, key: str) -> bytes | None:
        row = self._conn().execute("SELECT data FROM blobs WHERE key = ?", (key,)).fetchone()
        return bytes(row[0]) if row else None

    def clock_init(self, start: float) -> float:
        """Persist the clock's start unless a time is stored already (a restart, or another
        worker came first): a clock nobody advanced keeps its time across restarts."""
        self._write("INSERT OR IGNORE INTO clock (id, now) VALUES (1, ?)", (start,))
        return self.clock_get(start)

    def clock_get(self, default: float) -> float:
        row = self._conn().execute("SELECT now FROM clock WHERE id = 1").fetchone()
        return float(row[0]) if row else default

    def clock_advance(self, seconds: float, default: float) -> float:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        row = conn.execute("SELECT now FROM clock WHERE id = 1").fetchone()
        now = (float(row[0]) if row else default) + seconds
        conn.execute("INSERT OR REPLACE INTO clock (id, now) VALUES (1, ?)", (now,))
        conn.execute("COMMIT")
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

    def take_rule(self, key: str | None, provider: str) -> str | None:
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
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
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


def open_store(spec: str) -> Store:
    """``memory`` or ``sqlite:PATH``."""
    if spec == "memory":
        return MemoryStore()
    if spec.startswith("sqlite:") and len(spec) > len("sqlite:"):
        return SQLiteStore(spec[len("sqlite:") :])
    raise ValueError(f"unknown store {spec!r}: use 'memory' or 'sqlite:PATH'")
