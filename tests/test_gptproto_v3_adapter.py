"""What the client sends to GPTProto's v3 API and reads back
(the declared adapter, sora_client._providers.declared, driving contracts/gptproto-v3.yaml),
on the adapter alone: a neutral pixel size becomes
``size`` (small/large) and ``orientation``, or comes from the image; ``seconds`` is
``duration``; the model is always sent; and a prediction envelope is read into a Job, an
error in a 200 envelope into the error it names."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from contracts._named_sizes import pixels
from sora_client._exceptions import APIError, InvalidRequestError, RateLimitError
from sora_client._images import Image
from sora_client._providers import CreateSpec, adapter_class

#: the declared adapter of contracts/gptproto-v3.yaml
GptprotoV3: Any = adapter_class("gptproto-v3")
#: (size, orientation) -> pixels, from the declaration's size-fields
PIXELS = {
    (words["/size"], words["/orientation"]): pixels(size)
    for size, words in GptprotoV3.declaration.answers.size_fields.items()
}

BASE = "http://127.0.0.1:9/gptproto"
CREATE = f"{BASE}/api/v3/openai/reverse/sora-2/image-to-video"


def _image(width: int | None, height: int | None) -> Image:
    return Image(b"\x89PNG...", None, "image/png", width, height, "cat.png")


@pytest.fixture
def v3() -> GptprotoV3:
    return GptprotoV3("sk-test", BASE)


def _body(request: httpx.Request) -> dict[str, Any]:
    return json.loads(request.content)


def test_the_models_are_the_contracts(v3: GptprotoV3) -> None:
    assert v3.models() == ["sora-2", "sora-2-pro"]


def test_a_create_sends_model_prompt_image_size_orientation_and_duration(v3: GptprotoV3) -> None:
    image = _image(720, 1280)
    request = v3.build_create(CreateSpec("a cat", image, seconds=15, size="1280x720"))
    assert (request.method, str(request.url)) == ("POST", CREATE)
    assert request.headers["Content-Type"] == "application/json"
    assert _body(request) == {
        "model": "sora-2",
        "prompt": "a cat",
        "images": [image.data_url()],
        "size": "small",
        "orientation": "landscape",
        "duration": 15,
    }
    linked = Image(None, "https://example.com/cat.png", None, None, None, "cat.png")
    body = _body(v3.build_create(CreateSpec("a cat", linked, model="sora-2-pro")))
    assert body["images"] == ["https://example.com/cat.png"]
    assert body["model"] == "sora-2-pro"


@pytest.mark.parametrize(
    ("size", "words"),
    [
        ("720x1280", ("small", "portrait")),
        ("1280x720", ("small", "landscape")),
        ("1024x1792", ("large", "portrait")),
        ("1792x1024", ("large", "landscape")),
    ],
)
def test_each_pixel_size_has_its_size_and_orientation(
    v3: GptprotoV3, size: str, words: tuple[str, str]
) -> None:
    body = _body(v3.build_create(CreateSpec("x", size=size)))
    assert (body["size"], body["orientation"]) == words
    width, height = (int(n) for n in size.split("x"))
    assert v3.pixel_target(CreateSpec("x", size=size)) == (width, height)
    assert PIXELS[words] == (width, height)


def test_an_orientation_contradicting_the_size_is_refused(v3: GptprotoV3) -> None:
    spec = CreateSpec("x", size="1280x720", extra={"orientation": "portrait"})
    with pytest.raises(InvalidRequestError) as refused:
        v3.build_create(spec)
    assert (refused.value.provider, refused.value.field) == ("gptproto-v3", "orientation")
    assert "'portrait' contradicts size 1280x720 (landscape)" in str(refused.value)
    agreeing = CreateSpec("x", size="1280x720", extra={"orientation": "landscape"})
    body = _body(v3.build_create(agreeing))
    assert (body["size"], body["orientation"]) == ("small", "landscape")


def test_small_and_large_pass_through_with_the_orientation_given(v3: GptprotoV3) -> None:
    spec = CreateSpec("x", size="large", extra={"orientation": "landscape"})
    body = _body(v3.build_create(spec))
    assert (body["size"], body["orientation"]) == ("large", "landscape")
    assert v3.pixel_target(spec) == (1792, 1024)
    bare = CreateSpec("x", size="large")
    assert "orientation" not in _body(v3.build_create(bare))
    assert v3.pixel_target(bare) == (1024, 1792), "portrait when none is given"


def test_without_a_size_the_images_pixels_decide(v3: GptprotoV3) -> None:
    body = _body(v3.build_create(CreateSpec("x", _image(1792, 1024))))
    assert (body["size"], body["orientation"]) == ("large", "landscape")
    # other pixels: small, in the image's orientation (square counts as portrait)
    for (width, height), orientation in {(800, 600): "landscape", (600, 800): "portrait"}.items():
        body = _body(v3.build_create(CreateSpec("x", _image(width, height))))
        assert (body["size"], body["orientation"]) == ("small", orientation)
    body = _body(v3.build_create(CreateSpec("x", _image(500, 500))))
    assert body["orientation"] == "portrait"
    spec = CreateSpec("x", _image(800, 600), extra={"orientation": "portrait"})
    assert _body(v3.build_create(spec))["orientation"] == "portrait"
    assert v3.pixel_target(CreateSpec("x", _image(800, 600))) == (1280, 720)


def test_without_size_or_image_it_is_small_with_no_orientation(v3: GptprotoV3) -> None:
    body = _body(v3.build_create(CreateSpec("x")))
    assert body == {"model": "sora-2", "prompt": "x", "size": "small"}
    assert v3.pixel_target(CreateSpec("x")) == (720, 1280)
    unknown = Image(b"x", None, "image/png", None, None, "x.png")
    assert _body(v3.build_create(CreateSpec("x", unknown)))["size"] == "small"


def test_extra_fields_go_last_but_orientation_is_not_sent_twice(v3: GptprotoV3) -> None:
    spec = CreateSpec("x", seconds=10, extra={"duration": 25, "seed": 3, "orientation": "portrait"})
    body = _body(v3.build_create(spec))
    assert body["duration"] == 25
    assert body["seed"] == 3
    assert body["orientation"] == "portrait"
    assert list(body) == ["model", "prompt", "size", "orientation", "duration", "seed"]


def test_a_status_read_names_the_prediction_quoted(v3: GptprotoV3) -> None:
    request = v3.build_get("p/1")
    assert request.method == "GET"
    assert str(request.url) == f"{BASE}/api/v3/predictions/p%2F1/result"


def _answer(status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers)


DATA = {"id": "p1", "status": "processing", "model": "sora-2", "created_at": 1_700_000_000}


def test_a_prediction_is_read_into_a_job(v3: GptprotoV3) -> None:
    body = {"code": 200, "data": DATA}
    job = v3.parse_job(body, _answer(**{"x-request-id": "req_1"}))
    assert (job.id, job.provider, job.status, job.progress) == (
        "p1",
        "gptproto-v3",
        "in_progress",
        0.0,
    )
    assert (job.video_url, job.error_code, job.error_message) == (None, None, None)
    assert job.model == "sora-2"
    assert job.created_at is not None and job.created_at.timestamp() == 1_700_000_000
    assert job.request_id == "req_1"
    assert job.raw == body


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("created", "queued"),
        ("processing", "in_progress"),
        ("completed", "completed"),
        ("failed", "failed"),
    ],
)
def test_each_v3_status_has_its_neutral_word(v3: GptprotoV3, word: str, status: str) -> None:
    assert v3.parse_job({"data": {**DATA, "status": word}}, _answer()).status == status


def test_a_completed_prediction_gives_its_first_output(v3: GptprotoV3) -> None:
    data = {**DATA, "status": "completed", "outputs": ["", 7, "https://cdn/v.mp4", "https://x"]}
    job = v3.parse_job({"data": data}, _answer())
    assert (job.progress, job.video_url) == (1.0, "https://cdn/v.mp4")
    assert v3.parse_job({"data": {**data, "outputs": "https://x"}}, _answer()).video_url is None
    assert v3.parse_job({"data": {**data, "outputs": []}}, _answer()).video_url is None


def test_only_a_failed_prediction_carries_its_error(v3: GptprotoV3) -> None:
    failed = v3.parse_job({"data": {**DATA, "status": "failed", "error": "policy"}}, _answer())
    assert (failed.error_code, failed.error_message) == (None, "policy")
    running = v3.parse_job({"data": {**DATA, "error": "stale"}}, _answer())
    assert running.error_message is None


def test_an_error_in_a_200_envelope_is_the_error_it_names(v3: GptprotoV3) -> None:
    body = {"code": 429, "message": "slow down", "data": None}
    with pytest.raises(RateLimitError) as raised:
        v3.parse_job(body, _answer(**{"x-request-id": "req_9"}))
    assert raised.value.status_code == 429
    assert raised.value.request_id == "req_9", "the answer's headers go with the error"
    assert "slow down" in str(raised.value)
    with pytest.raises(APIError) as refused:
        v3.parse_job({"code": 400, "message": "bad size", "data": None}, _answer())
    assert refused.value.status_code == 400


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "the answer is not a JSON object"),
        ({"code": 200, "data": None}, "the envelope has no data object"),
        ({"code": 399, "data": "x"}, "the envelope has no data object"),
        ({"code": "500", "data": None}, "the envelope has no data object"),
        ({"data": {**DATA, "id": ""}}, "the prediction has no id"),
        ({"data": {**DATA, "id": 5}}, "the prediction has no id"),
        ({"data": {**DATA, "status": "queued"}}, "unknown status 'queued'"),
    ],
)
def test_an_unreadable_envelope_is_a_value_error(v3: GptprotoV3, body: Any, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        v3.parse_job(body, _answer())
