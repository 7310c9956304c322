"""``GET /metrics`` in-process (mockserver/state/metrics.py): what each hook counts, read back with
prometheus-client's own parser. The served, multi-worker view is tests/test_metrics_served.py.
"""

from __future__ import annotations

import argparse
import io
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from mockserver import cli
from mockserver.http.app import create_app, service_of
from mockserver.media import MediaCache
from mockserver.media.renders import RenderQueue
from mockserver.state.journal import JournalWriter
from mockserver.state.metrics import JobsCollector, Metrics, forget_dead_workers
from mockserver.testing import test_config

KEY = "sk-test-metrics-secret"
AUTH = {"Authorization": f"Bearer {KEY}"}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def png(width: int = 720, height: int = 1280) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (40, 120, 200)).save(out, "PNG")
    return out.getvalue()


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client: FlaskClient) -> Samples:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.content_type.startswith("text/plain; version=0.0.4")
    return parse(answer.get_data(as_text=True))


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def requests(samples: Samples, **labels: str) -> float:
    return value(samples, "sora_mock_requests_total", **labels)


def create(client: FlaskClient, **headers: str) -> Any:
    """A gptproto /v1/videos create (multipart, with its reference image)."""
    return client.post(
        "/gptproto/v1/videos",
        data={
            "prompt": "a cat",
            "model": "sora-2",
            "seconds": "4",
            "size": "720x1280",
            "input_reference": (io.BytesIO(png()), "cat.png", "image/png"),
        },
        headers={**AUTH, **headers},
    )


@pytest.fixture
def app() -> Flask:
    return create_app(test_config())


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def test_requests_are_counted_by_provider_operation_status_and_scenario(
    client: FlaskClient,
) -> None:
    created = create(client)
    assert created.status_code == 200, created.get_data(as_text=True)
    job_id = created.get_json()["id"]
    for _ in range(3):  # status polls: the poll lane
        assert client.get(f"/gptproto/v1/videos/{job_id}", headers=AUTH).status_code == 200
    assert client.get("/gptproto/v1/videos/video_nope", headers=AUTH).status_code == 404
    assert client.get("/gptproto/v1/videos/x", headers={}).status_code == 401
    limited = client.get(
        f"/gptproto/v1/videos/{job_id}", headers={**AUTH, "X-Mock-Scenario": "server_error"}
    )
    assert limited.status_code == 500
    assert client.get("/__mock/clock").status_code == 200

    samples = scrape(client)
    ours = dict(provider="gptproto")
    assert requests(samples, **ours, operation="createVideo", status="200", scenario="") == 1
    assert requests(samples, **ours, operation="getVideo", status="200", scenario="") == 3
    assert requests(samples, **ours, operation="getVideo", status="404", scenario="") == 1
    assert requests(samples, **ours, operation="getVideo", status="401", scenario="") == 1
    assert (
        requests(samples, **ours, operation="getVideo", status="500", scenario="server_error") == 1
    )
    # the mock's own routes: no provider, no operation
    assert requests(samples, provider="", operation="", status="200", scenario="") == 1
    hist = "sora_mock_request_duration_seconds_count"
    assert value(samples, hist, provider="gptproto", operation="getVideo") == 6
    assert value(samples, hist, provider="gptproto", operation="createVideo") == 1
    inf = "sora_mock_request_duration_seconds_bucket"
    assert value(samples, inf, provider="gptproto", operation="getVideo", le="+Inf") == 6
    total = sum(v for (name, _), v in samples.items() if name == "sora_mock_requests_total")
    assert total == 8


def test_no_label_names_a_job_id_a_path_or_a_key(client: FlaskClient) -> None:
    job_id = create(client).get_json()["id"]
    client.get(f"/gptproto/v1/videos/{job_id}", headers=AUTH)
    client.get(f"/gptproto/v1/videos/{job_id}/content", headers=AUTH)
    client.get(f"/gptproto/v1/nothing/{job_id}", headers=AUTH)
    client.get(f"/{KEY}/v1/videos", headers=AUTH)
    client.get("/gptproto/v1/videos/x", headers={**AUTH, "X-Mock-Scenario": KEY})
    text = client.get("/metrics").get_data(as_text=True)
    assert job_id not in text
    assert KEY not in text
    assert "/" not in "".join(v for (_, labels) in parse(text) for _, v in labels)


def test_faults_are_counted_where_they_shape_an_answer() -> None:
    app = create_app(test_config(scenarios=("insufficient_balance",)))
    client = app.test_client()
    assert client.get("/gptproto/v1/videos/x", headers=AUTH).status_code == 403  # the rule
    service_of(app).store.clear_rules()
    refused = create(client, **{"X-Mock-Scenario": "content_policy"})
    assert refused.status_code == 400
    failed = create(client, **{"X-Mock-Scenario": "generation_failed"})
    assert failed.status_code == 200
    # a create-time scenario means nothing to a read: no fault injected
    read = client.get(
        "/gptproto/v1/videos/x", headers={**AUTH, "X-Mock-Scenario": "content_policy"}
    )
    assert read.status_code == 404
    service_of(app).set_faults(1.0, 7)
    assert client.get("/gptproto/v1/videos/x", headers=AUTH).status_code in (429, 500)

    samples = scrape(client)
    name = "sora_mock_faults_injected_total"
    assert value(samples, name, scenario="insufficient_balance", source="rule") == 1
    assert value(samples, name, scenario="content_policy", source="header") == 1
    assert value(samples, name, scenario="generation_failed", source="header") == 1
    randoms = sum(
        v for (n, labels), v in samples.items() if n == name and ("source", "random") in labels
    )
    assert randoms == 1
    assert sum(v for (n, _), v in samples.items() if n == name) == 4


def test_jobs_by_status_are_read_from_the_store_at_scrape_time(
    app: Flask, client: FlaskClient
) -> None:
    create(client)
    create(client, **{"X-Mock-Scenario": "generation_failed"})
    samples = scrape(client)
    assert value(samples, "sora_mock_jobs", status="queued") == 2
    assert value(samples, "sora_mock_jobs", status="in_progress") == 0
    client.post("/__mock/clock/advance", json={"seconds": 3600})
    create(client)
    samples = scrape(client)
    assert value(samples, "sora_mock_jobs", status="queued") == 1
    assert value(samples, "sora_mock_jobs", status="completed") == 1
    assert value(samples, "sora_mock_jobs", status="failed") == 1
    assert value(samples, "sora_mock_jobs_scan_truncated") == 0


def test_jobs_by_status_read_only_the_newest_jobs_up_to_the_bound(
    app: Flask, client: FlaskClient
) -> None:
    service = service_of(app)
    create(client, **{"X-Mock-Scenario": "generation_failed"})
    client.post("/__mock/clock/advance", json={"seconds": 3600})
    for _ in range(3):
        create(client)
    seen: list[int] = []
    page = service.store.page

    def counting(*args: Any, **kwargs: Any) -> Any:
        found = page(*args, **kwargs)
        seen.append(len(found.jobs))
        return found

    service.store.page = counting  # type: ignore[method-assign]
    families = {f.name: f for f in JobsCollector(service, limit=3).collect()}
    counts = {s.labels["status"]: s.value for s in families["sora_mock_jobs"].samples}
    assert counts == {"queued": 3, "in_progress": 0, "completed": 0, "failed": 0}
    assert sum(seen) == 3
    assert families["sora_mock_jobs_scan_truncated"].samples[0].value == 1
    whole = {f.name: f for f in JobsCollector(service, limit=4).collect()}
    assert whole["sora_mock_jobs_scan_truncated"].samples[0].value == 0
    assert {s.labels["status"]: s.value for s in whole["sora_mock_jobs"].samples}["failed"] == 1


def test_a_render_is_counted_and_timed_once_and_a_failed_one_as_an_error() -> None:
    metrics = Metrics()
    cache = MediaCache(timed_render=metrics.timed_render)
    calls = []

    def render() -> bytes:
        calls.append(1)
        return b"video bytes"

    key = ("image:abc", "720x1280", "4s@12", "video")
    assert cache.get(key, render) == b"video bytes"
    assert cache.get(key, render) == b"video bytes"  # cached: no second render

    def broken() -> bytes:
        raise RuntimeError("encoder broke")

    with pytest.raises(RuntimeError):
        cache.get(("image:abc", "720x1280", "", "thumbnail"), broken)
    samples = parse(metrics.exposition().decode())
    assert value(samples, "sora_mock_renders_total", variant="video", outcome="ok") == 1
    assert value(samples, "sora_mock_renders_total", variant="thumbnail", outcome="error") == 1
    assert value(samples, "sora_mock_render_duration_seconds_count", variant="video") == 1
    assert len(calls) == 1


def test_the_render_queue_depth_counts_queued_and_running_renders() -> None:
    depths: list[int] = []
    release = threading.Event()
    cache = MediaCache()
    queue = RenderQueue(cache, 1, depths.append)

    def slow() -> bytes:
        assert release.wait(10)
        return b"x"

    queue.schedule("a", 1.0, slow)
    queue.schedule("b", 2.0, slow)
    release.set()
    assert queue.join(10)
    # two queued, the first taken (still two: one running), ... down to none
    assert max(depths) == 2
    assert depths[-1] == 0


def test_the_render_queue_gauge_is_exposed() -> None:
    metrics = Metrics()
    metrics.render_queue_depth(3)
    samples = parse(metrics.exposition().decode())
    assert value(samples, "sora_mock_render_queue_depth") == 3


def test_store_errors_are_counted_from_the_journal_and_from_requests() -> None:
    app = create_app(test_config())
    service = service_of(app)
    metrics = service.metrics
    assert metrics is not None

    def broken_add(*entries: Any) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    service.store.journal_add = broken_add  # type: ignore[method-assign]
    service.journal_writer.flush()
    client = app.test_client()
    client.get("/__mock/clock")
    service.journal_writer.flush()

    def broken_get(job_id: str) -> Any:
        raise sqlite3.OperationalError("database is locked")

    service.store.get = broken_get  # type: ignore[method-assign]
    answer = client.get("/gptproto/v1/videos/video_x", headers=AUTH)
    assert answer.status_code == 500
    service.errors.clear()  # seen; not a bug of the test's making
    samples = scrape(client)
    assert value(samples, "sora_mock_store_errors_total", where="request") == 1
    assert value(samples, "sora_mock_store_errors_total", where="journal") >= 1


def test_a_journal_writer_reports_each_refused_write() -> None:
    class Refusing:
        def journal_add(self, *entries: Any) -> None:
            raise OSError("disk full")

    writer = JournalWriter(Refusing())
    refused: list[int] = []
    writer.on_error = lambda: refused.append(1)
    writer.closed({"path": "/a"})
    writer.flush()
    writer.flush()
    assert len(refused) == 3  # the idle write at once, then each flush


def test_no_metrics_turns_the_endpoint_into_a_404_and_counts_nothing() -> None:
    app = create_app(test_config(metrics=False))
    assert service_of(app).metrics is None
    client = app.test_client()
    answer = client.get("/metrics")
    assert answer.status_code == 404
    assert "error" in answer.get_json()
    parser = argparse.ArgumentParser()
    cli._serve_parser(parser.add_subparsers(dest="command"))
    assert cli.config_from(parser.parse_args(["serve", "--no-metrics"])).metrics is False
    assert cli.config_from(parser.parse_args(["serve"])).metrics is True


def test_metrics_answer_only_to_the_hosts_the_mock_answers_to(client: FlaskClient) -> None:
    assert client.get("/metrics", headers={"Host": "attacker.com"}).status_code == 421
    assert client.get("/metrics", headers={"Host": "localhost:8000"}).status_code == 200
    assert client.post("/metrics").status_code == 405


def test_dead_workers_lose_their_live_gauges_but_keep_their_counters(tmp_path: Path) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    dead = int(gone.stdout)
    alive = os.getpid()
    for name in (
        f"gauge_livesum_{dead}.db",
        f"gauge_livesum_{alive}.db",
        f"counter_{dead}.db",
        f"histogram_{dead}.db",
    ):
        (tmp_path / name).write_bytes(b"")
    forget_dead_workers(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"gauge_livesum_{alive}.db", f"counter_{dead}.db", f"histogram_{dead}.db"]
    )


def test_noted_requests_reach_the_metrics_without_a_scrape() -> None:
    """A worker's requests reach the shared files by its flusher: a scrape answered by another
    worker sees them (FLUSH_SECONDS late at most)."""
    metrics = Metrics()
    labels = {"provider": "gptge", "operation": "getVideo", "status": "200", "scenario": ""}
    for _ in range(3):
        metrics.observe_request("gptge", "getVideo", 200, None, 0.003)
    deadline = time.monotonic() + 10
    while metrics.registry.get_sample_value("sora_mock_requests_total", labels) != 3:
        assert time.monotonic() < deadline, "the flusher never added the requests"
        time.sleep(0.005)  # a bounded wait for a condition
    bucket = {"provider": "gptge", "operation": "getVideo", "le": "0.005"}
    assert (
        metrics.registry.get_sample_value("sora_mock_request_duration_seconds_bucket", bucket) == 3
    )
    bucket["le"] = "0.0025"
    assert (
        metrics.registry.get_sample_value("sora_mock_request_duration_seconds_bucket", bucket) == 0
    )
    assert metrics.registry.get_sample_value(
        "sora_mock_request_duration_seconds_sum", {"provider": "gptge", "operation": "getVideo"}
    ) == pytest.approx(0.009)


def test_a_server_run_in_this_process_leaves_no_multiprocess_mode_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``serve`` points prometheus-client at a directory of its run and removes the directory
    at exit: an app built afterwards in the same process must not write there."""
    import granian.server

    seen: dict[str, Any] = {}

    def forking(self: Any, *args: Any, **kwargs: Any) -> None:  # where granian would fork
        seen["directory"] = os.environ.get("PROMETHEUS_MULTIPROC_DIR")

    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.setattr(granian.server.Server, "serve", forking)
    assert cli.main(["serve", "--port", "0", "--workers", "1", "--store", "memory"]) == 0
    assert seen["directory"] is not None and seen["directory"].endswith("metrics")
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    client = create_app(test_config()).test_client()
    assert client.get("/__mock/clock").status_code == 200
    assert requests(scrape(client), provider="", operation="", status="200", scenario="") == 1


def test_an_app_s_flusher_does_not_keep_it_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests build an app each: its flusher thread holds it weakly and ends with it."""
    import gc
    import weakref

    from mockserver.state import metrics as metrics_module

    monkeypatch.setattr(metrics_module, "IDLE_CHECK_SECONDS", 0.01)
    before = set(threading.enumerate())
    app = create_app(test_config())
    assert app.test_client().get("/__mock/clock").status_code == 200
    (flusher,) = [t for t in set(threading.enumerate()) - before if t.name == "metrics-flush"]
    gone = weakref.ref(service_of(app))
    metrics = service_of(app).metrics
    assert metrics is not None
    deadline = time.monotonic() + 10
    while not metrics._flusher_asleep:  # idle: waiting for the next request
        assert time.monotonic() < deadline
        time.sleep(0.005)  # a bounded wait for a condition
    del app, metrics
    gc.collect()
    assert gone() is None, "something still holds the app's service"
    flusher.join(10)
    assert not flusher.is_alive()


def test_a_replayed_answer_s_scenario_label_is_replay_not_its_cassette() -> None:
    """``serve --replay`` notes ``replay <cassette>`` as the scenario: one label for all of
    them (there may be thousands of cassettes), and any other text is ``other``."""
    metrics = Metrics()
    metrics.observe_request("gptge", "getVideo", 200, "replay video_abc123 (mismatch)", 0.001)
    metrics.observe_request("gptge", "getVideo", 200, "unheard-of", 0.001)
    metrics.observe_request("gptge", "getVideo", 429, "rate_limited", 0.001)
    samples = parse(metrics.exposition().decode())
    found = {
        dict(labels)["scenario"]
        for (name, labels), _ in samples.items()
        if name == "sora_mock_requests_total"
    }
    assert found == {"replay", "other", "rate_limited"}


def test_a_store_outage_answered_503_is_counted_as_a_store_error() -> None:
    """The store guard turns a failing store into a 503 before any 500 path runs: the lane's
    status read and the Flask path's list both count it."""
    from mockserver.state.store_guard import StoreUnavailable

    app = create_app(test_config())
    service = service_of(app)

    def down(*args: Any, **kwargs: Any) -> Any:
        raise StoreUnavailable("the memory store is down (a test)")

    service.store.get = down  # type: ignore[method-assign]
    service.store.jobs = down  # type: ignore[method-assign]
    client = app.test_client()
    assert client.get("/gptge/v1/videos/video_x", headers=AUTH).status_code == 503
    assert client.get("/gptge/v1/videos", headers=AUTH).status_code == 503
    service.errors.clear()
    samples = scrape(client)
    assert value(samples, "sora_mock_store_errors_total", where="request") == 2
