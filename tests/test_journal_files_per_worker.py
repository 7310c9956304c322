"""The SQLite store's journal files, one per worker (``mockserver/state/store_journal.py``), as an
operator and the readers of ``GET /__mock/journal`` meet them: private files, bounded in
lines and in number, read back in the order written whoever wrote them, never a half line
after a full disk, and a worker forked mid-write writing a file of its own. Each test drives
a ``FileJournal`` directly (no app, no server)."""

from __future__ import annotations

import errno
import multiprocessing
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from mockserver.state import store_journal
from mockserver.state.store_journal import FileJournal, process_alive


def ids(entries: list[dict[str, Any]]) -> list[Any]:
    return [e["n"] for e in entries]


def own_file(tmp_path: Path) -> Path:
    return tmp_path / f"state.sqlite.journal-{os.getpid()}"


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


# ------------------------------------------------------------------ whose files


def test_a_process_is_alive_while_it_runs_even_when_another_user_owns_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert process_alive(os.getpid())
    assert not process_alive(4_000_001)  # above any pid_max in use

    def not_yours(pid: int, signal: int) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(store_journal.os, "kill", not_yours)
    assert process_alive(1)


def test_a_journal_file_is_private_to_its_owner(tmp_path: Path) -> None:
    """Entries hold what requests carried: the file is the user's alone (0600)."""
    journal = FileJournal(tmp_path / "state.sqlite", 10)
    journal.add({"n": 1})
    assert stat.S_IMODE(own_file(tmp_path).stat().st_mode) == 0o600
    journal.close()


def test_the_oldest_files_of_dead_workers_are_pruned_first_and_a_live_ones_never(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_journal, "KEEP_FILES", 3)
    dead = [4_000_004, 4_000_002, 4_000_003, 4_000_001]
    for age, pid in enumerate(dead):  # 4_000_004 the oldest, 4_000_001 the newest
        path = tmp_path / f"state.sqlite.journal-{pid}"
        path.write_bytes(b'1 {"n": %d}\n' % pid)
        os.utime(path, (1_000_000 + age, 1_000_000 + age))
    live = tmp_path / "state.sqlite.journal-1"  # init: always running, and older than all
    live.write_bytes(b'0 {"n": 1}\n')
    os.utime(live, (1, 1))
    (tmp_path / "state.sqlite.journal-old.new").write_bytes(b"")  # not a worker's file
    journal = FileJournal(tmp_path / "state.sqlite", 10)
    journal.add({"n": 0})  # a new worker's first write: 6 files, 3 kept
    left = sorted(p.name for p in tmp_path.glob("state.sqlite.journal-*"))
    assert left == sorted(
        [
            "state.sqlite.journal-1",
            "state.sqlite.journal-4000001",
            own_file(tmp_path).name,
            "state.sqlite.journal-old.new",
        ]
    )
    journal.close()


def test_files_within_the_bound_are_all_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_journal, "KEEP_FILES", 3)
    for pid in (4_000_001, 4_000_002):
        (tmp_path / f"state.sqlite.journal-{pid}").write_bytes(b"")
    journal = FileJournal(tmp_path / "state.sqlite", 10)
    journal.add({"n": 0})  # 3 files: at the bound, none pruned
    assert len(list(tmp_path.glob("state.sqlite.journal-*"))) == 3
    journal.close()


# ------------------------------------------------------------------ reading


def test_entries_read_back_in_the_order_written_across_files(tmp_path: Path) -> None:
    """By the moment each was written; the same moment: by file, then by place in it."""
    (tmp_path / "state.sqlite.journal-4000002").write_bytes(
        b'5 {"n": "b5"}\n7 {"n": "b7"}\n7 {"n": "b7-second"}\n'
    )
    (tmp_path / "state.sqlite.journal-4000001").write_bytes(b'7 {"n": "a7"}\n9 {"n": "a9"}\n')
    journal = FileJournal(tmp_path / "state.sqlite", 100)
    assert ids(journal.read(100)) == ["b5", "a7", "b7", "b7-second", "a9"]
    assert ids(journal.read(2)) == ["b7-second", "a9"]
    assert ids(journal.read(3)) == ["b7", "b7-second", "a9"]
    journal.close()


def test_a_read_takes_at_most_the_journals_size_and_nothing_for_a_limit_below_one(
    tmp_path: Path,
) -> None:
    journal = FileJournal(tmp_path / "state.sqlite", 3)
    journal.add(*({"n": n} for n in range(5)))
    assert ids(journal.read(100)) == [2, 3, 4]
    assert ids(journal.read(3)) == [2, 3, 4]
    assert journal.read(0) == [] and journal.read(-5) == []
    journal.close()


def test_a_journal_of_size_zero_keeps_the_last_entry(tmp_path: Path) -> None:
    journal = FileJournal(tmp_path / "state.sqlite", 0)
    journal.add({"n": 1}, {"n": 2})
    assert ids(journal.read(10)) == [2]
    journal.close()


def test_the_newest_lines_of_a_file_read_whole_or_in_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_journal, "_CHUNK", 16)  # each line spans chunks
    path = tmp_path / "lines"
    path.write_bytes(b"".join(b"%02d-abcdefghijkl\n" % n for n in range(10)) + b"partial")
    for limit in range(1, 12):
        got = FileJournal._tail(path, limit)
        assert got == [b"%02d-abcdefghijkl" % n for n in range(max(0, 10 - limit), 10)], limit
    assert FileJournal._tail(path, 0) == []
    assert FileJournal._tail(tmp_path / "pruned meanwhile", 5) == []


# ------------------------------------------------------------------ bounded files


def test_a_file_is_compacted_past_its_size_plus_the_slack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_journal, "COMPACT_SLACK", 4)
    journal = FileJournal(tmp_path / "state.sqlite", 2)  # 2 + max(2, 4) = 6 lines at most
    journal.add(*({"n": n} for n in range(5)))
    assert len(lines(own_file(tmp_path))) == 5
    journal.add({"n": 5})
    assert len(lines(own_file(tmp_path))) == 2
    assert ids(journal.read(10)) == [4, 5]
    journal.add({"n": 6})  # appended to the compacted file
    assert ids(journal.read(10)) == [5, 6]
    assert not list(tmp_path.glob("*.new"))
    journal.close()


def test_a_large_journal_gets_as_much_slack_as_its_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_journal, "COMPACT_SLACK", 4)
    journal = FileJournal(tmp_path / "state.sqlite", 10)  # 10 + max(10, 4) = 20 lines
    journal.add(*({"n": n} for n in range(19)))
    assert len(lines(own_file(tmp_path))) == 19
    journal.add({"n": 19})
    assert len(lines(own_file(tmp_path))) == 10
    journal.close()


def test_a_restarted_worker_counts_the_lines_its_file_already_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_journal, "COMPACT_SLACK", 4)
    first = FileJournal(tmp_path / "state.sqlite", 2)
    first.add(*({"n": n} for n in range(4)))
    first.close()
    again = FileJournal(tmp_path / "state.sqlite", 2)
    again.add({"n": 4})  # 5 lines
    assert len(lines(own_file(tmp_path))) == 5
    again.add({"n": 5})  # 6: compacted
    assert len(lines(own_file(tmp_path))) == 2
    again.close()


def test_a_cleared_journal_counts_its_lines_from_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_journal, "COMPACT_SLACK", 4)
    other = tmp_path / "state.sqlite.journal-4000001"
    other.write_bytes(b'1 {"n": "other"}\n')
    journal = FileJournal(tmp_path / "state.sqlite", 2)
    journal.add(*({"n": n} for n in range(5)))
    journal.clear()
    assert journal.read(10) == []
    assert other.read_bytes() == b"", "every worker's file is emptied"
    journal.add(*({"n": n} for n in range(5)))  # 5 lines since the reset: not compacted
    assert len(lines(own_file(tmp_path))) == 5
    assert ids(journal.read(10)) == [3, 4]
    journal.close()


# ------------------------------------------------------------------ writes that fail


def test_a_short_write_goes_on_where_it_ended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = FileJournal(tmp_path / "state.sqlite", 10)
    journal.add({"n": 0})
    real = os.write

    def a_few_bytes_at_a_time(fd: int, data: Any) -> int:
        return real(fd, bytes(data[:7]))

    monkeypatch.setattr(store_journal.os, "write", a_few_bytes_at_a_time)
    journal.add({"n": 1}, {"n": 2})
    monkeypatch.undo()
    assert ids(journal.read(10)) == [0, 1, 2]
    journal.close()


def test_a_batch_cut_short_by_a_full_disk_is_cut_off_where_it_began(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = FileJournal(tmp_path / "state.sqlite", 10)
    journal.add({"n": 0})
    before = own_file(tmp_path).read_bytes()
    real = os.write
    calls = [0]

    def short_then_full(fd: int, data: Any) -> int:
        calls[0] += 1
        if calls[0] <= 2:
            return real(fd, bytes(data[:5]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_journal.os, "write", short_then_full)
    with pytest.raises(OSError):
        journal.add({"n": 1}, {"n": 2})
    monkeypatch.undo()
    assert own_file(tmp_path).read_bytes() == before
    journal.add({"n": 1}, {"n": 2})  # the retry
    assert ids(journal.read(10)) == [0, 1, 2]
    journal.close()


def test_a_full_disk_before_any_byte_leaves_the_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = FileJournal(tmp_path / "state.sqlite", 10)
    journal.add({"n": 0})
    before = own_file(tmp_path).read_bytes()

    def full(fd: int, data: Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_journal.os, "write", full)
    with pytest.raises(OSError):
        journal.add({"n": 1})
    monkeypatch.undo()
    assert own_file(tmp_path).read_bytes() == before
    journal.close()


# ------------------------------------------------------------------ processes


def _child_checks(journal: FileJournal, inherited: int, answer: Any) -> None:
    # the number may name another file by now (multiprocessing opens /dev/null in the child)
    parents = (tuple(journal.directory.glob("*.journal-*"))[0]).stat().st_ino
    try:
        still_open = os.fstat(inherited).st_ino == parents
    except OSError:
        still_open = False
    journal.add({"n": "child"})
    answer.send((still_open, journal._lock.locked()))
    answer.close()


def test_a_forked_worker_lets_go_of_its_parents_file_and_writes_its_own(tmp_path: Path) -> None:
    journal = FileJournal(tmp_path / "state.sqlite", 10)
    journal.add({"n": "parent"})
    inherited = journal._fd
    ctx = multiprocessing.get_context("fork")
    mine, theirs = ctx.Pipe()
    child = ctx.Process(target=_child_checks, args=(journal, inherited, theirs), daemon=True)
    child.start()
    assert mine.poll(30)
    still_open, locked = mine.recv()
    child.join(30)
    assert not still_open, "the child kept its copy of the parent's file open"
    assert not locked
    assert (tmp_path / f"state.sqlite.journal-{child.pid}").exists()
    assert ids(journal.read(10)) == ["parent", "child"]
    journal.add({"n": "parent again"})  # the parent's own file is still its own
    assert lines(own_file(tmp_path))[-1].endswith(b'{"n":"parent again"}')
    journal.close()


def test_a_closed_journal_opens_its_file_again_on_the_next_write(tmp_path: Path) -> None:
    journal = FileJournal(tmp_path / "state.sqlite", 10)
    journal.add({"n": 0})
    fd = journal._fd
    journal.close()
    with pytest.raises(OSError):
        os.fstat(fd)
    journal.close()  # twice: nothing to close
    journal.add({"n": 1})
    assert ids(journal.read(10)) == [0, 1]
    journal.close()


def test_two_workers_pruning_the_same_dead_file_at_once_both_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_journal, "KEEP_FILES", 1)
    dead = tmp_path / "state.sqlite.journal-4000001"
    dead.write_bytes(b"")

    def checked_while_another_worker_prunes_it(pid: int) -> bool:
        dead.unlink(missing_ok=True)
        return False

    monkeypatch.setattr(store_journal, "process_alive", checked_while_another_worker_prunes_it)
    journal = FileJournal(tmp_path / "state.sqlite", 10)
    journal.add({"n": 0})
    assert ids(journal.read(10)) == [0]
    journal.close()


def test_an_unreadable_line_in_the_middle_of_a_file_costs_that_line_alone(tmp_path: Path) -> None:
    (tmp_path / "state.sqlite.journal-4000001").write_bytes(
        b'1 {"n": 1}\n2 not json\n\xff\xfe\n3 {"n": 3}\n'
    )
    journal = FileJournal(tmp_path / "state.sqlite", 10)
    assert ids(journal.read(10)) == [1, 3]
    journal.close()


def test_a_line_just_longer_than_one_chunk_is_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_journal, "_CHUNK", 16)
    path = tmp_path / "lines"
    path.write_bytes(b"0123456789abcdef\n")  # 17 bytes: the first read starts at byte 1
    assert FileJournal._tail(path, 1) == [b"0123456789abcdef"]
    assert FileJournal._tail(path, 5) == [b"0123456789abcdef"]


def test_reading_the_newest_entries_reads_the_end_of_a_file_not_all_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The module's promise: a read takes only the lines it needs (a file may hold ~16,000)."""
    path = tmp_path / "lines"
    path.write_bytes(b"".join(b"%05d %s\n" % (n, b"x" * 200) for n in range(2000)))  # ~400 kB
    read: list[int] = []
    real_open = open

    def counting_open(*args: Any, **kwargs: Any) -> Any:
        f = real_open(*args, **kwargs)
        real_read = f.read

        def counted(size: int = -1) -> bytes:
            data: bytes = real_read(size)
            read.append(len(data))
            return data

        f.read = counted
        return f

    monkeypatch.setattr(store_journal, "open", counting_open, raising=False)
    assert [line[:5] for line in FileJournal._tail(path, 3)] == [b"01997", b"01998", b"01999"]
    assert sum(read) == store_journal._CHUNK < path.stat().st_size


def test_a_batch_cut_short_on_an_empty_file_leaves_it_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The journal's very first batch starts at byte 0: that place is cut back to as well."""
    journal = FileJournal(tmp_path / "state.sqlite", 10)
    real = os.write
    calls = [0]

    def short_then_full(fd: int, data: Any) -> int:
        calls[0] += 1
        if calls[0] <= 2:
            return real(fd, bytes(data[:5]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_journal.os, "write", short_then_full)
    with pytest.raises(OSError):
        journal.add({"n": 1}, {"n": 2})
    monkeypatch.undo()
    assert own_file(tmp_path).read_bytes() == b""
    journal.add({"n": 1})
    assert ids(journal.read(10)) == [1]
    journal.close()


def test_a_batch_that_cannot_even_be_cut_back_still_raises_the_disks_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = FileJournal(tmp_path / "state.sqlite", 10)
    journal.add({"n": 0})
    real = os.write

    def short_then_full(fd: int, data: Any) -> int:
        if len(data) > 5:
            return real(fd, bytes(data[:5]))
        raise OSError(errno.ENOSPC, "No space left on device")

    def cannot_truncate(fd: int, length: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(store_journal.os, "write", short_then_full)
    monkeypatch.setattr(store_journal.os, "ftruncate", cannot_truncate)
    with pytest.raises(OSError) as raised:
        journal.add({"n": 1})
    assert raised.value.errno == errno.ENOSPC
    journal.close()


def test_a_journal_never_written_closes_and_forks_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = FileJournal(tmp_path / "state.sqlite", 10)
    closed: list[int] = []
    real_close = os.close

    def recorded(fd: int) -> None:
        closed.append(fd)
        if fd > 2:  # never a standard stream, whatever a bug asks
            real_close(fd)

    monkeypatch.setattr(store_journal.os, "close", recorded)
    store_journal._after_fork_in_child()
    journal.close()
    assert not [fd for fd in closed if fd <= 2], "a standard stream was closed"
    assert journal._fd < 0
    monkeypatch.undo()
    journal.add({"n": 0})
    assert ids(journal.read(10)) == [0]
    journal.close()


def test_after_a_fork_each_journal_lets_go_of_the_parents_file_and_lock(tmp_path: Path) -> None:
    """The fork hook, called as a fork would (here in one process): the parent's file is
    closed, its lock (held by a thread of the parent) replaced, and the next write opens a
    file of this process."""
    journal = FileJournal(tmp_path / "state.sqlite", 10)
    journal.add({"n": 0})
    parents_fd, parents_lock = journal._fd, journal._lock
    parents_lock.acquire()
    try:
        store_journal._after_fork_in_child()
        assert journal._lock is not parents_lock and not journal._lock.locked()
        assert (journal._pid, journal._fd) == (0, -1)
        with pytest.raises(OSError):
            os.fstat(parents_fd)
        journal.add({"n": 1})
        assert ids(journal.read(10)) == [0, 1]
    finally:
        parents_lock.release()
    journal.close()


def _child_without_stdin(path: str, answer: Any) -> None:
    os.close(0)  # a worker started with its standard input closed: the file gets fd 0
    journal = FileJournal(Path(path), 10)
    journal.add({"n": 1})
    first = journal._fd
    journal.add({"n": 2})
    second = journal._fd
    store_journal._after_fork_in_child()  # as in a worker this one forks
    forked_closed = _closed(0)
    journal.add({"n": 3})
    journal.close()
    answer.send((first, second, forked_closed, _closed(0)))
    answer.close()


def _closed(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return True
    return False


def test_a_worker_started_without_standard_input_keeps_one_journal_file(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    mine, theirs = ctx.Pipe()
    child = ctx.Process(
        target=_child_without_stdin, args=(str(tmp_path / "state.sqlite"), theirs), daemon=True
    )
    child.start()
    assert mine.poll(30)
    first, second, forked_closed, closed = mine.recv()
    child.join(30)
    assert first == second == 0, "the file was opened again for the second write"
    assert forked_closed, "a forked worker kept its parent's file (fd 0) open"
    assert closed, "closing the journal left its file open"
    reader = FileJournal(tmp_path / "state.sqlite", 10)  # another worker reads them all
    assert ids(reader.read(10)) == [1, 2, 3]
    reader.close()
