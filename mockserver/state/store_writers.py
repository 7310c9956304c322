"""The SQLite store's writers: one at a time across every thread and process sharing a store
file (:class:`WriterQueue`), each write transaction counted in shared memory
(:class:`ChangeCounter`: what a read instant checks), and the connection class that takes
its place in the queue at ``BEGIN IMMEDIATE`` (:class:`_QueuedWriters`)."""

from __future__ import annotations

import fcntl
import functools
import logging
import math
import mmap
import os
import sqlite3
import struct
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("mockserver")


class WriterQueue:
    """One writer at a time across the threads and processes sharing a store file.

    SQLite lets one connection write at a time and makes the others retry in its busy
    handler, which sleeps (1, 2, 5, ... up to 100 ms) between tries: under a burst of creates
    from two workers' threads, a write could wait most of a second with the lock long free.
    Writers queue here instead, on a thread lock and then an ``flock`` on ``<store>.lock``,
    and the kernel wakes the next one the moment the lock is released.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fd = -1
        self._pid = 0
        os.register_at_fork(after_in_child=functools.partial(_forked, weakref.ref(self)))

    def acquire(self) -> None:
        self._lock.acquire()
        try:
            if self._pid != os.getpid():  # each process its own descriptor (flock is per open)
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                self._pid = os.getpid()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._lock.release()
            raise

    def release(self) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._lock.release()


def _forked(ref: weakref.ref[WriterQueue]) -> None:
    """In a new worker the queue starts free: its parent's lock and descriptor are not its."""
    queue = ref()
    if queue is not None:
        queue._lock = threading.Lock()
        queue._fd, queue._pid = -1, 0


_COUNT = struct.Struct("=Q")
#: write transactions (of every process) between two WAL checkpoints: a create writes ~10
#: pages, so ~640 pages, about where SQLite's own checkpoint (1,000 pages) would run
CHECKPOINT_EVERY = 64


class ChangeCounter:
    """A count of the write transactions of every process sharing a store file, in a small
    file beside it (``<store>.changes``), mapped into memory.

    A writer bumps it after its ``COMMIT`` (or ``ROLLBACK``) while it still holds the
    :class:`WriterQueue`, so the bumps of two processes never interleave, and a reader who
    sees the new count reads the store with the write in it. A reader compares one integer
    read from shared memory: no statement, no system call, the GIL kept (SQLite's
    ``PRAGMA data_version``, which this replaced, was a statement per poll, ~30 % of a served
    poll's samples). Only the mock's own writes move it: a row changed with another tool (the
    ``sqlite3`` shell) is seen by the reads outside a read instant, and by read instants from
    the next write the mock makes. Every write of the store is a write transaction in the
    queue: a ``BEGIN IMMEDIATE`` one, or one statement (``_QueuedWriters.write_one``).
    """

    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < _COUNT.size:  # new (two openers: the same 8 zeros)
                os.ftruncate(fd, _COUNT.size)
            self._map = mmap.mmap(fd, _COUNT.size)  # shared: every process sees every bump
        finally:
            os.close(fd)

    def read(self) -> int:
        value: int = _COUNT.unpack_from(self._map)[0]
        return value

    def bump(self) -> int:
        """(WriterQueue held) One more write transaction ended: the new count."""
        count: int = (_COUNT.unpack_from(self._map)[0] + 1) % 2**64
        _COUNT.pack_into(self._map, 0, count)
        return count


_MOMENT = struct.Struct("=d")


class EarliestExpiry:
    """A moment no job of the store expires before (the expiry sweep's ``expires_at <= now``
    finds nothing while ``now`` is earlier), in a small file beside it (``<store>.expiry``),
    mapped into memory: the sweep every create makes needs no statement until then.

    Lowered to a job's ``expires_at`` by the write that adds the job, in the
    :class:`WriterQueue`, before its ``COMMIT`` (a write that then fails leaves it lower than
    need be: one statement more, never a job missed); set from the store itself only in the
    queue (:meth:`set`, after reading the jobs' earliest). 0 (a new file) or ``-inf`` (a store just
    opened): not known, the sweep reads. Only the mock's own writes lower it: a job added
    with another tool (the ``sqlite3`` shell) is swept once the mock learns the earliest
    again (at its next open, or after a sweep that found a job)."""

    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < _MOMENT.size:  # new: 0.0, not known
                os.ftruncate(fd, _MOMENT.size)
            self._map = mmap.mmap(fd, _MOMENT.size)
        finally:
            os.close(fd)

    def read(self) -> float:
        moment: float = _MOMENT.unpack_from(self._map)[0]
        return moment

    def lower(self, moment: float | None) -> None:
        """(WriterQueue held) A job expiring at ``moment`` (None: never) is being added."""
        if moment is not None and moment < self.read():
            _MOMENT.pack_into(self._map, 0, moment)

    def set(self, moment: float) -> None:
        """(WriterQueue held) The earliest ``expires_at`` of the store's jobs, as read in the
        queue (``inf``: none expires), or ``-inf``: not known."""
        _MOMENT.pack_into(self._map, 0, moment)

    def learn(self, queue: WriterQueue, earliest: Callable[[], float | None]) -> None:
        """Set it to what ``earliest`` reads of the store in ``queue`` (no job is added
        meanwhile; None: no job expires)."""
        queue.acquire()
        try:
            moment = earliest()
            self.set(math.inf if moment is None else float(moment))
        finally:
            queue.release()


class _Memo:
    """What the threads of one process read in read instants at one count of the store's
    writes (``version``; None: none yet)."""

    __slots__ = ("version", "entries")

    def __init__(self, version: int | None) -> None:
        self.version = version
        self.entries: dict[tuple[str, ...], Any] = {}


class Remembered:
    """Rows read of the store at one count of ``counter``, for every thread of a process:
    answered from memory while the count has not moved since (one read of shared memory,
    no statement)."""

    def __init__(self, counter: ChangeCounter) -> None:
        self.counter = counter
        self._memo: tuple[int | None, dict[str, Any]] = (None, {})

    def get(self, name: str, read: Callable[[], Any]) -> Any:
        version = self.counter.read()  # before the read: what follows is at least this new
        memo = self._memo
        if memo[0] == version and name in memo[1]:
            return memo[1][name]
        row = read()
        if memo[0] != version:
            memo = self._memo = (version, {})
        memo[1][name] = row
        return row


class _QueuedWriters(sqlite3.Connection):
    """A connection whose ``BEGIN IMMEDIATE`` first takes its place in the store's
    :class:`WriterQueue`, left at ``COMMIT`` or ``ROLLBACK``."""

    writers: WriterQueue
    changes: ChangeCounter
    #: counts the write transactions that change the clock, the rules or the fault setting
    #: (None: no such count kept)
    settings: ChangeCounter | None = None
    _writing = False
    _settings_written = False

    def settings_written(self) -> None:
        """The write under way (or the next) changes the clock, the rules or the fault
        setting: it is counted in ``settings`` too when it ends (a write that fails is
        counted all the same: a count too many only costs a reader one statement)."""
        self._settings_written = True

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql == "BEGIN IMMEDIATE" and not self._writing:  # (nested: SQLite's own error)
            self.writers.acquire()
            self._writing = True
            try:
                return super().execute(sql, *args)
            except BaseException:
                self._writing = False
                self.writers.release()
                raise
        if self._writing and sql in ("COMMIT", "ROLLBACK"):
            try:
                return super().execute(sql, *args)
            finally:
                self._writing = False
                self._leave_queue()
        return super().execute(sql, *args)

    def _leave_queue(self) -> None:
        """The end of a write: the count moved (after the commit, under the queue: a reader
        seeing it sees the write), the queue left, and once in ``CHECKPOINT_EVERY`` writes
        the WAL copied into the database outside the queue."""
        try:
            count = self.changes.bump()
            if self._settings_written:
                self._settings_written = False
                if self.settings is not None:
                    self.settings.bump()
        finally:
            self.writers.release()
        if count % CHECKPOINT_EVERY == 0:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Copy the WAL into the database file without waiting for readers or writers (a
        passive checkpoint takes no write lock: the next writer goes on meanwhile). SQLite's
        own (``wal_autocheckpoint``, off on the store's connections) runs in the ``COMMIT``
        that crosses 1,000 pages, syncing the WAL and the database file while every writer
        of every worker waits in the queue. A checkpoint that fails is left to the next."""
        try:
            super().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:
            log.debug("WAL checkpoint failed, left to the next: %s", exc)

    def write_one(
        self, sql: str, args: tuple[Any, ...], queued: Callable[[], None] | None = None
    ) -> sqlite3.Cursor:
        """One statement as a transaction of its own (autocommit), in the writers' queue;
        ``queued`` is called in the queue before it. Not for a statement RETURNING rows (it
        commits once they are read)."""
        if self._writing:  # inside a transaction: part of it
            if queued is not None:
                queued()
            return self.execute(sql, args)
        self.writers.acquire()
        try:
            if queued is not None:
                queued()
            return self.execute(sql, args)
        finally:
            self._leave_queue()


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back a failed write. SQLite may have rolled it back itself (a full disk: "cannot
    rollback - no transaction is active"); the writer queue is left all the same, and the
    error that failed the write is the one raised."""
    try:
        conn.execute("ROLLBACK")
    except sqlite3.OperationalError:
        pass
