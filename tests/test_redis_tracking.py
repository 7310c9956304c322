"""mockserver.state.redis_tracking: a worker's remembered Redis reads, forgotten when Redis
says a key changed, when this worker writes it, and when the tracking connection is lost;
never kept from a read that a change overtook. Against a real redis-server; the notices are
waited for on the tracking socket (``can_read`` with a timeout), never with a sleep."""

from __future__ import annotations

import os
import select
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from jobs import make_job
from redis_server import redis_server

from mockserver.state import redis_tracking
from mockserver.state.redis_tracking import TrackedReads
from mockserver.state.store_redis import RedisStore

CLOCK = "soramock:clock"


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture
def stores(redis_url: str) -> Iterator[tuple[RedisStore, RedisStore]]:
    mine, other = RedisStore(redis_url), RedisStore(redis_url)  # two servers
    mine.reset()
    yield mine, other
    mine.reset()
    mine.close()
    other.close()


def noticed(reads: TrackedReads) -> None:
    """Wait (at most 5 s) until a notice or the connection's end reaches the tracking socket."""
    assert reads._conn is not None
    sock = reads._conn._sock
    assert select.select([sock], [], [], 5)[0] == [sock]


def remembered(store: RedisStore, *keys: str) -> list[Any] | None:
    return store._tracked.lookup(list(keys))


def test_a_read_instant_is_remembered_until_another_server_changes_it(
    stores: tuple[RedisStore, RedisStore],
) -> None:
    mine, other = stores
    job = make_job()
    mine.add(job)
    mine.clock_init(100.0)
    with mine.read_instant(job.id):
        assert mine.clock_get(0.0) == 100.0
    assert remembered(mine, CLOCK) == [b"100.0"]
    assert remembered(mine, f"soramock:job:{job.id}") is not None
    other.clock_advance(5.0, 0.0)  # answered only once every worker's notice is sent
    assert remembered(mine, CLOCK) is None
    assert remembered(mine, f"soramock:job:{job.id}") is not None  # a key not named stays
    with mine.read_instant(job.id):
        assert mine.clock_get(0.0) == 105.0
    changed = make_job(id=job.id, prompt="another")
    assert other.replace_job(changed)
    with mine.read_instant(job.id):
        assert mine.get(job.id) == changed


def test_a_write_of_this_worker_is_read_back_without_waiting_for_its_notice(
    stores: tuple[RedisStore, RedisStore],
) -> None:
    mine, _ = stores
    reads = mine._tracked
    reads.fill(reads.begin([CLOCK]), [CLOCK], [b"1.0"])
    assert reads.lookup([CLOCK]) is None  # not kept: tracking was not on yet
    reads.fill(reads.begin([CLOCK]), [CLOCK], [b"1.0"])
    assert reads.lookup([CLOCK]) == [b"1.0"]
    with reads.writing(CLOCK):  # (nothing sent: no notice will come)
        pass
    assert reads.lookup([CLOCK]) is None
    reads.fill(reads.begin([CLOCK, "soramock:rules"]), [CLOCK, "soramock:rules"], [b"1", 0])
    with pytest.raises(RuntimeError), reads.writing("soramock:rules"):
        raise RuntimeError("a write that failed may have been made all the same")
    assert reads.lookup(["soramock:rules"]) is None
    assert reads.lookup([CLOCK]) == [b"1"]
    with reads.writing():  # no key named: every key (a reset)
        pass
    assert reads.lookup([CLOCK]) is None


def test_a_read_overtaken_by_a_change_is_not_kept(
    stores: tuple[RedisStore, RedisStore],
) -> None:
    mine, other = stores
    reads = mine._tracked
    assert reads.lookup([CLOCK]) is None  # tracking on
    mark = reads.begin([CLOCK])  # a read of the clock under way...
    other.clock_advance(5.0, 0.0)  # ...overtaken by another server's write
    noticed(reads)
    assert reads.lookup(["soramock:faults"]) is None  # another reader reads the notice
    reads.fill(mark, [CLOCK], [b"100.0"])
    assert reads.lookup([CLOCK]) is None
    mark = reads.begin([CLOCK])  # the same, overtaken by this worker's own write
    with reads.writing(CLOCK):
        pass
    reads.fill(mark, [CLOCK], [b"100.0"])
    assert reads.lookup([CLOCK]) is None
    mark = reads.begin([CLOCK])
    reads.fill(mark, [CLOCK], None)  # a read that failed keeps nothing
    assert reads.lookup([CLOCK]) is None
    assert reads._reading == {} and reads._changed == {}
    mark = reads.begin([CLOCK])
    reads.fill(mark, [CLOCK], [b"105.0"])  # nothing in between: kept
    assert reads.lookup([CLOCK]) == [b"105.0"]


def test_two_reads_of_one_key_under_way_are_counted_apart(
    stores: tuple[RedisStore, RedisStore],
) -> None:
    reads = stores[0]._tracked
    assert reads.lookup([CLOCK]) is None
    first, second = reads.begin([CLOCK]), reads.begin([CLOCK])
    reads.fill(first, [CLOCK], [b"1.0"])
    with reads.writing(CLOCK):  # the second read is still under way: it is overtaken
        pass
    reads.fill(second, [CLOCK], [b"1.0"])
    assert reads.lookup([CLOCK]) is None


def test_a_flush_forgets_everything(stores: tuple[RedisStore, RedisStore]) -> None:
    mine, other = stores
    mine.clock_init(100.0)
    with mine.read_instant("video_x"):
        pass
    assert remembered(mine, CLOCK) is not None
    other.redis.flushdb()
    noticed(mine._tracked)
    assert remembered(mine, CLOCK) is None
    assert remembered(mine, "soramock:job:video_x") is None


@pytest.mark.parametrize("side", ["ours", "redis"])
def test_a_lost_tracking_connection_forgets_everything_until_tracking_is_back(
    stores: tuple[RedisStore, RedisStore], side: str
) -> None:
    mine, other = stores
    mine.clock_init(100.0)
    with mine.read_instant():
        pass
    reads = mine._tracked
    assert reads.lookup([CLOCK]) == [b"100.0"]
    if side == "ours":
        reads._conn.disconnect()
    else:
        other.redis.client_kill_filter(_id=_tracking_client_id(other))
        noticed(reads)  # the connection's end
    assert reads.lookup([CLOCK]) is None  # dropped
    assert reads._conn is None
    other.clock_advance(5.0, 0.0)  # a write no notice tells this worker of
    assert reads.lookup([CLOCK]) is None  # tracking back on, nothing kept from before
    with mine.read_instant():
        assert mine.clock_get(0.0) == 105.0
    assert reads.lookup([CLOCK]) == [b"105"]  # (the advance script writes %.17g)


def _tracking_client_id(store: RedisStore) -> int:
    """The id of the one tracking connection the test's Redis has (``mine``'s; ``other``
    has not read yet)."""
    ids = [c["id"] for c in store.redis.client_list() if "t" in c["flags"]]
    assert len(ids) == 1
    return int(ids[0])


def test_a_value_read_while_tracking_is_off_is_not_kept() -> None:
    class Gone:
        def connect(self) -> None:
            raise redis.ConnectionError("refused")

        def disconnect(self) -> None:
            pass

    made: list[Gone] = []
    reads = TrackedReads(lambda: made.append(Gone()) or made[-1], ["k:"])
    assert reads.lookup(["k:1"]) is None
    reads.fill(reads.begin(["k:1"]), ["k:1"], [b"v"])
    assert reads.lookup(["k:1"]) is None
    assert len(made) == 2 and reads.enabled  # tried again at each read


def test_a_redis_that_refuses_tracking_is_read_every_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Refusing:
        class _parser:
            @staticmethod
            def set_invalidation_push_handler(handler: Any) -> None:
                pass

        sent: list[tuple[str, ...]] = []

        def connect(self) -> None:
            pass

        def send_command(self, *args: str) -> None:
            self.sent.append(args)

        def read_response(self) -> None:
            raise redis.ResponseError("NOPERM this user has no permissions to run 'client'")

        def disconnect(self) -> None:
            pass

    made: list[Refusing] = []
    reads = TrackedReads(lambda: made.append(Refusing()) or made[-1], ["a:", "b:"])
    assert reads.lookup(["a:1"]) is None
    assert Refusing.sent == [("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a:", "PREFIX", "b:")]
    assert not reads.enabled
    assert "NOPERM" in caplog.text and "every read goes to Redis" in caplog.text
    assert reads.lookup(["a:1"]) is None
    assert len(made) == 1  # not asked again
    settled: list[int] = []
    reads._settle = lambda: settled.append(1)
    with reads.writing("a:1"):
        pass
    assert settled == []  # nobody tracks: no round trip after a write


def test_a_write_is_settled_with_one_round_trip_that_may_fail(
    stores: tuple[RedisStore, RedisStore],
) -> None:
    reads = stores[0]._tracked
    settled: list[int] = []

    def settle() -> None:
        settled.append(1)
        raise redis.ConnectionError("gone after the write")

    reads._settle = settle
    with reads.writing(CLOCK):
        pass
    assert settled == [1]  # its failure is not the write's
    with pytest.raises(KeyError), reads.writing(CLOCK):
        raise KeyError("a failed write")
    assert settled == [1]  # nothing to settle


def test_the_values_kept_are_bounded(
    stores: tuple[RedisStore, RedisStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_tracking, "MAX_KEYS", 2)
    reads = stores[0]._tracked
    assert reads.lookup(["x"]) is None
    reads.fill(reads.begin(["a", "b"]), ["a", "b"], [1, 2])
    assert reads.lookup(["a", "b"]) == [1, 2]
    reads.fill(reads.begin(["c"]), ["c"], [3])  # over the bound: started afresh
    assert reads.lookup(["c"]) == [3]
    assert reads.lookup(["a"]) is None


def test_a_forked_worker_starts_with_nothing_remembered(
    stores: tuple[RedisStore, RedisStore],
) -> None:
    mine, _ = stores
    mine.clock_init(100.0)
    with mine.read_instant():
        pass
    reads = mine._tracked
    parent_conn = reads._conn
    assert reads.lookup([CLOCK]) == [b"100.0"]
    pid = os.fork()
    if pid == 0:  # the child: its own connection, nothing of its parent's
        ok = reads._conn is None and reads.lookup([CLOCK]) is None
        ok = ok and reads._conn is not None and reads._conn is not parent_conn
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert reads.lookup([CLOCK]) == [b"100.0"]  # the parent's own, still tracked
