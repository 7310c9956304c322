"""The SQLite store's writes in the writers' queue (every worker's creates take turns there):
a create is one short transaction, and nothing but its statements happens while it holds the
queue (not the job's JSON, not a WAL checkpoint)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest
from jobs import make_job

import mockserver.state.store_sqlite as store_module
from mockserver.state.store_sqlite import SQLiteStore
from mockserver.state.store_writers import CHECKPOINT_EVERY, _QueuedWriters


def lock_is_free(path: Path) -> bool:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def test_a_create_is_one_transaction_of_its_statements_alone(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite")
    seen: list[str] = []
    store._conn().set_trace_callback(lambda sql: seen.append(sql.split(" (", 1)[0]))
    store.add(make_job(id="video_1", image_key="image:a"), b"png")
    assert seen == [
        "BEGIN IMMEDIATE",
        "INSERT INTO blobs",  # stored or counted: one statement
        "INSERT INTO jobs",
        "COMMIT",
    ]
    seen.clear()
    store.add(make_job(id="video_2"))  # no image: one statement, its own transaction
    assert seen == ["INSERT INTO jobs"]
    assert [j.id for j in store.jobs(order="asc")[0]] == ["video_1", "video_2"]


def test_a_one_statement_write_holds_the_writers_queue_while_it_runs(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite")
    lock = tmp_path / "state.sqlite.lock"
    held: list[bool] = []
    store._conn().set_trace_callback(lambda sql: held.append(not lock_is_free(lock)))
    store.add(make_job())
    store.add_rule("server_error", None, None, None)
    store.clock_init(5.0)
    assert held == [True, True, True, False]  # (the last: clock_init's read back)
    assert lock_is_free(lock)


def test_the_jobs_json_is_made_before_the_writers_queue_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite")
    lock = tmp_path / "state.sqlite.lock"
    free_while_encoding: list[bool] = []
    real = store_module.dumps_text

    def dumps_text(value: object) -> str:
        free_while_encoding.append(lock_is_free(lock))
        return real(value)

    monkeypatch.setattr(store_module, "dumps_text", dumps_text)
    store.add(make_job(id="video_1", image_key="image:a"), b"png")
    store.add(make_job(id="video_2"))
    assert free_while_encoding == [True, True]


def test_the_wal_is_checkpointed_outside_the_writers_queue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite")
    lock = tmp_path / "state.sqlite.lock"
    conn = store._conn()
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0  # not in a COMMIT
    real = _QueuedWriters.checkpoint
    free_at_checkpoint: list[bool] = []

    def checkpoint(self: _QueuedWriters) -> None:
        free_at_checkpoint.append(lock_is_free(lock))
        real(self)

    monkeypatch.setattr(_QueuedWriters, "checkpoint", checkpoint)
    start = store._changes.read()
    writes = 3 * CHECKPOINT_EVERY
    for n in range(writes):
        store.add(make_job(id=f"video_{n}", image_key="image:a"), b"png" * 100)
    expected = (start + writes) // CHECKPOINT_EVERY - start // CHECKPOINT_EVERY
    assert free_at_checkpoint == [True] * expected
    # the checkpoints did their work: the WAL holds at most one period's pages (~8 a write
    # here), not every write's (~1,600 frames without them)
    frames = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
    assert 0 < frames < 12 * CHECKPOINT_EVERY
