"""``GET /metrics`` of a real ``sora-mock serve --workers 2``: one view of the whole server.

Requests go out on fresh connections, so the kernel spreads them over both workers (the
journal says which worker answered each); every scrape, whichever worker answers it, must count
all of them. The exposition is read with prometheus-client's own parser.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from providers import APIS
from served import Served, served

VIDEOS = APIS["gptproto-videos"]
AUTH = {"Authorization": "Bearer sk-test"}


def fresh(server: Served, method: str, path: str, **kwargs: object) -> httpx.Response:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=30.0) as client:
        return client.request(method, path, **kwargs)  # type: ignore[arg-type]


def scrape(server: Served) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of one scrape: (name, labels) -> value."""
    answer = fresh(server, "GET", "/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    with served("--clock", "virtual") as running:
        yield running


def requests(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float],
    op: str,
    status: str,
    scenario: str = "",
) -> float:
    return value(
        samples,
        "sora_mock_requests_total",
        provider="gptproto",
        operation=op,
        status=status,
        scenario=scenario,
    )


def answered(samples: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> float:
    """Every gptproto request counted."""
    return sum(
        v
        for (name, labels), v in samples.items()
        if name == "sora_mock_requests_total" and ("provider", "gptproto") in labels
    )


def test_every_worker_s_requests_are_counted_in_every_scrape(server: Served) -> None:
    before = scrape(server)
    ids = []
    for _ in range(5):
        with server.client("gptproto") as client:
            created = VIDEOS.create(client, AUTH)
        assert created.status_code == 200, created.text
        ids.append(created.json()["id"])
    for job_id in ids * 3:
        assert fresh(server, "GET", f"/gptproto/v1/videos/{job_id}").status_code == 200
    limited = fresh(
        server, "GET", f"/gptproto/v1/videos/{ids[0]}", headers={"X-Mock-Scenario": "rate_limited"}
    )
    assert limited.status_code == 429

    journal = fresh(server, "GET", "/__mock/journal", params={"limit": 1000}).json()["data"]
    workers = {e["worker"] for e in journal if e["job_id"] in ids}
    assert len(workers) == 2, "the kernel sent every connection to one worker"

    # a worker adds its requests to the shared files within FLUSH_SECONDS (its own at once
    # when it answers the scrape): wait for the last ones, bounded
    deadline = time.monotonic() + 10
    while answered(scrape(server)) - answered(before) < 21:
        assert time.monotonic() < deadline, "the workers' requests never all reached /metrics"
        time.sleep(0.01)  # a bounded wait for a condition, not for a duration
    # several scrapes on fresh connections: whichever worker answers, the same numbers
    for _ in range(4):
        after = scrape(server)
        assert requests(after, "createVideo", "200") - requests(before, "createVideo", "200") == 5
        assert requests(after, "getVideo", "200") - requests(before, "getVideo", "200") == 15
        limited_delta = requests(after, "getVideo", "429", "rate_limited") - requests(
            before, "getVideo", "429", "rate_limited"
        )
        assert limited_delta == 1
        for op, count in (("createVideo", 5), ("getVideo", 16)):
            name = "sora_mock_request_duration_seconds_count"
            delta = value(after, name, provider="gptproto", operation=op) - value(
                before, name, provider="gptproto", operation=op
            )
            assert delta == count
        injected = "sora_mock_faults_injected_total"
        assert (
            value(after, injected, scenario="rate_limited", source="header")
            - value(before, injected, scenario="rate_limited", source="header")
            == 1
        )
        # no label names a job id or a key
        labels = {v for (_, pairs) in after for _, v in pairs}
        assert not any(job_id in label for job_id in ids for label in labels)
        assert not any("sk-test" in label for label in labels)


def test_jobs_by_status_follow_the_virtual_clock(server: Served) -> None:
    assert fresh(server, "POST", "/__mock/reset").status_code == 200
    for scenario in (None, None, "generation_failed"):
        headers = {**AUTH, **({"X-Mock-Scenario": scenario} if scenario else {})}
        with server.client("gptproto") as client:
            assert VIDEOS.create(client, headers).status_code == 200
    now = scrape(server)
    assert value(now, "sora_mock_jobs", status="queued") == 3
    assert value(now, "sora_mock_jobs", status="completed") == 0
    assert value(now, "sora_mock_jobs_scan_truncated") == 0
    assert fresh(server, "POST", "/__mock/clock/advance", json={"seconds": 3600}).status_code == 200
    later = scrape(server)
    assert value(later, "sora_mock_jobs", status="queued") == 0
    assert value(later, "sora_mock_jobs", status="completed") == 2
    assert value(later, "sora_mock_jobs", status="failed") == 1
