"""The SQLite store's creates committed together (``store_writers.GroupCommit``): the jobs
of the threads that wait for the writers' queue at once go in one transaction; each ``add``
returns once its own job is committed; a job that cannot be written fails alone."""

from __future__ import annotations

import math
import multiprocessing
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jobs import make_job

from mockserver.state.lifecycle import Job
from mockserver.state.store_guard import StoreUnavailable
from mockserver.state.store_sqlite import SQLiteStore
from mockserver.state.store_writers import GroupCommit

IMAGE = b"png bytes"


class _Noted(list[Any]):
    """A GroupCommit's waiting list that says when a write joined it."""

    def __init__(self, joined: threading.Semaphore) -> None:
        super().__init__()
        self.joined = joined

    def append(self, item: Any) -> None:
        super().append(item)
        self.joined.release()


def job(n: int, **changes: Any) -> Job:
    return make_job(id=f"video_{n}", image_key="image:a", expires_at=1000.0 + n, **changes)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "state.sqlite")
    yield store
    store.close()


def add_together(store: SQLiteStore, jobs: list[Job]) -> dict[str, BaseException | Job | None]:
    """``add`` each job from a thread of its own while a batch is under way (the lead taken
    here), so that each joins the waiting list; the lead is given up once all have joined.
    Each thread reads its job back as soon as its ``add`` returns (or keeps what it raised)."""
    creates = store._creates
    joined = threading.Semaphore(0)
    creates._waiting = _Noted(joined)
    outcome: dict[str, BaseException | Job | None] = {}

    def create(one: Job) -> None:
        try:
            store.add(one, IMAGE)
        except Exception as exc:
            outcome[one.id] = exc
        else:
            outcome[one.id] = store.get(one.id)  # committed before add returned

    threads = [threading.Thread(target=create, args=(one,)) for one in jobs]
    with creates._cond:
        creates._leading = True
    for thread in threads:
        thread.start()
    for _ in jobs:
        assert joined.acquire(timeout=30), "a create never joined the waiting list"
    with creates._cond:
        creates._leading = False
        creates._cond.notify_all()
    for thread in threads:
        thread.join(30)
    return outcome


def refs(store: SQLiteStore) -> int:
    return int(store._conn().execute("SELECT refs FROM blobs WHERE key = 'image:a'").fetchone()[0])


def test_creates_waiting_at_once_are_committed_in_one_transaction(store: SQLiteStore) -> None:
    store._expiry.set(math.inf)  # known: no job expires
    before = store._changes.read()
    jobs = [job(n) for n in range(6)]
    outcome = add_together(store, jobs)
    assert outcome == {one.id: one for one in jobs}  # each readable once its add returned
    assert store._changes.read() == before + 1
    assert refs(store) == 6
    assert store._expiry.read() == 1000.0  # lowered by the batch's jobs, in the queue


def test_a_batch_takes_at_most_its_limit(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(GroupCommit, "LIMIT", 3)
    before = store._changes.read()
    jobs = [job(n) for n in range(6)]
    assert add_together(store, jobs) == {one.id: one for one in jobs}
    assert store._changes.read() == before + 2
    assert refs(store) == 6


def test_a_job_that_cannot_be_written_fails_alone_and_the_others_are_committed(
    store: SQLiteStore,
) -> None:
    taken = job(3, prompt="the first video_3")
    store.add(taken, IMAGE)
    jobs = [job(n) for n in range(6)]
    outcome = add_together(store, jobs)
    assert isinstance(outcome.pop("video_3"), sqlite3.IntegrityError)  # as when alone
    assert outcome == {one.id: one for one in jobs if one.id != "video_3"}
    assert store.get("video_3") == taken
    assert refs(store) == 6  # the five committed and the first video_3: none counted twice


def test_a_create_inside_a_read_instant_reads_its_own_job_back_after_another_thread_wrote_it(
    store: SQLiteStore,
) -> None:
    creates = store._creates
    joined = threading.Semaphore(0)
    creates._waiting = _Noted(joined)
    seen: list[Job | None] = []
    second = job(1)

    def create_in_read_instant() -> None:
        with store.read_instant(second.id):
            seen.append(store.get(second.id))  # not there yet: remembered as missing
            store.add(second, IMAGE)  # committed by the other thread's connection
            seen.append(store.get(second.id))

    with creates._cond:
        creates._leading = True  # a batch under way: the thread's create waits behind it
    thread = threading.Thread(target=create_in_read_instant)
    thread.start()
    assert joined.acquire(timeout=30)
    with creates._cond:
        creates._leading = False  # (no notice: the thread waits on)
    store.add(job(0), IMAGE)  # leads a batch of the thread's job and its own
    assert joined.acquire(timeout=30)
    thread.join(30)
    assert seen == [None, second]


class Interrupted(BaseException):
    """What stops a thread in the middle of its work (as ``KeyboardInterrupt`` would)."""


def test_a_leader_interrupted_leaves_the_others_jobs_to_the_next_leader(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(GroupCommit, "LIMIT", 2)
    creates = store._creates
    joined = threading.Semaphore(0)
    creates._waiting = _Noted(joined)
    others = [job(n) for n in (1, 2, 3)]
    threads = [threading.Thread(target=store.add, args=(one, IMAGE)) for one in others]
    with creates._cond:
        creates._leading = True
    for thread in threads:
        thread.start()
        assert joined.acquire(timeout=30)  # (in this order)
    with creates._cond:
        creates._leading = False
    write = creates._write

    def interrupted(jobs: list[Any]) -> None:
        monkeypatch.setattr(creates, "_write", write)  # (once)
        raise Interrupted

    monkeypatch.setattr(creates, "_write", interrupted)
    with pytest.raises(Interrupted):
        store.add(job(0), IMAGE)  # leads video_1 and video_2 (its own is third), is stopped
    for thread in threads:
        thread.join(30)
    assert [store.get(one.id) for one in others] == others  # committed by the next leaders
    assert store.get("video_0") is None  # its add raised: not written later either
    assert creates._waiting == [] and not creates._leading


def test_a_leader_interrupted_among_its_jobs_written_alone_leaves_only_the_rest(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(GroupCommit, "LIMIT", 2)
    creates = store._creates
    joined = threading.Semaphore(0)
    creates._waiting = _Noted(joined)
    others = [job(n) for n in (1, 2, 3)]
    threads = [threading.Thread(target=store.add, args=(one, IMAGE)) for one in others]
    with creates._cond:
        creates._leading = True
    for thread in threads:
        thread.start()
        assert joined.acquire(timeout=30)
    with creates._cond:
        creates._leading = False
    write = creates._write
    calls: list[list[str]] = []

    def scripted(jobs: list[Any]) -> None:
        calls.append([row[0] for row, _, _ in jobs])
        if len(calls) == 1:
            raise sqlite3.IntegrityError("UNIQUE constraint failed")  # the batch: one by one
        if len(calls) == 3:
            raise Interrupted  # after video_1 alone, before video_2
        write(jobs)

    monkeypatch.setattr(creates, "_write", scripted)
    with pytest.raises(Interrupted):
        store.add(job(0), IMAGE)
    for thread in threads:
        thread.join(30)
    assert calls[:3] == [["video_1", "video_2"], ["video_1"], ["video_2"]]
    assert calls[3:] == [["video_2", "video_3"]]  # video_1, written, is not written again
    assert [store.get(one.id) for one in others] == others


def test_a_create_interrupted_while_it_waits_is_not_written(store: SQLiteStore) -> None:
    creates = store._creates
    raised: list[BaseException] = []

    def interrupted(timeout: float | None = None) -> bool:
        raise Interrupted

    def create() -> None:
        try:
            store.add(job(1), IMAGE)
        except BaseException as exc:
            raised.append(exc)

    with creates._cond:
        creates._leading = True
    creates._cond.wait = interrupted  # type: ignore[method-assign]
    thread = threading.Thread(target=create)
    thread.start()
    thread.join(30)
    assert [type(exc) for exc in raised] == [Interrupted]
    assert creates._waiting == [] and creates._followers == 0
    with creates._cond:
        creates._leading = False
    store.add(job(0), IMAGE)
    assert (store.get("video_0"), store.get("video_1")) == (job(0), None)


def test_a_lone_create_leads_its_own_batch_at_once(store: SQLiteStore) -> None:
    joined = threading.Semaphore(0)
    store._creates._waiting = _Noted(joined)
    before = store._changes.read()
    store.add(job(0), IMAGE)
    assert store._changes.read() == before + 1
    assert not joined.acquire(blocking=False)  # never in the waiting list
    assert store._creates._waiting == [] and not store._creates._leading


def test_a_lone_job_counting_a_stored_image_is_one_transaction(store: SQLiteStore) -> None:
    store.add(job(0), IMAGE)
    seen: list[str] = []
    store._conn().set_trace_callback(lambda sql: seen.append(sql.split(" (", 1)[0]))
    store.add(job(1))  # its image stored already: counted, not given
    assert seen == [
        "BEGIN IMMEDIATE",
        "UPDATE blobs SET refs = refs + 1 WHERE key = 'image:a'",
        "INSERT INTO jobs",
        "COMMIT",
    ]
    assert refs(store) == 2


def test_creates_arriving_while_a_batch_is_written_wait_and_are_written_together(
    store: SQLiteStore,
) -> None:
    creates = store._creates
    joined, writing = threading.Semaphore(0), threading.Semaphore(0)
    creates._waiting = _Noted(joined)
    write = creates._write
    leading: list[bool] = []

    def noted(jobs: list[Any]) -> None:
        leading.append(creates._leading)
        writing.release()
        write(jobs)

    creates._write = noted  # type: ignore[method-assign]
    before = store._changes.read()
    jobs = [job(n) for n in range(3)]
    threads = [threading.Thread(target=store.add, args=(one, IMAGE)) for one in jobs]
    store._writers.acquire()
    try:
        threads[0].start()
        assert writing.acquire(timeout=30)  # its batch of one waits for the writers' queue
        for thread in threads[1:]:
            thread.start()
            assert joined.acquire(timeout=30)
        with creates._cond:
            assert creates._followers == 2
    finally:
        store._writers.release()
    for thread in threads:
        thread.join(30)
    assert leading == [True, True]  # the lead taken while each batch was written
    assert store._changes.read() == before + 2
    assert [store.get(one.id) for one in jobs] == jobs
    assert creates._followers == 0


def test_a_batch_of_one_that_fails_is_written_once(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.add(job(1), IMAGE)
    calls: list[int] = []
    write = store._creates._write
    monkeypatch.setattr(
        store._creates, "_write", lambda jobs: (calls.append(len(jobs)), write(jobs))
    )
    outcome = add_together(store, [job(1)])  # a follower leading a batch of its own job
    assert isinstance(outcome["video_1"], sqlite3.IntegrityError)
    assert calls == [1]
    assert refs(store) == 1


def _child_adds(store: SQLiteStore, done: Any) -> None:
    store.add(job(1), IMAGE)  # the store object inherited from the parent
    done.set()


def test_a_worker_forked_while_a_parent_thread_leads_a_batch_starts_with_none(
    store: SQLiteStore,
) -> None:
    creates = store._creates
    creates._cond.acquire()  # a thread of the parent is in the group commit at the fork
    creates._leading = True
    creates._waiting.append(object())  # and another's job waits for it
    try:
        ctx = multiprocessing.get_context("fork")
        done = ctx.Event()
        child = ctx.Process(target=_child_adds, args=(store, done), daemon=True)
        child.start()
        try:
            assert done.wait(30), "the forked worker's create waited for its parent's batch"
            child.join(30)
        finally:
            if child.is_alive():
                child.kill()
    finally:
        creates._leading = False
        creates._waiting.clear()
        creates._cond.release()
    assert store.get("video_1") == job(1)


def test_a_batch_the_store_cannot_write_is_an_outage_for_each_of_its_creates(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def full(jobs: list[Any]) -> None:
        calls.append(len(jobs))
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store._creates, "_write", full)
    outcome = add_together(store, [job(n) for n in range(3)])
    assert all(isinstance(error, StoreUnavailable) for error in outcome.values()), outcome
    assert calls == [3]  # the batch once: a store-wide failure is each job's, not retried alone
