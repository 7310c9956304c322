"""The SQLite store's change counter (``<store>.changes``): a read instant knows from one
integer in shared memory whether any process wrote since its process last read, and never
serves what a write replaced."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from jobs import make_job

from mockserver.state.store_sqlite import SQLiteStore

#: another worker: its own process and store on the same file, writing when told
OTHER_WORKER = """
import sys
from mockserver.state.store_sqlite import SQLiteStore

store = SQLiteStore(sys.argv[1])
print("ready", flush=True)
for line in sys.stdin:
    what, _, arg = line.strip().partition(" ")
    if what == "rule":
        store.add_rule("server_error", None, None, None)
    elif what == "clock":
        store.clock_advance(5.0, 0.0)
    elif what == "faults":
        store.faults_restart(0.5, 7)
    elif what == "delete":
        store.delete(arg)
    print("done", flush=True)
"""


@pytest.fixture
def other_worker(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    worker = subprocess.Popen(
        [sys.executable, "-c", OTHER_WORKER, str(tmp_path / "state.sqlite")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout is not None and worker.stdout.readline() == "ready\n"
        yield worker
    finally:
        worker.kill()
        worker.communicate()  # (closes its pipes)


def tell(worker: subprocess.Popen[str], command: str) -> None:
    assert worker.stdin is not None and worker.stdout is not None
    worker.stdin.write(command + "\n")
    worker.stdin.flush()
    assert worker.stdout.readline() == "done\n"  # (EOF if it died: fails, never hangs)


def statements(store: SQLiteStore) -> list[str]:
    seen: list[str] = []
    store._conn().set_trace_callback(seen.append)
    return seen


def read_everything(store: SQLiteStore, job_id: str) -> tuple[object, ...]:
    with store.read_instant(job_id):
        return (
            store.get(job_id),
            store.take_rule("key_x", "gptge"),
            store.clock_get(0.0),
            store.faults_setting(),
        )


def test_a_read_instant_after_nothing_was_written_makes_no_statement(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite")
    job = make_job()
    store.add(job)
    store.clock_init(100.0)
    first = read_everything(store, job.id)
    seen = statements(store)
    assert read_everything(store, job.id) == first == (job, None, 100.0, None)
    assert seen == []  # the freshness check is a read of shared memory, not a statement


def test_another_processs_writes_are_seen_by_the_next_read_instant(
    tmp_path: Path, other_worker: subprocess.Popen[str]
) -> None:
    mine = SQLiteStore(tmp_path / "state.sqlite")
    job = make_job()
    mine.add(job)
    mine.clock_init(100.0)
    assert read_everything(mine, job.id) == (job, None, 100.0, None)
    tell(other_worker, "rule")
    assert read_everything(mine, job.id) == (job, "server_error", 100.0, None)
    tell(other_worker, "clock")
    assert read_everything(mine, job.id)[2] == 105.0
    tell(other_worker, "faults")
    assert read_everything(mine, job.id)[3] == (0.5, 7)
    tell(other_worker, "delete video_1")
    assert read_everything(mine, job.id)[0] is None


def test_the_count_moves_only_once_the_write_can_be_read(tmp_path: Path) -> None:
    """A reader that sees the new count and reads must find the write: were the count moved
    before the commit, it would keep the old rows as the new count's, until the next write."""
    path = tmp_path / "state.sqlite"
    writer, reader = SQLiteStore(path), SQLiteStore(path)
    reader._conn()
    bump = writer._changes.bump
    seen_at_bump: list[int] = []

    def checked() -> int:
        seen_at_bump.append(len(reader.rules()))
        return bump()

    writer._changes.bump = checked  # type: ignore[method-assign]
    writer.add_rule("server_error", None, None, None)
    writer.add_rule("forbidden", None, None, None)
    assert seen_at_bump == [1, 2]


def test_one_threads_write_is_seen_by_every_threads_next_read_instant(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite")
    job = make_job()
    store.add(job)
    store.clock_init(100.0)
    read: dict[str, tuple[object, ...]] = {}
    counted: dict[str, int] = {}

    def in_thread(name: str) -> None:
        seen = statements(store)
        read[name] = read_everything(store, job.id)
        counted[name] = len(seen)

    for name in ("first", "second"):
        thread = threading.Thread(target=in_thread, args=(name,))
        thread.start()
        thread.join()
    # the process's memo: a thread that never read this job is answered from the first's
    assert read["first"] == read["second"] == (job, None, 100.0, None)
    # (the clock was read by clock_init, and no write of a setting came since:
    # tests/test_store_settings_memo.py)
    assert counted == {"first": 3, "second": 0}
    store.clock_advance(1.0, 0.0)  # this thread writes
    thread = threading.Thread(target=in_thread, args=("third",))
    thread.start()
    thread.join()
    assert read["third"] == (job, None, 101.0, None)
    assert counted["third"] == 4
