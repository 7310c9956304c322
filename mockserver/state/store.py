"""Where everything a client can observe lives: jobs, reference images, scenario rules, the
virtual clock, rate-limit buckets, the fault stream (its setting and place) and the journal.

``MemoryStore`` keeps it in this process (one worker). ``SQLiteStore`` keeps it in one SQLite
file in WAL mode: jobs survive a restart, and every worker process of one server shares it, so
N workers behave as one server. A job is written once, when it is accepted, and removed only
by a delete: nothing accepted is lost.

The store's parts, each a module: the interface every store implements and the records they
share (``store_interface``), the memory store (``store_memory``), the SQLite store
(``store_sqlite``) and its writers' queue and change counter (``store_writers``), its journal
files (``store_journal``), the Redis store (``store_redis``), outages (``store_guard``). The
names other modules use are importable from here as before.
"""

from __future__ import annotations

from mockserver.state.store_interface import (
    GRAVEYARD_SIZE,
    Filters,
    JobListing,
    Page,
    Rule,
    Store,
    job_indexes,
    take_page,
)
from mockserver.state.store_memory import MemoryStore
from mockserver.state.store_sqlite import MEMO_SIZE, SQLiteStore
from mockserver.state.store_writers import CHECKPOINT_EVERY, ChangeCounter, WriterQueue

__all__ = [
    "CHECKPOINT_EVERY",
    "GRAVEYARD_SIZE",
    "MEMO_SIZE",
    "ChangeCounter",
    "Filters",
    "JobListing",
    "MemoryStore",
    "Page",
    "Rule",
    "SQLiteStore",
    "Store",
    "WriterQueue",
    "job_indexes",
    "take_page",
]
