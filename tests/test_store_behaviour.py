"""What every store promises the server, one behaviour at a time, run against the three stores
alike (memory, SQLite, and Redis: a real ``redis-server``, emptied between tests): scenario
rules, the rate-limit buckets, the shared fault counter, the clock, blobs, the journal, expiry,
cursors that outlive deletion, reset; and, for SQLite alone, a file written by an older
release. One contract, three stores: a store cannot quietly differ."""

from __future__ import annotations

import json
import logging
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from jobs import make_job
from redis_server import redis_server

from mockserver.state import store_interface as store_module
from mockserver.state import store_redis
from mockserver.state.lifecycle import Job
from mockserver.state.store import Filters, MemoryStore, SQLiteStore, Store
from mockserver.state.stores import open_store

STORES = ["memory", "sqlite", "redis"]


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


def _open(kind: str, tmp_path: Path, request: pytest.FixtureRequest, **kwargs: Any) -> Store:
    if kind == "memory":
        return open_store("memory", **kwargs)
    if kind == "sqlite":
        return open_store(f"sqlite:{tmp_path / 's.db'}", **kwargs)
    url: str = request.getfixturevalue("redis_url")
    redis.Redis.from_url(url).flushdb()
    return open_store(url, **kwargs)


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened = _open(request.param, tmp_path, request)
    yield opened
    opened.close()


def job(n: int, **fields: object) -> Job:
    return make_job(id=f"video_{n:04d}", created_at=float(n), **fields)


# ------------------------------------------------------------------------------ rules


def test_a_rule_for_one_key_or_provider_applies_to_it_alone(store: Store) -> None:
    store.add_rule("forbidden", "key_a", None, None)
    store.add_rule("slow", None, "vtrix", None)
    assert store.take_rule("key_b", "gptge") is None
    assert store.take_rule("key_a", "gptge") == "forbidden"
    assert store.take_rule("key_b", "vtrix") == "slow"
    assert store.take_rule(None, "vtrix") == "slow"
    assert store.take_rule(None, "gptge") is None


def test_the_newest_rule_of_a_level_wins_and_a_key_rule_beats_a_newer_global_one(
    store: Store,
) -> None:
    store.add_rule("server_error", "key_a", None, None)
    store.add_rule("rate_limited", "key_a", None, None)
    store.add_rule("slow", None, None, None)
    store.add_rule("forbidden", None, None, None)
    assert store.take_rule("key_a", "gptge") == "rate_limited"
    assert store.take_rule("key_b", "gptge") == "forbidden"


def test_a_counted_rule_is_taken_exactly_that_many_times(store: Store) -> None:
    first = store.add_rule("rate_limited", None, "gptge", 3)
    assert (first.scenario, first.key, first.provider, first.remaining) == (
        "rate_limited",
        None,
        "gptge",
        3,
    )
    assert store.take_rule("key_a", "gptge") == "rate_limited"
    [left] = store.rules()
    assert left.to_dict() == {
        "id": first.id,
        "scenario": "rate_limited",
        "key": None,
        "provider": "gptge",
        "remaining": 2,
    }
    assert [store.take_rule("key_a", "gptge") for _ in range(3)] == [
        "rate_limited",
        "rate_limited",
        None,
    ]
    assert store.rules() == []


def test_rules_are_listed_oldest_first_with_their_own_ids(store: Store) -> None:
    made = [store.add_rule(s, None, None, None) for s in ("slow", "forbidden", "server_error")]
    assert len({r.id for r in made}) == 3
    assert [r.to_dict() for r in store.rules()] == [r.to_dict() for r in made]
    assert sorted(r.id for r in made) == [r.id for r in made]


def test_clearing_one_keys_rules_keeps_everyone_elses(store: Store) -> None:
    store.add_rule("slow", "key_a", None, None)
    store.add_rule("forbidden", "key_a", None, 2)
    store.add_rule("server_error", "key_b", None, None)
    store.add_rule("rate_limited", None, None, None)
    assert store.clear_rules("key_a") == 2
    assert sorted((r.key or "", r.scenario) for r in store.rules()) == [
        ("", "rate_limited"),
        ("key_b", "server_error"),
    ]
    assert store.clear_rules("key_nobody") == 0
    assert store.clear_rules() == 2
    assert store.rules() == []


# ------------------------------------------------------------ rate limit and counters


def test_a_bucket_spends_its_burst_then_names_the_exact_wait(store: Store) -> None:
    # 3 a minute: a token every 20 s
    take = lambda now: store.take_token("key_a", 3.0, 0.05, now)  # noqa: E731
    assert [take(100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert take(100.0) == pytest.approx(20.0)
    assert take(105.0) == pytest.approx(15.0), "a refused request spends nothing"
    assert take(120.0) == 0.0
    assert take(120.0) == pytest.approx(20.0)
    # the other key has its own full bucket
    assert store.take_token("key_b", 3.0, 0.05, 120.0) == 0.0


def test_a_bucket_refills_only_up_to_its_capacity(store: Store) -> None:
    take = lambda now: store.take_token("key_a", 2.0, 1.0, now)  # noqa: E731
    assert take(0.0) == 0.0
    # an hour idle refills two tokens, not 3600
    assert [take(3600.0) for _ in range(3)] == [0.0, 0.0, pytest.approx(1.0)]
    # a clock that went back (another worker's earlier `now`) refills nothing
    assert take(3599.0) == pytest.approx(1.0)


def test_counters_count_from_one_each_on_its_own(store: Store) -> None:
    assert [store.next_count("faults") for _ in range(3)] == [1, 2, 3]
    assert store.next_count("other") == 1
    assert store.next_count("faults") == 4


# ------------------------------------------------------------------ clock and blobs


def test_the_clock_starts_once_and_advances_from_where_it_is(store: Store) -> None:
    assert store.clock_get(5.0) == 5.0, "no clock yet: the caller's default"
    assert store.clock_init(1000.0) == 1000.0
    assert store.clock_init(2000.0) == 1000.0, "a second start (a restart) keeps the time"
    assert store.clock_get(5.0) == 1000.0
    assert store.clock_advance(30.0, 5.0) == 1030.0
    assert store.clock_advance(0.5, 5.0) == 1030.5
    assert store.clock_get(5.0) == 1030.5


def test_advancing_a_clock_never_started_starts_from_the_default(store: Store) -> None:
    assert store.clock_advance(10.0, 500.0) == 510.0
    assert store.clock_get(0.0) == 510.0


def test_a_blob_keeps_its_first_bytes_unless_replaced(store: Store) -> None:
    assert store.get_blob("media:a") is None
    store.put_blob("media:a", b"first")
    store.put_blob("media:a", b"second")
    assert store.get_blob("media:a") == b"first"
    store.put_blob("media:a", b"third", replace=True)
    assert store.get_blob("media:a") == b"third"


def test_an_image_is_counted_once_and_goes_with_its_last_job(store: Store) -> None:
    store.add(job(1, image_key="image:abc"), b"12345")
    store.add(job(2, image_key="image:abc"), b"12345")
    store.add(job(3))
    store.put_blob("media:not-an-image", b"x" * 100)
    assert store.stats() == {"jobs": 3, "images": 1, "image_bytes": 5}
    assert store.delete("video_0001")
    assert store.get_blob("image:abc") == b"12345", "job 2 still uses it"
    assert store.delete("video_0002")
    store.close()
    assert store.get_blob("image:abc") is None
    assert store.stats() == {"jobs": 1, "images": 0, "image_bytes": 0}


def test_a_job_without_an_image_key_keeps_no_image(store: Store) -> None:
    store.add(job(1), b"ignored")
    assert store.stats()["images"] == 0


# ---------------------------------------------------------------------- journal


@pytest.mark.parametrize("kind", STORES)
def test_the_journal_keeps_the_newest_entries_in_order(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    small = _open(kind, tmp_path, request, journal_size=10)
    for n in range(130):
        small.journal_add({"n": n})
    assert small.journal(3) == [{"n": 127}, {"n": 128}, {"n": 129}]
    assert small.journal(1) == [{"n": 129}]
    assert small.journal(0) == []
    assert small.journal(-1) == []
    assert small.journal(1000) == [{"n": n} for n in range(120, 130)]
    small.close()


# -------------------------------------------------------------- expiry and deletion


def test_expired_jobs_are_named_oldest_first_up_to_the_limit_and_stay(store: Store) -> None:
    store.add(job(1, expires_at=300.0))
    store.add(job(2, expires_at=100.0))
    store.add(job(3, expires_at=200.0))
    store.add(job(4, expires_at=900.0))
    store.add(job(5))  # kept forever
    assert store.expired(250.0, 10) == ["video_0002", "video_0003"]
    assert store.expired(300.0, 2) == ["video_0002", "video_0003"]
    assert store.expired(300.0, 10) == ["video_0002", "video_0003", "video_0001"]
    assert store.expired(99.0, 10) == []
    store.delete("video_0003")
    assert store.expired(1e9, 10) == ["video_0002", "video_0001", "video_0004"]


def test_a_job_read_back_is_a_copy(store: Store) -> None:
    original = job(1, notes=["first"])
    store.add(original)
    original.notes.append("changed after add")
    read = store.get("video_0001")
    assert read is not None and read.notes == ["first"]
    read.notes.append("changed after get")
    again = store.get("video_0001")
    assert again is not None and again.notes == ["first"]
    assert again == job(1, notes=["first"])


def test_deleting_keeps_a_cursor_on_the_deleted_job_working(store: Store) -> None:
    for n in range(1, 7):
        store.add(job(n))
    assert store.delete("video_0003")
    jobs, more = store.jobs(order="asc", after="video_0003", limit=2)
    assert [j.id for j in jobs] == ["video_0004", "video_0005"] and more
    jobs, more = store.jobs(order="desc", after="video_0003", limit=5)
    assert [j.id for j in jobs] == ["video_0002", "video_0001"] and not more
    assert not store.delete("video_0003")
    assert not store.delete("video_nope")


def test_a_cursor_naming_no_job_ever_gives_an_empty_last_page(store: Store) -> None:
    store.add(job(1))
    page = store.page(Filters(), after="video_nope")
    assert (page.jobs, page.has_more, page.cursor) == ([], False, None)


def test_redis_forgets_the_cursor_of_a_deleted_job_after_a_day(redis_url: str) -> None:
    """Redis bounds its graveyard by time, not by count (the other stores' test below): a
    deleted job's cursor is kept with an expiry of one day."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    opened = open_store(redis_url)
    opened.add(job(1))
    opened.add(job(2))
    assert opened.delete("video_0001")
    gone = [k for k in client.scan_iter("*gone*")]
    assert len(gone) == 1 and 0 < client.ttl(gone[0]) <= store_redis.GRAVEYARD_SECONDS
    page = opened.page(Filters(), order="asc", after="video_0001")
    assert [j.id for j in page.jobs] == ["video_0002"]
    opened.close()


# memory and SQLite bound their graveyards by count; Redis by time (the test above)
@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_the_cursors_of_deleted_jobs_are_forgotten_past_the_graveyard(
    tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "GRAVEYARD_SIZE", 3)
    small = MemoryStore() if kind == "memory" else SQLiteStore(tmp_path / "g.db")
    for n in range(1, 71):
        small.add(job(n))
    for n in range(1, 65):  # SQLite trims every 64 deletions
        small.delete(f"video_{n:04d}")
    gone = small.page(Filters(), order="asc", after="video_0001")
    assert (gone.jobs, gone.has_more) == ([], False)
    kept = small.page(Filters(), order="asc", after="video_0064", limit=2)
    assert [j.id for j in kept.jobs] == ["video_0065", "video_0066"]
    # the newest GRAVEYARD_SIZE deletions are remembered, the one before is not
    third = small.page(Filters(), order="asc", after="video_0062", limit=1)
    assert [j.id for j in third.jobs] == ["video_0065"]
    assert small.page(Filters(), order="asc", after="video_0061").jobs == []
    small.close()


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_pages_stay_right_after_most_jobs_are_deleted(store: Store, order: str) -> None:
    # more than half of an index deleted (and more than 64): the memory index compacts itself
    for n in range(200):
        store.add(job(n, api="gptge-videos" if n % 2 else "vtrix-generation"))
    for n in range(0, 200, 4):
        store.delete(f"video_{n:04d}")
    for n in range(1, 200, 2):
        if n % 10 != 9:
            store.delete(f"video_{n:04d}")
    left = sorted(j.id for j in store.jobs(order="asc")[0])
    assert len(left) == 200 - 50 - 80
    expected = left if order == "asc" else left[::-1]
    seen: list[str] = []
    after = None
    while True:
        page = store.page(Filters(), order=order, after=after, limit=7)
        seen += [j.id for j in page.jobs]
        if not page.has_more:
            break
        after = page.cursor
    assert seen == expected
    gptge = [j.id for j in store.jobs(api="gptge-videos", order=order)[0]]
    assert gptge == [i for i in expected if int(i[-4:]) % 2]


# -------------------------------------------------------------------- filters, pages


def test_each_filter_walks_its_own_index_and_accepts_only_its_jobs() -> None:
    assert Filters().index() == ("all",)
    assert Filters(api="a").index() == ("api", "a")
    assert Filters(owner="o").index() == ("owner", "o")
    assert Filters(api="a", owner="o").index() == ("api-owner", "a", "o")
    assert Filters(provider="p").index() == ("provider", "p")
    assert Filters(api="a", provider="p").index() == ("api", "a")
    assert Filters(owner="o", provider="p").index() == ("owner", "o")
    mine = job(1, api="vtrix-generation", owner="key_a")
    assert Filters(api="vtrix-generation", owner="key_a", provider="vtrix").accepts(mine)
    assert not Filters(api="gptge-videos").accepts(mine)
    assert not Filters(owner="key_b").accepts(mine)
    assert not Filters(provider="gptge").accepts(mine)
    assert not Filters(where=lambda j: j.seconds == 8).accepts(mine)
    assert Filters(where=lambda j: j.seconds == 4).accepts(mine)


def test_a_page_by_provider_owner_and_condition(store: Store) -> None:
    for n in range(1, 9):
        api = "vtrix-generation" if n % 2 else "gptge-videos"
        store.add(job(n, api=api, owner="key_a" if n <= 4 else "key_b", seconds=4 + 4 * (n % 3)))
    ids = lambda page: [j.id for j in page.jobs]  # noqa: E731
    assert ids(store.page(Filters(provider="vtrix"), order="asc")) == [
        "video_0001",
        "video_0003",
        "video_0005",
        "video_0007",
    ]
    assert ids(store.page(Filters(owner="key_b"), order="desc")) == [
        "video_0008",
        "video_0007",
        "video_0006",
        "video_0005",
    ]
    assert ids(store.page(Filters(api="gptge-videos", owner="key_a"), order="asc")) == [
        "video_0002",
        "video_0004",
    ]
    eights = Filters(where=lambda j: j.seconds == 8)
    assert ids(store.page(eights, order="asc")) == ["video_0001", "video_0004", "video_0007"]


def test_a_page_examines_at_most_scan_jobs_and_says_where_it_stopped(store: Store) -> None:
    for n in range(1, 11):
        store.add(job(n, seconds=8 if n in (2, 9) else 4))
    eights = Filters(where=lambda j: j.seconds == 8)
    page = store.page(eights, order="asc", limit=5, scan=4)
    assert ([j.id for j in page.jobs], page.has_more, page.cursor) == (
        ["video_0002"],
        True,
        "video_0004",
    )
    page = store.page(eights, order="asc", after=page.cursor, limit=5, scan=4)
    assert ([j.id for j in page.jobs], page.has_more, page.cursor) == ([], True, "video_0008")
    page = store.page(eights, order="asc", after=page.cursor, limit=5, scan=4)
    assert ([j.id for j in page.jobs], page.has_more, page.cursor) == (
        ["video_0009"],
        False,
        "video_0010",
    )


def test_a_full_page_says_more_follow_only_when_they_do(store: Store) -> None:
    for n in range(1, 5):
        store.add(job(n))
    page = store.page(Filters(), order="asc", limit=4)
    assert (len(page.jobs), page.has_more, page.cursor) == (4, False, "video_0004")
    page = store.page(Filters(), order="asc", limit=3)
    assert (len(page.jobs), page.has_more, page.cursor) == (3, True, "video_0003")
    assert store.jobs(order="desc", limit=None) == (store.jobs(order="desc", limit=10)[0], False)


def test_listing_every_job_reads_past_the_thousand_of_one_page(store: Store) -> None:
    for n in range(1005):
        store.add(job(n))
    every, more = store.jobs(order="asc")
    assert [j.id for j in every] == [f"video_{n:04d}" for n in range(1005)] and not more


# -------------------------------------------------------------------------- reset


def test_reset_forgets_every_kind_of_state(store: Store) -> None:
    store.add(job(1, image_key="image:x"), b"img")
    store.put_blob("media:y", b"m")
    store.clock_init(50.0)
    store.add_rule("slow", None, None, None)
    store.take_token("key_a", 1.0, 0.01, 0.0)
    store.next_count("faults")
    store.journal_add({"n": 1})
    store.delete("video_0001")
    store.add(job(2))
    store.reset()
    assert store.get("video_0002") is None and store.jobs() == ([], False)
    assert store.get_blob("media:y") is None
    assert store.clock_get(7.0) == 7.0
    assert store.rules() == []
    assert store.take_token("key_a", 1.0, 0.01, 0.0) == 0.0, "the bucket is full again"
    assert store.next_count("faults") == 1
    assert store.journal(10) == []
    assert store.page(Filters(), after="video_0001").jobs == []
    assert store.stats() == {"jobs": 0, "images": 0, "image_bytes": 0}


# --------------------------------------------------------------------- SQLite only


def test_a_sqlite_file_of_the_first_release_is_upgraded_on_open(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL,"
        " api TEXT NOT NULL, owner TEXT NOT NULL, body TEXT NOT NULL);"
        "CREATE TABLE blobs (key TEXT PRIMARY KEY, data BLOB NOT NULL);"
    )
    for n, api in ((1, "vtrix-generation"), (2, "gptproto-videos"), (3, "gptge")):
        record = job(n, api=api)
        old.execute(
            "INSERT INTO jobs (id, api, owner, body) VALUES (?, ?, ?, ?)",
            (record.id, api, record.owner, json.dumps(record.to_dict())),
        )
    old.commit()
    old.close()
    upgraded = SQLiteStore(path)
    page = upgraded.page(Filters(provider="gptproto"), order="asc")
    assert [j.id for j in page.jobs] == ["video_0002"]
    assert [j.id for j in upgraded.page(Filters(provider="gptge")).jobs] == ["video_0003"]
    assert upgraded.expired(1e12, 10) == []
    upgraded.add(job(4, image_key="image:z", expires_at=10.0), b"z")
    assert upgraded.stats() == {"jobs": 4, "images": 1, "image_bytes": 1}
    assert upgraded.expired(10.0, 10) == ["video_0004"]
    upgraded.close()
    again = SQLiteStore(path)  # opening an upgraded file changes nothing
    assert again.stats()["jobs"] == 4
    again.close()


def test_an_unreadable_sqlite_row_is_skipped_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # ids of their own: "once" is once per row per process, and a process may run this twice
    ids = [f"video_{uuid.uuid4().hex}" for _ in range(3)]
    path = tmp_path / "bad.db"
    good = SQLiteStore(path)
    for n, job_id in enumerate(ids):
        good.add(make_job(id=job_id, created_at=float(n)))
    raw = sqlite3.connect(path)
    raw.execute("UPDATE jobs SET body = ? WHERE id = ?", (f'{{"id": "{ids[1]}"}}', ids[1]))
    raw.commit()
    raw.close()
    with caplog.at_level(logging.ERROR, logger="mockserver"):
        assert good.get(ids[1]) is None
        assert any(ids[1] in r.getMessage() for r in caplog.records), "the row was not named"
        assert [j.id for j in good.jobs(order="asc")[0]] == [ids[0], ids[2]]
        assert good.jobs(order="desc")[0][0].id == ids[2]
    unreadable = [r.getMessage() for r in caplog.records if "cannot be read" in r.getMessage()]
    assert all(ids[1] in line for line in unreadable), unreadable
    lines = [r.getMessage() for r in caplog.records if ids[1] in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].startswith(f"job {ids[1]} in the store cannot be read, skipped: ")
    assert "missing" in lines[0], "the reason is not given"
    good.close()


def test_a_store_is_opened_from_its_spec(tmp_path: Path) -> None:
    assert isinstance(open_store("memory"), MemoryStore)
    opened = open_store(f"sqlite:{tmp_path / 'deeper' / 'x.db'}", journal_size=5)
    assert isinstance(opened, SQLiteStore) and opened.journal_size == 5
    assert (tmp_path / "deeper" / "x.db").exists()
    opened.close()
    assert open_store("memory", journal_size=7).journal_size == 7  # type: ignore[attr-defined]
    for spec in ("sqlite:", "SQLITE:x.db", "memory:", ""):
        with pytest.raises(ValueError, match="unknown store"):
            open_store(spec)


# (rules numbered from one: test_store_contract.py, against the three stores)


def test_a_sqlite_write_that_fails_midway_leaves_no_transaction_open(tmp_path: Path) -> None:
    """A failure inside a write (here a value SQLite cannot bind) rolls it back and leaves no
    transaction open on the connection: the next write works, and nothing half-done stays."""
    store = SQLiteStore(tmp_path / "tx.db")
    bad: object = ["not", "a", "key"]
    with pytest.raises(sqlite3.Error):
        store.take_token(bad, 1.0, 1.0, 0.0)  # type: ignore[arg-type]
    assert store.take_token("key_a", 1.0, 1.0, 0.0) == 0.0
    with pytest.raises(sqlite3.Error):
        store.add(make_job(id=bad, image_key="image:half"), b"half")
    assert store.get_blob("image:half") is None, "the image of a job not added stayed"
    with pytest.raises(sqlite3.Error):
        store.delete(bad)  # type: ignore[arg-type]
    store.add(job(2))
    store.add_rule("slow", None, None, 1)
    assert store.take_rule("key_a", "gptge") == "slow"
    assert [j.id for j in store.jobs()[0]] == ["video_0002"]
    assert store.delete("video_0002")
    store.close()


def test_a_rule_comes_back_as_it_was_stored(store: Store) -> None:
    made = store.add_rule("forbidden", "key_a", "vtrix", 2)
    assert (made.scenario, made.key, made.provider, made.remaining) == (
        "forbidden",
        "key_a",
        "vtrix",
        2,
    )
    assert [r.to_dict() for r in store.rules()] == [made.to_dict()]


def test_a_job_that_names_an_image_it_did_not_bring_can_be_deleted(store: Store) -> None:
    store.add(job(1, image_key="image:elsewhere"))  # no bytes: nothing stored for it
    assert store.get_blob("image:elsewhere") is None
    assert store.delete("video_0001")
    assert store.get("video_0001") is None


def test_a_page_holds_100_jobs_unless_told_otherwise(store: Store) -> None:
    for n in range(150):
        store.add(job(n))
    page = store.page(Filters())
    assert len(page.jobs) == 100 and page.has_more
    assert page.jobs[0].id == "video_0149", "newest first unless told otherwise"


@pytest.mark.parametrize("kind", STORES)
def test_the_journal_keeps_the_newest_1000_entries_by_default(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    opened = _open(kind, tmp_path, request)
    for n in range(1030):
        opened.journal_add({"n": n})
    kept = opened.journal(5000)
    assert len(kept) == 1000 and kept[-1] == {"n": 1029} and kept[0] == {"n": 30}
    opened.close()


def test_an_empty_listing_has_no_cursor(store: Store) -> None:
    page = store.page(Filters(), order="asc")
    assert (page.jobs, page.has_more, page.cursor) == ([], False, None)


@pytest.mark.parametrize("limit", [None, 10])
def test_jobs_are_listed_for_one_api_and_one_key(store: Store, limit: int | None) -> None:
    for n in range(12):
        api = "gptge-videos" if n % 2 else "vtrix-generation"
        store.add(job(n, api=api, owner="key_a" if n % 3 else "key_b"))

    def ids(**where: str) -> list[int]:
        listed, _ = store.jobs(order="asc", limit=limit, **where)
        return [int(j.id[-4:]) for j in listed]

    assert ids(owner="key_b") == [0, 3, 6, 9]
    assert ids(api="gptge-videos") == [1, 3, 5, 7, 9, 11]
    assert ids(api="gptge-videos", owner="key_a") == [1, 5, 7, 11]
    assert ids(api="vtrix-generation", owner="key_b") == [0, 6]
