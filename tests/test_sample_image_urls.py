"""The sample image's URL (``/__mock/sample-image?size=WxH``) as a reference image: wherever an
API takes an image URL (GPTProto v3 ``images``, Vtrix ``input_reference``, chat ``image_url``),
under any of the mock's own host names, at every size the endpoint draws; a size it does not
draw is the provider's 400 naming the size."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from mockserver.http.app import create_app
from mockserver.sample import sample_image
from mockserver.testing import SoraMock, test_config

HOSTS = ["127.0.0.1:8000", "localhost:8000", "[::1]:8000", "0.0.0.0:8000"]


def v3(url: str, size: str) -> tuple[str, dict[str, Any]]:
    width, height = (int(side) for side in size.split("x"))
    body = {
        "prompt": "a cat in a hat",
        "images": [url],
        "size": "large" if max(width, height) > 1280 else "small",
        "orientation": "landscape" if width > height else "portrait",
        "duration": 15,
        "model": "sora-2-pro",
    }
    return "/gptproto/api/v3/openai/reverse/sora-2/image-to-video", body


def vtrix(url: str, size: str) -> tuple[str, dict[str, Any]]:
    body = {"model": "sora_2_pro_i2v", "prompt": "a cat in a hat", "size": size}
    return "/vtrix/model/v1/generation", {**body, "seconds": "4", "input_reference": url}


def chat(url: str, size: str) -> tuple[str, dict[str, Any]]:
    content = [{"type": "text", "text": "a cat"}, {"type": "image_url", "image_url": {"url": url}}]
    body = {"model": "sora-2", "stream": True, "messages": [{"role": "user", "content": content}]}
    return "/gptproto/v1/chat/completions", body


Build = Callable[[str, str], tuple[str, dict[str, Any]]]
APIS: dict[str, Build] = {"gptproto-v3": v3, "vtrix": vtrix, "gptproto-chat": chat}


def create(mock: SoraMock, api: str, url: str, size: str) -> httpx.Response:
    """Send the create; for chat only the head of its event stream is read."""
    path, body = APIS[api](url, size)
    with (
        httpx.Client(
            base_url="http://127.0.0.1:8000",
            transport=mock.transport(),
            headers={"Authorization": "Bearer sk-test"},
        ) as client,
        client.stream("POST", path, json=body) as response,
    ):
        if response.headers["content-type"].startswith("application/json"):
            response.read()
        return response


@pytest.mark.parametrize(
    ("api", "size"),
    [
        ("gptproto-v3", "720x1280"),
        ("gptproto-v3", "1280x720"),
        ("gptproto-v3", "1024x1792"),
        ("gptproto-v3", "1792x1024"),
        ("vtrix", "720x1280"),
        ("vtrix", "1280x720"),
        ("gptproto-chat", "16x16"),  # chat takes any image: the endpoint's smallest
        ("gptproto-chat", "2048x16"),  # and its longest side
    ],
)
@pytest.mark.parametrize("host", HOSTS)
def test_the_sample_image_url_is_the_reference_image(
    sora_mock: SoraMock, api: str, size: str, host: str
) -> None:
    response = create(sora_mock, api, f"http://{host}/__mock/sample-image?size={size}", size)
    assert response.status_code == 200, response.read()
    assert "X-Mock-Notes" not in response.headers
    (job,) = sora_mock.jobs()
    width, height = (int(side) for side in size.split("x"))
    assert sora_mock.service.image_of(job) == sample_image(width, height)
    assert job.notes == []


@pytest.mark.parametrize("api", ["vtrix", "gptproto-chat"])
def test_the_sample_image_url_without_a_size_is_the_default_size(
    sora_mock: SoraMock, api: str
) -> None:
    response = create(sora_mock, api, "http://localhost:8000/__mock/sample-image", "720x1280")
    assert response.status_code == 200, response.read()
    assert sora_mock.service.image_of(sora_mock.jobs()[0]) == sample_image(720, 1280)


@pytest.mark.parametrize("api", list(APIS))
@pytest.mark.parametrize("bad", ["9000x10", "720 by 1280", "15x720", ""])
def test_a_size_the_sample_endpoint_does_not_draw_is_the_providers_400(
    sora_mock: SoraMock, api: str, bad: str
) -> None:
    url = f"http://127.0.0.1:8000/__mock/sample-image?size={bad}"
    response = create(sora_mock, api, url, "720x1280")
    assert response.status_code == 400
    error = response.json()["error"]
    message = error.get("message") or error.get("error_message")
    assert "sample image" in message and repr(bad) in message, message
    if api != "vtrix":  # Vtrix's error shape has no param
        assert error["param"] == {"vtrix": "input_reference", "gptproto-v3": "images"}.get(
            api, "messages"
        )
    assert sora_mock.jobs() == []


def test_the_first_size_in_the_query_is_the_one_drawn_as_the_endpoint_does(
    sora_mock: SoraMock,
) -> None:
    url = "http://127.0.0.1:8000/__mock/sample-image?size=1280x720&size=720x1280"
    with httpx.Client(base_url="http://127.0.0.1:8000", transport=sora_mock.transport()) as c:
        served = c.get(url).content
    response = create(sora_mock, "vtrix", url, "1280x720")
    assert response.status_code == 200, response.text
    assert sora_mock.service.image_of(sora_mock.jobs()[0]) == served == sample_image(1280, 720)


def test_a_sample_image_of_another_size_than_the_video_is_the_providers_mismatch(
    sora_mock: SoraMock,
) -> None:
    url = "http://127.0.0.1:8000/__mock/sample-image?size=1280x720"
    response = create(sora_mock, "vtrix", url, "720x1280")
    assert response.status_code == 400
    assert "1280x720 given, 720x1280 expected" in response.json()["error"]["error_message"]


@pytest.mark.parametrize(
    ("bind_host", "reached_as", "image_host"),
    [
        ("10.1.2.3", "http://127.0.0.1:8000", "10.1.2.3:8000"),  # the bind address
        (None, "http://mock.test:9000", "mock.test:9000"),  # the Host it was reached by
    ],
    ids=["bind-address", "request-host"],
)
def test_the_sample_image_url_under_the_bind_address_or_the_request_host(
    bind_host: str | None, reached_as: str, image_host: str
) -> None:
    mock = SoraMock(create_app(test_config(bind_host=bind_host)))
    path, body = vtrix(f"http://{image_host}/__mock/sample-image?size=1280x720", "1280x720")
    with httpx.Client(base_url=reached_as, transport=mock.transport()) as client:
        response = client.post(path, json=body, headers={"Authorization": "Bearer sk-test"})
    assert response.status_code == 200, response.text
    assert "mock_notes" not in response.json()["metadata"]
    assert mock.service.image_of(mock.jobs()[0]) == sample_image(1280, 720)
