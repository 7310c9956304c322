"""The client's core flows beyond chat mode, answer by answer: which states reach
``on_progress`` while polling, and what a download says when the answer is not the video.

Each fake provider is an httpx transport answering in order with bodies in the provider's
words (``client_helpers.job_body``); nothing sleeps.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from client_helpers import (
    KEY,
    RESPX_BASE,
    Flavor,
    flavor_fixture,  # noqa: F401  (fixtures)
    job_body,
)
from test_client_hardening import transport

from sora_client import ContentTypeError, GenerationFailedError

# ====================================================================== polling: on_progress


def test_polling_reports_a_state_only_when_it_moves_forward(flavor: Flavor) -> None:
    states = [
        ("queued", 0.0),
        ("queued", 0.0),  # the same again: not news
        ("in_progress", 0.25),
        ("in_progress", 0.25),
        ("in_progress", 0.5),
        ("queued", 0.0),  # a replica behind
        ("completed", 1.0),
    ]
    answers = [httpx.Response(200, json=job_body("gptge", s, "video_1", p)) for s, p in states]
    mock, seen = transport(*answers)
    reported: list[tuple[str, float]] = []
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, poll_interval=1) as c:
        done = c.wait("video_1", on_progress=lambda j: reported.append((j.status, j.progress)))
    assert done.completed and len(seen) == len(states)
    assert reported == [("queued", 0.0), ("in_progress", 0.25), ("in_progress", 0.5)] + [
        ("completed", 1.0)
    ]


# ====================================================================== download: not the video


def _download_answer(flavor: Flavor, tmp_path: Path, response: httpx.Response) -> BaseException:
    mock, seen = transport(response)
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, max_retries=0) as c:
        with pytest.raises((ContentTypeError, GenerationFailedError)) as info:
            c.download("video_1", tmp_path / "v.mp4")
    assert len(seen) == 1 and list(tmp_path.iterdir()) == [], "something was written"
    return info.value


def test_a_job_answered_instead_of_the_video_says_how_far_the_job_is(
    flavor: Flavor, tmp_path: Path
) -> None:
    body = job_body("gptge", "in_progress", "video_1", 0.42)
    error = _download_answer(flavor, tmp_path, httpx.Response(200, json=body))
    assert isinstance(error, ContentTypeError) and error.content_type == "application/json"
    assert str(error) == (
        "gptge answered application/json instead of the video (the job is in_progress, 42%); "
        "it is probably not ready yet: wait() for the job, then download again. "
        "No file was written."
    )
    assert error.body == body


def test_a_failed_job_answered_instead_of_the_video_is_a_generation_failure(
    flavor: Flavor, tmp_path: Path
) -> None:
    body = job_body("gptge", "failed", "video_1")
    error = _download_answer(flavor, tmp_path, httpx.Response(200, json=body))
    assert isinstance(error, GenerationFailedError)
    assert error.job.id == "video_1" and error.job.failed and error.job.error_message == "it broke"


@pytest.mark.parametrize(
    "body",
    [
        {"error": {"message": "not ready", "type": "invalid_request_error"}},
        ["video_1"],
        {"id": 7},
    ],
    ids=["error-object", "list", "not-a-job"],
)
def test_json_that_is_no_job_is_shown_as_it_came(flavor: Flavor, tmp_path: Path, body: Any) -> None:
    error = _download_answer(flavor, tmp_path, httpx.Response(200, json=body))
    assert isinstance(error, ContentTypeError) and error.body == body
    assert "instead of the video;" in str(error), "a state was named for no job"


def test_a_text_page_is_shown_cut_and_decoded(flavor: Flavor, tmp_path: Path) -> None:
    page = b"\xff<html>" + b"a" * 600 + b"</html>"
    response = httpx.Response(200, headers={"content-type": "Text/HTML; charset=x"}, content=page)
    error = _download_answer(flavor, tmp_path, response)
    assert isinstance(error, ContentTypeError) and error.content_type == "text/html"
    assert error.body == "\ufffd<html>" + "a" * 493
    assert "answered text/html instead of the video;" in str(error)


def test_an_unlabelled_text_body_is_refused_and_named(flavor: Flavor, tmp_path: Path) -> None:
    body = job_body("gptge", "queued", "video_1", 0.0)
    response = httpx.Response(200, content=b"  " + json.dumps(body).encode())
    error = _download_answer(flavor, tmp_path, response)
    assert isinstance(error, ContentTypeError)
    assert error.content_type == "an unlabelled text body" and error.body == body
    assert "(the job is queued, 0%)" in str(error)


def test_the_key_a_not_video_body_echoes_is_redacted(flavor: Flavor, tmp_path: Path) -> None:
    body = {"error": {"message": f"bad key {KEY}", "type": "invalid_request_error"}}
    error = _download_answer(flavor, tmp_path, httpx.Response(200, json=body))
    assert KEY not in repr(error.body) and KEY not in str(error)  # type: ignore[attr-defined]
    assert "bad key" in json.dumps(error.body)  # type: ignore[attr-defined]
