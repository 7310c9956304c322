"""How a store that fails is told apart and reported (``mockserver/state/store_guard.py``), on a
small store class of the test's own, guarded in each test, with the guard's clock in the
test's hands: an outage is one console line when it begins and one when it ends, a slow store
is not waited for again within ``PROBE_INTERVAL``, a store is back only when what failed
works again, and a mistake of the mock is never mistaken for an outage."""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest

from mockserver.state import store_guard
from mockserver.state.store_guard import (
    MISS,
    PROBE_INTERVAL,
    SLOW_FAILURE,
    Outage,
    StoreUnavailable,
    guarded,
    outage_of,
)


class Down(Exception):
    """What the test's store raises when its backend is down."""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.reads = 0

    def monotonic(self) -> float:
        self.reads += 1
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(store_guard, "time", SimpleNamespace(monotonic=fake.monotonic))
    return fake


def classify(exc: BaseException) -> str | None:
    return f"Backend: {exc}" if isinstance(exc, Down) else None


class Block:
    """A block whose reads its method's call made (SQLite's read instant)."""

    read_by_the_call = True

    def __enter__(self) -> str:
        return "inside"

    def __exit__(self, *exc_info: object) -> None:
        pass


def make_store(clock: Clock) -> Any:
    """A store class guarded here (the guard wraps a class when it is defined)."""

    def remembered(self: Backend, key: str) -> Any:
        if self.peek_fails is not None:
            raise self.peek_fails
        return self.memory.get(key, MISS)

    class Backend:
        def __init__(self) -> None:
            self.broken: set[str] = set()
            self.slow = 0.0  # seconds a failing call takes
            self.calls: list[str] = []
            self.memory: dict[str, str] = {}  # what ``cached`` answers from memory
            self.peek_fails: Exception | None = None

        def _fail(self, name: str) -> None:
            self.calls.append(name)
            if name in self.broken:
                clock.now += self.slow
                raise Down(f"{name} refused")

        def read(self, value: int = 1) -> int:
            self._fail("read")
            return value

        def write(self, *, value: int = 2) -> int:
            self._fail("write")
            return value

        def cached(self, key: str) -> str:
            self._fail("cached")
            return self.memory.get(key, key * 2)

        def bug(self) -> None:
            raise KeyError("a bug of the mock")

        def unavailable(self) -> None:
            raise StoreUnavailable("said by the store itself")

        @contextmanager
        def read_instant(self) -> Iterator[str]:
            self._fail("read_instant")
            yield "inside"

        def read_now(self) -> Block:
            self._fail("read_now")
            return Block()

        def close(self) -> None:
            self._fail("close")

        def _private(self) -> None:
            self._fail("_private")

        @staticmethod
        def version() -> str:
            raise Down("static")

        @property
        def size(self) -> int:
            raise Down("property")

    return guarded("Backend", classify, {"cached": remembered})(Backend)()


def test_the_method_copies_mutmut_adds_are_not_guarded_twice() -> None:
    """Under `make mutate` each method calls a copy of itself (``xǁClassǁname__mutmut_orig``)
    set beside it: guarding the copy too would wrap a private method's result (a SQLite
    connection has ``__enter__``: taken for a read instant's block) and note outages twice."""

    class Backend:
        def connection(self) -> object:
            return object()

    def copy(self: object) -> object:
        return object()

    setattr(Backend, "xǁBackendǁconnection__mutmut_orig", copy)  # noqa: B010
    guarded("Backend", classify)(Backend)
    assert vars(Backend)["xǁBackendǁconnection__mutmut_orig"] is copy
    assert getattr(vars(Backend)["connection"], "__store_guarded__", False)


def lines(caplog: pytest.LogCaptureFixture) -> tuple[list[str], list[str]]:
    messages = [r.getMessage() for r in caplog.records if r.name == "mockserver"]
    down = [m for m in messages if "store is unavailable" in m]
    up = [m for m in messages if "store answers again" in m]
    return down, up


# ------------------------------------------------------------------ what is guarded


def test_every_public_method_is_guarded_but_close_private_static_and_properties(
    clock: Clock,
) -> None:
    store = make_store(clock)
    cls = type(store)
    guarded_names = {n for n in vars(cls) if getattr(vars(cls)[n], "__store_guarded__", False)}
    assert guarded_names == {
        "read",
        "write",
        "cached",
        "bug",
        "unavailable",
        "read_instant",
        "read_now",
    }
    assert cls.read.__name__ == "read" and cls.read.__wrapped__ is not None
    store.broken = {"close", "_private"}
    with pytest.raises(Down):
        store.close()
    with pytest.raises(Down):
        store._private()
    with pytest.raises(Down):
        cls.version()
    with pytest.raises(Down):
        store.size  # noqa: B018


def test_a_guarded_call_passes_its_arguments_and_answer_through(clock: Clock) -> None:
    store = make_store(clock)
    assert store.read() == 1 and store.read(5) == 5 and store.write(value=7) == 7


# ------------------------------------------------------------------ what an outage is


def test_an_outage_is_raised_as_store_unavailable_with_its_reason(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mockserver")
    store = make_store(clock)
    store.broken = {"write"}
    with pytest.raises(StoreUnavailable) as raised:
        store.write()
    assert raised.value.reason == "Backend: write refused"
    assert str(raised.value) == "Backend: write refused"
    assert isinstance(raised.value.__cause__, Down)
    assert raised.value.message == (
        "The service is temporarily unavailable: the mock's store failed "
        "(Backend: write refused); retry in 1 s"
    )
    (down,), up = lines(caplog)
    assert down == (
        "the Backend store is unavailable (Backend: write refused): requests that need it are "
        "answered 503 with Retry-After until it answers again"
    )
    assert up == []
    assert [r.levelname for r in caplog.records if "unavailable" in r.getMessage()] == ["ERROR"]


def test_a_mistake_of_the_mock_stays_itself_and_is_no_outage(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mockserver")
    store = make_store(clock)
    with pytest.raises(KeyError):
        store.bug()
    with pytest.raises(StoreUnavailable) as said:
        store.unavailable()
    assert said.value.reason == "said by the store itself"
    assert not outage_of(store, "Backend").down
    assert lines(caplog) == ([], [])


def test_an_outage_is_said_once_however_many_calls_fail_and_its_end_once(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mockserver")
    store = make_store(clock)
    store.broken = {"read"}
    for _ in range(3):
        with pytest.raises(StoreUnavailable):
            store.read()
    clock.now += 12.34
    store.broken = set()
    assert store.read() == 1
    assert store.read() == 1
    down, up = lines(caplog)
    assert len(down) == 1
    assert up == ["the Backend store answers again (after 12.3 s)"]
    assert [r.levelname for r in caplog.records if "store answers again" in r.getMessage()] == [
        "WARNING"
    ]
    outage = outage_of(store, "Backend")
    assert (outage.down, outage.failing, outage.fast_until) == (False, set(), 0.0)
    # a second outage is said again
    store.broken = {"read"}
    with pytest.raises(StoreUnavailable):
        store.read()
    assert len(lines(caplog)[0]) == 2


def test_a_store_is_back_only_when_what_failed_works_again(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """A full disk fails writes while reads go on: a read says nothing about its end."""
    caplog.set_level(logging.INFO, logger="mockserver")
    store = make_store(clock)
    store.broken = {"write"}
    with pytest.raises(StoreUnavailable):
        store.write()
    assert store.read() == 1
    assert outage_of(store, "Backend").down
    assert lines(caplog)[1] == []
    store.broken = set()
    assert store.write() == 2
    assert not outage_of(store, "Backend").down
    assert len(lines(caplog)[1]) == 1


def test_each_store_object_has_an_outage_of_its_own(clock: Clock) -> None:
    one, two = make_store(clock), make_store(clock)
    one.broken = {"read"}
    with pytest.raises(StoreUnavailable):
        one.read()
    assert outage_of(one, "Backend").down and not outage_of(two, "Backend").down
    assert outage_of(one, "Backend") is outage_of(one, "Backend")
    assert outage_of(one, "Backend").name == "Backend"


# ------------------------------------------------------------------ a slow store


def test_after_a_slow_failure_calls_fail_at_once_until_the_probe_interval_passes(
    clock: Clock,
) -> None:
    store = make_store(clock)
    store.broken, store.slow = {"read"}, SLOW_FAILURE  # a timeout: exactly "slow"
    with pytest.raises(StoreUnavailable):
        store.read()
    store.calls.clear()
    started = clock.now
    with pytest.raises(StoreUnavailable) as fast:
        store.write()  # any method: the store is known to be down
    assert fast.value.reason == "Backend: read refused"
    assert store.calls == [], "the store was not tried again"
    store.broken = set()
    clock.now = started + PROBE_INTERVAL - 0.001
    with pytest.raises(StoreUnavailable):
        store.read()
    assert store.calls == []
    clock.now = started + PROBE_INTERVAL  # the interval has passed: one call tries
    assert store.read() == 1
    assert store.calls == ["read"]
    assert not outage_of(store, "Backend").down


def test_a_fast_failure_is_tried_again_at_once(clock: Clock) -> None:
    store = make_store(clock)
    store.broken, store.slow = {"write"}, SLOW_FAILURE - 0.001
    with pytest.raises(StoreUnavailable):
        store.write()
    assert outage_of(store, "Backend").fast_until == 0.0
    assert store.read() == 1  # tried: works
    with pytest.raises(StoreUnavailable):
        store.write()
    assert store.calls == ["write", "read", "write"]


def test_a_fast_failure_after_a_slow_one_ends_the_waiting(clock: Clock) -> None:
    store = make_store(clock)
    store.broken, store.slow = {"read"}, 1.0
    with pytest.raises(StoreUnavailable):
        store.read()
    clock.now += PROBE_INTERVAL
    store.slow = 0.0  # the store answers promptly now, still refusing
    with pytest.raises(StoreUnavailable):
        store.read()
    assert outage_of(store, "Backend").fast_until == 0.0
    store.broken = set()
    assert store.read() == 1


# ------------------------------------------------------------------ answers from memory


def test_a_call_answered_from_memory_skips_the_guard_while_the_store_is_up(clock: Clock) -> None:
    assert repr(MISS) == "MISS"
    store = make_store(clock)
    store.memory = {"a": "kept"}
    assert store.cached("a") == "kept"
    assert (store.calls, clock.reads) == ([], 0), "the store or the guard's clock was asked"
    assert store.cached("b") == "bb"  # not in memory: the method, guarded
    assert (store.calls, clock.reads) == (["cached"], 1)  # (when it began)
    store.broken = {"cached"}
    with pytest.raises(StoreUnavailable):
        store.cached("b")
    assert outage_of(store, "Backend").failing == {"cached"}


def test_while_the_store_is_down_a_call_memory_could_answer_is_guarded(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """A slow outage fails it at once as every call; the store's return is noted by it."""
    caplog.set_level(logging.INFO, logger="mockserver")
    store = make_store(clock)
    store.memory = {"a": "kept"}
    store.broken, store.slow = {"cached"}, SLOW_FAILURE
    with pytest.raises(StoreUnavailable):
        store.cached("b")
    store.calls.clear()
    with pytest.raises(StoreUnavailable):
        store.cached("a")  # within the interval: at once, not from memory
    assert store.calls == []
    clock.now += PROBE_INTERVAL
    store.broken = set()
    assert store.cached("a") == "kept"  # the method ran: the store answers again
    assert store.calls == ["cached"]
    assert not outage_of(store, "Backend").down
    assert len(lines(caplog)[1]) == 1


def test_a_peek_for_no_method_is_refused_when_the_class_is_guarded() -> None:
    class Backend:
        def read(self) -> int:
            return 1

    with pytest.raises(TypeError, match=r"peeks for no method of Backend: \['raed'\]"):
        guarded("Backend", classify, {"raed": lambda self: 1, "read": lambda self: 2})(Backend)


@pytest.mark.parametrize("error", [KeyError("a bug of the peek"), Down("peek refused")])
def test_a_peek_that_raises_leaves_the_answer_to_the_method_guarded(
    clock: Clock, error: Exception
) -> None:
    store = make_store(clock)
    store.memory, store.peek_fails = {"a": "kept"}, error
    assert store.cached("a") == "kept"
    assert store.calls == ["cached"]
    store.broken = {"cached"}
    with pytest.raises(StoreUnavailable) as raised:
        store.cached("a")
    assert raised.value.reason == "Backend: cached refused"


# ------------------------------------------------------------------ a read instant


def test_a_read_instant_that_fails_on_entering_is_an_outage_and_its_return_noticed(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mockserver")
    store = make_store(clock)
    store.broken, store.slow = {"read_instant"}, SLOW_FAILURE
    with pytest.raises(StoreUnavailable) as raised, store.read_instant():
        pass
    assert raised.value.reason == "Backend: read_instant refused"
    outage = outage_of(store, "Backend")
    assert outage.down and outage.failing == {"read_instant"}
    assert outage.fast_until == clock.now + PROBE_INTERVAL
    with pytest.raises(StoreUnavailable) as fast:
        store.read()  # within the interval: at once, for the same reason
    assert fast.value.reason == "Backend: read_instant refused"
    assert lines(caplog)[0] == [
        "the Backend store is unavailable (Backend: read_instant refused): requests that need "
        "it are answered 503 with Retry-After until it answers again"
    ]
    clock.now += PROBE_INTERVAL
    store.broken = set()
    with store.read_instant() as inside:
        assert inside == "inside"
    assert not outage.down
    assert len(lines(caplog)[1]) == 1


def test_a_read_instant_that_fails_fast_is_tried_again_at_once(clock: Clock) -> None:
    store = make_store(clock)
    store.broken, store.slow = {"read_instant"}, SLOW_FAILURE - 0.001
    with pytest.raises(StoreUnavailable), store.read_instant():
        pass
    assert outage_of(store, "Backend").fast_until == 0.0
    assert store.read() == 1
    assert store.calls == ["read_instant", "read"]


def test_after_a_fork_an_outage_lock_held_by_a_parents_thread_is_replaced() -> None:
    """The fork hook, called as a fork would (here in one process)."""
    outage = Outage("Backend")
    parents = outage._lock
    parents.acquire()
    try:
        store_guard._after_fork_in_child()
        assert outage._lock is not parents and not outage._lock.locked()
        outage.failed("Backend: down", False, "read")  # would block on the parent's lock
        assert outage.down
    finally:
        parents.release()


def test_a_read_instant_passes_mistakes_and_exits_through(clock: Clock) -> None:
    store = make_store(clock)

    class Inner:
        def __init__(self, error: Exception | None) -> None:
            self.error, self.exited = error, None

        def __enter__(self) -> str:
            if self.error is not None:
                raise self.error
            return "entered"

        def __exit__(self, *exc_info: Any) -> bool:
            self.exited = exc_info
            return True

    context = store_guard._GuardedContext(Inner(None), outage_of(store, "Backend"), classify, "x")
    with context as value:
        assert value == "entered"
        raise ValueError("swallowed by the inner context")
    assert context.inner.exited[0] is ValueError
    for error in (KeyError("bug"), StoreUnavailable("own")):
        failing = store_guard._GuardedContext(
            Inner(error), outage_of(store, "Backend"), classify, "x"
        )
        with pytest.raises(type(error)), failing:
            pass
    assert not outage_of(store, "Backend").down


def test_a_block_read_by_its_call_is_guarded_in_the_call_and_handed_back_as_it_is(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mockserver")
    store = make_store(clock)
    block = store.read_now()
    assert type(block) is Block and clock.reads == 1  # (when the call began)
    with block as inside:
        assert inside == "inside"
    store.broken = {"read_now"}
    with pytest.raises(StoreUnavailable) as raised:
        store.read_now()
    assert raised.value.reason == "Backend: read_now refused"
    store.broken = set()
    assert type(store.read_now()) is Block
    assert not outage_of(store, "Backend").down
    assert len(lines(caplog)[1]) == 1


def test_a_read_instant_working_while_writes_fail_says_nothing(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mockserver")
    store = make_store(clock)
    store.broken = {"write"}
    with pytest.raises(StoreUnavailable):
        store.write()
    with store.read_instant():
        pass
    assert outage_of(store, "Backend").down
    assert lines(caplog)[1] == []


# ------------------------------------------------------------------ processes


def _child_fails(outage: Outage, answer: Any) -> None:
    outage.failed("Backend: down in the child", False, "read")
    outage.recovered()
    answer.send(outage.down)
    answer.close()


def test_a_worker_forked_while_a_thread_held_the_outage_lock_can_note_an_outage() -> None:
    outage = Outage("Backend")
    outage._lock.acquire()  # a request thread of the parent is noting an outage at the fork
    try:
        ctx = multiprocessing.get_context("fork")
        mine, theirs = ctx.Pipe()
        child = ctx.Process(target=_child_fails, args=(outage, theirs), daemon=True)
        child.start()
        assert mine.poll(10), "the forked worker hung on its parent's lock"
        assert mine.recv() is False
        child.join(30)
    finally:
        outage._lock.release()
