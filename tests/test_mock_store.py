"""Storage: SQLite keeps every accepted job across a restart and between worker processes."""

from __future__ import annotations

import io
import multiprocessing
from pathlib import Path
from typing import Any

import pytest
from jobs import make_job
from PIL import Image, ImageStat
from providers import APIS

from mockserver.http.app import create_app
from mockserver.state.lifecycle import Job
from mockserver.state.store import SQLiteStore
from mockserver.state.stores import open_store
from mockserver.testing import SoraMock, test_config

HEADERS = {"Authorization": "Bearer sk-test"}


def sqlite_mock(path: Path) -> SoraMock:
    return SoraMock(create_app(test_config(store=f"sqlite:{path}")))


#: the reference images' colour (providers.png); a placeholder frame is a grey-blue gradient
RED = (200, 40, 40)


def _mean_colour(image_bytes: bytes) -> tuple[float, ...]:
    with Image.open(io.BytesIO(image_bytes)) as image:
        return ImageStat.Stat(image.convert("RGB")).mean  # type: ignore[no-any-return]


def _second_life(db: str, created: dict[str, str], answers: Any) -> None:
    """Another process opening the same SQLite file: what does it know about each job?"""
    mock = sqlite_mock(Path(db))
    mock.advance(300)
    seen: dict[str, Any] = {"now": mock.now()}
    for api_id, job_id in created.items():
        api = APIS[api_id]
        with mock.client(api.provider) as client:
            body = client.get(api.status_path(job_id)).json()
            thumb = client.get(f"{mock.host}/__mock/media/{job_id}/thumbnail.webp")
        seen[api_id] = (api.status(body), thumb.status_code, _mean_colour(thumb.content))
    with mock.client("gptge") as client:
        content = client.get(f"/v1/videos/{created['gptge-videos']}/content")
    seen["content"] = (content.status_code, content.headers["content-type"])
    mock.check()
    answers.put(seen)


def test_restart_with_sqlite_loses_nothing(tmp_path: Path) -> None:
    """Every accepted job, its reference image and the clock survive the process: a second
    process on the same file completes each job and renders it from the image sent."""
    db = tmp_path / "mock.db"
    first = sqlite_mock(db)
    created = {}
    for api_id, api in APIS.items():
        with first.client(api.provider) as client:
            response = api.create(client, HEADERS)
            assert response.status_code == 200
            created[api_id] = api.job_id(response.json())
    first.advance(30)
    then = first.now()
    first.service.store.close()

    context = multiprocessing.get_context("spawn")
    answers = context.Queue()
    second = context.Process(target=_second_life, args=(str(db), created, answers))
    second.start()
    seen = answers.get(timeout=120)
    second.join(timeout=60)
    assert second.exitcode == 0
    assert seen.pop("now") == then + 300, "the virtual clock is kept in the store too"
    assert seen.pop("content") == (200, "video/mp4")
    for api_id in created:
        status, code, colour = seen[api_id]
        assert (status, code) == (APIS[api_id].words[2], 200), api_id
        # the thumbnail shows the reference image, not a placeholder (lossy WebP: a margin)
        assert colour == pytest.approx(RED, abs=12), (api_id, colour)


def _worker(path: str, start: int, count: int, taken: Any) -> None:
    store = SQLiteStore(path)
    got = []
    for i in range(start, start + count):
        store.add(_job(f"video_{i:04d}"))
        got.append(store.take_rule(None, "gptge"))
    store.close()
    taken.put(got)


def _job(job_id: str) -> Job:
    return make_job(id=job_id, created_at=0.0, queue_seconds=1, render_seconds=1)


def test_several_processes_share_one_sqlite_store(tmp_path: Path) -> None:
    db = str(tmp_path / "shared.db")
    store = SQLiteStore(db)
    store.add_rule("rate_limited", None, "gptge", 50)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_worker, args=(db, n * 100, 40, queue)) for n in range(3)]
    for w in workers:
        w.start()
    answers = [queue.get(timeout=120) for _ in workers]  # before join: a full pipe blocks
    for w in workers:
        w.join(timeout=120)
        assert w.exitcode == 0
    jobs, _ = store.jobs(order="asc")
    assert len(jobs) == 120
    assert len({j.id for j in jobs}) == 120
    # 120 takes of a 50-use rule: it is handed out exactly 50 times in all, then gone
    taken = [t for got in answers for t in got]
    assert len(taken) == 120
    assert taken.count("rate_limited") == 50
    assert taken.count(None) == 70
    assert store.rules() == []


# (rules taken key first, pages in both orders: test_store_contract.py, three stores)


def test_unknown_store_spec_is_refused() -> None:
    with pytest.raises(ValueError, match="sqlite:PATH"):
        open_store("postgres://x")


def test_an_unreachable_redis_is_one_clear_error_without_its_password() -> None:
    with pytest.raises(ValueError, match="cannot reach Redis at 127.0.0.1:1") as caught:
        open_store("redis://:s3cret@127.0.0.1:1/0")
    assert "s3cret" not in str(caught.value)
