"""What the mock answers on OpenAI's `/v1/videos` surface (gpt.ge and GPTProto, each from its
contract's declaration), as GPTGE serves it (integer timestamps, `expires_at` always null) and
as GPTProto does (string timestamps, `soraVideoUrl`, the JSON job from `/content` until
ready), read by a client on an app built in each test: the video object as the clock moves,
the poll hint, a failure's code and message, listing with its cursor, delete, content before
and after the render, remix, and 404s in each provider's shape."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from providers import png

from mockserver.app import create_app
from mockserver.media import RenderCrashed
from mockserver.testing import SoraMock, test_config

AUTH = {"Authorization": "Bearer sk-test"}


@pytest.fixture
def mock() -> SoraMock:
    return SoraMock(create_app(test_config()))


def _create(
    client: httpx.Client,
    model: str = "sora-2",
    size: str = "720x1280",
    seconds: str = "4",
    image: bytes | None = None,
    headers: dict[str, str] = AUTH,
) -> httpx.Response:
    width, height = (int(x) for x in size.split("x"))
    return client.post(
        "/v1/videos",
        data={"prompt": "Put a hat on the cat", "model": model, "seconds": seconds, "size": size},
        files={"input_reference": ("cat.png", image or png(width, height), "image/png")},
        headers=headers,
    )


def _get(client: httpx.Client, video_id: str) -> dict[str, Any]:
    answer = client.get(f"/v1/videos/{video_id}", headers=AUTH)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _until(mock: SoraMock, client: httpx.Client, video_id: str, status: str) -> dict[str, Any]:
    for _ in range(400):
        video = _get(client, video_id)
        if video["status"] == status:
            return video
        mock.advance(0.5)
    raise AssertionError(f"the video never read {status!r}")


def test_a_new_video_reads_queued_with_nothing_finished(mock: SoraMock) -> None:
    with mock.client("gptge") as client:
        created = _create(client, model="sora-2-pro", size="1792x1024", seconds="8")
    assert created.status_code == 200, created.text
    video = created.json()
    assert video["id"].startswith("video_")
    assert video["object"] == "video"
    assert video["created_at"] == int(mock.now()), "integer seconds on GPTGE"
    assert (video["status"], video["progress"]) == ("queued", 0)
    assert (video["model"], video["seconds"], video["size"]) == ("sora-2-pro", "8", "1792x1024")
    assert video["completed_at"] is None and video["expires_at"] is None
    assert video["error"] is None and video["remixed_from_video_id"] is None
    assert video["prompt"] == "Put a hat on the cat"
    assert "soraVideoUrl" not in video and "quality" not in video, "GPTProto's fields only"
    (job,) = mock.service.store.jobs()[0]
    assert (job.width, job.height, job.seconds) == (1792, 1024, 8)
    assert job.params == {"size": "1792x1024", "seconds": "8"}


def test_progress_is_whole_percent_below_100_until_completed(mock: SoraMock) -> None:
    with mock.client("gptge") as client:
        video_id = _create(client).json()["id"]
        (job,) = mock.service.store.jobs()[0]
        mock.advance(job.queue_seconds + job.render_seconds * 0.557)
        running = _get(client, video_id)
        assert running["status"] == "in_progress"
        assert running["progress"] == 55, "floored, not rounded"
        mock.advance(job.render_seconds * 0.4429)
        assert _get(client, video_id)["progress"] == 99
        done = _until(mock, client, video_id, "completed")
    assert done["progress"] == 100
    assert done["completed_at"] == int(job.created_at + job.queue_seconds + job.render_seconds)
    assert done["expires_at"] is None, "GPTGE shows no expiry"


def test_the_poll_hint_is_a_tenth_of_the_render_within_bounds(mock: SoraMock) -> None:
    with mock.client("gptge") as client:
        created = _create(client)
        (job,) = mock.service.store.jobs()[0]
        hint = int(created.headers["openai-poll-after-ms"])
        assert hint == int(min(5000, max(250, job.render_seconds * 100)))
        assert 250 <= hint <= 5000
        done = client.get(f"/v1/videos/{created.json()['id']}", headers=AUTH)
        assert "openai-poll-after-ms" in done.headers
        mock.advance(job.queue_seconds + job.render_seconds + 1)
        finished = client.get(f"/v1/videos/{created.json()['id']}", headers=AUTH)
    assert finished.json()["status"] == "completed"
    assert "openai-poll-after-ms" not in finished.headers, "nothing left to poll for"


@pytest.mark.parametrize(("render", "hint"), [(1.0, 250), (12.0, 1200), (120.0, 5000)])
def test_the_poll_hint_bounds(mock: SoraMock, render: float, hint: int) -> None:
    from mockserver.dialects import registered
    from mockserver.dialects.declared_roles import surface_values

    with mock.client("gptge") as client:
        _create(client)
    (job,) = mock.service.store.jobs()[0]
    job.render_seconds = render
    dialect = registered()["gptge-videos"]  # served from its declaration
    values = surface_values(dialect.declaration, job, mock.service.state(job))  # type: ignore[attr-defined]
    assert values["poll_after_ms"] == hint


def test_gptproto_videos_have_string_times_an_expiry_and_the_video_url(mock: SoraMock) -> None:
    with mock.client("gptproto") as client:
        created = _create(client)
        video = created.json()
        assert video["created_at"] == str(int(mock.now()))
        assert video["quality"] == "standard"
        assert video["soraVideoUrl"] is None
        done = _until(mock, client, video["id"], "completed")
        assert isinstance(done["completed_at"], str)
        assert int(done["expires_at"]) == int(done["completed_at"]) + 3600
        url = done["soraVideoUrl"]
        assert url.endswith(mock.service.media_path(video["id"]))
        assert url.startswith("http://") and "/gptproto/" not in url
        assert client.get(url).content[4:8] == b"ftyp"
        pro = _create(client, model="sora-2-pro", size="1024x1792").json()
    assert "quality" not in pro, "no word is invented for a pro job"


def test_a_failed_video_carries_the_documented_code_and_message(mock: SoraMock) -> None:
    mock.set_scenario("generation_failed", provider="gptge")
    with mock.client("gptge") as client:
        video_id = _create(client).json()["id"]
        failed = _until(mock, client, video_id, "failed")
        assert failed["error"] == {
            "code": "video_generation_failed",
            "message": "Video generation failed",
        }
        assert failed["completed_at"] is None and failed["expires_at"] is None
        answer = client.get(f"/v1/videos/{video_id}", headers=AUTH)
    assert "openai-poll-after-ms" not in answer.headers


def test_a_crashed_render_fails_with_the_dialects_own_words(mock: SoraMock) -> None:
    with mock.client("gptge") as client:
        video_id = _create(client).json()["id"]
        _until(mock, client, video_id, "in_progress")
        (job,) = mock.service.store.jobs()[0]
        mock.service.render_crashed(job, RenderCrashed("the encoder aborted"))
        failed = _get(client, video_id)
    assert failed["status"] == "failed"
    assert failed["error"] == {
        "code": "video_generation_failed",
        "message": "Video generation failed",
    }


def test_an_input_reference_of_the_wrong_size_is_refused(mock: SoraMock) -> None:
    with mock.client("gptge") as client:
        answer = _create(client, image=png(640, 480))
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["param"] == "input_reference"
    assert error["message"].startswith("Inpaint image must match the requested width and height")
    assert mock.service.store.jobs()[0] == []


def test_a_retired_model_is_refused_on_create_and_remix() -> None:
    mock = SoraMock(create_app(test_config(retired_models=["sora-2-pro"])))
    with mock.client("gptge") as client:
        refused = _create(client, model="sora-2-pro", size="1024x1792")
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "model_not_found"
        assert _create(client).status_code == 200


@pytest.mark.parametrize("provider", ["gptge", "gptproto"])
def test_an_unknown_video_is_a_404_on_every_route(mock: SoraMock, provider: str) -> None:
    with mock.client(provider) as client:
        answers = [
            client.get("/v1/videos/video_nope", headers=AUTH),
            client.delete("/v1/videos/video_nope", headers=AUTH),
            client.get("/v1/videos/video_nope/content", headers=AUTH),
            client.post("/v1/videos/video_nope/remix", json={"prompt": "p"}, headers=AUTH),
        ]
    for answer in answers:
        assert answer.status_code == 404, answer.text
        error = answer.json()["error"]
        assert error["message"] == "Video with id 'video_nope' not found."
        assert error["param"] == "video_id"


def test_deleting_a_video_answers_its_id_and_forgets_it(mock: SoraMock) -> None:
    with mock.client("gptge") as client:
        video_id = _create(client).json()["id"]
        deleted = client.delete(f"/v1/videos/{video_id}", headers=AUTH)
        assert deleted.status_code == 200
        assert deleted.json() == {"id": video_id, "object": "video.deleted", "deleted": True}
        assert client.get(f"/v1/videos/{video_id}", headers=AUTH).status_code == 404
    assert mock.service.store.jobs()[0] == []


def test_content_before_the_end_is_a_404_saying_why_and_then_the_video(mock: SoraMock) -> None:
    with mock.client("gptge") as client:
        video_id = _create(client).json()["id"]
        early = client.get(f"/v1/videos/{video_id}/content", headers=AUTH)
        assert early.status_code == 404
        assert early.json()["error"]["code"] == "video_not_ready"
        assert early.json()["error"]["message"] == (
            f"Video {video_id} is not ready yet: its content cannot be downloaded."
        )
        _until(mock, client, video_id, "completed")
        video = client.get(f"/v1/videos/{video_id}/content", headers=AUTH)
        assert video.status_code == 200 and video.content[4:8] == b"ftyp"
        thumb = client.get(f"/v1/videos/{video_id}/content?variant=thumbnail", headers=AUTH)
        assert thumb.status_code == 200 and thumb.content != video.content


def test_content_of_a_failed_video_says_it_failed(mock: SoraMock) -> None:
    mock.set_scenario("generation_failed", provider="gptge")
    with mock.client("gptge") as client:
        video_id = _create(client).json()["id"]
        _until(mock, client, video_id, "failed")
        answer = client.get(f"/v1/videos/{video_id}/content", headers=AUTH)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "video_failed"
    assert answer.json()["error"]["message"] == (
        f"Video {video_id} failed: its content cannot be downloaded."
    )


def test_gptproto_content_is_the_json_job_until_the_video_is_ready(mock: SoraMock) -> None:
    with mock.client("gptproto") as client:
        video_id = _create(client).json()["id"]
        early = client.get(f"/v1/videos/{video_id}/content", headers=AUTH)
        assert early.status_code == 200
        assert early.json()["id"] == video_id and early.json()["status"] == "queued"
        _until(mock, client, video_id, "completed")
        video = client.get(f"/v1/videos/{video_id}/content", headers=AUTH)
    assert video.content[4:8] == b"ftyp"


def test_a_remix_needs_a_completed_video_and_keeps_its_shape(mock: SoraMock) -> None:
    with mock.client("gptge") as client:
        source = _create(client, model="sora-2-pro", size="1792x1024", seconds="8").json()
        early = client.post(
            f"/v1/videos/{source['id']}/remix", json={"prompt": "now in winter"}, headers=AUTH
        )
        assert early.status_code == 409
        assert early.json()["error"]["message"] == "Only a completed video can be remixed."
        assert early.json()["error"]["param"] == "video_id"
        _until(mock, client, source["id"], "completed")
        remix = client.post(
            f"/v1/videos/{source['id']}/remix", json={"prompt": "now in winter"}, headers=AUTH
        )
    assert remix.status_code == 200, remix.text
    video = remix.json()
    assert video["remixed_from_video_id"] == source["id"]
    assert video["id"] != source["id"] and video["status"] == "queued"
    assert (video["model"], video["size"], video["seconds"]) == ("sora-2-pro", "1792x1024", "8")
    assert video["prompt"] == "now in winter"
    jobs = {j.id: j for j in mock.service.store.jobs()[0]}
    made, original = jobs[video["id"]], jobs[source["id"]]
    assert made.params == original.params and made.image_key == original.image_key
    assert made.remixed_from == source["id"]


def test_a_remix_of_a_model_retired_since_is_refused(mock: SoraMock) -> None:
    with mock.client("gptge") as client:
        source = _create(client).json()
        _until(mock, client, source["id"], "completed")
    mock.service.config.retired_models = ["sora-2"]  # retired after the source was made
    with mock.client("gptge") as client:
        answer = client.post(
            f"/v1/videos/{source['id']}/remix", json={"prompt": "again"}, headers=AUTH
        )
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["param"] == "model"


def _list(client: httpx.Client, **query: Any) -> dict[str, Any]:
    answer = client.get("/v1/videos", params=query, headers=AUTH)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_listing_pages_through_the_keys_own_videos(mock: SoraMock) -> None:
    with mock.client("gptge") as client:
        ids = []
        for _ in range(3):
            ids.append(_create(client).json()["id"])
            mock.advance(1)
        _create(client, headers={"Authorization": "Bearer sk-someone-else"})
        newest = _list(client)
        assert newest["object"] == "list"
        assert [v["id"] for v in newest["data"]] == ids[::-1], "newest first, this key's only"
        assert newest["first_id"] == ids[2] and newest["last_id"] == ids[0]
        assert newest["has_more"] is False
        assert newest["data"][0]["object"] == "video"
        page = _list(client, order="asc", limit=2)
        assert [v["id"] for v in page["data"]] == ids[:2]
        assert page["has_more"] is True
        rest = _list(client, order="asc", limit=2, after=page["last_id"])
        assert [v["id"] for v in rest["data"]] == ids[2:]
        assert rest["has_more"] is False
        empty = _list(client, after=ids[0])
    assert empty == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }


def test_a_listing_leaves_out_videos_past_their_expiry(mock: SoraMock) -> None:
    with mock.client("gptproto") as client:
        video_id = _create(client).json()["id"]
        _until(mock, client, video_id, "completed")
        assert [v["id"] for v in _list(client)["data"]] == [video_id]
        mock.advance(3601)
        assert _list(client)["data"] == []
        assert client.get(f"/v1/videos/{video_id}", headers=AUTH).status_code == 404


def test_a_listing_hides_expired_videos_the_purge_has_not_reached(
    mock: SoraMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One purge takes a few jobs; those it leaves are still not listed (a read would 404)."""
    with mock.client("gptproto") as client:
        old = _create(client).json()["id"]
        _until(mock, client, old, "completed")
        mock.advance(3000)
        fresh = _create(client).json()["id"]
        mock.advance(601)
        monkeypatch.setattr(mock.service, "purge_expired", lambda limit=20: 0)
        assert [v["id"] for v in _list(client)["data"]] == [fresh]
    assert {j.id for j in mock.service.store.jobs()[0]} == {old, fresh}, "still stored"


def test_a_failure_recorded_at_the_very_end_still_reads_below_100(mock: SoraMock) -> None:
    """The mock keeps 100 % for a completed video: a replayed failure fails at progress 1.0
    (its recording ended there) and still reads 99 (conformance/replay.py sets it)."""
    mock.set_scenario("generation_failed", provider="gptge")
    with mock.client("gptge") as client:
        video_id = _create(client).json()["id"]
        (job,) = mock.service.store.jobs()[0]
        job.fail_progress = 1.0
        mock.service.store.replace_job(job)
        failed = _until(mock, client, video_id, "failed")
    assert failed["progress"] == 99
