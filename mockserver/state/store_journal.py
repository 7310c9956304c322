"""The SQLite store's request journal: one append-only file per worker process, read as one
journal.

Every request is journalled. A SQLite table shared by the workers made them queue for its
write lock on every answer; a SQLite file per worker still cost a transaction per answer (a
sixth of a status poll's CPU). Here each process appends lines to a plain file of its own
beside the store (``<store>.journal-<pid>``): one ``write`` call per batch, no transaction, no
lock another process holds. A line is ``<nanoseconds> <JSON entry>``; a read merges the newest
lines of every worker's file by the moment each was written (then by its place in its file),
and skips a line not yet complete (a write under way in another process) or not readable (a
file of an older version: those were SQLite files).

Each file keeps the newest ``size`` entries: when it holds ``size`` plus ``max(size,
COMPACT_SLACK)`` lines, its process rewrites it with the newest ``size`` (into a new file,
renamed over the old one, so a reader sees one or the other). A reset empties every worker's
file. Files of processes that are gone stay readable (the journal survives a restart) until
more than ``KEEP_FILES`` files exist; then the oldest of the dead ones are deleted.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import os
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from mockserver.state._json import dumps
from mockserver.state.journal import worker_pid

KEEP_FILES = 16
#: lines a file may hold beyond its ``size`` before it is compacted: a compaction holds the
#: journal's lock while it reads and rewrites the file (~10 ms for 2,000 lines), so it must
#: be rare (once in 8,192 answers at the least), and a read takes only the lines it needs
COMPACT_SLACK = 8192
#: how much of a file's end a read takes at a time, looking for its newest lines
_CHUNK = 64 * 1024


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (one another user owns counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _modified(path: Path) -> float:
    """When a file was last written; 0 for one gone meanwhile (another worker that started
    at the same time pruned it first)."""
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


#: every journal of this process, for the fork hook below
_journals: weakref.WeakSet[FileJournal] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # a thread of the parent may have held a journal's lock at the fork: the child's copy
    # would stay locked for ever (and the child opens a file of its own anyway)
    for journal in _journals:
        journal._lock = threading.Lock()
        if journal._fd >= 0:
            os.close(journal._fd)  # the child's copy of the parent's file
        journal._pid, journal._fd = 0, -1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class FileJournal:
    def __init__(self, store_path: Path, size: int) -> None:
        self.size = max(1, size)
        self.directory = store_path.parent
        self.stem = store_path.name + ".journal-"
        self._lock = threading.Lock()
        self._pid = 0
        self._fd = -1
        self._lines = 0  # lines in this process's file (at most: a reset may have emptied it)
        self._most = self.size + max(self.size, COMPACT_SLACK)  # lines before a compaction
        _journals.add(self)

    # ------------------------------------------------------------------ this process's file

    def _path(self, pid: int) -> Path:
        return self.directory / f"{self.stem}{pid}"

    def _own(self) -> int:
        """(lock held) This process's file, opened for appending (a forked child opens its
        own: it must never write into its parent's)."""
        if self._pid != worker_pid():
            self._pid, self._fd = worker_pid(), -1
        if self._fd < 0:
            path = self._path(self._pid)
            first = not path.exists()
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            self._lines = 0 if first else len(self._tail(path, self._most))
            if first:
                self._prune()
        return self._fd

    def add(self, *entries: dict[str, Any]) -> None:
        """Append entries to this process's file, in one write."""
        if not entries:
            return
        stamp = b"%d " % time.time_ns()
        data = b"".join(stamp + dumps(e) + b"\n" for e in entries)
        with self._lock:
            fd = self._own()
            view = memoryview(data)
            end = -1
            try:
                while view:  # a regular file takes it whole; a short write goes on where it ended
                    written = os.write(fd, view)
                    if end < 0 and written < len(view):
                        end = os.lseek(fd, 0, os.SEEK_END) - written  # where this batch began
                    view = view[written:]
            except OSError:
                # a full disk after part of the batch: cut the part off, or the batch's retry
                # would go on from the middle of a line and that entry be lost
                if end >= 0:
                    with contextlib.suppress(OSError):
                        os.ftruncate(fd, end)
                raise
            self._lines += len(entries)
            if self._lines >= self._most:
                self._compact()

    def _compact(self) -> None:
        """(lock held) Keep the newest ``size`` lines of this process's file."""
        path = self._path(self._pid)
        keep = self._tail(path, self.size)
        fresh = path.with_name(path.name + ".new")
        fresh.write_bytes(b"".join(line + b"\n" for line in keep))
        os.replace(fresh, path)
        os.close(self._fd)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND, 0o600)
        self._lines = len(keep)

    # ------------------------------------------------------------------ every file

    def _files(self) -> list[Path]:
        return [
            p for p in self.directory.glob(f"{self.stem}*") if p.name[len(self.stem) :].isdigit()
        ]

    def _prune(self) -> None:
        files = self._files()
        if len(files) <= KEEP_FILES:
            return
        dead = [p for p in files if not process_alive(int(p.name[len(self.stem) :]))]
        dead.sort(key=_modified)
        for path in dead[: len(files) - KEEP_FILES]:
            path.unlink(missing_ok=True)

    @staticmethod
    def _tail(path: Path, limit: int) -> list[bytes]:
        """The last ``limit`` complete lines of a file (fewer if it has fewer), oldest first."""
        try:
            with open(path, "rb") as f:
                end = f.seek(0, os.SEEK_END)
                data, start = b"", end
                while start > 0 and data.count(b"\n") <= limit:
                    start = max(0, start - _CHUNK)
                    f.seek(start)
                    data = f.read(end - start)
        except FileNotFoundError:  # pruned or compacted meanwhile
            return []
        lines = data.split(b"\n")
        lines.pop()  # after the last newline: empty, or a line still being written
        # more than `limit` newlines were read: a first, partial line is not among the last
        return [line for line in lines[-limit:] if line] if limit else []

    def read(self, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` entries of every worker, oldest first."""
        limit = max(0, min(limit, self.size))
        if limit == 0:
            return []
        with self._lock:
            self._own()  # so a new process's file exists, and old files are pruned
        newest: list[tuple[int, int, int, dict[str, Any]]] = []
        for n, path in enumerate(sorted(self._files())):
            for place, line in enumerate(self._tail(path, limit)):
                stamp, _, text = line.partition(b" ")
                try:
                    newest.append((int(stamp), n, place, json.loads(text)))
                except (ValueError, UnicodeDecodeError):
                    continue  # not a line of this format (an older version's file)
        chosen = heapq.nlargest(limit, newest, key=lambda row: row[:3])
        return [row[3] for row in reversed(chosen)]

    def clear(self) -> None:
        """Empty every worker's journal (a reset). A worker appending meanwhile goes on at
        the new end of its file."""
        with self._lock:
            self._own()
            for path in self._files():
                try:
                    os.truncate(path, 0)
                except FileNotFoundError:
                    pass
            self._lines = 0

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0 and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = -1
