"""Which store a ``--store`` spec names: the one place that knows every store class.

Above ``store`` and ``store_redis`` (the Redis store builds on the SQLite store's module, so
the choice between them cannot live in either)."""

from __future__ import annotations

import sqlite3

from mockserver.state.store import MemoryStore, SQLiteStore, Store


def open_store(spec: str, journal_size: int = 1000) -> Store:
    """``memory``, ``sqlite:PATH`` or ``redis://HOST:PORT/DB``."""
    if spec == "memory":
        return MemoryStore(journal_size)
    if spec.startswith("sqlite:") and len(spec) > len("sqlite:"):
        path = spec[len("sqlite:") :]
        try:
            return SQLiteStore(path, journal_size)
        except (sqlite3.Error, OSError) as exc:  # one line at start-up, no traceback
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ValueError(f"cannot use the store {path}: {why}") from None
    if spec.startswith(("redis://", "rediss://", "unix://")):
        from mockserver.state.store_redis import RedisStore

        return RedisStore(spec, journal_size)
    raise ValueError(
        f"unknown store {spec!r}: use 'memory', 'sqlite:PATH' or 'redis://HOST:PORT/DB'"
    )
