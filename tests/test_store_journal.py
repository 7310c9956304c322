"""The SQLite store's journal: a file per worker process, read as one journal in the order
the entries were written (mockserver.state.store_journal)."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import sqlite3
from pathlib import Path

import pytest

from mockserver.state.store_journal import COMPACT_SLACK, KEEP_FILES
from mockserver.state.store_sqlite import SQLiteStore


def entry(who: str, n: int) -> dict[str, object]:
    return {"request_id": f"{who}-{n}"}


def _child_writes(path: str, start: multiprocessing.synchronize.Event, done: object) -> None:
    store = SQLiteStore(path)
    start.wait(10)
    store.journal_add(entry("child", 0), entry("child", 1))
    done.set()  # type: ignore[attr-defined]


def test_entries_of_several_processes_read_as_one_journal_in_written_order(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "state.sqlite")
    store = SQLiteStore(path)
    store.journal_add(entry("parent", 0))
    ctx = multiprocessing.get_context("fork")
    start, done = ctx.Event(), ctx.Event()
    child = ctx.Process(target=_child_writes, args=(path, start, done), daemon=True)
    child.start()
    start.set()
    assert done.wait(30)
    child.join(30)
    store.journal_add(entry("parent", 1))
    ids = [e["request_id"] for e in store.journal(10)]
    assert ids == ["parent-0", "child-0", "child-1", "parent-1"]
    files = sorted(p.name for p in tmp_path.glob("state.sqlite.journal-*") if p.name[-1].isdigit())
    assert files == sorted(
        [f"state.sqlite.journal-{os.getpid()}", f"state.sqlite.journal-{child.pid}"]
    )
    assert [e["request_id"] for e in store.journal(2)] == ["child-1", "parent-1"]

    store.reset()  # every worker's journal, not only this one's
    assert store.journal(10) == []


def test_the_journal_keeps_its_newest_entries_and_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    store = SQLiteStore(path, journal_size=100)
    for batch in range(30):
        store.journal_add(*(entry("w", batch * 10 + n) for n in range(10)))
    kept = [e["request_id"] for e in store.journal(1000)]
    assert kept == [f"w-{n}" for n in range(200, 300)]
    store.close()
    again = SQLiteStore(path, journal_size=100)
    assert [e["request_id"] for e in again.journal(3)] == ["w-297", "w-298", "w-299"]


def test_files_of_processes_long_gone_are_pruned_beyond_a_bound(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    dead_pids = range(4_000_001, 4_000_001 + KEEP_FILES + 5)  # above any pid_max in use
    for pid in dead_pids:
        (tmp_path / f"state.sqlite.journal-{pid}").write_bytes(b"")
    store = SQLiteStore(path)
    store.journal_add(entry("me", 0))
    left = [p for p in tmp_path.glob("state.sqlite.journal-*") if p.name[-1].isdigit()]
    assert len(left) == KEEP_FILES
    assert tmp_path / f"state.sqlite.journal-{os.getpid()}" in left
    assert [e["request_id"] for e in store.journal(10)] == ["me-0"]


# --------------------------------------------------------------------------- the writer queue


def _lock_is_free(path: Path) -> bool:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def test_a_write_transaction_holds_the_store_wide_writer_queue_until_it_ends(
    tmp_path: Path,
) -> None:
    """Writers of every process queue on ``<store>.lock`` (woken by the kernel) instead of
    sleeping in SQLite's busy handler."""
    store = SQLiteStore(tmp_path / "state.sqlite")
    lock = tmp_path / "state.sqlite.lock"
    conn = store._conn()
    conn.execute("BEGIN IMMEDIATE")
    assert not _lock_is_free(lock)
    with pytest.raises(sqlite3.OperationalError):  # nested: SQLite's error, not a deadlock
        conn.execute("BEGIN IMMEDIATE")
    conn.execute("COMMIT")
    assert _lock_is_free(lock)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("ROLLBACK")
    assert _lock_is_free(lock)
    store.add_rule("server_error", None, None, 1)  # a store write takes and leaves it too
    assert _lock_is_free(lock)


def test_a_worker_forked_while_its_parent_writes_can_write_once_the_parent_is_done(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.sqlite"
    store = SQLiteStore(path)
    store._writers.acquire()  # a thread of the parent holds the queue when the worker forks
    ctx = multiprocessing.get_context("fork")
    done = ctx.Event()
    child = ctx.Process(target=_child_put_same, args=(store, done), daemon=True)
    child.start()
    store._writers.release()
    assert done.wait(30), "the forked worker never got the writer queue"
    child.join(30)
    assert store.get_blob("child") == b"written"


def _child_put_same(store: SQLiteStore, done: object) -> None:
    store.put_blob("child", b"written")  # the store object inherited from the parent
    done.set()  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- the files


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def test_a_file_is_compacted_to_its_newest_lines_when_it_holds_enough(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite", journal_size=10)
    own = tmp_path / f"state.sqlite.journal-{os.getpid()}"
    most = 10 + COMPACT_SLACK
    for n in range(most - 1):
        store.journal_add(entry("w", n))
    assert len(_lines(own)) == most - 1  # not yet
    store.journal_add(entry("w", most - 1), entry("w", most))
    assert len(_lines(own)) == 10  # the newest 10 remain
    assert [e["request_id"] for e in store.journal(10)] == [
        f"w-{n}" for n in range(most - 9, most + 1)
    ]
    # every line is a time in nanoseconds and the entry, and the times never go back
    stamps = [int(line.split(b" ", 1)[0]) for line in _lines(own)]
    assert stamps == sorted(stamps)
    for n in range(most - 10):  # the next compaction counts the 10 kept
        store.journal_add(entry("u", n))
    assert len(_lines(own)) == 10
    store.close()
    again = SQLiteStore(tmp_path / "state.sqlite", journal_size=10)  # a restart counts the lines
    for n in range(most - 10 - 1):
        again.journal_add(entry("v", n))
    assert len(_lines(own)) == most - 1
    again.journal_add(entry("v", most))
    assert len(_lines(own)) == 10


def test_a_line_still_being_written_and_a_file_of_an_older_version_are_skipped(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite")
    other = tmp_path / "state.sqlite.journal-4000001"  # a worker mid-write (no newline yet)
    other.write_bytes(b'1 {"request_id": "o-0"}\n2 {"request_id": "o-1"}\n3 {"request_id": "o')
    old = tmp_path / "state.sqlite.journal-4000002"  # an older version's SQLite file
    old.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 8)
    assert [e["request_id"] for e in store.journal(2)] == ["o-0", "o-1"]
    store.journal_add(entry("me", 0))
    assert [e["request_id"] for e in store.journal(10)] == ["o-0", "o-1", "me-0"]


def test_the_newest_lines_of_a_file_larger_than_one_read(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite", journal_size=400)
    pad = "x" * 900  # ~1 kB a line: 300 lines span several of the reader's chunks
    for n in range(300):
        store.journal_add({"request_id": f"w-{n}", "pad": pad})
    for limit in range(1, 301):  # every limit: a chunk boundary falls after some line count
        got = [e["request_id"] for e in store.journal(limit)]
        assert got == [f"w-{n}" for n in range(300 - limit, 300)], limit


def _child_adds(store: SQLiteStore, done: object) -> None:
    store.journal_add(entry("child", 0))  # the store object inherited from the parent
    done.set()  # type: ignore[attr-defined]


def test_a_worker_forked_while_a_parent_thread_writes_the_journal_can_write_its_own(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite")
    store.journal_add(entry("parent", 0))
    journal = store._journal
    journal._lock.acquire()  # a request thread of the parent is writing when the worker forks
    try:
        ctx = multiprocessing.get_context("fork")
        done = ctx.Event()
        child = ctx.Process(target=_child_adds, args=(store, done), daemon=True)
        child.start()
        assert done.wait(30), "the forked worker never got its journal"
        child.join(30)
    finally:
        journal._lock.release()
    assert (tmp_path / f"state.sqlite.journal-{child.pid}").exists()  # its own file
    assert [e["request_id"] for e in store.journal(10)] == ["parent-0", "child-0"]
