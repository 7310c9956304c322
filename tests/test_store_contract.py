"""One store contract, three stores (issue 22): the store behaviours that other files tested
on one or two stores only, each run against memory, SQLite and Redis (a real
``redis-server``) alike. "Another worker" is a second store opened on the same state (the
same SQLite file, the same Redis database); the memory store is one process, so its other
worker is the store itself. The rest of the contract is ``test_store_behaviour.py``,
``test_store_scale.py`` and the three-store half of
``test_redis_store_outages_and_sharing.py``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from jobs import make_job
from redis_server import redis_server

from mockserver.state.clock import VirtualClock
from mockserver.state.faults import RandomFaults
from mockserver.state.lifecycle import Job
from mockserver.state.store import Filters, MemoryStore, Page, SQLiteStore, Store
from mockserver.state.store_redis import RedisStore
from mockserver.state.stores import open_store

STORES = ["memory", "sqlite", "redis"]
START = 1_800_000_000.0


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture(params=STORES)
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    """Opens the store under test, then each time another worker's store on the same state."""
    opened: list[Store] = []
    if request.param == "redis":
        url: str = request.getfixturevalue("redis_url")
        redis.Redis.from_url(url).flushdb()

    def open_one() -> Store:
        if request.param == "memory":
            if not opened:
                opened.append(open_store("memory"))
            return opened[0]
        spec = f"sqlite:{tmp_path / 's.db'}" if request.param == "sqlite" else url
        opened.append(open_store(spec))
        return opened[-1]

    yield open_one
    for store in opened:
        store.close()


def job(n: int) -> Job:
    return make_job(id=f"video_{n}", created_at=float(n))


# ------------------------------------------------------------------ the fault stream


def test_the_nth_request_draws_the_same_whoever_serves_it(opener: Callable[[], Store]) -> None:
    """Two workers' streams sharing one store draw, together, exactly what one stream alone
    draws: the faults follow the request order, not the worker."""
    one, two = RandomFaults(0.5, 3, opener()), RandomFaults(0.5, 3, opener())
    together = [(one if n % 3 else two).draw() for n in range(60)]
    alone = RandomFaults(0.5, 3, open_store("memory"))
    assert together == [alone.draw() for _ in range(60)]
    assert any(together) and not all(together)


def test_a_run_time_setting_wins_until_a_reset_and_each_restart_counts_from_one(
    opener: Callable[[], Store],
) -> None:
    store = opener()
    stream = RandomFaults(0.0, 7, store)  # started with --fault-rate 0 --fault-seed 7
    assert (stream.setting(), store.faults_setting()) == ((0.0, 7), None)
    assert store.faults_next(0.0, 7) is None
    assert stream.restart(0.5) == (0.5, 7), "no seed: the one in force"
    assert store.faults_setting() == (0.5, 7)
    # the stored setting wins over the start-up one the caller passes
    assert [store.faults_next(0.0, 1) for _ in range(3)] == [(0.5, 7, n) for n in (1, 2, 3)]
    assert stream.restart(0.25, 0) == (0.25, 0)
    assert store.faults_next(0.9, 3) == (0.25, 0, 1)
    stream.restart(0.0, 0)
    assert store.faults_next(1.0, 3) is None, "rate 0 set at run time: no draw"
    with pytest.raises(ValueError, match=r"^fault rate must be between 0 and 1$"):
        stream.restart(1.5, 9)
    assert stream.setting() == (0.0, 0), "a refused rate changes nothing"
    stream.restart(1.0)
    assert store.faults_next(0.0, 3) == (1.0, 0, 1), "a rate of 0 drew nothing"
    store.reset()
    assert stream.setting() == (0.0, 7)
    assert [store.faults_next(0.5, 7) for _ in range(2)] == [(0.5, 7, 1), (0.5, 7, 2)]


def test_another_workers_fault_setting_holds_for_this_one(opener: Callable[[], Store]) -> None:
    mine, other = opener(), opener()
    assert mine.faults_next(0.5, 7) == (0.5, 7, 1)  # the start-up flags
    other.faults_restart(0.25, 3)
    assert mine.faults_setting() == (0.25, 3)
    assert mine.faults_next(0.5, 7) == (0.25, 3, 1)
    assert other.faults_next(0.5, 7) == (0.25, 3, 2)


# ------------------------------------------------------------------------- the clock


def test_every_workers_virtual_clock_reads_one_time_and_the_first_start(
    opener: Callable[[], Store],
) -> None:
    """The time is the store's (workers of one file or one Redis agree): a worker started
    later with another start finds the store's time; a reset brings back the start of the
    clock that reads next."""
    first = VirtualClock(opener(), START)
    first.advance(10)
    second = VirtualClock(opener(), START + 500)
    assert second.now() == START + 10
    second.advance(5)
    assert first.now() == START + 15
    opener().reset()
    assert first.now() == START
    assert second.advance(1) == START + 1, "the first read after the reset set the time"
    assert first.now() == START + 1


# ------------------------------------------------------------------------- rules


def test_rules_are_taken_key_first_then_global_and_run_out(opener: Callable[[], Store]) -> None:
    store = opener()
    store.add_rule("server_error", None, None, None)
    store.add_rule("rate_limited", "key_a", None, 1)
    assert store.take_rule("key_a", "gptge") == "rate_limited"
    assert store.take_rule("key_a", "gptge") == "server_error"
    assert store.take_rule("key_b", "vtrix") == "server_error"
    assert store.clear_rules() == 1
    assert store.take_rule("key_a", "gptge") is None


def test_a_rule_another_worker_adds_or_uses_up_holds_for_this_one(
    opener: Callable[[], Store],
) -> None:
    mine, other = opener(), opener()
    assert mine.take_rule("key_a", "gptge") is None
    other.add_rule("forbidden", "key_a", None, 2)
    assert mine.take_rule("key_a", "gptge") == "forbidden"
    assert other.take_rule("key_a", "gptge") == "forbidden"
    assert mine.take_rule("key_a", "gptge") is None
    assert mine.rules() == other.rules() == []


def test_rules_are_numbered_from_one_in_creation_order(opener: Callable[[], Store]) -> None:
    store = opener()
    numbered = [store.add_rule("slow", None, None, None).id for _ in range(3)]
    assert numbered == [1, 2, 3]
    assert [r.id for r in store.rules()] == numbered


# ------------------------------------------------------------------------- pages


def test_list_pages_in_both_orders(opener: Callable[[], Store]) -> None:
    store = opener()
    for i in range(5):
        store.add(job(i))
    page, more = store.jobs(order="asc", limit=2)
    assert [j.id for j in page] == ["video_0", "video_1"] and more
    page, more = store.jobs(order="desc", after="video_2", limit=5)
    assert [j.id for j in page] == ["video_1", "video_0"] and not more
    assert store.delete("video_1") and not store.delete("video_1")
    assert store.get("video_1") is None


# ------------------------------------------------------------------ read instants


def test_a_write_inside_a_read_instant_is_never_read_past(opener: Callable[[], Store]) -> None:
    """What a poll writes (its job updated or purged, a counted rule used up) is what its
    own later reads in the same instant see. (The clock, "any rule?" and the fault rate are
    one instant's: the Redis store reads them once when the instant begins, and a poll
    never writes them.)"""
    store = opener()
    first, second = job(1), job(2)
    store.add(first)
    store.add(second)
    store.add_rule("server_error", None, None, 1)
    with store.read_instant(first.id):
        assert store.get(first.id) == first
        assert store.delete(first.id)  # e.g. an expired job purged by the read
        assert store.get(first.id) is None
    with store.read_instant(second.id):
        assert store.get(second.id) == second
        noted = make_job(id=second.id, created_at=2.0, notes=["failed"])
        assert store.replace_job(noted)  # e.g. a failure noted by the poll
        assert store.get(second.id) == noted
    with store.read_instant():
        assert store.take_rule("key_x", "gptge") == "server_error"  # consumed: a write
        assert store.take_rule("key_x", "gptge") is None


def test_another_workers_write_is_seen_by_the_next_read_instant(
    opener: Callable[[], Store],
) -> None:
    mine, other = opener(), opener()
    first = job(1)
    mine.add(first)
    mine.clock_init(100.0)

    def read() -> tuple[object, ...]:
        with mine.read_instant(first.id):
            return (
                mine.get(first.id),
                mine.take_rule("key_x", "gptge"),
                mine.clock_get(0.0),
                mine.faults_setting(),
            )

    assert read() == read() == (first, None, 100.0, None)
    other.add_rule("server_error", None, None, 1)
    assert read() == (first, "server_error", 100.0, None)
    other.clock_advance(5.0, 0.0)
    assert read() == (first, None, 105.0, None)
    other.faults_restart(0.5, 7)
    assert read() == (first, None, 105.0, (0.5, 7))
    assert other.delete(first.id)
    assert read() == (None, None, 105.0, (0.5, 7))


# ------------------------------------------------------------------------ journal


@pytest.mark.parametrize("kind", STORES)
def test_a_store_built_without_a_journal_size_keeps_the_newest_1000_entries(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The classes' own default (``open_store`` passes the server's setting), the same in
    the three."""
    if kind == "memory":
        store: Store = MemoryStore()
    elif kind == "sqlite":
        store = SQLiteStore(tmp_path / "s.db")
    else:
        url: str = request.getfixturevalue("redis_url")
        redis.Redis.from_url(url).flushdb()
        store = RedisStore(url)
    store.journal_add(*({"n": n} for n in range(1003)))
    assert store.journal(5000) == [{"n": n} for n in range(3, 1003)]
    store.close()


def test_listing_every_job_reads_pages_of_1000(
    opener: Callable[[], Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``jobs()`` without a limit (tests and small stores only) walks the store a thousand
    jobs at a time, each page going on from the last one's cursor."""
    store = opener()
    for n in range(1500):
        store.add(job(n))
    asked: list[tuple[int, str | None]] = []
    real = store.page

    def page(filters: Filters, **kwargs: Any) -> Page:
        asked.append((kwargs["limit"], kwargs["after"]))
        return real(filters, **kwargs)

    monkeypatch.setattr(store, "page", page)
    found, more = store.jobs(order="asc")
    assert [j.id for j in found] == [f"video_{n}" for n in range(1500)] and not more
    assert asked == [(1000, None), (1000, "video_999")]


# ------------------------------------------------- a restart (the stores that keep state)


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_a_store_opened_again_keeps_everything_a_client_can_observe(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A server restarted on the same SQLite file or Redis database finds its state (the
    memory store keeps none by definition): jobs, images, rules, the clock, the fault
    setting and how far the stream drew, counters, buckets."""
    if kind == "sqlite":
        spec = f"sqlite:{tmp_path / 's.db'}"
    else:
        spec = request.getfixturevalue("redis_url")
        redis.Redis.from_url(spec).flushdb()
    first = open_store(spec)
    first.add(make_job(id="video_1", image_key="image:a"), b"png")
    rule = first.add_rule("slow", "key_a", None, 2)
    first.clock_init(100.0)
    first.clock_advance(5.0, 0.0)
    first.faults_restart(0.5, 3)
    assert first.faults_next(0.0, 7) == (0.5, 3, 1)
    assert first.next_count("jobs") == 1
    assert first.take_token("key_a", 1.0, 0.5, 0.0) == 0.0
    first.close()
    again = open_store(spec)  # the server started again, with other flags
    assert again.get("video_1") == make_job(id="video_1", image_key="image:a")
    assert again.get_blob("image:a") == b"png"
    assert again.rules() == [rule]
    assert again.clock_init(0.0) == 105.0
    assert again.faults_setting() == (0.5, 3)
    assert again.faults_next(0.0, 7) == (0.5, 3, 2)
    assert again.next_count("jobs") == 2
    assert again.take_token("key_a", 1.0, 0.5, 0.0) == pytest.approx(2.0)
    again.close()
