"""What the mock refuses on a Vtrix create, word for word, now that Vtrix is a declaration
(contracts/vtrix-generation.yaml, served by mockserver.providers.declared): a remix naming an
unknown or unfinished video, a scenario's failure code the document does not list, a
reference image whose size is not the video's, an unknown task; and that nothing is stored
for a refused create. A remix renders from its source's image."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from providers import APIS, png

from mockserver.http.app import create_app
from mockserver.testing import SoraMock, test_config

AUTH = {"Authorization": "Bearer sk-test"}
API = APIS["vtrix-generation"]
CREATE = "/model/v1/generation"


@pytest.fixture
def mock() -> SoraMock:
    return SoraMock(create_app(test_config()))


def _data_url(width: int, height: int) -> str:
    return "data:image/png;base64," + base64.b64encode(png(width, height)).decode()


def _body(**fields: Any) -> dict[str, Any]:
    return {"model": "sora_2_pro_i2v", "prompt": "a lighthouse", **fields}


def _completed(mock: SoraMock, client: httpx.Client, task_id: str) -> None:
    for _ in range(400):
        mock.advance(0.5)
        task = client.get(f"{CREATE}/task/{task_id}", headers=AUTH).json()
        if task["status"] == "completed":
            return
    raise AssertionError("the task never completed")


def test_a_remix_of_an_unknown_or_unfinished_video_is_refused_in_vtrix_words(
    mock: SoraMock,
) -> None:
    with mock.client("vtrix") as client:
        unknown = client.post(CREATE, json=_body(remix_video_id="video_nope"), headers=AUTH)
        assert (unknown.status_code, unknown.json()) == (
            404,
            {"error": {"code": "404", "error_message": "remix_video_id: no video with this id"}},
        )
        source = API.create(client, AUTH).json()["id"]
        early = client.post(CREATE, json=_body(remix_video_id=source), headers=AUTH)
    assert (early.status_code, early.json()) == (
        409,
        {
            "error": {
                "code": "409",
                "error_message": "remix_video_id: must be the id of a completed video",
            }
        },
    )
    assert [job.id for job in mock.jobs()] == [source], "nothing stored for a refused create"


def test_a_remix_renders_from_its_sources_image(mock: SoraMock) -> None:
    with mock.client("vtrix") as client:
        body = _body(size="720x1280", input_reference=_data_url(720, 1280))
        source = client.post(CREATE, json=body, headers=AUTH).json()["id"]
        _completed(mock, client, source)
        remix = client.post(CREATE, json=_body(remix_video_id=source), headers=AUTH)
        assert remix.status_code == 200, remix.text
    by_id = {job.id: job for job in mock.jobs()}
    made = by_id[remix.json()["id"]]
    assert made.remixed_from == source
    assert made.image_key is not None and made.image_key == by_id[source].image_key


def test_a_failure_code_the_document_does_not_list_is_refused_naming_the_known_ones(
    mock: SoraMock,
) -> None:
    mock.set_scenario("generation_failed:003000100", provider="vtrix")
    with mock.client("vtrix") as client:
        refused = API.create(client, AUTH)
    assert (refused.status_code, refused.json()) == (
        400,
        {
            "error": {
                "code": "400",
                "error_message": "X-Mock-Scenario: unknown Vtrix failure code '003000100'; "
                "known: 003000095, 003000096, 003000097, 003000098, 003000099",
            }
        },
    )
    assert mock.jobs() == []


def test_a_reference_image_must_be_the_videos_size(mock: SoraMock) -> None:
    wrong = _body(size="1280x720", input_reference=_data_url(640, 360))
    right = _body(size="1280x720", input_reference=_data_url(1280, 720))
    with mock.client("vtrix") as client:
        refused = client.post(CREATE, json=wrong, headers=AUTH)
        accepted = client.post(CREATE, json=right, headers=AUTH)
    assert (refused.status_code, refused.json()) == (
        400,
        {
            "error": {
                "code": "400",
                "error_message": "input_reference size must match size exactly "
                "(640x360 given, 1280x720 expected).",
            }
        },
    )
    assert accepted.status_code == 200, accepted.text
    assert "mock_notes" not in accepted.json()["metadata"], "nothing to say: no notes"


def test_an_unknown_task_names_it(mock: SoraMock) -> None:
    with mock.client("vtrix") as client:
        answer = client.get(f"{CREATE}/task/task_nope", headers=AUTH)
    assert (answer.status_code, answer.json()) == (
        404,
        {"error": {"code": "404", "error_message": "task 'task_nope' not found"}},
    )
