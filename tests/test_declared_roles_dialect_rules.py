"""The engine's roles beyond create, read, content and models (``mockserver.providers
.declared_roles``), rule by rule, in process: the throwaway ``clips`` provider of
``test_declaration_vocabulary_openai_videos.py`` and variants of it (text replaced, a name of
their own), served by an app built per test (strict: every answer checked against its
contract) through Werkzeug's in-process transport, on the virtual clock; and the job values
these words add, read straight from ``surface_values``."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_declaration_vocabulary_openai_videos import CLIPS, _make

import contracts
from contracts import _declaration as decl
from mockserver.http.app import create_app
from mockserver.providers.declared_roles import file_image, surface_values
from mockserver.state.lifecycle import Job, JobState, Status
from mockserver.testing import SoraMock, test_config

AUTH = {"Authorization": "Bearer clips-key"}
_NAMES = itertools.count()


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Iterator[decl.Declaration]:
    path = tmp_path_factory.mktemp("clips") / "clips-v1.yaml"
    path.write_text(CLIPS)
    yield contracts.add_provider(path)
    contracts.forget_provider("clips-v1")


@pytest.fixture
def variant(tmp_path: Path, clips: decl.Declaration) -> Iterator[Any]:
    """An app serving clips and a variant of it (prefix ``clipsx``; text replaced)."""
    added: list[str] = []

    def make(*changes: tuple[str, str]) -> SoraMock:
        text = CLIPS.replace("prefix: clips", "prefix: clipsx")
        for old, new in changes:
            assert old in text, old
            text = text.replace(old, new)
        name = f"clips-variant-{next(_NAMES)}"  # `contracts.load` keeps a name's contract
        text = text.replace("client: clips-v1", f"client: {name}")
        added.append(name)
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        contracts.add_provider(path)
        return SoraMock(create_app(test_config()))

    yield make
    for name in added:
        contracts.forget_provider(name)


def _http(mock: SoraMock, prefix: str = "clipsx") -> httpx.Client:
    return httpx.Client(base_url=mock.base_url(prefix), transport=mock.transport())


def _done(mock: SoraMock, client: httpx.Client, clip: str) -> None:
    for _ in range(400):
        if client.get(f"/v1/clips/{clip}", headers=AUTH).json()["state"] == "done":
            return
        mock.advance(0.5)
    raise AssertionError("never done")


REMIX = "operationId: againClip"
REMIX_OK = '"200": {$ref: "#/components/responses/Clip"}'


def _remix_answers(status: int) -> tuple[str, str]:
    """The remix's success answered with ``status`` (the contract's remix response too)."""
    at = CLIPS.index(REMIX)
    end = CLIPS.index(REMIX_OK, at) + len(REMIX_OK)
    old = CLIPS[at:end]
    return old, old.replace('"200"', f'"{status}"')


# ---------------------------------------------------------------- the values


def _job(model: str = "c-1", **more: Any) -> Job:
    values: dict[str, Any] = {
        "id": "clip_1",
        "api": "clips-v1",
        "model": model,
        "prompt": "a kite",
        "width": 720,
        "height": 1280,
        "seconds": 4,
        "owner": "o",
        "created_at": 1000.9,
        "queue_seconds": 1.0,
        "render_seconds": 20.0,
        "expires_at": 5000.7,
    }
    return Job(**{**values, **more})


def _state(status: Status, finished: float | None) -> JobState:
    return JobState(status=status, progress=1.0, started_at=1001.0, finished_at=finished)


def test_a_completed_job_has_its_times_as_text(clips: decl.Declaration) -> None:
    values = surface_values(clips, _job(), _state(Status.COMPLETED, 1021.6))
    assert values == {
        "job.created_at_unix_text": "1000",
        "completed_at_unix_text": "1021",
        "expires_at_unix_text": "5000",
        "poll_after_ms": 2000,
        "model.tier": "basic",
    }


def test_a_failed_job_has_no_completion_or_expiry(clips: decl.Declaration) -> None:
    values = surface_values(clips, _job(), _state(Status.FAILED, 1021.6))
    assert (values["completed_at_unix_text"], values["expires_at_unix_text"]) == (None, None)
    running = surface_values(clips, _job(), _state(Status.IN_PROGRESS, None))
    assert (running["completed_at_unix_text"], running["expires_at_unix_text"]) == (None, None)


def test_a_completed_job_without_an_expiry_has_none(clips: decl.Declaration) -> None:
    values = surface_values(clips, _job(expires_at=None), _state(Status.COMPLETED, 1021.6))
    assert values["expires_at_unix_text"] is None


@pytest.mark.parametrize("model", ["c-2", "retired-9"])
def test_a_model_without_the_value_or_not_declared_has_it_null(
    clips: decl.Declaration, model: str
) -> None:
    values = surface_values(clips, _job(model), _state(Status.QUEUED, None))
    assert values["model.tier"] is None


@pytest.mark.parametrize(("render", "hint"), [(1.0, 250), (20.0, 2000), (60.5, 5000)])
def test_the_poll_hint_is_a_tenth_of_the_render_within_bounds(
    clips: decl.Declaration, render: float, hint: int
) -> None:
    values = surface_values(clips, _job(render_seconds=render), _state(Status.QUEUED, None))
    assert values["poll_after_ms"] == hint


# ---------------------------------------------------------------- list


def test_a_list_has_its_providers_jobs_only(variant: Any) -> None:
    mock = variant()
    with _http(mock, "clips") as theirs, _http(mock) as ours:
        other = _make(theirs).json()["clip"]
        mine = _make(ours).json()["clip"]
        assert [c["clip"] for c in ours.get("/v1/clips", headers=AUTH).json()["items"]] == [mine]
        listed = theirs.get("/v1/clips", headers=AUTH).json()["items"]
    assert [c["clip"] for c in listed] == [other]
    mock.check()


def test_a_page_is_twenty_jobs_when_no_size_is_asked(variant: Any) -> None:
    mock = variant()
    with _http(mock) as client:
        for _ in range(21):
            _make(client)
            mock.advance(1)
        page = client.get("/v1/clips", headers=AUTH).json()
    assert (len(page["items"]), page["more"]) == (20, True)
    mock.check()


def test_a_list_answers_its_declared_status(variant: Any) -> None:
    mock = variant(
        ("      role: list\n", "      role: list\n      status: 203\n"),
        ('"200":\n          description: a page', '"203":\n          description: a page'),
    )
    with _http(mock) as client:
        _make(client)
        listed = client.get("/v1/clips", headers=AUTH)
    assert listed.status_code == 203 and len(listed.json()["items"]) == 1
    mock.check()


@pytest.mark.parametrize(("kind", "value"), [("string", "asc"), ("integer", "1")])
def test_a_list_naming_no_parameter_reads_none(variant: Any, kind: str, value: str) -> None:
    mock = variant(
        ("fields: {limit: size, order: direction, after: cursor}", "fields: {}"),
        (
            "        - {name: cursor, in: query, schema: {type: string}}\n",
            "        - {name: cursor, in: query, schema: {type: string}}\n"
            f"        - {{name: XXXX, in: query, schema: {{type: {kind}}}}}\n",
        ),
    )
    with _http(mock) as client:
        ids = []
        for _ in range(2):
            ids.append(_make(client).json()["clip"])
            mock.advance(1)
        for query in (f"XXXX={value}", f"size=1&direction=asc&cursor={ids[1]}"):
            page = client.get(f"/v1/clips?{query}", headers=AUTH)
            assert page.status_code == 200, page.text
            assert [c["clip"] for c in page.json()["items"]] == ids[::-1], query
    mock.check()


# ---------------------------------------------------------------- delete


def test_a_delete_answers_its_declared_status(variant: Any) -> None:
    mock = variant(
        ("      role: delete\n", "      role: delete\n      status: 202\n"),
        ('"200":\n          description: gone', '"202":\n          description: gone'),
    )
    with _http(mock) as client:
        clip = _make(client).json()["clip"]
        dropped = client.delete(f"/v1/clips/{clip}", headers=AUTH)
    assert (dropped.status_code, dropped.json()) == (202, {"clip": clip, "gone": True})
    mock.check()


# ---------------------------------------------------------------- remix


def test_a_remix_answers_its_declared_status(variant: Any) -> None:
    mock = variant(
        ("      role: remix\n", "      role: remix\n      status: 201\n"), _remix_answers(201)
    )
    with _http(mock) as client:
        clip = _make(client).json()["clip"]
        _done(mock, client, clip)
        again = client.post(f"/v1/clips/{clip}/again", json={"text": "b"}, headers=AUTH)
    assert again.status_code == 201 and again.json()["from"] == clip
    mock.check()


def test_a_remix_of_an_unfinished_job_without_words_is_the_engines_409(variant: Any) -> None:
    mock = variant(
        (
            '      not-completed: {status: 409, code: not_done, message: "Clip {id} is not done'
            ' yet."}\n',
            "",
        )
    )
    with _http(mock) as client:
        clip = _make(client).json()["clip"]
        early = client.post(f"/v1/clips/{clip}/again", json={"text": "b"}, headers=AUTH)
    assert (early.status_code, early.json()) == (
        409,
        {"message": "must be the id of a completed video", "kind": "client_error", "field": "clip"},
    )
    mock.check()


def test_a_remix_without_a_prompt_keeps_the_sources(variant: Any) -> None:
    at = CLIPS.index(REMIX)
    end = CLIPS.index("required: [text]", at) + len("required: [text]")
    mock = variant((CLIPS[at:end], CLIPS[at:end].replace("required: [text]", "required: []")))
    with _http(mock) as client:
        clip = _make(client).json()["clip"]
        _done(mock, client, clip)
        again = client.post(f"/v1/clips/{clip}/again", json={}, headers=AUTH)
    assert again.status_code == 200, again.text
    made = {j.id: j for j in mock.jobs()}[again.json()["clip"]]
    assert (made.prompt, made.remixed_from) == ("a kite", clip)
    mock.check()


def test_an_unknown_remix_source_names_the_declared_not_found_param(variant: Any) -> None:
    mock = variant(("not-found-param: clip", "not-found-param: clip_ref"))
    with _http(mock) as client:
        unknown = client.post("/v1/clips/clip_x/again", json={"text": "b"}, headers=AUTH)
        read = client.get("/v1/clips/clip_x", headers=AUTH)
    assert (unknown.status_code, unknown.json()["field"]) == (404, "clip_ref")
    assert (read.status_code, read.json()["field"]) == (404, "clip_ref")
    mock.check()


# ---------------------------------------------------------------- content


def test_a_file_part_is_its_bytes_as_given_or_from_latin_1_text() -> None:
    assert file_image({"picture": "\xff\x00P"}, "/picture") == b"\xff\x00P"
    assert file_image({"picture": b"\x89PNG"}, "/picture") == b"\x89PNG"
    assert file_image({"picture": bytearray(b"ab")}, "/picture") == b"ab"
    assert file_image({"text": "a kite"}, "/picture") is None


def test_a_content_without_its_variant_asked_is_the_video(variant: Any) -> None:
    mock = variant(
        (
            "{type: string, enum: [video, thumbnail], default: video}",
            "{type: string, enum: [video, thumbnail]}",
        )
    )
    with _http(mock) as client:
        clip = _make(client).json()["clip"]
        _done(mock, client, clip)
        video = client.get(f"/v1/clips/{clip}/file", headers=AUTH)
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    assert video.headers["Content-Type"] == "video/mp4"
    mock.check()
