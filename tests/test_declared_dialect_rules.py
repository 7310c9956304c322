"""The generic engine (``mockserver.providers.declared``), rule by rule, in process: a
throwaway provider (``dial``) written here, whose job template shows every value a template
may use, is added with ``contracts.add_provider`` and served by an app built per test
(strict: every answer checked against its contract) through Werkzeug's in-process transport,
on the virtual clock. Each test pins one rule: a create's checks and their words, the job's
values in each status, remix sources, failure codes, downloads, the models listing, the
callback URL, and the class made for each declaration."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import contracts
from contracts import _declaration as decl
from mockserver.http.app import create_app
from mockserver.providers.declared import DeclaredDialect, _dialect_class, _name, declared
from mockserver.testing import SoraMock, test_config

DIAL = """\
openapi: 3.1.0
info: {title: Dial, version: "1", x-provider: dial, x-provider-base-url: https://api.dial.test}
servers: [{url: /}]
security: [{Key: []}]
paths:
  /v1/clips:
    post:
      operationId: makeClip
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [model]
              properties:
                model: {type: string}
                prompt: {type: string}
                duration: {type: integer}
                size: {type: string}
                remix_id: {type: string}
                callback: {type: string}
                refs:
                  type: array
                  items:
                    type: object
                    properties: {role: {type: string}, url: {type: string}}
      responses:
        "201": {$ref: "#/components/responses/Job"}
        "400": {$ref: "#/components/responses/Err"}
        "401": {$ref: "#/components/responses/Err"}
        "404": {$ref: "#/components/responses/Err"}
        "409": {$ref: "#/components/responses/Err"}
        "429": {$ref: "#/components/responses/Err"}
        "500": {$ref: "#/components/responses/Err"}
  /v1/clips/{clip_id}:
    get:
      operationId: readClip
      parameters: [{name: clip_id, in: path, required: true, schema: {type: string}}]
      responses:
        "200": {$ref: "#/components/responses/Job"}
        "401": {$ref: "#/components/responses/Err"}
        "404": {$ref: "#/components/responses/Err"}
        "429": {$ref: "#/components/responses/Err"}
        "500": {$ref: "#/components/responses/Err"}
  /v1/clips/{clip_id}/video:
    get:
      operationId: clipVideo
      parameters:
        - {name: clip_id, in: path, required: true, schema: {type: string}}
        - {name: which, in: query, required: false, schema: {type: integer}}
      responses:
        "200":
          description: the video
          content: {video/mp4: {schema: {type: string, format: binary}}}
        "401": {$ref: "#/components/responses/Err"}
        "404": {$ref: "#/components/responses/Err"}
        "429": {$ref: "#/components/responses/Err"}
        "500": {$ref: "#/components/responses/Err"}
  /v1/engines:
    get:
      operationId: listEngines
      responses:
        "200":
          description: the models
          content: {application/json: {schema: {type: object}}}
        "401": {$ref: "#/components/responses/Err"}
        "429": {$ref: "#/components/responses/Err"}
        "500": {$ref: "#/components/responses/Err"}
components:
  securitySchemes: {Key: {type: http, scheme: bearer}}
  responses:
    Job:
      description: a job
      content: {application/json: {schema: {type: object}}}
    Err:
      description: an error
      content: {application/json: {schema: {type: object}}}
x-sora-mock:
  prefix: dial
  name: Dial
  hosts: [api.dial.test]
  key-env: DIAL_KEY
  id-prefix: dial_
  expiry-seconds: 100000
  price-per-second: 0.123456
  statuses: {queued: q, in_progress: p, completed: c, failed: f}
  failure: {code: stalled, message: Default failure}
  failure-codes: {boom: It went boom, fizz: It fizzled}
  operations:
    makeClip:
      role: create
      status: 201
      fields:
        model: /model
        prompt: /prompt
        seconds: /duration
        size: /size
        image: /refs/[role=first]/url
        remix: /remix_id
    readClip: {role: read, fields: {id: clip_id}}
    clipVideo: {role: content, fields: {id: clip_id, index: which}}
    listEngines: {role: models}
  job:
    id: "{job.id}"
    model: "{job.model}"
    prompt: "{job.prompt}"
    seconds: "{job.seconds}"
    size: "{job.size}"
    width: "{job.width}"
    height: "{job.height}"
    created_at: "{job.created_at}"
    status: "{status}"
    progress: "{progress}"
    percent: "{progress_percent}"
    completed_at: "{completed_at}"
    expires_at: "{expires_at}"
    base_url: "{base_url}"
    video_url: "{video_url}"
    cost: "{cost}"
    error_code: "{error.code}"
    error_message: "{error.message}"
    seconds_text: "{job.seconds_text}"
    cost_text: "{cost_text}"
    notes: "{job.notes}"
    remixed_from: "{job.remixed_from}"
  answer-headers:
    X-Dial-Id: "{job.id}"
  models-answer: {object: list, items: "{models}"}
  errors:
    body: {error: {message: "{message}", code: "{code}", param: "{param}", status: "{status}"}}
    not-found: "no clip {id}"
    model-not-found: {status: 404, code: no_engine, message: "engine {model} is gone"}
    scenario-codes: {rate_limited: slow_down}
  models:
    - {id: dial-1, sizes: [1280x720, 720x1280], durations: [4, 8], listing: {id: dial-1, k: 1}}
    - {id: dial-2, sizes: [640x360], durations: [5], image: false}
"""

AUTH = {"Authorization": "Bearer sk-dial-test"}
_NAMES = itertools.count()


def _add(tmp: Path, text: str, name: str) -> decl.Declaration:
    path = tmp / f"{name}.yaml"
    path.write_text(text)
    return contracts.add_provider(path)


@pytest.fixture(scope="module")
def dial_decl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[decl.Declaration]:
    yield _add(tmp_path_factory.mktemp("dial"), DIAL, "dial-clips")
    contracts.forget_provider("dial-clips")


@pytest.fixture
def mock(dial_decl: decl.Declaration) -> SoraMock:
    return SoraMock(create_app(test_config()))


@pytest.fixture
def variant(tmp_path: Path) -> Iterator[Any]:
    """An app serving a variant of the dial contract (text replaced), under a new name."""
    added: list[str] = []

    def make(*changes: tuple[str, str], **config: Any) -> SoraMock:
        text = DIAL.replace("prefix: dial", "prefix: dialx")
        for old, new in changes:
            assert old in text, old
            text = text.replace(old, new)
        name = f"dial-variant-{next(_NAMES)}"  # `contracts.load` keeps a name's contract
        added.append(name)
        _add(tmp_path, text, name)
        return SoraMock(create_app(test_config(**config)))

    yield make
    for name in added:
        contracts.forget_provider(name)


def _http(mock: SoraMock, prefix: str = "dial") -> httpx.Client:
    return httpx.Client(base_url=mock.base_url(prefix), transport=mock.transport())


def _create(client: httpx.Client, status: int = 201, **body: Any) -> dict[str, Any]:
    answer = client.post("/v1/clips", json={"model": "dial-1", **body}, headers=AUTH)
    assert answer.status_code == status, answer.text
    return dict(answer.json())


def _refused(client: httpx.Client, status: int = 400, **body: Any) -> dict[str, Any]:
    error: dict[str, Any] = _create(client, status, **body)["error"]
    return error


def _read(client: httpx.Client, job_id: str, status: int = 200) -> dict[str, Any]:
    answer = client.get(f"/v1/clips/{job_id}", headers=AUTH)
    assert answer.status_code == status, answer.text
    return dict(answer.json())


def _until(mock: SoraMock, client: httpx.Client, job_id: str, word: str) -> dict[str, Any]:
    for _ in range(200):
        job = _read(client, job_id)
        if job["status"] == word:
            return job
        mock.advance(5)
    raise AssertionError(f"never {word}: {job}")


def _image(mock: SoraMock, size: str) -> str:
    return f"{mock.host}/__mock/sample-image?size={size}"


# ---------------------------------------------------------------- the class, the helpers


def test_each_declaration_has_one_class_named_for_its_prefix(dial_decl: decl.Declaration) -> None:
    made = declared()
    cls: Any = made["dial-clips"]
    assert declared()["dial-clips"] is cls  # made once per declaration
    assert cls is _dialect_class(cls.declaration)
    assert _dialect_class(dial_decl) is not cls  # (another reading of the same file)
    assert issubclass(cls, DeclaredDialect)
    assert cls.__name__ == "Declared_dial"
    assert cls.contract_name == "dial-clips"
    assert cls.prefix == "dial"
    assert cls.family == "dial"
    assert cls.id_prefix == "dial_"
    assert cls.failure == ("stalled", "Default failure")
    assert cls.create_operations == frozenset({"makeClip"})
    assert cls.expiry_seconds == 100000
    assert cls.declaration.contract == "dial-clips"
    assert set(made) >= {"dial-clips", "vtrix-generation", "openrouter-videos"}


def test_a_pointers_field_is_its_first_step() -> None:
    assert _name("/refs/[role=first]/url") == "refs"
    assert _name("size") == "size"
    assert _name("/a/") == "a"
    assert _name("/Xa/b/c") == "Xa"


def test_the_handlers_are_the_roles(mock: SoraMock) -> None:
    dialect: Any = declared()["dial-clips"](mock.service)
    assert dialect.service is mock.service
    assert dialect.contract is contracts.load("dial-clips")
    assert {k: v.__name__ for k, v in dialect.handlers.items()} == {
        "makeClip": "create",
        "readClip": "read",
        "clipVideo": "content",
        "listEngines": "models",
    }


# ---------------------------------------------------------------- a job's values


def test_a_new_job_shows_every_value(mock: SoraMock) -> None:
    with _http(mock) as client:
        answer = client.post(
            "/v1/clips",
            json={"model": "dial-1", "prompt": "a kite", "duration": 8, "size": "720x1280"},
            headers=AUTH,
        )
        assert answer.status_code == 201, answer.text
        job = answer.json()
        assert answer.headers["X-Dial-Id"] == job["id"]
    assert job["id"].startswith("dial_")
    now = int(mock.now())
    assert job == {
        "id": job["id"],
        "model": "dial-1",
        "prompt": "a kite",
        "seconds": 8,
        "size": "720x1280",
        "width": 720,
        "height": 1280,
        "created_at": now,
        "status": "q",
        "progress": 0.0,
        "percent": 0,
        "completed_at": None,
        "expires_at": None,
        "base_url": mock.base_url("dial"),
        "video_url": f"{mock.host}/__mock/media/{job['id']}/video.mp4",
        "cost": 0.9876,
        "error_code": None,
        "error_message": None,
        "seconds_text": "8",
        "cost_text": "0.9876",
        "notes": [],
        "remixed_from": None,
    }


def test_a_running_jobs_progress(mock: SoraMock) -> None:
    with _http(mock) as client:
        job_id = _create(client)["id"]
        running = _until(mock, client, job_id, "p")
        for _ in range(100):
            if 0.2 < running["progress"] < 1:
                break
            mock.advance(1)
            running = _read(client, job_id)
    (stored,) = mock.jobs()
    exact = mock.service.state(stored).progress  # (the answer's is rounded)
    assert running["progress"] == round(exact, 3) != exact
    assert running["percent"] == int(exact * 100)
    assert running["completed_at"] is None and running["expires_at"] is None
    with _http(mock) as client:
        seen = set()
        while running["status"] == "p":  # each percent the truncated exact progress
            exact = mock.service.state(stored).progress
            assert running["percent"] == int(exact * 100), exact
            seen.add(running["percent"])
            mock.advance(0.25)
            running = _read(client, job_id)
    assert len(seen) > 5


def test_a_completed_jobs_times_and_progress(mock: SoraMock) -> None:
    with _http(mock) as client:
        job_id = _create(client, duration=4)["id"]
        done = _until(mock, client, job_id, "c")
    assert done["progress"] == 1.0 and done["percent"] == 100
    assert isinstance(done["completed_at"], int) and done["completed_at"] <= int(mock.now())
    assert done["completed_at"] > done["created_at"]
    assert done["expires_at"] == pytest.approx(done["completed_at"] + 100000, abs=1)
    assert isinstance(done["expires_at"], int)
    assert (done["cost"], done["cost_text"]) == (0.4938, "0.4938")
    assert done["error_code"] is None and done["error_message"] is None


def test_a_failed_job_without_a_code_says_the_declared_failure(mock: SoraMock) -> None:
    with _http(mock) as client:
        client.headers["X-Mock-Scenario"] = "generation_failed"
        job_id = _create(client)["id"]
        failed = _until(mock, client, job_id, "f")
    assert (failed["error_code"], failed["error_message"]) == ("stalled", "Default failure")
    assert failed["completed_at"] is None and failed["expires_at"] is None
    assert failed["percent"] < 100


def test_a_failed_job_with_a_code_says_its_codes_message(mock: SoraMock) -> None:
    with _http(mock) as client:
        client.headers["X-Mock-Scenario"] = "generation_failed:fizz"
        job_id = _create(client)["id"]
        failed = _until(mock, client, job_id, "f")
    assert (failed["error_code"], failed["error_message"]) == ("fizz", "It fizzled")


def test_a_job_failed_without_a_code_says_the_declared_failure_codes_message(
    variant: Any,
) -> None:
    """A job whose render crashed fails with no code of its own: the declared failure's,
    and with failure codes, that code's message."""
    from mockserver.media.render_process import RenderCrashed

    mock = variant(
        (
            "failure: {code: stalled, message: Default failure}",
            "failure: {code: boom, message: Default failure}",
        )
    )
    with _http(mock, "dialx") as client:
        job_id = _create(client)["id"]
        _until(mock, client, job_id, "p")
        (stored,) = mock.jobs()
        mock.service.render_crashed(stored, RenderCrashed("test"))
        failed = _read(client, job_id)
    assert (failed["status"], failed["error_code"]) == ("f", "boom")
    assert failed["error_message"] == "It went boom"


def test_a_job_failed_without_a_code_or_codes_says_the_declared_failure(mock: SoraMock) -> None:
    from mockserver.media.render_process import RenderCrashed

    with _http(mock) as client:
        job_id = _create(client)["id"]
        _until(mock, client, job_id, "p")
        (stored,) = mock.jobs()
        mock.service.render_crashed(stored, RenderCrashed("test"))
        failed = _read(client, job_id)
    assert (failed["error_code"], failed["error_message"]) == ("stalled", "Default failure")


def test_render_is_the_read_answers_body(variant: Any) -> None:
    busy = '    remixed_from: "{job.remixed_from}"\n    busy: {x-when: [in_progress], x-value: 1}\n'
    mock = variant(('    remixed_from: "{job.remixed_from}"\n', busy))
    with _http(mock, "dialx") as client:
        job_id = _create(client)["id"]
        answer = _until(mock, client, job_id, "p")
    (stored,) = mock.jobs()
    cls = next(c for c in declared().values() if c.prefix == "dialx")
    dialect: Any = cls(mock.service)
    ctx: Any = type("Ctx", (), {"base_url": mock.base_url("dialx"), "host_url": mock.host})()
    assert dialect.render(stored, mock.service.state(stored), ctx) == answer
    assert answer["busy"] == 1  # (an x-when entry: the status is passed on)


def test_a_job_keeps_its_size_and_duration(mock: SoraMock) -> None:
    with _http(mock) as client:
        _create(client, duration=8, size="720x1280")
    (stored,) = mock.jobs()
    assert stored.params == {"size": "720x1280", "seconds": 8}


def test_an_unknown_failure_code_is_the_providers_400(mock: SoraMock) -> None:
    with _http(mock) as client:
        client.headers["X-Mock-Scenario"] = "generation_failed:nope"
        error = _refused(client)
    assert error == {
        "message": "unknown Dial failure code 'nope'; known: boom, fizz",
        "code": None,
        "param": "X-Mock-Scenario",
        "status": 400,
    }
    assert mock.jobs() == []


def test_without_failure_codes_any_code_is_taken_as_given(variant: Any) -> None:
    mock = variant(("  failure-codes: {boom: It went boom, fizz: It fizzled}\n", ""))
    with _http(mock, "dialx") as client:
        client.headers["X-Mock-Scenario"] = "generation_failed:E42"
        job_id = _create(client)["id"]
        failed = _until(mock, client, job_id, "f")
    assert (failed["error_code"], failed["error_message"]) == ("E42", "Default failure")


def test_a_scenarios_code_is_the_declared_one(mock: SoraMock) -> None:
    with _http(mock) as client:
        client.headers["X-Mock-Scenario"] = "rate_limited"
        limited = _refused(client, 429)
        client.headers["X-Mock-Scenario"] = "server_error"
        failing = _refused(client, 500)
    assert limited["code"] == "slow_down"
    assert limited["status"] == 429
    assert failing["code"] is None


# ---------------------------------------------------------------- the create's checks


def test_an_undeclared_model_is_the_declared_model_not_found(mock: SoraMock) -> None:
    with _http(mock) as client:
        error = _refused(client, 404, model="dial-9")
    assert error == {
        "message": "engine dial-9 is gone",
        "code": "no_engine",
        "param": "model",
        "status": 404,
    }


def test_a_retired_or_unavailable_model_is_the_declared_model_not_found(variant: Any) -> None:
    mock = variant(retired_models=("dial-2",))
    with _http(mock, "dialx") as client:
        assert _refused(client, 404, model="dial-2")["message"] == "engine dial-2 is gone"
        _create(client, model="dial-1")
        client.headers["X-Mock-Scenario"] = "model_unavailable"
        assert _refused(client, 404, model="dial-1")["message"] == "engine dial-1 is gone"


def test_another_scenario_does_not_refuse_the_model(mock: SoraMock) -> None:
    with _http(mock) as client:
        client.headers["X-Mock-Scenario"] = "slow"
        _create(client)


def test_a_duration_the_model_lacks_is_a_400_naming_its_durations(mock: SoraMock) -> None:
    with _http(mock) as client:
        error = _refused(client, duration=5)
        assert _create(client, model="dial-2")["seconds"] == 5
    assert error == {
        "message": "duration: 5 is not one of dial-1's durations (4, 8)",
        "code": None,
        "param": "duration",
        "status": 400,
    }


def test_no_duration_is_the_models_first_and_no_size_its_first(mock: SoraMock) -> None:
    with _http(mock) as client:
        job = _create(client)
    assert (job["seconds"], job["size"], job["width"], job["height"]) == (4, "1280x720", 1280, 720)


def test_a_size_the_model_lacks_is_a_400_naming_its_sizes(mock: SoraMock) -> None:
    with _http(mock) as client:
        error = _refused(client, size="640x360")
    assert error == {
        "message": "size: 640x360 is not one of dial-1's sizes (1280x720, 720x1280)",
        "code": None,
        "param": "size",
        "status": 400,
    }


def test_a_reference_image_is_fetched_and_its_notes_kept(mock: SoraMock) -> None:
    with _http(mock) as client:
        job = _create(client, refs=[{"role": "first", "url": _image(mock, "640x480")}])
        plain = _create(client, refs=[{"role": "last", "url": _image(mock, "640x480")}])
    (stored, other) = sorted(mock.jobs(), key=lambda j: j.id != job["id"])
    image = mock.service.image_of(stored)
    assert image is not None and image[:4] == b"\x89PNG"
    assert mock.service.image_of(other) is None and plain["notes"] == []


def test_a_model_without_images_refuses_one(mock: SoraMock) -> None:
    with _http(mock) as client:
        error = _refused(
            client, model="dial-2", refs=[{"role": "first", "url": _image(mock, "640x360")}]
        )
    assert error == {
        "message": "refs: dial-2 takes no reference image",
        "code": None,
        "param": "refs",
        "status": 400,
    }


def test_an_unreadable_image_is_the_providers_400(mock: SoraMock) -> None:
    with _http(mock) as client:
        error = _refused(client, refs=[{"role": "first", "url": "data:image/png;base64,AAAA"}])
    assert error["param"] == "refs" and error["status"] == 400


def test_an_image_must_match_the_size_when_declared(variant: Any) -> None:
    mock = variant(("      status: 201\n", "      status: 201\n      image-matches-size: wrong\n"))
    with _http(mock, "dialx") as client:
        error = _refused(client, refs=[{"role": "first", "url": _image(mock, "640x480")}])
        assert error["message"].startswith("wrong") and error["param"] == "refs"
        job = _create(
            client, size="720x1280", refs=[{"role": "first", "url": _image(mock, "720x1280")}]
        )
    assert job["size"] == "720x1280"


def test_an_image_need_not_match_without_the_declaration(mock: SoraMock) -> None:
    with _http(mock) as client:
        _create(client, size="720x1280", refs=[{"role": "first", "url": _image(mock, "640x480")}])


def test_the_prompt_is_kept_as_text_or_empty(mock: SoraMock, variant: Any) -> None:
    with _http(mock) as client:
        assert _create(client)["prompt"] == ""
    other = variant(("        prompt: /prompt\n", ""))
    with _http(other, "dialx") as client:
        assert _create(client, prompt="a kite")["prompt"] == ""


def test_a_create_without_an_image_field_takes_none(variant: Any) -> None:
    mock = variant(("        image: /refs/[role=first]/url\n", ""))
    with _http(mock, "dialx") as client:
        _create(client, refs=[{"role": "first", "url": "not an image"}])


# ---------------------------------------------------------------- remix


def test_a_remix_of_a_completed_job_renders_from_its_image(mock: SoraMock) -> None:
    with _http(mock) as client:
        source = _create(client, refs=[{"role": "first", "url": _image(mock, "640x480")}])
        _until(mock, client, source["id"], "c")
        remix = _create(client, remix_id=source["id"])
    assert remix["remixed_from"] == source["id"]
    stored = {j.id: j for j in mock.jobs()}
    image = mock.service.image_of(stored[source["id"]])
    assert image is not None and mock.service.image_of(stored[remix["id"]]) == image
    assert stored[remix["id"]].remixed_from == source["id"]


def test_a_remix_of_an_unknown_job_is_a_404(mock: SoraMock) -> None:
    with _http(mock) as client:
        error = _refused(client, 404, remix_id="dial_nope")
    assert error == {
        "message": "no video with this id",
        "code": None,
        "param": "remix_id",
        "status": 404,
    }


def test_a_remix_of_an_unfinished_job_is_a_409(mock: SoraMock) -> None:
    with _http(mock) as client:
        source = _create(client)
        error = _refused(client, 409, remix_id=source["id"])
    assert error == {
        "message": "must be the id of a completed video",
        "code": None,
        "param": "remix_id",
        "status": 409,
    }


def test_a_remix_field_is_read_only_where_declared(variant: Any) -> None:
    mock = variant(("        remix: /remix_id\n", ""))
    with _http(mock, "dialx") as client:
        assert _create(client, remix_id="dial_nope")["remixed_from"] is None


# ---------------------------------------------------------------- read, content, models


def test_an_unknown_id_is_the_declared_not_found(mock: SoraMock) -> None:
    with _http(mock) as client:
        error = _read(client, "dial_nope", 404)["error"]
    assert error == {"message": "no clip dial_nope", "code": None, "param": None, "status": 404}


def test_the_video_of_a_completed_job(mock: SoraMock) -> None:
    with _http(mock) as client:
        job_id = _create(client)["id"]
        _until(mock, client, job_id, "c")
        video = client.get(f"/v1/clips/{job_id}/video", headers=AUTH)
        first = client.get(f"/v1/clips/{job_id}/video?which=0", headers=AUTH)
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    assert first.status_code == 200 and first.content == video.content


def test_only_the_first_video_exists(mock: SoraMock) -> None:
    with _http(mock) as client:
        job_id = _create(client)["id"]
        _until(mock, client, job_id, "c")
        answer = client.get(f"/v1/clips/{job_id}/video?which=1", headers=AUTH)
    assert answer.status_code == 404
    assert answer.json()["error"] == {
        "message": f"no clip {job_id}",
        "code": None,
        "param": "which",
        "status": 404,
    }


def test_an_unfinished_jobs_video_is_a_404_saying_its_status(mock: SoraMock) -> None:
    with _http(mock) as client:
        job_id = _create(client)["id"]
        answer = client.get(f"/v1/clips/{job_id}/video", headers=AUTH)
        unknown = client.get("/v1/clips/dial_nope/video", headers=AUTH)
    assert answer.status_code == 404
    assert answer.json()["error"] == {
        "message": f"no clip {job_id}: the job is q",
        "code": None,
        "param": None,
        "status": 404,
    }
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == "no clip dial_nope"


def test_the_models_listing_is_the_declared_listings_in_the_answer(mock: SoraMock) -> None:
    with _http(mock) as client:
        answer = client.get("/v1/engines", headers=AUTH)
    assert answer.status_code == 200
    listed = [{"id": "dial-1", "k": 1}, {"id": "dial-2"}]
    assert answer.json() == {"object": "list", "items": listed}


def test_the_models_listing_without_an_answer_template_is_data(variant: Any) -> None:
    mock = variant(('  models-answer: {object: list, items: "{models}"}\n', ""))
    with _http(mock, "dialx") as client:
        answer = client.get("/v1/engines", headers=AUTH)
    assert answer.status_code == 200
    assert answer.json() == {"data": [{"id": "dial-1", "k": 1}, {"id": "dial-2"}]}


def test_a_read_answers_its_declared_status(variant: Any) -> None:
    mock = variant(
        (
            "readClip: {role: read, fields: {id: clip_id}}",
            "readClip: {role: read, status: 203, fields: {id: clip_id}}",
        ),
        (
            '        "200": {$ref: "#/components/responses/Job"}',
            '        "203": {$ref: "#/components/responses/Job"}',
        ),
    )
    with _http(mock, "dialx") as client:
        job_id = _create(client)["id"]
        assert client.get(f"/v1/clips/{job_id}", headers=AUTH).status_code == 203


def test_a_models_operation_answers_its_declared_status(variant: Any) -> None:
    mock = variant(
        ("    listEngines: {role: models}", "    listEngines: {role: models, status: 203}"),
        ('"200":\n          description: the models', '"203":\n          description: the models'),
    )
    with _http(mock, "dialx") as client:
        assert client.get("/v1/engines", headers=AUTH).status_code == 203


# ---------------------------------------------------------------- callbacks

HOOKS = """\
  webhooks:
    url: /callback
    events: {completed: clip.done, failed: clip.failed}
    body: {id: "{job.id}", event: "{event}"}
"""


def test_a_callback_url_is_owed_the_jobs_event(variant: Any) -> None:
    mock = variant(("  answer-headers:\n", HOOKS + "  answer-headers:\n"))
    owed: list[tuple[str, str, str, str]] = []  # (no dispatcher thread started in a test)
    mock.service.webhooks.owe = lambda job, url, base, host: owed.append((job.id, url, base, host))
    with _http(mock, "dialx") as client:
        job = _create(client, callback="http://127.0.0.1:9/hook")
        _create(client)
    assert owed == [(job["id"], "http://127.0.0.1:9/hook", mock.base_url("dialx"), mock.host)]


def test_a_callback_url_the_mock_will_not_call_is_the_providers_400(variant: Any) -> None:
    mock = variant(("  answer-headers:\n", HOOKS + "  answer-headers:\n"))
    with _http(mock, "dialx") as client:
        error = _refused(client, callback="http://example.com/hook")
    assert error["param"] == "callback" and error["status"] == 400
    assert error["message"] == (
        "callback: the mock delivers webhooks only to loopback (127.0.0.1, ::1, localhost) and "
        "to the hosts it is told to allow, and example.com is neither: start it with "
        "--webhook-allow-host example.com (or SORA_MOCK_WEBHOOK_ALLOW_HOST=example.com)"
    )
    assert mock.jobs() == []


def test_a_callback_field_without_webhooks_is_ignored(mock: SoraMock) -> None:
    with _http(mock) as client:
        _create(client, callback="http://example.com/hook")


def test_answer_headers_are_filled_by_the_answers_status(variant: Any) -> None:
    """The declared ``answer-headers`` come from the same values as the body, with the
    lifecycle status the job is in (an ``x-when`` header only in its statuses)."""
    headers = (
        '    X-Dial-Id: "{job.id}"\n'
        '    X-Busy: {x-when: [queued, in_progress], x-value: "{progress_percent}"}\n'
        '    X-Hint: {x-when: [queued], x-value: "{poll_after_ms}"}\n'
    )
    mock = variant(('    X-Dial-Id: "{job.id}"\n', headers))
    with _http(mock, "dialx") as client:
        created = client.post("/v1/clips", json={"model": "dial-1"}, headers=AUTH)
        job_id = created.json()["id"]
        (stored,) = mock.jobs()
        hint = str(int(min(5000, max(250, stored.render_seconds * 100))))
        assert (created.headers["X-Dial-Id"], created.headers["X-Busy"]) == (job_id, "0")
        assert created.headers["X-Hint"] == hint
        _until(mock, client, job_id, "p")
        running = client.get(f"/v1/clips/{job_id}", headers=AUTH)
        assert running.headers["X-Busy"] == str(running.json()["percent"])
        assert "X-Hint" not in running.headers
        done = _until(mock, client, job_id, "c")
        answer = client.get(f"/v1/clips/{job_id}", headers=AUTH)
    assert done["status"] == "c"
    assert answer.headers["X-Dial-Id"] == job_id
    assert "X-Busy" not in answer.headers and "X-Hint" not in answer.headers


def test_a_replaced_render_hook_makes_the_body_and_the_headers_still_come(
    mock: SoraMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``render`` is the dialect's hook (a test or a plug-in may wrap it): when it is not the
    engine's own, its body is the answer's, and the declared headers are still filled from
    the job's values."""
    cls = next(c for c in declared().values() if c.prefix == "dial")
    original = DeclaredDialect.render

    def hooked(self: Any, job: Any, state: Any, ctx: Any) -> dict[str, Any]:
        body: dict[str, Any] = original(self, job, state, ctx)
        body["prompt"] = f"hooked {state.status.value} at {ctx.base_url}"
        return body

    monkeypatch.setattr(cls, "render", hooked)
    with _http(mock) as client:
        created = client.post("/v1/clips", json={"model": "dial-1"}, headers=AUTH)
        read = client.get(f"/v1/clips/{created.json()['id']}", headers=AUTH)
    for answer in (created, read):
        assert answer.json()["prompt"] == f"hooked queued at {mock.base_url('dial')}"
        assert answer.headers["X-Dial-Id"] == created.json()["id"]
