"""A provider added in one file (issue 26): a throwaway async video API, written here as a
contract with its ``x-sora-mock`` declaration into a temporary directory, is served by the
mock and driven by the client with no Python written for it; its answers are checked against
its own contract (strict mode). A declaration with a mistake is refused at load, naming the
file, the place and the fix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import contracts
from mockserver.http.app import create_app
from mockserver.testing import SoraMock, test_config
from sora_client import SoraClient
from sora_client._exceptions import (
    BadRequestError,
    GenerationFailedError,
    ModelUnavailableError,
    NotFoundError,
)

ACME = """\
openapi: 3.1.0
info: {title: Acme clips, version: "1", x-provider: acme, x-provider-base-url: https://api.acme.test}
servers: [{url: /}]
security: [{Key: []}]
paths:
  /v2/jobs:
    post:
      operationId: startJob
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [engine, text]
              additionalProperties: false
              properties:
                engine: {type: string}
                text: {type: string, minLength: 1}
                length: {type: integer}
                dims: {type: string}
                start: {type: object, required: [url], properties: {url: {type: string}}}
      responses:
        "201":
          description: started
          content: {application/json: {schema: {$ref: "#/components/schemas/Job"}}}
        "400": {$ref: "#/components/responses/Err"}
        "401": {$ref: "#/components/responses/Err"}
        "429": {$ref: "#/components/responses/Err"}
        "500": {$ref: "#/components/responses/Err"}
  /v2/jobs/{job_id}:
    get:
      operationId: getJob
      parameters: [{name: job_id, in: path, required: true, schema: {type: string}}]
      responses:
        "200":
          description: the job
          content: {application/json: {schema: {$ref: "#/components/schemas/Job"}}}
        "401": {$ref: "#/components/responses/Err"}
        "404": {$ref: "#/components/responses/Err"}
        "429": {$ref: "#/components/responses/Err"}
        "500": {$ref: "#/components/responses/Err"}
  /v2/jobs/{job_id}/video:
    get:
      operationId: getVideo
      parameters: [{name: job_id, in: path, required: true, schema: {type: string}}]
      responses:
        "200":
          description: the video
          content: {video/mp4: {schema: {type: string, format: binary}}}
        "401": {$ref: "#/components/responses/Err"}
        "404": {$ref: "#/components/responses/Err"}
        "429": {$ref: "#/components/responses/Err"}
        "500": {$ref: "#/components/responses/Err"}
components:
  securitySchemes: {Key: {type: http, scheme: bearer}}
  schemas:
    Job:
      type: object
      required: [job_id, state, percent]
      additionalProperties: false
      properties:
        job_id: {type: string}
        state: {enum: [waiting, running, done, error]}
        percent: {type: integer, minimum: 0, maximum: 100}
        engine: {type: string}
        failure:
          type: object
          required: [reason]
          properties: {reason: {type: string}, code: {type: string}}
  responses:
    Err:
      description: an error
      content:
        application/json:
          schema:
            type: object
            required: [message, status]
            additionalProperties: false
            properties: {message: {type: string}, status: {type: integer}}
x-sora-mock:
  prefix: acme
  name: Acme
  hosts: [api.acme.test]
  key-env: ACME_KEY
  id-prefix: clip-
  statuses: {queued: waiting, in_progress: running, completed: done, failed: error}
  failure: {code: engine_stalled, message: The engine stalled}
  operations:
    startJob:
      role: create
      status: 201
      fields: {model: /engine, prompt: /text, seconds: /length, size: /dims, image: /start/url}
    getJob: {role: read, fields: {id: job_id}}
    getVideo: {role: content, fields: {id: job_id}}
  job:
    job_id: "{job.id}"
    state: "{status}"
    percent: "{progress_percent}"
    engine: "{job.model}"
    failure: {x-when: [failed], x-value: {reason: "{error.message}", code: "{error.code}"}}
  errors:
    body: {message: "{message}", status: "{status}"}
    not-found: no such clip
    model-not-found: {status: 400, code: unknown_engine, message: "no engine {model}"}
  models:
    - {id: acme-1, sizes: [720x1280, 1280x720], durations: [4, 8]}
"""


@pytest.fixture
def acme(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "acme-clips.yaml"
    path.write_text(ACME)
    contracts.add_provider(path)
    yield path
    contracts.forget_provider("acme-clips")


@pytest.fixture
def mock(acme: Path) -> SoraMock:
    return SoraMock(create_app(test_config()))  # strict: every answer checked on its contract


def _client(mock: SoraMock, **headers: str) -> SoraClient:
    return SoraClient(
        "acme",
        api_key="acme-test-key",
        base_url=mock.base_url("acme"),
        transport=mock.transport(),
        sleep=mock.advance,
        default_headers=headers or None,
    )


def test_a_provider_added_from_one_file_runs_the_whole_lifecycle(
    mock: SoraMock, tmp_path: Path
) -> None:
    image = f"{mock.host}/__mock/sample-image?size=720x1280"
    with _client(mock) as client:
        job = client.create(
            "a red kite over the dunes", image=image, model="acme-1", seconds=8, size="720x1280"
        )
        assert (job.provider, job.status, job.id[:5]) == ("acme", "queued", "clip-")
        done = client.wait(job)
        assert done.completed and done.progress == 1.0 and done.model == "acme-1"
        video = client.download(done, tmp_path).read_bytes()
    assert video[4:8] == b"ftyp"
    # the mock kept what the declaration said to keep
    (stored,) = mock.jobs()
    assert (stored.seconds, stored.width, stored.height) == (8, 720, 1280)
    mock.check()  # no answer broke the provider's own contract


def test_a_failed_job_carries_the_declared_failure(mock: SoraMock) -> None:
    with _client(mock, **{"X-Mock-Scenario": "generation_failed"}) as client:
        job = client.create("a red kite", model="acme-1", seconds=4, size="1280x720")
        with pytest.raises(GenerationFailedError) as failed:
            client.wait(job)
    assert failed.value.job.error_code == "engine_stalled"
    assert failed.value.job.error_message == "The engine stalled"
    mock.check()


def test_its_errors_come_in_its_own_shape(mock: SoraMock) -> None:
    with _client(mock) as client:
        with pytest.raises(BadRequestError) as bad:
            client.create("a red kite", model="acme-1", seconds=5, size="720x1280")
        assert bad.value.body == {
            "message": "length: 5 is not one of acme-1's durations (4, 8)",
            "status": 400,
        }
        with pytest.raises(ModelUnavailableError, match="no engine acme-9"):
            client.create("a red kite", model="acme-9")
        with pytest.raises(NotFoundError, match="no such clip"):
            client.get("clip-nope")
    raw = httpx.Client(base_url=mock.base_url("acme"), transport=mock.transport())
    answer = raw.get("/v2/jobs/clip-nope")
    assert (answer.status_code, answer.json()["status"]) == (401, 401)
    mock.check()


def test_a_forgotten_provider_is_no_longer_served(acme: Path) -> None:
    contracts.forget_provider("acme-clips")
    mock = SoraMock(create_app(test_config()))
    with httpx.Client(base_url=mock.host, transport=mock.transport()) as raw:
        assert raw.get("/acme/v2/jobs/x", headers={"Authorization": "Bearer k"}).status_code == 404
    contracts.add_provider(acme)  # (the fixture forgets it again)


MISTAKES = [
    (
        "role: create\n",
        "role: creat\n",
        "/x-sora-mock/operations/startJob/role",
        "unknown role `creat`: use one of create, read, content, models",
    ),
    (
        'job_id: "{job.id}"',
        'job_id: "{job.idd}"',
        "/x-sora-mock/job/job_id",
        "`{job.idd}` is not a value a template can use",
    ),
    (
        "getJob: {role: read",
        "getJobs: {role: read",
        "/x-sora-mock/operations/getJobs",
        "the contract has no operation `getJobs`: use one of",
    ),
    (
        "  models:\n    - {id: acme-1, sizes: [720x1280, 1280x720], durations: [4, 8]}\n",
        "",
        "/x-sora-mock",
        "`models` is missing: add it",
    ),
    (
        "sizes: [720x1280, 1280x720]",
        "sizes: [720by1280]",
        "/x-sora-mock/models/0/sizes/0",
        "'720by1280' is not WIDTHxHEIGHT",
    ),
    (
        "seconds: /length, ",
        "",
        "/x-sora-mock/operations/startJob/fields",
        "a create needs `seconds`: a JSON pointer into the body",
    ),
    (
        "prefix: acme",
        "prefix: gptge",
        "/x-sora-mock/prefix",
        "'gptge' is taken: choose another prefix",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "where", "fix"), MISTAKES, ids=[m[3][:30] for m in MISTAKES]
)
def test_a_declaration_with_a_mistake_is_refused_naming_the_file_the_place_and_the_fix(
    tmp_path: Path, old: str, new: str, where: str, fix: str
) -> None:
    assert old in ACME
    path = tmp_path / "acme-broken.yaml"
    path.write_text(ACME.replace(old, new, 1))
    with pytest.raises(contracts.ContractError) as refused:
        contracts.add_provider(path)
    message = str(refused.value)
    assert message.startswith(f"acme-broken.yaml: at {where}"), message
    assert fix in message, message
    assert "acme" not in contracts.PROVIDER_CONTRACTS.values()


def test_an_operation_the_contract_lets_anyone_call_needs_no_key() -> None:
    """OpenRouter's models listing (`security: [{}, {BearerAuth: []}]`): no key is fine, a
    malformed key is still refused, and the listing is the declared models'."""
    mock = SoraMock(create_app(test_config()))
    with httpx.Client(base_url=mock.base_url("openrouter"), transport=mock.transport()) as raw:
        listed = raw.get("/api/v1/videos/models")
        assert listed.status_code == 200, listed.text
        ids = [m["id"] for m in listed.json()["data"]]
        assert "openai/sora-2-pro" in ids
        refused = raw.get("/api/v1/videos/models", headers={"Authorization": "Basic x"})
        assert refused.status_code == 401
        # the other operations still need one
        assert raw.get("/api/v1/videos/gen-vid-x").status_code == 401
    mock.check()
