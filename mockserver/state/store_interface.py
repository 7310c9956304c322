"""What every store is: the :class:`Store` protocol the service uses, and the records and
helpers the memory, SQLite and Redis stores share (rules, pages and their filters, the job
indexes a page walks, the token bucket)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol

from mockserver.state.lifecycle import Job


@dataclass
class Rule:
    """A scenario switched on through the admin API or a per-key setting."""

    id: int
    scenario: str
    key: str | None = None
    provider: str | None = None
    #: how many more requests it applies to (None: until cleared)
    remaining: int | None = None

    def matches(self, key: str | None, provider: str) -> bool:
        return (self.key is None or self.key == key) and (
            self.provider is None or self.provider == provider
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "scenario": self.scenario,
            "key": self.key,
            "provider": self.provider,
            "remaining": self.remaining,
        }


@dataclass
class Page:
    jobs: list[Job]
    #: more jobs follow ``cursor`` in this order
    has_more: bool
    #: the id to pass as ``after`` for the next page (the last job examined)
    cursor: str | None


@dataclass(frozen=True)
class Filters:
    """Which jobs a page holds; the store walks the narrowest index these allow."""

    api: str | None = None
    owner: str | None = None
    provider: str | None = None
    #: any other condition, tested on each job the walk meets (e.g. its status now)
    where: Callable[[Job], bool] | None = None

    def index(self) -> tuple[str, ...]:
        if self.api is not None and self.owner is not None:
            return ("api-owner", self.api, self.owner)
        if self.api is not None:
            return ("api", self.api)
        if self.owner is not None:
            return ("owner", self.owner)
        if self.provider is not None:
            return ("provider", self.provider)
        return ("all",)

    def accepts(self, job: Job) -> bool:
        return (
            (self.api is None or job.api == self.api)
            and (self.owner is None or job.owner == self.owner)
            and (self.provider is None or job.provider == self.provider)
            and (self.where is None or self.where(job))
        )


def job_indexes(job: Job) -> list[tuple[str, ...]]:
    """Every index a job is listed in, in creation order."""
    return [
        ("all",),
        ("api", job.api),
        ("owner", job.owner),
        ("api-owner", job.api, job.owner),
        ("provider", job.provider),
    ]


class Store(Protocol):
    def add(self, job: Job, image: bytes | None = None) -> None:
        """Keep a job and (stored once per content, under ``job.image_key``) its image."""

    def get(self, job_id: str) -> Job | None: ...
    def replace_job(self, job: Job) -> bool:
        """Write a stored job's record anew (same id, API and owner); False if it is gone."""

    def delete(self, job_id: str) -> bool: ...
    def page(
        self,
        filters: Filters,
        *,
        order: str = "desc",
        after: str | None = None,
        limit: int = 100,
        scan: int | None = None,
    ) -> Page: ...
    def expired(self, now: float, limit: int) -> list[str]: ...
    def stats(self) -> dict[str, int]: ...
    def jobs(
        self,
        *,
        api: str | None = None,
        owner: str | None = None,
        order: str = "desc",
        after: str | None = None,
        limit: int | None = None,
    ) -> tuple[list[Job], bool]: ...
    def put_blob(self, key: str, data: bytes, *, replace: bool = False) -> None:
        """Keep ``data`` under ``key``; a key already held keeps its bytes unless ``replace``
        (blobs are content-addressed: the same key is the same bytes)."""

    def get_blob(self, key: str) -> bytes | None: ...
    def delete_blob(self, key: str) -> bool:
        """Forget the blob under ``key``; whether there was one."""

    def files(self) -> list[tuple[str, int]]:
        """The uploaded files' blobs (``file:<id>``), oldest first, with their sizes."""

    def clock_init(self, start: float) -> float: ...
    def clock_get(self, default: float) -> float: ...
    def clock_advance(self, seconds: float, default: float) -> float: ...
    def add_rule(
        self, scenario: str, key: str | None, provider: str | None, remaining: int | None
    ) -> Rule: ...
    def rules(self) -> list[Rule]: ...
    def clear_rules(self, key: str | None = None) -> int: ...
    def remove_rule(self, rule_id: int) -> Rule | None:
        """Switch off one rule, the others untouched; the rule removed, None if none had it."""

    def take_rule(self, key: str | None, provider: str) -> str | None: ...
    def take_token(self, key: str, capacity: float, per_second: float, now: float) -> float: ...
    def next_count(self, name: str) -> int: ...
    # the seeded fault stream (mockserver.state.faults.FaultStream): its setting and position
    def faults_setting(self) -> tuple[float, int] | None: ...
    def faults_restart(self, rate: float, seed: int) -> None: ...
    def faults_next(self, rate: float, seed: int) -> tuple[float, int, int] | None: ...
    def journal_add(self, *entries: dict[str, Any]) -> None: ...
    def read_instant(self, job_hint: str | None = None) -> AbstractContextManager[None]: ...
    def journal(self, limit: int) -> list[dict[str, Any]]: ...
    def reset(self) -> None: ...
    def close(self) -> None: ...
    # webhooks a server owes (mockserver.http.webhooks): one record per job, claimed by one worker
    # at a time (a lease in real seconds, so a worker that dies leaves it to another)
    def webhook_put(self, job_id: str, record: dict[str, Any], due: float) -> None:
        """Owe a webhook for ``job_id``, due at ``due`` on the mock's clock."""

    def webhook_claim(
        self, now: float, wall: float, until: float, token: str, limit: int
    ) -> list[dict[str, Any]]:
        """Take up to ``limit`` open records due by ``now`` that no lease holds at ``wall``
        (real seconds): each is leased to ``token`` until ``until``, atomically."""

    def webhook_settle(
        self, job_id: str, record: dict[str, Any], due: float | None, token: str
    ) -> bool:
        """Write back a claimed record, due again at ``due`` (None: closed); its lease ends.
        False (nothing written) when ``token`` no longer holds it."""

    def webhook_get(self, job_id: str) -> dict[str, Any] | None:
        """The record (with ``due`` and ``open``), or None."""

    def webhook_next_due(self, wall: float) -> float | None:
        """When the earliest open record no lease holds is due (None: none)."""

    def webhook_clear(self) -> None:
        """Forget every record (``POST /__mock/reset``)."""

    def webhook_forget(self, job_ids: list[str]) -> None:
        """Forget the records of these jobs (purged: nothing is owed for a job that is gone)."""


def take_page(walk: Iterator[Job], filters: Filters, limit: int, scan: int | None) -> Page:
    """Up to ``limit`` jobs the filters accept, examining at most ``scan`` jobs of the walk
    (a selective filter never makes one request read every job)."""
    found: list[Job] = []
    cursor: str | None = None
    examined = 0
    for job in walk:
        if len(found) == limit or (scan is not None and examined == scan):
            return Page(found, True, cursor)
        examined += 1
        cursor = job.id
        if filters.accepts(job):
            found.append(job)
    return Page(found, False, cursor)


class JobListing:
    """``jobs()``: a page of one API's (and one key's) jobs, as the provider list endpoints
    and the tests read them; every store implements ``page``."""

    def read_instant(self, job_hint: str | None = None) -> AbstractContextManager[None]:
        """A read request's block: reads inside may come from what this thread read before,
        as long as nothing was written since. ``job_hint``: the job the request names, which
        a store may fetch with the rest (Redis does). Only the SQLite and Redis stores do
        anything here."""
        return nullcontext()

    def page(
        self,
        filters: Filters,
        *,
        order: str = "desc",
        after: str | None = None,
        limit: int = 100,
        scan: int | None = None,
    ) -> Page:
        raise NotImplementedError

    def jobs(
        self,
        *,
        api: str | None = None,
        owner: str | None = None,
        order: str = "desc",
        after: str | None = None,
        limit: int | None = None,
    ) -> tuple[list[Job], bool]:
        if limit is None:  # every job: tests and small stores only, never a request path
            found: list[Job] = []
            while True:
                page = self.page(Filters(api, owner), order=order, after=after, limit=1000)
                found += page.jobs
                if not page.has_more:
                    return found, False
                after = page.cursor
        page = self.page(Filters(api, owner), order=order, after=after, limit=limit)
        return page.jobs, page.has_more


#: deleted ids whose place a page cursor may still name (a client paging while jobs go)
GRAVEYARD_SIZE = 10_000


def refill_bucket(
    tokens: float, last: float, capacity: float, per_second: float, now: float
) -> tuple[float, float]:
    """A token bucket refilled up to ``now``: (tokens left, seconds to wait; 0 if one was taken)."""
    tokens = min(capacity, tokens + max(0.0, now - last) * per_second)
    if tokens >= 1.0:
        return tokens - 1.0, 0.0
    return tokens, (1.0 - tokens) / per_second
