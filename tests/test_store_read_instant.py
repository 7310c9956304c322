"""SQLiteStore.read_instant: a read request's block answers repeated reads from memory, and
never misses a write (another worker's, or its own)."""

from __future__ import annotations

from pathlib import Path

from jobs import make_job

from mockserver.state.store_sqlite import SQLiteStore


def statements(store: SQLiteStore) -> list[str]:
    seen: list[str] = []
    store._conn().set_trace_callback(seen.append)
    return seen


def test_a_read_instant_reads_the_store_once_for_what_it_read_before(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite")
    job = make_job()
    store.add(job)
    store.clock_init(100.0)
    with store.read_instant():  # the first request of this thread reads everything
        assert store.get(job.id) == job
    seen = statements(store)
    for _ in range(3):
        with store.read_instant():
            assert store.get(job.id) == job
            assert store.take_rule("key_x", "gptge") is None
            assert store.clock_get(0.0) == 100.0
    # (the clock was read by clock_init, and nothing wrote it since:
    # tests/test_store_settings_memo.py)
    assert [s for s in seen if not s.startswith("PRAGMA data_version")] == [
        "SELECT NOT EXISTS (SELECT 1 FROM rules)",
    ]
    seen.clear()
    assert store.get(job.id) == job  # outside a read instant: always the store
    assert seen == [f"SELECT body FROM jobs WHERE id = '{job.id}'"]


def test_another_workers_write_is_seen_by_the_next_read_instant(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    mine, other = SQLiteStore(path), SQLiteStore(path)  # two connections, as two workers
    job = make_job()
    mine.add(job)
    mine.clock_init(100.0)
    with mine.read_instant():
        assert mine.get(job.id) == job
        assert mine.take_rule("key_x", "gptge") is None
        assert mine.clock_get(0.0) == 100.0
    other._conn()  # (a connection of its own: SQLiteStore keeps one per thread and instance)
    other.add_rule("server_error", None, None, 1)
    with mine.read_instant():
        assert mine.take_rule("key_x", "gptge") == "server_error"
    other.clock_advance(5.0, 0.0)
    with mine.read_instant():
        assert mine.clock_get(0.0) == 105.0
    assert other.delete(job.id)
    with mine.read_instant():
        assert mine.get(job.id) is None


def test_a_write_inside_a_read_instant_is_never_read_past(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite")
    job = make_job()
    store.add(job)
    store.add_rule("server_error", None, None, 1)
    with store.read_instant():
        assert store.get(job.id) == job
        assert store.delete(job.id)  # e.g. an expired job purged by the read
        assert store.get(job.id) is None
    with store.read_instant():
        assert store.take_rule("key_x", "gptge") == "server_error"  # consumed: a write
        assert store.take_rule("key_x", "gptge") is None
        store.add_rule("forbidden", None, None, None)
        assert store.take_rule("key_x", "gptge") == "forbidden"
