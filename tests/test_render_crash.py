"""A render that crashes its process fails only its job, in its provider's own failure words.

The crash is real: the render process (a plain child Python, mockserver/media/render_process.py)
aborts with
SIGABRT when it is handed one particular image, through a ``sitecustomize`` module the test
puts on the child's ``PYTHONPATH`` (nothing in the mock knows of it). Before, the worker then
rendered the same input in its own process, and crashed with it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from providers import APIS, png
from redis_server import redis_server

from mockserver import media
from mockserver.http.app import create_app

AUTH = {"Authorization": "Bearer sk-test"}

CRASHER = """
import hashlib, os
_crash = os.environ.get("SORA_TEST_RENDER_CRASH")
if _crash:
    import mockserver.media as _media

    _real = _media.render_process._render_video

    def _render_video(image, *args):
        if image is not None and hashlib.sha256(image).hexdigest() == _crash:
            os.abort()  # what a segfault in the encoder looks like from the worker
        return _real(image, *args)

    _media.render_process._render_video = _render_video
"""


@pytest.fixture
def crashing_renders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[bytes]:
    """Renders in a child process that dies on the image yielded."""
    (tmp_path / "sitecustomize.py").write_text(CRASHER)
    poison = png(1280, 720, (1, 2, 3))
    monkeypatch.setenv("SORA_TEST_RENDER_CRASH", hashlib.sha256(poison).hexdigest())
    monkeypatch.setenv(
        "PYTHONPATH",
        ":".join(filter(None, [str(tmp_path), media.render_process.os.environ.get("PYTHONPATH")])),
    )
    media.isolate_renders(False)  # a child started before would not have the crash
    media.isolate_renders()
    try:
        yield poison
    finally:
        media.isolate_renders(False)


@pytest.mark.parametrize("store", ["memory", "sqlite", "redis"])
def test_a_render_that_crashes_its_process_fails_only_its_job(
    crashing_renders: bytes, caplog: pytest.LogCaptureFixture, tmp_path: Path, store: str
) -> None:
    caplog.set_level(logging.INFO, logger="mockserver")
    with ExitStack() as stack:
        if store == "redis":
            spec = stack.enter_context(redis_server())
        else:
            spec = "memory" if store == "memory" else f"sqlite:{tmp_path / 'state.sqlite'}"
        check_one_job_fails(crashing_renders, caplog, spec)


def check_one_job_fails(
    crashing_renders: bytes, caplog: pytest.LogCaptureFixture, spec: str
) -> None:
    api = APIS["vtrix-generation"]
    app = create_app(clock="virtual", store=spec)
    service = app.extensions["sora_mock"]
    with httpx.Client(
        transport=httpx.WSGITransport(app=app), base_url="http://127.0.0.1/vtrix"
    ) as client:
        good = api.job_id(api.create(client, AUTH).json())
        bad = api.job_id(api.create(client, AUTH, crashing_renders).json())
        assert service.renders.join(60), "the background renders did not finish"
        advanced = client.post("http://127.0.0.1/__mock/clock/advance", json={"seconds": 3600})
        assert advanced.status_code == 200
        bad_state = client.get(api.status_path(bad), headers=AUTH).json()
        good_state = client.get(api.status_path(good), headers=AUTH).json()
    # the crashing one failed in Vtrix's words (its own default failure code and message)
    assert api.status(bad_state) == api.words[3], bad_state
    assert "003000095" in str(bad_state), bad_state
    assert api.status(good_state) == api.words[2], good_state
    video = api.video_url(good_state)
    assert video is not None
    with httpx.Client(transport=httpx.WSGITransport(app=app)) as client:
        downloaded = client.get(video)
    assert downloaded.status_code == 200 and downloaded.content[4:8] == b"ftyp"
    # the worker never rendered it itself, and said once which job failed and why
    lines = [r.getMessage() for r in caplog.records if "render process died" in r.getMessage()]
    assert len(lines) == 1, lines
    assert bad in lines[0] and "SIGABRT" in lines[0]
    assert not [r for r in caplog.records if r.exc_info]
    assert service.error_count == 0
