"""The standing adversarial suite, continued: load that used to grow something without bound
(issue 21). Each case names the figure it holds in its docstring and its assertion messages.

Against ``sora-mock serve`` (tests/served.py) where the server process decides; in-process
where the store does. Loopback only; every wait is for a condition, with a bound.
"""

from __future__ import annotations

import os
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from providers import APIS, data_url, png
from redis_server import redis_server
from served import Served, served

from mockserver.http.app import create_app, service_of
from mockserver.media import MediaCache
from mockserver.state import store_journal
from mockserver.state.service import MockService
from mockserver.testing import test_config

KEY = "sk-adversary"
AUTH = {"Authorization": f"Bearer {KEY}"}
VTRIX = APIS["vtrix-generation"]


def dir_bytes(directory: Path) -> int:
    """Bytes of the cached assets in ``directory`` (the ``.bin`` files: a write in progress
    is a temporary file, at most one per render thread, renamed when complete)."""
    if not directory.is_dir():
        return 0
    total = 0
    for entry in os.scandir(directory):
        if not entry.name.endswith(".bin"):
            continue
        try:
            total += entry.stat().st_size
        except FileNotFoundError:  # evicted meanwhile
            pass
    return total


BASE_PNG = png(1280, 720, (30, 90, 160))


def distinct_image(i: int) -> bytes:
    """A 1280x720 PNG no other ``i`` gives (a text chunk of its own after the header, so the
    bytes differ and cost nothing to make): its video is a render of its own, a cold one."""
    text = b"Comment\x00flood %d" % i
    chunk = struct.pack(">I", len(text)) + b"tEXt" + text
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + text))
    return BASE_PNG[:33] + chunk + BASE_PNG[33:]  # 8 bytes of signature, 25 of IHDR


def vtrix_create(client: httpx.Client, image: bytes) -> httpx.Response:
    body = {
        "model": "sora_2_pro_i2v",
        "prompt": "A lighthouse keeper climbs the stairs",
        "size": "1280x720",
        "seconds": "4",
        "input_reference": data_url(image),
    }
    return client.post("/vtrix/model/v1/generation", json=body)


#: creates in the flood, and how many go at once
FLOOD = 200
FLOOD_THREADS = 8
#: the disk budget of the flood's render cache: about three of its four-second videos
DISK_BUDGET = 32 * 1024
#: videos the test downloads after the flood (each rendered, if the queue has not yet)
DOWNLOADS = 12
#: the longest a status poll may take while the flood goes on: a worker's request threads run
#: ten nice steps behind its render process (a render due soon must not starve), so a poll
#: during a backlog of cold renders takes longer than on an idle server, but seconds at most.
#: (Polls of 30 s and more, and a hang, were first seen here: the test harness did not read
#: the server's console, its pipe filled, and every request waited on a console write. The
#: harness now reads it, and the console drops lines rather than wait: test_console_columns.)
POLL_BOUND = 15.0


@pytest.fixture
def flooded(tmp_path: Path) -> Iterator[tuple[Served, Path]]:
    media = tmp_path / "media"
    with served(
        "--clock",
        "virtual",
        "--media-dir",
        str(media),
        "--media-dir-bytes",
        str(DISK_BUDGET),
        workers=2,
    ) as server:
        yield server, media


def test_a_flood_of_distinct_images_keeps_the_render_cache_on_disk_within_its_budget(
    flooded: tuple[Served, Path],
) -> None:
    """Figures: 200 creates from 200 distinct images (8 at a time, after 40 to warm up)
    against two workers lose no job (all 200 listed), every poll made meanwhile is answered
    (within 15 s: see POLL_BOUND), the render cache's directory never holds more than
    --media-dir-bytes (32 KiB here, while the videos rendered total several times that), and
    the workers' memory grows less than 40 MiB.

    What bounds the rest (read from the code): the render queue holds one small entry per
    distinct video not yet rendered (the job record; its image stays in the store), drained
    by one render thread per worker; the in-memory cache keeps 256 MiB at most."""
    server, media = flooded
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=POLL_BOUND) as client:
        # warm-up (lazy imports, allocator arenas, each worker's render process): RSS grows
        # some 80 MiB over the first hundred creates, then about 5 MiB a hundred, flattening
        with ThreadPoolExecutor(FLOOD_THREADS) as pool:
            warm = list(pool.map(lambda i: vtrix_create(client, distinct_image(-i)), range(1, 41)))
        assert {w.status_code for w in warm} == {200}, warm[0].text
        watched = VTRIX.status_path(warm[0].json()["id"])
        rss_before = server.rss_kib()
        stop = threading.Event()
        latencies: list[float] = []
        failures: list[str] = []
        peaks: list[int] = []

        def poll() -> None:
            with httpx.Client(base_url=server.url, headers=AUTH, timeout=POLL_BOUND) as poller:
                while not stop.is_set():
                    started = time.monotonic()
                    try:
                        answer = poller.get("/vtrix" + watched)
                    except httpx.HTTPError as exc:
                        failures.append(repr(exc))
                        return
                    latencies.append(time.monotonic() - started)
                    if answer.status_code != 200:
                        failures.append(f"{answer.status_code} {answer.text[:200]}")
                    peaks.append(dir_bytes(media))

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        with ThreadPoolExecutor(FLOOD_THREADS) as pool:
            created = list(
                pool.map(lambda i: vtrix_create(client, distinct_image(i)), range(FLOOD))
            )
        assert [c.status_code for c in created] == [200] * FLOOD, "a create of the flood failed"
        ids = [c.json()["id"] for c in created]
        # the jobs complete; their downloads render what the background queue has not yet
        advanced = client.post("/__mock/clock/advance", json={"seconds": 600})
        assert advanced.status_code == 200
        rendered = 0
        for job_id in ids[:DOWNLOADS]:
            status = client.get("/vtrix" + VTRIX.status_path(job_id)).json()
            url = VTRIX.video_url(status)
            assert url is not None, status
            video = client.get(url)
            assert video.status_code == 200 and video.content[4:8] == b"ftyp", video.text[:200]
            rendered += len(video.content)
            peaks.append(dir_bytes(media))
        stop.set()
        poller.join(timeout=POLL_BOUND)
        assert not poller.is_alive() and not failures, failures
        kept = client.get("/__mock/jobs", params={"limit": 1000}).json()["data"]
        lost = set(ids) - {job["id"] for job in kept}
        assert not lost, f"{len(lost)} of {FLOOD} accepted jobs lost"
        growth_mib = (server.rss_kib() - rss_before) / 1024
    assert rendered > 3 * DISK_BUDGET, "the test rendered too little to fill the budget"
    assert len(latencies) >= 2, "the poller never ran during the flood"
    assert max(latencies) < POLL_BOUND, (
        f"a poll took {max(latencies):.2f} s during a flood of {FLOOD} distinct creates"
    )
    assert max(peaks) <= DISK_BUDGET, (
        f"the render cache held {max(peaks)} bytes on disk, over its {DISK_BUDGET} budget"
    )
    assert dir_bytes(media) > 0, "nothing was cached on disk at all"
    assert growth_mib < 40, f"the workers grew {growth_mib:.0f} MiB over {FLOOD} creates"


# ------------------------------------------------------------------ retention frees storage

#: jobs per batch, each with a reference image of its own. 400 jobs of 16 KiB images make an
#: 8 MB store: far more pages than SQLite's own slack, so a purge that freed nothing would show
#: as the file doubling on the second batch, and enough to see it in about a second
BATCH = 400
IMAGE_BYTES = 16 * 1024


def fill(service: MockService, batch: int) -> list[str]:
    """``BATCH`` jobs through the service's own create, each from an image no other has."""
    ids = []
    for i in range(BATCH):
        job = service.create_job(
            api="vtrix-generation",
            id_prefix="video_",
            model="sora_2_pro_i2v",
            prompt="retention",
            width=1280,
            height=720,
            seconds=4,
            owner="owner",
            image=b"%d:%d:" % (batch, i) + os.urandom(IMAGE_BYTES),
            params={},
            scenario=None,
            failure=("", ""),
        )
        ids.append(job.id)
    return ids


def test_retention_frees_the_sqlite_store_for_reuse(tmp_path: Path) -> None:
    """Figures: a second batch of 400 jobs (16 KiB images each), created after the first
    batch's retention has passed, grows the SQLite file by less than a tenth of what the
    first batch took: the purge deletes the expired jobs with their images, and SQLite
    reuses the pages they held. The first batch is gone from the store."""
    store_path = tmp_path / "state.sqlite"
    app = create_app(test_config(store=f"sqlite:{store_path}", retention_seconds=3600.0))
    service = service_of(app)
    empty = store_path.stat().st_size
    first = fill(service, 1)
    checkpoint(service)
    after_first = store_path.stat().st_size
    assert after_first - empty > BATCH * IMAGE_BYTES, "the first batch did not reach the file"
    service.clock.advance(3601)  # type: ignore[attr-defined]
    fill(service, 2)  # each create purges up to 20 expired jobs: the first batch goes
    checkpoint(service)
    after_second = store_path.stat().st_size
    left = [job_id for job_id in first if service.store.get(job_id) is not None]
    assert left == [], f"{len(left)} expired jobs of {BATCH} still stored"
    grown = after_second - after_first
    first_growth = after_first - empty
    assert grown < first_growth / 10, (
        f"the second batch grew the file {grown} bytes (the first {first_growth}): "
        "the expired jobs' pages were not freed for reuse"
    )


def checkpoint(service: MockService) -> None:
    """Move the WAL into the database file, so its size is the store's."""
    conn = service.store._conn()  # type: ignore[attr-defined]
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def test_retention_frees_redis_memory() -> None:
    """Figures: in Redis, a second batch of 400 jobs (16 KiB images each) created after the
    first batch's retention has passed raises `used_memory` by less than a tenth of what the
    first batch took: the purge deletes the expired jobs and their images."""
    with redis_server() as url:
        app = create_app(test_config(store=url, retention_seconds=3600.0))
        service = service_of(app)
        redis = service.store.redis  # type: ignore[attr-defined]
        empty = redis.info("memory")["used_memory"]
        first = fill(service, 1)
        after_first = redis.info("memory")["used_memory"]
        assert after_first - empty > BATCH * IMAGE_BYTES, "the first batch did not reach Redis"
        service.clock.advance(3601)  # type: ignore[attr-defined]
        fill(service, 2)
        after_second = redis.info("memory")["used_memory"]
        left = [job_id for job_id in first if service.store.get(job_id) is not None]
        service.store.close()
    assert left == [], f"{len(left)} expired jobs of {BATCH} still stored"
    grown, first_growth = after_second - after_first, after_first - empty
    assert grown < first_growth / 10, (
        f"the second batch grew Redis {grown} bytes (the first {first_growth}): "
        "the expired jobs were not freed"
    )


# ------------------------------------------------------------------ many long chat streams

#: waiting chat completions the served mock allows (`--max-waiting-chats`), and how many
#: streams the test opens beyond that
MAX_CHATS = 6
EXTRA_CHATS = 10
CHAT = {
    "model": "sora-2",
    "stream": True,
    "messages": [{"role": "user", "content": "a cat, duration: 4 seconds"}],
}


def open_stream(client: httpx.Client) -> tuple[httpx.Response, Iterator[str]]:
    """A streaming chat completion, its status and headers read (the body not yet)."""
    request = client.build_request("POST", "/gptproto/v1/chat/completions", json=CHAT)
    response = client.send(request, stream=True)
    return response, response.iter_lines()


def test_many_chat_streams_beyond_the_waiting_limit_are_refused_and_free_their_slots() -> None:
    """Figures: with --max-waiting-chats 6, six streams waiting for their videos are held and
    ten more are a 429 at once, before any job exists (6 jobs in all); meanwhile the admin API
    and a status poll answer within 5 s and the worker's memory grows less than 20 MiB; once
    the six clients hang up, their slots are freed (a new stream is accepted within 30 s: a
    stream learns its client is gone when it next writes, on a clock advance or a keep-alive)."""
    with (
        served("--clock", "virtual", "--max-waiting-chats", str(MAX_CHATS), workers=1) as server,
        httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as admin,
    ):
        admin.get("/__mock/jobs")  # warm-up
        rss_before = server.rss_kib()
        clients = [
            httpx.Client(base_url=server.url, headers=AUTH, timeout=30) for _ in range(MAX_CHATS)
        ]
        try:
            held = [open_stream(c) for c in clients]
            assert [r.status_code for r, _ in held] == [200] * MAX_CHATS
            firsts = [next(lines) for _, lines in held]  # the "task queued" chunk of each
            assert all(line.startswith("data: ") for line in firsts), firsts
            refused = [
                admin.post("/gptproto/v1/chat/completions", json=CHAT) for _ in range(EXTRA_CHATS)
            ]
            assert [r.status_code for r in refused] == [429] * EXTRA_CHATS, refused[0].text
            assert refused[0].json()["error"]["type"], refused[0].text  # the provider's shape
            started = time.monotonic()
            jobs = admin.get("/__mock/jobs").json()["data"]
            health = admin.get("/__mock/health")
            poll = admin.get("/gptproto/v1/videos/video_0000")
            took = time.monotonic() - started
            assert health.status_code == 200 and poll.status_code == 404, poll.text
            assert took < 5, (
                f"the admin API and a poll took {took:.1f} s beside {MAX_CHATS} streams"
            )
            assert len(jobs) == MAX_CHATS, f"{len(jobs)} jobs: a refused stream made one"
            growth_mib = (server.rss_kib() - rss_before) / 1024
            assert growth_mib < 20, f"the worker grew {growth_mib:.0f} MiB over the streams"
        finally:
            for client in clients:
                client.close()  # the clients go away, their videos unfinished
        deadline = time.monotonic() + 30
        while True:
            # a tiny advance wakes every stream: it writes, and finds its client gone
            admin.post("/__mock/clock/advance", json={"seconds": 0.001})
            with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as again:
                response, _ = open_stream(again)
                status = response.status_code
                response.close()
            if status == 200:
                break
            assert status == 429, status
            assert time.monotonic() < deadline, "the slots of closed streams were never freed"


# ------------------------------------------------------------------ journal files under load

#: entries the journal keeps, and the slack a file may grow by before it is compacted (the
#: real slack, 8,192 lines, would take tens of thousands of requests to show)
JOURNAL_SIZE = 100
SLACK = 200
#: a request path far longer than any id: the journal keeps its entry, not its whole text
LONG_ID = "x" * 8000
REQUESTS = 800


def test_journal_files_stay_bounded_however_many_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Figures: 800 requests (over two compactions) with 8,000-character paths (each 4xx
    names the id in its job id) leave the SQLite store's journal files under 1.5 MB in all:
    at most JOURNAL_SIZE + SLACK lines, each text of an entry cut to 1,024 characters.
    Without the cut the files reached 6 MB (a line of some 20 KB)."""
    monkeypatch.setattr(store_journal, "COMPACT_SLACK", SLACK)
    store_path = tmp_path / "state.sqlite"
    app = create_app(test_config(store=f"sqlite:{store_path}", journal_size=JOURNAL_SIZE))
    client = app.test_client()
    largest = 0
    for i in range(REQUESTS):
        answer = client.get(f"/gptge/v1/videos/{LONG_ID}{i}", headers=AUTH)
        assert 400 <= answer.status_code < 500, answer.text[:200]
        if i % 50 == 49:
            service_of(app).journal_writer.flush()
            largest = max(largest, journal_bytes(store_path))
    assert largest < 1_500_000, (
        f"the journal files held {largest} bytes after {REQUESTS} long requests (bound 1.5 MB)"
    )
    entries = service_of(app).journal()
    assert len(entries) == JOURNAL_SIZE and entries[-1]["status"] == answer.status_code
    assert entries[-1]["path"].endswith("…"), "a long path was journalled whole"


def journal_bytes(store_path: Path) -> int:
    return sum(p.stat().st_size for p in store_path.parent.glob(store_path.name + ".journal-*"))


def test_the_disk_budget_evicts_the_least_recently_used_video(tmp_path: Path) -> None:
    """Figures: with a 250-byte disk budget and 100-byte assets, the directory keeps two; the
    one evicted is the least recently used (a read from disk counts as a use, in another
    cache on the same directory: a worker's), and an asset over the budget is not kept."""
    writer = MediaCache(tmp_path, max_bytes=0, disk_max_bytes=250)
    reader = MediaCache(tmp_path, max_bytes=0, disk_max_bytes=250)
    writer.get("a", lambda: b"a" * 100)
    writer.get("b", lambda: b"b" * 100)
    old = time.time() - 60  # "a" and "b" written a minute ago, "b" first
    os.utime(tmp_path / f"{MediaCache._name('a')}.bin", (old, old))
    os.utime(tmp_path / f"{MediaCache._name('b')}.bin", (old - 1, old - 1))
    assert reader.get("b", lambda: b"rendered again") == b"b" * 100  # from disk: now recent
    writer.get("c", lambda: b"c" * 100)
    assert "a" not in writer and "b" in writer and "c" in writer
    assert dir_bytes(tmp_path) == 200
    assert writer.get("huge", lambda: b"h" * 300) == b"h" * 300
    assert "huge" not in writer and dir_bytes(tmp_path) == 200
    writer.close()
    reader.close()
