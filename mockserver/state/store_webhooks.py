"""The webhooks a server owes (``mockserver.http.webhooks``), kept by the memory and SQLite stores:
one record per job, claimed by one worker at a time (a lease in real seconds, so a worker that
dies leaves it to another). Mixins of ``MemoryStore`` and ``SQLiteStore``; the Redis store
keeps the same records in Lua (``store_redis``)."""

from __future__ import annotations

import json
import sqlite3
import threading
from typing import Any

from mockserver.state._json import dumps_text
from mockserver.state.store_writers import _rollback

#: the webhooks a server owes (SQLiteStore.webhook_*), made on first use
_WEBHOOKS_SCHEMA = """
CREATE TABLE IF NOT EXISTS webhooks (
    job_id TEXT PRIMARY KEY, due REAL, lease REAL NOT NULL DEFAULT 0, token TEXT,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS webhooks_due ON webhooks (due) WHERE due IS NOT NULL;
"""


class MemoryWebhooks:
    """The records in this process's memory, under the store's lock."""

    _lock: threading.RLock

    def _hooks(self) -> dict[str, list[Any]]:
        """(lock held) job id -> [record, due or None (closed), lease end, lease token]."""
        hooks: dict[str, list[Any]] | None = self.__dict__.get("_webhooks")
        if hooks is None:
            hooks = self.__dict__["_webhooks"] = {}
        return hooks

    def webhook_put(self, job_id: str, record: dict[str, Any], due: float) -> None:
        with self._lock:
            self._hooks()[job_id] = [json.loads(json.dumps(record)), due, 0.0, None]

    def webhook_claim(
        self, now: float, wall: float, until: float, token: str, limit: int
    ) -> list[dict[str, Any]]:
        with self._lock:
            ready = sorted(
                (row[1], job_id)
                for job_id, row in self._hooks().items()
                if row[1] is not None and row[1] <= now and row[2] <= wall
            )[: max(0, limit)]
            taken = []
            for _, job_id in ready:
                row = self._hooks()[job_id]
                row[2], row[3] = until, token
                taken.append(json.loads(json.dumps(row[0])))
            return taken

    def webhook_settle(
        self, job_id: str, record: dict[str, Any], due: float | None, token: str
    ) -> bool:
        with self._lock:
            row = self._hooks().get(job_id)
            if row is None or row[3] != token:
                return False
            self._hooks()[job_id] = [json.loads(json.dumps(record)), due, 0.0, None]
            return True

    def webhook_get(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._hooks().get(job_id)
            if row is None:
                return None
            found: dict[str, Any] = json.loads(json.dumps(row[0]))
            found.update(due=row[1], open=row[1] is not None)
            return found

    def webhook_next_due(self, wall: float) -> float | None:
        with self._lock:
            dues = [r[1] for r in self._hooks().values() if r[1] is not None and r[2] <= wall]
            return min(dues) if dues else None

    def webhook_clear(self) -> None:
        with self._lock:
            self._hooks().clear()

    def webhook_forget(self, job_ids: list[str]) -> None:
        with self._lock:
            for job_id in job_ids:
                self._hooks().pop(job_id, None)


class SQLiteWebhooks:
    """The records in a table of their own, made on first use (``due`` NULL once delivered or
    given up)."""

    _webhooks_table: bool

    def _conn(self) -> sqlite3.Connection:
        raise NotImplementedError  # SQLiteStore's

    def _write(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        raise NotImplementedError  # SQLiteStore's

    def _hooks(self) -> sqlite3.Connection:
        conn = self._conn()
        if not self.__dict__.get("_webhooks_table"):
            conn.executescript(_WEBHOOKS_SCHEMA)
            self._webhooks_table = True
        return conn

    def webhook_put(self, job_id: str, record: dict[str, Any], due: float) -> None:
        self._hooks()
        self._write(
            "INSERT OR REPLACE INTO webhooks (job_id, due, lease, token, record) "
            "VALUES (?, ?, 0, NULL, ?)",
            (job_id, due, dumps_text(record)),
        )

    def webhook_claim(
        self, now: float, wall: float, until: float, token: str, limit: int
    ) -> list[dict[str, Any]]:
        conn = self._hooks()
        conn.execute("BEGIN IMMEDIATE")
        try:
            rows = conn.execute(
                "SELECT job_id, record FROM webhooks WHERE due IS NOT NULL AND due <= ? "
                "AND lease <= ? ORDER BY due LIMIT ?",
                (now, wall, max(0, limit)),
            ).fetchall()
            conn.executemany(
                "UPDATE webhooks SET lease = ?, token = ? WHERE job_id = ?",
                [(until, token, job_id) for job_id, _ in rows],
            )
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise
        return [json.loads(record) for _, record in rows]

    def webhook_settle(
        self, job_id: str, record: dict[str, Any], due: float | None, token: str
    ) -> bool:
        self._hooks()
        cur = self._write(
            "UPDATE webhooks SET due = ?, lease = 0, token = NULL, record = ? "
            "WHERE job_id = ? AND token = ?",
            (due, dumps_text(record), job_id, token),
        )
        return cur.rowcount == 1

    def webhook_get(self, job_id: str) -> dict[str, Any] | None:
        row = (
            self._hooks()
            .execute("SELECT record, due FROM webhooks WHERE job_id = ?", (job_id,))
            .fetchone()
        )
        if row is None:
            return None
        found: dict[str, Any] = json.loads(row[0])
        found.update(due=row[1], open=row[1] is not None)
        return found

    def webhook_next_due(self, wall: float) -> float | None:
        row = (
            self._hooks()
            .execute("SELECT MIN(due) FROM webhooks WHERE due IS NOT NULL AND lease <= ?", (wall,))
            .fetchone()
        )
        return float(row[0]) if row and row[0] is not None else None

    def webhook_clear(self) -> None:
        self._hooks()
        self._write("DELETE FROM webhooks")

    def webhook_forget(self, job_ids: list[str]) -> None:
        if not job_ids:
            return
        self._hooks()
        marks = ", ".join("?" * len(job_ids))
        self._write(f"DELETE FROM webhooks WHERE job_id IN ({marks})", tuple(job_ids))  # noqa: S608
