"""Example: assert what your code sent, and record its real traffic once, then replay it.

``sora_replay(record="once", provider="gptge")`` keeps this test's cassettes in
``cassettes/test_record_once__test_my_app_creates_one_video/`` beside this file. The first
run, with ``GPTGE_API_KEY`` set and no cassette there, goes through the recording proxy to
api.gpt.ge and writes them (the ones shipped here were recorded from a mock standing in for
it: ``--sora-upstream http://127.0.0.1:PORT/gptge``); every later run replays them, offline,
with no key. ``pytest --sora-record=all`` records them again.

``requests()`` and ``assert_requested()`` read what the app sent (the mock's journal while
replaying, the proxy's while recording): operation, fields, the image's size and hash.
"""

from __future__ import annotations

import hashlib
import io

import httpx
import pytest
from PIL import Image

from mockserver.plugin.pytest_record import SoraRecording
from mockserver.testing import SoraMock


# --- the code under test ------------------------------------------------------------------
def start_video(client: httpx.Client, prompt: str, image: bytes) -> str:
    response = client.post(
        "/v1/videos",
        data={"prompt": prompt, "model": "sora-2", "seconds": "4", "size": "720x1280"},
        files={"input_reference": ("ref.png", image, "image/png")},
    )
    response.raise_for_status()
    return str(response.json()["id"])


def reference_image() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (720, 1280), "orange").save(buf, "PNG")
    return buf.getvalue()


# --- the tests ------------------------------------------------------------------------------
@pytest.mark.sora_replay(record="once", provider="gptge")
def test_my_app_creates_one_video(sora_replay: SoraMock | SoraRecording) -> None:
    with sora_replay.client("gptge") as client:  # the key: GPTGE_API_KEY while recording
        video_id = start_video(client, "A cat in a hat", reference_image())
        status = client.get(f"/v1/videos/{video_id}").json()["status"]
    assert status in ("queued", "in_progress", "completed")
    # exactly one create, with these fields, and this image
    (create,) = sora_replay.assert_requested(
        operation="createVideo", times=1, model="sora-2", seconds="4"
    )
    assert create.image is not None
    assert create.image["sha256"] == hashlib.sha256(reference_image()).hexdigest()
    assert "authorization" not in create.headers  # credentials are never kept


def test_a_wrong_expectation_shows_what_arrived(sora_mock: SoraMock) -> None:
    with sora_mock.client("gptge") as client:
        start_video(client, "A cat in a hat", reference_image())
    with pytest.raises(AssertionError) as failure:
        sora_mock.assert_requested(operation="createVideo", model="sora-2-pro")
    assert "model='sora-2' (wanted 'sora-2-pro')" in str(failure.value)
