"""The declaration words Vtrix's move to data added (contracts/_declaration.py): each new key
refused at load when it is written wrong, naming the file, the place and the fix; pointers
that search a list (``*``, ``[key=value]`` taking every entry that fits) and the first usable
value among several; a template key kept only when its value is there (``x-if``); the error
values a template may use beside the four it had (contracts._pointers holds the pointers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_declared_providers import ACME

import contracts
from contracts._declaration import declarations, error_values, fill
from contracts._pointers import first, pick_all
from mockserver.http.app import create_app
from mockserver.testing import SoraMock, test_config

MODELS = "  models:\n    - {id: acme-1, sizes: [720x1280, 1280x720], durations: [4, 8]}\n"
CREATE = "      fields: {model: /engine, prompt: /text, seconds: /length, size: /dims, image: "

MISTAKES = [
    (
        MODELS,
        MODELS + "  statuses-accepted: {running: finished}\n",
        "/x-sora-mock/statuses-accepted/running",
        "a word the mock does not send, mapped to one of queued, in_progress, completed, failed",
    ),
    (
        MODELS,
        MODELS + "  statuses-accepted: {waiting: queued}\n",
        "/x-sora-mock/statuses-accepted/waiting",
        "a word the mock does not send",
    ),
    (
        MODELS,
        MODELS + "  failure-codes: [E1, E2]\n",
        "/x-sora-mock/failure-codes",
        "must be a mapping of codes to messages",
    ),
    (
        MODELS,
        MODELS + "  failure-codes: {E1: 7}\n",
        "/x-sora-mock/failure-codes",
        "must be a mapping of codes to messages",
    ),
    (
        MODELS,
        MODELS + "  job-places: {video: /url}\n",
        "/x-sora-mock/job-places/video",
        "unknown value `video`: use one of job.id,",
    ),
    (
        MODELS,
        MODELS + "  job-places: {video_url: [/url, url]}\n",
        "/x-sora-mock/job-places/video_url",
        "a JSON pointer (/a/b) or a list of them, tried in order",
    ),
    (
        MODELS,
        MODELS + "  job-places: [video_url]\n",
        "/x-sora-mock/job-places",
        "must be a mapping of value names to pointers",
    ),
    (
        MODELS,
        MODELS + "  list-order: first\n",
        "/x-sora-mock/list-order",
        "must be a whole number (lower comes first in lists)",
    ),
    (
        'engine: "{job.model}"',
        'engine: {x-if: job.modell, x-value: "{job.model}"}',
        "/x-sora-mock/job/engine",
        "`x-if` takes the name of a value (e.g. job.notes) and needs `x-value`",
    ),
    (
        'engine: "{job.model}"',
        "engine: {x-if: job.model}",
        "/x-sora-mock/job/engine",
        "`x-if` takes the name of a value",
    ),
    (
        'engine: "{job.model}"',
        'engine: {x-if: job.model, x-value: "{job.modell}"}',
        "/x-sora-mock/job/engine/x-value",
        "`{job.modell}` is not a value a template can use",
    ),
    (
        CREATE,
        "      image-matches-size: 5\n" + CREATE,
        "/x-sora-mock/operations/startJob/image-matches-size",
        "a create's words for an image whose size is not the video's (a string)",
    ),
    (
        "getJob: {role: read, ",
        "getJob: {role: read, image-matches-size: the wrong size, ",
        "/x-sora-mock/operations/getJob/image-matches-size",
        "a create's words",
    ),
]


@pytest.mark.parametrize(("old", "new", "where", "fix"), MISTAKES, ids=[m[2] for m in MISTAKES])
def test_a_new_key_written_wrong_is_refused_naming_the_file_the_place_and_the_fix(
    tmp_path: Path, old: str, new: str, where: str, fix: str
) -> None:
    assert old in ACME
    path = tmp_path / "acme-broken.yaml"
    path.write_text(ACME.replace(old, new, 1))
    with pytest.raises(contracts.ContractError) as refused:
        contracts.add_provider(path)
    message = str(refused.value)
    assert message.startswith(f"acme-broken.yaml: at {where}:"), message
    assert fix in message, message


def test_the_new_keys_written_right_are_read(tmp_path: Path) -> None:
    path = tmp_path / "acme-words.yaml"
    text = ACME.replace(
        CREATE, "      image-matches-size: the image must be the clip's size\n" + CREATE
    )
    text = text.replace(
        'engine: "{job.model}"', 'engine: {x-if: job.notes, x-value: "{job.notes}"}'
    )
    text += (
        "  statuses-accepted: {started: in_progress, ok: completed}\n"
        "  failure-codes: {E1: engine stalled, 2: out of fuel}\n"
        "  job-places: {video_url: [/a/*/url, /b], error.code: /failure/code}\n"
    )
    path.write_text(text)
    declared = contracts.add_provider(path)
    try:
        assert declared.statuses_accepted == {"started": "in_progress", "ok": "completed"}
        assert declared.failure_codes == {"E1": "engine stalled", "2": "out of fuel"}
        assert declared.job_places == {
            "video_url": ("/a/*/url", "/b"),
            "error.code": ("/failure/code",),
        }
        create = declared.role("create")
        assert create is not None and create.image_mismatch == "the image must be the clip's size"
        read = declared.role("read")
        assert read is not None and read.image_mismatch is None
    finally:
        contracts.forget_provider("acme-words")


def test_a_declaration_without_the_new_keys_has_none_of_them() -> None:
    (openrouter,) = [d for d in declarations() if d.prefix == "openrouter"]
    assert (openrouter.statuses_accepted, openrouter.failure_codes, openrouter.job_places) == (
        {},
        {},
        {},
    )
    create = openrouter.role("create")
    assert create is not None and create.image_mismatch is None


def test_a_list_order_puts_a_provider_before_those_without_one(tmp_path: Path) -> None:
    assert [d.prefix for d in declarations()][-2:] == ["vtrix", "openrouter"], "seed 004 first"
    path = tmp_path / "acme-first.yaml"
    path.write_text(ACME + "  list-order: 1\n")
    contracts.add_provider(path)
    try:
        # gpt.ge (list-order 3) is declared too: acme's 1 puts it first of all
        assert [d.prefix for d in declarations()][-4:] == ["acme", "gptge", "vtrix", "openrouter"]
    finally:
        contracts.forget_provider("acme-first")


OUTPUT = {
    "output": [
        {"content": [{"type": "image", "url": "poster"}, {"type": "video", "url": "v1"}]},
        {"content": [{"type": "video", "url": "v2"}]},
        {"content": "not a list"},
        "not an entry",
    ]
}


@pytest.mark.parametrize(
    ("pointer", "found"),
    [
        ("/output/*/content/*/url", ["poster", "v1", "v2"]),
        ("/output/*/content/[type=video]/url", ["v1", "v2"]),
        ("/output/[content=not a list]/content", ["not a list"]),
        ("/output/1/content/0/type", ["video"]),
        ("/output/4", []),
        ("/output/*/content/*/size", []),
        ("/output/0/content/*/url/*", []),  # a star on text finds nothing
        ("/missing/*", []),
        ("", [OUTPUT]),
    ],
)
def test_pick_all_finds_every_value_a_pointer_reaches(pointer: str, found: list[Any]) -> None:
    assert pick_all(OUTPUT, pointer) == found


def test_a_star_or_a_selection_on_an_object_finds_nothing() -> None:
    assert pick_all({"a": {"b": 1}}, "/a/*") == []
    assert pick_all({"a": {"b": 1}}, "/a/[b=1]") == []
    assert pick_all({"a": [{"b": None}, None, {"b": 2}]}, "/a/*/b") == [2], "nulls are no values"


def test_the_first_usable_value_wins_in_pointer_order() -> None:
    body = {
        "error": {"message": "words", "error_message": "", "code": 0, "flag": True},
        "list": [{"u": ""}, {"u": []}, {"u": {"x": 1}}, {"u": "found"}],
    }
    assert first(body, ["/error/error_message", "/error/message"]) == "words", "empty is none"
    assert first(body, ["/error/code"]) == 0, "a number is a value, zero too"
    assert first(body, ["/error/flag", "/error/message"]) == "words", "a boolean is not"
    assert first(body, ["/list/*/u"]) == "found", "containers and empty text are passed over"
    assert first(body, ["/nothing", "/list/9"]) is None
    assert first(body, []) is None


def test_an_x_if_key_is_kept_only_when_its_value_is_there() -> None:
    template = {
        "notes": {"x-if": "job.notes", "x-value": "{job.notes}"},
        "source": {"x-if": "job.remixed_from", "x-value": "from {job.remixed_from}"},
        "id": "{job.id}",
    }
    values: dict[str, Any] = {"job.notes": [], "job.remixed_from": None, "job.id": "v1"}
    assert fill(template, values) == {"id": "v1"}
    values |= {"job.notes": ["a note"], "job.remixed_from": "v0"}
    assert fill(template, values) == {"notes": ["a note"], "source": "from v0", "id": "v1"}
    assert fill(template, values | {"job.remixed_from": ""}) == {"notes": ["a note"], "id": "v1"}


@pytest.mark.parametrize(
    ("status", "message", "code", "param", "code_or_status", "param_message"),
    [
        (400, "is required", None, "prompt", "400", "prompt: is required"),
        (400, "prompt is required", None, "prompt", "400", "prompt is required"),
        (500, "down", "003000095", None, "003000095", "down"),
        (404, "not found", None, "", "404", "not found"),
    ],
)
def test_the_error_values_name_the_status_when_no_code_and_the_field_when_not_named(
    status: int,
    message: str,
    code: str | None,
    param: str | None,
    code_or_status: str,
    param_message: str,
) -> None:
    values = error_values(status, message, code, param)
    assert values == {
        "status": status,
        "message": message,
        "code": code,
        "param": param,
        "code_or_status": code_or_status,
        "param_message": param_message,
    }


def test_the_not_found_words_name_the_id_asked_for_on_every_operation(tmp_path: Path) -> None:
    path = tmp_path / "acme-named.yaml"
    text = ACME.replace("not-found: no such clip", "not-found: no clip {id}")
    one = "{name: job_id, in: path, required: true, schema: {type: string}}"
    video = f"operationId: getVideo\n      parameters: [{one}"
    text = text.replace(video, video + ", {name: n, in: query, schema: {type: integer}}")
    text = text.replace("fields: {id: job_id}}\n  job:", "fields: {id: job_id, index: n}}\n  job:")
    assert "index: n" in text and "name: n," in text
    path.write_text(text)
    contracts.add_provider(path)
    try:
        mock = SoraMock(create_app(test_config()))
        with mock.client("acme") as client:
            headers = {"Authorization": "Bearer k"}
            read = client.get("/v2/jobs/clip-nope", headers=headers)
            video = client.get("/v2/jobs/clip-nope/video", headers=headers)
            body = {"engine": "acme-1", "text": "a kite", "length": 4, "dims": "720x1280"}
            made = client.post("/v2/jobs", json=body, headers=headers).json()["job_id"]
            early = client.get(f"/v2/jobs/{made}/video", headers=headers)
            second = client.get(f"/v2/jobs/{made}/video?n=1", headers=headers)
    finally:
        contracts.forget_provider("acme-named")
    assert (read.status_code, read.json()["message"]) == (404, "no clip clip-nope")
    assert (video.status_code, video.json()["message"]) == (404, "no clip clip-nope")
    assert (early.status_code, early.json()["message"]) == (
        404,
        f"no clip {made}: the job is waiting",
    )
    assert (second.status_code, second.json()["message"]) == (404, f"no clip {made}")
