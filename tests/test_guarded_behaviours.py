"""Behaviours a user would notice, each guarded by a test written for it and driven through
the route a user calls (not the store behind it): removing one key's scenarios over HTTP, a
remix made from its source's picture, one image at two durations. Each test starts from an
empty render cache (``empty_render_caches``), so a video another test left behind cannot make
it pass."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest
from PIL import Image

from mockserver.http.app import create_app
from mockserver.testing import SoraMock, test_config

RED = (230, 20, 20)
pytestmark = pytest.mark.usefixtures("empty_render_caches")


def _png(colour: tuple[int, int, int], size: tuple[int, int] = (720, 1280)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def mock() -> SoraMock:
    return SoraMock(create_app(test_config()))


def _admin(mock: SoraMock) -> httpx.Client:
    return httpx.Client(base_url=mock.host, transport=mock.transport())


def _status(mock: SoraMock, key: str) -> int:
    with mock.client("gptge", api_key=key) as client:
        return client.get("/v1/videos/video_nope").status_code


def test_deleting_one_keys_scenarios_over_http_leaves_the_others(mock: SoraMock) -> None:
    with _admin(mock) as admin:
        for body in (
            {"scenario": "forbidden", "api_key": "sk-alice-1"},
            {"scenario": "unauthorized", "api_key": "sk-alice-1", "times": 5},
            {"scenario": "server_error", "api_key": "sk-bob-2"},
        ):
            assert admin.post("/__mock/scenarios", json=body).status_code == 201
        assert _status(mock, "sk-alice-1") == 401  # her newest rule
        removed = admin.delete("/__mock/scenarios", params={"api_key": "sk-alice-1"})
        assert removed.status_code == 200 and removed.json() == {"removed": 2}
        left = admin.get("/__mock/scenarios").json()["rules"]
        again = admin.delete("/__mock/scenarios", params={"api_key": "sk-alice-1"}).json()
    assert [r["scenario"] for r in left] == ["server_error"]
    assert again == {"removed": 0}
    assert _status(mock, "sk-alice-1") == 404, "alice's rules still apply"
    assert _status(mock, "sk-bob-2") == 500, "bob's rule went with alice's"


def _mean_colour(webp: bytes) -> tuple[float, ...]:
    image = Image.open(io.BytesIO(webp)).convert("RGB")
    return tuple(float(v) for v in np.asarray(image).reshape(-1, 3).mean(axis=0))


def test_a_remix_is_made_from_its_sources_picture(mock: SoraMock) -> None:
    with mock.client("gptge") as client:
        source = client.post(
            "/v1/videos",
            data={"prompt": "a red wall", "model": "sora-2", "seconds": "4", "size": "720x1280"},
            files={"input_reference": ("red.png", _png(RED), "image/png")},
        ).json()
        mock.advance(3600)
        remix = client.post(f"/v1/videos/{source['id']}/remix", json={"prompt": "at night"})
        assert remix.status_code == 200, remix.text
        mock.advance(3600)
        shown = client.get(
            f"/v1/videos/{remix.json()['id']}/content", params={"variant": "thumbnail"}
        )
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/webp"
    r, g, b = _mean_colour(shown.content)
    assert r > 180 and g < 70 and b < 70, f"the remix shows {r:.0f},{g:.0f},{b:.0f}, not red"


def _seconds(mp4: bytes) -> float:
    import av

    with av.open(io.BytesIO(mp4)) as container:
        stream = container.streams.video[0]
        assert stream.duration is not None
        return float(stream.duration * stream.time_base)


def test_one_image_at_two_durations_gives_two_videos(mock: SoraMock) -> None:
    """The render cache keys a video by image, size and duration: the same picture asked for
    4 s and for 8 s is two videos (a fresh app: nothing another test rendered is in its cache)."""
    image = _png(RED)
    videos = {}
    with mock.client("gptge") as client:
        for seconds in ("4", "8"):
            created = client.post(
                "/v1/videos",
                data={"prompt": "p", "model": "sora-2", "seconds": seconds, "size": "720x1280"},
                files={"input_reference": ("red.png", image, "image/png")},
            ).json()
            videos[seconds] = created["id"]
        mock.advance(3600)
        got = {s: client.get(f"/v1/videos/{i}/content").content for s, i in videos.items()}
    assert _seconds(got["4"]) == pytest.approx(4, abs=0.2)
    assert _seconds(got["8"]) == pytest.approx(8, abs=0.2)
