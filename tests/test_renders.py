"""Videos are rendered from the moment a job is accepted, earliest completion first, once per
distinct input; reads never start work."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from providers import APIS

from mockserver import media
from mockserver.http.app import create_app
from mockserver.media import MediaCache
from mockserver.media.renders import RenderQueue
from mockserver.testing import SoraMock, test_config

#: each test renders from scratch: nothing another test left in the loop cache counts
pytestmark = pytest.mark.usefixtures("empty_render_caches")

AUTH = {"Authorization": "Bearer sk-test"}


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[int, int, float]]]:
    """Every video render (width, height, seconds), with a stand-in for the encoder."""
    seen: list[tuple[int, int, float]] = []

    def fake(image: bytes | None, width: int, height: int, seconds: float, **_: object) -> bytes:
        seen.append((width, height, seconds))
        return b"\x00\x00\x00\x18ftypmp42" + bytes(16)

    monkeypatch.setattr(media, "render_video", fake)
    yield seen


def mock(**overrides: object) -> SoraMock:
    app: Flask = create_app(test_config(**overrides))
    return SoraMock(app)


def test_identical_inputs_render_once(renders: list[tuple[int, int, float]]) -> None:
    sora = mock()
    api = APIS["gptproto-videos"]
    with sora.client("gptproto") as client:
        ids = [api.job_id(api.create(client, AUTH).json()) for _ in range(5)]
        sora.advance(3600)
        bodies = {client.get(f"/v1/videos/{i}/content").content for i in ids}
    assert len(bodies) == 1
    assert renders == [(720, 1280, 4)]


def test_a_different_size_or_duration_is_another_render(
    renders: list[tuple[int, int, float]],
) -> None:
    sora = mock()
    with sora.client("gptproto") as client:
        for key in ("gptproto-videos", "gptge-videos"):
            api = APIS[key]
            with sora.client(api.provider) as c:
                job_id = api.job_id(api.create(c, AUTH).json())
                sora.advance(3600)
                assert c.get(f"/v1/videos/{job_id}/content").status_code == 200
        assert client is not None
    assert sorted(renders) == [(720, 1280, 4), (1792, 1024, 8)]


def test_no_read_or_list_starts_a_render(renders: list[tuple[int, int, float]]) -> None:
    sora = mock(prerender=False)
    api = APIS["gptge-videos"]
    with sora.client("gptge") as client:
        ids = [api.job_id(api.create(client, AUTH).json()) for _ in range(3)]
        for step in (0, 10, 3600):
            sora.advance(step)
            for job_id in ids:
                assert client.get(f"/v1/videos/{job_id}").status_code == 200
            assert client.get("/v1/videos", params={"limit": 100}).status_code == 200
            assert sora.app.test_client().get("/__mock/jobs").status_code == 200
    assert renders == []
    assert len(sora.service.renders) == 0


def test_a_create_schedules_its_render_at_once(renders: list[tuple[int, int, float]]) -> None:
    sora = mock(prerender=True)
    api = APIS["gptge-videos"]
    with sora.client("gptge") as client:
        job_id = api.job_id(api.create(client, AUTH).json())
    job = sora.service.store.get(job_id)
    assert job is not None
    key = sora.service.media_key(job, "video")
    # the background render runs without anyone reading the job
    assert sora.service.renders.join(timeout=30)
    assert key in sora.service.media
    assert sora.service.media.get(key, lambda: pytest.fail("rendered a second time"))
    assert renders == [(1792, 1024, 8)]


def test_the_pool_renders_the_earliest_completion_first() -> None:
    cache = MediaCache()
    queue = RenderQueue(cache, threads=1)
    started = threading.Event()
    release = threading.Event()
    order: list[str] = []
    done = threading.Semaphore(0)

    def blocking() -> bytes:
        started.set()
        release.wait(30)
        return b"first"

    def render(name: str):  # type: ignore[no-untyped-def]
        def run() -> bytes:
            order.append(name)
            done.release()
            return name.encode()

        return run

    queue.schedule("first", 0.0, blocking)
    assert started.wait(30)
    for name, due in (("late", 30.0), ("soon", 10.0), ("middle", 20.0)):
        queue.schedule(name, due, render(name))
    queue.schedule("soon", 5.0, render("twice"))  # already queued: no second render
    release.set()
    for _ in range(3):
        assert done.acquire(timeout=30)
    assert order == ["soon", "middle", "late"]
