"""RedisStore as several hosts and an operator see it (a real ``redis-server``): which Redis
errors are an outage (a 503) and which are the mock's own mistake, a Redis that cannot be
reached at start refused in one line without its password, one second of patience per call,
and state one host writes that another host reads the same way."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from jobs import make_job
from redis_server import redis_server

from mockserver.state.store import Filters, Rule, Store
from mockserver.state.store_redis import RedisStore, _redis_outage
from mockserver.state.stores import open_store


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture
def store(redis_url: str) -> Iterator[RedisStore]:
    opened = RedisStore(redis_url)
    opened.reset()
    yield opened
    opened.reset()
    opened.close()


# ------------------------------------------------------------------ what an outage is


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (redis.ConnectionError("Connection refused"), "Redis: ConnectionError"),
        (redis.TimeoutError("Timeout reading from socket"), "Redis: TimeoutError"),
        (redis.exceptions.OutOfMemoryError("OOM command not allowed"), "Redis: OutOfMemoryError"),
        (redis.exceptions.ReadOnlyError("READONLY You can't write"), "Redis: ReadOnlyError"),
        (redis.ResponseError("LOADING Redis is loading the dataset"), "Redis: LOADING"),
        (redis.ResponseError("MISCONF snapshots cannot be saved"), "Redis: MISCONF"),
        (redis.ResponseError("BUSY Redis is busy running a script"), "Redis: BUSY"),
        (redis.ResponseError("MASTERDOWN Link with MASTER is down"), "Redis: MASTERDOWN"),
    ],
)
def test_redis_that_cannot_serve_now_is_an_outage_named_in_a_few_words(
    error: Exception, reason: str
) -> None:
    assert _redis_outage(error) == reason


@pytest.mark.parametrize(
    "error",
    [
        redis.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"),
        redis.ResponseError("ERR unknown command"),
        redis.ResponseError("LOADINGX not a word Redis uses"),
        redis.ResponseError(""),
        ValueError("a bug of the mock"),
        KeyError("job"),
    ],
)
def test_a_mistake_of_the_mock_is_not_called_an_outage(error: Exception) -> None:
    """Only Redis being unable to serve is a 503: a wrong command stays a bug that shows."""
    assert _redis_outage(error) is None


# ------------------------------------------------------------------ start and patience


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_redis_nobody_answers_is_refused_at_start_in_one_line_without_its_password() -> None:
    port = _closed_port()
    with pytest.raises(ValueError) as refused:
        RedisStore(f"redis://:hunter2secret@127.0.0.1:{port}/0")
    assert str(refused.value) == f"cannot reach Redis at 127.0.0.1:{port}: ConnectionError"
    assert refused.value.__cause__ is None and refused.value.__suppress_context__
    assert "hunter2secret" not in repr(refused.value)


def test_a_redis_socket_nobody_answers_is_named_by_its_whole_path(tmp_path: Path) -> None:
    path = tmp_path / "redis-X"
    with pytest.raises(ValueError) as refused:
        RedisStore(f"unix://{path}")
    assert str(refused.value) == f"cannot reach Redis at {path}: ConnectionError"


def test_each_redis_call_waits_a_second_at_most_unless_the_url_says_otherwise(
    redis_url: str,
) -> None:
    store = RedisStore(redis_url)
    options = store.redis.connection_pool.connection_kwargs
    assert options["socket_timeout"] == 1.0 and options["socket_connect_timeout"] == 1.0
    retry = options["retry"]
    assert retry._retries == 1
    assert redis.ConnectionError in retry._supported_errors
    assert redis.TimeoutError not in retry._supported_errors, "a timeout is never waited twice"
    store.close()
    own = RedisStore(redis_url + "?socket_timeout=3")
    assert own.redis.connection_pool.connection_kwargs["socket_timeout"] == 3.0
    own.close()


# ------------------------------------------------------------------ one contract, three stores
# (the store methods the behaviour file does not reach: what the admin API and the files API
# rely on, the same in every store)

STORES = ["memory", "sqlite", "redis"]


@pytest.fixture(params=STORES)
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        opened: Store = open_store("memory")
    elif request.param == "sqlite":
        opened = open_store(f"sqlite:{tmp_path / 's.db'}")
    else:
        opened = open_store(request.getfixturevalue("redis_url"))
        opened.reset()
    yield opened
    opened.reset()
    opened.close()


def test_removing_one_rule_switches_off_that_rule_alone_and_says_what_it_was(
    any_store: Store,
) -> None:
    kept = any_store.add_rule("slow", None, None, None)
    removed = any_store.add_rule("forbidden", "key_a", "gptge", 3)
    assert any_store.remove_rule(removed.id) == Rule(removed.id, "forbidden", "key_a", "gptge", 3)
    assert any_store.rules() == [kept]
    assert any_store.take_rule("key_a", "gptge") == "slow"
    assert any_store.remove_rule(removed.id) is None, "removed once"
    assert any_store.remove_rule(kept.id + removed.id + 1) is None, "no such rule"
    assert any_store.rules() == [kept]


def test_a_counted_rule_used_up_is_not_there_to_remove(any_store: Store) -> None:
    rule = any_store.add_rule("server_error", None, None, 1)
    assert any_store.take_rule(None, "vtrix") == "server_error"
    assert any_store.remove_rule(rule.id) is None
    assert any_store.rules() == []


def test_uploaded_files_are_listed_oldest_first_with_their_sizes(any_store: Store) -> None:
    any_store.put_blob("file:b", b"bb")
    any_store.put_blob("image:x", b"not a file")
    any_store.put_blob("file:a", b"aaaa")
    any_store.put_blob("file:b", b"ignored: b is held")
    assert any_store.files() == [("file:b", 2), ("file:a", 4)]
    assert any_store.delete_blob("file:b") is True
    assert any_store.get_blob("file:b") is None
    assert any_store.delete_blob("file:b") is False, "deleted once"
    assert any_store.files() == [("file:a", 4)]
    any_store.put_blob("file:b", b"b again")  # uploaded anew: the newest
    assert any_store.files() == [("file:a", 4), ("file:b", 7)]
    assert any_store.delete_blob("image:x") is True and any_store.get_blob("image:x") is None
    assert any_store.delete_blob("file:never") is False


def test_a_stored_job_is_written_anew_and_a_gone_one_is_not_brought_back(
    any_store: Store,
) -> None:
    original = make_job(id="video_1", created_at=1.0)
    any_store.add(original)
    failed = make_job(id="video_1", created_at=1.0, notes=["failed on purpose"])
    assert any_store.replace_job(failed) is True
    assert any_store.get("video_1") == failed
    assert any_store.replace_job(make_job(id="video_2")) is False
    assert any_store.get("video_2") is None
    assert any_store.delete("video_1")
    assert any_store.replace_job(failed) is False
    assert any_store.get("video_1") is None


def test_a_job_rewritten_inside_a_read_instant_is_read_anew(any_store: Store) -> None:
    any_store.add(make_job(id="video_1"))
    with any_store.read_instant("video_1"):
        assert any_store.get("video_1") == make_job(id="video_1")
        assert any_store.replace_job(make_job(id="video_1", notes=["new"]))
        again = any_store.get("video_1")
        assert again is not None and again.notes == ["new"]


def test_the_fault_stream_keeps_its_setting_and_restarts_from_the_first_draw(
    any_store: Store,
) -> None:
    assert any_store.faults_setting() is None
    assert any_store.faults_next(0.0, 7) is None, "no rate: no draw"
    assert any_store.faults_next(0.5, 7) == (0.5, 7, 1)
    assert any_store.faults_next(0.5, 7) == (0.5, 7, 2)
    rate = 0.1 + 0.2  # every digit kept: 0.30000000000000004
    any_store.faults_restart(rate, 2**40 + 3)
    assert any_store.faults_setting() == (rate, 2**40 + 3)
    # the stored setting wins over the start-up flags a caller passes
    assert any_store.faults_next(0.5, 7) == (rate, 2**40 + 3, 1)
    assert any_store.faults_next(0.0, 1) == (rate, 2**40 + 3, 2)
    any_store.faults_restart(0.0, 5)
    assert any_store.faults_setting() == (0.0, 5)
    assert any_store.faults_next(0.9, 1) is None, "switched off at run time"


# names a client chooses (its API key, a counter's name) are its own: never the store's state
OWN_NAMES = ["clock", "rules", "rule-order", "rule-seq", "seq", "journal", "faults", "files"]


def test_a_key_named_like_the_stores_own_state_has_a_bucket_of_its_own(any_store: Store) -> None:
    any_store.clock_init(50.0)
    any_store.add_rule("slow", None, None, None)
    any_store.journal_add({"n": 1})
    any_store.faults_restart(0.5, 3)
    any_store.add(make_job(id="video_1"))
    for name in OWN_NAMES:
        assert any_store.take_token(name, 1.0, 0.001, 60.0) == 0.0
        assert any_store.take_token(name, 1.0, 0.001, 60.0) > 0, name
    assert any_store.take_token("key_fresh", 1.0, 0.001, 60.0) == 0.0
    assert any_store.clock_get(0.0) == 50.0
    assert any_store.take_rule(None, "gptge") == "slow"
    assert any_store.journal(10) == [{"n": 1}]
    assert any_store.faults_setting() == (0.5, 3)
    assert any_store.get("video_1") == make_job(id="video_1")


def test_a_counter_named_like_the_stores_own_state_counts_on_its_own(any_store: Store) -> None:
    any_store.clock_init(50.0)
    any_store.add(make_job(id="video_1", created_at=1.0))
    for name in OWN_NAMES:
        assert [any_store.next_count(name) for _ in range(2)] == [1, 2], name
    any_store.add(make_job(id="video_2", created_at=2.0))
    assert any_store.clock_get(0.0) == 50.0
    assert [j.id for j in any_store.page(Filters(), order="asc").jobs] == ["video_1", "video_2"]


def test_rules_switched_off_leave_nothing_behind_in_redis(store: RedisStore) -> None:
    """A mock left running while tests switch rules on and off must not grow: every rule
    taken, removed or cleared goes from each structure a request reads."""
    client = redis.Redis.from_url(store.url)
    for round_ in range(3):
        a = store.add_rule("slow", "key_a", None, None)
        store.add_rule("forbidden", "key_b", None, None)
        store.add_rule("server_error", None, None, None)
        store.add_rule("rate_limited", None, None, 1)
        assert store.take_rule("key_x", "gptge") == "rate_limited"  # used up
        assert store.remove_rule(a.id) is not None
        assert store.clear_rules("key_b") == 1
        assert store.clear_rules() == 1
        assert store.rules() == []
        assert client.zcard("soramock:rule-order") == 0, round_
        assert client.hlen("soramock:rules") == 0, round_
    client.close()


# ------------------------------------------------------------------ Redis alone: what it costs


def test_a_store_opened_on_its_own_keeps_the_newest_1000_entries_and_no_more(
    redis_url: str,
) -> None:
    store = RedisStore(redis_url)
    store.reset()
    store.journal_add(*({"n": n} for n in range(1005)))
    assert store.journal(5000) == [{"n": n} for n in range(5, 1005)]
    client = redis.Redis.from_url(redis_url)
    assert client.llen("soramock:journal") == 1000, "Redis holds no more than is read"
    client.close()
    store.reset()
    store.close()


def test_a_small_journal_is_kept_small_in_redis(redis_url: str) -> None:
    store = RedisStore(redis_url, journal_size=3)
    store.reset()
    for n in range(10):
        store.journal_add({"n": n}, {"n": n + 100})
    client = redis.Redis.from_url(redis_url)
    assert client.llen("soramock:journal") == 3
    assert store.journal(10) == [{"n": 108}, {"n": 9}, {"n": 109}]
    client.close()
    store.reset()
    store.close()


def _count_commands(store: RedisStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The commands the store sends, a pipeline as its commands joined by ``+``."""
    seen: list[str] = []
    client = store.redis
    real_command, real_pipeline = client.execute_command, client.pipeline

    def command(*args: object, **kwargs: object) -> object:
        seen.append(str(args[0]))
        return real_command(*args, **kwargs)

    def pipeline(*args: object, **kwargs: object) -> object:
        pipe = real_pipeline(*args, **kwargs)
        real_execute = pipe.execute

        def execute(*a: object, **k: object) -> object:
            seen.append("+".join(str(c[0][0]) for c in pipe.command_stack))
            return real_execute(*a, **k)

        pipe.execute = execute
        return pipe

    monkeypatch.setattr(client, "execute_command", command)
    monkeypatch.setattr(client, "pipeline", pipeline)
    return seen


def test_a_write_inside_a_read_instant_keeps_its_clock_and_rules_read(
    store: RedisStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A poll that updates its job (a failure noted) still reads the clock and "any rules?"
    from the one round trip it began with."""
    store.clock_init(100.0)
    store.add_rule("slow", "key_a", None, None)
    store.add(make_job(id="video_1"))
    seen = _count_commands(store, monkeypatch)
    with store.read_instant("video_1"):
        assert store.replace_job(make_job(id="video_1", notes=["failed"]))
        seen.clear()
        assert store.clock_get(0.0) == 100.0
        assert seen == [], "the clock was read with the instant"
    with store.read_instant("video_1"):
        assert store.replace_job(make_job(id="video_1", notes=["again"]))
        assert store.take_rule("key_a", "gptge") == "slow"
    store.clear_rules()
    with store.read_instant("video_1"):
        assert store.replace_job(make_job(id="video_1", notes=["once more"]))
        seen.clear()
        assert store.take_rule("key_a", "gptge") is None
        assert seen == [], "no rule in force: known from the instant's round trip"


def test_a_job_created_under_the_name_a_read_instant_looked_for_is_found(
    store: RedisStore,
) -> None:
    with store.read_instant("video_7"):
        assert store.get("video_7") is None
        store.add(make_job(id="video_7"))
        assert store.get("video_7") == make_job(id="video_7")


def _jobs(store: RedisStore, count: int, owner: str = "key_x") -> None:
    for n in range(count):
        store.add(make_job(id=f"video_{owner}_{n:04d}", created_at=float(n), owner=owner))


def _bodies_read(store: RedisStore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many job bodies each read of a page fetches."""
    sizes: list[int] = []
    real = store.redis.mget

    def mget(keys: list[str], *args: object) -> object:
        sizes.append(len(keys))
        return real(keys, *args)

    monkeypatch.setattr(store.redis, "mget", mget)
    return sizes


def test_a_page_reads_one_job_more_than_it_holds_and_never_more_than_500_at_once(
    store: RedisStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    _jobs(store, 600)
    sizes = _bodies_read(store, monkeypatch)
    page = store.page(Filters(), limit=10)
    assert len(page.jobs) == 10 and page.has_more
    assert sizes == [11]
    sizes.clear()
    one = store.page(Filters(), order="asc", limit=1)
    assert [j.id for j in one.jobs] == ["video_key_x_0000"] and one.has_more
    assert sizes == [2]
    sizes.clear()
    assert len(store.page(Filters(), limit=600).jobs) == 600
    assert sizes == [500, 100]


def test_a_page_with_a_condition_reads_500_jobs_at_a_time(
    store: RedisStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A condition may accept few jobs: it reads in large chunks, not a page's worth."""
    _jobs(store, 600)
    sizes = _bodies_read(store, monkeypatch)
    page = store.page(Filters(where=lambda job: job.created_at < 2), limit=10)
    assert [j.id for j in page.jobs] == ["video_key_x_0001", "video_key_x_0000"]
    assert not page.has_more
    assert sizes == [500, 100]


def test_a_page_of_one_keys_jobs_walks_only_that_keys_jobs(store: RedisStore) -> None:
    _jobs(store, 30, owner="key_a")
    _jobs(store, 3, owner="key_b")  # the newest
    page = store.page(Filters(owner="key_b"), order="asc", limit=10, scan=5)
    assert [j.id for j in page.jobs] == [f"video_key_b_{n:04d}" for n in range(3)]
    assert not page.has_more
    by_api = store.page(Filters(api="gptge-videos", owner="key_b"), order="asc", scan=3)
    assert len(by_api.jobs) == 3
    assert store.page(Filters(provider="vtrix"), scan=5).jobs == []


def test_a_job_another_host_deletes_while_a_page_is_read_does_not_end_the_page(
    store: RedisStore, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _jobs(store, 8)
    other = RedisStore(redis_url)  # another host
    real = store.redis.mget
    calls = [0]

    def mget(keys: list[str], *args: object) -> object:
        calls[0] += 1
        if calls[0] == 1:  # the range is read: the last job of this chunk goes meanwhile
            assert other.delete(keys[-1].removeprefix("soramock:job:"))
        return real(keys, *args)

    monkeypatch.setattr(store.redis, "mget", mget)
    page = store.page(Filters(), order="asc", limit=3)
    assert [j.id for j in page.jobs] == ["video_key_x_0000", "video_key_x_0001", "video_key_x_0002"]
    assert page.has_more
    assert calls[0] == 2, "the walk went on past the deleted job's place"
    other.close()


def test_reset_leaves_the_shared_media_and_what_is_not_the_mocks(store: RedisStore) -> None:
    client = redis.Redis.from_url(store.url)
    client.set("soramock-media:blob:clip", b"rendered")
    client.set("someone-else", b"theirs")
    store.add(make_job(id="video_1"))
    store.reset()
    assert store.get("video_1") is None
    assert client.get("soramock-media:blob:clip") == b"rendered"
    assert client.get("someone-else") == b"theirs"
    client.delete("soramock-media:blob:clip", "someone-else")
    client.close()


def test_a_filtered_page_goes_on_from_the_place_of_a_job_deleted_meanwhile(
    store: RedisStore, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The walk's next chunk starts after the deleted job's place, not from the start."""
    _jobs(store, 502)
    other = RedisStore(redis_url)
    real = store.redis.mget
    calls = [0]

    def mget(keys: list[str], *args: object) -> object:
        calls[0] += 1
        if calls[0] == 1:  # the last of the first 500 goes while they are read
            assert other.delete(keys[-1].removeprefix("soramock:job:"))
        return real(keys, *args)

    monkeypatch.setattr(store.redis, "mget", mget)
    even = Filters(where=lambda job: int(job.id[-4:]) % 2 == 0)
    page = store.page(even, order="asc", limit=400)
    assert [j.id for j in page.jobs] == [f"video_key_x_{n:04d}" for n in range(0, 502, 2)]
    assert not page.has_more
    other.close()


def test_uploaded_files_deleted_leave_nothing_behind_in_redis(store: RedisStore) -> None:
    """The files quota deletes the oldest files again and again: their list must not grow."""
    client = redis.Redis.from_url(store.url)
    for round_ in range(3):
        for name in ("file:a", "file:b", "file:c"):
            store.put_blob(name, name.encode())
        assert store.files() == [("file:a", 6), ("file:b", 6), ("file:c", 6)]
        for name in ("file:a", "file:b", "file:c"):
            assert store.delete_blob(name)
        assert store.files() == []
        assert client.zcard("soramock:files") == 0, round_
    client.close()


def test_a_rule_used_up_by_another_host_while_it_is_removed_is_not_reported_removed(
    store: RedisStore, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = RedisStore(redis_url)
    rule = store.add_rule("server_error", None, None, 1)
    real = store.redis.hget

    def hget(*args: object) -> object:
        raw = real(*args)
        assert other.take_rule(None, "gptge") == "server_error"  # meanwhile: used up
        return raw

    monkeypatch.setattr(store.redis, "hget", hget)
    assert store.remove_rule(rule.id) is None
    other.close()
