"""What a :class:`~mockserver.state.store_sqlite.SQLiteStore` answers from memory: a job its
read instant's memo holds, the clock, "no rules" and the fault setting while the settings
count has not moved. Each is the ``peek`` of its method (``PEEKS``, handed to
``store_guard.guarded``): it gives what the method would, or ``MISS`` where the method would
ask the store, and touches no file (a peek cannot fail, so a poll's calls answered this way
skip the guard's work)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mockserver.state.store_guard import MISS

#: the statement reading each setting (``setting``)
_SETTINGS = {
    "clock": "SELECT now FROM clock WHERE id = 1",
    "no rules": "SELECT NOT EXISTS (SELECT 1 FROM rules)",
    "faults": "SELECT rate, seed FROM faults WHERE id = 1",
}


def setting(store: Any, name: str) -> Any:
    """The row of the clock, the rules or the fault setting (``name``): from memory while no
    write of any process changed them (the settings count; a job's write does not move it).
    Every provider request reads them, a create the clock four times. A row changed with
    another tool (the ``sqlite3`` shell) is seen from the mock's next write of a setting."""
    sql = _SETTINGS[name]
    return store._remembered.get(name, lambda: store._conn().execute(sql).fetchone())


def remembered(store: Any, name: str) -> Any:
    """The row ``setting`` would answer from memory, or MISS where it would read it."""
    version, rows = store._remembered._memo
    return rows.get(name, MISS) if version == store._settings.read() else MISS


def job(store: Any, job_id: str) -> Any:
    """The job this read instant's memo holds for ``job_id`` (None: none stored), or MISS."""
    memo = store._memo()
    return MISS if memo is None else memo.get(("job", job_id), MISS)


def clock_of(row: Any, default: float) -> float:
    return float(row[0]) if row else default


def clock(store: Any, default: float) -> Any:
    row = remembered(store, "clock")
    return MISS if row is MISS else clock_of(row, default)


def no_rule(store: Any, key: str | None, provider: str) -> Any:
    """``take_rule``'s answer when no rule is in force at all (the common case): None."""
    row = remembered(store, "no rules")
    return None if row is not MISS and row[0] else MISS


def faults_of(row: Any) -> tuple[float, int] | None:
    return (float(row[0]), int(row[1])) if row and row[0] is not None else None


def faults(store: Any) -> Any:
    row = remembered(store, "faults")
    return MISS if row is MISS else faults_of(row)


def no_fault(store: Any, rate: float, seed: int) -> Any:
    """``faults_next``'s answer when no fault rate is in force (the common case): None."""
    row = remembered(store, "faults")
    if row is MISS:
        return MISS
    found = faults_of(row)
    return None if (found[0] if found else rate) <= 0 else MISS


#: each method's peek (``store_guard.guarded``)
PEEKS: dict[str, Callable[..., Any]] = {
    "get": job,
    "clock_get": clock,
    "take_rule": no_rule,
    "faults_setting": faults,
    "faults_next": no_fault,
}


class Instant:
    """``SQLiteStore.read_instant``'s block, its memo taken by the call (the store guard's
    work once, not again on entering: ``read_by_the_call``), left on leaving. A class:
    contextlib's generator-made block cost a poll some 0.7 us more."""

    __slots__ = ("local",)
    read_by_the_call = True

    def __init__(self, local: Any) -> None:  # (the store's thread-local state)
        self.local = local

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc_info: object) -> None:
        self.local.reading = False
