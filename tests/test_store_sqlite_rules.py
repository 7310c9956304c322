"""The SQLite store's own set-up and bookkeeping, rule by rule (``mockserver.state.store_sqlite``),
in this process: what opening a file does (its directory, the files beside it, the schema and
its upgrade, the count of writes moved), each connection's settings, a forked worker's fresh
connections, ``close``, the read memo's bound, the log of unreadable rows, and which errors are
the store's files failing (an outage, answered 503) rather than the mock's."""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from jobs import make_job

from mockserver.state import store_sqlite
from mockserver.state.store_interface import Filters
from mockserver.state.store_sqlite import MEMO_SIZE, SQLiteStore, _sqlite_outage
from mockserver.state.store_writers import _QueuedWriters


def test_opening_makes_the_directories_and_the_files_beside_the_store(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "state.sqlite"
    store = SQLiteStore(str(path), journal_size=7)
    assert store.path == path and store.journal_size == 7
    assert store._writers.path == tmp_path / "a" / "b" / "state.sqlite.lock"
    assert store._changes.read() == 1, "opening counts as a write (it may have migrated rows)"
    for beside in ("changes", "settings", "expiry"):  # (the counts and the sweep's moment)
        assert (tmp_path / "a" / "b" / f"state.sqlite.{beside}").exists(), beside
    assert not store._writers._lock.locked()
    again = SQLiteStore(path)
    assert again._changes.read() == store._changes.read() == 2
    store.close()
    again.close()


def test_each_connection_is_autocommit_wal_queued_and_never_checkpoints_itself(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite")
    conn = store._conn()
    assert isinstance(conn, _QueuedWriters)
    assert conn.writers is store._writers and conn.changes is store._changes
    assert conn.isolation_level is None
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    assert conn.execute("PRAGMA busy_timeout").fetchone() == (30000,)
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    assert store._conn() is conn, "one connection per thread, kept"
    store.close()


def test_a_forked_worker_opens_connections_and_a_memo_of_its_own(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite")
    store.add(make_job())
    parents = store._conn()
    with store.read_instant():
        store.get("video_1")
    parents_memo = store._shared
    assert parents_memo.entries
    store._pid = -1  # as a forked child sees it: the pid it was made in is not its own
    mine = store._conn()
    assert mine is not parents and store._shared is not parents_memo
    assert store._shared.version is None and not store._shared.entries
    assert store._conn() is mine
    assert store.get("video_1") == make_job()
    store.close()
    parents.close()


def test_close_closes_the_threads_connection_and_a_later_use_opens_another(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite")
    store.journal_add({"n": 1})
    conn = store._conn()
    store.close()
    assert store._local.conn is None
    with pytest.raises(sqlite3.ProgrammingError):
        conn.execute("SELECT 1")
    store.close()  # twice: nothing left to close
    assert store._conn() is not conn
    assert store.get("video_1") is None
    store.close()


def test_a_read_memo_starts_afresh_only_past_its_bound(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite")
    with store.read_instant():
        pass
    memo = store._shared
    memo.entries.update({("job", f"video_{n}"): None for n in range(MEMO_SIZE)})
    with store.read_instant():  # exactly full: kept
        pass
    assert store._shared is memo
    memo.entries[("job", "one more")] = None
    with store.read_instant():
        pass
    assert store._shared is not memo and store._shared.entries == {}
    assert store._shared.version == store._changes.read()
    assert MEMO_SIZE == 1024
    store.close()


def test_a_read_instant_ends_its_memo_use_when_the_block_ends(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite")
    with store.read_instant():
        assert store._memo() is not None
    assert store._memo() is None
    with pytest.raises(KeyError), store.read_instant():
        raise KeyError("a request that failed")
    assert store._memo() is None
    store.close()


def test_the_log_of_unreadable_rows_holds_at_most_1000_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(store_sqlite, "_unreadable", {f"old_{n}" for n in range(998)})
    bad = [f"video_{uuid.uuid4().hex}" for _ in range(3)]
    with caplog.at_level(logging.ERROR, logger="mockserver"):
        for job_id in bad:
            assert store_sqlite._load_job(job_id, "{") is None
        assert store_sqlite._load_job(bad[0], "[]") is None  # (a TypeError: not a dict)
    assert [r.getMessage().split()[1] for r in caplog.records] == bad[:2]
    assert len(store_sqlite._unreadable) == 1000
    assert bad[2] not in store_sqlite._unreadable
    good = make_job(id="video_ok")
    assert store_sqlite._load_job(good.id, json.dumps(good.to_dict())) == good


def test_the_store_files_failing_are_an_outage_and_nothing_else_is() -> None:
    assert _sqlite_outage(sqlite3.OperationalError("database or disk is full")) == (
        "SQLite: database or disk is full"
    )
    full = OSError(errno.ENOSPC, "No space left on device")
    assert _sqlite_outage(full) == "SQLite store files: No space left on device"
    assert _sqlite_outage(PermissionError()) == "SQLite store files: PermissionError"
    assert _sqlite_outage(sqlite3.IntegrityError("UNIQUE constraint failed")) is None
    assert _sqlite_outage(sqlite3.ProgrammingError("closed")) is None
    assert _sqlite_outage(ValueError("a bug")) is None


# ----------------------------------------------- every write: one transaction, queued


def lock_is_free(path: Path) -> bool:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def _ready(store: SQLiteStore) -> None:
    store.add(make_job(id="video_1", image_key="image:a"), b"png")
    store.add(make_job(id="video_2"))
    store.put_blob("file:1", b"f")
    store.clock_init(10.0)
    store.add_rule("slow", "key_a", None, 2)
    store.add_rule("forbidden", None, None, None)
    store.faults_restart(0.5, 3)


#: each write of the store, on a store `_ready` filled
WRITES: dict[str, Callable[[SQLiteStore], object]] = {
    "add": lambda s: s.add(make_job(id="video_3", image_key="image:a")),
    "add a new image": lambda s: s.add(make_job(id="video_3", image_key="image:b"), b"b"),
    "add without image": lambda s: s.add(make_job(id="video_3")),
    "replace_job": lambda s: s.replace_job(make_job(id="video_2", notes=["n"])),
    "delete": lambda s: s.delete("video_1"),
    "put_blob": lambda s: s.put_blob("file:2", b"x"),
    "put_blob replace": lambda s: s.put_blob("file:1", b"y", replace=True),
    "delete_blob": lambda s: s.delete_blob("file:1"),
    "clock_advance": lambda s: s.clock_advance(5.0, 0.0),
    "add_rule": lambda s: s.add_rule("server_error", None, "vtrix", None),
    "clear_rules": lambda s: s.clear_rules(),
    "clear one key's rules": lambda s: s.clear_rules("key_a"),
    "remove_rule": lambda s: s.remove_rule(1),
    "take_rule": lambda s: s.take_rule("key_a", "gptge"),
    "take the last of a rule": lambda s: [s.take_rule("key_a", "gptge"), s.take_rule("key_a", "x")],
    "take a global rule": lambda s: s.take_rule("key_b", "gptge"),
    "take no rule, some in force": lambda s: [s.remove_rule(2), s.take_rule("key_b", "gptge")],
    "take_token": lambda s: s.take_token("key_a", 3.0, 1.0, 0.0),
    "next_count": lambda s: s.next_count("jobs"),
    "faults_restart": lambda s: s.faults_restart(0.25, 1),
    "faults_next": lambda s: s.faults_next(0.5, 3),
    "reset": lambda s: s.reset(),
}

_WRITE_WORDS = ("BEGIN", "COMMIT", "ROLLBACK", "INSERT", "UPDATE", "DELETE")


@pytest.mark.parametrize("name", list(WRITES))
def test_every_write_is_one_counted_transaction_inside_the_writers_queue(
    tmp_path: Path, name: str
) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite")
    _ready(store)
    lock = tmp_path / "state.sqlite.lock"
    writes: list[tuple[str, bool]] = []
    store._conn().set_trace_callback(
        lambda sql: (
            writes.append((sql, lock_is_free(lock)))
            if sql.upper().startswith(_WRITE_WORDS)
            else None
        )
    )
    before = store._changes.read()
    calls = WRITES[name](store)
    steps = len(calls) if isinstance(calls, list) else 1  # (a list: that many writes)
    assert writes and not [sql for sql, free in writes if free], "written outside the queue"
    assert store._changes.read() == before + steps, "each write transaction counted once"
    assert lock_is_free(lock) and not store._writers._lock.locked(), "the queue was left"
    store.close()


#: a write SQLite refuses midway (a trigger raises), and what it leaves: nothing
REFUSED: dict[str, tuple[str, Callable[[SQLiteStore], object]]] = {
    "reset": ("BEFORE DELETE ON rules", lambda s: s.reset()),
    "add": ("BEFORE INSERT ON jobs", lambda s: s.add(make_job(id="v9", image_key="i"), b"i")),
    "delete": ("BEFORE DELETE ON jobs", lambda s: s.delete("video_1")),
    "clock_advance": ("BEFORE INSERT ON clock", lambda s: s.clock_advance(1.0, 0.0)),
    "remove_rule": ("BEFORE DELETE ON rules", lambda s: s.remove_rule(1)),
    "take_rule": ("BEFORE UPDATE ON rules", lambda s: s.take_rule("key_a", "gptge")),
    "take_token": ("BEFORE INSERT ON buckets", lambda s: s.take_token("k", 1.0, 1.0, 0.0)),
    "next_count": ("BEFORE INSERT ON counters", lambda s: s.next_count("jobs")),
    "faults_next": ("BEFORE UPDATE ON faults", lambda s: s.faults_next(0.5, 3)),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_a_write_sqlite_refuses_midway_raises_its_error_and_leaves_the_queue(
    tmp_path: Path, name: str
) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite")
    _ready(store)
    when, write = REFUSED[name]
    raw = sqlite3.connect(tmp_path / "state.sqlite", isolation_level=None)
    raw.execute(f"CREATE TRIGGER refuse {when} BEGIN SELECT RAISE(ABORT, 'refused'); END")
    raw.close()
    with pytest.raises(sqlite3.IntegrityError, match="^refused$"):
        write(store)
    assert lock_is_free(tmp_path / "state.sqlite.lock") and not store._writers._lock.locked()
    assert not store._conn().in_transaction
    assert store.get("video_1") is not None and len(store.rules()) == 2
    store.close()


# ----------------------------------------------------------- the fault setting's memo


def test_a_read_instant_remembers_the_fault_setting_it_read(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite")
    store.faults_restart(0.5, 3)
    seen: list[str] = []
    with store.read_instant():
        store._conn().set_trace_callback(seen.append)
        assert [store.faults_setting() for _ in range(3)] == [(0.5, 3)] * 3
    assert seen == ["SELECT rate, seed FROM faults WHERE id = 1"]
    store.close()


def test_a_rate_another_worker_sets_to_0_just_before_a_draw_draws_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.sqlite"
    mine, other = SQLiteStore(path), SQLiteStore(path)
    mine.faults_restart(0.5, 3)
    with mine.read_instant():
        assert mine.faults_setting() == (0.5, 3)  # the rate this instant read
        other._conn()
        other.faults_restart(0.0, 3)  # switched off between the read and the draw
        assert mine.faults_next(0.5, 3) is None
    assert mine.faults_next(0.9, 3) is None
    mine.close()
    other.close()


def test_a_rate_switched_off_between_the_settings_read_and_the_draw_draws_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The draw's own statement returns the setting in force: another worker's restart
    after this worker read the setting (from memory) and before its draw wins."""
    path = tmp_path / "state.sqlite"
    mine, other = SQLiteStore(path), SQLiteStore(path)
    mine.faults_restart(0.5, 3)
    read = mine.faults_setting

    def read_then_switched_off() -> tuple[float, int] | None:
        setting = read()
        other.faults_restart(0.0, 3)  # another worker, between the read and the draw
        return setting

    monkeypatch.setattr(mine, "faults_setting", read_then_switched_off)
    assert mine.faults_next(0.5, 3) is None
    monkeypatch.undo()
    assert mine.faults_next(0.9, 3) is None  # the stored 0 wins over the caller's rate
    other.faults_restart(0.5, 7)
    assert mine.faults_next(0.0, 9) == (0.5, 7, 1)  # and a stored rate over the caller's 0
    mine.close()
    other.close()


# ------------------------------------------------------------------ a page's reads


def _limits_read(store: SQLiteStore) -> list[int]:
    """The LIMIT of each query of a page's walk (SQLite's trace shows the bound values)."""
    limits: list[int] = []

    def seen(sql: str) -> None:
        if sql.startswith("SELECT seq, id, body FROM jobs"):
            limits.append(int(sql.rsplit("LIMIT ", 1)[1]))

    store._conn().set_trace_callback(seen)
    return limits


def test_a_page_reads_one_job_more_than_it_holds_and_never_more_than_500_at_once(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite")
    for n in range(1200):
        store.add(make_job(id=f"video_{n}", created_at=float(n)))
    limits = _limits_read(store)
    assert len(store.page(Filters(), limit=10).jobs) == 10
    assert limits == [11]
    limits.clear()
    assert len(store.page(Filters(), limit=499, order="asc").jobs) == 499
    assert limits == [500]
    limits.clear()
    assert len(store.page(Filters(), limit=1000).jobs) == 1000
    assert limits == [500, 500, 500]
    store.close()


def test_a_page_with_a_condition_reads_500_jobs_at_a_time(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite")
    for n in range(600):
        store.add(make_job(id=f"video_{n}", created_at=float(n)))
    limits = _limits_read(store)
    page = store.page(Filters(where=lambda job: job.id == "video_3"), limit=10)
    assert [j.id for j in page.jobs] == ["video_3"]
    assert limits == [500, 500]
    store.close()


def test_closing_from_a_thread_that_never_read_the_store_closes_nothing(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite")
    conn = store._conn()
    failed: list[BaseException] = []

    def close() -> None:
        try:
            store.close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            failed.append(exc)

    thread = threading.Thread(target=close)
    thread.start()
    thread.join()
    assert failed == []
    assert conn.execute("SELECT 1").fetchone() == (1,), "this thread's connection is open"
    store.close()
