"""A store that fails says so: the mock answers 503 with ``Retry-After``, never a 500.

A shared store can fail under a running server: Redis stopped or frozen, SQLite's disk full
or its file read-only. :func:`guarded` wraps every public method of a store class so that such
a failure is raised as :class:`StoreUnavailable`, which the app answers with 503 in the
provider's own error shape (the admin API in its own). The console gets one line when an
outage begins and one when the store answers again, per process, not one per request.

A store that answers slowly (Redis frozen: each call waits for its socket timeout) would make
every request wait that long; after a slow failure, calls fail at once for ``PROBE_INTERVAL``
seconds, then one call tries the store again (it notices the store's return). Fast failures
(connection refused, disk full) are tried every time: a write may fail while reads still work.

A call a store answers from its memory (a job a read instant read already, the clock while no
write moved it) touches no file and no socket and cannot fail: a method :func:`guarded` is
given a ``peek`` for is answered by it without the guard's work while the store is not down
(no clock read, no classifying); the guard's full work is for the calls that ask the store,
and for every call while it is down (so a slow outage still fails them at once, and a store's
return is noted as before).

A block a store method hands back (``read_instant``) is guarded on entering, where a contextlib
block reads; a block whose class says ``read_by_the_call = True`` read everything in the
(guarded) call already, and is handed back as it is.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

log = logging.getLogger("mockserver")

#: what the 503 tells a client to wait, in seconds
RETRY_AFTER_SECONDS = 1
#: after a slow failure (a timeout), how long calls fail at once before one tries again
PROBE_INTERVAL = 0.5
#: a failure that took this long (seconds) is a slow one
SLOW_FAILURE = 0.25


class StoreUnavailable(Exception):
    """The store cannot answer now; ``reason`` says why in a few words (no secrets)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    @property
    def message(self) -> str:
        return (
            f"The service is temporarily unavailable: the mock's store failed ({self.reason}); "
            f"retry in {RETRY_AFTER_SECONDS} s"
        )


#: (exception) -> a short reason when it is a store outage, None when it is something else
Classifier = Callable[[BaseException], "str | None"]


class Outage:
    """One store's state in this process: up, or down since a moment, for a reason."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.down = False
        self.since = 0.0
        self.reason = ""
        #: calls fail at once until this moment (after a slow failure); 0: try every call
        self.fast_until = 0.0
        #: the methods that failed in this outage: the store is back when one of them works
        #: (a full disk fails writes while reads work: a read says nothing)
        self.failing: set[str] = set()
        self._lock = threading.Lock()
        _outages.add(self)

    def failed(self, reason: str, slow: bool, method: str) -> None:
        now = time.monotonic()
        self.reason = reason
        self.failing.add(method)
        self.fast_until = now + PROBE_INTERVAL if slow else 0.0
        if self.down:
            return
        with self._lock:
            if self.down:
                return
            self.down, self.since = True, now
        log.error(
            "the %s store is unavailable (%s): requests that need it are answered 503 with "
            "Retry-After until it answers again",
            self.name,
            reason,
        )

    def recovered(self) -> None:
        with self._lock:
            if not self.down:
                return
            self.down, self.fast_until = False, 0.0
            self.failing = set()
            lasted = time.monotonic() - self.since
        log.warning("the %s store answers again (after %.1f s)", self.name, lasted)


#: every store's outage state in this process, for the fork hook below
_outages: weakref.WeakSet[Outage] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # a thread of the parent may have held the lock at the fork (a worker is forked)
    for outage in _outages:
        outage._lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)

C = TypeVar("C", bound=type)


class _Miss:
    def __repr__(self) -> str:
        return "MISS"


#: what a ``peek`` (:func:`guarded`) gives when memory does not hold the call's answer
MISS: Any = _Miss()


def guarded(
    name: str, classify: Classifier, peeks: Mapping[str, Callable[..., Any]] | None = None
) -> Callable[[C], C]:
    """Class decorator: every public method of the store raises :class:`StoreUnavailable`
    for what ``classify`` calls an outage, and notes the outage and its end.

    ``peeks``: by method name, ``peek(store, *args, **kwargs)``, the method's answer from
    memory or :data:`MISS`. A peek must give what its method would give and touch nothing that
    can fail (no statement, no file, no socket): while the store is not down a call is answered
    by it without the guard's work; a miss, a peek that raises, and every call while the store
    is down run the method guarded as any other. (A mapping, not a decorator on each method:
    mutmut does not mutate a decorated method.)"""
    peeks = dict(peeks or {})

    def decorate(cls: C) -> C:
        unknown = set(peeks) - {a for a in dir(cls) if inspect.isfunction(getattr(cls, a))}
        if unknown:
            raise TypeError(f"peeks for no method of {cls.__name__}: {sorted(unknown)}")
        for attr in dir(cls):
            # (ǁ: the copies of each method mutmut adds beside it under `make mutate`, which
            # the method itself calls: its guard is the one guard, as in the unmutated class)
            if attr.startswith("_") or attr == "close" or "ǁ" in attr:
                continue
            method = inspect.getattr_static(cls, attr)
            if inspect.isfunction(method):  # plain methods (not static, class or property)
                setattr(cls, attr, _guard(method, name, classify, peeks.get(attr)))
        return cls

    return decorate


def outage_of(store: Any, name: str) -> Outage:
    outage: Outage | None = store.__dict__.get("_outage")
    if outage is None:
        outage = store.__dict__.setdefault("_outage", Outage(name))
    return outage


def _guard(
    method: Callable[..., Any],
    store: str,
    classify: Classifier,
    peek: Callable[..., Any] | None = None,
) -> Callable[..., Any]:
    name = method.__name__

    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        outage = self.__dict__.get("_outage") or outage_of(self, store)
        if outage.fast_until and time.monotonic() < outage.fast_until:
            raise StoreUnavailable(outage.reason)
        started = time.monotonic()
        try:
            result = method(self, *args, **kwargs)
        except StoreUnavailable:
            raise
        except Exception as exc:
            reason = classify(exc)
            if reason is None:
                raise
            outage.failed(reason, time.monotonic() - started >= SLOW_FAILURE, name)
            raise StoreUnavailable(reason) from exc
        if hasattr(result, "__enter__") and not getattr(result, "read_by_the_call", False):
            # (read_instant: a contextlib block's reads happen on entering it)
            return _GuardedContext(result, outage, classify, name)
        if outage.down and name in outage.failing:
            outage.recovered()
        return result

    call.__store_guarded__ = True  # type: ignore[attr-defined]
    if peek is None:
        return call

    @functools.wraps(method)
    def from_memory_first(self: Any, *args: Any, **kwargs: Any) -> Any:
        outage = self.__dict__.get("_outage")
        if outage is None or not outage.down:  # (a slow failure's fast_until comes with down)
            try:
                answer = peek(self, *args, **kwargs)
            except Exception:  # noqa: BLE001 - the method, guarded, says what it is
                answer = MISS
            if answer is not MISS:
                return answer
        return call(self, *args, **kwargs)

    from_memory_first.__store_guarded__ = True  # type: ignore[attr-defined]
    return from_memory_first


class _GuardedContext:
    def __init__(self, inner: Any, outage: Outage, classify: Classifier, name: str) -> None:
        self.inner, self.outage, self.classify, self.name = inner, outage, classify, name

    def __enter__(self) -> Any:
        started = time.monotonic()
        try:
            entered = self.inner.__enter__()
        except StoreUnavailable:
            raise
        except Exception as exc:
            reason = self.classify(exc)
            if reason is None:
                raise
            self.outage.failed(reason, time.monotonic() - started >= SLOW_FAILURE, self.name)
            raise StoreUnavailable(reason) from exc
        if self.outage.down and self.name in self.outage.failing:
            self.outage.recovered()
        return entered

    def __exit__(self, *exc_info: Any) -> Any:
        return self.inner.__exit__(*exc_info)
