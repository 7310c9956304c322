"""The declaration words gpt.ge's move to data added (in contracts/_declaration_roles.py and
contracts/_declaration_answers.py), on a throwaway OpenAI-like provider written here: the
roles ``list``, ``delete`` and ``remix``; a create whose image is a file part
(``image-file``); a content's ``variant``, ``not-ready``/``failed`` answers and
``video-url``; ``errors.types``; ``x-else``; a model's own ``values``; the text timestamps
(GPTProto v3's ``client``, ``answer-headers`` and ``not-found-param`` are used too). Each is
served by the mock (strict: every answer checked against the throwaway contract), driven by
the client, and refused at load when written wrong."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from providers import png

import contracts
from mockserver.http.app import create_app
from mockserver.testing import SoraMock, test_config
from sora_client import SoraClient
from sora_client._exceptions import APIError, InvalidRequestError, NotFoundError
from sora_client._providers.base import encode_multipart

CLIPS = """\
openapi: 3.1.0
info: {title: Clips, version: "1", x-provider: clips, x-provider-base-url: https://api.clips.test}
servers: [{url: /}]
security: [{Key: []}]
paths:
  /v1/clips:
    post:
      operationId: makeClip
      requestBody:
        required: true
        content:
          multipart/form-data:
            schema:
              type: object
              additionalProperties: false
              required: [text]
              properties:
                text: {type: string, minLength: 1}
                engine: {type: string, enum: [c-1, c-2], default: c-1}
                length: {type: string, enum: ["4", "8"], default: "4"}
                dims: {type: string, enum: [720x1280, 1280x720], default: 720x1280}
                picture: {type: string, format: binary}
      responses:
        "200": {$ref: "#/components/responses/Clip"}
        "400": {$ref: "#/components/responses/Err"}
        "401": {$ref: "#/components/responses/Err"}
        "415": {$ref: "#/components/responses/Err"}
        "429": {$ref: "#/components/responses/Err"}
        "500": {$ref: "#/components/responses/Err"}
    get:
      operationId: listClips
      parameters:
        - {name: size, in: query, schema: {type: integer, minimum: 1, maximum: 50}}
        - {name: direction, in: query, schema: {type: string, enum: [asc, desc]}}
        - {name: cursor, in: query, schema: {type: string}}
      responses:
        "200":
          description: a page
          content:
            application/json:
              schema:
                type: object
                required: [items, more, cursor]
                additionalProperties: false
                properties:
                  items: {type: array, items: {$ref: "#/components/schemas/Clip"}}
                  more: {type: boolean}
                  cursor: {type: [string, "null"]}
        "400": {$ref: "#/components/responses/Err"}
        "401": {$ref: "#/components/responses/Err"}
        "429": {$ref: "#/components/responses/Err"}
        "500": {$ref: "#/components/responses/Err"}
  /v1/clips/{clip}:
    parameters: [{name: clip, in: path, required: true, schema: {type: string}}]
    get:
      operationId: getClip
      responses:
        "200": {$ref: "#/components/responses/Clip"}
        "401": {$ref: "#/components/responses/Err"}
        "404": {$ref: "#/components/responses/Err"}
        "429": {$ref: "#/components/responses/Err"}
        "500": {$ref: "#/components/responses/Err"}
    delete:
      operationId: dropClip
      responses:
        "200":
          description: gone
          content:
            application/json:
              schema:
                type: object
                required: [clip, gone]
                additionalProperties: false
                properties: {clip: {type: string}, gone: {type: boolean}}
        "401": {$ref: "#/components/responses/Err"}
        "404": {$ref: "#/components/responses/Err"}
        "429": {$ref: "#/components/responses/Err"}
        "500": {$ref: "#/components/responses/Err"}
  /v1/clips/{clip}/file:
    parameters: [{name: clip, in: path, required: true, schema: {type: string}}]
    get:
      operationId: clipFile
      parameters:
        - {name: kind, in: query, schema: {type: string, enum: [video, thumbnail], default: video}}
      responses:
        "200":
          description: the file, or the clip while it is not done
          content:
            video/mp4: {schema: {type: string, format: binary}}
            image/webp: {schema: {type: string, format: binary}}
            application/json: {schema: {$ref: "#/components/schemas/Clip"}}
        "401": {$ref: "#/components/responses/Err"}
        "404": {$ref: "#/components/responses/Err"}
        "429": {$ref: "#/components/responses/Err"}
        "500": {$ref: "#/components/responses/Err"}
  /v1/clips/{clip}/again:
    parameters: [{name: clip, in: path, required: true, schema: {type: string}}]
    post:
      operationId: againClip
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              additionalProperties: false
              required: [text]
              properties: {text: {type: string, minLength: 1}}
      responses:
        "200": {$ref: "#/components/responses/Clip"}
        "401": {$ref: "#/components/responses/Err"}
        "404": {$ref: "#/components/responses/Err"}
        "409": {$ref: "#/components/responses/Err"}
        "415": {$ref: "#/components/responses/Err"}
        "429": {$ref: "#/components/responses/Err"}
        "500": {$ref: "#/components/responses/Err"}
components:
  securitySchemes: {Key: {type: http, scheme: bearer}}
  schemas:
    Clip:
      type: object
      required: [clip, state, made, done_at, failure]
      additionalProperties: false
      properties:
        clip: {type: string}
        state: {enum: [waiting, running, done, broken]}
        made: {type: string, pattern: "^[0-9]+$"}
        done_at: {type: [string, "null"], pattern: "^[0-9]+$"}
        tier: {type: string}
        file: {type: [string, "null"]}
        failure: {type: [object, "null"]}
        from: {type: [string, "null"]}
  responses:
    Clip:
      description: a clip
      content: {application/json: {schema: {$ref: "#/components/schemas/Clip"}}}
    Err:
      description: an error
      content:
        application/json:
          schema:
            type: object
            required: [message, kind, field]
            additionalProperties: false
            properties:
              message: {type: string}
              kind: {type: [string, "null"]}
              field: {type: [string, "null"]}
              code: {type: string}
x-sora-mock:
  prefix: clips
  client: clips-v1
  name: Clips
  hosts: [api.clips.test]
  key-env: CLIPS_KEY
  id-prefix: clip_
  statuses: {queued: waiting, in_progress: running, completed: done, failed: broken}
  failure: {code: broke, message: The clip broke}
  operations:
    makeClip:
      role: create
      fields: {model: /engine, prompt: /text, seconds: /length, size: /dims, image-file: /picture}
      image-matches-size: the picture must be the clip's size
    listClips:
      role: list
      fields: {limit: size, order: direction, after: cursor}
      answer: {items: "{jobs}", more: "{has_more}", cursor: "{last_id}"}
    getClip: {role: read, fields: {id: clip}}
    dropClip:
      role: delete
      fields: {id: clip}
      answer: {clip: "{job.id}", gone: "{deleted}"}
    clipFile:
      role: content
      fields: {id: clip, variant: kind}
      not-ready: job
      failed: {status: 404, code: clip_broke, message: "Clip {id} broke: nothing to download."}
      video-url: true
    againClip:
      role: remix
      fields: {id: clip, prompt: /text}
      not-completed: {status: 409, code: not_done, message: "Clip {id} is not done yet."}
  job:
    clip: "{job.id}"
    state: "{status}"
    made: "{job.created_at_unix_text}"
    done_at: "{completed_at_unix_text}"
    tier: {x-if: model.tier, x-value: "{model.tier}"}
    failure: {x-when: [failed], x-value: {why: "{error.message}"}, x-else: null}
    from: "{job.remixed_from}"
  answer-headers:
    openai-poll-after-ms: {x-when: [queued, in_progress], x-value: "{poll_after_ms}"}
    X-Clip-Notes: {x-if: job.notes, x-value: "{job.notes_text}"}
  errors:
    body:
      message: "{message}"
      kind: "{type}"
      field: "{param}"
      code: {x-if: code, x-value: "{code}"}
    types: {no_engine: engine_error, "429": slow_down, 4xx: client_error}
    not-found: "Clip {id} is unknown."
    not-found-param: clip
    model-not-found: {status: 400, code: no_engine, message: "no engine {model}"}
  models:
    - {id: c-1, sizes: [720x1280, 1280x720], durations: [4, 8], values: {tier: basic}}
    - {id: c-2, sizes: [720x1280, 1280x720], durations: [4, 8]}
"""
AUTH = {"Authorization": "Bearer clips-key"}


@pytest.fixture
def clips(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "clips-v1.yaml"
    path.write_text(CLIPS)
    contracts.add_provider(path)
    yield path
    contracts.forget_provider("clips-v1")


@pytest.fixture
def mock(clips: Path) -> SoraMock:
    return SoraMock(create_app(test_config()))  # strict: every answer checked on its contract


def _make(client: httpx.Client, image: bytes | None = None, **fields: str) -> httpx.Response:
    """A multipart create (even without a file part: httpx would send a urlencoded form)."""
    files = [("picture", "p.png", image, "image/png")] if image is not None else []
    content, content_type = encode_multipart({"text": "a kite", **fields}, files)
    headers = {**AUTH, "Content-Type": content_type}
    return client.post("/v1/clips", content=content, headers=headers)


def _until(mock: SoraMock, client: httpx.Client, clip: str, state: str) -> dict[str, Any]:
    for _ in range(400):
        found = dict(client.get(f"/v1/clips/{clip}", headers=AUTH).json())
        if found["state"] == state:
            return found
        mock.advance(0.5)
    raise AssertionError(f"the clip never read {state!r}")


def test_a_file_create_reads_its_fields_and_checks_the_picture(mock: SoraMock) -> None:
    with mock.client("clips") as client:
        wrong = _make(client, png(640, 480), dims="1280x720")
        made = _make(client, png(1280, 720), dims="1280x720", length="8")
    assert wrong.status_code == 400
    assert wrong.json()["message"].startswith("the picture must be the clip's size (640x480")
    assert (wrong.json()["field"], wrong.json()["kind"]) == ("picture", "client_error")
    assert made.status_code == 200, made.text
    (job,) = mock.jobs()
    assert (job.width, job.height, job.seconds) == (1280, 720, 8)
    assert job.params == {"size": "1280x720", "seconds": "8"}, "as the form sent them"
    mock.check()


def test_a_job_has_text_times_its_models_values_and_an_else(mock: SoraMock) -> None:
    with mock.client("clips") as client:
        first = _make(client)
        clip = first.json()
        assert clip["made"] == str(int(mock.now())) and clip["done_at"] is None
        assert clip["tier"] == "basic" and clip["failure"] is None and clip["from"] is None
        assert "tier" not in _make(client, engine="c-2").json(), "c-2 declares no tier"
        hint = int(first.headers["openai-poll-after-ms"])
        assert 250 <= hint <= 5000
        done = _until(mock, client, clip["clip"], "done")
        answer = client.get(f"/v1/clips/{clip['clip']}", headers=AUTH)
    assert done["done_at"].isdigit() and done["failure"] is None
    assert "openai-poll-after-ms" not in answer.headers, "nothing left to poll for"
    mock.check()


def test_a_failed_job_fills_the_x_value_and_its_content_answers_the_failed_words(
    mock: SoraMock,
) -> None:
    mock.set_scenario("generation_failed", provider="clips")
    with mock.client("clips") as client:
        clip = _make(client).json()["clip"]
        failed = _until(mock, client, clip, "broken")
        content = client.get(f"/v1/clips/{clip}/file", headers=AUTH)
    assert failed["failure"] == {"why": "The clip broke"}
    assert content.status_code == 404
    assert content.json() == {
        "message": f"Clip {clip} broke: nothing to download.",
        "kind": "client_error",
        "field": None,
        "code": "clip_broke",
    }
    mock.check()


def test_content_is_the_job_until_done_then_the_variant_asked(mock: SoraMock) -> None:
    with mock.client("clips") as client:
        clip = _make(client).json()["clip"]
        early = client.get(f"/v1/clips/{clip}/file", headers=AUTH)
        assert (early.status_code, early.json()["state"]) == (200, "waiting")
        assert "openai-poll-after-ms" in early.headers
        _until(mock, client, clip, "done")
        video = client.get(f"/v1/clips/{clip}/file", headers=AUTH)
        thumb = client.get(f"/v1/clips/{clip}/file?kind=thumbnail", headers=AUTH)
    assert video.content[4:8] == b"ftyp"
    assert thumb.status_code == 200 and thumb.headers["Content-Type"] == "image/webp"
    mock.check()


def test_list_pages_with_the_named_parameters_and_delete_answers_its_template(
    mock: SoraMock,
) -> None:
    with mock.client("clips") as client:
        ids = []
        for _ in range(3):
            ids.append(_make(client).json()["clip"])
            mock.advance(1)
        page = client.get("/v1/clips?size=2&direction=asc", headers=AUTH).json()
        assert [c["clip"] for c in page["items"]] == ids[:2]
        assert (page["more"], page["cursor"]) == (True, ids[1])
        rest = client.get(f"/v1/clips?size=2&direction=asc&cursor={ids[1]}", headers=AUTH)
        assert [c["clip"] for c in rest.json()["items"]] == ids[2:]
        assert rest.json()["more"] is False
        newest = client.get("/v1/clips", headers=AUTH).json()["items"]
        assert [c["clip"] for c in newest] == ids[::-1]
        dropped = client.delete(f"/v1/clips/{ids[0]}", headers=AUTH)
        assert dropped.json() == {"clip": ids[0], "gone": True}
        gone = client.get(f"/v1/clips/{ids[0]}", headers=AUTH)
    assert gone.status_code == 404
    assert gone.json() == {
        "message": f"Clip {ids[0]} is unknown.",
        "kind": "client_error",
        "field": "clip",
    }
    mock.check()


def test_a_remix_needs_a_done_clip_and_keeps_its_shape(mock: SoraMock) -> None:
    with mock.client("clips") as client:
        source = _make(client, png(1280, 720), dims="1280x720", length="8").json()["clip"]
        early = client.post(f"/v1/clips/{source}/again", json={"text": "by night"}, headers=AUTH)
        assert early.status_code == 409
        assert early.json()["message"] == f"Clip {source} is not done yet."
        assert (early.json()["field"], early.json()["code"]) == ("clip", "not_done")
        _until(mock, client, source, "done")
        again = client.post(f"/v1/clips/{source}/again", json={"text": "by night"}, headers=AUTH)
        unknown = client.post("/v1/clips/clip_x/again", json={"text": "x"}, headers=AUTH)
    assert again.status_code == 200 and again.json()["from"] == source
    jobs = {j.id: j for j in mock.jobs()}
    made = jobs[again.json()["clip"]]
    assert (made.prompt, made.seconds, made.width) == ("by night", 8, 1280)
    assert made.params == jobs[source].params
    assert unknown.status_code == 404 and unknown.json()["field"] == "clip"
    mock.check()


def test_a_model_refused_is_typed_by_its_code(mock: SoraMock) -> None:
    mock.service.config.retired_models = ["c-2"]
    with mock.client("clips") as client:
        refused = _make(client, engine="c-2")
    assert refused.status_code == 400
    assert refused.json() == {
        "message": "no engine c-2",
        "kind": "engine_error",
        "field": "model",
        "code": "no_engine",
    }
    mock.check()


def _client(mock: SoraMock) -> SoraClient:
    return SoraClient(
        "clips-v1",
        api_key="clips-key",
        base_url=mock.base_url("clips"),
        transport=mock.transport(),
        sleep=mock.advance,
    )


def test_the_client_drives_it_by_its_client_name(mock: SoraMock, tmp_path: Path) -> None:
    picture = tmp_path / "p.png"
    picture.write_bytes(png(1280, 720))
    with _client(mock) as client:
        job = client.create("a kite", image=picture, seconds=8)
        assert (job.provider, job.status) == ("clips-v1", "queued")
        with pytest.raises(APIError) as unfinished:
            client.remix(job, "by night")
        assert unfinished.value.status_code == 409
        done = client.wait(job)
        assert done.video_url == f"{mock.base_url('clips')}/v1/clips/{job.id}/file"
        assert client.download(done, tmp_path / "v.mp4").read_bytes()[4:8] == b"ftyp"
        thumb = client.download(done, tmp_path / "t.webp", variant="thumbnail")
        assert thumb.read_bytes()[:4] == b"RIFF"
        again = client.remix(done, "by night")
        assert again.raw["from"] == job.id
        listed = [j.id for j in client.list(order="asc")]
        assert listed == [job.id, again.id]
        assert client.delete(again) is True
        with pytest.raises(NotFoundError):
            client.get(again.id)
        with pytest.raises(InvalidRequestError, match="uploads the image as a file"):
            client.create("a kite", image="https://example.com/p.png")
    mock.check()


MODELS = "    - {id: c-2, sizes: [720x1280, 1280x720], durations: [4, 8]}\n"
MISTAKES = [
    (
        '      answer: {items: "{jobs}", more: "{has_more}", cursor: "{last_id}"}\n',
        "",
        "/x-sora-mock/operations/listClips",
        "a list needs `answer`: the template of its answer",
    ),
    (
        '      answer: {items: "{jobs}", more: "{has_more}", cursor: "{last_id}"}\n',
        '      answer: {items: "{job.id}"}\n',
        "/x-sora-mock/operations/listClips/answer/items",
        "`{job.id}` is not a value a template can use",
    ),
    (
        "getClip: {role: read, fields: {id: clip}}",
        "getClip: {role: read, fields: {id: clip}, answer: {}}",
        "/x-sora-mock/operations/getClip/answer",
        "only a list or a delete has an `answer` template",
    ),
    (
        "getClip: {role: read, fields: {id: clip}}",
        "getClip: {role: read, fields: {id: clip}, not-ready: job}",
        "/x-sora-mock/operations/getClip/not-ready",
        "only a content operation has `not-ready`",
    ),
    (
        "      not-ready: job\n",
        "      not-ready: {status: 200, message: wait}\n",
        "/x-sora-mock/operations/clipFile/not-ready/status",
        "an HTTP status from 400 to 499",
    ),
    (
        "      not-ready: job\n",
        "      not-ready: later\n",
        "/x-sora-mock/operations/clipFile/not-ready",
        "`job` (the job, as a read answers it) or {status, message, code} (an error)",
    ),
    (
        "      video-url: true\n",
        "      video-url: yes please\n",
        "/x-sora-mock/operations/clipFile/video-url",
        "a content's true: its URL is a completed job's video URL",
    ),
    (
        "getClip: {role: read, fields: {id: clip}}",
        "getClip: {role: read, fields: {id: clip}, not-completed: {message: no}}",
        "/x-sora-mock/operations/getClip/not-completed",
        "only a remix has `not-completed`",
    ),
    (
        "fields: {limit: size, order: direction, after: cursor}",
        "fields: {limit: size, order: direction, page: cursor}",
        "/x-sora-mock/operations/listClips/fields/page",
        "a list names the query parameters after, limit, order",
    ),
    (
        "fields: {id: clip, prompt: /text}",
        "fields: {id: clip, prompt: /words/text}",
        "/x-sora-mock/operations/againClip/fields",
        "a remix needs `prompt`: a top-level field of its body (/prompt)",
    ),
    (
        "image-file: /picture}",
        "image-file: /picture, image: /picture}",
        "/x-sora-mock/operations/makeClip/fields",
        "`image` (a URL in a JSON body) or `image-file` (a file part), not both",
    ),
    (
        "fields: {id: clip}\n      answer",
        "fields: {}\n      answer",
        "/x-sora-mock/operations/dropClip/fields",
        "needs `id`: the name of the path parameter holding the job's id",
    ),
    (
        '    types: {no_engine: engine_error, "429": slow_down, 4xx: client_error}\n',
        "    types: [engine_error]\n",
        "/x-sora-mock/errors/types",
        "a mapping of a code, a status or 4xx/5xx to a type",
    ),
    (
        "    not-found-param: clip\n",
        "    not-found-param: [clip]\n",
        "/x-sora-mock/errors/not-found-param",
        "the name of the field a 404 names",
    ),
    (
        '    X-Clip-Notes: {x-if: job.notes, x-value: "{job.notes_text}"}\n',
        '    X-Clip-Notes: "{job.note}"\n',
        "/x-sora-mock/answer-headers/X-Clip-Notes",
        "`{job.note}` is not a value a template can use",
    ),
    (
        "  client: clips-v1\n",
        "  client: Clips V1\n",
        "/x-sora-mock/client",
        "the client's provider id: lower-case letters, digits, '-'",
    ),
    (
        "x-else: null}\n",
        'x-else: "{error.cause}"}\n',
        "/x-sora-mock/job/failure/x-else",
        "`{error.cause}` is not a value a template can use",
    ),
    (
        "durations: [4, 8], values: {tier: basic}}",
        "durations: [4, 8]}",
        "/x-sora-mock/job/tier",
        "`x-if` takes the name of a value",
    ),
    (
        "durations: [4, 8], values: {tier: basic}}",
        "durations: [4, 8], values: [tier]}",
        "/x-sora-mock/models/0/values",
        "must be a Mapping, not list",
    ),
]


@pytest.mark.parametrize(("old", "new", "where", "fix"), MISTAKES, ids=[m[2] for m in MISTAKES])
def test_a_new_word_written_wrong_is_refused_naming_the_file_the_place_and_the_fix(
    tmp_path: Path, old: str, new: str, where: str, fix: str
) -> None:
    assert old in CLIPS
    path = tmp_path / "clips-broken.yaml"
    path.write_text(CLIPS.replace(old, new, 1))
    with pytest.raises(contracts.ContractError) as refused:
        contracts.add_provider(path)
    message = str(refused.value)
    assert message.startswith(f"clips-broken.yaml: at {where}:"), message
    assert fix in message, message
