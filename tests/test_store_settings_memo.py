"""SQLiteStore's settings (the clock, the rules, the fault setting) come from memory while no
write of any process changed them: every provider request reads them (a create the clock
four times), and a job's write does not make them read again. Every write of a setting, by
any worker, is seen by the next read."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from jobs import make_job

from mockserver.state.store_sqlite import SQLiteStore


def traced(store: SQLiteStore) -> list[str]:
    seen: list[str] = []
    store._conn().set_trace_callback(seen.append)
    return seen


def read_settings(store: SQLiteStore) -> tuple[object, ...]:
    return (store.clock_get(0.0), store.take_rule("key_x", "gptge"), store.faults_setting())


def test_the_settings_are_read_once_while_nothing_writes_them(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite")
    store.clock_init(100.0)
    store.faults_restart(0.25, 7)
    seen = traced(store)
    assert read_settings(store) == (100.0, None, (0.25, 7))
    reads = list(seen)
    assert sorted(reads) == [
        "SELECT NOT EXISTS (SELECT 1 FROM rules)",
        "SELECT now FROM clock WHERE id = 1",
        "SELECT rate, seed FROM faults WHERE id = 1",
    ]
    seen.clear()
    for n in range(3):  # a job's write (with an image or without) changes no setting
        store.add(make_job(id=f"video_{n}", image_key="image:a"), b"a")
        store.add(make_job(id=f"video_plain_{n}"))
        assert read_settings(store) == (100.0, None, (0.25, 7))
    assert not [sql for sql in seen if sql.startswith("SELECT")], seen
    store.close()


#: every write of a setting, made by another worker, and the settings the next read sees
WRITES: dict[str, tuple[Callable[[SQLiteStore], object], tuple[object, ...]]] = {
    "clock_advance": (lambda s: s.clock_advance(5.0, 0.0), (105.0, None, (0.25, 7))),
    "add_rule": (
        lambda s: s.add_rule("server_error", None, None, 1),
        (100.0, "server_error", (0.25, 7)),
    ),
    "faults_restart": (lambda s: s.faults_restart(0.5, 3), (100.0, None, (0.5, 3))),
    "reset": (lambda s: s.reset(), (0.0, None, None)),
}


@pytest.mark.parametrize("name", list(WRITES))
def test_another_workers_write_of_a_setting_is_seen_by_the_next_read(
    tmp_path: Path, name: str
) -> None:
    path = tmp_path / "state.sqlite"
    mine, other = SQLiteStore(path), SQLiteStore(path)
    mine.clock_init(100.0)
    mine.faults_restart(0.25, 7)
    assert read_settings(mine) == (100.0, None, (0.25, 7))
    write, seen = WRITES[name]
    write(other)
    assert read_settings(mine) == seen
    mine.close()
    other.close()


def test_a_rule_taken_cleared_or_removed_is_seen_by_every_worker(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    mine, other = SQLiteStore(path), SQLiteStore(path)
    other.add_rule("server_error", None, None, 2)
    assert other.take_rule("key_x", "gptge") == "server_error"  # one left
    assert mine.take_rule("key_x", "gptge") == "server_error"  # none left: counted
    assert other.take_rule("key_x", "gptge") is None
    rule = mine.add_rule("forbidden", "key_y", None, None)
    assert other.take_rule("key_y", "gptge") == "forbidden"
    assert mine.remove_rule(rule.id) == rule
    assert other.take_rule("key_y", "gptge") is None
    other.add_rule("forbidden", "key_y", None, None)
    assert mine.take_rule("key_y", "gptge") == "forbidden"
    assert other.clear_rules("key_y") == 1
    assert mine.take_rule("key_y", "gptge") is None
    mine.add_rule("slow", None, None, None)
    assert other.take_rule("key_z", "gptge") == "slow"
    assert mine.clear_rules() == 1
    assert other.take_rule("key_z", "gptge") is None
    mine.close()
    other.close()


def test_the_first_clock_another_worker_stores_is_seen(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    mine, other = SQLiteStore(path), SQLiteStore(path)
    assert mine.clock_get(1.0) == 1.0  # no clock stored yet: the default
    assert other.clock_init(50.0) == 50.0
    assert mine.clock_get(1.0) == 50.0
    assert (tmp_path / "state.sqlite.settings").exists()
    mine.close()
    other.close()


#: each way the last rule goes, by another worker
LAST_RULE_GONE: dict[str, Callable[[SQLiteStore, int], object]] = {
    "taken": lambda s, _id: s.take_rule("key_y", "gptge"),
    "removed": lambda s, rule_id: s.remove_rule(rule_id),
    "cleared for its key": lambda s, _id: s.clear_rules("key_y"),
    "all cleared": lambda s, _id: s.clear_rules(),
}


@pytest.mark.parametrize("how", list(LAST_RULE_GONE))
def test_once_the_last_rule_is_gone_a_request_takes_no_write_transaction(
    tmp_path: Path, how: str
) -> None:
    """While rules exist each request takes one in a write transaction (the writers' queue);
    once none is left, every worker knows it from its next read of the rules."""
    path = tmp_path / "state.sqlite"
    mine, other = SQLiteStore(path), SQLiteStore(path)
    rule = mine.add_rule("slow", "key_y", None, 1)
    assert mine.take_rule("key_z", "gptge") is None  # another key's: kept, and known to exist
    LAST_RULE_GONE[how](other, rule.id)
    assert other.rules() == []
    seen = traced(mine)
    assert mine.take_rule("key_z", "gptge") is None
    assert seen == ["SELECT NOT EXISTS (SELECT 1 FROM rules)"]
    mine.close()
    other.close()


def test_a_write_of_a_setting_that_fails_is_counted_all_the_same(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    mine, other = SQLiteStore(path), SQLiteStore(path)
    mine.clock_init(100.0)
    assert mine.clock_get(0.0) == 100.0
    before = mine._settings.read()
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("CREATE TRIGGER refuse BEFORE INSERT ON rules BEGIN SELECT RAISE(ABORT, 'no'); END")
    raw.close()
    with pytest.raises(sqlite3.IntegrityError):
        other.add_rule("slow", None, None, None)
    assert mine._settings.read() == before + 1
    assert other.clock_advance(1.0, 0.0) == 101.0
    assert mine.clock_get(0.0) == 101.0
    mine.close()
    other.close()


def test_a_rule_that_matches_no_request_changes_nothing_and_is_not_counted(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "state.sqlite")
    store.add_rule("slow", "key_other", None, 3)
    before = store._settings.read()
    assert store.take_rule("key_x", "gptge") is None
    assert store._settings.read() == before
    assert [r.remaining for r in store.rules()] == [3]
    store.close()
