"""Prometheus metrics of the mock: ``GET /metrics`` in the text exposition format.

One view of the whole server however many workers: under ``sora-mock serve`` every worker
writes its counters to memory-mapped files in a directory of the server run
(prometheus-client's multiprocess mode, ``$PROMETHEUS_MULTIPROC_DIR``, set by
``serving.serve`` before the app is built and the workers forked; removed with the run), and a
scrape, whichever worker answers it, sums every worker's files, those of workers that died
included. An app built in-process (tests, ``sora_mock`` fixtures) keeps them in its own
registry. What is computed at scrape time (jobs by status) comes from the store, which every
worker shares already.

Label values are bounded: a provider prefix, a contract operation id, an HTTP status, a
scenario name, a media variant; never a job id, a path or a key. A request costs one append
to a deque (``observe_request``); a thread per worker adds them to the metrics every
``FLUSH_SECONDS`` while requests come (measured in ARCHITECTURE.md).
"""

from __future__ import annotations

import atexit
import glob
import logging
import math
import os
import threading
import time
import weakref
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Hashable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from mockserver.state.faults import Scenario

if TYPE_CHECKING:
    from mockserver.state.clock import Clock
    from mockserver.state.store import Store


class JobSource(Protocol):
    """Where a scrape counts jobs: the mock's clock and store (``MockService`` is one)."""

    @property
    def clock(self) -> Clock: ...

    @property
    def store(self) -> Store: ...


log = logging.getLogger("mockserver")

#: the environment variable prometheus-client's multiprocess mode reads
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: the classic text format (0.0.4) every Prometheus reads; prometheus-client 0.26's
#: CONTENT_TYPE_LATEST names 1.0.0, which scrapers before Prometheus 3 do not know
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
#: jobs a scrape reads at most to count them by status (the newest first): a scrape of a
#: store holding millions of jobs stays bounded; ``sora_mock_jobs_scan_truncated`` says when
#: there are more
JOB_SCAN_LIMIT = 10_000
#: seconds: a poll answers in well under a millisecond, a create with an image in tens
REQUEST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
#: seconds: a thumbnail takes milliseconds, a 12 s 1080p video tens of seconds
RENDER_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
#: the media variants a render label may name (anything else is "other")
VARIANTS = frozenset({"video", "thumbnail", "spritesheet"})
#: requests a worker has answered reach the metrics at most this late (a scrape's own
#: worker's at once): a request then costs no write to the multiprocess files
FLUSH_SECONDS = 0.05
#: how often a sleeping flusher checks that its app still exists
IDLE_CHECK_SECONDS = 1.0
#: a label for "none" (a request bound to no provider or operation, with no scenario)
NONE = ""
#: scenario labels: the scenarios' own names; a replayed answer is "replay" (its cassette's
#: name is no label: there may be thousands), anything else "other"
_SCENARIOS = frozenset(s.value for s in Scenario)


def prepare_multiprocess(directory: str | os.PathLike[str]) -> None:
    """Make this process (and every worker it forks or spawns) write its metrics to files in
    ``directory``, a directory of this server run: created empty here (a stale file of an
    earlier run would be summed in). Call before the app is built."""
    path = os.fspath(directory)
    os.makedirs(path, exist_ok=True)
    for stale in glob.glob(os.path.join(path, "*.db")):
        os.remove(stale)
    os.environ[MULTIPROC_ENV] = path


def end_multiprocess(previous: str | None) -> None:
    """A server run in this process ended: its directory is gone (``previous``: the value
    ``$PROMETHEUS_MULTIPROC_DIR`` had before it)."""
    if previous is None:
        os.environ.pop(MULTIPROC_ENV, None)
    else:
        os.environ[MULTIPROC_ENV] = previous


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


class Metrics:
    """Every metric of one app; ``service`` gives the store a scrape counts jobs in."""

    def __init__(self, service: JobSource | None = None) -> None:
        self.service = service
        self.directory = multiprocess_dir()
        # prometheus-client picks its value class when first imported; the directory is set
        # after that (serving.serve sets it once the modules are loaded) and unset when a
        # server run in this process ends (tests): each app's metrics follow the directory
        multiprocess = getattr(values.ValueClass, "_multiprocess", False)
        if self.directory is not None and not multiprocess:
            values.ValueClass = values.MultiProcessValue()
        elif self.directory is None and multiprocess:
            values.ValueClass = values.MutexValue
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "sora_mock_requests",
            "Requests answered, by provider, contract operation, HTTP status and scenario",
            ("provider", "operation", "status", "scenario"),
            registry=r,
        )
        self.latency = Histogram(
            "sora_mock_request_duration_seconds",
            "Time from a request's start to its answer, by provider and contract operation",
            ("provider", "operation"),
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self.renders = Counter(
            "sora_mock_renders",
            "Media rendered (not found in any cache), by variant and outcome",
            ("variant", "outcome"),
            registry=r,
        )
        self.render_seconds = Histogram(
            "sora_mock_render_duration_seconds",
            "Time one render took, by variant",
            ("variant",),
            buckets=RENDER_BUCKETS,
            registry=r,
        )
        self.render_queue = Gauge(
            "sora_mock_render_queue_depth",
            "Background renders queued or under way, in every live worker",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.store_errors = Counter(
            "sora_mock_store_errors",
            "Store operations that failed, by where the failure surfaced",
            ("where",),
            registry=r,
        )
        self.faults = Counter(
            "sora_mock_faults_injected",
            "Scenarios that shaped an answer, by scenario and source (header, rule, random)",
            ("scenario", "source"),
            registry=r,
        )
        #: each series' values by label values: a dict look-up instead of ``labels()``
        self._request_children: dict[tuple[str, str, int, str], _RequestSeries] = {}
        #: requests noted but not yet added to the metrics (``FLUSH_SECONDS`` at most): a
        #: deque, whose append needs no lock of ours
        self._noted: deque[tuple[tuple[str, str, int, str], float]] = deque()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._flusher_started = False
        self._flusher_asleep = False
        _live.add(self)

    # ------------------------------------------------------------------ hooks

    def observe_request(
        self,
        provider: str | None,
        operation: str | None,
        status: int,
        scenario: str | None,
        seconds: float,
    ) -> None:
        """One request answered (``exchange.finish``: every request, Flask's and the lane's).
        ``provider`` and ``operation`` must be bound values (a prefix the mock serves and a
        contract operation id, or None), never a path.

        Noted in memory, added to the metrics in batches (``flush``): a request costs one
        append, not three writes to the multiprocess files (ARCHITECTURE.md)."""
        if scenario is not None and scenario not in _SCENARIOS:
            scenario = "replay" if scenario.startswith("replay") else "other"
        self._noted.append(
            ((provider or NONE, operation or NONE, status, scenario or NONE), seconds)
        )
        if not self._flusher_started or self._flusher_asleep:
            self._wake_flusher()

    def flush(self) -> None:
        """Add the requests noted so far to the metrics (the flusher does it every
        ``FLUSH_SECONDS`` while requests come; a scrape does it first in its own worker)."""
        noted = self._noted
        with self._flush_lock:  # batches are added one at a time
            batch: dict[tuple[str, str, int, str], list[Any]] = {}
            while True:
                try:
                    key, seconds = noted.popleft()
                except IndexError:
                    break
                entry = batch.get(key)
                if entry is None:
                    entry = batch[key] = [0, 0.0, [0] * len(_REQUEST_BOUNDS)]
                entry[0] += 1
                entry[1] += seconds
                entry[2][bisect_left(_REQUEST_BOUNDS, seconds)] += 1
            for key, (count, total, buckets) in batch.items():
                series = self._request_children.get(key)
                if series is None:
                    series = self._request_children[key] = _RequestSeries(
                        self.requests.labels(key[0], key[1], str(key[2]), key[3]),
                        self.latency.labels(key[0], key[1]),
                    )
                # what Counter.inc and Histogram.observe do, for a whole batch
                series.count.inc(count)
                series.sum.inc(total)
                for bucket, n in zip(series.buckets, buckets, strict=True):
                    if n:
                        bucket.inc(n)

    def _wake_flusher(self) -> None:
        with self._flush_lock:
            if not self._flusher_started:  # this process's own: threads do not survive a fork
                self._flusher_started = True
                threading.Thread(
                    target=_flush_now_and_then,
                    args=(weakref.ref(self),),
                    name="metrics-flush",
                    daemon=True,
                ).start()
        self._flusher_asleep = False
        self._wake.set()

    def _forked(self) -> None:
        """(in a forked child) The parent's flusher is not here, nor are its notes."""
        self._noted = deque()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._flusher_started = False
        self._flusher_asleep = False

    def fault_injected(self, scenario: str, source: str) -> None:
        self.faults.labels(scenario, source).inc()

    def store_error(self, where: str) -> None:
        self.store_errors.labels(where).inc()

    def unexpected_error(self, exc: BaseException) -> None:
        """A request failed with ``exc``: counted as a store error when the store raised it
        (its type is the database driver's: SQLite's or Redis')."""
        if type(exc).__module__.startswith(("sqlite3", "redis")):
            self.store_error("request")

    def render_queue_depth(self, depth: int) -> None:
        self.render_queue.set(depth)

    def timed_render(self, key: Hashable, render: Callable[[], bytes]) -> Callable[[], bytes]:
        """``render`` counted and timed when it runs (a cache hit never calls it)."""
        variant = key[-1] if isinstance(key, tuple) and key and key[-1] in VARIANTS else "other"

        def timed() -> bytes:
            started = time.perf_counter()
            try:
                data = render()
            except BaseException:
                self.renders.labels(variant, "error").inc()
                raise
            self.render_seconds.labels(variant).observe(time.perf_counter() - started)
            self.renders.labels(variant, "ok").inc()
            return data

        return timed

    # ------------------------------------------------------------------ scrape

    def exposition(self) -> bytes:
        """The text exposition of every metric, of every worker of this server run."""
        self.flush()
        registry = CollectorRegistry(auto_describe=False)
        if self.directory is not None:
            forget_dead_workers(self.directory)
            MultiProcessCollector(registry, path=self.directory)
        else:
            registry.register(_Registered(self.registry))
        if self.service is not None:
            registry.register(JobsCollector(self.service))
        return generate_latest(registry)


#: the request histogram's upper bounds, +Inf last (as prometheus-client keeps its buckets)
_REQUEST_BOUNDS = (*REQUEST_BUCKETS, math.inf)


class _RequestSeries:
    """The value objects one request adds to: its count, its latency's sum and bucket."""

    __slots__ = ("count", "sum", "buckets")

    def __init__(self, counter: Any, histogram: Any) -> None:
        self.count = counter._value
        self.sum = histogram._sum
        self.buckets = histogram._buckets
        # prometheus-client's layout, relied on here: one value per bound, +Inf last
        if list(histogram._upper_bounds) != list(_REQUEST_BOUNDS):
            raise RuntimeError("prometheus-client's histogram layout changed")


#: every Metrics of this process, told when it forks
_live: weakref.WeakSet[Metrics] = weakref.WeakSet()


def _after_fork() -> None:
    for metrics in list(_live):
        metrics._forked()


os.register_at_fork(after_in_child=_after_fork)


def _flush_now_and_then(ref: weakref.ref[Metrics]) -> None:
    """A process's flusher: adds the requests noted every ``FLUSH_SECONDS`` while they come,
    sleeps while none do, and ends with its app (it holds it only weakly: an app built per
    test must not live on in its flusher)."""
    while True:
        time.sleep(FLUSH_SECONDS)  # gather a batch
        metrics = ref()
        if metrics is None:
            return
        metrics._wake.clear()  # awake: only a sleeping flusher is woken
        if metrics._noted:
            try:
                metrics.flush()
            except Exception:  # noqa: BLE001 - metrics never stop the mock
                log.exception("adding requests to the metrics failed")
            del metrics
            continue
        # idle: sleep until a request wakes us (it sees the flag after its append; one that
        # appended before the flag was set is seen by the check below)
        metrics._flusher_asleep = True
        if metrics._noted:
            metrics._flusher_asleep = False
            del metrics
            continue
        wake = metrics._wake
        del metrics
        while not wake.wait(IDLE_CHECK_SECONDS):
            if ref() is None:
                return
        wake.clear()


@atexit.register
def _flush_at_exit() -> None:
    """A worker that stops adds what it noted last."""
    for metrics in list(_live):
        metrics.flush()


def forget_dead_workers(directory: str) -> None:
    """Drop the live gauges (the render queue) of workers that are gone (killed, respawned):
    their counters stay, summed in, but a dead worker has no queue."""
    from mockserver.state.store_journal import process_alive  # the one check of a process's life

    for path in glob.glob(os.path.join(directory, "gauge_live*_*.db")):
        pid = int(path.rsplit("_", 1)[1].removesuffix(".db"))
        if not process_alive(pid):
            mark_process_dead(pid, directory)


class _Registered:
    """An app's own registry, collected into the scrape's."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Any]:
        return iter(self.registry.collect())


class JobsCollector:
    """Jobs by status, computed at scrape time from the store (shared by every worker) and
    the mock's clock: the newest ``JOB_SCAN_LIMIT`` jobs are read, a bounded scan."""

    def __init__(self, service: JobSource, limit: int = JOB_SCAN_LIMIT) -> None:
        self.service = service
        self.limit = limit

    def collect(self) -> Iterator[Any]:
        from mockserver.state.lifecycle import Status, state_at
        from mockserver.state.store import Filters

        service = self.service
        now = service.clock.now()
        counts = dict.fromkeys((s.value for s in Status), 0)
        after: str | None = None
        seen = 0
        more = False
        while seen < self.limit:
            page = service.store.page(
                Filters(), order="desc", after=after, limit=min(1000, self.limit - seen)
            )
            for job in page.jobs:
                if not job.expired(now):
                    counts[state_at(job, now).status.value] += 1
            seen += len(page.jobs)
            more = page.has_more
            if not page.has_more or page.cursor is None:
                break
            after = page.cursor
        jobs = GaugeMetricFamily(
            "sora_mock_jobs",
            f"Jobs by status on the mock's clock (the newest {self.limit} jobs at most)",
            labels=("status",),
        )
        for status, count in counts.items():
            jobs.add_metric((status,), count)
        yield jobs
        # not the store's total: counting every job (or, in Redis, every image its stats
        # walk) would make a scrape's cost grow with the store
        yield GaugeMetricFamily(
            "sora_mock_jobs_scan_truncated",
            f"1 when the store holds more jobs than the {self.limit} newest sora_mock_jobs counts",
            value=1 if more else 0,
        )
