"""GPTProto's `/v1/videos` as its contract's declaration serves it, body by body: what its
Python dialect answered, which the declaration was held equal to, key by key, before the move
(the side-by-side test this file replaces): the job's keys in their order, string timestamps,
`quality` for sora-2 only, `soraVideoUrl` once completed, the JSON job from `/content` until
ready, the list, delete, remix, and every error body in GPTProto's shape (the HTTP status as
the type, a code and a param only when there is one)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from providers import png

from mockserver.app import create_app
from mockserver.testing import SoraMock, test_config

AUTH = {"Authorization": "sk-test"}  # GPTProto's raw key
JOB_KEYS = [
    "id",
    "object",
    "created_at",
    "status",
    "model",
    "progress",
    "seconds",
    "size",
    "completed_at",
    "expires_at",
    "error",
    "remixed_from_video_id",
    "prompt",
    "quality",
    "soraVideoUrl",
]


@pytest.fixture
def mock() -> SoraMock:
    return SoraMock(create_app(test_config()))  # strict: every answer checked on its contract


def _create(client: httpx.Client, image: bytes | None = None, **fields: str) -> httpx.Response:
    data = {"prompt": "Put a hat on the cat", "model": "sora-2", "seconds": "4", **fields}
    data.setdefault("size", "720x1280")
    width, height = (int(n) for n in data["size"].split("x"))
    picture = image if image is not None else png(width, height)
    files = {"input_reference": ("cat.png", picture, "image/png")}
    return client.post("/v1/videos", data=data, files=files, headers=AUTH)


def _until_completed(mock: SoraMock, client: httpx.Client, video_id: str) -> dict[str, Any]:
    for _ in range(400):
        found: dict[str, Any] = client.get(f"/v1/videos/{video_id}", headers=AUTH).json()
        if found["status"] == "completed":
            return found
        mock.advance(0.5)
    raise AssertionError("the video never completed")


def _error(status: int, message: str, **more: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": str(status), **more}}


def test_a_new_video_reads_as_the_dialect_wrote_it(mock: SoraMock) -> None:
    with mock.client("gptproto") as client:
        made = _create(client)
        pro = _create(client, model="sora-2-pro", size="1792x1024", seconds="8")
    assert made.status_code == 200, made.text
    video = made.json()
    assert list(video) == JOB_KEYS
    assert video == {
        "id": video["id"],
        "object": "video",
        "created_at": str(int(mock.now())),
        "status": "queued",
        "model": "sora-2",
        "progress": 0,
        "seconds": "4",
        "size": "720x1280",
        "completed_at": None,
        "expires_at": None,
        "error": None,
        "remixed_from_video_id": None,
        "prompt": "Put a hat on the cat",
        "quality": "standard",
        "soraVideoUrl": None,
    }
    assert video["id"].startswith("video_")
    assert list(made.headers)[:2] == ["openai-poll-after-ms", "content-type"]
    assert pro.status_code == 200, pro.text
    assert list(pro.json()) == [k for k in JOB_KEYS if k != "quality"]
    assert (pro.json()["seconds"], pro.json()["size"]) == ("8", "1792x1024")
    mock.check()


def test_a_completed_video_and_its_content(mock: SoraMock) -> None:
    with mock.client("gptproto") as client:
        video_id = _create(client).json()["id"]
        early = client.get(f"/v1/videos/{video_id}/content", headers=AUTH)
        assert early.status_code == 200
        assert list(early.json()) == JOB_KEYS and early.json()["status"] == "queued"
        done = _until_completed(mock, client, video_id)
        answer = client.get(f"/v1/videos/{video_id}", headers=AUTH)
    assert "openai-poll-after-ms" not in answer.headers
    assert list(done) == JOB_KEYS
    assert done["created_at"].isdigit() and done["completed_at"].isdigit()
    assert int(done["expires_at"]) == int(done["completed_at"]) + 3600
    assert done["soraVideoUrl"].endswith(mock.service.media_path(video_id))
    assert (done["progress"], done["quality"], done["error"]) == (100, "standard", None)
    mock.check()


def test_every_error_reads_in_gptprotos_shape(mock: SoraMock) -> None:
    with mock.client("gptproto") as client:
        unknown = [
            client.get("/v1/videos/video_nope", headers=AUTH),
            client.delete("/v1/videos/video_nope", headers=AUTH),
            client.get("/v1/videos/video_nope/content", headers=AUTH),
            client.post("/v1/videos/video_nope/remix", json={"prompt": "p"}, headers=AUTH),
        ]
        wrong_image = _create(client, png(640, 480))
        wrong_size = _create(client, model="sora-2", size="1792x1024")
        video_id = _create(client).json()["id"]
        early = client.post(f"/v1/videos/{video_id}/remix", json={"prompt": "p"}, headers=AUTH)
        mock.service.config.retired_models = ["sora-2"]
        retired = _create(client)
    for answer in unknown:
        assert (answer.status_code, answer.json()) == (
            404,
            _error(404, "Video with id 'video_nope' not found.", param="video_id"),
        )
    assert (wrong_image.status_code, wrong_image.json()) == (
        400,
        _error(
            400,
            "Inpaint image must match the requested width and height "
            "(640x480 given, 720x1280 expected).",
            param="input_reference",
        ),
    )
    assert (wrong_size.status_code, wrong_size.json()) == (
        400,
        _error(400, "size: '1792x1024' is not one of ['720x1280', '1280x720']", param="size"),
    )
    assert (early.status_code, early.json()) == (
        409,
        _error(409, "Only a completed video can be remixed.", param="video_id"),
    )
    assert (retired.status_code, retired.json()) == (
        404,
        _error(
            404,
            "The model `sora-2` does not exist or you do not have access to it.",
            code="model_not_found",
            param="model",
        ),
    )
    assert list(retired.json()["error"]) == ["message", "type", "code", "param"]
    mock.check()


def test_list_delete_and_remix(mock: SoraMock) -> None:
    with mock.client("gptproto") as client:
        first = _create(client).json()["id"]
        _create(client)
        _until_completed(mock, client, first)
        remix = client.post(f"/v1/videos/{first}/remix", json={"prompt": "by night"}, headers=AUTH)
        page = client.get("/v1/videos?order=asc&limit=1", headers=AUTH).json()
        remix_id = remix.json()["id"]
        deleted = client.delete(f"/v1/videos/{remix_id}", headers=AUTH)
        gone = client.get(f"/v1/videos/{remix_id}", headers=AUTH)
    assert remix.status_code == 200, remix.text
    assert list(remix.json()) == JOB_KEYS
    assert remix.json()["remixed_from_video_id"] == first
    assert (remix.json()["prompt"], remix.json()["status"]) == ("by night", "queued")
    assert list(page) == ["object", "data", "first_id", "last_id", "has_more"]
    assert (page["object"], page["has_more"], page["first_id"]) == ("list", True, first)
    assert [v["id"] for v in page["data"]] == [first] == [page["last_id"]]
    assert (deleted.status_code, deleted.json()) == (
        200,
        {"id": remix_id, "object": "video.deleted", "deleted": True},
    )
    assert gone.status_code == 404
    mock.check()
