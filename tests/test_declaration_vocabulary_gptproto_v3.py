"""The declaration words GPTProto v3's move to data added (contracts/_decl_answers.py,
contracts/_named_sizes.py), on a throwaway provider written here: sizes named in words
(``size-fields``) read by the mock and written by the client, an answer that wraps the job
(``envelope``) and names an error in its body, headers on a job's answers, the client's own
id for a provider, ``{model}`` in an id prefix, ``x-else``, the new values; each word written
wrong is refused at load naming the file, the place and the fix."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from providers import data_url, png

import contracts
from contracts._declaration import fill
from mockserver.app import create_app
from mockserver.dialects.errors import MODEL_NOT_FOUND, SCENARIO_CODES
from mockserver.testing import SoraMock, test_config
from sora_client import SoraClient
from sora_client._exceptions import InvalidRequestError, NotFoundError, RateLimitError
from sora_client._images import Image
from sora_client._providers import CreateSpec, adapter_class

_ERR = '{$ref: "#/components/responses/Err"}'
_ENVELOPE = '{application/json: {schema: {$ref: "#/components/schemas/Envelope"}}}'
_ANSWERS = f"""\
        "400": {_ERR}
        "401": {_ERR}
        "404": {_ERR}
        "429": {_ERR}
        "500": {_ERR}
"""
WRAP = f"""\
openapi: 3.1.0
info: {{title: Wrap clips, version: "1", x-provider: wrap, x-provider-base-url: https://api.wrap.test}}
servers: [{{url: /}}]
security: [{{Key: []}}]
paths:
  /v1/make:
    post:
      operationId: make
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [text, scale]
              additionalProperties: false
              properties:
                engine: {{type: string, enum: [wrap-1, wrap-2], default: wrap-1}}
                text: {{type: string, minLength: 1}}
                pictures: {{type: array, items: {{type: string}}}}
                scale: {{type: string, enum: [lo, hi], default: lo}}
                shape: {{type: string, enum: [tall, wide], default: tall}}
                length: {{type: integer}}
      responses:
        "200": {{description: made, content: {_ENVELOPE}}}
{_ANSWERS}  /v1/made/{{ref}}:
    get:
      operationId: look
      parameters: [{{name: ref, in: path, required: true, schema: {{type: string}}}}]
      responses:
        "200": {{description: a clip, content: {_ENVELOPE}}}
{_ANSWERS}components:
  securitySchemes: {{Key: {{type: http, scheme: bearer}}}}
  schemas:
    Envelope:
      type: object
      required: [result, code]
      properties: {{result: {{type: object}}, code: {{type: integer}}}}
  responses:
    Err:
      description: an error
      content:
        application/json:
          schema: {{type: object, required: [error], properties: {{error: {{type: object}}}}}}
x-sora-mock:
  prefix: wrap
  client: wrap-clips
  name: Wrap
  hosts: [api.wrap.test]
  key-env: WRAP_KEY
  id-prefix: "{{model}}:clip_"
  statuses: {{queued: new, in_progress: busy, completed: done, failed: broken}}
  failure: {{code: stalled, message: It stalled}}
  operations:
    make:
      role: create
      fields: {{model: /engine, prompt: /text, seconds: /length, size: /scale, image: /pictures/0}}
      image-matches-size: the picture must be the clip's size
      size-fields:
        720x1280: {{/scale: lo, /shape: tall}}
        1280x720: {{/scale: lo, /shape: wide}}
        1024x1792: {{/scale: hi, /shape: tall}}
      params: body
    look: {{role: read, fields: {{id: ref}}}}
  envelope: {{job: /result, status: /code}}
  job-noun: clip
  answer-headers:
    X-Clip-Notes: {{x-if: job.notes, x-value: "{{job.notes_text}}"}}
    X-Clip-Id: "{{job.id}}"
  job:
    result:
      ref: "{{job.id}}"
      engine: "{{job.model}}"
      state: "{{status}}"
      links: {{x-when: [completed], x-value: ["{{video_url}}"], x-else: []}}
      busy_ms: "{{elapsed_ms}}"
      made: "{{job.created_at_text}}"
    code: 200
  job-places: {{video_url: /result/links/*, job.created_at: /result/made}}
  errors:
    body:
      error:
        message: "{{message}}"
        type: "{{status_text}}"
        param: {{x-if: param, x-value: "{{param}}"}}
    not-found: "no clip '{{id}}'"
    not-found-param: ref
    model-not-found: {{status: 404, code: no_engine, message: "no engine {{model}}"}}
  models:
    - {{id: wrap-1, sizes: [720x1280, 1280x720], durations: [4, 8]}}
    - {{id: wrap-2, sizes: [720x1280, 1280x720, 1024x1792], durations: [4]}}
"""
AUTH = {"Authorization": "Bearer wrap-key"}


@pytest.fixture
def wrap(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "wrap-clips.yaml"
    path.write_text(WRAP)
    contracts.add_provider(path)
    yield path
    contracts.forget_provider("wrap-clips")


@pytest.fixture
def mock(wrap: Path) -> SoraMock:
    return SoraMock(create_app(test_config()))  # strict: every answer checked on its contract


def _client(mock: SoraMock) -> SoraClient:
    return SoraClient(
        "wrap-clips",
        api_key="wrap-key",
        base_url=mock.base_url("wrap"),
        transport=mock.transport(),
        sleep=mock.advance,
    )


def test_a_provider_with_named_sizes_and_an_envelope_runs_the_whole_lifecycle(
    mock: SoraMock,
) -> None:
    picture = png(1280, 720)
    with _client(mock) as client:
        job = client.create("a kite", image=picture, seconds=8)
        assert (job.provider, job.status) == ("wrap-clips", "queued")
        assert job.id.startswith("wrap-1:clip_"), "the id prefix says the model"
        done = client.wait(job)
    assert done.completed and done.video_url and done.model == "wrap-1"
    assert done.created_at is not None, "read from the declared place, as text"
    (stored,) = mock.jobs()
    assert (stored.width, stored.height, stored.seconds) == (1280, 720, 8)
    assert stored.params == {"engine": "wrap-1", "scale": "lo", "shape": "wide", "length": 8}
    mock.check()


def test_the_mock_reads_the_size_from_its_words_and_answers_in_the_envelope(
    mock: SoraMock,
) -> None:
    with mock.client("wrap") as client:
        body = {"text": "a kite", "scale": "hi", "engine": "wrap-2", "length": 4}
        made = client.post("/v1/make", json=body, headers=AUTH)
        assert made.status_code == 200, made.text
        assert made.headers["X-Clip-Id"] == made.json()["result"]["ref"]
        assert "X-Clip-Notes" not in made.headers, "an x-if header with nothing to say"
        result = made.json()["result"]
        assert (result["links"], result["busy_ms"], result["state"]) == ([], 0, "new")
        wrong = client.post(
            "/v1/make", json={**body, "pictures": [data_url(png(720, 1280))]}, headers=AUTH
        )
        remote = client.post(
            "/v1/make",
            json={"text": "x", "scale": "lo", "pictures": ["https://cdn.wrap.test/a.png"]},
            headers=AUTH,
        )
        unknown = client.get("/v1/made/wrap-1:clip_nope", headers=AUTH)
    job = max(mock.jobs(), key=lambda j: j.width)
    assert (job.width, job.height) == (1024, 1792), "hi + tall (the shape's default)"
    assert wrong.status_code == 400
    assert wrong.json()["error"]["message"] == (
        "the picture must be the clip's size (720x1280 given, 1024x1792 expected)."
    )
    assert remote.status_code == 200 and remote.headers["X-Clip-Notes"], "the placeholder note"
    assert unknown.status_code == 404
    assert unknown.json() == {
        "error": {"message": "no clip 'wrap-1:clip_nope'", "type": "404", "param": "ref"}
    }


def test_elapsed_ms_counts_the_render_and_stops_at_its_end(mock: SoraMock) -> None:
    with mock.client("wrap") as client:
        made = client.post("/v1/make", json={"text": "a", "scale": "lo"}, headers=AUTH)
        ref = made.json()["result"]["ref"]
        (job,) = mock.jobs()
        mock.advance(job.queue_seconds + 1.0)
        running = client.get(f"/v1/made/{ref}", headers=AUTH).json()["result"]
        assert (running["state"], running["busy_ms"]) == ("busy", 1000)
        mock.advance(job.render_seconds + 30)
        done = client.get(f"/v1/made/{ref}", headers=AUTH).json()["result"]
    assert done["state"] == "done" and len(done["links"]) == 1
    assert done["busy_ms"] == round(job.render_seconds * 1000), "frozen at the end"


def _adapter(wrap: Path) -> Any:
    return adapter_class("wrap-clips")("k", "http://127.0.0.1:9/wrap")


def _sent(request: httpx.Request) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(request.content)
    return body


def test_the_client_writes_a_size_in_the_declared_words(wrap: Path) -> None:
    adapter = _adapter(wrap)
    sent = _sent(adapter.build_create(CreateSpec("x", size="1280x720", extra={"seed": 1})))
    assert list(sent) == ["engine", "text", "scale", "shape", "seed"], "the schema's order"
    assert (sent["scale"], sent["shape"]) == ("lo", "wide")
    passed = CreateSpec("x", size="hi", extra={"shape": "tall"})
    assert (_sent(adapter.build_create(passed))["scale"], adapter.pixel_target(passed)) == (
        "hi",
        (1024, 1792),
    )
    bare = _sent(adapter.build_create(CreateSpec("x")))
    assert bare == {"engine": "wrap-1", "text": "x", "scale": "lo"}, "the size's default"
    assert adapter.pixel_target(CreateSpec("x")) == (720, 1280), "the shape's default"
    odd = Image(b"x", None, "image/png", 800, 600, "odd.png")
    assert _sent(adapter.build_create(CreateSpec("x", odd)))["shape"] == "wide"
    told = CreateSpec("x", odd, extra={"shape": "tall"})
    assert (_sent(adapter.build_create(told))["shape"], adapter.pixel_target(told)) == (
        "tall",
        (720, 1280),
    )
    with pytest.raises(InvalidRequestError) as refused:
        adapter.build_create(CreateSpec("x", size="720x1280", extra={"shape": "wide"}))
    assert refused.value.field == "shape"
    assert "'wide' contradicts size 720x1280 (tall)" in str(refused.value)
    linked = Image(None, "https://a/b.png", None, None, None, "b.png")
    image = _sent(adapter.build_create(CreateSpec("x", linked)))
    assert image["pictures"] == ["https://a/b.png"], "an entry of a list by its index"
    assert adapter.models() == ["wrap-1", "wrap-2"]


def test_the_client_reads_the_job_inside_its_envelope(wrap: Path) -> None:
    adapter = _adapter(wrap)
    answer = httpx.Response(200, headers={"x-request-id": "r1"})
    result = {"ref": "c1", "state": "done", "links": ["", 7, "https://cdn/v.mp4"]}
    job = adapter.parse_job({"result": result, "code": 200}, answer)
    assert (job.id, job.status, job.video_url) == ("c1", "completed", "https://cdn/v.mp4")
    with pytest.raises(RateLimitError) as limited:
        adapter.parse_job({"code": 429, "message": "slow down", "result": None}, answer)
    assert limited.value.request_id == "r1" and "slow down" in str(limited.value)
    for body, message in [
        ([], "the answer is not a JSON object"),
        ({"code": 200}, "the envelope has no result object"),
        ({"code": 399, "result": "x"}, "the envelope has no result object"),
        ({"result": {**result, "ref": ""}}, "the clip has no id"),
    ]:
        with pytest.raises(ValueError, match=f"^{message}$"):
            adapter.parse_job(body, answer)
    with pytest.raises(NotFoundError):
        adapter.parse_job({"code": 404, "result": None}, answer)


def test_x_else_fills_the_other_statuses() -> None:
    template = {"a": {"x-when": ["completed"], "x-value": ["{video_url}"], "x-else": []}}
    assert fill(template, {"video_url": "u"}, "completed") == {"a": ["u"]}
    assert fill(template, {"video_url": "u"}, "queued") == {"a": []}
    assert fill({"a": {"x-when": ["completed"], "x-value": 1}}, {}, "queued") == {}


def test_the_client_id_and_list_order_place_a_provider_in_the_lists(tmp_path: Path) -> None:
    path = tmp_path / "wrap-first.yaml"
    path.write_text(
        WRAP.replace("  client: wrap-clips\n", "  client: wrap-first\n  list-order: 0\n")
    )
    contracts.add_provider(path)
    try:
        from sora_client._providers import PROVIDERS

        assert list(contracts.PROVIDER_CONTRACTS)[0] == "wrap-first"
        assert list(PROVIDERS)[:2] == ["wrap-first", "gptproto-v3"]
        assert "wrap" not in PROVIDERS, "named by its client id, not its prefix"
    finally:
        contracts.forget_provider("wrap-first")
    assert list(PROVIDERS)[0] == "gptproto-v3"


def test_gptproto_v3_declares_the_gptproto_familys_codes() -> None:
    """v3 shares the `gptproto` prefix and error family with the Python dialects of
    /v1/videos and chat: its declared codes and model-not-found must be the family's."""
    (v3,) = [d for d in contracts._declaration.declarations() if d.contract == "gptproto-v3"]
    assert dict(v3.scenario_codes) == SCENARIO_CODES["gptproto"]
    assert v3.model_not_found == MODEL_NOT_FOUND["gptproto"]


MISTAKES = [
    ("  client: wrap-clips\n", "  client: Wrap Clips\n", "/client", "lower-case letters"),
    (
        '    X-Clip-Id: "{job.id}"\n',
        "    X-Clip-Id: [1]\n",
        "/answer-headers/X-Clip-Id",
        "a text template",
    ),
    (
        '    X-Clip-Id: "{job.id}"\n',
        '    X-Clip-Id: "{job.idd}"\n',
        "/answer-headers/X-Clip-Id",
        "`{job.idd}` is not a value a template can use",
    ),
    (
        "  envelope: {job: /result, status: /code}\n",
        "  envelope: {job: result}\n",
        "/envelope/job",
        "a JSON pointer",
    ),
    (
        "  envelope: {job: /result, status: /code}\n",
        "  envelope: {status: /code}\n",
        "/envelope",
        "a mapping with `job`",
    ),
    ("  job-noun: clip\n", "  job-noun: ''\n", "/job-noun", "what the provider calls a job"),
    (
        '  id-prefix: "{model}:clip_"\n',
        '  id-prefix: "{job.id}:"\n',
        "/id-prefix",
        "may say only {model}",
    ),
    (
        "    not-found-param: ref\n",
        "    not-found-param: [ref]\n",
        "/errors/not-found-param",
        "the name of the field",
    ),
    ("      params: body\n", "      params: all\n", "/operations/make/params", "`body`"),
    (
        "        1024x1792: {/scale: hi, /shape: tall}\n",
        "        1024-1792: {/scale: hi, /shape: tall}\n",
        "/operations/make/size-fields/1024-1792",
        "is not WIDTHxHEIGHT",
    ),
    (
        "        1024x1792: {/scale: hi, /shape: tall}\n",
        "        1024x1792: {/scale: hi, /form: tall}\n",
        "/operations/make/size-fields/1024x1792",
        "the body of `make` has no `form`",
    ),
    (
        "        1024x1792: {/scale: hi, /shape: tall}\n",
        "        1024x1792: {/scale: hi}\n",
        "/operations/make/size-fields/1024x1792",
        "every size names the same fields",
    ),
    (
        "        1024x1792: {/scale: hi, /shape: tall}\n",
        "        1024x1792: {/scale: lo, /shape: tall}\n",
        "/operations/make/size-fields/1024x1792",
        "the same words as 720x1280",
    ),
    (
        "        1024x1792: {/scale: hi, /shape: tall}\n",
        "        1024x1792: {/scale: hi, /shape: [tall]}\n",
        "/operations/make/size-fields/1024x1792/shape",
        "the field's value",
    ),
    (
        "        1024x1792: {/scale: hi, /shape: tall}\n",
        "",
        "/models/1/sizes",
        "1024x1792 has no entry in /operations/make/size-fields",
    ),
    (
        "image: /pictures/0}",
        "image: /pictures/0, size: /length}",
        "/operations/make/size-fields",
        "the create's `fields.size` (/length) must be one of the fields named",
    ),
    (
        '"{video_url}"], x-else: []}',
        '"{video_url}"], x-else: ["{nope}"]}',
        "/job/result/links/x-else/0",
        "`{nope}` is not a value",
    ),
]


@pytest.mark.parametrize(("old", "new", "where", "fix"), MISTAKES, ids=[m[2] for m in MISTAKES])
def test_a_new_word_written_wrong_is_refused_naming_the_file_the_place_and_the_fix(
    tmp_path: Path, old: str, new: str, where: str, fix: str
) -> None:
    assert old in WRAP
    path = tmp_path / "wrap-broken.yaml"
    path.write_text(WRAP.replace(old, new, 1))
    with pytest.raises(contracts.ContractError) as refused:
        contracts.add_provider(path)
    message = str(refused.value)
    assert message.startswith(f"wrap-broken.yaml: at /x-sora-mock{where}:"), message
    assert fix in message, message


def test_v3s_dashboard_form_names_its_size_in_words_as_the_client_does() -> None:
    """The index's form for a size-fields provider carries the table: the page fills the body
    (fillTemplate), then writes the size's words in place of WxH (declaredBody in app.js)."""
    from tests.test_declared_dashboard import _client_body, _filled, _index

    index = _index()
    (entry,) = [
        c for c in index["providers"]["gptproto"]["contracts"] if c["name"] == "gptproto-v3"
    ]
    form = entry["declared"]
    assert (entry["name"], form["client"]) == ("gptproto-v3", "gptproto-v3")
    values = {
        "model": "sora-2-pro",
        "prompt": "A lighthouse",
        "seconds": 25,
        "size": "1792x1024",
        "image": "data:image/png;base64,AAAA",
    }
    body = _filled(form["body"], values)
    for pointer, word in form["size_fields"][values["size"]].items():
        body[pointer.strip("/")] = word
    image = Image(b"AAAA", "data:image/png;base64,AAAA", "image/png", 1792, 1024, "x.png")
    expected = _client_body(
        "gptproto-v3",
        prompt="A lighthouse",
        model="sora-2-pro",
        seconds=25,
        size="1792x1024",
        image=image,
    )
    assert body == expected


def test_a_models_file_adds_a_model_to_v3_and_leaves_its_size_words_alone(
    tmp_path: Path,
) -> None:
    """Under `gptproto` a models file's model joins v3 (and GPTProto /v1/videos, declared too:
    tests/test_usermodels_shared_prefix.py); its sizes are size-fields entries, so v3's
    schema's `size` (words) is not widened with WxH."""
    models = tmp_path / "models.yaml"
    models.write_text("gptproto:\n  - {id: sora-2-max, sizes: [1280x720], durations: [12]}\n")
    try:
        contracts.use_models(models)
        schema = contracts.load("gptproto-v3").resolve("#/components/schemas/CreateRequest")
        assert schema["properties"]["size"]["enum"] == ["small", "large"]
        assert 12 in schema["properties"]["duration"]["enum"]
        mock = SoraMock(create_app(test_config()))
        body = {
            "model": "sora-2-max",
            "prompt": "a kite",
            "images": [data_url(png(1280, 720))],
            "size": "small",
            "orientation": "landscape",
            "duration": 12,
        }
        with mock.client("gptproto") as client:
            made = client.post("/api/v3/openai/reverse/sora-2/image-to-video", json=body)
            portrait = client.post(
                "/api/v3/openai/reverse/sora-2/image-to-video",
                json={**body, "orientation": "portrait", "images": [data_url(png(720, 1280))]},
            )
        assert made.status_code == 200, made.text
        assert made.json()["data"]["id"].startswith("sora-2-max:task_")
        assert portrait.status_code == 400
        assert "720x1280 is not one of sora-2-max's sizes (1280x720)" in portrait.text
        mock.check()
    finally:
        contracts.use_models(None)
