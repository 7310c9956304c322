"""What ``mockserver/state/metrics.py`` counts and how, on a ``Metrics`` built in each test (no
app): the catalogue a scrape shows (README's table), a batch of requests added exactly as one by
one, bounded labels, renders timed by variant, store errors told from bugs, jobs by status in
bounded pages, and a server run's multiprocess directory set up, summed and left behind."""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import values
from prometheus_client.parser import text_string_to_metric_families

from mockserver.state import metrics as metrics_module
from mockserver.state.lifecycle import Job
from mockserver.state.metrics import (
    JOB_SCAN_LIMIT,
    MULTIPROC_ENV,
    REQUEST_BUCKETS,
    JobsCollector,
    Metrics,
    end_multiprocess,
    multiprocess_dir,
    prepare_multiprocess,
)
from mockserver.state.store import MemoryStore

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(autouse=True)
def _in_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts (and leaves the process) outside any server run's directory."""
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    before = values.ValueClass
    values.ValueClass = values.MutexValue
    yield
    values.ValueClass = before


def parse(text: bytes) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
    }


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


REQUEST = {"provider": "gptge", "operation": "getVideo"}


# ------------------------------------------------------------------ the catalogue


def test_a_scrape_shows_each_metric_of_the_readme_with_its_type_help_and_labels() -> None:
    """The names, types and labels are README's table; the help is what Grafana shows."""
    metrics = Metrics()
    metrics.observe_request("gptge", "getVideo", 200, None, 0.001)
    metrics.timed_render(("k", "video"), lambda: b"v")()
    metrics.store_error("journal")
    metrics.fault_injected("slow", "header")
    families = {
        f.name: (f.type, f.documentation, sorted({k for s in f.samples for k in s.labels}))
        for f in text_string_to_metric_families(metrics.exposition().decode())
        if not f.name.endswith("_created")  # prometheus-client's creation times
    }
    assert families == {
        "sora_mock_requests": (
            "counter",
            "Requests answered, by provider, contract operation, HTTP status and scenario",
            ["operation", "provider", "scenario", "status"],
        ),
        "sora_mock_request_duration_seconds": (
            "histogram",
            "Time from a request's start to its answer, by provider and contract operation",
            ["le", "operation", "provider"],
        ),
        "sora_mock_renders": (
            "counter",
            "Media rendered (not found in any cache), by variant and outcome",
            ["outcome", "variant"],
        ),
        "sora_mock_render_duration_seconds": (
            "histogram",
            "Time one render took, by variant",
            ["le", "variant"],
        ),
        "sora_mock_render_queue_depth": (
            "gauge",
            "Background renders queued or under way, in every live worker",
            [],
        ),
        "sora_mock_store_errors": (
            "counter",
            "Store operations that failed, by where the failure surfaced",
            ["where"],
        ),
        "sora_mock_faults_injected": (
            "counter",
            "Scenarios that shaped an answer, by scenario and source (header, rule, random)",
            ["scenario", "source"],
        ),
    }


def test_the_request_histogram_has_the_buckets_a_poll_and_a_create_need() -> None:
    metrics = Metrics()
    metrics.observe_request("gptge", "getVideo", 200, None, 0.001)
    metrics.flush()
    bounds = [
        float(s.labels["le"])
        for f in metrics.registry.collect()
        for s in f.samples
        if s.name == "sora_mock_request_duration_seconds_bucket"
    ]
    assert bounds == [*REQUEST_BUCKETS, float("inf")]
    render = Metrics()
    render.timed_render(("video",), lambda: b"")()
    render_bounds = [
        float(s.labels["le"])
        for f in render.registry.collect()
        for s in f.samples
        if s.name == "sora_mock_render_duration_seconds_bucket"
    ]
    assert render_bounds == [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, float("inf")]


# ------------------------------------------------------------------ requests


def test_a_batch_of_requests_adds_up_as_if_each_were_observed_alone() -> None:
    metrics = Metrics()
    for seconds in (0.0004, 0.0005, 0.003, 0.003, 7.0, 11.0):
        metrics.observe_request("gptge", "getVideo", 200, None, seconds)
    metrics.observe_request("gptge", "getVideo", 404, None, 0.002)
    metrics.observe_request("vtrix", "createTask", 200, "slow", 0.2)
    metrics.flush()
    count = "sora_mock_requests_total"
    assert sample(metrics, count, **REQUEST, status="200", scenario="") == 6
    assert sample(metrics, count, **REQUEST, status="404", scenario="") == 1
    assert (
        sample(
            metrics, count, provider="vtrix", operation="createTask", status="200", scenario="slow"
        )
        == 1
    )
    bucket = "sora_mock_request_duration_seconds_bucket"
    # cumulative, and a value on a bound falls in that bound's bucket
    expected = {"0.0005": 2, "0.001": 2, "0.0025": 3, "0.005": 5, "5.0": 5, "10.0": 6, "+Inf": 7}
    for le, n in expected.items():
        assert sample(metrics, bucket, **REQUEST, le=le) == n, le
    assert sample(metrics, "sora_mock_request_duration_seconds_count", **REQUEST) == 7
    assert sample(metrics, "sora_mock_request_duration_seconds_sum", **REQUEST) == pytest.approx(
        0.0004 + 0.0005 + 0.003 + 0.003 + 7.0 + 11.0 + 0.002
    )
    # the next batch adds to the same series
    metrics.observe_request("gptge", "getVideo", 200, None, 0.003)
    metrics.flush()
    assert sample(metrics, count, **REQUEST, status="200", scenario="") == 7
    assert sample(metrics, bucket, **REQUEST, le="0.005") == 6
    metrics.flush()  # nothing noted: nothing added
    assert sample(metrics, count, **REQUEST, status="200", scenario="") == 7


def test_a_request_bound_to_no_provider_or_operation_is_labelled_empty() -> None:
    metrics = Metrics()
    metrics.observe_request(None, None, 200, None, 0.001)
    metrics.flush()
    labels = {"provider": "", "operation": "", "status": "200", "scenario": ""}
    assert sample(metrics, "sora_mock_requests_total", **labels) == 1


@pytest.mark.parametrize(
    ("scenario", "label"),
    [
        ("rate_limited", "rate_limited"),
        ("model_unavailable", "model_unavailable"),
        ("replay", "replay"),
        ("replay video_abc (mismatch)", "replay"),
        ("a-cassette-name", "other"),
        ("Rate_Limited", "other"),
        ("", "other"),
    ],
)
def test_a_scenario_label_is_a_scenarios_name_replay_or_other(scenario: str, label: str) -> None:
    metrics = Metrics()
    metrics.observe_request("gptge", "getVideo", 429, scenario, 0.001)
    metrics.flush()
    labels = REQUEST | {"status": "429", "scenario": label}
    assert sample(metrics, "sora_mock_requests_total", **labels) == 1


def test_a_scrape_adds_what_its_own_worker_noted_first() -> None:
    metrics = Metrics()
    metrics.observe_request("gptge", "getVideo", 200, None, 0.001)
    samples = parse(metrics.exposition())
    labels = frozenset((REQUEST | {"status": "200", "scenario": ""}).items())
    assert samples[("sora_mock_requests_total", labels)] == 1


def test_the_flusher_is_started_once_and_woken_only_when_asleep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[Any] = []

    class Thread:
        def __init__(self, **kwargs: Any) -> None:
            started.append(kwargs)

        def start(self) -> None:
            pass

    monkeypatch.setattr(metrics_module.threading, "Thread", Thread)
    metrics = Metrics()
    metrics.observe_request("gptge", "getVideo", 200, None, 0.001)
    metrics.observe_request("gptge", "getVideo", 200, None, 0.001)
    assert len(started) == 1
    assert started[0]["name"] == "metrics-flush" and started[0]["daemon"] is True
    assert started[0]["target"] is metrics_module._flush_now_and_then
    assert started[0]["args"][0]() is metrics
    assert metrics._wake.is_set()
    metrics._wake.clear()
    metrics.observe_request("gptge", "getVideo", 200, None, 0.001)
    assert not metrics._wake.is_set(), "an awake flusher is not woken again"
    metrics._flusher_asleep = True
    metrics.observe_request("gptge", "getVideo", 200, None, 0.001)
    assert metrics._wake.is_set() and not metrics._flusher_asleep
    assert len(started) == 1


def test_a_forked_worker_starts_its_own_flusher_with_nothing_noted() -> None:
    metrics = Metrics()
    metrics.observe_request("gptge", "getVideo", 200, None, 0.001)
    lock, wake = metrics._flush_lock, metrics._wake
    metrics._flusher_asleep = True
    metrics_module._after_fork()
    assert len(metrics._noted) == 0
    assert metrics._flush_lock is not lock and not metrics._flush_lock.locked()
    assert metrics._wake is not wake and not metrics._wake.is_set()
    assert (metrics._flusher_started, metrics._flusher_asleep) == (False, False)


def test_a_worker_that_exits_adds_what_it_noted_last() -> None:
    metrics = Metrics()
    metrics._flusher_started = True  # a flusher that has not run yet
    metrics._noted.append(((*REQUEST.values(), 200, ""), 0.001))  # type: ignore[arg-type]
    metrics_module._flush_at_exit()
    labels = REQUEST | {"status": "200", "scenario": ""}
    assert sample(metrics, "sora_mock_requests_total", **labels) == 1


def test_a_prometheus_client_with_another_histogram_layout_is_refused() -> None:
    histogram = SimpleNamespace(_sum=None, _buckets=[], _upper_bounds=[0.1, float("inf")])
    with pytest.raises(RuntimeError) as refused:
        metrics_module._RequestSeries(SimpleNamespace(_value=None), histogram)
    assert str(refused.value) == "prometheus-client's histogram layout changed"


# ------------------------------------------------------------------ renders, errors, faults


@pytest.mark.parametrize(
    ("key", "variant"),
    [
        (("image:a", "720x1280", "4s", "video"), "video"),
        (("image:a", "720x1280", "", "thumbnail"), "thumbnail"),
        (("image:a", "spritesheet"), "spritesheet"),
        (("image:a", "poster"), "other"),
        ((), "other"),
        ("video", "other"),
    ],
)
def test_a_render_is_labelled_by_its_variant(key: Any, variant: str) -> None:
    metrics = Metrics()
    assert metrics.timed_render(key, lambda: b"bytes")() == b"bytes"
    assert sample(metrics, "sora_mock_renders_total", variant=variant, outcome="ok") == 1
    assert sample(metrics, "sora_mock_render_duration_seconds_count", variant=variant) == 1


def test_a_render_is_timed_by_how_long_it_took_and_a_failed_one_is_not_timed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ticks = iter([10.0, 12.5])
    # (the flusher threads of other tests' Metrics go on sleeping through the module's `time`)
    clock = SimpleNamespace(perf_counter=lambda: next(ticks), sleep=time.sleep)
    monkeypatch.setattr(metrics_module, "time", clock)
    metrics = Metrics()
    metrics.timed_render(("video",), lambda: b"v")()
    assert sample(metrics, "sora_mock_render_duration_seconds_sum", variant="video") == 2.5
    assert (
        sample(metrics, "sora_mock_render_duration_seconds_bucket", variant="video", le="2.5") == 1
    )
    assert (
        sample(metrics, "sora_mock_render_duration_seconds_bucket", variant="video", le="1.0") == 0
    )

    class Stop(BaseException):
        pass

    def interrupted() -> bytes:
        raise Stop

    clock.perf_counter = lambda: 0.0
    with pytest.raises(Stop):
        metrics.timed_render(("thumbnail",), interrupted)()
    assert sample(metrics, "sora_mock_renders_total", variant="thumbnail", outcome="error") == 1
    assert sample(metrics, "sora_mock_renders_total", variant="thumbnail", outcome="ok") == 0
    assert sample(metrics, "sora_mock_render_duration_seconds_count", variant="thumbnail") == 0


def test_a_failure_raised_by_the_store_driver_is_a_store_error_and_a_bug_is_not() -> None:
    import sqlite3

    import redis

    metrics = Metrics()
    metrics.unexpected_error(sqlite3.OperationalError("database is locked"))
    metrics.unexpected_error(redis.ConnectionError("gone"))
    metrics.unexpected_error(KeyError("a bug"))
    metrics.unexpected_error(RuntimeError("another"))
    assert sample(metrics, "sora_mock_store_errors_total", where="request") == 2
    metrics.store_error("journal")
    assert sample(metrics, "sora_mock_store_errors_total", where="journal") == 1


def test_faults_and_the_render_queue_are_what_they_were_told() -> None:
    metrics = Metrics()
    metrics.fault_injected("slow", "rule")
    metrics.fault_injected("slow", "rule")
    metrics.render_queue_depth(4)
    metrics.render_queue_depth(2)
    assert sample(metrics, "sora_mock_faults_injected_total", scenario="slow", source="rule") == 2
    assert sample(metrics, "sora_mock_render_queue_depth") == 2


# ------------------------------------------------------------------ jobs by status


def _service(store: MemoryStore, now: float) -> Any:
    return SimpleNamespace(store=store, clock=SimpleNamespace(now=lambda: now))


def _job(n: int, **fields: Any) -> Job:
    base: dict[str, Any] = dict(
        id=f"video_{n:05d}",
        api="gptge-videos",
        model="sora-2",
        prompt="p",
        width=720,
        height=1280,
        seconds=4,
        owner="key_x",
        created_at=float(n),
        queue_seconds=2.0,
        render_seconds=10.0,
    )
    return Job(**(base | fields))


def _collect(collector: JobsCollector) -> tuple[dict[str, float], float, str]:
    jobs, truncated = list(collector.collect())
    counts = {s.labels["status"]: s.value for s in jobs.samples}
    return counts, truncated.samples[0].value, jobs.documentation


def test_jobs_are_counted_by_their_status_now_and_expired_ones_not_at_all() -> None:
    store = MemoryStore()
    store.add(_job(1))  # created at 1: completed by 100
    store.add(_job(2, outcome="failed"))
    store.add(_job(3, expires_at=50.0))  # gone
    store.add(_job(95))  # in progress at 100 (queued 2 s, renders 10 s)
    store.add(_job(99))  # queued
    counts, truncated, help_text = _collect(JobsCollector(_service(store, 100.0)))
    assert counts == {"queued": 1, "in_progress": 1, "completed": 1, "failed": 1}
    assert truncated == 0
    assert help_text == "Jobs by status on the mock's clock (the newest 10000 jobs at most)"
    assert JOB_SCAN_LIMIT == 10_000


def test_jobs_are_read_in_pages_of_1000_up_to_the_bound() -> None:
    store = MemoryStore()
    for n in range(2600):
        store.add(_job(n, created_at=0.0))
    sizes: list[int] = []
    page = store.page

    def counting(*args: Any, **kwargs: Any) -> Any:
        found = page(*args, **kwargs)
        sizes.append(len(found.jobs))
        assert kwargs["order"] == "desc"
        return found

    store.page = counting  # type: ignore[method-assign]
    counts, truncated, help_text = _collect(JobsCollector(_service(store, 1000.0), limit=2500))
    assert sizes == [1000, 1000, 500]
    assert counts["completed"] == 2500 and truncated == 1
    assert "the newest 2500 jobs" in help_text
    sizes.clear()
    counts, truncated, _ = _collect(JobsCollector(_service(store, 1000.0), limit=2600))
    assert sizes == [1000, 1000, 600] and truncated == 0
    sizes.clear()
    counts, truncated, _ = _collect(JobsCollector(_service(store, 1000.0), limit=5000))
    assert sizes == [1000, 1000, 600] and truncated == 0
    assert counts["completed"] == 2600


def test_the_newest_jobs_are_the_ones_counted() -> None:
    store = MemoryStore()
    store.add(_job(1, outcome="failed"))  # the oldest
    store.add(_job(2))
    store.add(_job(3))
    counts, truncated, _ = _collect(JobsCollector(_service(store, 500.0), limit=2))
    assert counts == {"queued": 0, "in_progress": 0, "completed": 2, "failed": 0}
    assert truncated == 1


def test_an_empty_store_has_no_jobs_of_any_status() -> None:
    counts, truncated, _ = _collect(JobsCollector(_service(MemoryStore(), 0.0)))
    assert counts == {"queued": 0, "in_progress": 0, "completed": 0, "failed": 0}
    assert truncated == 0


def test_a_scrape_counts_the_services_jobs() -> None:
    store = MemoryStore()
    store.add(_job(1))
    metrics = Metrics(_service(store, 1.5))
    samples = parse(metrics.exposition())
    assert samples[("sora_mock_jobs", frozenset({("status", "queued")}))] == 1


# ------------------------------------------------------------------ a server run's directory


def test_a_server_run_writes_every_workers_metrics_to_its_directory_and_leaves_none_behind(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_4000001.db").write_bytes(b"an earlier run's")
    (directory / "notes.txt").write_text("kept")
    prepare_multiprocess(directory)
    assert os.environ[MULTIPROC_ENV] == str(directory)
    assert multiprocess_dir() == str(directory)
    assert sorted(p.name for p in directory.iterdir()) == ["notes.txt"]
    metrics = Metrics()
    assert metrics.directory == str(directory)
    assert getattr(values.ValueClass, "_multiprocess", False)
    metrics.observe_request("gptge", "getVideo", 200, None, 0.001)
    metrics.render_queue_depth(3)
    samples = parse(metrics.exposition())
    labels = frozenset((REQUEST | {"status": "200", "scenario": ""}).items())
    assert samples[("sora_mock_requests_total", labels)] == 1
    assert samples[("sora_mock_render_queue_depth", frozenset())] == 3
    assert (directory / f"counter_{os.getpid()}.db").exists()
    second = Metrics()  # another app of the same run writes there too
    assert second.directory == str(directory)
    assert getattr(values.ValueClass, "_multiprocess", False)
    end_multiprocess(None)
    assert MULTIPROC_ENV not in os.environ and multiprocess_dir() is None
    after = Metrics()
    assert after.directory is None and values.ValueClass is values.MutexValue
    after.observe_request("gptge", "getVideo", 200, None, 0.001)
    assert sample(after, "sora_mock_requests_total", **labels_of(labels)) == 0  # not flushed
    after.flush()
    assert sample(after, "sora_mock_requests_total", **labels_of(labels)) == 1


def labels_of(labels: frozenset[tuple[str, str]]) -> dict[str, str]:
    return dict(labels)


def test_ending_a_run_that_set_no_directory_is_harmless() -> None:
    assert MULTIPROC_ENV not in os.environ
    end_multiprocess(None)
    assert MULTIPROC_ENV not in os.environ


def test_a_scrape_reads_the_jobs_once() -> None:
    store = MemoryStore()
    store.add(_job(1))
    reads: list[int] = []
    page = store.page

    def counting(*args: Any, **kwargs: Any) -> Any:
        reads.append(1)
        return page(*args, **kwargs)

    store.page = counting  # type: ignore[method-assign]
    Metrics(_service(store, 1.5)).exposition()
    assert len(reads) == 1


def test_a_new_directory_is_made_and_the_previous_setting_restored(tmp_path: Path) -> None:
    fresh = tmp_path / "a" / "b"
    prepare_multiprocess(str(fresh))
    assert fresh.is_dir()
    end_multiprocess("/the/outer/run")
    assert os.environ[MULTIPROC_ENV] == "/the/outer/run"
    os.environ[MULTIPROC_ENV] = ""
    assert multiprocess_dir() is None


def test_a_scrape_forgets_the_live_gauges_of_dead_workers(tmp_path: Path) -> None:
    prepare_multiprocess(tmp_path)
    metrics = Metrics()
    metrics.render_queue_depth(1)
    dead = tmp_path / "gauge_livesum_4000001.db"
    dead.write_bytes(b"")
    metrics.exposition()
    assert not dead.exists()
    assert (tmp_path / f"gauge_livesum_{os.getpid()}.db").exists()
    end_multiprocess(None)


def test_the_flusher_adds_notes_while_they_come_sleeps_when_idle_and_ends_with_its_app(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The flusher's loop, run here step by step (its sleeps and waits are the test's): a
    flush that fails is logged and the notes wait for the next, an idle flusher is woken by
    the next request, and the loop ends once its app is gone."""
    caplog.set_level(logging.INFO, logger="mockserver")
    metrics = Metrics()
    metrics._flusher_started = True  # no real thread: the loop runs below
    holder = [metrics]
    ref = weakref.ref(metrics)
    failures = [1]

    counted: list[float] = []

    def flush() -> None:  # (holding the app weakly, as the flusher does)
        if failures:
            failures.pop()
            raise OSError("disk full")
        app = ref()
        assert app is not None
        Metrics.flush(app)
        labels = REQUEST | {"status": "200", "scenario": ""}
        counted.append(sample(app, "sora_mock_requests_total", **labels))

    metrics.flush = flush  # type: ignore[method-assign]

    def note() -> None:
        holder[0].observe_request("gptge", "getVideo", 200, None, 0.001)

    sleeps = [0]
    me = threading.current_thread()

    def sleep(seconds: float) -> None:
        if threading.current_thread() is not me:  # other tests' flushers: their own sleep
            time.sleep(seconds)
            return
        assert seconds == metrics_module.FLUSH_SECONDS
        sleeps[0] += 1
        if sleeps[0] in (1, 2):
            note()  # requests come: a batch for each wake-up (the first flush fails)
        elif sleeps[0] == 5:
            holder.clear()  # the app is gone

    class Wake:
        def __init__(self) -> None:
            self.flag, self.waits = False, 0

        def set(self) -> None:
            self.flag = True

        def clear(self) -> None:
            self.flag = False

        def is_set(self) -> bool:
            return self.flag

        def wait(self, timeout: float) -> bool:
            self.waits += 1
            assert self.waits <= 2, "the flusher waited on after it was woken"
            if self.waits == 2:
                note()  # a request while the flusher sleeps: it wakes it
            return self.flag

    wake = Wake()
    metrics._wake = wake  # type: ignore[assignment]
    monkeypatch.setattr(metrics_module, "time", SimpleNamespace(sleep=sleep))
    del metrics
    metrics_module._flush_now_and_then(ref)
    assert counted == [2.0, 3.0], "A and B together after the failure, then C"
    assert ref() is None and sleeps[0] == 5
    assert wake.waits == 2
    failed = [r for r in caplog.records if r.name == "mockserver"]
    assert [r.getMessage() for r in failed] == ["adding requests to the metrics failed"]
    assert failed[0].exc_info is not None


def test_a_request_noted_as_the_flusher_falls_asleep_is_still_added(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The request appended just before the flusher's "asleep" flag was set (so it did not
    wake it) is seen by the flusher's check right after."""

    counted: list[float] = []

    class Racing(Metrics):
        def flush(self) -> None:
            super().flush()
            labels = REQUEST | {"status": "200", "scenario": ""}
            counted.append(sample(self, "sora_mock_requests_total", **labels))

        @property  # type: ignore[override]
        def _flusher_asleep(self) -> bool:
            return bool(self.__dict__.get("asleep"))

        @_flusher_asleep.setter
        def _flusher_asleep(self, value: bool) -> None:
            if value and not self.__dict__.get("raced"):
                self.__dict__["raced"] = True
                self._noted.append((("gptge", "getVideo", 200, ""), 0.001))
            self.__dict__["asleep"] = value

    metrics = Racing()
    metrics._flusher_started = True
    holder = [metrics]
    ref = weakref.ref(metrics)
    sleeps = [0]
    me = threading.current_thread()

    def sleep(seconds: float) -> None:
        if threading.current_thread() is not me:  # other tests' flushers: their own sleep
            time.sleep(seconds)
            return
        sleeps[0] += 1
        if sleeps[0] == 3:
            holder.clear()

    monkeypatch.setattr(metrics_module, "time", SimpleNamespace(sleep=sleep))
    del metrics
    metrics_module._flush_now_and_then(ref)
    assert ref() is None and sleeps[0] == 3
    assert counted == [1.0]
