"""The webhook records of the memory and SQLite stores (``mockserver/state/store_webhooks.py``),
rule by rule: what a put, a claim, a settle, a read, the next due, a clear and a forget each do,
at each boundary (due exactly now, a lease ending exactly now, a limit of 0 or below), on
both stores alike, and on the Redis store, which keeps the same records in Lua
(``store_redis``; a real redis-server): the three are also compared served in
``tests/test_webhooks.py``. In-process, no thread, no clock: every time is an argument."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mockserver.state.store_memory import MemoryStore
from mockserver.state.store_sqlite import SQLiteStore


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    from redis_server import redis_server

    with redis_server() as url:
        yield url


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    opened: Any
    if request.param == "redis":  # the same rules, kept in Lua (a real redis-server)
        from mockserver.state.store_redis import RedisStore

        opened = RedisStore(request.getfixturevalue("redis_url"))
        opened.reset()
    elif request.param == "memory":
        opened = MemoryStore()
    else:
        opened = SQLiteStore(tmp_path / "s.db")
    yield opened
    opened.close()


def _put(store: Any, *rows: tuple[str, float]) -> None:
    for job_id, due in rows:
        store.webhook_put(job_id, {"job_id": job_id, "n": 0}, due)


def test_a_record_put_is_read_back_open_and_due(store: Any) -> None:
    record = {"job_id": "a", "nested": {"list": [1, "two", None]}, "n": 0}
    store.webhook_put("a", record, 12.5)
    assert store.webhook_get("a") == {**record, "due": 12.5, "open": True}
    assert store.webhook_get("b") is None


def test_the_store_keeps_a_copy_and_hands_out_copies(store: Any) -> None:
    record: dict[str, Any] = {"job_id": "a", "nested": {"n": 1}}
    store.webhook_put("a", record, 1.0)
    record["nested"]["n"] = 2  # the caller's record changes after the put
    read = store.webhook_get("a")
    assert read["nested"] == {"n": 1}
    read["nested"]["n"] = 3  # and what a read handed out changes
    [claimed] = store.webhook_claim(1.0, 0.0, 5.0, "t", 1)
    assert claimed == {"job_id": "a", "nested": {"n": 1}}
    claimed["nested"]["n"] = 4
    settled: dict[str, Any] = {"job_id": "a", "nested": {"n": 5}}
    assert store.webhook_settle("a", settled, 2.0, "t")
    settled["nested"]["n"] = 6
    assert store.webhook_get("a")["nested"] == {"n": 5}


def test_a_claim_takes_what_is_due_by_now_in_due_order_and_leases_it(store: Any) -> None:
    _put(store, ("late", 30.0), ("b", 10.0), ("a", 10.0), ("now", 20.0), ("future", 20.5))
    claimed = store.webhook_claim(20.0, 100.0, 140.0, "tok", 10)
    # due exactly now counts; equal dues by job id (the memory store's tie-break; SQLite's
    # ORDER BY due alone keeps the rows' order, which is the insertion order here)
    assert [r["job_id"] for r in claimed] in (["a", "b", "now"], ["b", "a", "now"])
    assert {r["job_id"] for r in claimed[:2]} == {"a", "b"} and claimed[2]["job_id"] == "now"
    assert claimed[0] == {"job_id": claimed[0]["job_id"], "n": 0}  # the record, no due/open
    # leased until 140 (real seconds): nobody else takes them before
    assert store.webhook_claim(100.0, 139.9, 200.0, "other", 10) == [
        {"job_id": "future", "n": 0},
        {"job_id": "late", "n": 0},
    ]


def test_a_claim_takes_the_earliest_first_up_to_its_limit(store: Any) -> None:
    _put(store, ("a", 3.0), ("c", 1.0), ("b", 2.0))  # neither names nor puts in due order
    assert [r["job_id"] for r in store.webhook_claim(5.0, 0.0, 1.0, "t", 2)] == ["c", "b"]
    assert [r["job_id"] for r in store.webhook_claim(5.0, 0.0, 1.0, "t", 2)] == ["a"]


@pytest.mark.parametrize("limit", [0, -1, -5])
def test_a_claim_with_no_room_takes_nothing_and_leases_nothing(store: Any, limit: int) -> None:
    _put(store, ("a", 1.0))
    assert store.webhook_claim(5.0, 0.0, 100.0, "t", limit) == []
    assert [r["job_id"] for r in store.webhook_claim(5.0, 0.0, 100.0, "u", 1)] == ["a"]


def test_a_lease_lapses_exactly_at_its_end(store: Any) -> None:
    _put(store, ("a", 1.0))
    assert len(store.webhook_claim(1.0, 50.0, 80.0, "first", 1)) == 1
    assert store.webhook_next_due(79.99) is None  # held
    assert store.webhook_claim(1.0, 79.99, 90.0, "second", 1) == []
    assert store.webhook_next_due(80.0) == 1.0  # lapsed at 80 exactly
    assert len(store.webhook_claim(1.0, 80.0, 90.0, "second", 1)) == 1
    # the first holder's word no longer counts; the second's does
    assert store.webhook_settle("a", {"job_id": "a", "n": 1}, None, "first") is False
    assert store.webhook_get("a") == {"job_id": "a", "n": 0, "due": 1.0, "open": True}
    assert store.webhook_settle("a", {"job_id": "a", "n": 1}, None, "second") is True


def test_settling_writes_the_record_and_its_new_due_and_frees_the_lease(store: Any) -> None:
    _put(store, ("a", 1.0))
    store.webhook_claim(1.0, 0.0, 1000.0, "t", 1)
    assert store.webhook_settle("a", {"job_id": "a", "n": 1}, 7.5, "t") is True
    assert store.webhook_get("a") == {"job_id": "a", "n": 1, "due": 7.5, "open": True}
    # no lease any more: due at 7.5 for anyone, at any real time
    assert store.webhook_next_due(0.0) == 7.5
    assert store.webhook_claim(7.4, 0.0, 1.0, "u", 1) == []
    assert store.webhook_claim(7.5, 0.0, 1.0, "u", 1) == [{"job_id": "a", "n": 1}]
    # settled for good (no due): closed, never claimed again, never the next due
    assert store.webhook_settle("a", {"job_id": "a", "n": 2}, None, "u") is True
    assert store.webhook_get("a") == {"job_id": "a", "n": 2, "due": None, "open": False}
    assert store.webhook_claim(1e12, 1e12, 1e13, "v", 5) == []
    assert store.webhook_next_due(1e18) is None
    # a token is spent by its settle: the same token settles nothing again
    assert store.webhook_settle("a", {"job_id": "a", "n": 3}, 1.0, "u") is False


def test_settling_an_unknown_or_unclaimed_record_changes_nothing(store: Any) -> None:
    assert store.webhook_settle("nobody", {"job_id": "nobody"}, 1.0, "t") is False
    assert store.webhook_get("nobody") is None
    _put(store, ("a", 1.0))  # never claimed: no token holds it
    assert store.webhook_settle("a", {"job_id": "a", "n": 9}, 3.0, "t") is False
    assert store.webhook_get("a") == {"job_id": "a", "n": 0, "due": 1.0, "open": True}


def test_a_put_again_replaces_the_record_and_its_lease(store: Any) -> None:
    _put(store, ("a", 1.0))
    store.webhook_claim(1.0, 0.0, 1000.0, "t", 1)
    store.webhook_put("a", {"job_id": "a", "n": 1}, 4.0)
    assert store.webhook_get("a") == {"job_id": "a", "n": 1, "due": 4.0, "open": True}
    assert store.webhook_next_due(0.0) == 4.0  # no lease left
    assert store.webhook_settle("a", {"job_id": "a"}, None, "t") is False  # nor its token
    assert store.webhook_claim(4.0, 0.0, 1.0, "u", 1) == [{"job_id": "a", "n": 1}]


def test_the_next_due_is_the_earliest_open_record_no_lease_holds(store: Any) -> None:
    assert store.webhook_next_due(0.0) is None
    _put(store, ("a", 5.0), ("b", 3.0), ("c", 9.0))
    assert store.webhook_next_due(0.0) == 3.0
    store.webhook_claim(3.0, 0.0, 50.0, "t", 1)  # b leased until 50
    assert store.webhook_next_due(49.0) == 5.0
    assert store.webhook_next_due(50.0) == 3.0
    assert isinstance(store.webhook_next_due(50.0), float)
    store.webhook_claim(3.0, 50.0, 60.0, "u", 1)
    assert store.webhook_settle("b", {"job_id": "b"}, None, "u")  # b closed, a and c open
    assert store.webhook_next_due(0.0) == 5.0


def test_a_sqlite_claim_is_a_write_in_the_writers_queue(tmp_path: Path) -> None:
    """A claim's transaction takes the store's writers' queue and moves its change count
    (what a read instant of another worker checks), as every write does."""
    store = SQLiteStore(tmp_path / "s.db")
    try:
        _put(store, ("a", 1.0))
        before = store._changes.read()
        assert len(store.webhook_claim(1.0, 0.0, 10.0, "t", 1)) == 1
        assert store._changes.read() == before + 1
        other = SQLiteStore(tmp_path / "s.db")
        try:
            assert other.webhook_next_due(0.0) is None  # the lease is seen by another worker
        finally:
            other.close()
    finally:
        store.close()


def test_forget_drops_the_named_records_and_clear_drops_them_all(store: Any) -> None:
    _put(store, ("a", 1.0), ("b", 2.0), ("c", 3.0))
    store.webhook_forget([])
    assert store.webhook_next_due(0.0) == 1.0
    store.webhook_forget(["a", "unknown", "c"])
    assert store.webhook_get("a") is None and store.webhook_get("c") is None
    assert store.webhook_get("b") == {"job_id": "b", "n": 0, "due": 2.0, "open": True}
    store.webhook_clear()
    assert store.webhook_get("b") is None and store.webhook_next_due(1e18) is None
    _put(store, ("d", 1.0))  # still usable after a clear
    assert store.webhook_next_due(0.0) == 1.0


def test_two_memory_stores_keep_their_own_records() -> None:
    one, other = MemoryStore(), MemoryStore()
    _put(one, ("a", 1.0))
    assert other.webhook_get("a") is None and other.webhook_next_due(0.0) is None
    assert one.webhook_get("a") is not None


def test_two_sqlite_stores_on_one_file_share_the_records(tmp_path: Path) -> None:
    one, other = SQLiteStore(tmp_path / "s.db"), SQLiteStore(tmp_path / "s.db")
    try:
        _put(one, ("a", 1.0))
        assert other.webhook_get("a") == {"job_id": "a", "n": 0, "due": 1.0, "open": True}
        assert len(other.webhook_claim(1.0, 0.0, 10.0, "t", 1)) == 1
        assert one.webhook_claim(1.0, 0.0, 10.0, "u", 1) == []  # the other worker holds it
    finally:
        one.close()
        other.close()


def test_the_sqlite_table_is_made_once_per_store(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    try:
        statements: list[str] = []
        store._conn().set_trace_callback(statements.append)
        _put(store, ("a", 1.0))
        store.webhook_get("a")
        store.webhook_next_due(0.0)
        made = [s for s in statements if "CREATE TABLE IF NOT EXISTS webhooks" in s]
        assert len(made) == 1, statements
        tables = store._conn().execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        assert "webhooks" in {row[0] for row in tables}
    finally:
        store.close()


def test_a_sqlite_claim_that_fails_leaves_no_transaction_open(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    try:
        _put(store, ("a", 1.0))
        with pytest.raises(TypeError):
            store.webhook_claim(1.0, 0.0, 10.0, "t", "two")  # not a number: fails mid-claim
        assert not store._conn().in_transaction
        _put(store, ("b", 2.0))  # the writers' queue is free again
        assert [r["job_id"] for r in store.webhook_claim(2.0, 0.0, 10.0, "t", 2)] == ["a", "b"]
    finally:
        store.close()


def test_a_sqlite_claim_rolls_back_on_a_failed_update(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    try:
        _put(store, ("a", 1.0))
        conn = store._conn()
        conn.execute(
            "CREATE TRIGGER no_lease BEFORE UPDATE ON webhooks BEGIN SELECT RAISE(ABORT, 'no'); END"
        )
        with pytest.raises(sqlite3.IntegrityError):
            store.webhook_claim(1.0, 0.0, 10.0, "t", 1)
        assert not conn.in_transaction
        conn.execute("DROP TRIGGER no_lease")
        assert store.webhook_next_due(0.0) == 1.0  # not leased: the claim was undone
    finally:
        store.close()
