"""mockserver.state.redis_tracking: a worker's remembered Redis reads, forgotten when Redis
says a key changed, when this worker writes it, and when the tracking connection is lost;
never kept from a read that a change overtook. Against a real redis-server; the notices are
waited for on the tracking socket (``can_read`` with a timeout), never with a sleep."""

from __future__ import annotations

import os
import select
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from jobs import make_job
from redis_server import redis_server, two_stores

from mockserver.state import redis_tracking
from mockserver.state.redis_tracking import TrackedReads
from mockserver.state.store_redis import RedisStore

CLOCK = "soramock:clock"


class Pushing:
    """A tracking connection whose socket holds ``pushes`` (notices) to be read."""

    def __init__(
        self, pushes: list[list[Any]] | None = None, fail: Exception | None = None
    ) -> None:
        pushes = [] if pushes is None else pushes
        self.pushes, self.fail, self.reads, self.closed = pushes, fail, [], 0
        self.sent: list[tuple[str, ...]] = []
        self.handler: Any = None
        self.is_connected = True
        outer = self

        class Parser:
            @staticmethod
            def set_invalidation_push_handler(handler: Any) -> None:
                outer.handler = handler

        self._parser = Parser

    def connect(self) -> None:
        pass

    def send_command(self, *args: str) -> None:
        self.sent.append(args)

    def can_read(self, timeout: float) -> bool:
        assert timeout == 0
        return bool(self.pushes) or self.fail is not None

    def read_response(self, **kwargs: Any) -> Any:
        if not self.reads and "push_request" not in kwargs:  # the CLIENT TRACKING answer
            self.reads.append({})
            return b"OK"
        self.reads.append(kwargs)
        if self.fail is not None:
            raise self.fail
        return self.handler(self.pushes.pop(0))

    def disconnect(self) -> None:
        self.closed += 1
        self.is_connected = False


def tracked(conn: Pushing) -> TrackedReads:
    reads = TrackedReads(lambda: conn, ["k:"], lambda: None)
    assert reads.lookup(["k:1"]) is None  # tracking on
    return reads


def opening(kind: type[Pushing], prefixes: list[str]) -> tuple[list[Any], TrackedReads]:
    """A ``TrackedReads`` whose every try to open its connection makes a new ``kind``: the
    list of those made, and the reads."""
    made: list[Any] = []
    return made, TrackedReads(lambda: made.append(kind()) or made[-1], prefixes, lambda: None)


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture
def stores(redis_url: str) -> Iterator[tuple[RedisStore, RedisStore]]:
    with two_stores(redis_url) as pair:
        yield pair


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
    old = reads._conn
    assert reads.lookup([CLOCK]) is None  # dropped
    assert reads._conn is None and not old.is_connected
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


def test_a_value_read_while_tracking_is_off_is_not_kept(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Gone(Pushing):
        def connect(self) -> None:
            raise redis.ConnectionError("refused")

    made, reads = opening(Gone, ["k:"])
    clock = [100.0]
    monkeypatch.setattr(redis_tracking, "monotonic", lambda: clock[0])
    with caplog.at_level("DEBUG", logger="mockserver"):
        assert reads.lookup(["k:1"]) is None
    assert caplog.messages == ["Redis tracking connection not made: ConnectionError"]
    reads.fill(reads.begin(["k:1"]), ["k:1"], [b"v"])
    assert reads.lookup(["k:1"]) is None
    assert len(made) == 1  # not tried again at once
    clock[0] += redis_tracking.RETRY_SECONDS
    assert reads.lookup(["k:1"]) is None
    assert len(made) == 2 and reads.enabled is True  # tried again once the pause is over
    assert [g.closed for g in made] == [1, 1]
    reads._starting = True  # another thread is trying: this one does not wait for it
    clock[0] += redis_tracking.RETRY_SECONDS
    assert reads.lookup(["k:1"]) is None
    assert len(made) == 2


def test_a_redis_that_refuses_tracking_is_read_every_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Refusing(Pushing):
        def read_response(self, **kwargs: Any) -> Any:
            raise redis.ResponseError("NOPERM this user has no permissions to run 'client'")

    made, reads = opening(Refusing, ["a:", "b:"])
    assert reads.lookup(["a:1"]) is None
    assert made[0].sent == [("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a:", "PREFIX", "b:")]
    assert reads.enabled is False
    assert caplog.messages == [
        "Redis refused client-side tracking (NOPERM): every read goes to Redis"
    ]
    assert reads.lookup(["a:1"]) is None
    assert len(made) == 1 and made[0].closed == 1  # not asked again; its connection closed
    settled: list[int] = []
    reads._settle = lambda: settled.append(1)
    with reads.writing("a:1"):
        pass
    assert settled == [1]  # (another worker or host may track all the same)


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
    reads.fill(reads.begin(["d"]), ["d"], [4])  # two kept: within the bound
    assert reads.lookup(["c", "d"]) == [3, 4]
    reads.fill(reads.begin(["e"]), ["e"], None)  # a read that failed: nothing to make room for
    assert reads.lookup(["c", "d"]) == [3, 4]


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


def test_every_notice_delivered_is_read_without_waiting_and_names_keys_as_text() -> None:
    conn = Pushing([])
    reads = tracked(conn)
    for key in ("k:1", "k:2", "k:3"):
        reads.fill(reads.begin([key]), [key], [key.encode()])
    assert reads.lookup(["k:1", "k:2", "k:3"]) == [b"k:1", b"k:2", b"k:3"]
    conn.pushes += [["invalidate", [b"k:1"]], ["invalidate", ["k:2"]]]  # bytes, or text
    assert reads.lookup(["k:3"]) == [b"k:3"]
    assert conn.pushes == []
    assert conn.reads[1:] == [dict(push_request=True, timeout=0, disconnect_on_error=False)] * 2
    assert reads.lookup(["k:1"]) is None and reads.lookup(["k:2"]) is None


def test_a_notice_that_cannot_be_read_drops_the_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    conn = Pushing([])
    reads = tracked(conn)
    reads.fill(reads.begin(["k:1"]), ["k:1"], [b"v"])
    conn.fail = redis.TimeoutError("half a notice")
    with caplog.at_level("DEBUG", logger="mockserver"):
        assert reads.lookup(["k:1"]) is None
    assert caplog.messages == ["Redis tracking connection lost: TimeoutError"]
    assert conn.closed == 1 and reads._conn is None


def test_a_read_begun_after_a_change_keeps_its_value_one_begun_before_does_not() -> None:
    reads = tracked(Pushing([]))
    for _ in range(3):  # a few changes counted first
        with reads.writing("k:0"):
            pass
    before = reads.begin(["k:1"])
    with reads.writing("k:1"):
        pass
    after = reads.begin(["k:1"])
    reads.fill(before, ["k:1"], [b"old"])
    assert reads.lookup(["k:1"]) is None
    reads.fill(after, ["k:1"], [b"new"])
    assert reads.lookup(["k:1"]) == [b"new"]
    under_way = reads.begin(["k:2"])
    with reads.writing():  # every key: a reset
        pass
    reads.fill(under_way, ["k:2"], [b"old"])
    assert reads.lookup(["k:2"]) is None
    assert reads._reading == {} and reads._changed == {}


def test_a_fresh_tracking_keeps_the_first_read() -> None:
    reads = tracked(Pushing([]))
    reads.fill(reads.begin(["k:1"]), ["k:1"], [b"v"])
    assert reads.lookup(["k:1"]) == [b"v"]


def test_the_fork_hook_leaves_the_child_nothing_of_its_parent() -> None:
    conn = Pushing([])
    reads = tracked(conn)
    reads.fill(reads.begin(["k:1"]), ["k:1"], [b"v"])
    reads.begin(["k:2"])  # under way in another thread of the parent
    parent_lock = reads._lock
    parent_lock.acquire()  # held by another thread at the fork
    reads._starting, reads._retry_at = True, 1e12  # another thread was opening one
    redis_tracking._forked(weakref.ref(reads))
    assert reads._conn is None and conn.closed == 0  # the parent's socket: left alone
    assert reads._starting is False and reads._retry_at == 0.0
    assert reads._values == {} and reads._reading == {} and reads._changed == {}
    assert reads._lock is not parent_lock and reads._lock.acquire(blocking=False)
    redis_tracking._forked(weakref.ref(Pushing([])))  # (a store gone: nothing to do)


def test_a_stores_write_of_a_tracked_key_is_settled_with_a_ping(
    stores: tuple[RedisStore, RedisStore],
) -> None:
    mine, other = stores

    def pings() -> int:
        return int(other.redis.info("commandstats").get("cmdstat_ping", {}).get("calls", 0))

    before = pings()
    mine.clock_advance(5.0, 0.0)
    mine.add(make_job())
    assert pings() == before + 2
    mine.journal_add({"n": 1})  # not a tracked key: no round trip more
    assert pings() == before + 2


WRITES = {
    "clock_init": (CLOCK, lambda s: s.clock_init(1.0)),
    "clock_advance": (CLOCK, lambda s: s.clock_advance(1.0, 0.0)),
    "add_rule": ("soramock:rules", lambda s: s.add_rule("server_error", None, None, 1)),
    "clear_rules": ("soramock:rules", lambda s: s.clear_rules()),
    "remove_rule": ("soramock:rules", lambda s: s.remove_rule(1)),
    "take_rule": ("soramock:rules", lambda s: s.take_rule("key_x", "gptge")),
    "faults_restart": ("soramock:faults", lambda s: s.faults_restart(0.5, 3)),
    "faults_next": ("soramock:faults", lambda s: s.faults_next(0.5, 3)),
    "add": ("soramock:job:video_new", lambda s: s.add(make_job(id="video_new"))),
    "replace_job": ("soramock:job:video_1", lambda s: s.replace_job(make_job(prompt="new"))),
    "delete": ("soramock:job:video_1", lambda s: s.delete("video_1")),
    "reset": (CLOCK, lambda s: s.reset()),
}


@pytest.mark.parametrize("write", list(WRITES))
def test_each_write_forgets_its_key_in_this_worker_before_any_notice_is_read(
    stores: tuple[RedisStore, RedisStore], write: str
) -> None:
    mine, other = stores
    key, call = WRITES[write]
    other.clock_init(1.0)
    other.add_rule("server_error", None, None, 5)  # rule 1
    other.add(make_job())
    reads = mine._tracked
    assert reads.lookup([key]) is None  # tracking on
    reads.fill(reads.begin([key]), [key], [b"before"])
    reads._settle = lambda: None  # (no round trip: nothing reads the notice of the write)
    call(mine)
    assert key not in reads._values  # the write itself forgot it, not Redis' notice


def test_a_rule_another_server_adds_holds_from_the_next_read_instant_alone(
    stores: tuple[RedisStore, RedisStore],
) -> None:
    mine, other = stores
    mine.clock_init(1.0)
    with mine.read_instant():
        assert mine.take_rule("key_x", "gptge") is None  # no rule: remembered
    other.add_rule("server_error", None, None, 1)  # nothing else changes
    with mine.read_instant():
        assert mine.take_rule("key_x", "gptge") == "server_error"


def test_a_transient_refusal_is_tried_again_later(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Busy(Pushing):
        def read_response(self, **kwargs: Any) -> Any:
            raise redis.ResponseError("BUSY Redis is busy running a script")

    made, reads = opening(Busy, ["k:"])
    clock = [5.0]
    monkeypatch.setattr(redis_tracking, "monotonic", lambda: clock[0])
    with caplog.at_level("DEBUG", logger="mockserver"):
        assert reads.lookup(["k:1"]) is None
    assert reads.enabled is True and made[0].closed == 1
    assert caplog.messages == ["Redis tracking connection not made: BUSY"]
    clock[0] += redis_tracking.RETRY_SECONDS
    assert reads.lookup(["k:1"]) is None
    assert len(made) == 2


def test_a_value_is_kept_at_most_max_age(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [50.0]
    monkeypatch.setattr(redis_tracking, "monotonic", lambda: clock[0])
    reads = tracked(Pushing([]))
    reads.fill(reads.begin(["k:1"]), ["k:1"], [b"v"])
    clock[0] += redis_tracking.MAX_AGE - 0.01
    assert reads.lookup(["k:1"]) == [b"v"]
    under_way = reads.begin(["k:2"])
    clock[0] += 0.01
    assert reads.lookup(["k:1"]) is None  # whatever the notices said
    reads.fill(under_way, ["k:2"], [b"old"])  # a read begun before keeps nothing
    assert reads.lookup(["k:2"]) is None
    reads.fill(reads.begin(["k:1"]), ["k:1"], [b"w"])
    assert reads.lookup(["k:1"]) == [b"w"]  # the next period


def test_a_worker_that_only_writes_reads_its_notices() -> None:
    conn = Pushing([])
    reads = tracked(conn)
    reads.fill(reads.begin(["k:1"]), ["k:1"], [b"v"])
    conn.pushes += [["invalidate", [b"k:1"]], ["invalidate", [b"k:9"]]]
    with reads.writing("k:2"):
        pass
    assert conn.pushes == [] and "k:1" not in reads._values


def test_while_the_store_is_down_a_poll_asks_redis_not_its_memory(
    stores: tuple[RedisStore, RedisStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mockserver.state.store_guard import outage_of

    mine, _ = stores
    mine.clock_init(100.0)
    with mine.read_instant():
        pass
    assert remembered(mine, CLOCK) is not None
    sent: list[str] = []
    script: Any = mine._read_instant
    real = script.__call__

    def counted(*args: Any, **kwargs: Any) -> Any:
        sent.append("EVALSHA")
        return real(*args, **kwargs)

    monkeypatch.setattr(mine, "_read_instant", counted)
    with mine.read_instant():
        pass
    assert sent == []  # from memory
    monkeypatch.setattr(outage_of(mine, "Redis"), "down", True)
    with mine.read_instant():
        assert mine.clock_get(0.0) == 100.0
    assert sent == ["EVALSHA"]  # a probe of Redis, not an answer from memory


def test_one_thread_opens_the_tracking_connection_and_a_connection_not_taken_is_closed() -> None:
    opened: list[Pushing] = []
    reads: TrackedReads

    def connect() -> Pushing:
        conn = Pushing([])
        opened.append(conn)
        if len(opened) == 1:
            assert reads.lookup(["k:1"]) is None  # a poll meanwhile (as another thread's): no wait,
            assert len(opened) == 1  # and no second try while this one is under way
        return conn

    reads = TrackedReads(connect, ["k:"], lambda: None)
    assert reads.lookup(["k:1"]) is None
    assert reads._conn is opened[0] and reads._starting is False
    reads._conn = None  # (dropped meanwhile) ...
    other = Pushing([])

    late = Pushing([])

    def racing() -> Pushing:
        reads._conn = other  # ... and another start won the race
        return late

    reads._connect = racing
    reads._start()
    assert reads._conn is other and reads._starting is False
    assert late.closed == 1 and other.closed == 0


def test_an_unexpected_failure_while_opening_leaves_tracking_off() -> None:
    class Broken(Pushing):
        def connect(self) -> None:
            raise RuntimeError("a bug")

    reads = TrackedReads(lambda: Broken([]), ["k:"], lambda: None)
    with pytest.raises(RuntimeError):
        reads.lookup(["k:1"])
    assert reads._conn is None and reads._starting is False
