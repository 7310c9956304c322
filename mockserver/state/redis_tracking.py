"""Reads a worker remembers until Redis says they changed (Redis' client-side caching, its
"broadcasting" mode).

A status poll reads the clock, "any rules?", the fault rate and one job. They rarely change,
yet each poll asked Redis for them again: a round trip of a poll that had nothing else to
wait for (``benchmarks/README.md``, "Redis polls"). A worker keeps the values it read, and
one connection of its own asks Redis to tell it whenever any process changes a key under the
tracked prefixes (``CLIENT TRACKING ON BCAST``, RESP3 pushes on that same connection). Before
a remembered value is used, the pushes already delivered to that connection are read (a
non-blocking ``poll`` of its socket, no round trip) and the values they name forgotten.

What a reader may miss: a write whose notice is still on its way. Redis queues the notice
for each tracking connection while it runs the writing command and sends it in the same pass
over its clients as the writer's answer, perhaps just after it; the writer waits one more
round trip before it answers its own client (:meth:`TrackedReads.writing`), after which every
notice is in every worker's socket on this host. Across hosts the notice then takes what
the network takes. ``contracts/README.md`` ("Redis: reads remembered until told") says the
choice. A value is never kept past a lost connection (a connection error, a closed socket,
a flush) nor longer than ``MAX_AGE``: a notice lost where no error shows costs at most that.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from time import monotonic
from typing import Any

log = logging.getLogger("mockserver")

#: values a worker keeps before it starts afresh (the clock, the rules and fault keys, jobs)
MAX_KEYS = 4096
#: seconds a value is kept at most, whatever the notices say: a notice lost where no error
#: shows (a network partition between this host and Redis, a connection Redis stopped
#: answering) costs at most this much; a poll then reads Redis once a second per worker
MAX_AGE = 1.0
#: seconds after a failed try to open the tracking connection before the next (one thread
#: tries at a time, outside the lock: a frozen Redis must not hold every poll for the
#: connect's timeout)
RETRY_SECONDS = 1.0
#: the first words of Redis errors that refuse tracking for good (too old, not allowed);
#: any other (BUSY, LOADING, ...) is tried again later
_REFUSALS = frozenset({"ERR", "NOPERM", "NOPROTO", "WRONGPASS", "NOAUTH"})


class TrackedReads:
    """Values of Redis keys under ``prefixes``, each kept until a notice says it changed.

    ``connect`` makes a connection (redis-py's, RESP3) to the store's Redis, ``settle`` makes
    one round trip on another (:meth:`writing`). A reader calls
    :meth:`lookup`; when it misses, :meth:`begin` before reading Redis and :meth:`fill` with
    what it read: a value whose key was noticed changed in between is not kept (it may be
    older than the change). A writer of this worker writes inside :meth:`writing`, so its own
    next read never depends on Redis' notice of its own write.
    """

    def __init__(
        self,
        connect: Callable[[], Any],
        prefixes: Sequence[str],
        settle: Callable[[], object],
    ) -> None:
        self._connect = connect
        self._settle = settle
        self._prefixes = tuple(prefixes)
        self._lock = threading.Lock()
        self._values: dict[str, Any] = {}
        #: notices so far (Redis' and this worker's writes); ``_changed[key]``: the count when
        #: ``key`` was last named, kept while a read of it is under way (``_reading``)
        self._notices = 0
        self._changed: dict[str, int] = {}
        self._reading: dict[str, int] = {}
        self._conn: Any = None
        self._starting = False
        self._retry_at = 0.0
        #: when everything kept is forgotten (MAX_AGE after tracking came on, then each period)
        self._fresh_until = 0.0
        #: False once Redis refused tracking (too old, not allowed): every read goes to Redis
        self.enabled = True
        os.register_at_fork(after_in_child=functools.partial(_forked, weakref.ref(self)))

    # ------------------------------------------------------------------ readers

    def lookup(self, keys: Sequence[str]) -> list[Any] | None:
        """The remembered values of ``keys``, or None when any one is not remembered (or
        tracking is not on). Reads the notices delivered so far first."""
        if not self.enabled:
            return None
        if self._conn is None:
            self._start()
        with self._lock:
            self._tracking()
            values = self._values  # (empty while tracking is off)
            try:
                return [values[key] for key in keys]
            except KeyError:
                return None

    def begin(self, keys: Sequence[str]) -> int:
        """A read of ``keys`` from Redis is about to start: the mark :meth:`fill` takes."""
        with self._lock:
            for key in keys:
                self._reading[key] = self._reading.get(key, 0) + 1
            return self._notices

    def fill(self, mark: int, keys: Sequence[str], values: Sequence[Any] | None) -> None:
        """Keep what a read begun at ``mark`` found (``values``; None: the read failed), but
        for keys noticed changed since (and nothing while tracking is off: no notice would
        come)."""
        with self._lock:
            keep = values is not None and self._conn is not None
            if keep and len(self._values) + len(keys) > MAX_KEYS:
                self._values.clear()
            for i, key in enumerate(keys):
                # (a change counted at ``mark`` itself came before the read began)
                if keep and self._changed.get(key, mark) <= mark:
                    self._values[key] = values[i]  # type: ignore[index]
                left = self._reading[key] - 1
                if left > 0:
                    self._reading[key] = left
                else:
                    del self._reading[key]
                    self._changed.pop(key, None)

    # ------------------------------------------------------------------ writers

    @contextmanager
    def writing(self, *keys: str) -> Iterator[None]:
        """This worker writes ``keys`` (none named: any key) in the block: they are forgotten
        when it ends, whatever the outcome, and a read under way then keeps nothing of them
        (it may have read before the write). A read of this worker that begins after the
        block reads the write without waiting for its notice.

        Then, after a write that did not fail, ``settle`` (one more round trip): Redis sends
        a write's answer and its notices in one pass over its clients, the answer possibly
        first, and reads the next command only after that pass. Its answer proves every
        worker's notice delivered, so whoever learns of the write from this worker (the
        answer of the request that made it) finds it known to every worker of this host."""
        try:
            yield
        except BaseException:
            self._ended(keys)
            raise
        self._ended(keys)
        try:  # (also where this worker does not track: another worker or host may)
            self._settle()
        except Exception as exc:  # the write is done: a late notice is the lesser harm
            log.debug("Redis did not answer after a write: %s", type(exc).__name__)

    def _ended(self, keys: Sequence[str]) -> None:
        with self._lock:
            if keys:
                self._changed_now(keys)
            else:
                self._forget_all()
            self._tracking()  # (a worker that only writes reads its notices here)

    def close(self) -> None:
        with self._lock:
            self._drop()

    # ------------------------------------------------------------------ the notices

    def _tracking(self) -> None:
        """The notices delivered so far read, and values past their age forgotten (under the
        lock). Whenever tracking is off, nothing is remembered."""
        conn = self._conn
        if conn is None:  # (a forked worker starts without one: _forked)
            return
        if not conn.is_connected:  # (redis-py would connect again, without tracking)
            self._drop()
            return
        try:
            while conn.can_read(timeout=0):
                conn.read_response(push_request=True, timeout=0, disconnect_on_error=False)
        except Exception as exc:  # a broken connection (or a torn notice): nothing known
            log.debug("Redis tracking connection lost: %s", type(exc).__name__)
            self._drop()
            return
        now = monotonic()
        if now >= self._fresh_until:
            self._forget_all()
            self._fresh_until = now + MAX_AGE

    def _start(self) -> None:
        """Open the tracking connection, outside the lock, by one thread at a time and, after
        a failed try, not again for ``RETRY_SECONDS``; or leave it off."""
        with self._lock:
            if self._conn is not None or self._starting or monotonic() < self._retry_at:
                return
            self._starting = True
        conn = None
        try:
            conn = self._open()
        finally:
            with self._lock:
                self._starting = False
                if conn is None:
                    self._retry_at = monotonic() + RETRY_SECONDS
                elif self._conn is None:
                    self._forget_all()  # (a read under way since before keeps nothing)
                    self._conn, self._fresh_until = conn, monotonic() + MAX_AGE
                    conn = None
            _disconnect(conn)  # (not taken: a fork or another start came first)

    def _open(self) -> Any:
        """A connection with tracking on, or None (the reason logged)."""
        import redis

        conn = self._connect()
        try:
            conn.connect()
            conn._parser.set_invalidation_push_handler(self._noticed)
            command = ["CLIENT", "TRACKING", "ON", "BCAST"]
            for prefix in self._prefixes:
                command += ["PREFIX", prefix]
            conn.send_command(*command)
            conn.read_response()
        except redis.ResponseError as exc:
            word = str(exc).partition(" ")[0]
            if word in _REFUSALS:  # Redis before 6, or an ACL without CLIENT
                log.warning(
                    "Redis refused client-side tracking (%s): every read goes to Redis", word
                )
                self.enabled = False
            else:  # (BUSY, LOADING, ...: tried again later)
                log.debug("Redis tracking connection not made: %s", word)
            _disconnect(conn)
            return None
        except (redis.RedisError, OSError) as exc:
            log.debug("Redis tracking connection not made: %s", type(exc).__name__)
            _disconnect(conn)
            return None
        return conn

    def _noticed(self, push: list[Any]) -> None:
        """A notice (under the lock: read by :meth:`_tracking`): the keys some process
        changed, or None when Redis flushed the database (every value goes)."""
        keys = push[1]
        if keys is None:
            self._forget_all()
            return
        self._changed_now([k.decode() if isinstance(k, bytes) else str(k) for k in keys])

    def _changed_now(self, keys: Sequence[str]) -> None:
        self._notices += 1
        for key in keys:
            self._values.pop(key, None)
            if key in self._reading:
                self._changed[key] = self._notices

    def _forget_all(self) -> None:
        self._notices += 1
        self._values.clear()
        for key in self._reading:
            self._changed[key] = self._notices

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._forget_all()
        _disconnect(conn)


def _disconnect(conn: Any) -> None:
    if conn is not None:
        try:
            conn.disconnect()
        except Exception:  # noqa: S110 - it is being thrown away
            pass


def _forked(ref: weakref.ref[TrackedReads]) -> None:
    """In a new worker nothing is known: its parent's lock, connection and values are not its
    (another thread of the parent may have held the lock at the fork)."""
    reads = ref()
    if reads is not None:
        reads._lock = threading.Lock()
        reads._conn, reads._starting, reads._retry_at = None, False, 0.0
        reads._values, reads._reading, reads._changed = {}, {}, {}
