"""Behaviours a user would notice, each guarded by a test written for it and driven through
the route a user calls (not the store behind it): removing one key's scenarios over HTTP, and
a remix made from its source's picture."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest
from PIL import Image

from mockserver.app import create_app
from mockserver.testing import SoraMock, test_config

RED = (230, 20, 20)


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
