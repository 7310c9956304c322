"""Two `sora-mock serve` processes (as on two hosts) sharing one real Redis are one server."""

from __future__ import annotations

import itertools
import signal
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import redis
from providers import APIS, png
from redis_server import redis_server
from served import Served, served, stop

from mockserver.media.media_store import PREFIX as MEDIA_PREFIX

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
    assert (
        httpx.post(pair[0].url + "/__mock/reset", headers={"X-Mock-Client": "test"}).status_code
        == 200
    )
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


# ------------------------------------------------------- rendered media, shared between hosts

_colors = itertools.count(1)


def _create_unique(server: Served) -> str:
    """A job whose image no other test uses: its video is in no cache yet."""
    image = png(720, 1280, (next(_colors) * 37 % 256, 90, 160))
    with server.client("gptproto") as c:
        created = VIDEOS.create(c, AUTH, image)
    assert created.status_code == 200, created.text
    return str(created.json()["id"])


def _download(server: Served, job_id: str) -> bytes:
    with server.client("gptproto") as c:
        answer = c.get(f"/v1/videos/{job_id}/content")
    assert answer.status_code == 200 and answer.headers["content-type"] == "video/mp4"
    return answer.content


def _mark_new(before: set[bytes], now: set[bytes], mark: Callable[[bytes], object]) -> int:
    """Overwrite every file that appeared since ``before``; how many there were."""
    for key in now - before:
        mark(key)
    return len(now - before)


def test_a_shared_media_dir_is_used_by_both_servers_instead_of_redis(redis_url: str) -> None:
    own_db = redis_url.rsplit("/", 1)[0] + "/1"  # apart from the pair's jobs and media
    client = redis.Redis.from_url(own_db)
    with tempfile.TemporaryDirectory(prefix="sora-media-") as shared:
        args = ("--store", own_db, "--clock", "virtual", "--media-dir", shared)

        def files() -> set[bytes]:
            return {str(p).encode() for p in Path(shared).glob("*.bin")}

        with served(*args, workers=1) as one, served(*args, workers=1) as two:
            before = files()
            job_id = _create_unique(one)
            assert httpx.post(one.url + "/__mock/clock/advance", json={"seconds": 600}).is_success
            assert _download(one, job_id)[4:8] == b"ftyp"
            marked = b"\x00\x00\x00\x08ftypDISK"
            write = lambda p: Path(p.decode()).write_bytes(marked)  # noqa: E731
            assert _mark_new(before, files(), write) == 1
            assert _download(two, job_id) == marked
            assert not list(Path(shared).glob(".tmp-*"))  # written whole, then renamed
        assert not set(client.scan_iter(match=MEDIA_PREFIX + "*"))  # no copy in Redis
    client.flushdb()
    client.close()


def test_the_second_server_serves_the_video_the_first_rendered_from_redis(
    servers: tuple[Served, Served], redis_url: str
) -> None:
    one, two = servers
    client = redis.Redis.from_url(redis_url)

    def blobs() -> set[bytes]:
        return set(client.scan_iter(match=MEDIA_PREFIX + "blob:*"))

    before = blobs()
    job_id = _create_unique(one)
    assert httpx.post(one.url + "/__mock/clock/advance", json={"seconds": 600}).is_success
    assert _download(one, job_id)[4:8] == b"ftyp"
    # the bytes in Redis are what the second server serves: marked, they come back marked
    marked = b"\x00\x00\x00\x08ftypMARK"
    assert _mark_new(before, blobs(), lambda k: client.set(k, marked)) == 1
    assert _download(two, job_id) == marked
    client.close()
