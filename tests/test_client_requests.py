"""What the client sends: every valid input makes a request its provider's contract accepts,
and every invalid one is refused locally, before anything is sent or paid for."""

from __future__ import annotations

import base64
import io
import itertools
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from client_helpers import (
    KEY,
    PROVIDER_IDS,
    ContractRouter,
    Flavor,
    create_body,
    flavor_fixture,  # noqa: F401  (fixtures)
    image,
    route,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.formparser import parse_form_data

import contracts
from contracts._declaration import pick
from mockserver.providers.declared_answers import named_size
from sora_client import InvalidRequestError
from sora_client._providers import PROVIDERS, adapter_class
from sora_client._providers.gptproto_chat import MAX_SECONDS

GptprotoV3: Any = adapter_class("gptproto-v3")  # declared: contracts/gptproto-v3.yaml
#: neutral pixel size -> (v3 size, orientation), from the declaration's size-fields
V3_SIZES = {
    size: (words["/size"], words["/orientation"])
    for size, words in GptprotoV3.declaration.answers.size_fields.items()
}

# ---------------------------------------------------------------------- allowed values, read
# from the contracts (nothing restated): the neutral (model, seconds, size) combinations


def _openai_combos(contract_name: str) -> list[tuple[str, int, str]]:
    contract = contracts.load(contract_name)
    schema = contract.resolve("#/components/schemas/CreateVideoRequest")["properties"]
    validator = contract.schema_validator("#/components/schemas/CreateVideoRequest")
    combos = []
    for model, seconds, size in itertools.product(
        schema["model"]["enum"], schema["seconds"]["enum"], schema["size"]["enum"]
    ):
        body = {"prompt": "p", "input_reference": "x", "model": model, "seconds": seconds}
        if validator.is_valid(body | {"size": size}):
            combos.append((model, int(seconds), size))
    return combos


def _v3_combos() -> list[tuple[str, int, str]]:
    contract = contracts.load("gptproto-v3")
    combos = []
    for model in GptprotoV3.models(GptprotoV3(KEY)):
        schema = contract.resolve("#/components/schemas/CreateRequest")
        props = schema["properties"]
        sora2 = schema["then"]["properties"]  # what sora-2 is narrowed to
        pro = model.endswith("-pro")
        for duration in props["duration"]["enum"] if pro else sora2["duration"]["enum"]:
            for size, (word, _) in V3_SIZES.items():
                if word in (props["size"]["enum"] if pro else sora2["size"]["enum"]):
                    combos.append((model, duration, size))
    return combos


def _vtrix_combos() -> list[tuple[str, int, str]]:
    props = contracts.load("vtrix-generation").resolve("#/components/schemas/GenerationRequest")[
        "properties"
    ]
    return [
        (props["model"]["const"], int(s), size)
        for s in props["seconds"]["enum"]
        for size in props["size"]["enum"]
    ]


def _chat_combos() -> list[tuple[str, int, str]]:
    props = contracts.load("gptproto-chat").resolve("#/components/schemas/ChatRequest")
    return [
        (model, s, "")
        for model in props["properties"]["model"]["enum"]
        for s in range(1, MAX_SECONDS + 1)
    ]


COMBOS = {
    "gptproto-v3": _v3_combos(),
    "gptproto-videos": _openai_combos("gptproto-videos"),
    "gptproto-chat": _chat_combos(),
    "gptge": _openai_combos("gptge-videos"),
    "vtrix": _vtrix_combos(),
} | {  # a declared provider: every model with each of its sizes and durations
    name: [
        (model.id, seconds, size)
        for model in cls.declaration.models
        for seconds in model.durations
        for size in model.sizes
    ]
    for name, cls in PROVIDERS.items()
    if hasattr(cls, "declaration")
}
#: providers that take the image as a URL (declared ones do when a JSON field holds it; one
#: that uploads it as a file part, `image-file`, does not)
URL_IMAGES = {"gptproto-v3", "gptproto-chat", "vtrix"} | {
    name
    for name, cls in PROVIDERS.items()
    if hasattr(cls, "declaration") and "image" in cls.declaration.role("create").fields
}


def test_the_combinations_come_from_the_contracts() -> None:
    assert ("sora-2-pro", 25, "1792x1024") in COMBOS["gptproto-v3"]
    assert not any(m == "sora-2" and d == 25 for m, d, _ in COMBOS["gptproto-v3"])
    assert ("sora-2", 4, "1792x1024") not in COMBOS["gptge"]
    assert ("sora-2-pro", 12, "1024x1792") in COMBOS["gptproto-videos"]


prompts = st.text(min_size=1, max_size=120).filter(lambda s: s.strip())


def _image_arg(kind: str, size: tuple[int, int], tmp: Path) -> Any:
    data = image(*size)
    if kind == "bytes":
        return data
    if kind == "path":
        path = tmp / f"ref-{size[0]}x{size[1]}.png"
        if not path.exists():
            path.write_bytes(data)
        return path
    if kind == "data-url":
        return "data:image/png;base64," + base64.b64encode(data).decode()
    return f"https://images.example/ref-{size[0]}x{size[1]}.png"


@pytest.mark.parametrize("provider", PROVIDER_IDS)
@given(data=st.data(), prompt=prompts)
@settings(max_examples=min(settings.default.max_examples, 40))
def test_every_valid_create_sends_a_request_its_contract_accepts(
    flavor: Flavor,
    tmp_path_factory: pytest.TempPathFactory,
    provider: str,
    data: st.DataObject,
    prompt: str,
) -> None:
    model, seconds, size = data.draw(st.sampled_from(COMBOS[provider]), label="combo")
    kinds = ["bytes", "path", "data-url"] + (["url"] if provider in URL_IMAGES else [])
    kind = data.draw(st.sampled_from(kinds), label="image")
    pass_size = provider != "gptproto-chat" and data.draw(st.booleans(), label="explicit size")
    pixels = tuple(int(x) for x in size.split("x")) if size else (720, 1280)
    ref = _image_arg(kind, pixels, tmp_path_factory.getbasetemp())

    cr = ContractRouter(provider)
    if provider == "gptproto-chat":
        from client_helpers import chat_stream

        route(cr, "POST", "create").respond(
            200, content=chat_stream(), headers={"content-type": "text/event-stream"}
        )
    else:
        route(cr, "POST", "create").respond(200, json=create_body(provider))
    with flavor.client(
        provider, transport=cr.transport(), base_url="https://provider.test/api"
    ) as c:
        job = c.create(
            prompt, image=ref, model=model, seconds=seconds, size=size if pass_size else None
        )
    assert cr.problems == []
    assert cr.posts() == 1
    assert job.provider == provider
    sent = cr.requests[0]
    auth = sent.headers["authorization"]
    assert auth == (KEY if provider.startswith("gptproto") else f"Bearer {KEY}")
    # what was sent is what was asked for, field by field (read back by the tests' own
    # knowledge of each provider's request, not by the client's code)
    fields = _sent_fields(provider, sent)
    image_sent = fields.pop("image")
    if kind == "url":
        assert image_sent == ref
    else:
        assert image_sent == image(*pixels), "the image sent is not the one given"
    size_sent = fields.pop("size")
    if pass_size or (size_sent is not None and kind != "url"):
        # unasked, a size is the image's (a URL's pixels are unknown: v3 then sends its default)
        assert size_sent == size
    assert fields == {"prompt": prompt, "model": model, "seconds": seconds}


#: GPTProto v3's words for the neutral sizes (contracts/README.md: small/large pixels)
V3_WORDS = {
    ("small", "portrait"): "720x1280",
    ("small", "landscape"): "1280x720",
    ("large", "portrait"): "1024x1792",
    ("large", "landscape"): "1792x1024",
}


def _image_of(url: str) -> bytes | str:
    if url.startswith("data:"):
        return base64.b64decode(url.partition(",")[2])
    return url


def _sent_fields(provider: str, request: httpx.Request) -> dict[str, Any]:
    """(prompt, model, seconds, size, image) as the provider reads them from the request."""
    body = request.read()
    declaration = getattr(PROVIDERS[provider], "declaration", None)
    file_image = declaration is not None and "image-file" in declaration.role("create").fields
    if declaration is not None and not file_image:  # read where the mock reads them (pick)
        sent = json.loads(body)
        fields = declaration.role("create").fields
        return {
            "prompt": pick(sent, fields["prompt"]),
            "model": pick(sent, fields["model"]),
            "seconds": int(pick(sent, fields["seconds"])),  # a whole number, as the mock reads it
            "size": named_size(
                contracts.load(declaration.contract), declaration, declaration.role("create"), sent
            )
            if declaration.answers.size_fields  # a size named in words (GPTProto v3's)
            else pick(sent, fields["size"]),
            "image": _image_of(pick(sent, fields["image"])),
        }
    if provider in ("gptproto-videos", "gptge"):
        environ = {
            "wsgi.input": io.BytesIO(body),
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": request.headers["content-type"],
            "REQUEST_METHOD": "POST",
        }
        _, form, files = parse_form_data(environ)
        part = files["input_reference"]
        try:
            sent_image = part.read()
        finally:
            part.close()
        return {
            "prompt": form["prompt"],
            "model": form["model"],
            "seconds": int(form["seconds"]),
            "size": form.get("size"),
            "image": sent_image,
        }
    data = json.loads(body)
    if provider == "gptproto-v3":
        # seed 000: one URL (its path says sora-2) for both models; `model` says which
        assert request.url.path.endswith("/reverse/sora-2/image-to-video"), request.url.path
        return {
            "prompt": data["prompt"],
            "model": data["model"],
            "seconds": data["duration"],
            "size": V3_WORDS[(data["size"], data.get("orientation", "portrait"))],
            "image": _image_of(data["images"][0]),
        }
    if provider == "vtrix":
        return {
            "prompt": data["prompt"],
            "model": data["model"],
            "seconds": int(data["seconds"]),
            "size": data.get("size"),
            "image": _image_of(data["input_reference"]),
        }
    # chat: the duration is asked for in words after the prompt, the image is a content part
    (message,) = data["messages"]
    text = next(part["text"] for part in message["content"] if part["type"] == "text")
    url = next(part["image_url"]["url"] for part in message["content"] if part["type"] != "text")
    prompt, _, duration = text.rpartition("\n\nduration: ")
    assert duration.endswith(" seconds"), text
    return {
        "prompt": prompt,
        "model": data["model"],
        "seconds": int(duration.removesuffix(" seconds")),
        "size": None,
        "image": _image_of(url),
    }


# ---------------------------------------------------------------------- refused locally


def _refused(flavor: Flavor, provider: str, **create: Any) -> InvalidRequestError:
    cr = ContractRouter(provider)  # no routes: any request would fail the test
    with flavor.client(
        provider, transport=cr.transport(), base_url="https://provider.test/api"
    ) as c:
        with pytest.raises(InvalidRequestError) as info:
            c.create("A cat in a hat", **create)
    assert cr.requests == [], "a refused request was sent"
    assert not cr.router.calls
    return info.value


@pytest.mark.parametrize(
    ("provider", "create", "field"),
    [
        pytest.param(p, c, f, id=p)
        for p, c, f in [
            ("gptproto-v3", {"model": "sora-2", "seconds": 25, "size": "720x1280"}, "duration"),
            ("gptproto-videos", {"model": "sora-2", "seconds": 25}, "seconds"),
            ("gptge", {"model": "sora-2", "seconds": 25, "size": "720x1280"}, "seconds"),
            ("vtrix", {"seconds": 25, "size": "720x1280"}, "seconds"),
            ("gptproto-chat", {"seconds": 25}, "seconds"),
        ]
    ],
)
def test_25_seconds_on_sora_2_is_refused_before_sending(
    flavor: Flavor,
    provider: str,
    create: dict[str, Any],
    field: str,
) -> None:
    size = create.get("size", "720x1280")
    w, h = (int(x) for x in size.split("x"))
    error = _refused(flavor, provider, image=image(w, h), **create)
    assert error.field == field
    assert "25" in error.rule
    assert isinstance(error, ValueError)


@pytest.mark.parametrize(
    ("provider", "field"),
    [("gptproto-v3", "size"), ("gptproto-videos", "size"), ("gptge", "size"), ("vtrix", "size")],
)
@pytest.mark.parametrize("size", ["1792x1024", "1024x1792"])
def test_a_1792_size_on_sora_2_is_refused_before_sending(
    flavor: Flavor,
    provider: str,
    field: str,
    size: str,
) -> None:
    model = None if provider == "vtrix" else "sora-2"
    w, h = (int(x) for x in size.split("x"))
    error = _refused(flavor, provider, image=image(w, h), model=model, size=size)
    assert error.field == field
    assert "is not one of" in error.rule


@pytest.mark.parametrize("provider", ["gptproto-v3", "gptproto-videos", "gptge", "vtrix"])
@pytest.mark.parametrize("pixels", [(1024, 1024), (720, 1296), (736, 1280)])
def test_an_image_of_another_size_is_refused_before_sending(
    flavor: Flavor,
    provider: str,
    pixels: tuple[int, int],
) -> None:
    # (720, 1296) and (736, 1280): one dimension right, so both must be compared
    error = _refused(flavor, provider, image=image(*pixels), size="720x1280")
    assert error.field == "image"
    assert "{}x{}".format(*pixels) in error.rule and "720x1280" in error.rule


@pytest.mark.parametrize("provider", ["gptproto-videos", "gptge"])
def test_videos_providers_refuse_an_image_url_with_a_clear_value_error(
    flavor: Flavor,
    provider: str,
) -> None:
    error = _refused(flavor, provider, image="https://images.example/cat.png", size="720x1280")
    assert isinstance(error, ValueError)
    assert error.field == "input_reference"
    assert "file" in error.rule and "not a URL" in error.rule


def test_gptge_requires_a_reference_image(flavor: Flavor) -> None:
    error = _refused(flavor, "gptge", size="720x1280")
    assert error.field == "input_reference"
    assert "required" in error.rule


def test_v3_refuses_a_model_it_has_no_endpoint_for(flavor: Flavor) -> None:
    error = _refused(flavor, "gptproto-v3", image=image(720, 1280), model="sora-3")
    assert error.field == "model"
    assert "'sora-2', 'sora-2-pro'" in error.rule


def test_an_unreadable_image_is_refused(flavor: Flavor) -> None:
    error = _refused(flavor, "gptge", image=b"not an image", size="720x1280")
    assert error.field == "input_reference"
    assert "not a readable image" in error.rule


def test_an_unknown_field_is_refused_by_the_contract(flavor: Flavor) -> None:
    error = _refused(flavor, "vtrix", image=image(720, 1280), colour="blue")
    assert "colour" in str(error)


def test_chat_mode_has_no_size(flavor: Flavor) -> None:
    error = _refused(flavor, "gptproto-chat", image=image(720, 1280), size="720x1280")
    assert error.field == "size"


# ---------------------------------------------------------------------- mapping


@pytest.mark.parametrize(
    ("size", "word", "orientation"),
    [
        ("720x1280", "small", "portrait"),
        ("1280x720", "small", "landscape"),
        ("1024x1792", "large", "portrait"),
        ("1792x1024", "large", "landscape"),
    ],
)
def test_v3_maps_the_neutral_size_onto_size_and_orientation(
    size: str, word: str, orientation: str
) -> None:
    import json

    cr = ContractRouter("gptproto-v3")
    route(cr, "POST", "create").respond(200, json=create_body("gptproto-v3"))
    w, h = (int(x) for x in size.split("x"))
    with Flavor("sync").client(
        "gptproto-v3", transport=cr.transport(), base_url="https://provider.test/api"
    ) as c:
        c.create("p", image=image(w, h), model="sora-2-pro", seconds=25, size=size)
    body = json.loads(cr.requests[0].content)
    assert (body["size"], body["orientation"], body["duration"]) == (word, orientation, 25)
    assert cr.requests[0].url.path.endswith("/reverse/sora-2/image-to-video")
    assert body["model"] == "sora-2-pro"
    assert body["images"][0].startswith("data:image/png;base64,")
    assert cr.problems == []


@pytest.mark.parametrize("provider", ["gptproto-videos", "gptge", "vtrix", "gptproto-v3"])
def test_without_a_size_the_image_size_is_asked_for(provider: str) -> None:
    import json

    cr = ContractRouter(provider)
    route(cr, "POST", "create").respond(200, json=create_body(provider))
    with Flavor("sync").client(
        provider, transport=cr.transport(), base_url="https://provider.test/api"
    ) as c:
        c.create("p", image=image(1280, 720))
    sent = cr.requests[0]
    if provider == "gptproto-v3":
        body = json.loads(sent.content)
        assert (body["size"], body["orientation"]) == ("small", "landscape")
    elif provider == "vtrix":
        assert json.loads(sent.content)["size"] == "1280x720"
    else:
        assert b'name="size"\r\n\r\n1280x720\r\n' in sent.content
    assert cr.problems == []


def test_a_remote_url_goes_as_given_to_url_providers() -> None:
    import json

    cr = ContractRouter("vtrix")
    route(cr, "POST", "create").respond(200, json=create_body("vtrix"))
    with Flavor("sync").client(
        "vtrix", transport=cr.transport(), base_url="https://provider.test/api"
    ) as c:
        c.create("p", image="https://images.example/cat.png", size="720x1280")
    assert json.loads(cr.requests[0].content)["input_reference"] == (
        "https://images.example/cat.png"
    )


def test_the_key_goes_only_to_the_providers_origin() -> None:
    from sora_client._providers import adapter_class

    VtrixGeneration = adapter_class("vtrix")  # a declaration: its adapter is made from it
    adapter = VtrixGeneration(KEY, "https://cloud.vtrix.ai")
    own = adapter.build_video_url("https://cloud.vtrix.ai/files/v.mp4")
    cdn = adapter.build_video_url("https://cdn.example/files/v.mp4")
    assert own.headers["authorization"] == f"Bearer {KEY}"
    assert "authorization" not in cdn.headers


def test_default_base_urls_come_from_the_contracts() -> None:
    from sora_client import SoraClient

    hosts = {
        p: str(SoraClient(p, api_key=KEY).base_url).rstrip("/")
        for p in ("gptproto-v3", "gptge", "vtrix")
    }
    assert hosts == {
        "gptproto-v3": "https://gptproto.com",
        "gptge": "https://api.gpt.ge",
        "vtrix": "https://cloud.vtrix.ai",
    }


def test_the_key_is_read_from_the_providers_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sora_client import ConfigurationError, SoraClient

    monkeypatch.delenv("GPTGE_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="GPTGE_API_KEY"):
        SoraClient("gptge")
    monkeypatch.setenv("GPTPROTO_API_KEY", KEY)
    cr = ContractRouter("gptproto-videos")
    route(cr, "POST", "create").respond(200, json=create_body("gptproto-videos"))
    client = SoraClient(
        "gptproto-videos", base_url="https://provider.test/api", transport=cr.transport()
    )
    with client:
        client.create("p")
    assert cr.requests[0].headers["authorization"] == KEY
