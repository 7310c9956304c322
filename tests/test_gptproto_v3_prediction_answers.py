"""What the mock answers for a GPTProto v3 prediction (mockserver.providers.gptproto_v3), read
by a client on an app built in each test: the status words as the clock moves, the envelope
(``message``, ``code``), the result URL, the outputs and NSFW flags once it is done, the
execution time in milliseconds, the creation time as text, a failure's message, the pixels a
size and orientation ask for, and errors in GPTProto's own shape."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from providers import data_url, png

from mockserver.http.app import create_app
from mockserver.media import RenderCrashed
from mockserver.testing import SoraMock, test_config

AUTH = {"Authorization": "Bearer sk-test"}
CREATE = "/api/v3/openai/reverse/sora-2/image-to-video"


@pytest.fixture
def mock() -> SoraMock:
    return SoraMock(create_app(test_config()))


def _create(client: httpx.Client, **fields: Any) -> httpx.Response:
    body: dict[str, Any] = {
        "prompt": "She turns around and smiles",
        "images": [data_url(png(720, 1280))],
        "size": "small",
    }
    body.update(fields)
    return client.post(CREATE, json={k: v for k, v in body.items() if v is not None}, headers=AUTH)


def _result(client: httpx.Client, prediction_id: str) -> httpx.Response:
    return client.get(f"/api/v3/predictions/{prediction_id}/result", headers=AUTH)


def _until(mock: SoraMock, client: httpx.Client, prediction_id: str, word: str) -> dict[str, Any]:
    for _ in range(400):
        answer = _result(client, prediction_id)
        assert answer.status_code == 200, answer.text
        data: dict[str, Any] = answer.json()["data"]
        if data["status"] == word:
            return data
        mock.advance(0.5)
    raise AssertionError(f"the prediction never read {word!r}")


def test_a_new_prediction_reads_created_with_an_empty_result(mock: SoraMock) -> None:
    with mock.client("gptproto") as client:
        created = _create(client)
        assert created.status_code == 200, created.text
        answer = created.json()
        assert answer["message"] == "success"
        assert answer["code"] == 200
        data = answer["data"]
        assert data["status"] == "created"
        assert data["model"] == "sora-2", "the default model"
        assert data["id"].startswith("sora-2:task_")
        assert data["outputs"] == []
        assert data["has_nsfw_contents"] == []
        assert data["error"] is None
        assert data["executionTime"] == 0
        assert data["timings"] == {"inference": 0}
        base = str(client.base_url).rstrip("/")
        assert data["urls"] == {"get": f"{base}/api/v3/predictions/{data['id']}/result"}
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(mock.now()))
        assert data["created_at"] == stamp


def test_a_prediction_goes_created_processing_completed_with_its_video(mock: SoraMock) -> None:
    with mock.client("gptproto") as client:
        prediction_id = _create(client).json()["data"]["id"]
        seen = []
        for _ in range(400):
            data = _result(client, prediction_id).json()["data"]
            seen.append(data["status"])
            if data["status"] == "processing":
                assert data["outputs"] == [] and data["has_nsfw_contents"] == []
                assert data["error"] is None
            if data["status"] == "completed":
                break
            mock.advance(0.5)
        assert seen[0] == "created" and "processing" in seen and seen[-1] == "completed"
        assert data["has_nsfw_contents"] == [False]
        assert data["error"] is None
        (url,) = data["outputs"]
        assert url.startswith(str(client.base_url).split("/gptproto")[0] + "/")
        video = client.get(url, headers=AUTH)
        assert video.status_code == 200
        assert video.content[4:8] == b"ftyp", "an MP4"


def test_execution_time_counts_milliseconds_from_the_start_and_stops_at_the_end(
    mock: SoraMock,
) -> None:
    with mock.client("gptproto") as client:
        prediction_id = _create(client).json()["data"]["id"]
        job = mock.service.find(prediction_id, "gptproto-v3")
        assert job is not None and job.render_seconds > 2
        mock.advance(job.queue_seconds - 0.5)
        queued = _result(client, prediction_id).json()["data"]
        assert (queued["status"], queued["executionTime"]) == ("created", 0)
        mock.advance(2.0)  # 1.5 s into the render
        running = _result(client, prediction_id).json()["data"]
        assert running["status"] == "processing"
        assert running["executionTime"] == 1500, "milliseconds since the render started"
        assert running["timings"] == {"inference": 1500}
        done = _until(mock, client, prediction_id, "completed")
        total = round(job.render_seconds * 1000)
        assert done["executionTime"] == total and done["timings"] == {"inference": total}
        mock.advance(30)
        again = _result(client, prediction_id).json()["data"]
        assert again["executionTime"] == total, "frozen once finished"


def test_a_failed_prediction_reads_failed_with_the_documented_message(mock: SoraMock) -> None:
    mock.set_scenario("generation_failed", provider="gptproto")
    with mock.client("gptproto") as client:
        prediction_id = _create(client).json()["data"]["id"]
        data = _until(mock, client, prediction_id, "failed")
        assert data["error"] == "Video generation failed, please try again"
        assert data["outputs"] == [] and data["has_nsfw_contents"] == []


@pytest.mark.parametrize(
    ("model", "size", "orientation", "pixels"),
    [
        ("sora-2", "small", None, (720, 1280)),
        ("sora-2", "small", "landscape", (1280, 720)),
        ("sora-2-pro", "large", "portrait", (1024, 1792)),
        ("sora-2-pro", "large", "landscape", (1792, 1024)),
    ],
)
def test_size_and_orientation_pick_the_pixels_the_image_must_have(
    mock: SoraMock, model: str, size: str, orientation: str | None, pixels: tuple[int, int]
) -> None:
    width, height = pixels
    with mock.client("gptproto") as client:
        fits = _create(
            client,
            model=model,
            size=size,
            orientation=orientation,
            images=[data_url(png(width, height))],
        )
        assert fits.status_code == 200, fits.text
        assert fits.json()["data"]["model"] == model
        assert fits.json()["data"]["id"].startswith(f"{model}:task_")
        wrong = _create(
            client,
            model=model,
            size=size,
            orientation=orientation,
            images=[data_url(png(height, width))],
        )
        assert wrong.status_code == 400
        error = wrong.json()["error"]
        assert error["type"] == "400" and error["param"] == "images"
        assert error["message"] == (
            "The image must match the target video's resolution (size) "
            f"({height}x{width} given, {width}x{height} expected)."
        )
    (job,) = mock.service.store.jobs()[0]
    assert (job.width, job.height) == pixels


def test_the_job_keeps_duration_and_the_parameters_but_not_the_image(mock: SoraMock) -> None:
    with mock.client("gptproto") as client:
        assert _create(client, duration=15, orientation="portrait").status_code == 200
        assert _create(client, prompt="second").status_code == 200
    jobs = {job.prompt: job for job in mock.service.store.jobs()[0]}
    first, second = jobs["She turns around and smiles"], jobs["second"]
    assert first.seconds == 15
    assert second.seconds == 10, "the default duration"
    assert first.params["duration"] == 15 and first.params["orientation"] == "portrait"
    assert first.params["size"] == "small" and first.params["model"] == "sora-2"
    assert not {"images", "prompt"} & (set(first.params) | set(second.params))
    assert first.image_key is not None, "the image is kept as a blob, not a parameter"


def test_a_remote_image_is_taken_as_a_placeholder_and_says_so(mock: SoraMock) -> None:
    with mock.client("gptproto") as client:
        created = _create(client, images=["https://oss.gptproto.com/a.png"])
        assert created.status_code == 200, created.text
        note = created.headers.get("X-Mock-Notes")
        assert note, "the placeholder is named in a note"
        polled = _result(client, created.json()["data"]["id"])
        assert polled.headers.get("X-Mock-Notes") == note
        plain = _create(client)
        assert "X-Mock-Notes" not in plain.headers


def test_a_prediction_whose_render_crashed_reads_failed_in_gptprotos_words(
    mock: SoraMock,
) -> None:
    """A crashed render fails the job without a message of its own (MockService.render_crashed):
    the answer still carries GPTProto's generic failure text, never null."""
    with mock.client("gptproto") as client:
        prediction_id = _create(client).json()["data"]["id"]
        _until(mock, client, prediction_id, "processing")
        job = mock.service.find(prediction_id, "gptproto-v3")
        assert job is not None
        mock.service.render_crashed(job, RenderCrashed("the encoder aborted"))
        data = _result(client, prediction_id).json()["data"]
    assert data["status"] == "failed"
    assert data["error"] == "Video generation failed, please try again"


def test_an_unknown_prediction_is_a_404_in_gptprotos_shape(mock: SoraMock) -> None:
    with mock.client("gptproto") as client:
        answer = _result(client, "sora-2:task_nope")
    assert answer.status_code == 404
    assert answer.json() == {
        "error": {
            "message": "prediction 'sora-2:task_nope' not found",
            "type": "404",
            "param": "id",
        }
    }


def test_a_retired_model_is_refused_and_nothing_is_stored(mock: SoraMock) -> None:
    mock.set_scenario("model_unavailable", provider="gptproto")
    with mock.client("gptproto") as client:
        answer = _create(client)
    assert answer.status_code >= 400 and answer.status_code < 500
    assert answer.json()["error"]["param"] == "model"
    assert "sora-2" in answer.json()["error"]["message"]
    assert mock.service.store.jobs()[0] == []
