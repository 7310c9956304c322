"""GPTProto's `/v1/videos` written as a declaration
(tests/declared/gptproto-videos.x-sora-mock.yaml) and served side by side with its Python
dialect (mockserver.dialects.gptproto_videos), which still serves `/gptproto`: the
declaration, added to a copy of the contract under the prefix `gptproto-declared`, must
answer what the dialect answers (job bodies key by key, string timestamps, `quality` for
sora-2 only, `soraVideoUrl` once completed, the JSON job from `/content` until ready, the
list, delete, remix, and every error body). This is the step before the move: when both agree
on every test file, the block goes into the contract and the dialect goes (ARCHITECTURE.md,
"Providers as data")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from providers import png

import contracts
from mockserver.app import create_app
from mockserver.testing import SoraMock, test_config

HERE = Path(__file__).resolve().parent
AUTH = {"Authorization": "sk-test"}  # GPTProto's raw key
PYTHON, DECLARED = "gptproto", "gptproto-declared"


@pytest.fixture
def declared(tmp_path: Path) -> Iterator[Path]:
    contract = (Path(contracts.__file__).parent / "gptproto-videos.yaml").read_text()
    assert "\nx-sora-mock:" not in contract, "moved: this side-by-side test has done its work"
    block = (HERE / "declared" / "gptproto-videos.x-sora-mock.yaml").read_text()
    block = block.replace("prefix: gptproto ", f"prefix: {DECLARED} ", 1)
    block = block.replace("client: gptproto-videos", f"client: {DECLARED}", 1)
    block = block.replace("hosts: [gptproto.com]", "hosts: [gptproto-declared.test]", 1)
    path = tmp_path / f"{DECLARED}.yaml"
    path.write_text(contract + block)
    contracts.add_provider(path)
    yield path
    contracts.forget_provider(DECLARED)


@pytest.fixture
def mock(declared: Path) -> SoraMock:
    return SoraMock(create_app(test_config()))  # strict: every answer checked on its contract


def _create(client: httpx.Client, image: bytes | None = None, **fields: str) -> httpx.Response:
    data = {"prompt": "Put a hat on the cat", "model": "sora-2", "seconds": "4", **fields}
    data.setdefault("size", "720x1280")
    width, height = (int(n) for n in data["size"].split("x"))
    picture = image if image is not None else png(width, height)
    files = {"input_reference": ("cat.png", picture, "image/png")}
    return client.post("/v1/videos", data=data, files=files, headers=AUTH)


def _same(python: Any, declared: Any, python_id: str, declared_id: str) -> None:
    """The two answers, the declared one's id read as the Python one's."""
    text = httpx.Response(200, json=declared).text.replace(declared_id, python_id)
    assert httpx.Response(200, text=text).json() == python


def _both(mock: SoraMock, send: Any) -> tuple[httpx.Response, httpx.Response]:
    with mock.client(PYTHON) as python, mock.client(DECLARED) as declared:
        return send(python), send(declared)


def _until_completed(mock: SoraMock, ids: tuple[str, str]) -> tuple[dict[str, Any], ...]:
    for _ in range(400):
        with mock.client(PYTHON) as python, mock.client(DECLARED) as declared:
            found = (
                python.get(f"/v1/videos/{ids[0]}", headers=AUTH).json(),
                declared.get(f"/v1/videos/{ids[1]}", headers=AUTH).json(),
            )
        if all(f["status"] == "completed" for f in found):
            return found
        mock.advance(0.5)
    raise AssertionError("the videos never completed")


def test_a_new_video_reads_the_same(mock: SoraMock) -> None:
    for fields in ({}, {"model": "sora-2-pro", "size": "1792x1024", "seconds": "8"}):
        python, declared = _both(mock, lambda c, f=fields: _create(c, **f))
        assert python.status_code == declared.status_code == 200, declared.text
        assert list(declared.json()) == list(python.json()), "the same keys in the same order"
        _same(python.json(), declared.json(), python.json()["id"], declared.json()["id"])
        assert (
            "openai-poll-after-ms" in python.headers and "openai-poll-after-ms" in declared.headers
        )
    mock.check()


def test_a_completed_video_and_its_content_read_the_same(mock: SoraMock) -> None:
    python, declared = _both(mock, _create)
    ids = (python.json()["id"], declared.json()["id"])
    early = [
        client.get(f"/v1/videos/{video}/content", headers=AUTH)
        for client, video in zip(_clients(mock), ids, strict=True)
    ]
    assert [e.status_code for e in early] == [200, 200]
    _same(early[0].json(), early[1].json(), *ids)
    done = _until_completed(mock, ids)
    for video, video_id in zip(done, ids, strict=True):
        assert video["created_at"].isdigit() and video["completed_at"].isdigit()
        assert int(video["expires_at"]) == int(video["completed_at"]) + 3600
        assert video["soraVideoUrl"].endswith(mock.service.media_path(video_id))
        assert video["quality"] == "standard" and video["error"] is None
    assert list(done[1]) == list(done[0])
    mock.check()


def test_every_error_reads_the_same(mock: SoraMock) -> None:
    def unknown(client: httpx.Client) -> list[httpx.Response]:
        return [
            client.get("/v1/videos/video_nope", headers=AUTH),
            client.delete("/v1/videos/video_nope", headers=AUTH),
            client.get("/v1/videos/video_nope/content", headers=AUTH),
            client.post("/v1/videos/video_nope/remix", json={"prompt": "p"}, headers=AUTH),
            _create(client, png(640, 480)),
            _create(client, model="sora-2", size="1792x1024"),
        ]

    python, declared = _both(mock, unknown)
    for one, other in zip(python, declared, strict=True):
        assert (one.status_code, one.json()) == (other.status_code, other.json())
    made = _both(mock, _create)
    ids = (made[0].json()["id"], made[1].json()["id"])
    early = [
        client.post(f"/v1/videos/{video}/remix", json={"prompt": "p"}, headers=AUTH)
        for client, video in zip(_clients(mock), ids, strict=True)
    ]
    assert [e.status_code for e in early] == [409, 409]
    assert early[0].json() == early[1].json()
    mock.service.config.retired_models = ["sora-2"]
    refused = _both(mock, _create)
    assert (refused[0].status_code, refused[0].json()) == (404, refused[1].json())
    mock.check()


def test_list_delete_and_remix_read_the_same(mock: SoraMock) -> None:
    made = _both(mock, _create)
    ids = (made[0].json()["id"], made[1].json()["id"])
    _until_completed(mock, ids)
    clients = _clients(mock)
    remixes = [
        client.post(f"/v1/videos/{video}/remix", json={"prompt": "by night"}, headers=AUTH)
        for client, video in zip(clients, ids, strict=True)
    ]
    assert [r.status_code for r in remixes] == [200, 200]
    remix_ids = (remixes[0].json()["id"], remixes[1].json()["id"])
    body = remixes[1].json()
    _same(remixes[0].json(), {**body, "remixed_from_video_id": ids[0]}, *remix_ids)
    pages = [c.get("/v1/videos?order=asc&limit=1", headers=AUTH).json() for c in clients]
    assert [list(p) for p in pages] == [["object", "data", "first_id", "last_id", "has_more"]] * 2
    assert [(p["has_more"], p["first_id"]) for p in pages] == [(True, ids[0]), (True, ids[1])]
    deleted = [
        client.delete(f"/v1/videos/{video}", headers=AUTH)
        for client, video in zip(clients, remix_ids, strict=True)
    ]
    _same(deleted[0].json(), deleted[1].json(), *remix_ids)
    mock.check()


def _clients(mock: SoraMock) -> list[httpx.Client]:
    return [mock.client(PYTHON), mock.client(DECLARED)]
