"""The SQLite store's writers, rule by rule (``mockserver.state.store_writers``), in this process:
the writers' queue (a thread lock, then an ``flock`` on ``<store>.lock``), the shared change
counter (``<store>.changes``, eight bytes mapped into memory), and the connection class that
takes its place in the queue at ``BEGIN IMMEDIATE`` and leaves it at ``COMMIT`` or
``ROLLBACK``, counting the write. No store: each test builds the pieces it needs."""

from __future__ import annotations

import fcntl
import gc
import logging
import os
import sqlite3
import stat
import struct
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mockserver.state import store_writers
from mockserver.state.store_writers import (
    CHECKPOINT_EVERY,
    ChangeCounter,
    EarliestExpiry,
    WriterQueue,
    _QueuedWriters,
    _rollback,
)


def lock_is_free(path: Path) -> bool:
    """Whether another open of ``path`` could take its ``flock`` now (as another process)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


# ------------------------------------------------------------------------ WriterQueue


def test_a_queue_creates_its_lock_file_private_and_holds_its_flock_until_released(
    tmp_path: Path,
) -> None:
    lock = tmp_path / "state.sqlite.lock"
    queue = WriterQueue(lock)
    assert queue.path == lock
    assert not lock.exists(), "nothing is opened before the first write"
    queue.acquire()
    try:
        assert stat.S_IMODE(lock.stat().st_mode) == 0o600
        assert not lock_is_free(lock)
        assert queue._lock.locked()
    finally:
        queue.release()
    assert lock_is_free(lock)
    assert not queue._lock.locked()


def test_a_queue_opens_one_descriptor_per_process_and_keeps_it(tmp_path: Path) -> None:
    queue = WriterQueue(tmp_path / "state.sqlite.lock")
    assert (queue._fd, queue._pid) == (-1, 0)
    queue.acquire()
    queue.release()
    fd = queue._fd
    assert queue._pid == os.getpid()
    for _ in range(3):
        queue.acquire()
        queue.release()
    assert queue._fd == fd, "opened again (the old descriptor is still open: a new number)"
    assert stat.S_ISREG(os.fstat(fd).st_mode) and os.fstat(fd).st_ino == (
        (tmp_path / "state.sqlite.lock").stat().st_ino
    )


def test_two_queues_on_one_file_exclude_each_other_as_two_processes_would(
    tmp_path: Path,
) -> None:
    lock = tmp_path / "state.sqlite.lock"
    first, second = WriterQueue(lock), WriterQueue(lock)
    first.acquire()
    second._lock.acquire()  # (what acquire does first; its flock would wait for `first`)
    second._fd = os.open(lock, os.O_RDWR)
    second._pid = os.getpid()
    second._lock.release()
    with pytest.raises(BlockingIOError):
        fcntl.flock(second._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    first.release()
    second.acquire()  # free now: taken at once
    assert not lock_is_free(lock)
    second.release()


def test_a_queue_whose_lock_file_cannot_be_opened_raises_and_stays_free(tmp_path: Path) -> None:
    queue = WriterQueue(tmp_path / "gone" / "state.sqlite.lock")
    for _ in range(2):  # the second would hang were the thread lock kept by the first
        with pytest.raises(FileNotFoundError):
            queue.acquire()
        assert not queue._lock.locked()
    assert (queue._fd, queue._pid) == (-1, 0)


def test_in_a_forked_worker_the_queue_starts_free_with_no_descriptor(tmp_path: Path) -> None:
    queue = WriterQueue(tmp_path / "state.sqlite.lock")
    queue.acquire()  # the parent holds it when it forks
    parents_lock = queue._lock
    store_writers._forked(weakref.ref(queue))  # what os.fork runs in the child
    assert (queue._fd, queue._pid) == (-1, 0)
    assert queue._lock is not parents_lock and not queue._lock.locked()
    parents_lock.release()


def test_the_fork_hook_of_a_queue_gone_does_nothing(tmp_path: Path) -> None:
    queue = WriterQueue(tmp_path / "state.sqlite.lock")
    ref = weakref.ref(queue)
    del queue
    gc.collect()
    assert ref() is None
    store_writers._forked(ref)  # no error


def test_a_queue_registers_its_fork_hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hooks: list[dict[str, Callable[[], None]]] = []
    monkeypatch.setattr(os, "register_at_fork", lambda **kw: hooks.append(kw))
    queue = WriterQueue(tmp_path / "state.sqlite.lock")
    [hook] = hooks
    assert list(hook) == ["after_in_child"]
    queue._fd, queue._pid = 7, 1
    hook["after_in_child"]()
    assert (queue._fd, queue._pid) == (-1, 0)


# ---------------------------------------------------------------------- ChangeCounter


def test_a_new_counter_is_eight_private_zero_bytes(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite.changes"
    counter = ChangeCounter(path)
    assert path.read_bytes() == bytes(8)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert counter.read() == 0


def test_each_bump_adds_one_and_every_mapping_of_the_file_sees_it(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite.changes"
    mine, other = ChangeCounter(path), ChangeCounter(path)
    assert [mine.bump(), mine.bump(), other.bump()] == [1, 2, 3]
    assert mine.read() == other.read() == 3
    assert path.read_bytes() == struct.pack("=Q", 3)
    assert ChangeCounter(path).read() == 3, "opening it again keeps the count"


def test_a_counter_file_too_short_is_grown_to_eight_bytes_and_a_longer_one_kept(
    tmp_path: Path,
) -> None:
    short = tmp_path / "short.changes"
    short.write_bytes(b"\x05")
    assert ChangeCounter(short).read() == 5
    assert short.read_bytes() == b"\x05" + bytes(7)
    longer = tmp_path / "longer.changes"
    longer.write_bytes(struct.pack("=Q", 9) + b"tail")
    assert ChangeCounter(longer).bump() == 10
    assert longer.read_bytes() == struct.pack("=Q", 10) + b"tail"


def test_the_count_wraps_to_zero_after_the_largest_eight_byte_value(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite.changes"
    path.write_bytes(struct.pack("=Q", 2**64 - 1))
    counter = ChangeCounter(path)
    assert counter.read() == 2**64 - 1
    assert counter.bump() == 0
    assert counter.read() == 0


# --------------------------------------------------------------------- EarliestExpiry


def test_a_new_earliest_expiry_is_eight_private_zero_bytes_read_as_zero(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite.expiry"
    expiry = EarliestExpiry(path)
    assert path.read_bytes() == bytes(8)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert expiry.read() == 0.0


def test_the_earliest_expiry_is_lowered_never_raised_and_every_mapping_sees_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.sqlite.expiry"
    mine, other = EarliestExpiry(path), EarliestExpiry(path)
    mine.set(100.0)
    other.lower(None)  # a job that never expires
    other.lower(150.0)
    assert mine.read() == 100.0
    other.lower(40.5)
    assert mine.read() == 40.5 and path.read_bytes() == struct.pack("=d", 40.5)
    mine.set(float("inf"))
    assert other.read() == float("inf")
    assert EarliestExpiry(path).read() == float("inf"), "opening it again keeps it"


# --------------------------------------------------------------------- _QueuedWriters


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[_QueuedWriters]:
    connection = sqlite3.connect(
        tmp_path / "state.sqlite", isolation_level=None, timeout=0, factory=_QueuedWriters
    )
    assert isinstance(connection, _QueuedWriters)
    connection.writers = WriterQueue(tmp_path / "state.sqlite.lock")
    connection.changes = ChangeCounter(tmp_path / "state.sqlite.changes")
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE t (x INTEGER)")
    yield connection
    connection.close()


def lock_of(conn: _QueuedWriters) -> Path:
    return conn.writers.path


@pytest.mark.parametrize("end", ["COMMIT", "ROLLBACK"])
def test_a_write_transaction_holds_the_queue_and_counts_once_when_it_ends(
    conn: _QueuedWriters, end: str
) -> None:
    start = conn.changes.read()
    conn.execute("BEGIN IMMEDIATE")
    assert conn._writing and not lock_is_free(lock_of(conn))
    conn.execute("INSERT INTO t VALUES (1)")
    conn.execute("INSERT INTO t VALUES (2)")
    assert conn.changes.read() == start, "counted when it ends, not before"
    conn.execute(end)
    assert not conn._writing and lock_is_free(lock_of(conn))
    assert not conn.writers._lock.locked()
    assert conn.changes.read() == start + 1
    rows = conn.execute("SELECT count(*) FROM t").fetchone()[0]
    assert rows == (2 if end == "COMMIT" else 0)


def test_a_nested_begin_is_sqlites_error_and_the_queue_is_held_once(
    conn: _QueuedWriters,
) -> None:
    conn.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError, match="within a transaction"):
        conn.execute("BEGIN IMMEDIATE")
    assert conn._writing and not lock_is_free(lock_of(conn))
    conn.execute("COMMIT")
    assert lock_is_free(lock_of(conn)) and not conn.writers._lock.locked()


def test_a_begin_sqlite_refuses_leaves_the_queue(conn: _QueuedWriters, tmp_path: Path) -> None:
    other = sqlite3.connect(tmp_path / "state.sqlite", isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")  # a writer outside the mock's queue (the sqlite3 shell)
    start = conn.changes.read()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        conn.execute("BEGIN IMMEDIATE")
    assert not conn._writing
    assert lock_is_free(lock_of(conn)) and not conn.writers._lock.locked()
    assert conn.changes.read() == start, "no write: nothing counted"
    other.execute("ROLLBACK")
    conn.execute("BEGIN IMMEDIATE")  # the queue is free: taken at once
    conn.execute("COMMIT")
    other.close()


def test_a_begin_or_commit_given_parameters_is_refused_as_sqlite_refuses_it(
    conn: _QueuedWriters,
) -> None:
    """The statements go to SQLite as given, parameters included (none of them has a
    placeholder, so SQLite refuses any), and the queue is left either way."""
    with pytest.raises(sqlite3.ProgrammingError, match="bindings"):
        conn.execute("BEGIN IMMEDIATE", (1,))
    assert not conn._writing and lock_is_free(lock_of(conn))
    conn.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.ProgrammingError, match="bindings"):
        conn.execute("COMMIT", (1,))
    assert not conn._writing and lock_is_free(lock_of(conn))
    assert conn.in_transaction, "SQLite did not commit"
    conn.execute("ROLLBACK")


def test_a_commit_outside_a_write_is_sqlites_error_and_leaves_no_queue(
    conn: _QueuedWriters,
) -> None:
    start = conn.changes.read()
    for end in ("COMMIT", "ROLLBACK"):
        with pytest.raises(sqlite3.OperationalError, match="no transaction is active"):
            conn.execute(end)
    assert conn.changes.read() == start
    assert not conn.writers._lock.locked()


def test_a_commit_that_fails_still_leaves_the_queue(conn: _QueuedWriters) -> None:
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    conn.execute(
        "CREATE TABLE child (p INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
    )
    start = conn.changes.read()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO child VALUES (1)")  # checked only at COMMIT
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("COMMIT")
    assert not conn._writing and lock_is_free(lock_of(conn))
    assert conn.changes.read() == start + 1
    conn.execute("ROLLBACK")  # (still open in SQLite: rolled back by hand, outside the queue)
    assert conn.changes.read() == start + 1


def test_other_statements_pass_through_untouched(conn: _QueuedWriters) -> None:
    start = conn.changes.read()
    assert conn.execute("SELECT ? + 1", (41,)).fetchone() == (42,)
    conn.execute("BEGIN")  # a deferred transaction is not the queue's
    assert not conn._writing and lock_is_free(lock_of(conn))
    conn.execute("COMMIT")
    assert conn.changes.read() == start


def test_one_statement_is_a_transaction_of_its_own_in_the_queue(conn: _QueuedWriters) -> None:
    held: list[bool] = []
    conn.set_trace_callback(lambda sql: held.append(not lock_is_free(lock_of(conn))))
    start = conn.changes.read()
    cursor = conn.write_one("INSERT INTO t VALUES (?)", (5,))
    assert cursor.rowcount == 1
    assert held == [True]
    conn.set_trace_callback(None)
    assert conn.changes.read() == start + 1
    assert lock_is_free(lock_of(conn)) and not conn.writers._lock.locked()
    assert conn.execute("SELECT x FROM t").fetchall() == [(5,)]


def test_one_statement_that_fails_still_leaves_the_queue_counted(conn: _QueuedWriters) -> None:
    start = conn.changes.read()
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        conn.write_one("INSERT INTO nowhere VALUES (?)", (1,))
    assert lock_is_free(lock_of(conn)) and not conn.writers._lock.locked()
    assert conn.changes.read() == start + 1


def test_one_statement_inside_a_write_is_part_of_it(conn: _QueuedWriters) -> None:
    start = conn.changes.read()
    conn.execute("BEGIN IMMEDIATE")
    conn.write_one("INSERT INTO t VALUES (?)", (7,))  # would wait for itself, were it queued
    assert conn._writing and not lock_is_free(lock_of(conn))
    assert conn.changes.read() == start
    conn.execute("ROLLBACK")
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
    assert conn.changes.read() == start + 1


def test_the_wal_is_checkpointed_at_every_multiple_of_the_period_after_the_queue_is_left(
    conn: _QueuedWriters, monkeypatch: pytest.MonkeyPatch
) -> None:
    at: list[tuple[int, bool]] = []
    monkeypatch.setattr(
        _QueuedWriters,
        "checkpoint",
        lambda self: at.append((self.changes.read(), lock_is_free(lock_of(self)))),
    )
    conn.changes._map[:8] = struct.pack("=Q", CHECKPOINT_EVERY - 2)
    for n in range(CHECKPOINT_EVERY + 2):
        conn.write_one("INSERT INTO t VALUES (?)", (n,))
    assert at == [(CHECKPOINT_EVERY, True), (2 * CHECKPOINT_EVERY, True)]
    assert CHECKPOINT_EVERY == 64


def test_a_checkpoint_copies_the_wal_into_the_database_file(
    conn: _QueuedWriters, tmp_path: Path
) -> None:
    for n in range(20):
        conn.write_one("INSERT INTO t VALUES (?)", (n,))

    def rows_in_the_database_file_alone() -> int:
        alone = tmp_path / "alone.sqlite"
        alone.write_bytes((tmp_path / "state.sqlite").read_bytes())  # without its WAL
        db = sqlite3.connect(alone)
        try:
            return int(db.execute("SELECT count(*) FROM t").fetchone()[0])
        except sqlite3.OperationalError:  # (not even the table yet)
            return -1
        finally:
            db.close()
            alone.unlink()

    assert rows_in_the_database_file_alone() < 20
    conn.checkpoint()
    assert rows_in_the_database_file_alone() == 20


def test_a_checkpoint_that_fails_is_logged_and_left_to_the_next(
    conn: _QueuedWriters, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="mockserver")
    conn.close()
    conn.checkpoint()  # no error
    [record] = caplog.records
    assert record.name == "mockserver" and record.levelno == logging.DEBUG
    assert record.getMessage() == (
        "WAL checkpoint failed, left to the next: Cannot operate on a closed database."
    )


# -------------------------------------------------------------------------- _rollback


def test_a_rollback_leaves_the_queue_and_one_with_no_transaction_is_no_error(
    conn: _QueuedWriters,
) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO t VALUES (1)")
    _rollback(conn)
    assert lock_is_free(lock_of(conn)) and not conn._writing
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
    _rollback(conn)  # SQLite rolled it back itself (a full disk): nothing to do, no error


def test_a_rollback_raises_what_is_not_sqlites_no_transaction(tmp_path: Path) -> None:
    closed = sqlite3.connect(tmp_path / "x.sqlite")
    closed.close()
    with pytest.raises(sqlite3.ProgrammingError):
        _rollback(closed)
