"""Example: test your code against a job recorded from a provider, replayed offline.

The cassette in ``cassettes/`` was recorded with the proxy in front of gpt.ge (here: the mock
standing in for it, so the repository holds no real traffic)::

    sora-mock proxy --provider gptge --record mockserver/examples/cassettes  # to api.gpt.ge
    # ... run your app once with its base URL at http://127.0.0.1:8001 ...

``sora_replay`` serves it: the same statuses at the same times after the create (on a virtual
clock), the recorded video byte for byte, a fresh job id.
"""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image

from mockserver.testing import SoraMock


def reference_image() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (720, 1280), "orange").save(buf, "PNG")
    return buf.getvalue()


def create(client: httpx.Client) -> httpx.Response:
    return client.post(
        "/v1/videos",
        data={"prompt": "Put a hat on the cat", "model": "sora-2", "seconds": "4"},
        files={"input_reference": ("cat.png", reference_image(), "image/png")},
    )


@pytest.mark.sora_replay("cassettes", fallback="404")
def test_the_recorded_job_replays_on_the_virtual_clock(sora_replay: SoraMock) -> None:
    with sora_replay.client("gptge", api_key="sk-example") as client:
        video_id = create(client).json()["id"]
        seen = []
        for _ in range(5):
            sora_replay.advance(2)
            seen.append(client.get(f"/v1/videos/{video_id}").json()["status"])
        video = client.get(f"/v1/videos/{video_id}/content")
    assert seen == ["in_progress", "in_progress", "in_progress", "completed", "completed"]
    assert video.headers["content-type"] == "video/mp4" and video.content[4:8] == b"ftyp"


@pytest.mark.sora_replay("cassettes", fallback="404")
def test_a_create_nobody_recorded_is_a_404(sora_replay: SoraMock) -> None:
    with sora_replay.client("gptge", api_key="sk-example") as client:
        create(client)  # the one recorded job, matched in order
        assert create(client).status_code == 200  # the same request matches it again
        other = client.post(
            "/v1/videos",
            data={"prompt": "Something never recorded", "model": "sora-2", "seconds": "4"},
            files={"input_reference": ("cat.png", reference_image(), "image/png")},
        )
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "not_recorded"
