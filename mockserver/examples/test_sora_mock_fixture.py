"""Example: test your own httpx code against the mock in-process, with the virtual clock.

`sora_mock` comes with the package (a pytest plugin): no server, no port, no sleeping.
"""

from __future__ import annotations

import io

import httpx
from PIL import Image

from mockserver.testing import SoraMock


# --- the code under test: a tiny gpt.ge integration a user might write -------------------
def start_video(client: httpx.Client, prompt: str, image: bytes) -> str:
    response = client.post(
        "/v1/videos",
        data={"prompt": prompt, "model": "sora-2", "seconds": "4", "size": "720x1280"},
        files={"input_reference": ("ref.png", image, "image/png")},
    )
    response.raise_for_status()
    return str(response.json()["id"])


def video_status(client: httpx.Client, video_id: str) -> str:
    return str(client.get(f"/v1/videos/{video_id}").json()["status"])


# --- the tests ---------------------------------------------------------------------------
def reference_image() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (720, 1280), "orange").save(buf, "PNG")
    return buf.getvalue()


def test_video_is_ready_after_the_render_time(sora_mock: SoraMock) -> None:
    with sora_mock.client("gptge", api_key="sk-example") as client:
        video_id = start_video(client, "A cat in a hat", reference_image())
        assert video_status(client, video_id) == "queued"
        sora_mock.advance(3)  # seconds of virtual time: returns at once
        assert video_status(client, video_id) == "in_progress"
        sora_mock.advance(60)
        assert video_status(client, video_id) == "completed"
        assert client.get(f"/v1/videos/{video_id}/content").headers["content-type"] == "video/mp4"


def test_my_code_sees_the_providers_rate_limit(sora_mock: SoraMock) -> None:
    sora_mock.set_scenario("rate_limited", api_key="sk-example", times=1)
    with sora_mock.client("gptge", api_key="sk-example") as client:
        refused = client.post("/v1/videos", data={"prompt": "p"})
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "1"
        assert start_video(client, "p", reference_image()).startswith("video_")
    assert [e["status"] for e in sora_mock.journal] == [429, 200]
