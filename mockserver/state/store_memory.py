"""``MemoryStore``: everything a client can observe, kept in this process (one worker)."""

from __future__ import annotations

import bisect
import heapq
import threading
from collections import OrderedDict, deque
from collections.abc import Iterator
from typing import Any

from mockserver.state import store_interface  # (GRAVEYARD_SIZE read when used: one setting)
from mockserver.state.lifecycle import Job
from mockserver.state.store_interface import (
    Filters,
    JobListing,
    Page,
    Rule,
    job_indexes,
    refill_bucket,
    take_page,
)
from mockserver.state.store_webhooks import MemoryWebhooks


class _Sequence:
    """Ids in creation order (each with its store-wide sequence number): O(1) append and
    removal (a tombstone), and a walk from any sequence number (found by bisection)."""

    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.ids: list[str | None] = []
        self.pos: dict[str, int] = {}
        self.dead = 0

    def __len__(self) -> int:
        return len(self.pos)

    def append(self, job_id: str, seq: int) -> None:
        self.pos[job_id] = len(self.ids)
        self.seqs.append(seq)
        self.ids.append(job_id)

    def remove(self, job_id: str) -> None:
        at = self.pos.pop(job_id, None)
        if at is None:
            return
        self.ids[at] = None
        self.dead += 1
        if self.dead > 64 and self.dead * 2 > len(self.ids):
            live = [(q, i) for q, i in zip(self.seqs, self.ids, strict=True) if i is not None]
            self.seqs = [q for q, _ in live]
            self.ids = [i for _, i in live]
            self.pos = {i: n for n, (_, i) in enumerate(live)}
            self.dead = 0

    def walk(self, order: str, after_seq: int | None) -> Iterator[str]:
        if order == "asc":
            start = 0 if after_seq is None else bisect.bisect_right(self.seqs, after_seq)
            steps = range(start, len(self.ids))
        else:
            end = len(self.ids) if after_seq is None else bisect.bisect_left(self.seqs, after_seq)
            steps = range(end - 1, -1, -1)
        for at in steps:
            job_id = self.ids[at]
            if job_id is not None:
                yield job_id


class MemoryStore(JobListing, MemoryWebhooks):
    def __init__(self, journal_size: int = 1000) -> None:
        self.journal_size = journal_size
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._jobs: dict[str, Job] = {}
            self._indexes: dict[tuple[str, ...], _Sequence] = {}
            self._seq_of: dict[str, int] = {}
            self._graveyard: OrderedDict[str, int] = OrderedDict()
            self._job_seq = 0
            self._expiry: list[tuple[float, str]] = []  # a heap
            self._blobs: dict[str, bytes] = {}
            #: how many jobs use each reference image (stored once per content)
            self._refs: dict[str, int] = {}
            self._clock: float | None = None
            self._rules: list[Rule] = []
            self._rule_seq = 0
            self._buckets: dict[str, tuple[float, float]] = {}
            self._counters: dict[str, int] = {}
            #: the fault stream: the rate and seed set at run time (None: the start-up flags),
            #: and how many requests drew from it since it (re)started
            self._faults: tuple[float | None, int | None, int] = (None, None, 0)
            self._journal: deque[dict[str, Any]] = deque(maxlen=self.journal_size)

    def add(self, job: Job, image: bytes | None = None) -> None:
        with self._lock:
            if job.image_key and image is not None:
                self._blobs.setdefault(job.image_key, image)
            self._jobs[job.id] = Job.from_dict(job.to_dict())
            self._job_seq += 1
            self._seq_of[job.id] = self._job_seq
            for index in job_indexes(job):
                self._indexes.setdefault(index, _Sequence()).append(job.id, self._job_seq)
            if job.expires_at is not None:
                heapq.heappush(self._expiry, (job.expires_at, job.id))
            if job.image_key:
                self._refs[job.image_key] = self._refs.get(job.image_key, 0) + 1

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return Job.from_dict(job.to_dict()) if job else None

    def replace_job(self, job: Job) -> bool:
        with self._lock:
            if job.id not in self._jobs:
                return False
            self._jobs[job.id] = Job.from_dict(job.to_dict())
            return True

    def delete(self, job_id: str) -> bool:
        with self._lock:
            job = self._jobs.pop(job_id, None)
            if job is None:
                return False
            for index in job_indexes(job):
                sequence = self._indexes[index]
                sequence.remove(job.id)
                if not sequence:
                    del self._indexes[index]
            self._graveyard[job.id] = self._seq_of.pop(job.id)
            if len(self._graveyard) > store_interface.GRAVEYARD_SIZE:
                self._graveyard.popitem(last=False)
            if job.image_key:
                self._refs[job.image_key] -= 1
                if self._refs[job.image_key] <= 0:
                    del self._refs[job.image_key]
                    self._blobs.pop(job.image_key, None)
            return True

    def page(
        self,
        filters: Filters,
        *,
        order: str = "desc",
        after: str | None = None,
        limit: int = 100,
        scan: int | None = None,
    ) -> Page:
        with self._lock:
            after_seq = None
            if after is not None:
                after_seq = self._seq_of.get(after, self._graveyard.get(after))
                if after_seq is None:
                    return Page([], False, None)
            sequence = self._indexes.get(filters.index(), _Sequence())
            walk = (self._jobs[i] for i in sequence.walk(order, after_seq))
            found = take_page(walk, filters, limit, scan)
            found.jobs = [Job.from_dict(j.to_dict()) for j in found.jobs]
            return found

    def stats(self) -> dict[str, int]:
        """What the store holds: jobs, stored images and their bytes (the memory accounting)."""
        with self._lock:
            images = [k for k in self._blobs if k.startswith("image:")]
            return {
                "jobs": len(self._jobs),
                "images": len(images),
                "image_bytes": sum(len(self._blobs[k]) for k in images),
            }

    def expired(self, now: float, limit: int) -> list[str]:
        with self._lock:
            due: list[tuple[float, str]] = []
            while self._expiry and self._expiry[0][0] <= now and len(due) < limit:
                entry = heapq.heappop(self._expiry)
                if entry[1] in self._jobs:  # entries of deleted jobs just go
                    due.append(entry)
            for entry in due:  # a read: they stay until deleted
                heapq.heappush(self._expiry, entry)
            return [job_id for _, job_id in due]

    def put_blob(self, key: str, data: bytes, *, replace: bool = False) -> None:
        with self._lock:
            if replace:
                self._blobs[key] = data
            else:
                self._blobs.setdefault(key, data)

    def get_blob(self, key: str) -> bytes | None:
        with self._lock:
            return self._blobs.get(key)

    def delete_blob(self, key: str) -> bool:
        with self._lock:
            return self._blobs.pop(key, None) is not None

    def files(self) -> list[tuple[str, int]]:
        with self._lock:  # a dict keeps its insertion order: the oldest first
            return [(k, len(v)) for k, v in self._blobs.items() if k.startswith("file:")]

    def clock_init(self, start: float) -> float:
        with self._lock:
            if self._clock is None:
                self._clock = start
            return self._clock

    def clock_get(self, default: float) -> float:
        with self._lock:
            return default if self._clock is None else self._clock

    def clock_advance(self, seconds: float, default: float) -> float:
        with self._lock:
            self._clock = (default if self._clock is None else self._clock) + seconds
            return self._clock

    def add_rule(self, scenario, key, provider, remaining):
        with self._lock:
            self._rule_seq += 1
            rule = Rule(self._rule_seq, scenario, key, provider, remaining)
            self._rules.append(rule)
            return rule

    def rules(self) -> list[Rule]:
        with self._lock:
            return [Rule(**r.to_dict()) for r in self._rules]

    def clear_rules(self, key: str | None = None) -> int:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if key is not None and r.key != key]
            return before - len(self._rules)

    def remove_rule(self, rule_id: int) -> Rule | None:
        with self._lock:
            for rule in self._rules:
                if rule.id == rule_id:
                    self._rules.remove(rule)
                    return Rule(**rule.to_dict())
            return None

    def take_rule(self, key: str | None, provider: str) -> str | None:
        with self._lock:
            # key-specific rules win over global ones; among equals the newest wins
            for rule in sorted(self._rules, key=lambda r: (r.key is None, -r.id)):
                if rule.matches(key, provider):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining <= 0:
                            self._rules.remove(rule)
                    return rule.scenario
            return None

    def take_token(self, key: str, capacity: float, per_second: float, now: float) -> float:
        with self._lock:
            tokens, last = self._buckets.get(key, (capacity, now))
            tokens, wait = refill_bucket(tokens, last, capacity, per_second, now)
            self._buckets[key] = (tokens, now)
            return wait

    def next_count(self, name: str) -> int:
        with self._lock:
            self._counters[name] = count = self._counters.get(name, 0) + 1
            return count

    def faults_setting(self) -> tuple[float, int] | None:
        rate, seed, _ = self._faults
        return None if rate is None or seed is None else (rate, seed)

    def faults_restart(self, rate: float, seed: int) -> None:
        with self._lock:
            self._faults = (rate, seed, 0)

    def faults_next(self, rate: float, seed: int) -> tuple[float, int, int] | None:
        with self._lock:
            stored_rate, stored_seed, drawn = self._faults
            if stored_rate is not None and stored_seed is not None:
                rate, seed = stored_rate, stored_seed
            if rate <= 0:
                return None
            self._faults = (stored_rate, stored_seed, drawn + 1)
            return rate, seed, drawn + 1

    def journal_add(self, *entries: dict[str, Any]) -> None:
        with self._lock:
            self._journal.extend(entries)

    def journal(self, limit: int) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._journal)[-limit:] if limit > 0 else []

    def close(self) -> None:
        pass
