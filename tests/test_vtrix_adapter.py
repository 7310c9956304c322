"""What the client sends to Vtrix and reads back (sora_client._providers.declared), on
the adapter alone: the create body (the contract's model, ``seconds`` as a string, the size
given or the image's own, the image as a URL or a ``data:`` URL, extra fields last), the
remix, the status read, and a task read into a Job (statuses, progress, the video among the
outputs, the error)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from sora_client._images import Image
from sora_client._providers import CreateSpec, adapter_class

# Vtrix is a declaration (contracts/vtrix-generation.yaml): its adapter is made from it, and
# the video is read where its `job-places` say (the first video output, else the first URL)
VtrixGeneration = adapter_class("vtrix")

BASE = "http://127.0.0.1:9/vtrix"
PNG = Image(b"\x89PNG...", None, "image/png", 640, 360, "cat.png")
LINKED = Image(None, "https://example.com/cat.png", None, None, None, "cat.png")


def _video_url(output: Any) -> Any:
    return VtrixGeneration("sk-test", BASE)._at({"output": output}, "video_url")


@pytest.fixture
def vtrix() -> VtrixGeneration:
    return VtrixGeneration("sk-test", BASE)


def _body(request: httpx.Request) -> dict[str, Any]:
    return json.loads(request.content)


def test_the_default_model_is_the_contracts_only_one(vtrix: VtrixGeneration) -> None:
    assert vtrix.default_model() == "sora_2_pro_i2v"


def test_a_create_sends_the_contracts_fields(vtrix: VtrixGeneration) -> None:
    request = vtrix.build_create(CreateSpec("a cat", PNG, seconds=8, size="1280x720"))
    assert (request.method, str(request.url)) == ("POST", f"{BASE}/model/v1/generation")
    assert request.headers["Authorization"] == "Bearer sk-test"
    assert request.headers["Content-Type"] == "application/json"
    assert _body(request) == {
        "model": "sora_2_pro_i2v",
        "prompt": "a cat",
        "size": "1280x720",
        "seconds": "8",
        "input_reference": PNG.data_url(),
    }


def test_a_create_without_a_size_takes_the_images_own(vtrix: VtrixGeneration) -> None:
    assert _body(vtrix.build_create(CreateSpec("a cat", PNG)))["size"] == "640x360"
    # an image known by URL only (no pixels at hand): no size sent, the contract's default
    body = _body(vtrix.build_create(CreateSpec("a cat", LINKED)))
    assert "size" not in body
    assert body["input_reference"] == "https://example.com/cat.png", "a URL goes as given"
    assert "size" not in _body(vtrix.build_create(CreateSpec("no image")))
    assert "input_reference" not in _body(vtrix.build_create(CreateSpec("no image")))


def test_a_create_sends_only_the_fields_given_and_extra_fields_last(
    vtrix: VtrixGeneration,
) -> None:
    body = _body(vtrix.build_create(CreateSpec("a cat", model="other")))
    assert body == {"model": "other", "prompt": "a cat"}
    extra = {"seconds": 12, "watermark": False}
    body = _body(vtrix.build_create(CreateSpec("a cat", seconds=4, extra=extra)))
    assert body == {"model": "sora_2_pro_i2v", "prompt": "a cat", "seconds": 12, "watermark": False}


def test_the_pixel_target_is_the_size_sent_or_the_contracts_default(
    vtrix: VtrixGeneration,
) -> None:
    assert vtrix.pixel_target(CreateSpec("x", size="1792x1024")) == (1792, 1024)
    assert vtrix.pixel_target(CreateSpec("x", PNG)) == (640, 360)
    assert vtrix.pixel_target(CreateSpec("x", LINKED)) == (720, 1280)
    assert vtrix.pixel_target(CreateSpec("x")) == (720, 1280)


def test_the_pixel_target_is_none_without_a_default_size(
    vtrix: VtrixGeneration, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema = vtrix.schema("#/components/schemas/GenerationRequest")
    monkeypatch.delitem(schema["properties"]["size"], "default")
    assert vtrix.pixel_target(CreateSpec("x")) is None


def test_a_remix_is_a_create_naming_its_source(vtrix: VtrixGeneration) -> None:
    request = vtrix.build_remix("task_1", "now at night", {"seconds": "8"})
    assert (request.method, str(request.url)) == ("POST", f"{BASE}/model/v1/generation")
    assert _body(request) == {
        "model": "sora_2_pro_i2v",
        "prompt": "now at night",
        "remix_video_id": "task_1",
        "seconds": "8",
    }
    assert _body(vtrix.build_remix("t", "p", {"model": "m2"}))["model"] == "m2"


def test_a_status_read_names_the_task_quoted(vtrix: VtrixGeneration) -> None:
    request = vtrix.build_get("task/1 2")
    assert request.method == "GET"
    assert str(request.url) == f"{BASE}/model/v1/generation/task/task%2F1%202"


def _answer(**headers: str) -> httpx.Response:
    return httpx.Response(200, headers=headers)


TASK = {
    "id": "task_1",
    "status": "processing",
    "progress": 0.4,
    "model": "sora_2_pro_i2v",
    "created_at": 1_700_000_000,
}


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("pending", "queued"),
        ("processing", "in_progress"),
        ("in_progress", "in_progress"),
        ("completed", "completed"),
        ("failed", "failed"),
    ],
)
def test_each_vtrix_status_has_its_neutral_word(
    vtrix: VtrixGeneration, word: str, status: str
) -> None:
    assert vtrix.parse_job({**TASK, "status": word}, _answer()).status == status


def test_a_task_is_read_into_a_job(vtrix: VtrixGeneration) -> None:
    job = vtrix.parse_job(TASK, _answer(**{"x-request-id": "req_7"}))
    assert (job.id, job.provider, job.status) == ("task_1", "vtrix", "in_progress")
    assert job.progress == 0.4
    assert job.model == "sora_2_pro_i2v"
    assert job.created_at is not None and job.created_at.timestamp() == 1_700_000_000
    assert job.request_id == "req_7"
    assert job.raw == TASK
    assert (job.video_url, job.error_code, job.error_message) == (None, None, None)


def test_a_completed_task_is_whole_and_gives_its_video(vtrix: VtrixGeneration) -> None:
    output = [{"content": [{"type": "video", "url": "https://cdn/v.mp4"}]}]
    body = {**TASK, "status": "completed", "progress": 0.2, "output": output}
    job = vtrix.parse_job(body, _answer())
    assert job.progress == 1.0
    assert job.video_url == "https://cdn/v.mp4"
    progress = vtrix.parse_job({**TASK, "progress": 7}, _answer()).progress
    assert progress == 1.0, "clamped"
    assert vtrix.parse_job({**TASK, "progress": None}, _answer()).progress == 0.0


def test_a_failed_task_gives_its_code_and_message(vtrix: VtrixGeneration) -> None:
    error = {"code": 3000095, "error_message": "content policy"}
    job = vtrix.parse_job({**TASK, "status": "failed", "error": error}, _answer())
    assert (job.status, job.error_code, job.error_message) == (
        "failed",
        "3000095",
        "content policy",
    )
    job = vtrix.parse_job({**TASK, "status": "failed", "error": {"message": "m"}}, _answer())
    assert (job.error_code, job.error_message) == (None, "m")


def test_the_video_is_the_first_video_output_else_the_first_url() -> None:
    image = {"type": "image", "url": "https://cdn/poster.png"}
    video = {"type": "video", "url": "https://cdn/v.mp4"}
    assert _video_url([{"content": [image, video]}]) == "https://cdn/v.mp4"
    assert _video_url([{"content": [image]}, {"content": [video]}]) == "https://cdn/v.mp4"
    assert _video_url([{"content": [image]}]) == "https://cdn/poster.png"
    # items without a usable URL are passed over
    blank = {"type": "video", "url": ""}
    odd = [{"content": "x"}, "item", {"content": [blank, {"type": "video"}, 5, image]}]
    assert _video_url(odd) == "https://cdn/poster.png"
    assert _video_url([{"content": [blank]}]) is None
    assert _video_url([]) is None
    assert _video_url({"content": [video]}) is None, "output is a list or nothing"
    assert _video_url(None) is None


def test_without_a_const_the_default_model_is_the_contracts_default(
    vtrix: VtrixGeneration, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = vtrix.schema("#/components/schemas/GenerationRequest")["properties"]["model"]
    monkeypatch.delitem(model, "const")
    monkeypatch.setitem(model, "default", "sora_2_i2v")
    assert vtrix.default_model() == "sora_2_i2v"
    assert json.loads(vtrix.build_create(CreateSpec("x")).content)["model"] == "sora_2_i2v"
