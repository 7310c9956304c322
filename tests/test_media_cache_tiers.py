"""The media cache's tiers, without rendering a video (renders are stand-in callables): each
asset rendered once, kept in memory within its budget (least recently used out first), on
disk within the disk budget (least recently used by mtime out first, the directory never over
budget even for a moment), in a shared tier across hosts, and a failing disk never failing
an answer."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import CancelledError
from pathlib import Path
from typing import Any

import pytest

from mockserver import media
from mockserver.media import DEFAULT_CACHE_BYTES, DEFAULT_DISK_BYTES, MediaCache


class Renders:
    """A render per key that counts its calls."""

    def __init__(self) -> None:
        self.calls: list[Hashable] = []

    def __call__(self, key: Hashable, data: bytes) -> Callable[[], bytes]:
        def render() -> bytes:
            self.calls.append(key)
            return data

        return render


def _files(directory: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in directory.iterdir()}


def _name(key: Hashable) -> str:
    return f"{MediaCache._name(key)}.bin"


# ------------------------------------------------------------------ set-up


def test_the_defaults_and_the_budgets_it_refuses(tmp_path: Path) -> None:
    with MediaCache() as cache:
        assert cache.max_bytes == DEFAULT_CACHE_BYTES == 256 * 1024 * 1024
        assert cache.disk_max_bytes == DEFAULT_DISK_BYTES == 1 << 30
        assert cache.directory is None and cache.memory_bytes == 0
    with MediaCache(max_bytes=0, disk_max_bytes=0) as cache:
        assert cache.max_bytes == 0 and cache.disk_max_bytes == 0
    with pytest.raises(ValueError, match=r"^max_bytes must be >= 0, got -1$"):
        MediaCache(max_bytes=-1)
    with pytest.raises(ValueError, match=r"^disk_max_bytes must be >= 0, got -2$"):
        MediaCache(disk_max_bytes=-2)
    nested = tmp_path / "a" / "b"
    with MediaCache(str(nested)) as cache:
        assert cache.directory == nested and nested.is_dir()
    with MediaCache(nested) as cache:  # an existing directory is fine
        assert cache.directory == nested


def test_file_names_are_the_sha256_of_the_keys_repr() -> None:
    import hashlib

    assert MediaCache._name(("job", 1)) == hashlib.sha256(b"('job', 1)").hexdigest()
    # a key whose repr has a lone surrogate still has a name
    assert MediaCache._name("\udcff") == hashlib.sha256(b"'\\udcff'").hexdigest()


# ------------------------------------------------------------------ memory


def test_an_asset_is_rendered_once_and_then_served_from_memory() -> None:
    renders = Renders()
    with MediaCache() as cache:
        assert "k" not in cache
        assert cache.get("k", renders("k", b"abc")) == b"abc"
        assert cache.get("k", renders("k", b"other")) == b"abc"
        assert renders.calls == ["k"] and cache.memory_bytes == 3 and "k" in cache


def test_memory_keeps_the_most_recently_used_within_its_budget() -> None:
    renders = Renders()
    with MediaCache(max_bytes=10) as cache:
        cache.get("a", renders("a", b"aaaa"))
        cache.get("b", renders("b", b"bbbb"))
        cache.get("a", renders("a", b"aaaa"))  # a used: b is now the oldest
        cache.get("c", renders("c", b"cc"))  # exactly the budget: nothing goes
        assert cache.memory_bytes == 10 and {"a", "b", "c"} <= set(cache._memory)
        cache.get("d", renders("d", b"d"))  # over by one: the least recently used goes
        assert "b" not in cache and "a" in cache and cache.memory_bytes == 7
        cache.get("b", renders("b", b"bbbb"))
        assert renders.calls == ["a", "b", "c", "d", "b"]


def test_an_asset_larger_than_memory_is_served_but_not_kept() -> None:
    renders = Renders()
    with MediaCache(max_bytes=4) as cache:
        cache.get("small", renders("small", b"1234"))
        assert cache.get("big", renders("big", b"12345")) == b"12345"
        assert "big" not in cache and "small" in cache and cache.memory_bytes == 4
        cache.get("big", renders("big", b"12345"))
        assert renders.calls == ["small", "big", "big"]


def test_a_render_that_returns_no_bytes_is_an_error() -> None:
    with MediaCache() as cache:
        with pytest.raises(TypeError, match=r"^render\(\) must return bytes, not str$"):
            cache.get("k", lambda: "text")  # type: ignore[arg-type,return-value]
        assert "k" not in cache


def test_a_timed_render_wraps_only_the_renders_that_run(tmp_path: Path) -> None:
    timed: list[Hashable] = []

    def timing(key: Hashable, render: Callable[[], bytes]) -> Callable[[], bytes]:
        def run() -> bytes:
            timed.append(key)
            return render() + b"!"

        return run

    with MediaCache(tmp_path, timed_render=timing) as cache:
        assert cache.get("k", lambda: b"x") == b"x!"
        assert cache.get("k", lambda: b"y") == b"x!"
    with MediaCache(tmp_path, timed_render=timing) as again:  # from disk: no render
        assert again.get("k", lambda: b"z") == b"x!"
    assert timed == ["k"]


# ------------------------------------------------------------------ disk


def test_an_asset_on_disk_is_read_back_by_the_next_cache(tmp_path: Path) -> None:
    renders = Renders()
    with MediaCache(tmp_path) as first:
        first.get(("job", 1), renders(1, b"video"))
    assert _files(tmp_path) == {_name(("job", 1)): 5}
    with MediaCache(tmp_path) as second:
        assert ("job", 1) in second
        assert second.get(("job", 1), renders(2, b"again")) == b"video"
        assert second.memory_bytes == 5
    assert renders.calls == [1]


def test_a_read_from_disk_marks_the_file_used_for_the_budget(tmp_path: Path) -> None:
    with MediaCache(tmp_path) as first:
        first.get("k", lambda: b"x")
    path = tmp_path / _name("k")
    os.utime(path, (1000, 1000))
    with MediaCache(tmp_path) as second:
        second.get("k", lambda: b"y")
    assert path.stat().st_mtime > 1000
    # without a disk budget nothing is evicted, so the mtime is left alone
    os.utime(path, (1000, 1000))
    with MediaCache(tmp_path, disk_max_bytes=0) as third:
        assert third.get("k", lambda: b"y") == b"x"
    assert path.stat().st_mtime == 1000


def test_an_unreadable_file_is_rendered_again_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / _name("k")).mkdir()  # reading it fails (IsADirectoryError)
    with caplog.at_level(logging.WARNING, logger="mockserver.media"):
        with MediaCache(tmp_path) as cache:
            assert cache.get("k", lambda: b"fresh") == b"fresh"
    (record,) = [r for r in caplog.records if "cannot read" in r.getMessage()]
    assert record.getMessage().startswith(f"media cache: cannot read {tmp_path / _name('k')}: ")
    assert record.levelno == logging.WARNING


def test_a_disk_that_cannot_be_written_still_serves_and_leaves_no_part_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(media.cache.os, "fsync", full)
    with caplog.at_level(logging.WARNING, logger="mockserver.media"):
        with MediaCache(tmp_path) as cache:
            assert cache.get("k", lambda: b"data") == b"data"
            assert cache.get("k", lambda: b"other") == b"data"  # kept in memory
    assert _files(tmp_path) == {}
    (record,) = caplog.records
    assert record.getMessage() == (
        f"media cache: cannot write {tmp_path / _name('k')}: [Errno 28] No space left on device"
    )


def test_a_part_file_that_cannot_be_removed_is_no_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    def gone(path: Any) -> None:
        raise FileNotFoundError(path)

    monkeypatch.setattr(media.cache.os, "fsync", full)
    monkeypatch.setattr(media.cache.os, "unlink", gone)
    with MediaCache(tmp_path) as cache:
        assert cache.get("k", lambda: b"data") == b"data"


def test_a_file_is_written_whole_under_its_name_in_one_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []
    real_replace = os.replace

    def replace(src: str, dst: Path) -> None:
        seen.append((Path(src).name, Path(src).parent, Path(src).read_bytes(), dst))
        real_replace(src, dst)

    monkeypatch.setattr(media.cache.os, "replace", replace)
    with MediaCache(tmp_path) as cache:
        cache.get("k", lambda: b"whole")
    ((name, parent, data, dst),) = seen
    assert name.startswith(".tmp-") and name.endswith(".part") and parent == tmp_path
    assert data == b"whole" and dst == tmp_path / _name("k")
    assert _files(tmp_path) == {_name("k"): 5}


def test_the_disk_keeps_the_most_recently_used_within_its_budget(tmp_path: Path) -> None:
    with MediaCache(tmp_path, disk_max_bytes=10, max_bytes=0) as cache:
        cache.get("a", lambda: b"aaaa")
        os.utime(tmp_path / _name("a"), (1000, 1000))
        cache.get("b", lambda: b"bbbb")
        os.utime(tmp_path / _name("b"), (2000, 2000))
        cache.get("c", lambda: b"cc")  # exactly the budget: nothing goes
        assert set(_files(tmp_path)) == {_name("a"), _name("b"), _name("c")}
        cache.get("d", lambda: b"d")  # one over: the oldest goes, and only it
        assert set(_files(tmp_path)) == {_name("b"), _name("c"), _name("d")}
        os.utime(tmp_path / _name("b"), (3000, 3000))
        os.utime(tmp_path / _name("c"), (500, 500))
        os.utime(tmp_path / _name("d"), (600, 600))
        cache.get("e", lambda: b"eeeee")  # room for 5 of 10: the oldest (c) goes, then 5 fit
        assert _files(tmp_path) == {_name("b"): 4, _name("d"): 1, _name("e"): 5}


def test_an_asset_larger_than_the_disk_budget_is_served_not_written(tmp_path: Path) -> None:
    with MediaCache(tmp_path, disk_max_bytes=4) as cache:
        cache.get("fits", lambda: b"1234")
        assert cache.get("big", lambda: b"12345") == b"12345"
    assert _files(tmp_path) == {_name("fits"): 4}


def test_a_rewritten_asset_does_not_count_against_its_own_room(tmp_path: Path) -> None:
    with MediaCache(tmp_path, disk_max_bytes=8) as cache:
        cache.get("a", lambda: b"aaaa")
        cache.get("b", lambda: b"bbbb")
    # another process re-renders b (its file is replaced): a must stay
    with MediaCache(tmp_path, disk_max_bytes=8, max_bytes=0) as other:
        other._write_disk("b", b"BBBB")
    assert _files(tmp_path) == {_name("a"): 4, _name("b"): 4}
    assert (tmp_path / _name("b")).read_bytes() == b"BBBB"


def test_other_files_in_the_directory_are_neither_counted_nor_deleted(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_bytes(b"x" * 100)
    (tmp_path / "loops").mkdir()
    with MediaCache(tmp_path, disk_max_bytes=8) as cache:
        cache.get("a", lambda: b"aaaa")
        cache.get("b", lambda: b"bbbb")
    assert set(_files(tmp_path)) == {"notes.txt", "loops", _name("a"), _name("b")}


def test_trimming_makes_room_before_the_new_file_lands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whoever lists the directory never sees it over budget: room is made, then the file
    moved in, both under the directory's lock."""
    sizes: list[int] = []
    real_replace = os.replace

    def replace(src: str, dst: Path) -> None:
        sizes.append(sum(p.stat().st_size for p in tmp_path.glob("*.bin")))
        real_replace(src, dst)

    monkeypatch.setattr(media.cache.os, "replace", replace)
    with MediaCache(tmp_path, disk_max_bytes=8, max_bytes=0) as cache:
        cache.get("a", lambda: b"aaaa")
        cache.get("b", lambda: b"bbbb")
        cache.get("c", lambda: b"cccc")
    assert sizes == [0, 4, 4]


def test_the_budget_lock_is_taken_on_the_directory_for_every_budgeted_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fcntl

    flocks: list[int] = []
    real_flock = fcntl.flock

    def flock(fd: int, op: int) -> None:
        flocks.append(op)
        assert os.path.samefile(f"/proc/self/fd/{fd}", tmp_path)
        real_flock(fd, op)

    monkeypatch.setattr(fcntl, "flock", flock)
    with MediaCache(tmp_path, disk_max_bytes=100) as cache:
        cache.get("a", lambda: b"a")
    assert flocks == [fcntl.LOCK_EX]
    with MediaCache(tmp_path, disk_max_bytes=0) as unbounded:
        unbounded.get("b", lambda: b"b")
    assert flocks == [fcntl.LOCK_EX], "no budget: no lock"


def test_the_budget_lock_is_released_after_the_write(tmp_path: Path) -> None:
    import fcntl

    with MediaCache._disk_budget_lock(tmp_path):
        pass
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again
    finally:
        os.close(fd)


def test_the_budget_lock_shuts_out_another_process_meanwhile(tmp_path: Path) -> None:
    import fcntl

    with MediaCache._disk_budget_lock(tmp_path):
        fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)  # another open file: as a process
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)


def test_a_file_gone_while_trimming_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, mtime in (("a", 100), ("b", 200), ("c", 300)):
        path = tmp_path / f"{name}.bin"
        path.write_bytes(b"1234")
        os.utime(path, (mtime, mtime))
    real_scandir = os.scandir

    class Vanishing:
        def __init__(self, entry: os.DirEntry[str]) -> None:
            self.name, self.path, self._entry = entry.name, entry.path, entry

        def stat(self) -> os.stat_result:
            if self.name == "a.bin":
                raise FileNotFoundError(self.path)
            return self._entry.stat()

    class Listing:
        def __enter__(self) -> list[Vanishing]:
            self._it = real_scandir(tmp_path)
            return [Vanishing(e) for e in self._it]

        def __exit__(self, *exc: Any) -> None:
            self._it.close()

    monkeypatch.setattr(media.cache.os, "scandir", lambda d: Listing())
    MediaCache._trim_disk(tmp_path, 4, tmp_path / "new.bin")
    # a.bin (unseen) counts for nothing; of b and c (8 bytes) the older goes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "c.bin"]


def test_a_file_another_process_evicted_first_is_no_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, mtime in (("a", 100), ("b", 200)):
        path = tmp_path / f"{name}.bin"
        path.write_bytes(b"1234")
        os.utime(path, (mtime, mtime))
    real_unlink = os.unlink

    def unlink(name: str) -> None:
        real_unlink(name)
        if name.endswith("a.bin"):
            raise FileNotFoundError(name)  # as if another process had got there first

    monkeypatch.setattr(media.cache.os, "unlink", unlink)
    MediaCache._trim_disk(tmp_path, 4, tmp_path / "new.bin")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.bin"]


def test_trimming_to_no_room_empties_the_budget_and_stops(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / f"{name}.bin").write_bytes(b"1234")
    MediaCache._trim_disk(tmp_path, 0, tmp_path / "new.bin")
    assert list(tmp_path.iterdir()) == []
    MediaCache._trim_disk(tmp_path, 0, tmp_path / "new.bin")  # nothing left: nothing to do


# ------------------------------------------------------------------ discard


def test_discard_forgets_memory_and_disk(tmp_path: Path) -> None:
    renders = Renders()
    with MediaCache(tmp_path) as cache:
        cache.get("k", renders("k", b"data"))
        cache.discard("k")
        assert "k" not in cache and cache.memory_bytes == 0 and _files(tmp_path) == {}
        cache.discard("k")  # twice: nothing left, no error
        cache.discard("never")
        assert cache.get("k", renders("k", b"new")) == b"new"
    assert renders.calls == ["k", "k"]


def test_discard_waits_for_a_render_in_progress_and_drops_its_result(tmp_path: Path) -> None:
    started, release = threading.Event(), threading.Event()
    results: list[bytes] = []

    def slow() -> bytes:
        started.set()
        assert release.wait(10)
        return b"late"

    with MediaCache(tmp_path) as cache:
        getter = threading.Thread(target=lambda: results.append(cache.get("k", slow)))
        getter.start()
        assert started.wait(10)
        discarded = threading.Event()
        discarder = threading.Thread(target=lambda: (cache.discard("k"), discarded.set()))
        discarder.start()
        assert not discarded.wait(0.05), "discard did not wait for the render"
        release.set()
        getter.join(10)
        discarder.join(10)
        assert results == [b"late"]
        assert "k" not in cache and _files(tmp_path) == {}
        assert cache._key_locks == {}


# ------------------------------------------------------------------ prerender


def test_a_prerendered_asset_is_rendered_once_in_the_background(tmp_path: Path) -> None:
    renders = Renders()
    with MediaCache(tmp_path) as cache:
        future = cache.prerender("k", renders("k", b"bg"))
        assert future.result(10) == b"bg"
        assert cache.get("k", renders("k", b"fg")) == b"bg"
        again = cache.prerender("k", renders("k", b"bg2"))
        assert again.done() and again.result() == b"bg"
    assert renders.calls == ["k"]


def test_a_get_waits_for_the_prerender_of_its_key() -> None:
    started, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def background() -> bytes:
        calls.append("background")
        started.set()
        assert release.wait(10)
        return b"bg"

    with MediaCache() as cache:
        future = cache.prerender("k", background)
        assert started.wait(10)
        assert cache.prerender("k", lambda: b"x") is future, "queued once"
        threading.Timer(0.01, release.set).start()
        assert cache.get("k", lambda: calls.append("foreground") or b"fg") == b"bg"
    assert calls == ["background"]


def test_a_failed_prerender_is_retried_by_get_in_the_callers_thread() -> None:
    with MediaCache() as cache:
        future = cache.prerender("k", lambda: (_ for _ in ()).throw(RuntimeError("boom")))
        with pytest.raises(RuntimeError):
            future.result(10)
        assert cache.get("k", lambda: b"ok") == b"ok"
        with pytest.raises(RuntimeError, match="again"):
            cache.get("j", lambda: (_ for _ in ()).throw(RuntimeError("again")))


def test_a_prerender_discarded_while_rendering_keeps_nothing(tmp_path: Path) -> None:
    started, release = threading.Event(), threading.Event()

    def background() -> bytes:
        started.set()
        assert release.wait(10)
        return b"bg"

    with MediaCache(tmp_path) as cache:
        future = cache.prerender("k", background)
        assert started.wait(10)
        threading.Timer(0.01, release.set).start()
        cache.discard("k")
        assert future.result(10) == b"bg"  # handed out, not kept
        assert "k" not in cache and _files(tmp_path) == {} and cache._pending == {}


def test_a_queued_prerender_discarded_is_cancelled_and_get_renders_it() -> None:
    started, release = threading.Event(), threading.Event()

    def blocker() -> bytes:
        started.set()
        assert release.wait(10)
        return b"first"

    with MediaCache() as cache:
        cache.prerender("first", blocker)
        assert started.wait(10)
        queued = cache.prerender("k", lambda: b"queued")
        cache.discard("k")
        assert queued.cancelled()
        release.set()
        assert cache.get("k", lambda: b"fresh") == b"fresh"


def test_a_get_after_its_prerender_was_cancelled_renders_itself() -> None:
    started, release = threading.Event(), threading.Event()

    def blocker() -> bytes:
        started.set()
        assert release.wait(10)
        return b"first"

    with MediaCache() as cache:
        cache.prerender("first", blocker)
        assert started.wait(10)
        queued = cache.prerender("k", lambda: b"queued")
        got: list[bytes] = []
        getter = threading.Thread(target=lambda: got.append(cache.get("k", lambda: b"own")))
        getter.start()
        assert queued.cancel()
        with pytest.raises(CancelledError):
            queued.result()
        getter.join(10)
        release.set()
        assert got == [b"own"]


def test_prerender_of_an_asset_in_memory_is_done_at_once() -> None:
    with MediaCache() as cache:
        cache.get("k", lambda: b"data")
        future = cache.prerender("k", lambda: b"other")
        assert future.done() and future.result() == b"data"
        assert cache._executor is None, "no background thread for it"


def test_a_closed_cache_takes_no_prerender_and_cancels_the_queue() -> None:
    started, release = threading.Event(), threading.Event()

    def blocker() -> bytes:
        started.set()
        assert release.wait(10)
        return b"first"

    cache = MediaCache()
    running = cache.prerender("first", blocker)
    assert started.wait(10)
    queued = cache.prerender("k", lambda: b"queued")
    with cache:
        pass  # leaving the block closes it
    assert queued.cancelled()
    release.set()
    assert running.result(10) == b"first"
    with pytest.raises(RuntimeError, match=r"^MediaCache is closed$"):
        cache.prerender("j", lambda: b"x")
    cache.close()  # twice: no error
    assert cache.get("j", lambda: b"fg") == b"fg", "get still works in the foreground"


def test_the_prerender_thread_is_named_for_what_it_does() -> None:
    names: list[str] = []
    with MediaCache() as cache:
        cache.prerender("k", lambda: names.append(threading.current_thread().name) or b"x")
        cache.prerender("k2", lambda: b"y").result(10)
    assert names and names[0].startswith("media-prerender")


def test_interpreter_exit_closes_every_live_cache() -> None:
    cache = MediaCache()
    media.cache._close_live_caches()
    with pytest.raises(RuntimeError, match="closed"):
        cache.prerender("k", lambda: b"x")


# ------------------------------------------------------------------ the shared tier


class Shared:
    """A stand-in for the Redis tier every host shares."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.asked: list[str] = []

    def __contains__(self, name: str) -> bool:
        return name in self.blobs

    def get_or_render(self, name: str, render: Callable[[], bytes]) -> bytes:
        self.asked.append(name)
        if name not in self.blobs:
            self.blobs[name] = render()
        return self.blobs[name]


def test_a_shared_tier_renders_once_for_every_host(tmp_path: Path) -> None:
    shared = Shared()
    renders = Renders()
    with MediaCache(shared=shared) as one, MediaCache(shared=shared) as two:  # type: ignore[arg-type]
        assert "k" not in one
        assert one.get("k", renders(1, b"data")) == b"data"
        assert "k" in two, "known to the other host without rendering"
        assert two.get("k", renders(2, b"other")) == b"data"
    assert renders.calls == [1] and shared.asked == [MediaCache._name("k")] * 2


def test_a_shared_tier_sits_behind_memory_and_disk(tmp_path: Path) -> None:
    shared = Shared()
    with MediaCache(tmp_path, shared=shared) as first:  # type: ignore[arg-type]
        first.get("k", lambda: b"data")
        first.get("k", lambda: b"data")
    with MediaCache(tmp_path, shared=shared) as second:  # type: ignore[arg-type]
        assert second.get("k", lambda: b"x") == b"data"
    assert shared.asked == [MediaCache._name("k")], "memory, then disk answered"


def test_contains_without_a_shared_tier_or_a_directory(tmp_path: Path) -> None:
    with MediaCache() as cache:
        assert "k" not in cache
    with MediaCache(tmp_path) as cache:
        (tmp_path / _name("d")).mkdir()  # not a file
        assert "d" not in cache


def test_a_finished_prerender_leaves_nothing_queued() -> None:
    with MediaCache() as cache:
        future = cache.prerender("k", lambda: b"bg")
        seen = threading.Event()
        future.add_done_callback(lambda f: seen.set())  # runs after the cache's own
        assert seen.wait(10)
        assert cache._pending == {}
        failed = cache.prerender("j", lambda: (_ for _ in ()).throw(RuntimeError("x")))
        seen = threading.Event()
        failed.add_done_callback(lambda f: seen.set())
        assert seen.wait(10)
        assert cache._pending == {}


def test_a_newer_prerender_of_the_key_is_not_forgotten_by_an_older_one() -> None:
    from concurrent.futures import Future

    with MediaCache() as cache:
        older: Future[bytes] = Future()
        newer: Future[bytes] = Future()
        cache._pending["k"] = newer
        cache._forget_pending("k", older)
        assert cache._pending == {"k": newer}
        cache._forget_pending("k", newer)
        assert cache._pending == {}


def test_a_prerender_no_longer_wanted_renders_but_keeps_nothing(tmp_path: Path) -> None:
    """Discarded after its job started: the job still runs, and must not bring the asset back
    after discard removed it."""
    from concurrent.futures import Future

    with MediaCache(tmp_path) as cache:
        stale: Future[bytes] = Future()
        assert cache._prerender_job("k", lambda: b"bg", [stale]) == b"bg"
        assert "k" not in cache and _files(tmp_path) == {}
        assert cache._prerender_job("j", lambda: b"bg", []) == b"bg"  # not yet handed out
        assert "j" not in cache
        current: Future[bytes] = Future()
        cache._pending["i"] = current
        assert cache._prerender_job("i", lambda: b"bg", [current]) == b"bg"
        assert "i" in cache and _files(tmp_path) == {_name("i"): 2}


def test_trimming_deletes_as_many_old_files_as_it_takes(tmp_path: Path) -> None:
    for name, mtime in (("a", 100), ("b", 200), ("c", 300), ("d", 400)):
        path = tmp_path / f"{name}.bin"
        path.write_bytes(b"1234")
        os.utime(path, (mtime, mtime))
    MediaCache._trim_disk(tmp_path, 5, tmp_path / "new.bin")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.bin"]


def test_a_get_waits_for_the_queued_prerender_of_its_key_instead_of_rendering_again() -> None:
    started, release = threading.Event(), threading.Event()

    def blocker() -> bytes:
        started.set()
        assert release.wait(10)
        return b"first"

    calls: list[str] = []
    with MediaCache() as cache:
        cache.prerender("first", blocker)  # holds the one background thread
        assert started.wait(10)
        cache.prerender("k", lambda: calls.append("background") or b"bg")  # queued
        got: list[bytes] = []
        getter = threading.Thread(
            target=lambda: got.append(cache.get("k", lambda: calls.append("fg") or b"fg"))
        )
        getter.start()
        getter.join(0.05)
        assert got == [], "get did not wait for the queued render"
        release.set()
        getter.join(10)
    assert got == [b"bg"] and calls == ["background"]


def test_close_can_wait_for_the_render_under_way() -> None:
    started, release = threading.Event(), threading.Event()

    def blocker() -> bytes:
        started.set()
        assert release.wait(10)
        return b"done"

    cache = MediaCache()
    running = cache.prerender("k", blocker)
    assert started.wait(10)
    threading.Timer(0.05, release.set).start()
    cache.close(wait=True)
    assert running.done() and running.result() == b"done"


def test_a_file_whose_use_cannot_be_marked_is_still_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with MediaCache(tmp_path) as first:
        first.get("k", lambda: b"data")

    def read_only(*args: Any, **kwargs: Any) -> None:
        raise PermissionError(30, "Read-only file system")

    monkeypatch.setattr(media.cache.os, "utime", read_only)
    with MediaCache(tmp_path) as second:
        assert second.get("k", lambda: b"other") == b"data"


def test_an_unreadable_file_says_why(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / _name("k")).mkdir()
    with caplog.at_level(logging.WARNING, logger="mockserver.media"):
        with MediaCache(tmp_path) as cache:
            cache.get("k", lambda: b"fresh")
    assert (
        caplog.records[0]
        .getMessage()
        .endswith(f"[Errno 21] Is a directory: '{tmp_path / _name('k')}'")
    )
