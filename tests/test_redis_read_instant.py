"""RedisStore.read_instant: a read request reads the clock, "any rules?" and the fault rate in
one round trip (one command: a script) when it begins, and never misses another server's
write in a later request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from jobs import make_job
from redis_server import redis_server, two_stores

from mockserver.state.store_redis import RedisStore


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture
def stores(redis_url: str) -> Iterator[tuple[RedisStore, RedisStore]]:
    with two_stores(redis_url) as pair:  # two servers
        yield pair


def round_trips(store: RedisStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the store sends, one item per round trip (a pipeline is one)."""
    seen: list[str] = []
    client: Any = store.redis
    real_command, real_pipeline = client.execute_command, client.pipeline

    def command(*args: Any, **kwargs: Any) -> Any:
        seen.append(str(args[0]))
        return real_command(*args, **kwargs)

    def pipeline(*args: Any, **kwargs: Any) -> Any:
        pipe = real_pipeline(*args, **kwargs)
        real_execute = pipe.execute

        def execute(*a: Any, **k: Any) -> Any:
            seen.append("+".join(str(c[0][0]) for c in pipe.command_stack))
            return real_execute(*a, **k)

        pipe.execute = execute
        return pipe

    monkeypatch.setattr(client, "execute_command", command)
    monkeypatch.setattr(client, "pipeline", pipeline)
    return seen


def test_a_poll_takes_one_round_trip_and_the_next_none(
    stores: tuple[RedisStore, RedisStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    mine, _ = stores
    job, other_job = make_job(), make_job(id="video_2")
    mine.add(job)
    mine.add(other_job)
    mine.clock_init(100.0)
    seen = round_trips(mine, monkeypatch)
    with mine.read_instant(job.id):  # the job the request names
        assert mine.take_rule("key_x", "gptge") is None
        assert mine.faults_next(0.0, 7) is None  # no fault rate in force: nothing to draw
        assert mine.get(job.id) == job
        assert mine.clock_get(0.0) == 100.0
    assert seen == ["EVALSHA"]
    seen.clear()
    with mine.read_instant(job.id):  # remembered: Redis has said nothing changed
        assert mine.get(job.id) == job
        assert mine.get(other_job.id) == other_job  # another job: read when asked
    assert seen == ["GET"]
    seen.clear()
    with mine.read_instant():  # a list: nothing named
        assert mine.clock_get(0.0) == 100.0
    with mine.read_instant(other_job.id):  # a job not remembered yet: all read again
        assert mine.get(other_job.id) == other_job
    assert seen == ["EVALSHA"]
    seen.clear()
    assert mine.clock_get(0.0) == 100.0  # outside a read instant: the store, every time
    assert mine.take_rule("key_x", "gptge") is None
    assert seen == ["GET", "EXISTS"]


def test_another_servers_write_is_seen_by_the_next_read_instant(
    stores: tuple[RedisStore, RedisStore],
) -> None:
    mine, other = stores
    mine.clock_init(100.0)
    with mine.read_instant():
        assert mine.take_rule("key_x", "gptge") is None
        assert mine.clock_get(0.0) == 100.0
    other.add_rule("server_error", None, None, 2)
    other.clock_advance(5.0, 0.0)
    with mine.read_instant():
        assert mine.clock_get(0.0) == 105.0
        assert mine.take_rule("key_x", "gptge") == "server_error"
        assert mine.take_rule("key_x", "gptge") == "server_error"  # the rule's second use
        assert mine.take_rule("key_x", "gptge") is None  # used up (seen as "rules" before)
    with mine.read_instant():
        assert mine.take_rule("key_x", "gptge") is None


def test_a_fault_rate_another_server_sets_holds_from_the_next_read_instant(
    stores: tuple[RedisStore, RedisStore],
) -> None:
    mine, other = stores
    with mine.read_instant():
        assert mine.faults_next(0.0, 7) is None  # the start-up rate: 0
    other.faults_restart(0.5, 3)
    with mine.read_instant():
        assert mine.faults_next(0.0, 7) == (0.5, 3, 1)
        assert mine.faults_next(0.0, 7) == (0.5, 3, 2)
    other.faults_restart(0.0, 3)
    with mine.read_instant():
        assert mine.faults_next(1.0, 7) is None  # switched off at run time: no draw
    other.faults_restart(0.25, 4)
    assert mine.faults_next(0.0, 7) == (0.25, 4, 1)  # restarted, outside an instant too


def test_a_job_written_inside_a_read_instant_is_read_again(
    stores: tuple[RedisStore, RedisStore],
) -> None:
    mine, _ = stores
    job = make_job()
    mine.add(job)
    with mine.read_instant(job.id):
        assert mine.get(job.id) == job
        assert mine.delete(job.id)  # an expired job, purged when seen
        assert mine.get(job.id) is None
        mine.add(job)
        assert mine.get(job.id) == job
    with mine.read_instant("video_nothing"):
        assert mine.get("video_nothing") is None


def test_a_redis_that_lost_the_scripts_still_serves_a_read_instant_and_the_journal(
    stores: tuple[RedisStore, RedisStore],
) -> None:
    mine, _ = stores
    job = make_job()
    mine.add(job)
    mine.clock_init(100.0)
    mine.redis.script_flush()  # as after a restart: the store loaded them when it opened
    with mine.read_instant(job.id):
        assert mine.get(job.id) == job
        assert mine.clock_get(0.0) == 100.0
    mine.redis.script_flush()
    mine.journal_add({"n": 1}, {"n": 2})
    assert mine.journal(10) == [{"n": 1}, {"n": 2}]


def test_a_read_instant_reads_nothing_stored_as_nothing(
    stores: tuple[RedisStore, RedisStore],
) -> None:
    mine, _ = stores  # no clock, no rules, no fault setting, no such job
    with mine.read_instant("video_nothing"):
        assert mine.get("video_nothing") is None
        assert mine.clock_get(42.0) == 42.0
        assert mine.take_rule("key_x", "gptge") is None
        assert mine.faults_next(0.0, 7) is None
        assert mine.faults_next(0.5, 7) == (0.5, 7, 1)  # the start-up rate, none stored


def test_a_job_is_parsed_again_only_when_its_bytes_changed(
    stores: tuple[RedisStore, RedisStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    import mockserver.state.store_redis as store_redis

    mine, other = stores
    monkeypatch.setattr(store_redis, "PARSED_JOBS", 2)
    jobs = [make_job(id=f"video_{n}") for n in range(3)]
    for job in jobs:
        mine.add(job)
    parses: list[str] = []
    real = store_redis.Job.from_dict

    def counted(data: dict[str, Any]) -> Any:
        parses.append(data["id"])
        return real(data)

    def read(job_id: str) -> Any:
        with mine.read_instant(job_id):
            return mine.get(job_id)

    monkeypatch.setattr(store_redis.Job, "from_dict", counted)
    first = read("video_0")
    assert first == jobs[0]
    assert read("video_0") is first  # the same bytes: not parsed again
    assert parses == ["video_0"]
    outside = mine.get("video_0")  # outside a read instant: a copy of its own
    assert outside == first and outside is not first
    assert parses == ["video_0"] * 2
    changed = store_redis.Job(**{**jobs[0].to_dict(), "prompt": "another"})
    assert other.replace_job(changed)  # another host
    assert read("video_0") == changed
    assert read("video_0") == changed
    assert parses == ["video_0"] * 3
    assert read("video_1") == jobs[1]
    assert read("video_2") == jobs[2]  # over the bound: the parses kept start afresh
    assert read("video_2") == jobs[2]
    assert read("video_0") == changed
    assert parses == ["video_0"] * 3 + ["video_1", "video_2", "video_0"]
    assert mine.delete("video_1")
    assert read("video_1") is None  # its parse kept, its bytes gone
