"""Two `sora-mock serve` processes (as on two hosts) sharing one real Redis are one server."""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from providers import APIS
from redis_server import redis_server
from served import Served, served, stop

VIDEOS = APIS["gptproto-videos"]
AUTH = {"Authorization": "Bearer sk-test"}


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture(scope="module")
def pair(redis_url: str) -> Iterator[tuple[Served, Served]]:
    args = ("--store", redis_url, "--clock", "virtual")
    with served(*args, workers=1) as one, served(*args, workers=1) as two:
        yield one, two


@pytest.fixture
def servers(pair: tuple[Served, Served]) -> tuple[Served, Served]:
    assert httpx.post(pair[0].url + "/__mock/reset").status_code == 200
    return pair


def create(server: Served) -> httpx.Response:
    with server.client("gptproto") as client:
        return VIDEOS.create(client, AUTH)


def get(server: Served, path: str) -> httpx.Response:
    with server.client() as client:
        return client.get(path)


def test_a_job_created_on_one_server_is_polled_downloaded_and_deleted_on_the_other(
    servers: tuple[Served, Served],
) -> None:
    one, two = servers
    job_id = create(one).json()["id"]
    assert get(two, f"/gptproto/v1/videos/{job_id}").json()["status"] == "queued"
    # the virtual clock advanced on one server moves the job on both
    assert httpx.post(one.url + "/__mock/clock/advance", json={"seconds": 3600}).is_success
    assert get(two, f"/gptproto/v1/videos/{job_id}").json()["status"] == "completed"
    video = get(two, f"/gptproto/v1/videos/{job_id}/content")
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    with two.client() as client:
        assert client.delete(f"/gptproto/v1/videos/{job_id}").status_code == 200
    assert get(one, f"/gptproto/v1/videos/{job_id}").status_code == 404
    journal = httpx.get(one.url + "/__mock/journal").json()["data"]
    assert {e["worker"] for e in journal} == {*one.children(), *two.children()}


def test_a_rule_for_50_uses_is_consumed_exactly_50_times_across_both(
    servers: tuple[Served, Served],
) -> None:
    one, two = servers
    rule = {"scenario": "server_error", "api_key": "sk-test", "times": 50}
    assert httpx.post(one.url + "/__mock/scenarios", json=rule).status_code == 201

    def poll(n: int) -> int:
        return get((one, two)[n % 2], "/gptproto/v1/videos/video_unknown").status_code

    with ThreadPoolExecutor(8) as pool:
        assert Counter(pool.map(poll, range(80))) == {500: 50, 404: 30}


def test_killing_one_server_mid_load_loses_no_accepted_job(redis_url: str) -> None:
    args = ("--store", redis_url, "--clock", "virtual")
    with served(*args, workers=1) as survivor, served(*args, workers=1) as victim:
        accepted: list[str] = []

        def create_on(n: int) -> None:
            target = (survivor, victim)[n % 2]
            try:
                answer = create(target)
            except httpx.TransportError:
                return  # the victim died before answering: nothing was promised
            if answer.status_code == 200:
                accepted.append(answer.json()["id"])

        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(create_on, n) for n in range(24)]
            futures[6].result()
            stop(victim, signal.SIGKILL)
            for future in futures:
                future.result()
        assert len(accepted) >= 12
        for job_id in accepted:
            assert get(survivor, f"/gptproto/v1/videos/{job_id}").status_code == 200
    # and a restart on the same Redis still has every one of them, and the clock
    with served(*args, workers=1) as restarted:
        for job_id in accepted:
            assert get(restarted, f"/gptproto/v1/videos/{job_id}").status_code == 200
