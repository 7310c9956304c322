"""SQLiteStore's read path. Its answers from memory (``store_sqlite_memory``: each method's
``peek``, which the store guard answers a call with while the store is up): a peek gives what
its method gives in every state of the settings and of a read instant's memo, or MISS; a
poll's calls answered so never reach the guard's work. A forked worker reads on connections
of its own (noticed without a system call)."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from jobs import make_job

from mockserver.state import store_guard
from mockserver.state import store_sqlite_memory as memory
from mockserver.state.store_guard import MISS
from mockserver.state.store_sqlite import SQLiteStore

#: (peek, the method it answers for, its arguments)
PEEKS: list[tuple[Callable[..., Any], str, tuple[Any, ...]]] = [
    (memory.clock, "clock_get", (7.0,)),
    (memory.no_rule, "take_rule", ("key_x", "gptge")),
    (memory.faults, "faults_setting", ()),
    (memory.no_fault, "faults_next", (0.0, 1)),
    (memory.no_fault, "faults_next", (0.5, 1)),
]

#: another worker's writes, one after another: the states each peek is asked in
WRITES: list[Callable[[SQLiteStore], object]] = [
    lambda s: None,
    lambda s: s.clock_init(100.0),
    lambda s: s.add_rule("slow", "key_y", None, None),  # a rule, not this key's
    lambda s: s.add_rule("forbidden", "key_x", None, 1),  # this key's, taken once
    lambda s: s.add_rule("unauthorized", "key_x", None, None),  # this key's, kept
    lambda s: s.faults_restart(0.25, 7),
    lambda s: s.faults_restart(0.0, 7),
    lambda s: s.clear_rules(),
    lambda s: s.clock_advance(5.0, 0.0),
    lambda s: s.reset(),
]


def test_each_peek_gives_what_its_method_gives_or_miss(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    mine, other = SQLiteStore(path), SQLiteStore(path)
    hits = [0] * len(PEEKS)
    for write in WRITES:
        write(other)
        for _ in range(2):  # before the method read the setting, and after
            for n, (peek, name, args) in enumerate(PEEKS):
                peeked = peek(mine, *args)
                answer = getattr(SQLiteStore, name).__wrapped__(mine, *args)
                if peeked is not MISS:
                    hits[n] += 1
                    assert peeked == answer, (name, args)
    assert all(hits), hits  # (not a test of MISS alone)
    mine.close()
    other.close()


def test_a_job_is_peeked_at_in_a_read_instant_only_until_a_write(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite")
    job = make_job()
    store.add(job)
    assert memory.job(store, job.id) is MISS  # outside a read instant: the store
    with store.read_instant():
        assert memory.job(store, job.id) is MISS  # not read yet
        assert store.get(job.id) == job
        assert memory.job(store, job.id) == job
        assert store.get("video_none") is None
        assert memory.job(store, "video_none") is None
        store.clock_advance(1.0, 0.0)  # a write of this thread in the block
        assert memory.job(store, job.id) is MISS
    store.close()


def test_while_the_store_is_down_a_job_in_the_memo_is_still_read_without_a_statement(
    tmp_path: Path,
) -> None:
    """(The method runs guarded then, not its peek: a full disk fails writes while reads go
    on, and the memo is the method's own too.)"""
    store = SQLiteStore(tmp_path / "state.sqlite")
    job = make_job()
    store.add(job)
    with store.read_instant(job.id):
        assert store.get(job.id) == job
    store_guard.outage_of(
        store, "SQLite"
    ).down = True  # (a write failed: tests/test_store_outage.py)
    seen: list[str] = []
    store._conn().set_trace_callback(seen.append)
    with store.read_instant(job.id):
        assert store.get(job.id) == job
    assert seen == []
    store.close()


def test_a_polls_calls_but_its_read_instant_skip_the_guards_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite")
    job = make_job()
    store.add(job)
    store.clock_init(100.0)

    def poll() -> tuple[Any, ...]:
        with store.read_instant(job.id):
            return (
                store.take_rule("key_x", "gptge"),
                store.faults_next(0.0, 1),
                store.get(job.id),
                store.clock_get(0.0),
            )

    assert poll() == (None, None, job, 100.0)  # the first reads the store
    reads = [0]

    def monotonic() -> float:
        reads[0] += 1
        return time.monotonic()

    monkeypatch.setattr(store_guard, "time", SimpleNamespace(monotonic=monotonic))
    assert poll() == (None, None, job, 100.0)
    assert reads[0] == 1  # the read instant's call (its block is read by the call)
    store.close()


def _child_reads(store: SQLiteStore, job_id: str, answer: Any) -> None:
    parents = store._local.conn  # (this thread's, copied by the fork)
    with store.read_instant(job_id):
        found = store.get(job_id)
    answer.send((store._local.conn is not parents, found is not None and found.id == job_id))
    answer.close()


def test_a_forked_worker_reads_on_a_connection_of_its_own(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite")
    job = make_job()
    store.add(job)
    with store.read_instant(job.id):
        assert store.get(job.id) == job
    ctx = multiprocessing.get_context("fork")
    mine, theirs = ctx.Pipe()
    child = ctx.Process(target=_child_reads, args=(store, job.id, theirs), daemon=True)
    child.start()
    assert mine.poll(30), "the forked worker did not answer"
    assert mine.recv() == (True, True)
    child.join(30)
    store.close()


def test_the_fault_rate_stored_decides_a_draw_not_its_seed_nor_the_start_up_rate(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite")
    store.faults_restart(0.0, 7)  # no faults, whatever the start-up flags said
    assert store.faults_setting() == (0.0, 7)
    assert memory.no_fault(store, 0.5, 1) is None
    store.faults_restart(0.25, 0)  # faults, from seed 0
    assert store.faults_setting() == (0.25, 0)
    assert memory.no_fault(store, 0.0, 1) is MISS
    assert memory.faults_of((None, 7)) is None  # a row without a rate (a draw's, or a tool's)
    assert memory.faults_of(None) is None
    store.close()
