"""The SQLite store's request journal: one file per worker process, read as one journal.

Every request is journalled, so with one shared table the workers queued for SQLite's write
lock on every answer (and SQLite's busy handler sleeps while it waits). Here each process
appends to a file of its own beside the store (``<store>.journal-<pid>``), never waiting for
another, and a read merges every worker's file, newest entries first, by the moment each was
written (nanoseconds of the wall clock, then its sequence in its file).

Files of processes that are gone stay readable (the journal survives a restart) until more
than ``KEEP_FILES`` files exist; then the oldest of the dead ones are deleted.
"""

from __future__ import annotations

import heapq
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from mockserver._json import dumps_text

KEEP_FILES = 16

_SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, entry TEXT NOT NULL
);
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SQLiteJournal:
    def __init__(self, store_path: Path, size: int) -> None:
        self.size = size
        self.directory = store_path.parent
        self.stem = store_path.name + ".journal-"
        self._local = threading.local()
        self._pid = 0

    def _connect(self, path: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def _connections(self) -> dict[Path, sqlite3.Connection]:
        if os.getpid() != self._pid:  # a forked worker never uses its parent's connections
            self._local = threading.local()
            self._pid = os.getpid()
        conns: dict[Path, sqlite3.Connection] | None = getattr(self._local, "conns", None)
        if conns is None:
            conns = self._local.conns = {}
            self._local.own = None
        return conns

    def _own(self) -> sqlite3.Connection:
        conns = self._connections()
        own: sqlite3.Connection | None = getattr(self._local, "own", None)
        if own is None:
            path = self.directory / f"{self.stem}{os.getpid()}"
            first = not path.exists()
            own = conns[path] = self._local.own = self._connect(path)
            own.executescript(_SCHEMA)
            if first:
                self._prune()
        return own

    def _files(self) -> list[Path]:
        return [
            p
            for p in self.directory.glob(f"{self.stem}*")
            if p.name[len(self.stem) :].isdigit()  # not SQLite's -wal/-shm companions
        ]

    def _prune(self) -> None:
        files = self._files()
        if len(files) <= KEEP_FILES:
            return
        dead = [p for p in files if not _alive(int(p.name[len(self.stem) :]))]
        dead.sort(key=lambda p: p.stat().st_mtime)
        for path in dead[: len(files) - KEEP_FILES]:
            for companion in (
                path,
                path.with_name(path.name + "-wal"),
                path.with_name(path.name + "-shm"),
            ):
                companion.unlink(missing_ok=True)

    def add(self, *entries: dict[str, Any]) -> None:
        """Append entries in one transaction of this process's own file."""
        if not entries:
            return
        conn = self._own()
        at = time.time_ns()
        if len(entries) == 1:  # one statement, its own transaction: the idle worker's case
            seq = conn.execute(
                "INSERT INTO journal (at, entry) VALUES (?, ?)", (at, dumps_text(entries[0]))
            ).lastrowid
        else:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    "INSERT INTO journal (at, entry) VALUES (?, ?)",
                    [(at, dumps_text(e)) for e in entries],
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            seq = conn.execute("SELECT max(seq) FROM journal").fetchone()[0]
        seq = seq or 0
        if seq // 64 != (seq - len(entries)) // 64:  # keep the newest `size`, now and then
            conn.execute("DELETE FROM journal WHERE seq <= ?", (seq - self.size,))

    def read(self, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` entries of every worker, oldest first."""
        limit = max(0, min(limit, self.size))
        if limit == 0:
            return []
        self._own()  # so a new process's file exists, and old files are pruned
        conns = self._connections()
        newest: list[tuple[int, int, int, str]] = []
        for n, path in enumerate(sorted(self._files())):
            conn = conns.get(path)
            if conn is None:
                conn = conns[path] = self._connect(path)
            try:
                rows = conn.execute(
                    "SELECT at, seq, entry FROM journal ORDER BY seq DESC LIMIT ?", (limit,)
                ).fetchall()
            except sqlite3.OperationalError:  # pruned or not yet written by its process
                conns.pop(path).close()
                continue
            newest.extend((at, n, seq, entry) for at, seq, entry in rows)
        chosen = heapq.nlargest(limit, newest)
        return [json.loads(row[3]) for row in reversed(chosen)]

    def clear(self) -> None:
        """Empty every worker's journal (a reset)."""
        self._own()
        conns = self._connections()
        for path in self._files():
            conn = conns.get(path) or conns.setdefault(path, self._connect(path))
            try:
                conn.execute("DELETE FROM journal")
            except sqlite3.OperationalError:
                conns.pop(path).close()

    def close(self) -> None:
        for conn in self._connections().values():
            conn.close()
        self._local.conns, self._local.own = {}, None
