"""What the client sends to an OpenAI-style ``/v1/videos`` provider (gpt.ge, GPTProto's official
format, both driven from their declarations by sora_client._providers.declared) and reads back,
on the adapter alone: the multipart create (fields as text, the image as the
``input_reference`` file, a URL refused), the content, list, delete and remix requests, and
the answers read into Jobs and pages."""

from __future__ import annotations

from email.message import Message
from email.parser import BytesParser
from typing import Any

import httpx
import pytest

from sora_client._exceptions import InvalidRequestError
from sora_client._images import Image
from sora_client._providers import Adapter, CreateSpec, adapter_class

BASE = "http://127.0.0.1:9/gptge"
PNG = Image(b"\x89PNG-bytes", None, "image/png", 1280, 720, "cat.png")


@pytest.fixture
def gptge() -> Adapter:
    return adapter_class("gptge")("sk-test", BASE)


def _parts(request: httpx.Request) -> dict[str, Message]:
    head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
    message = BytesParser().parsebytes(head + request.content)
    return {
        part.get_param("name", header="content-disposition"): part for part in message.get_payload()
    }  # type: ignore[misc, union-attr]


def _fields(request: httpx.Request) -> dict[str, Any]:
    return {
        name: part.get_payload(decode=True).decode()  # type: ignore[union-attr]
        for name, part in _parts(request).items()
        if part.get_filename() is None
    }


def test_a_create_is_multipart_with_text_fields_and_the_image_file(gptge: Adapter) -> None:
    spec = CreateSpec("a cat", PNG, model="sora-2", seconds=8, size="1280x720")
    request = gptge.build_create(spec)
    assert (request.method, str(request.url)) == ("POST", f"{BASE}/v1/videos")
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert _fields(request) == {
        "prompt": "a cat",
        "model": "sora-2",
        "seconds": "8",
        "size": "1280x720",
    }
    image = _parts(request)["input_reference"]
    assert image.get_filename() == "cat.png"
    assert image.get_content_type() == "image/png"
    assert image.get_payload(decode=True) == b"\x89PNG-bytes"


def test_a_create_sends_only_what_was_given_and_extra_fields_as_text(gptge: Adapter) -> None:
    request = gptge.build_create(CreateSpec("a cat", extra={"seed": 3, "style": "noir"}))
    assert request.headers["Content-Type"].startswith("multipart/form-data")
    assert _fields(request) == {"prompt": "a cat", "seed": "3", "style": "noir"}
    assert "input_reference" not in _parts(request)


def test_without_a_size_the_images_own_is_asked_for(gptge: Adapter) -> None:
    assert _fields(gptge.build_create(CreateSpec("x", PNG)))["size"] == "1280x720"
    unsized = Image(b"raw", None, None, None, None, "raw.bin")
    request = gptge.build_create(CreateSpec("x", unsized))
    assert "size" not in _fields(request)
    part = _parts(request)["input_reference"]
    assert part.get_filename() == "raw.bin"
    assert part["Content-Type"] == "", "an unknown type is not made up"


def test_an_image_known_only_by_url_is_refused_before_sending(gptge: Adapter) -> None:
    url = "https://example.com/" + "a" * 100
    linked = Image(None, url, None, None, None, "a.png")
    with pytest.raises(InvalidRequestError) as refused:
        gptge.build_create(CreateSpec("x", linked))
    assert (refused.value.provider, refused.value.field) == ("gptge", "input_reference")
    assert "gptge uploads the image as a file: pass a path or bytes, not a URL" in str(
        refused.value
    )
    assert repr(url[:60]) in str(refused.value)


def test_the_pixel_target_is_the_size_asked_or_the_contracts_default(gptge: Adapter) -> None:
    assert gptge.pixel_target(CreateSpec("x", size="720x1280")) == (720, 1280)
    assert gptge.pixel_target(CreateSpec("x", PNG)) == (1280, 720)
    default = gptge.schema(gptge.create_schema)["properties"]["size"].get("default")
    expected = tuple(int(n) for n in default.split("x")) if isinstance(default, str) else None
    assert gptge.pixel_target(CreateSpec("x")) == expected


def test_the_pixel_target_is_none_without_a_default_size(
    gptge: Adapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    properties = gptge.schema(gptge.create_schema)["properties"]
    monkeypatch.setitem(properties, "size", {"type": "string"})
    assert gptge.pixel_target(CreateSpec("x")) is None


def test_status_content_delete_and_remix_name_the_video_quoted(gptge: Adapter) -> None:
    get = gptge.build_get("v/1")
    assert (get.method, str(get.url)) == ("GET", f"{BASE}/v1/videos/v%2F1")
    content = gptge.build_content("v/1")
    assert str(content.url) == f"{BASE}/v1/videos/v%2F1/content"
    assert content.headers["Accept"] == (
        "video/mp4, application/octet-stream;q=0.9, application/json;q=0.1"
    )
    thumb = gptge.build_content("v1", "thumbnail")
    assert str(thumb.url) == f"{BASE}/v1/videos/v1/content?variant=thumbnail"
    assert thumb.headers["Accept"] == (
        "image/*, application/octet-stream;q=0.9, application/json;q=0.1"
    )
    delete = gptge.build_delete("v/1")
    assert (delete.method, str(delete.url)) == ("DELETE", f"{BASE}/v1/videos/v%2F1")
    assert delete.headers["Authorization"] == "Bearer sk-test"
    remix = gptge.build_remix("v/1", "at night", {"seconds": "8"})
    assert (remix.method, str(remix.url)) == ("POST", f"{BASE}/v1/videos/v%2F1/remix")
    assert remix.content == b'{"prompt": "at night", "seconds": "8"}'


def test_a_list_request_sends_only_the_parameters_given(gptge: Adapter) -> None:
    assert str(gptge.build_list(None, None, None).url) == f"{BASE}/v1/videos"
    request = gptge.build_list(5, "asc", "v_9")
    assert request.method == "GET"
    assert dict(request.url.params) == {"limit": "5", "order": "asc", "after": "v_9"}
    assert dict(gptge.build_list(0, None, None).url.params) == {"limit": "0"}


def _answer(**headers: str) -> httpx.Response:
    return httpx.Response(200, headers=headers)


VIDEO = {
    "id": "v1",
    "status": "in_progress",
    "progress": 40,
    "model": "sora-2",
    "created_at": 1_700_000_000,
}


def test_a_video_is_read_into_a_job(gptge: Adapter) -> None:
    headers = {"x-request-id": "req_1", "openai-poll-after-ms": "1500"}
    job = gptge.parse_job(VIDEO, _answer(**headers))
    assert (job.id, job.provider, job.status) == ("v1", "gptge", "in_progress")
    assert job.progress == 0.4, "percent"
    assert job.video_url is None
    assert job.model == "sora-2"
    assert job.created_at is not None and job.created_at.timestamp() == 1_700_000_000
    assert job.request_id == "req_1"
    assert job._poll_after == 1.5
    assert job.raw == VIDEO


def test_a_completed_video_is_whole_at_its_content_url(gptge: Adapter) -> None:
    job = gptge.parse_job({**VIDEO, "id": "v/1", "status": "completed", "progress": 3}, _answer())
    assert job.progress == 1.0
    assert job.video_url == f"{BASE}/v1/videos/v%2F1/content"
    failed = gptge.parse_job(
        {**VIDEO, "status": "failed", "error": {"code": "x", "message": "m"}}, _answer()
    )
    assert (failed.video_url, failed.error_code, failed.error_message) == (None, "x", "m")


def test_gptproto_names_its_own_video_url_once_it_has_one() -> None:
    gptproto = adapter_class("gptproto-videos")("sk-test", "http://127.0.0.1:9/gptproto")
    body = {**VIDEO, "status": "completed", "soraVideoUrl": "https://cdn/v.mp4"}
    assert gptproto.parse_job(body, _answer()).video_url == "https://cdn/v.mp4"
    for missing in ("", None, 5):
        job = gptproto.parse_job({**body, "soraVideoUrl": missing}, _answer())
        assert job.video_url == "http://127.0.0.1:9/gptproto/v1/videos/v1/content"


def test_a_page_of_videos_gives_its_jobs_more_and_cursor(gptge: Adapter) -> None:
    second = {**VIDEO, "id": "v2"}
    jobs, more, last = gptge.parse_list(
        {"data": [VIDEO, second], "has_more": True, "last_id": "v9"}, _answer()
    )
    assert [j.id for j in jobs] == ["v1", "v2"]
    assert (more, last) == (True, "v9")
    third = {**VIDEO, "id": "v3"}
    assert gptge.parse_list({"data": [VIDEO, second, third]}, _answer())[1:] == (False, "v3")
    assert gptge.parse_list({"data": []}, _answer()) == ([], False, None)
    for bad in ([], {"data": {}}, {"items": []}):
        with pytest.raises(ValueError, match="^the list has no data array$"):
            gptge.parse_list(bad, _answer())


def test_a_delete_answer_says_whether_the_video_went(gptge: Adapter) -> None:
    assert gptge.parse_deleted({"id": "v1", "deleted": True}) is True
    assert gptge.parse_deleted({"id": "v1", "deleted": False}) is False
    for bad in ({"deleted": "yes"}, {"id": "v1"}, ["deleted"]):
        with pytest.raises(
            ValueError, match="^the answer does not say whether the video was deleted$"
        ):
            gptge.parse_deleted(bad)
