"""``RedisStore``: the whole state of a server in Redis, so servers on several hosts behind a
load balancer behave as one (``--store redis://HOST:PORT/DB``).

Keys live under one prefix (``soramock:``). A job is one JSON string; every index a page may
walk (``store.job_indexes``) is a sorted set scored by a creation sequence number, so a page is
a range read from a cursor, whatever the number of jobs. Every read-modify-write (a rule used,
a token taken, the clock advanced, a job deleted with its image reference) is one Lua script:
atomic across every worker of every server.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mockserver.state import redis_scripts as lua
from mockserver.state._json import dumps_text
from mockserver.state.lifecycle import Job
from mockserver.state.redis_tracking import TrackedReads
from mockserver.state.store import Filters, JobListing, Page, Rule, job_indexes, take_page
from mockserver.state.store_guard import guarded

PREFIX = "soramock:"
#: how long a deleted job's place is remembered for a page cursor that names it
GRAVEYARD_SECONDS = 24 * 3600
#: jobs whose parse a store keeps, with the bytes parsed (RedisStore.get)
PARSED_JOBS = 1024

#: how long a Redis call may wait to connect, and for an answer: a stopped or frozen Redis is
#: a 503 after about a second, not a request hanging (redis-py waits 5 s, then retries)
SOCKET_TIMEOUT = 1.0
#: Redis errors that mean "Redis cannot serve now" (the first word of its error reply)
_UNAVAILABLE_REPLIES = frozenset(
    {"OOM", "MISCONF", "READONLY", "MASTERDOWN", "LOADING", "BUSY", "NOREPLICAS", "CLUSTERDOWN"}
)


def _redis_outage(exc: BaseException) -> str | None:
    """Redis gone, frozen, full or refusing writes, rather than a mistake of the mock: answered
    503 (mockserver.state.store_guard)."""
    import redis

    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
        return f"Redis: {type(exc).__name__}"
    if isinstance(exc, (redis.exceptions.OutOfMemoryError, redis.exceptions.ReadOnlyError)):
        return f"Redis: {type(exc).__name__}"
    if isinstance(exc, redis.ResponseError):
        word = str(exc).split(" ", 1)[0]
        if word in _UNAVAILABLE_REPLIES:
            return f"Redis: {word}"
    return None


@guarded("Redis", _redis_outage)
class RedisStore(JobListing):
    def __init__(self, url: str, journal_size: int = 1000) -> None:
        import redis

        self.url = url
        self.journal_size = journal_size
        # redis-py's annotations cover its sync and async clients at once: use it untyped
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.redis: Any = redis.Redis.from_url(
            url,  # its own ?socket_timeout=... wins
            socket_timeout=SOCKET_TIMEOUT,
            socket_connect_timeout=SOCKET_TIMEOUT,
            # once more at once on a dropped connection (a pooled one Redis closed), never
            # after a timeout (that would double the wait)
            retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
        )
        try:
            self.redis.ping()  # fail at start-up, not at the first request
            # the poll's script loaded now, so no request pays the load's extra round trips (a
            # Redis restarted since has lost it: the first call after that loads it again)
            self.redis.script_load(lua.READ_INSTANT)
        except redis.RedisError as exc:
            where = self.redis.connection_pool.connection_kwargs
            address = f"{where.get('host', where.get('path'))}:{where.get('port', '')}".rstrip(":")
            raise ValueError(f"cannot reach Redis at {address}: {type(exc).__name__}") from None
        self._delete = self.redis.register_script(lua.DELETE)
        self._clock_advance = self.redis.register_script(lua.CLOCK_ADVANCE)
        self._take_token = self.redis.register_script(lua.TAKE_TOKEN)
        self._take_rule = self.redis.register_script(lua.TAKE_RULE)
        self._faults_next = self.redis.register_script(lua.FAULTS_NEXT)
        self._read_instant = self.redis.register_script(lua.READ_INSTANT)
        #: a read request's clock, "any rules?" and fault rate, read together (read_instant)
        self._instant = threading.local()
        #: the jobs read lately in read instants, by id: the bytes read and the Job parsed
        #: from them. A job is read from Redis at every request (another host may have
        #: changed it) but parsed again only when its bytes changed. Within read instants the
        #: Job is shared, as SQLiteStore's memo shares it there (a request never changes a
        #: Job it got: a change is a copy, stored with replace_job); outside, a copy each time
        self._parsed: dict[str, tuple[bytes, Job]] = {}
        #: what read instants read, remembered until Redis says it changed (redis_tracking)
        pool = self.redis.connection_pool
        self._tracked = TrackedReads(
            lambda: pool.connection_class(**{**pool.connection_kwargs, "protocol": 3}),
            [self._key(name) for name in ("clock", "rules", "faults")] + [self._key("job", "")],
            settle=self.redis.ping,
        )

    @staticmethod
    def _key(*parts: str) -> str:
        return PREFIX + ":".join(parts)

    def _index_key(self, index: tuple[str, ...]) -> str:
        return self._key("index", *index)

    # ------------------------------------------------------------------ jobs

    def _written(self, job_id: str) -> None:
        """A job this thread wrote is no longer the one its read instant fetched."""
        seen = getattr(self._instant, "seen", None)
        if seen is not None and seen[2] == job_id:
            self._instant.seen = (seen[0], seen[1], None, None)

    def add(self, job: Job, image: bytes | None = None) -> None:
        self._written(job.id)
        seq = int(self.redis.incr(self._key("seq")))
        pipe = self.redis.pipeline(transaction=True)
        if job.image_key and image is not None:
            blob = self._key("blob", job.image_key)
            pipe.setnx(blob, image)
            pipe.incr(blob + ":refs")
        pipe.set(self._key("job", job.id), dumps_text(job.to_dict()))
        for index in job_indexes(job):
            pipe.zadd(self._index_key(index), {job.id: seq})
        if job.expires_at is not None:
            pipe.zadd(self._key("expiry"), {job.id: job.expires_at})
        with self._tracked.writing(self._key("job", job.id)):
            pipe.execute()

    @contextmanager
    def read_instant(self, job_hint: str | None = None) -> Iterator[None]:
        """A read request's block: the clock, whether any rule is in force and the job the
        request names (``job_hint``) are read in one round trip when it begins, instead of one
        each when the request needs them (a status poll took three round trips: rules, job,
        clock; now one command, ``lua.READ_INSTANT``)."""
        keys = [self._key("clock"), self._key("rules"), self._key("faults")]
        if job_hint is not None:
            keys.append(self._key("job", job_hint))
        outage = self.__dict__.get("_outage")
        # while the store is down, a poll probes Redis as any call does: one answered from
        # memory would tell the guard Redis answered (store_guard: "answers again")
        values = None if outage is not None and outage.down else self._tracked.lookup(keys)
        if values is None:  # not all remembered: read from Redis
            mark = self._tracked.begin(keys)
            try:
                values = self._read_instant(keys=keys)[: len(keys)]
            finally:
                self._tracked.fill(mark, keys, values)
        clock, rules, fault_rate, job = (*values, None)[:4]
        # (a missing value is a nil reply; ``or None`` also reads it right from a Redis that
        # would send Lua's false as a RESP3 boolean: none of the values can be empty)
        self._instant.seen = (clock or None, bool(rules), job_hint, job or None)
        self._instant.fault_rate = (fault_rate or None,)
        try:
            yield
        finally:
            self._instant.seen = self._instant.fault_rate = None

    def get(self, job_id: str) -> Job | None:
        seen = getattr(self._instant, "seen", None)
        if seen is not None and seen[2] == job_id:
            raw = seen[3]
        else:
            raw = self.redis.get(self._key("job", job_id))
        if not raw:
            return None
        if seen is None:  # outside a read instant a job read back is a copy of its own
            return Job.from_dict(json.loads(raw))
        parsed = self._parsed.get(job_id)
        if parsed is not None and parsed[0] == raw:
            return parsed[1]
        job = Job.from_dict(json.loads(raw))
        if len(self._parsed) >= PARSED_JOBS:
            self._parsed.clear()
        self._parsed[job_id] = (raw, job)
        return job

    def replace_job(self, job: Job) -> bool:
        self._written(job.id)
        body = dumps_text(job.to_dict())
        with self._tracked.writing(self._key("job", job.id)):
            return bool(self.redis.set(self._key("job", job.id), body, xx=True))

    def delete(self, job_id: str) -> bool:
        job = self.get(job_id)
        if job is None:
            return False
        keys = [self._key("job", job_id), self._key("expiry")]
        keys += [self._index_key(index) for index in job_indexes(job)]
        seq = self.redis.zscore(self._index_key(("all",)), job_id)
        blob = self._key("blob", job.image_key) if job.image_key else ""
        self._written(job_id)
        with self._tracked.writing(keys[0]):
            deleted = bool(self._delete(keys=keys, args=[job_id, blob]))
        if deleted and seq is not None:  # a cursor naming a deleted job still knows its place
            self.redis.set(self._key("gone", job_id), int(seq), ex=GRAVEYARD_SECONDS)
        return deleted

    def page(
        self,
        filters: Filters,
        *,
        order: str = "desc",
        after: str | None = None,
        limit: int = 100,
        scan: int | None = None,
    ) -> Page:
        index = self._index_key(filters.index())
        position: float | None = None
        if after is not None:
            position = self.redis.zscore(self._index_key(("all",)), after)
            if position is None:
                gone = self.redis.get(self._key("gone", after))
                if gone is None:
                    return Page([], False, None)
                position = float(gone)
        chunk = min(limit + 1, 500) if filters.where is None else 500
        ascending = order == "asc"

        def walk() -> Iterator[Job]:
            nonlocal position
            while True:
                if ascending:
                    low = "-inf" if position is None else f"({position}"
                    ids = self.redis.zrangebyscore(index, low, "+inf", start=0, num=chunk)
                else:
                    high = "+inf" if position is None else f"({position}"
                    ids = self.redis.zrevrangebyscore(index, high, "-inf", start=0, num=chunk)
                if not ids:
                    return
                bodies = self.redis.mget([self._key("job", i.decode()) for i in ids])
                for body in bodies:
                    if body is not None:  # deleted since the range was read
                        yield Job.from_dict(json.loads(body))
                if len(ids) < chunk:
                    return
                position = self.redis.zscore(index, ids[-1])
                if position is None:  # deleted since the range was read: its place is known
                    gone = self.redis.get(self._key("gone", ids[-1].decode()))
                    if gone is None:
                        return
                    position = float(gone)

        return take_page(walk(), filters, limit, scan)

    def stats(self) -> dict[str, int]:
        jobs = int(self.redis.zcard(self._index_key(("all",))))
        images = [
            k
            for k in self.redis.scan_iter(match=self._key("blob", "image:*"))
            if not k.endswith(b":refs")
        ]
        size = sum(int(self.redis.strlen(k)) for k in images)
        return {"jobs": jobs, "images": len(images), "image_bytes": size}

    def expired(self, now: float, limit: int) -> list[str]:
        ids = self.redis.zrangebyscore(self._key("expiry"), "-inf", now, start=0, num=limit)
        return [i.decode() for i in ids]

    # ------------------------------------------------------------------ blobs

    def put_blob(self, key: str, data: bytes, *, replace: bool = False) -> None:
        if replace:
            self.redis.set(self._key("blob", key), data)
        elif self.redis.setnx(self._key("blob", key), data) and key.startswith("file:"):
            # uploaded files in upload order (a sequence shared by every host), for the quota
            self.redis.zadd(self._key("files"), {key: int(self.redis.incr(self._key("fileseq")))})

    def get_blob(self, key: str) -> bytes | None:
        data = self.redis.get(self._key("blob", key))
        return bytes(data) if data is not None else None

    def delete_blob(self, key: str) -> bool:
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(self._key("blob", key))
        pipe.zrem(self._key("files"), key)
        deleted, _ = pipe.execute()
        return bool(deleted)

    def files(self) -> list[tuple[str, int]]:
        keys = [k.decode() for k in self.redis.zrange(self._key("files"), 0, -1)]
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.strlen(self._key("blob", key))
        return [(k, int(n)) for k, n in zip(keys, pipe.execute(), strict=True) if n]

    # ------------------------------------------------------------------ clock

    def clock_init(self, start: float) -> float:
        with self._tracked.writing(self._key("clock")):
            self.redis.set(self._key("clock"), repr(start), nx=True)
        return self.clock_get(start)

    def clock_get(self, default: float) -> float:
        seen = getattr(self._instant, "seen", None)
        raw = seen[0] if seen is not None else self.redis.get(self._key("clock"))
        return float(raw) if raw is not None else default

    def clock_advance(self, seconds: float, default: float) -> float:
        with self._tracked.writing(self._key("clock")):
            return float(
                self._clock_advance(keys=[self._key("clock")], args=[repr(seconds), repr(default)])
            )

    # ------------------------------------------------------------------ rules

    def add_rule(
        self, scenario: str, key: str | None, provider: str | None, remaining: int | None
    ) -> Rule:
        rule = Rule(int(self.redis.incr(self._key("rule-seq"))), scenario, key, provider, remaining)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self._key("rules"), str(rule.id), dumps_text(rule.to_dict()))
        pipe.zadd(self._key("rule-order"), {str(rule.id): rule.id})
        with self._tracked.writing(self._key("rules")):
            pipe.execute()
        return rule

    def rules(self) -> list[Rule]:
        ids = self.redis.zrange(self._key("rule-order"), 0, -1)
        if not ids:
            return []
        raw = self.redis.hmget(self._key("rules"), ids)
        return [Rule(**json.loads(r)) for r in raw if r is not None]

    def clear_rules(self, key: str | None = None) -> int:
        removed = 0
        for rule in self.rules():
            if key is None or rule.key == key:
                pipe = self.redis.pipeline(transaction=True)
                pipe.hdel(self._key("rules"), str(rule.id))
                pipe.zrem(self._key("rule-order"), str(rule.id))
                with self._tracked.writing(self._key("rules")):
                    removed += int(pipe.execute()[0])
        return removed

    def remove_rule(self, rule_id: int) -> Rule | None:
        raw = self.redis.hget(self._key("rules"), str(rule_id))
        if raw is None:
            return None
        pipe = self.redis.pipeline(transaction=True)
        pipe.hdel(self._key("rules"), str(rule_id))
        pipe.zrem(self._key("rule-order"), str(rule_id))
        with self._tracked.writing(self._key("rules")):
            removed = pipe.execute()[0]
        # a request that used the rule up in between removed it first: not ours to report
        return Rule(**json.loads(raw)) if removed else None

    def take_rule(self, key: str | None, provider: str) -> str | None:
        seen = getattr(self._instant, "seen", None)
        if not (seen[1] if seen is not None else self.redis.exists(self._key("rules"))):
            return None
        with self._tracked.writing(self._key("rules")):
            taken = self._take_rule(
                keys=[self._key("rule-order"), self._key("rules")], args=[key or "", provider]
            )
        return taken.decode() if taken else None

    # ------------------------------------------------------------------ counters, journal

    def take_token(self, key: str, capacity: float, per_second: float, now: float) -> float:
        wait = self._take_token(
            keys=[self._key("bucket", key)], args=[repr(capacity), repr(per_second), repr(now)]
        )
        return float(wait)

    def next_count(self, name: str) -> int:
        return int(self.redis.incr(self._key("count", name)))

    def faults_setting(self) -> tuple[float, int] | None:
        rate, seed = self.redis.hmget(self._key("faults"), "rate", "seed")
        return (float(rate), int(seed)) if rate is not None else None

    def faults_restart(self, rate: float, seed: int) -> None:
        with self._tracked.writing(self._key("faults")):
            self.redis.hset(
                self._key("faults"), mapping={"rate": repr(rate), "seed": str(seed), "drawn": 0}
            )

    def faults_next(self, rate: float, seed: int) -> tuple[float, int, int] | None:
        seen = getattr(self._instant, "fault_rate", None)
        if seen is not None and float(seen[0] if seen[0] is not None else rate) <= 0:
            return None  # the read instant's round trip said: no fault rate in force
        with self._tracked.writing(self._key("faults")):
            taken = self._faults_next(keys=[self._key("faults")], args=[repr(rate), str(seed)])
        if not taken:
            return None
        return float(taken[0]), int(taken[1]), int(taken[2])

    def journal_add(self, *entries: dict[str, Any]) -> None:
        if not entries:
            return
        pipe = self.redis.pipeline(transaction=False)
        pipe.rpush(self._key("journal"), *(dumps_text(e) for e in entries))
        pipe.ltrim(self._key("journal"), -self.journal_size, -1)
        pipe.execute()

    def journal(self, limit: int) -> list[dict[str, Any]]:
        limit = max(0, min(limit, self.journal_size))
        if limit == 0:
            return []
        return [json.loads(e) for e in self.redis.lrange(self._key("journal"), -limit, -1)]

    # ------------------------------------------------------------------ lifetime

    def reset(self) -> None:
        batch: list[bytes] = []
        with self._tracked.writing():  # (every key)
            for key in self.redis.scan_iter(match=PREFIX + "*", count=1000):
                batch.append(key)
                if len(batch) == 1000:
                    self.redis.unlink(*batch)
                    batch.clear()
            if batch:
                self.redis.unlink(*batch)

    def close(self) -> None:
        self._tracked.close()
        self.redis.close()

    # ------------------------------------------------------------------ webhooks owed

    def _hook_scripts(self) -> dict[str, Any]:
        scripts: dict[str, Any] | None = self.__dict__.get("_webhook_scripts")
        if scripts is None:
            scripts = self.__dict__["_webhook_scripts"] = {
                "claim": self.redis.register_script(lua.WEBHOOK_CLAIM),
                "settle": self.redis.register_script(lua.WEBHOOK_SETTLE),
                "next_due": self.redis.register_script(lua.WEBHOOK_NEXT_DUE),
            }
        return scripts

    def webhook_put(self, job_id: str, record: dict[str, Any], due: float) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(self._key("webhook", job_id))
        pipe.hset(
            self._key("webhook", job_id),
            mapping={"record": dumps_text(record), "due": repr(due), "lease": "0", "token": ""},
        )
        pipe.zadd(self._key("webhooks"), {job_id: due})
        pipe.execute()

    def webhook_claim(
        self, now: float, wall: float, until: float, token: str, limit: int
    ) -> list[dict[str, Any]]:
        taken = self._hook_scripts()["claim"](
            keys=[self._key("webhooks")],
            args=[repr(now), repr(wall), repr(until), token, str(limit), self._key("webhook", "")],
        )
        return [json.loads(record) for record in taken]

    def webhook_settle(
        self, job_id: str, record: dict[str, Any], due: float | None, token: str
    ) -> bool:
        done = self._hook_scripts()["settle"](
            keys=[self._key("webhook", job_id), self._key("webhooks")],
            args=[token, dumps_text(record), "" if due is None else repr(due), job_id],
        )
        return bool(done)

    def webhook_get(self, job_id: str) -> dict[str, Any] | None:
        record, due = self.redis.hmget(self._key("webhook", job_id), "record", "due")
        if record is None:
            return None
        found: dict[str, Any] = json.loads(record)
        found.update(due=float(due) if due else None, open=bool(due))
        return found

    def webhook_next_due(self, wall: float) -> float | None:
        due = self._hook_scripts()["next_due"](
            keys=[self._key("webhooks")], args=[repr(wall), self._key("webhook", "")]
        )
        return float(due) if due else None

    def webhook_clear(self) -> None:
        ids = self.redis.zrange(self._key("webhooks"), 0, -1)
        keys = [self._key("webhook", i.decode() if isinstance(i, bytes) else i) for i in ids]
        for key in self.redis.scan_iter(match=self._key("webhook", "*"), count=1000):
            keys.append(key)
        self.redis.delete(self._key("webhooks"), *keys)

    def webhook_forget(self, job_ids: list[str]) -> None:
        if not job_ids:
            return
        pipe = self.redis.pipeline(transaction=False)
        pipe.delete(*(self._key("webhook", job_id) for job_id in job_ids))
        pipe.zrem(self._key("webhooks"), *job_ids)
        pipe.execute()
