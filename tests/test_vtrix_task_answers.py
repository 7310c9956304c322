"""What the mock answers for a Vtrix task (mockserver.providers.declared), read by a
client on an app built in each test: the status words and progress as the clock moves, the
task's metadata (size, seconds as text, the remix source), the finished video with its size
and price, a failure's documented code and message, and errors in Vtrix's own shape."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from providers import APIS

from mockserver.http.app import create_app
from mockserver.testing import SoraMock, test_config

AUTH = {"Authorization": "Bearer sk-test"}
API = APIS["vtrix-generation"]


@pytest.fixture
def mock() -> SoraMock:
    return SoraMock(create_app(test_config()))


def _task(client: httpx.Client, task_id: str) -> dict[str, Any]:
    answer = client.get(f"/model/v1/generation/task/{task_id}", headers=AUTH)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_a_task_reads_pending_then_processing_then_completed(mock: SoraMock) -> None:
    with mock.client("vtrix") as client:
        created = API.create(client, AUTH)
        assert created.status_code == 200, created.text
        task = created.json()
        assert task["status"] == "pending"
        assert task["model"] == "sora_2_pro_i2v"
        assert task["metadata"] == {"size": "1280x720", "seconds": "4"}
        assert isinstance(task["created_at"], int)
        assert task["created_at"] == int(mock.now())
        assert "output" not in task and "error" not in task and "usage" not in task
        seen = {task["status"]}
        progress = [task["progress"]]
        for _ in range(400):
            mock.advance(0.5)
            task = _task(client, created.json()["id"])
            seen.add(task["status"])
            progress.append(task["progress"])
            if task["status"] == "completed":
                break
        assert seen == {"pending", "processing", "completed"}
        assert progress == sorted(progress)
        assert all(p == round(p, 3) for p in progress), "three decimals at most"
        assert any(0 < p < 1 for p in progress), "a fraction while it renders"
        assert task["progress"] == 1.0
        (content,) = task["output"][0]["content"]
        assert content["type"] == "video"
        assert content["size"] == "1280x720"
        assert content["url"].startswith("http://")
        assert content["url"].endswith(mock.service.media_path(task["id"]))
        assert task["usage"] == {"cost": "1.2000", "discount": 0}, "0.30 USD a second"


def _failed(mock: SoraMock, scenario: str) -> dict[str, Any]:
    mock.set_scenario(scenario, provider="vtrix")
    with mock.client("vtrix") as client:
        created = API.create(client, AUTH)
        assert created.status_code == 200, created.text
        for _ in range(400):
            mock.advance(0.5)
            task = _task(client, created.json()["id"])
            if task["status"] == "failed":
                return task
    raise AssertionError("the task never failed")


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("003000097", "HTTP error response"),
        ("003000099", "Task creation error"),
    ],
)
def test_a_failure_code_asked_for_comes_with_its_message(
    mock: SoraMock, code: str, message: str
) -> None:
    task = _failed(mock, f"generation_failed:{code}")
    assert task["error"] == {"code": code, "error_message": message}


def test_a_refused_create_is_a_vtrix_error_naming_the_field(mock: SoraMock) -> None:
    with mock.client("vtrix") as client:
        answer = client.post("/model/v1/generation", json={"model": "sora_2_pro_i2v"}, headers=AUTH)
        assert answer.status_code == 400
        error = answer.json()["error"]
        assert error["code"] == "400"
        assert error["error_message"].startswith("prompt")
        mock.set_scenario("content_policy", provider="vtrix")
        refused = API.create(client, AUTH)
    assert refused.json()["error"]["code"] == "content_policy_violation"


def test_a_failed_task_carries_the_documented_code_and_message(mock: SoraMock) -> None:
    mock.set_scenario("generation_failed", provider="vtrix")
    with mock.client("vtrix") as client:
        created = API.create(client, AUTH)
        assert created.status_code == 200, created.text
        for _ in range(400):
            mock.advance(0.5)
            task = _task(client, created.json()["id"])
            if task["status"] == "failed":
                break
    assert task["error"] == {"code": "003000095", "error_message": "Internal generation error"}
    assert "output" not in task and "usage" not in task


def test_a_remix_names_its_source_in_the_metadata(mock: SoraMock) -> None:
    with mock.client("vtrix") as client:
        source = API.create(client, AUTH).json()["id"]
        for _ in range(400):
            mock.advance(0.5)
            if _task(client, source)["status"] == "completed":
                break
        body = {"model": "sora_2_pro_i2v", "prompt": "at night", "remix_video_id": source}
        remix = client.post("/model/v1/generation", json=body, headers=AUTH)
        assert remix.status_code == 200, remix.text
        assert remix.json()["metadata"]["remix_video_id"] == source


def test_an_unknown_task_is_a_vtrix_error(mock: SoraMock) -> None:
    with mock.client("vtrix") as client:
        answer = client.get("/model/v1/generation/task/task_nope", headers=AUTH)
    assert answer.status_code == 404
    error = answer.json()["error"]
    assert set(error) == {"code", "error_message"}
    assert error["code"] == "404"


def test_a_bad_value_is_refused_with_its_field_named_first(mock: SoraMock) -> None:
    body = {"model": "sora_2_pro_i2v", "prompt": "p", "size": "12x34", "seconds": "4"}
    with mock.client("vtrix") as client:
        answer = client.post("/model/v1/generation", json=body, headers=AUTH)
    assert answer.status_code == 400
    assert answer.json()["error"] == {
        "code": "400",
        "error_message": "size: '12x34' is not one of ['720x1280', '1280x720']",
    }


def test_an_image_the_mock_did_not_fetch_is_noted_in_the_metadata(mock: SoraMock) -> None:
    body = {
        "model": "sora_2_pro_i2v",
        "prompt": "p",
        "size": "1280x720",
        "seconds": "4",
        "input_reference": "https://example.com/cat.png",
    }
    with mock.client("vtrix") as client:
        created = client.post("/model/v1/generation", json=body, headers=AUTH)
        assert created.status_code == 200, created.text
        (note,) = created.json()["metadata"]["mock_notes"]
        assert "reference image URL was not fetched" in note
        assert _task(client, created.json()["id"])["metadata"]["mock_notes"] == [note]
