"""The SQLite store's writers: one at a time across every thread and process sharing a store
file (:class:`WriterQueue`), the creates waiting there at once committed together
(:class:`GroupCommit`), each write transaction counted in shared memory
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


class _Waiting:
    """One write in a :class:`GroupCommit`: its item, and once its batch ended, whether it
    was committed (``done``) or the error that failed it."""

    __slots__ = ("item", "done", "error")

    def __init__(self, item: Any) -> None:
        self.item = item
        self.done = False
        self.error: Exception | None = None


class GroupCommit:
    """Writes that wait for the writers' queue at once, committed in one transaction.

    Under a burst of creates several threads of a worker wait for the :class:`WriterQueue`
    at once (six to eight of a worker's eight at 16 connections), each then writing ~10 WAL
    pages for its one job. Here the thread that finds no batch under way leads: it writes
    its own item and every item queued meanwhile (``write``, one transaction, at most
    ``LIMIT``), while the others wait on a condition until their batch has ended; one of
    those left over leads the next. A lone write waits for no thread. :meth:`commit` returns
    only once its item is committed, or raises what failed it: when a batch fails, each of
    its items is written again alone (what it would have met without the others), so an
    item that cannot be written fails alone and the others are committed."""

    #: items one transaction takes at most (its time in the queue grows with it)
    LIMIT = 16

    def __init__(self, write: Callable[[list[Any]], None]) -> None:
        self._write = write
        self._fresh()
        os.register_at_fork(after_in_child=functools.partial(_forked, weakref.ref(self)))

    def _fresh(self) -> None:
        """No batch under way, none waiting (a new store, or a forked worker: its parent's
        threads and their writes are not its)."""
        self._cond = threading.Condition(threading.Lock())
        self._waiting: list[_Waiting] = []
        self._leading = False
        self._followers = 0  # threads waiting on the condition

    def commit(self, item: Any) -> None:
        cond = self._cond
        with cond:
            alone = not (self._leading or self._waiting)
            if alone:  # a batch of its own at once
                self._leading = True
            else:
                mine = _Waiting(item)
                self._waiting.append(mine)
                self._follow(cond, mine)
        if alone:
            try:
                self._write([item])
            finally:
                with cond:
                    self._ended()
        elif mine.error is not None:
            error, mine.error = mine.error, None
            raise error

    def _follow(self, cond: threading.Condition, mine: _Waiting) -> None:
        """(``cond`` held) Wait until ``mine`` has been written by a batch, leading the next
        batch whenever none is under way."""
        while not mine.done:
            if not self._leading:
                self._leading = True
                batch = self._waiting[: self.LIMIT]
                del self._waiting[: self.LIMIT]
                cond.release()
                try:
                    self._write_batch(batch)
                finally:
                    cond.acquire()
                    if not batch[-1].done:  # interrupted: the others wait for the next leader
                        self._waiting[:0] = [w for w in batch if not w.done and w is not mine]
                        if mine in self._waiting:  # (not in its batch: not written either)
                            self._waiting.remove(mine)
                    self._ended()
                continue
            self._followers += 1
            try:
                cond.wait()
            except BaseException:  # (interrupted before its batch: not written)
                if mine in self._waiting:
                    self._waiting.remove(mine)
                raise
            finally:
                self._followers -= 1

    def _ended(self) -> None:
        """(the condition held) A batch has ended: the lead is free, the waiting wake."""
        self._leading = False
        if self._followers:
            self._cond.notify_all()

    def _write_batch(self, batch: list[_Waiting]) -> None:
        try:
            self._write([waiting.item for waiting in batch])
        except Exception as exc:
            # a store-wide failure (locked by another tool, full, read-only, an I/O error) is
            # every job's: written again alone, each would wait it out again in turn
            if len(batch) == 1 or isinstance(exc, sqlite3.OperationalError):
                for waiting in batch:
                    waiting.error, waiting.done = exc, True
                return
            for waiting in batch:  # each alone, as it would have been written without the others
                try:
                    self._write([waiting.item])
                except Exception as alone:
                    waiting.error = alone
                waiting.done = True
            return
        for waiting in batch:
            waiting.done = True


def _forked(ref: weakref.ref[WriterQueue] | weakref.ref[GroupCommit]) -> None:
    """In a new worker the queue starts free: its parent's lock and descriptor are not its;
    and no batch is under way or waiting."""
    owner = ref()
    if isinstance(owner, WriterQueue):
        owner._lock = threading.Lock()
        owner._fd, owner._pid = -1, 0
    elif owner is not None:
        owner._fresh()


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


_INSERT_JOB = (
    "INSERT INTO jobs (id, api, owner, body, provider, expires_at) VALUES (?, ?, ?, ?, ?, ?)"
)
#: a reference image stored once per content, with how many jobs use it
_COUNT_IMAGE = (
    "INSERT INTO blobs (key, data, refs) VALUES (?, ?, 1) "
    "ON CONFLICT (key) DO UPDATE SET refs = refs + 1"
)
#: a job to add: its row of ``jobs`` (``expires_at`` last), its image's key and bytes
NewJob = tuple[tuple[Any, ...], str | None, bytes | None]


def write_jobs(conn: sqlite3.Connection, expiry: EarliestExpiry, jobs: list[NewJob]) -> None:
    """Jobs added in one write transaction (a :class:`GroupCommit`'s batch) on ``conn`` (a
    :class:`_QueuedWriters`): one job without an image is one statement; else ``BEGIN``,
    each job's image stored or counted and its row, ``COMMIT``. ``expiry`` is lowered to
    each job's in the queue, before the commit."""
    assert isinstance(conn, _QueuedWriters)
    if len(jobs) == 1 and not jobs[0][1]:
        row = jobs[0][0]
        conn.write_one(_INSERT_JOB, row, lambda: expiry.lower(row[-1]))
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for row, image_key, image in jobs:
            expiry.lower(row[-1])
            if image_key and image is not None:
                conn.execute(_COUNT_IMAGE, (image_key, image))
            elif image_key:
                conn.execute("UPDATE blobs SET refs = refs + 1 WHERE key = ?", (image_key,))
            conn.execute(_INSERT_JOB, row)
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise
