"""Fidelity to the provider documents (issue 12): what the mock teaches must be what the
documents say, and where they are silent the mock shows both behaviours behind a switch.

The documents' parameter tables are transcribed here by hand (the tests' own reading of
``contracts/sources/``), then walked row by row against the contracts: each documented value
accepted, each documented limit refused.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx
import pytest
from client_helpers import (
    KEY,
    Flavor,
    client_app_fixture,  # noqa: F401  (fixtures)
    flavor_fixture,  # noqa: F401  (fixtures)
    good_create,
    image,
    posts,
)
from flask import Flask
from providers import APIS, data_url, png

import contracts
from mockserver.http.app import create_app
from mockserver.testing import SoraMock, test_config
from sora_client import (
    AmbiguousCreateError,
    InsufficientBalanceError,
    ModelUnavailableError,
    PermissionDeniedError,
)
from sora_client._providers.base import encode_multipart

HEADERS = {"Authorization": f"Bearer {KEY}"}
V3_PATH = "/api/v3/openai/reverse/sora-2/image-to-video"


def _v3_request(body: dict[str, Any]) -> contracts.Request:
    request = httpx.Request(
        "POST", f"https://gptproto.com{V3_PATH}", json=body, headers={"Authorization": "k"}
    )
    return contracts.request_from_httpx(request)


def _accepts(contract: str, request: httpx.Request | contracts.Request) -> bool:
    """Whether ``contract`` accepts the request (the contract decides, not the mock)."""
    if isinstance(request, httpx.Request):
        request = contracts.request_from_httpx(request)
    try:
        contracts.load(contract).validate_request(request)
    except contracts.ContractViolation:
        return False
    return True


def _v3_ok(body: dict[str, Any]) -> bool:
    return _accepts("gptproto-v3", _v3_request(body))


# --------------------------------------------------------------------- seed 000, GPTProto v3

#: seed 000's parameter table: model sora-2 | sora-2-pro; size small | large ("Only sora-2-pro
#: supports high-definition (large)"); duration "For sora-2: 10, 15. For sora-2-pro: 10, 15, 25"
V3_TABLE = {
    "sora-2": {"size": ["small"], "duration": [10, 15]},
    "sora-2-pro": {"size": ["small", "large"], "duration": [10, 15, 25]},
}
V3_ALL = {"size": ["small", "large"], "duration": [10, 15, 25]}


@pytest.mark.parametrize("model", sorted(V3_TABLE))
def test_v3_table_rows_against_the_contract(model: str) -> None:
    base = {"prompt": "p", "images": ["https://oss.gptproto.com/a.png"], "model": model}
    allowed = V3_TABLE[model]
    for size, duration in itertools.product(V3_ALL["size"], V3_ALL["duration"]):
        body = base | {"size": size, "duration": duration}
        documented = size in allowed["size"] and duration in allowed["duration"]
        assert _v3_ok(body) is documented, (model, size, duration)
    for orientation in ("portrait", "landscape"):
        assert _v3_ok(base | {"size": "small", "orientation": orientation})
    assert not _v3_ok(base | {"size": "small", "orientation": "square"})
    assert not _v3_ok(base | {"size": "medium"})
    assert _v3_ok(base | {"size": "small", "enable_sync_mode": True}), "named in the document"
    assert _v3_ok(base | {"size": "small", "character_url": "https://x.test/c.mp4"})


def test_v3_model_is_the_tables_range_and_defaults_to_sora_2() -> None:
    base = {"prompt": "p", "images": ["https://oss.gptproto.com/a.png"], "size": "small"}
    assert not _v3_ok(base | {"model": "sora-3"})
    # the document's own example omits model: its default (sora-2) applies, large is refused
    assert _v3_ok(base)
    assert not _v3_ok(base | {"size": "large"})
    for required in ("prompt", "images", "size"):
        assert not _v3_ok({k: v for k, v in (base | {"model": "sora-2"}).items() if k != required})


def test_v3_creates_sora_2_pro_on_the_one_documented_url(sora_mock: SoraMock) -> None:
    body = {
        "model": "sora-2-pro",
        "prompt": "A slow dolly shot",
        "images": [data_url(png(1792, 1024))],
        "size": "large",
        "orientation": "landscape",
        "duration": 25,
    }
    with sora_mock.client("gptproto") as client:
        created = client.post(V3_PATH, json=body, headers=HEADERS)
        assert created.status_code == 200, created.text
        assert created.json()["data"]["model"] == "sora-2-pro"
        assert created.json()["data"]["id"].startswith("sora-2-pro:")
        refused = client.post(V3_PATH, json=body | {"model": "sora-2"}, headers=HEADERS)
        assert refused.status_code == 400
        gone = client.post(
            "/api/v3/openai/reverse/sora-2-pro/image-to-video", json=body, headers=HEADERS
        )
        assert gone.status_code == 404, "no document shows a sora-2-pro path"


def test_the_client_sends_the_tables_required_model(flavor: Flavor, client_app: Flask) -> None:
    mock = SoraMock(client_app)
    mock.reset()
    with flavor.client("gptproto-v3", app=client_app) as c:
        job = c.create("a cat", image=image(1024, 1792), model="sora-2-pro", seconds=25)
        plain = c.create("a cat", image=image(720, 1280))
    assert job.model == "sora-2-pro" and plain.model == "sora-2"
    bodies = [e for e in mock.journal if e["method"] == "POST"]
    assert {e["path"] for e in bodies} == {f"/gptproto{V3_PATH}"}
    records = sorted(mock.jobs(), key=lambda j: j.created_at)
    assert [r.params.get("model") for r in records] == ["sora-2-pro", "sora-2"]


# --------------------------------------------------------------------- seed 003, gpt.ge

#: seed 003's table: model sora-2 | sora-2-pro (default sora-2); seconds 4, 8, 12 (default 4);
#: size 720x1280, 1280x720, 1024x1792, 1792x1024, "1792 sizes only supported by sora-2-pro"
GPTGE_SIZES = ["720x1280", "1280x720", "1024x1792", "1792x1024"]


def _gptge_ok(fields: dict[str, str], with_image: bool = True) -> bool:
    files = {"input_reference": ("i.png", b"\x89PNG", "image/png")} if with_image else None
    request = httpx.Request(
        "POST",
        "https://api.gpt.ge/v1/videos",
        data=fields,
        files=files,
        headers={"Authorization": "Bearer k"},
    )
    return _accepts("gptge-videos", request)


def test_gptge_table_rows_against_the_contract() -> None:
    for model, seconds, size in itertools.product(
        ["sora-2", "sora-2-pro"], ["4", "8", "12"], GPTGE_SIZES
    ):
        documented = model == "sora-2-pro" or "1792" not in size
        fields = {"prompt": "p", "model": model, "seconds": seconds, "size": size}
        assert _gptge_ok(fields) is documented, (model, seconds, size)
    assert not _gptge_ok({"prompt": "p", "seconds": "5"})
    assert not _gptge_ok({"prompt": "p", "model": "sora-3"})
    assert not _gptge_ok({"prompt": "p"}, with_image=False), "input_reference is required"


def test_gptge_expires_at_stays_null_as_documented(sora_mock: SoraMock) -> None:
    api = APIS["gptge-videos"]
    with sora_mock.client("gptge") as client:
        job_id = api.job_id(api.create(client, HEADERS).json())
        sora_mock.advance(600)
        body = client.get(api.status_path(job_id)).json()
    assert body["status"] == "completed" and body["completed_at"] is not None
    assert body["expires_at"] is None, '"Expiration time, currently null"'
    assert "remixed_from_video_id" in body


# --------------------------------------------------------------------- relay error types


@pytest.mark.parametrize(
    ("scenario", "code", "error"),
    [
        ("insufficient_balance", "insufficient_user_quota", InsufficientBalanceError),
        ("forbidden", "access_denied", PermissionDeniedError),
    ],
)
def test_gptge_answers_quota_and_access_as_its_relay_does(
    sora_mock: SoraMock, flavor: Flavor, client_app: Flask, scenario: str, code: str, error: type
) -> None:
    api = APIS["gptge-videos"]
    with sora_mock.client("gptge") as client:
        response = api.create(client, HEADERS | {"X-Mock-Scenario": scenario})
    assert response.status_code == 403
    assert response.json()["error"]["type"] == "new_api_error"
    assert response.json()["error"]["code"] == code
    with flavor.client("gptge", app=client_app, default_headers={"X-Mock-Scenario": scenario}) as c:
        with pytest.raises(error) as info:
            c.create("a cat", **good_create("gptge"))
    assert (type(info.value) is InsufficientBalanceError) is (scenario == "insufficient_balance")


def test_openais_429_insufficient_quota_is_a_balance_error_never_retried(flavor: Flavor) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        error = {"message": "You exceeded your current quota", "type": "insufficient_quota"}
        body = {"error": error | {"param": None, "code": "insufficient_quota"}}
        return httpx.Response(429, json=body, headers={"Retry-After": "1"})

    with flavor.client(
        "gptge", transport=httpx.MockTransport(handler), base_url="https://p.test"
    ) as c:
        with pytest.raises(InsufficientBalanceError):
            c.get("video_1")
    assert len(seen) == 1, "waiting does not refill an account"


# --------------------------------------------------------------------- Retry-After, both ways


@pytest.fixture(scope="module", name="no_retry_after_app")
def no_retry_after_app_fixture() -> Flask:
    return create_app(test_config(fps=1, retry_after=False))


@pytest.mark.parametrize("send_it", [True, False], ids=["retry-after", "no-retry-after"])
def test_rate_limits_are_survived_with_or_without_retry_after(
    flavor: Flavor, client_app: Flask, no_retry_after_app: Flask, send_it: bool
) -> None:
    app = client_app if send_it else no_retry_after_app
    mock = SoraMock(app)
    mock.reset()
    mock.set_scenario("rate_limited", api_key=KEY, times=2)
    with mock.client("gptge", api_key=KEY) as raw:
        refused = raw.get("/v1/videos/video_x")
    assert refused.status_code == 429
    assert ("Retry-After" in refused.headers) is send_it
    slept: list[float] = []
    with flavor.client("gptge", app=app, sleep=slept.append) as c:
        job = c.create("a cat", **good_create("gptge"))
    # the raw GET took the first refusal: one create refused, then one made
    assert job.status == "queued" and posts(mock) == 2
    assert len(slept) == 1
    mock.check()


# --------------------------------------------------------------------- retired models


@pytest.mark.parametrize("api_id", sorted(APIS))
def test_model_unavailable_answers_each_providers_model_not_found(
    sora_mock: SoraMock, api_id: str
) -> None:
    api = APIS[api_id]
    with sora_mock.client(api.provider) as client:
        response = api.create(client, HEADERS | {"X-Mock-Scenario": "model_unavailable"})
    expected = {"gptproto": 404, "gptge": 503, "vtrix": 404}[api.provider]
    assert response.status_code == expected, response.text
    error = response.json()["error"]
    if api.provider == "vtrix":
        assert error["code"] == "404" and "model not found" in error["error_message"]
    else:
        assert error["code"] == "model_not_found"
    assert sora_mock.jobs() == [], "a refused create must not make a job"


@pytest.fixture(scope="module", name="retired_app")
def retired_app_fixture() -> Flask:
    return create_app(test_config(fps=1, retired_models=("sora-2",)))


@pytest.mark.parametrize("provider", ["gptproto-v3", "gptproto-videos", "gptproto-chat", "gptge"])
def test_a_retired_model_is_model_unavailable_and_never_ambiguous(
    flavor: Flavor, retired_app: Flask, provider: str
) -> None:
    mock = SoraMock(retired_app)
    mock.reset()
    with flavor.client(provider, app=retired_app) as c:
        with pytest.raises(ModelUnavailableError) as info:
            c.create("a cat", **good_create(provider))
        assert not isinstance(info.value, AmbiguousCreateError)
        assert posts(mock) == 1, "a model-not-found create was re-sent"
        if provider != "gptproto-chat":  # chat mode has only sora-2
            kwargs = good_create(provider) | {"model": "sora-2-pro"}
            if provider == "gptproto-v3":
                kwargs["seconds"] = 25
            assert c.create("a cat", **kwargs).model == "sora-2-pro"
    mock.check()


# --------------------------------------------------------------------- seed 002, chat mode


def test_the_chat_success_chunk_carries_the_documents_role(sora_mock: SoraMock) -> None:
    body = {"model": "sora-2", "stream": True, "messages": [{"role": "user", "content": "a cat"}]}
    with sora_mock.stepping(1.0), sora_mock.client("gptproto") as client:
        text = client.post("/v1/chat/completions", json=body, headers=HEADERS).text
    chunks = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]
    deltas = [c["choices"][0]["delta"] for c in chunks]
    success = [d for d in deltas if "✅" in (d.get("content") or "")]
    assert len(success) == 1 and success[0]["role"] == "assistant"


def _chat_ok(body: Any) -> bool:
    request = httpx.Request(
        "POST",
        "https://gptproto.com/v1/chat/completions",
        json=body,
        headers={"Authorization": "k"},
    )
    return _accepts("gptproto-chat", request)


def test_chat_table_rows_against_the_contract() -> None:
    """seed 002: model required, "sora-2"; messages an array, required; stream a boolean,
    default true; a message's content holds `text` and `image_url` parts."""
    text = {"type": "text", "text": "video of cow and horse dancing"}
    image = {"type": "image_url", "image_url": {"url": "https://filesystem.site/cdn/a.png"}}
    message = {"role": "user", "content": [text, image]}
    base = {"model": "sora-2", "messages": [message]}
    assert _chat_ok(base | {"stream": True})  # the request example
    assert _chat_ok(base), "stream has a default"
    assert _chat_ok(base | {"stream": False})
    assert _chat_ok(base | {"messages": [{"role": "user", "content": [text]}]})
    assert not _chat_ok({"messages": [message]}), "model required"
    assert not _chat_ok({"model": "sora-2"}), "messages required"
    assert not _chat_ok(base | {"model": "sora-2-pro"}), "the table names sora-2 only"
    assert not _chat_ok(base | {"messages": message}), "messages is an array"
    assert not _chat_ok(base | {"stream": "yes"}), "stream is a boolean"


@pytest.mark.parametrize(("seconds", "status"), [(5, 200), (15, 200), (16, 400)])
def test_chat_duration_flag_up_to_15_seconds(
    sora_mock: SoraMock, seconds: int, status: int
) -> None:
    """seed 002 F&Q: "add a duration flag in the prompt, such as 'duration: 5 seconds'.
    Sora-2 supports videos of up to 15 seconds"."""
    prompt = f"a cow and a horse dancing, duration: {seconds} seconds"
    body = {"model": "sora-2", "stream": False, "messages": [{"role": "user", "content": prompt}]}
    with sora_mock.stepping(5.0), sora_mock.client("gptproto") as client:
        answer = client.post("/v1/chat/completions", json=body, headers=HEADERS)
    assert answer.status_code == status, answer.text
    if status == 200:
        job = sora_mock.jobs()[-1]
        assert job.seconds == seconds
    else:
        assert answer.json()["error"]["type"] == "400"


# --------------------------------------------------------------------- seed 001, /v1/videos


def _multipart_ok(contract: str, host: str, fields: dict[str, str], image: bool) -> bool:
    files = [("input_reference", "i.png", b"\x89PNG", "image/png")] if image else []
    content, content_type = encode_multipart(fields, files)  # multipart even with no file
    request = httpx.Request(
        "POST",
        f"{host}/v1/videos",
        content=content,
        headers={"Authorization": "k", "Content-Type": content_type},
    )
    return _accepts(contract, request)


def test_gptproto_videos_table_rows_against_the_contract() -> None:
    """seed 001: prompt required; input_reference optional; model sora-2 | sora-2-pro
    (default sora-2); seconds 4, 8, 12 (default 4); size 720x1280, 1280x720, 1024x1792,
    1792x1024 (default 720x1280), "1024x1792 and 1792x1024 are only supported by sora2-pro"."""
    host = "https://gptproto.com"
    for model, seconds, size in itertools.product(
        ["sora-2", "sora-2-pro"], ["4", "8", "12"], GPTGE_SIZES
    ):
        documented = model == "sora-2-pro" or "1792" not in size
        fields = {"prompt": "p", "model": model, "seconds": seconds, "size": size}
        assert _multipart_ok("gptproto-videos", host, fields, True) is documented
    assert _multipart_ok("gptproto-videos", host, {"prompt": "p"}, False), "image optional"
    assert not _multipart_ok("gptproto-videos", host, {"prompt": "p", "size": "1792x1024"}, False)
    assert not _multipart_ok("gptproto-videos", host, {"seconds": "4"}, False), "prompt required"
    assert not _multipart_ok("gptproto-videos", host, {"prompt": "p", "seconds": "10"}, False)


# --------------------------------------------------------------------- seed 004, Vtrix


def _vtrix_ok(body: dict[str, Any]) -> bool:
    request = httpx.Request(
        "POST",
        "https://api.vtrix.ai/model/v1/generation",
        json=body,
        headers={"Authorization": "Bearer k"},
    )
    return _accepts("vtrix-generation", request)


def test_vtrix_parameter_list_against_the_contract() -> None:
    """seed 004: model "Value: sora_2_pro_i2v" and prompt required; size 720x1280 | 1280x720
    (default 720x1280); seconds 4, 8, 12 (default 4); input_reference a string; remix_video_id
    a string."""
    base = {"model": "sora_2_pro_i2v", "prompt": "p"}
    assert _vtrix_ok(base)
    for size, seconds in itertools.product(["720x1280", "1280x720"], ["4", "8", "12"]):
        assert _vtrix_ok(base | {"size": size, "seconds": seconds}), (size, seconds)
    for size in ["1024x1792", "1792x1024", "640x480"]:
        assert not _vtrix_ok(base | {"size": size}), size
    for seconds in ["5", "10", "15"]:
        assert not _vtrix_ok(base | {"seconds": seconds}), seconds
    assert not _vtrix_ok(base | {"model": "sora-2"})
    assert not _vtrix_ok({"model": "sora_2_pro_i2v"}), "prompt required"
    assert not _vtrix_ok({"prompt": "p"}), "model required"
    assert _vtrix_ok(base | {"input_reference": "https://x.test/a.png"})
    assert _vtrix_ok(base | {"remix_video_id": "video_123"})


def test_gptproto_quality_is_only_the_documented_word(sora_mock: SoraMock) -> None:
    """seed 001 prints `"quality": "standard"` for a sora-2 job and shows no pro job."""
    seen = {}
    with sora_mock.client("gptproto") as client:
        for api_id in ("gptproto-videos",):
            api = APIS[api_id]
            for model, size in (("sora-2", "720x1280"), ("sora-2-pro", "1792x1024")):
                width, height = (int(x) for x in size.split("x"))
                created = client.post(
                    "/v1/videos",
                    data={"prompt": "p", "model": model, "size": size, "seconds": "4"},
                    files={"input_reference": ("i.png", png(width, height), "image/png")},
                    headers=HEADERS,
                )
                assert created.status_code == 200, created.text
                seen[model] = client.get(api.status_path(created.json()["id"])).json()
    assert seen["sora-2"]["quality"] == "standard"
    assert "quality" not in seen["sora-2-pro"]
