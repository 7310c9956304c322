"""Bad input never crashes the mock: always a provider-shaped 4xx, never a 500 or a traceback."""

from __future__ import annotations

import io
from urllib.parse import unquote_to_bytes

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from providers import APIS, png
from werkzeug.test import EnvironBuilder, run_wsgi_app

from mockserver.http.app import create_app
from mockserver.testing import SoraMock, test_config

HEADERS = {"Authorization": "Bearer sk-test"}
CREATE_PATHS = {
    "gptproto": [
        "/api/v3/openai/reverse/sora-2/image-to-video",
        "/v1/videos",
        "/v1/chat/completions",
    ],
    "gptge": ["/v1/videos"],
    "vtrix": ["/model/v1/generation"],
}
ALL_CREATES = [(p, path) for p, paths in CREATE_PATHS.items() for path in paths]


def assert_provider_error(
    response: httpx.Response, provider: str, status: int | None = None
) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    if status is not None:
        assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    assert "Traceback" not in response.text
    error = response.json()["error"]
    if provider == "vtrix":
        assert error["code"] and error["error_message"]
    else:
        assert error["message"] and error["type"]


@pytest.mark.parametrize(("provider", "path"), ALL_CREATES)
@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b'{"prompt": ', "application/json", None),
        (b"", "application/json", None),
        (b"\xff\xfe\x00garbage", "application/json", None),
        (b"prompt=hello", "text/plain", 415),
        (
            b'--x\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nhi',
            "multipart/form-data; boundary=x",
            None,
        ),
        (b"", "multipart/form-data; boundary=x", None),
        (b"[1, 2, 3]", "application/json", None),
        (b'{"prompt": "\\ud800"}', "application/json", None),
    ],
    ids=[
        "truncated-json",
        "empty-json",
        "binary-json",
        "text-plain",
        "broken-multipart",
        "empty-multipart",
        "json-array",
        "lone-surrogate",
    ],
)
def test_malformed_bodies_get_a_provider_shaped_4xx(
    sora_mock: SoraMock,
    provider: str,
    path: str,
    content: bytes,
    content_type: str,
    status: int | None,
) -> None:
    with sora_mock.client(provider) as client:
        response = client.post(path, content=content, headers={"Content-Type": content_type})
    assert_provider_error(response, provider, status)
    assert sora_mock.jobs() == []


def test_json_to_a_multipart_endpoint_is_415(sora_mock: SoraMock) -> None:
    with sora_mock.client("gptge") as client:
        response = client.post("/v1/videos", json={"prompt": "hi"})
    assert_provider_error(response, "gptge", 415)


def test_missing_required_field_names_the_field(sora_mock: SoraMock) -> None:
    with sora_mock.client("vtrix") as client:
        response = client.post("/model/v1/generation", json={"model": "sora_2_pro_i2v"})
    assert_provider_error(response, "vtrix", 400)
    assert "prompt" in response.json()["error"]["error_message"]
    with sora_mock.client("gptge") as client:
        response = client.post(
            "/v1/videos", data={"prompt": "p"}, files={"other": ("a.txt", b"x", "text/plain")}
        )
    assert_provider_error(response, "gptge", 400)
    assert response.json()["error"]["param"] in {"input_reference", "other"}


def test_undeclared_multipart_field_is_refused(sora_mock: SoraMock) -> None:
    with sora_mock.client("gptge") as client:
        response = client.post(
            "/v1/videos",
            data={"prompt": "p", "colour": "red"},
            files={"input_reference": ("a.png", png(720, 1280), "image/png")},
        )
    assert_provider_error(response, "gptge", 400)
    assert response.json()["error"]["param"] == "colour"


def _image(fmt: str, size: tuple[int, int] = (720, 1280)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, "blue").save(buf, fmt)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("image", "fragment"),
    [
        (b"not an image at all", "decod"),
        (_image("GIF"), "GIF"),
        (png(720, 1280)[:200], "truncated"),
        (png(1024, 1024), "Inpaint image must match the requested width and height"),
    ],
    ids=["garbage", "gif", "truncated-png", "wrong-size"],
)
def test_bad_reference_images_are_400_naming_the_problem(
    sora_mock: SoraMock, image: bytes, fragment: str
) -> None:
    with sora_mock.client("gptge") as client:
        response = client.post(
            "/v1/videos",
            data={"prompt": "p"},
            files={"input_reference": ("a.png", image, "image/png")},
        )
    assert_provider_error(response, "gptge", 400)
    assert fragment.lower() in response.json()["error"]["message"].lower()
    assert response.json()["error"]["param"] == "input_reference"


@pytest.mark.parametrize(
    "url",
    ["data:image/png;base64,@@@", "data:text/plain,hello", "ftp://example.com/a.png", "not a url"],
)
def test_bad_image_urls_are_400(sora_mock: SoraMock, url: str) -> None:
    with sora_mock.client("gptproto") as client:
        response = client.post(
            "/api/v3/openai/reverse/sora-2/image-to-video",
            json={"prompt": "p", "images": [url], "size": "small"},
        )
    assert_provider_error(response, "gptproto", 400)


@pytest.mark.parametrize("api_id", sorted(APIS))
@pytest.mark.parametrize("axis", ["height", "width"])
def test_an_image_off_by_one_dimension_is_refused(
    sora_mock: SoraMock, api_id: str, axis: str
) -> None:
    """Every create compares both dimensions: an image with the right width but another
    height (or the reverse) is the provider's 400, and no job is made."""
    api = APIS[api_id]
    width, height = api.size
    wrong = png(width, height + 16) if axis == "height" else png(width + 16, height)
    with sora_mock.client(api.provider) as client:
        response = api.create(client, HEADERS, wrong)
    assert_provider_error(response, api.provider, 400)
    assert sora_mock.jobs() == []


def test_v3_image_must_match_the_target_resolution(sora_mock: SoraMock) -> None:
    from providers import data_url

    with sora_mock.client("gptproto") as client:
        response = client.post(
            "/api/v3/openai/reverse/sora-2/image-to-video",
            json={
                "prompt": "p",
                "images": [data_url(png(1280, 720))],
                "size": "small",
            },  # portrait default
        )
    assert_provider_error(response, "gptproto", 400)
    assert "resolution" in response.json()["error"]["message"]


def test_oversized_body_is_413() -> None:
    mock = SoraMock(create_app(test_config(max_body_bytes=100_000)))
    with mock.client("gptge") as client:
        response = client.post(
            "/v1/videos",
            data={"prompt": "p"},
            files={"input_reference": ("a.png", b"\0" * 200_000, "image/png")},
        )
    assert_provider_error(response, "gptge", 413)


def test_overlong_prompt_is_400(sora_mock: SoraMock) -> None:
    with sora_mock.client("vtrix") as client:
        response = client.post(
            "/model/v1/generation", json={"model": "sora_2_pro_i2v", "prompt": "x" * 10_001}
        )
    assert_provider_error(response, "vtrix", 400)


@pytest.mark.parametrize(
    "prompt",
    ["🦊🎬 a fox", "مرحبا بالعالم", "a\u0000b", "\u202eevil", "ｆｕｌｌｗｉｄｔｈ", "x" * 10_000],
)
def test_odd_unicode_prompts_are_accepted(sora_mock: SoraMock, prompt: str) -> None:
    """Accepted, and kept exactly: the job read back carries the very same prompt."""
    with sora_mock.client("vtrix") as client:
        response = client.post(
            "/model/v1/generation", json={"model": "sora_2_pro_i2v", "prompt": prompt}
        )
        assert response.status_code == 200, response.text[:200]
        job_id = response.json()["id"]
        job = client.get(f"{sora_mock.host}/__mock/jobs/{job_id}").json()
    assert job["prompt"] == prompt


@pytest.mark.parametrize(
    "job_id",
    [
        "..%2F..%2Fetc%2Fpasswd",
        "%00",
        "video_%00",
        "a" * 300,
        "%F0%9F%92%A9",
        "sora-2:task_x",
        "'; DROP TABLE jobs;--",
    ],
)
@pytest.mark.parametrize(
    ("provider", "template"),
    [
        ("gptproto", "/api/v3/predictions/{}/result"),
        ("gptproto", "/v1/videos/{}"),
        ("gptge", "/v1/videos/{}/content"),
        ("vtrix", "/model/v1/generation/task/{}"),
    ],
)
def test_hostile_ids_are_404_or_400(
    sora_mock: SoraMock, provider: str, template: str, job_id: str
) -> None:
    # Build the WSGI environ as a real server does (PEP 3333: the percent-decoded path bytes,
    # as latin-1); httpx's WSGITransport would hand over a non-latin-1 str instead.
    raw = f"/{provider}" + template.format(job_id)
    environ = EnvironBuilder(path="/", headers={"Authorization": "Bearer k"}).get_environ()
    environ["PATH_INFO"] = unquote_to_bytes(raw).decode("latin-1")
    app_iter, status, headers = run_wsgi_app(sora_mock.app, environ, buffered=True)
    response = httpx.Response(
        int(status.split()[0]), headers=list(headers.items()), content=b"".join(app_iter)
    )
    assert response.status_code in (400, 404), response.text[:200]
    assert_provider_error(response, provider)


@pytest.mark.parametrize(
    ("provider", "path"), [("gptproto", "/nope"), ("gptge", "/v2/videos"), ("vtrix", "/model")]
)
def test_unknown_paths_are_provider_shaped_404(
    sora_mock: SoraMock, provider: str, path: str
) -> None:
    with sora_mock.client(provider) as client:
        response = client.get(path)
    assert_provider_error(response, provider, 404)


@pytest.mark.parametrize(
    ("provider", "method", "path", "allowed"),
    [
        ("gptge", "PUT", "/v1/videos", {"GET", "POST"}),
        ("gptge", "PATCH", "/v1/videos/video_1", {"GET", "DELETE"}),
        ("vtrix", "DELETE", "/model/v1/generation", {"POST"}),
        ("gptproto", "GET", "/v1/chat/completions", {"POST"}),
    ],
)
def test_unsupported_methods_are_405_with_allow(
    sora_mock: SoraMock, provider: str, method: str, path: str, allowed: set[str]
) -> None:
    with sora_mock.client(provider) as client:
        response = client.request(method, path)
    assert_provider_error(response, provider, 405)
    assert allowed <= {m.strip() for m in response.headers["Allow"].split(",")}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    target=st.sampled_from(ALL_CREATES),
    content=st.binary(max_size=300) | st.text(max_size=300).map(str.encode),
    content_type=st.sampled_from(
        [
            "application/json",
            "multipart/form-data; boundary=b",
            "multipart/form-data",
            "text/plain",
            "",
            "application/x-www-form-urlencoded",
        ]
    ),
)
def test_fuzzed_bodies_never_make_a_500(
    sora_mock: SoraMock, target: tuple[str, str], content: bytes, content_type: str
) -> None:
    provider, path = target
    with sora_mock.client(provider) as client:
        headers = {"Content-Type": content_type} if content_type else {}
        response = client.post(path, content=content, headers=headers)
    assert response.status_code < 500, response.text[:300]
    assert "Traceback" not in response.text
    sora_mock.check()
