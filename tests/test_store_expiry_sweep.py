"""SQLiteStore's expiry sweep (every create makes one) reads the store only once a job can be
due: the earliest ``expires_at`` is kept in shared memory (``<store>.expiry``), lowered by
every job's write in any worker, learned again from the store in the writers' queue. It
finds every job the statement would, as soon as it is due."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from jobs import make_job

from mockserver.state.lifecycle import Job
from mockserver.state.store_sqlite import SQLiteStore


def statements(store: SQLiteStore) -> list[str]:
    seen: list[str] = []
    store._conn().set_trace_callback(seen.append)
    return seen


def expiring(job_id: str, at: float | None, image: bool = False) -> Job:
    return make_job(id=job_id, expires_at=at, image_key="image:a" if image else None)


@pytest.mark.parametrize("image", [False, True], ids=["no image", "an image"])
def test_a_sweep_reads_the_store_only_once_a_job_can_be_due(tmp_path: Path, image: bool) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite")
    store.add(expiring("video_1", 100.0, image), b"a" if image else None)
    assert store.expired(50.0, 20) == []  # just opened: read, and the earliest learned
    seen = statements(store)
    assert store.expired(60.0, 20) == []
    assert store.expired(99.999, 20) == []
    assert seen == []
    assert store.expired(100.0, 20) == ["video_1"]
    assert len([s for s in seen if s.startswith("SELECT id FROM jobs")]) == 1
    store.close()


@pytest.mark.parametrize("image", [False, True], ids=["no image", "an image"])
def test_another_workers_job_expiring_earlier_is_swept_when_due(
    tmp_path: Path, image: bool
) -> None:
    path = tmp_path / "state.sqlite"
    mine, other = SQLiteStore(path), SQLiteStore(path)
    mine.add(expiring("video_1", 100.0))
    assert mine.expired(10.0, 20) == []  # the earliest learned: 100
    other.add(expiring("video_2", 20.0, image), b"a" if image else None)
    assert mine.expired(19.0, 20) == []
    assert mine.expired(30.0, 20) == ["video_2"]
    mine.close()
    other.close()


def test_once_the_due_jobs_are_gone_the_next_earliest_is_learned(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite")
    for n, at in enumerate((10.0, 20.0, 300.0)):
        store.add(expiring(f"video_{n}", at))
    assert store.expired(50.0, 1) == ["video_0"]  # one at a time: the limit
    assert store.delete("video_0")
    assert store.expired(50.0, 20) == ["video_1"]
    assert store.delete("video_1")
    assert store.expired(50.0, 20) == []  # none due: read, and 300 learned
    seen = statements(store)
    assert store.expired(299.0, 20) == []
    assert seen == []
    assert store.expired(300.0, 20) == ["video_2"]
    store.close()


def test_jobs_that_never_expire_are_never_swept_for(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite")
    store.add(expiring("video_1", None))
    assert store.expired(1e12, 20) == []
    seen = statements(store)
    assert store.expired(1e15, 20) == []
    assert seen == []
    store.add(expiring("video_2", 5.0))
    assert store.expired(1e15, 20) == ["video_2"]
    store.close()


def test_a_store_opened_again_does_not_trust_what_was_learned(tmp_path: Path) -> None:
    """A job added with another tool (the sqlite3 shell) lowers nothing: the next open of the
    store reads the store again."""
    path = tmp_path / "state.sqlite"
    store = SQLiteStore(path)
    store.add(expiring("video_1", 100.0))
    assert store.expired(10.0, 20) == []
    raw = sqlite3.connect(path)
    raw.execute(
        "INSERT INTO jobs (id, api, owner, body, expires_at) "
        "VALUES ('video_x', 'gptge', 'k', '{}', 5)"
    )
    raw.commit()
    raw.close()
    store.close()
    again = SQLiteStore(path)
    assert again.expired(10.0, 20) == ["video_x"]
    again.close()


def test_a_write_that_fails_leaves_the_sweep_reading(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    store = SQLiteStore(path)
    store.add(expiring("video_1", 100.0))
    assert store.expired(10.0, 20) == []
    raw = sqlite3.connect(path)
    raw.execute("CREATE TRIGGER refuse BEFORE INSERT ON jobs BEGIN SELECT RAISE(ABORT, 'no'); END")
    raw.close()
    with pytest.raises(sqlite3.IntegrityError):
        store.add(expiring("video_2", 20.0))
    assert store.get("video_2") is None
    assert store.expired(30.0, 20) == []  # read (lowered to 20 all the same), nothing due
    seen = statements(store)
    assert store.expired(40.0, 20) == []  # and 100 learned again
    assert seen == []
    store.close()
