"""Replay (``sora-mock serve --replay DIR``), answer by answer, on the bundled example cassette
(one gptge job: queued at 0 s, in progress at 2, 4 and 6 s, completed at 8 s, its video
downloaded at 8 s), each test on a mock app of its own built in process (about 30 ms): which
recording a create is given, the recorded answers chosen by the mock's clock and ``--speed``,
ids and provider URLs rewritten, the job listed with the recording's timings, the media
served, and each refusal in the provider's error shape naming what to do."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from providers import png

from mockserver.conformance import replay as rp
from mockserver.conformance import replay_cassettes as rc
from mockserver.conformance.cassettes import Cassette
from mockserver.http.app import create_app
from mockserver.testing import SoraMock, test_config

EXAMPLE = Path(__file__).parent / "examples" / "cassettes"
RECORDED_ID = "video_dd6c71e9d1251c0d6709a74767a4a243"
UPSTREAM = "http://127.0.0.1:34221/gptge"
NAME = f"gptge-0000-{RECORDED_ID}.json"


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    target = tmp_path / "cassettes"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("test_*"))
    return target


def edit(directory: Path, change: Callable[[dict[str, Any]], Any]) -> None:
    path = directory / NAME
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def add_copy(directory: Path, name: str, change: Callable[[dict[str, Any]], Any]) -> None:
    data = json.loads((directory / NAME).read_text())
    change(data)
    (directory / name).write_text(json.dumps(data))


def mock(directory: Path, **overrides: Any) -> SoraMock:
    return SoraMock(create_app(test_config(replay_dir=directory, **overrides)))


def create(
    client: httpx.Client,
    *,
    prompt: str = "Put a hat on the cat",
    seconds: str = "4",
    image: bytes | None = None,
    filename: str = "cat.png",
    **fields: str,
) -> httpx.Response:
    return client.post(
        "/v1/videos",
        data={"prompt": prompt, "model": "sora-2", "seconds": seconds, "size": "720x1280"} | fields,
        files={"input_reference": (filename, image or png(720, 1280), "image/png")},
    )


def own(server: SoraMock) -> httpx.Client:
    """A client of the mock's own routes (``/__mock/...``)."""
    return httpx.Client(transport=server.transport(), base_url=server.base_url("gptge")[:-6])


# ------------------------------------------------------------------ statuses in time


def test_a_recorded_job_is_replayed_status_by_status_on_the_mock_clock(directory: Path) -> None:
    server = mock(directory, replay_fallback="404")
    with server.client("gptge") as client:
        made = create(client)
        job_id = made.json()["id"]
        seen = []
        for step in (0, 1.9, 0.1, 1.9, 0.1, 3.9, 0.1, 50):
            server.advance(step)
            read = client.get(f"/v1/videos/{job_id}")
            seen.append((read.json()["status"], read.json()["progress"]))
    assert made.status_code == 200 and made.json()["status"] == "queued"
    assert seen == [
        ("queued", 0),
        ("queued", 0),
        ("in_progress", 5),
        ("in_progress", 5),
        ("in_progress", 42),
        ("in_progress", 80),
        ("completed", 100),
        ("completed", 100),
    ]
    assert read.headers["X-Mock-Replay-Cassette"] == NAME
    assert made.headers["X-Mock-Replay-Cassette"] == NAME
    server.check()


def test_a_replayed_job_has_a_new_id_everywhere(directory: Path) -> None:
    server = mock(directory)
    with server.client("gptge") as client:
        made = create(client)
        server.advance(8)
        done = client.get(f"/v1/videos/{made.json()['id']}")
    job_id = made.json()["id"]
    assert re.fullmatch(r"video_[0-9a-f]{32}", job_id) and job_id != RECORDED_ID
    for answer in (made, done):
        assert RECORDED_ID not in answer.text and job_id in answer.text
    # the mock's own headers, not the recorded ones; the provider's hints as recorded
    assert made.headers["openai-poll-after-ms"] == "533"
    assert made.headers.get("x-request-id") != "req_b5affea5e5d65799e65012ba"
    assert made.headers["content-length"] == str(len(made.content))


def test_replay_follows_the_speed(directory: Path) -> None:
    server = mock(directory, speed=4.0)
    with server.client("gptge") as client:
        job_id = create(client).json()["id"]
        server.advance(0.49)
        before = client.get(f"/v1/videos/{job_id}").json()["status"]
        server.advance(0.01)
        after = client.get(f"/v1/videos/{job_id}").json()["progress"]
        server.advance(1.5)
        done = client.get(f"/v1/videos/{job_id}").json()["status"]
    assert (before, after, done) == ("queued", 5, "completed")
    [job] = server.jobs()
    assert (job.queue_seconds, job.render_seconds, job.outcome) == (0.5, 1.5, "completed")


# ------------------------------------------------------------------ which recording


def test_an_exact_create_is_given_its_recording_without_a_mismatch(directory: Path) -> None:
    server = mock(directory)
    with server.client("gptge") as client:
        same = create(client, filename="renamed.png")  # the same bytes under another name
    assert same.headers["X-Mock-Replay-Cassette"] == NAME
    assert "X-Mock-Replay-Mismatch" not in same.headers
    [job] = server.jobs()
    assert (job.replay, job.prompt, job.model, job.width, job.height, job.seconds) == (
        NAME,
        "Put a hat on the cat",
        "sora-2",
        720,
        1280,
        4,
    )
    assert job.outcome == "completed" and job.fail_progress == 1.0
    assert (job.queue_seconds, job.render_seconds) == (2.0, 6.0)
    assert job.expires_at is not None and job.expires_at > job.created_at


def test_a_different_create_is_given_the_next_unused_recording_and_told(
    directory: Path,
) -> None:
    add_copy(directory, "b.json", lambda d: d.update(sequence=1))
    server = mock(directory)
    with server.client("gptge") as client:
        first = create(client, prompt="A dog", seconds="8", image=png(720, 1280, (1, 2, 3)))
        second = create(client, prompt="A bird")
        third = create(client, prompt="A fish")
    assert first.headers["X-Mock-Replay-Cassette"] == NAME
    assert first.headers["X-Mock-Replay-Mismatch"] == "prompt,seconds,image"
    assert second.headers["X-Mock-Replay-Cassette"] == "b.json"
    assert second.headers["X-Mock-Replay-Mismatch"] == "prompt"
    # every recording used: the simulated mock's job
    assert third.status_code == 200 and "X-Mock-Replay-Cassette" not in third.headers
    assert sorted(str(j.replay) for j in server.jobs()) == sorted([NAME, "b.json", "None"])


def test_a_create_with_the_recorded_prompt_is_given_that_recording(directory: Path) -> None:
    def other(data: dict[str, Any]) -> None:
        data["sequence"] = 0
        data["create"]["request"]["prompt"] = "A dog"
        data["create"]["request"]["body"]["prompt"] = "A dog"
        data["create"]["request"]["body_sha256"] = "0" * 64

    add_copy(directory, "a-dog.json", other)  # listed first (same sequence, name order)
    server = mock(directory)
    with server.client("gptge") as client:
        cat = create(client, seconds="8")
        again = create(client, seconds="8")  # the same prompt, the recording used already
    assert cat.headers["X-Mock-Replay-Cassette"] == NAME
    assert cat.headers["X-Mock-Replay-Mismatch"] == "seconds"
    assert again.headers["X-Mock-Replay-Cassette"] == NAME


def test_with_fallback_404_an_unmatched_create_is_refused_in_the_provider_shape(
    directory: Path,
) -> None:
    server = mock(directory, replay_fallback="404")
    with server.client("gptge") as client:
        assert create(client).status_code == 200
        refused = create(client, prompt="Another")
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "not_recorded"
    assert refused.json()["error"]["message"] == (
        "No recorded job matches this createVideo (replaying cassettes; start without "
        "--replay-fallback 404 to let the mock simulate it)"
    )


def test_strict_matching_refuses_naming_the_nearest_recording(directory: Path) -> None:
    def dog(data: dict[str, Any]) -> None:
        data["sequence"] = 1
        for place in (data["create"]["request"], data["create"]["request"]["body"]):
            place["prompt"] = "A dog"
        data["create"]["request"]["body"]["seconds"] = "8"
        data["create"]["request"]["body_sha256"] = "0" * 64

    add_copy(directory, "z-dog.json", dog)
    server = mock(directory, replay_match="strict")
    with server.client("gptge") as client:
        near_dog = create(client, prompt="A dog", seconds="12")
        near_cat = create(client, seconds="12")
        far = create(client, prompt="A bird", seconds="12", image=png(720, 1280, (9, 9, 9)))
        dog_ok = create(client, prompt="A dog", seconds="8")
        cat_ok = create(client, filename="other.png")  # fields alike, another file name
        cat_again = create(client, filename="third.png")  # used already: still given
    assert near_dog.status_code == 400
    assert near_dog.json()["error"]["code"] == "replay_mismatch"
    assert near_dog.json()["error"]["message"] == (
        "No recording matches this createVideo exactly (--replay-match strict): the nearest, "
        "z-dog.json, differs in seconds"
    )
    assert near_dog.headers["X-Mock-Replay-Mismatch"] == "seconds"
    assert "the nearest, " + NAME + ", differs in seconds" in near_cat.json()["error"]["message"]
    # fewest differing fields first, then unused, then recorded order
    assert far.json()["error"]["message"].endswith(f"{NAME}, differs in prompt, seconds, image")
    assert far.headers["X-Mock-Replay-Mismatch"] == "prompt,seconds,image"
    assert dog_ok.headers["X-Mock-Replay-Cassette"] == "z-dog.json"
    assert cat_ok.headers["X-Mock-Replay-Cassette"] == NAME
    assert cat_again.headers["X-Mock-Replay-Cassette"] == NAME
    assert "X-Mock-Replay-Mismatch" not in cat_ok.headers
    assert [j.replay for j in server.jobs()] == ["z-dog.json", NAME, NAME]


def test_strict_matching_prefers_an_unused_recording_among_equals(directory: Path) -> None:
    add_copy(directory, "b.json", lambda d: d.update(sequence=1))
    server = mock(directory, replay_match="strict")
    with server.client("gptge") as client:
        first = create(client, filename="x.png")
        second = create(client, filename="y.png")
        third = create(client, filename="z.png")
    names = [r.headers["X-Mock-Replay-Cassette"] for r in (first, second, third)]
    assert names == [NAME, "b.json", NAME]


def test_a_create_the_contract_refuses_is_the_mock_s_400_and_uses_no_recording(
    directory: Path,
) -> None:
    server = mock(directory, replay_fallback="404")
    with server.client("gptge") as client:
        bad = create(client, seconds="5")
        good = create(client)
    assert bad.status_code == 400 and "X-Mock-Replay-Cassette" not in bad.headers
    assert good.headers["X-Mock-Replay-Cassette"] == NAME
    assert "X-Mock-Replay-Mismatch" not in good.headers


def test_a_create_without_a_key_is_the_mock_s_401(directory: Path) -> None:
    server = mock(directory)
    with httpx.Client(transport=server.transport(), base_url=server.base_url("gptge")) as c:
        refused = create(c)
    assert refused.status_code == 401 and "X-Mock-Replay-Cassette" not in refused.headers
    assert server.jobs() == []


def test_the_console_line_says_which_recording_answered(directory: Path) -> None:
    import io

    from mockserver.http.console import RequestLog

    server = mock(directory)
    out = io.StringIO()
    server.app.extensions["sora_mock_console"] = RequestLog("text", out)
    with server.client("gptge") as client:
        create(client, prompt="A dog", seconds="8")
    assert server.app.extensions["sora_mock_console"].flush()
    [line] = [x for x in out.getvalue().splitlines() if "POST" in x]
    assert f"[replay {NAME} differs: prompt,seconds]" in line
    exact = mock(directory)
    out = io.StringIO()
    exact.app.extensions["sora_mock_console"] = RequestLog("text", out)
    with exact.client("gptge") as client:
        create(client)
    assert exact.app.extensions["sora_mock_console"].flush()
    assert f"[replay {NAME}]" in out.getvalue()


# ------------------------------------------------------------------ downloads and media


def test_the_recorded_video_is_served_with_ranges(directory: Path) -> None:
    server = mock(directory)
    media = next((directory / "media").iterdir()).read_bytes()
    with server.client("gptge") as client:
        job_id = create(client).json()["id"]
        server.advance(8)
        whole = client.get(f"/v1/videos/{job_id}/content")
        part = client.get(f"/v1/videos/{job_id}/content", headers={"Range": "bytes=0-9"})
        thumbnail = client.get(f"/v1/videos/{job_id}/content?variant=thumbnail")
    assert whole.status_code == 200 and whole.content == media
    assert whole.headers["content-type"] == "video/mp4"
    assert whole.headers["X-Mock-Replay-Cassette"] == NAME
    assert "max-age=3600" in whole.headers["cache-control"]
    assert whole.headers["etag"].strip('"') == next((directory / "media").iterdir()).stem[:32]
    assert part.status_code == 206 and part.content == media[:10]
    assert thumbnail.status_code == 404
    assert thumbnail.json()["error"]["code"] == "not_recorded"
    assert thumbnail.json()["error"]["message"] == (
        f"getVideoContent of '{job_id}' was not recorded (replaying {NAME})"
    )


def test_a_download_recorded_as_an_error_is_served_as_recorded(directory: Path) -> None:
    def early(data: dict[str, Any]) -> None:
        data["downloads"].insert(
            0,
            {
                "offset": 1.0,
                "operation": "getVideoContent",
                "method": "GET",
                "path": f"/v1/videos/{RECORDED_ID}/content",
                "query": [],
                "response": {
                    "status": 404,
                    "headers": {"content-type": "application/json", "x-request-id": "r"},
                    "body": {"error": {"message": f"{RECORDED_ID} not ready", "code": None}},
                },
                "verdict": {"ok": True, "problems": []},
            },
        )

    edit(directory, early)
    server = mock(directory)
    with server.client("gptge") as client:
        job_id = create(client).json()["id"]
        server.advance(1)
        not_yet = client.get(f"/v1/videos/{job_id}/content")
        server.advance(7)
        done = client.get(f"/v1/videos/{job_id}/content")
    assert not_yet.status_code == 404
    assert not_yet.json() == {"error": {"message": f"{job_id} not ready", "code": None}}
    assert not_yet.headers["X-Mock-Replay-Cassette"] == NAME
    assert done.status_code == 200 and done.content[4:8] == b"ftyp"


def test_the_replay_media_route_serves_recorded_files_by_hash(directory: Path) -> None:
    server = mock(directory)
    [file] = (directory / "media").iterdir()
    (directory / "media" / ("ab" * 32 + ".webp")).write_bytes(b"RIFFwebp")
    (directory / "media" / ("cd" * 32 + ".xyz")).write_bytes(b"other")
    with own(server) as client:
        found = client.get(rp.MEDIA_ROUTE + file.name)
        webp = client.get(rp.MEDIA_ROUTE + "ab" * 32 + ".webp")
        other = client.get(rp.MEDIA_ROUTE + "cd" * 32 + ".xyz")
        missing = client.get(rp.MEDIA_ROUTE + "0" * 64 + ".mp4")
        bad = client.get(rp.MEDIA_ROUTE + "../" + file.name)
        short = client.get(rp.MEDIA_ROUTE + file.name[1:])
    assert found.status_code == 200 and found.content == file.read_bytes()
    assert found.headers["content-type"] == "video/mp4"
    assert found.headers["etag"].strip('"') == file.name[:32]
    assert found.headers["cache-control"] == "public, max-age=3600"
    with own(server) as client:
        part = client.get(rp.MEDIA_ROUTE + file.name, headers={"Range": "bytes=4-7"})
    assert part.status_code == 206 and part.content == file.read_bytes()[4:8]
    assert webp.headers["content-type"] == "image/webp" and webp.content == b"RIFFwebp"
    assert other.headers["content-type"] == "application/octet-stream"
    assert (missing.status_code, bad.status_code, short.status_code) == (404, 404, 404)


def test_the_dashboard_plays_the_recorded_video_once_the_job_completed(directory: Path) -> None:
    server = mock(directory)
    media = next((directory / "media").iterdir()).read_bytes()
    with server.client("gptge") as client, own(server) as admin:
        job_id = create(client).json()["id"]
        early = admin.get(f"/__mock/media/{job_id}/video.mp4")
        server.advance(8)
        video = admin.get(f"/__mock/media/{job_id}/video.mp4")
        head = admin.head(f"/__mock/media/{job_id}/video.mp4")
        thumbnail = admin.get(f"/__mock/media/{job_id}/thumbnail.webp")
        simulated = create(client, prompt="Another").json()["id"]
        other = admin.get(f"/__mock/media/{simulated}/video.mp4")
    assert early.status_code == 404
    assert early.json()["error"]["message"] == f"job {job_id!r} has no video yet"
    assert video.status_code == 200 and video.content == media
    assert video.headers["content-type"] == "video/mp4"
    assert head.status_code == 200
    assert thumbnail.status_code == 404
    assert thumbnail.json()["error"]["message"] == (
        f"no 'thumbnail.webp' was recorded for {job_id!r} (replaying {NAME})"
    )
    assert other.status_code != 200 or other.content != media  # the mock's own route


def test_a_job_whose_cassette_went_away_is_not_found(directory: Path) -> None:
    server = mock(directory)
    with server.client("gptge") as client, own(server) as admin:
        job_id = create(client).json()["id"]
        replay = server.app.extensions["sora_mock_replay"]
        replay.by_name.clear()  # the directory changed under the running job
        read = client.get(f"/v1/videos/{job_id}")
        media = admin.get(f"/__mock/media/{job_id}/video.mp4")
    assert read.status_code == 404
    assert read.json()["error"]["message"] == f"Video with id '{job_id}' not found."
    assert media.status_code == 404
    assert media.json()["error"]["message"] == f"no media 'video.mp4' for {job_id!r}"


# ------------------------------------------------------------------ listing


def test_the_provider_list_shows_a_replayed_job_as_its_status_read(directory: Path) -> None:
    server = mock(directory)
    with server.client("gptge") as client:
        job_id = create(client).json()["id"]
        simulated = create(client, prompt="Another").json()["id"]
        server.advance(4)
        listed = client.get("/v1/videos")
        status = client.get(f"/v1/videos/{job_id}")
        with server.client("gptge", api_key="sk-someone-else") as other:
            theirs = other.get("/v1/videos").json()["data"]
    items = {item["id"]: item for item in listed.json()["data"]}
    assert set(items) == {job_id, simulated}
    assert items[job_id] == status.json() and items[job_id]["progress"] == 42
    assert RECORDED_ID not in listed.text
    assert items[simulated]["prompt"] == "Another"
    assert theirs == []


def test_a_listed_job_whose_recording_failed_at_that_time_stays_the_mock_s_item(
    directory: Path,
) -> None:
    def refused(data: dict[str, Any]) -> None:
        data["polls"][0]["response"] = {
            "status": 500,
            "headers": {"content-type": "application/json"},
            "body": {"error": {"message": "boom", "code": None}},
        }

    edit(directory, refused)
    server = mock(directory)
    with server.client("gptge") as client:
        job_id = create(client).json()["id"]
        server.advance(2)
        item = client.get("/v1/videos").json()["data"][0]
    assert item["id"] == job_id and "error" in item and item["object"] == "video"


def test_the_admin_list_marks_a_replayed_job_with_its_cassette(directory: Path) -> None:
    server = mock(directory)
    with server.client("gptge") as client, own(server) as admin:
        job_id = create(client).json()["id"]
        jobs = {j["id"]: j for j in admin.get("/__mock/jobs").json()["data"]}
        server.advance(8)
        later = {j["id"]: j for j in admin.get("/__mock/jobs").json()["data"]}
    assert jobs[job_id]["replay"] == {"cassette": NAME}
    assert jobs[job_id]["status"] == "queued"
    assert later[job_id]["status"] == "completed"


# ------------------------------------------------------------------ timings from the recording


def _words(directory: Path, words: list[str], offsets: list[float] | None = None) -> None:
    offsets = offsets or [2.0 * (n + 1) for n in range(len(words))]

    def change(data: dict[str, Any]) -> None:
        template = data["polls"][0]
        polls = []
        for word, offset in zip(words, offsets, strict=True):
            poll = json.loads(json.dumps(template))
            poll["offset"] = offset
            poll["response"]["body"]["status"] = word
            polls.append(poll)
        data["polls"] = polls

    edit(directory, change)


def job_of(directory: Path, **overrides: Any) -> Any:
    server = mock(directory, **overrides)
    with server.client("gptge") as client:
        create(client)
    [job] = server.jobs()
    return job


def test_a_recorded_failure_is_listed_as_failed_when_it_failed(directory: Path) -> None:
    _words(directory, ["in_progress", "FAILED", "completed"], [3.0, 5.0, 9.0])
    job = job_of(directory)
    assert (job.queue_seconds, job.render_seconds, job.outcome) == (3.0, 2.0, "failed")


@pytest.mark.parametrize("word", ["failed", "error", "cancelled", "canceled", "expired"])
def test_each_failure_word_fails_the_listed_job(directory: Path, word: str) -> None:
    _words(directory, [word])
    assert job_of(directory).outcome == "failed"


def test_a_job_that_ended_while_waiting_ends_when_it_ended(directory: Path) -> None:
    _words(directory, ["queued", "completed"], [1.0, 5.0])
    job = job_of(directory, speed=2.0)
    assert (job.queue_seconds, job.render_seconds, job.outcome) == (2.5, 0.0, "completed")


def test_a_recording_that_never_ended_never_ends_in_the_listing(directory: Path) -> None:
    _words(directory, ["queued", "in_progress", "in_progress"], [1.0, 4.0, 6.0])
    job = job_of(directory, speed=2.0)
    assert (job.queue_seconds, job.render_seconds, job.outcome) == (2.0, rp._NEVER, "completed")


def test_a_recording_that_never_started_never_starts_in_the_listing(directory: Path) -> None:
    _words(directory, ["queued", "pending"], [1.0, 4.0])
    job = job_of(directory)
    assert (job.queue_seconds, job.render_seconds, job.outcome) == (rp._NEVER, 1.0, "completed")


def test_statuses_are_read_in_time_order_whatever_the_file_order(directory: Path) -> None:
    _words(directory, ["completed", "in_progress"], [7.0, 3.0])
    job = job_of(directory)
    assert (job.queue_seconds, job.render_seconds) == (3.0, 4.0)


def test_an_answer_without_a_status_word_is_passed_over(directory: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["polls"][0]["response"]["body"].pop("status")

    edit(directory, change)
    job = job_of(directory)
    assert (job.queue_seconds, job.render_seconds) == (4.0, 4.0)


# ------------------------------------------------------------------ rewriting


def test_provider_urls_and_recorded_media_urls_point_at_the_mock(directory: Path) -> None:
    media_file = next((directory / "media").iterdir())
    ref = {
        "sha256": media_file.stem,
        "size": media_file.stat().st_size,
        "content_type": "video/mp4",
        "file": f"media/{media_file.name}",
    }

    def change(data: dict[str, Any]) -> None:
        body = data["polls"][-1]["response"]["body"]
        body["remixed_from_video_id"] = f"{UPSTREAM}/v1/videos/{RECORDED_ID}"
        body["prompt"] = "see https://cdn.example/v.mp4 and https://cdn.example/t.webp"
        body["related"] = [f"{UPSTREAM}/v1/videos/{RECORDED_ID}", {"id": RECORDED_ID}, 3]
        data["polls"][-1]["response"]["headers"]["location"] = f"{UPSTREAM}/v1/videos"
        data["media_urls"] = [
            {"url": "https://cdn.example/v.mp4", "media": ref},
            {"url": "https://cdn.example/t.webp"},  # recorded without its bytes
        ]

    edit(directory, change)
    server = mock(directory)
    with server.client("gptge") as client:
        job_id = create(client).json()["id"]
        server.advance(8)
        done = client.get(f"/v1/videos/{job_id}")
    body = done.json()
    host = server.base_url("gptge")[:-6]
    assert body["remixed_from_video_id"] == f"{host}/gptge/v1/videos/{job_id}"
    assert body["prompt"] == (
        f"see {host}{rp.MEDIA_ROUTE}{media_file.name} and https://cdn.example/t.webp"
    )
    assert done.headers["location"] == f"{host}/gptge/v1/videos"
    assert body["related"] == [f"{host}/gptge/v1/videos/{job_id}", {"id": job_id}, 3]


def test_a_url_that_only_starts_like_the_upstream_is_left_alone(directory: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        body = data["polls"][-1]["response"]["body"]
        body["prompt"] = f"{UPSTREAM}x/other"
        body["remixed_from_video_id"] = f"see {UPSTREAM}/v1"

    edit(directory, change)
    server = mock(directory)
    with server.client("gptge") as client:
        job_id = create(client).json()["id"]
        server.advance(8)
        body = client.get(f"/v1/videos/{job_id}").json()
    assert body["prompt"] == f"{UPSTREAM}x/other"
    assert body["remixed_from_video_id"] == f"see {UPSTREAM}/v1"


def test_a_text_answer_is_served_as_recorded_with_ids_rewritten(directory: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        answer = data["polls"][0]["response"]
        answer.pop("body")
        answer["text"] = f"busy: {RECORDED_ID}"
        answer["status"] = 503
        answer["headers"] = {"content-type": "text/plain", "retry-after": "1"}

    edit(directory, change)
    server = mock(directory)
    with server.client("gptge") as client:
        job_id = create(client).json()["id"]
        server.advance(2)
        busy = client.get(f"/v1/videos/{job_id}")
    assert busy.status_code == 503 and busy.text == f"busy: {job_id}"
    assert busy.headers["retry-after"] == "1"


# ------------------------------------------------------------------ set-up


def test_the_summary_says_what_is_replayed(directory: Path) -> None:
    server = mock(directory)
    replay = server.app.extensions["sora_mock_replay"]
    assert replay.summary() == (
        f"replaying 1 cassette (1 job) from {directory} (unmatched creates: mock; match: lenient)"
    )
    add_copy(directory, "b.json", lambda d: d.update(sequence=1))
    add_copy(directory, "c.json", lambda d: d.update(sequence=2, job_id=None))
    more = mock(directory, replay_fallback="404", replay_match="strict")
    assert more.app.extensions["sora_mock_replay"].summary() == (
        f"replaying 3 cassettes (2 jobs) from {directory} (unmatched creates: 404; match: strict)"
    )


def test_an_unknown_fallback_or_match_is_refused(directory: Path) -> None:
    server = mock(directory)
    replay = server.app.extensions["sora_mock_replay"]
    with pytest.raises(ValueError, match="^replay fallback must be one of mock, 404$"):
        rp.Replay(directory, server.service, replay.dialects, "maybe")
    with pytest.raises(ValueError, match="^replay match must be one of lenient, strict$"):
        rp.Replay(directory, server.service, replay.dialects, "mock", "fuzzy")


def test_only_the_dialects_with_cassettes_are_replayed(directory: Path) -> None:
    server = mock(directory)
    replay = server.app.extensions["sora_mock_replay"]
    assert [d.name for d in replay.dialects] == ["gptge-videos"]
    assert replay.lists == {"gptge-videos": frozenset({"listVideos"})}
    assert replay.directory == directory.resolve()
    with server.client("vtrix") as client:  # another provider: the mock's own
        assert client.get("/model/v1/generation/task/nope").status_code == 404


def test_a_cassette_that_breaks_today_s_contract_is_logged(
    directory: Path, caplog: pytest.LogCaptureFixture
) -> None:
    edit(directory, lambda d: d["polls"][0]["response"]["body"].update(status="done"))
    with caplog.at_level("WARNING", logger="mockserver.replay"):
        mock(directory)
    [record] = [r for r in caplog.records if r.name == "mockserver.replay"]
    assert record.getMessage().startswith(
        f"cassette {NAME}: the recorded answer breaks today's contract: poll "
    )
    assert "'done' is not one of" in record.getMessage()


# ------------------------------------------------------------------ the helpers


def test_a_new_id_keeps_the_shape_of_the_recorded_one() -> None:
    made = rc._new_id("video_0123456789abcdef")
    assert re.fullmatch(r"video_[0-9a-f]{16}", made) and made != "video_0123456789abcdef"
    odd = rc._new_id("task-abcdef123")
    assert re.fullmatch(r"task-[0-9a-f]{9}", odd)
    assert rc._new_id("task-abcdef1") != "task-abcdef1"
    assert re.fullmatch(r"task-abcdef1-replay-[0-9a-f]{12}", rc._new_id("task-abcdef1"))
    assert re.fullmatch(r"X-replay-[0-9a-f]{12}", rc._new_id("X"))
    long_run = rc._new_id("job-" + "a" * 70)  # longer than one default token
    assert re.fullmatch(r"job-[0-9a-f]{70}", long_run)
    assert len({rc._new_id("video_0123456789abcdef") for _ in range(5)}) == 5


def test_the_answer_at_a_time_is_the_last_recorded_by_then() -> None:
    timeline: list[tuple[float, Any]] = [(4.0, "c"), (0.0, "a"), (2.0, "b")]
    assert [rc._at(timeline, t) for t in (0, 1.999, 2.0, 3.9, 4.0, 99)] == [
        "a",
        "a",
        "b",
        "b",
        "c",
        "c",
    ]
    assert rc._at([(2.0, "first"), (3.0, "second")], 0.5) == "first"
    assert rc._at([(1.0, "x")], 1.0 - 1e-12) == "x"  # a float's last bit is not a second
    # answers recorded at the same offset: the later in the file wins, answers never compared
    same: list[tuple[float, Any]] = [(0.0, {"n": 0}), (2.0, {"n": 1}), (2.0, {"n": 2})]
    assert rc._at(same, 2.0) == {"n": 2}


def test_the_size_asked_for_in_pixels() -> None:
    assert rc._pixels({"size": "1280x720"}) == (1280, 720)
    wide = rc._pixels({"size": "large", "orientation": "landscape"})
    assert wide[0] > wide[1] > 0
    large = rc._pixels({"size": "large"})
    assert large == rc._pixels({"size": "large", "orientation": "portrait"})
    assert large[0] < large[1]  # portrait by default
    assert rc._pixels({"size": "huge"}) == (0, 0)
    assert rc._pixels({"size": "12x"}) == (0, 0)
    assert rc._pixels(None) == (0, 0) and rc._pixels({}) == (0, 0)


def test_what_a_create_asked_is_read_as_text() -> None:
    fields = rc.request_fields({"prompt": "p", "model": 2, "size": None, "seconds": 4})
    assert fields == {"prompt": "p", "model": "2", "size": None, "seconds": "4", "image": None}
    assert rc.request_fields({"size": "large"})["size"] == "large"
    assert rc.request_fields({"size": "large", "orientation": "landscape"})["size"] == (
        "large landscape"
    )
    assert rc.request_fields({"orientation": "landscape"})["size"] is None
    assert rc.request_fields({"duration": 15})["seconds"] == "15"  # GPTProto v3's word
    assert rc.request_fields({"images": ["u1", {"url": "u2"}]})["image"] == json.dumps(
        [["u1", "u2"]]
    )
    # an image given as an object of another shape is compared whatever its keys' order
    assert rc.request_fields({"image": {"b": 1, "a": 2}})["image"] == '[{"a": 2, "b": 1}]'
    for nothing in (None, ["prompt"], "prompt"):
        assert set(rc.request_fields(nothing).values()) == {None}
    assert rc.request_fields({"seconds": "8", "duration": 4})["seconds"] == "8"
    assert rc._text({"b": 1, "a": [2]}) == '{"a": [2], "b": 1}'
    images = rc.request_fields({"image": {"url": "u1"}, "image_url": [{"sha256": "s"}, "u2"]})
    assert images["image"] == json.dumps(["u1", ["s", "u2"]])
    assert rc._image_ref({"other": 1}) == {"other": 1}
    chat = {"messages": ["text", {"content": "plain"}, {"content": [{"type": "text"}]}]}
    assert rc.request_fields(chat)["image"] is None


def test_a_chat_create_is_compared_on_its_messages_images() -> None:
    chat = {
        "model": "sora-2",
        "messages": [
            "not a message",
            {"role": "system", "content": "plain text"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "A cat"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;sha256,cd"}},
                    {"type": "image_url", "image_url": "https://x.test/b.png"},
                    {"type": "input_image", "image_url": {"url": "ignored"}},
                    "junk",
                ],
            },
        ],
    }
    fields = rc.request_fields(chat)
    assert fields["image"] == json.dumps(["data:image/png;sha256,cd", "https://x.test/b.png"])
    assert fields["prompt"] == "plain text\nA cat"
    with_file = dict(chat, image={"sha256": "ab"})
    assert rc.request_fields(with_file)["image"] == json.dumps(
        ["ab", "data:image/png;sha256,cd", "https://x.test/b.png"]
    )


def test_a_recording_without_its_request_summary_differs_in_nothing(directory: Path) -> None:
    data = json.loads((directory / NAME).read_text())
    cassette = Cassette(directory / NAME, data)
    assert rc.differences(cassette, {"prompt": "other"}) == [
        "prompt",
        "model",
        "size",
        "seconds",
        "image",
    ]
    recorded = rc.request_fields(data["create"]["request"]["body"])
    assert rc.differences(cassette, recorded) == []
    data["create"]["request"].pop("body")
    assert rc.differences(cassette, {"prompt": "other"}) == []


def test_the_recorded_media_of_a_variant(directory: Path) -> None:
    data = json.loads((directory / NAME).read_text())
    cassette = Cassette(directory / NAME, data)
    video = data["downloads"][0]["response"]["media"]
    assert rc._recorded_media(cassette, "video") == video
    assert rc._recorded_media(cassette, "thumbnail") is None
    data["downloads"][0]["query"] = [["variant", "thumbnail"]]
    assert rc._recorded_media(cassette, "thumbnail") == video
    assert rc._recorded_media(cassette, "video") is None
    image = dict(video, content_type="image/webp")
    data["media_urls"] = [
        {"url": "u0"},
        {"url": "u1", "media": image},
        {"url": "u2", "media": video},
    ]
    assert rc._recorded_media(cassette, "video") == video
    assert rc._recorded_media(cassette, "spritesheet") is None
    data["media_urls"] = [{"url": "u1", "media": {"file": "x"}}]
    assert rc._recorded_media(cassette, "video") is None


def test_the_status_timeline_starts_with_the_create(directory: Path) -> None:
    data = json.loads((directory / NAME).read_text())
    timeline = rc._status_timeline(Cassette(directory / NAME, data))
    assert [offset for offset, _ in timeline] == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert timeline[0][1] is data["create"]["response"]
    assert timeline[-1][1]["body"]["status"] == "completed"


# ------------------------------------------------------------------ a streamed chat create

CHAT_BODY = {
    "model": "sora-2",
    "stream": True,
    "messages": [{"role": "user", "content": [{"type": "text", "text": "A cat in a hat"}]}],
}
VIDEO_URL = "https://cdn.example/videos/v1.mp4"


def chunk(content: str, finish: str | None = None) -> str:
    body = {
        "id": "chatcmpl-recorded",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "sora-2",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n"


def chat_directory(tmp_path: Path) -> Path:
    """A recorded chat stream: a first chunk at once, the video link 3 s later, then done."""
    from mockserver.conformance import cassettes

    directory = tmp_path / "chat"
    shutil.copytree(EXAMPLE / "media", directory / "media")
    [media] = (directory / "media").iterdir()
    raw = json.dumps(CHAT_BODY).encode()
    summary, digest, prompt = cassettes.summarize_request("application/json", raw)
    data = {
        "format": cassettes.FORMAT,
        "provider": "gptproto-chat",
        "contract": "gptproto-chat",
        "sequence": 0,
        "upstream": "https://api.example",
        "job_id": None,
        "create": {
            "operation": "createChatCompletion",
            "method": "POST",
            "path": "/v1/chat/completions",
            "request": {
                "headers": {"content-type": "application/json"},
                "body": summary,
                "body_sha256": digest,
                "prompt": prompt,
            },
            "response": {
                "status": 200,
                "headers": {"content-type": "text/event-stream", "x-request-id": "r1"},
            },
            "verdict": {"ok": True, "problems": []},
            "events": [
                {"offset": 0.0, "raw": chunk("Rendering")},
                {"offset": 3.0, "raw": chunk(f"Done: [video]({VIDEO_URL})", "stop")},
                {"offset": 3.0, "raw": "data: [DONE]\n\n"},
            ],
        },
        "polls": [],
        "downloads": [],
        "media_urls": [
            {
                "url": VIDEO_URL,
                "media": {
                    "sha256": media.stem,
                    "size": media.stat().st_size,
                    "content_type": "video/mp4",
                    "file": f"media/{media.name}",
                },
            }
        ],
    }
    (directory / "chat.json").write_text(json.dumps(data))
    return directory


def test_a_recorded_chat_stream_is_replayed_event_by_event(tmp_path: Path) -> None:
    directory = chat_directory(tmp_path)
    [media] = (directory / "media").iterdir()
    server = mock(directory, replay_fallback="404")
    with server.client("gptproto") as client, server.stepping(1.0):
        streamed = client.post("/v1/chat/completions", json=CHAT_BODY)
    assert streamed.status_code == 200
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert streamed.headers["X-Mock-Replay-Cassette"] == "chat.json"
    assert streamed.headers.get("x-request-id") != "r1"
    host = server.base_url("gptproto")[: -len("/gptproto")]
    assert streamed.text == (
        chunk("Rendering")
        + chunk(f"Done: [video]({host}{rp.MEDIA_ROUTE}{media.name})", "stop")
        + "data: [DONE]\n\n"
    )
    [job] = server.jobs()
    assert (job.api, job.replay, job.prompt, job.model) == (
        "gptproto-chat",
        "chat.json",
        "A cat in a hat",
        "sora-2",
    )
    assert re.fullmatch(r"chatcmpl-[0-9a-f]{24}", job.id)
    assert (job.queue_seconds, job.render_seconds, job.outcome) == (0.0, 3.0, "completed")
    assert server.service.state(job).status.value == "completed"
    with own(server) as admin:
        video = admin.get(f"/__mock/media/{job.id}/video.mp4")
    assert video.status_code == 200 and video.content == media.read_bytes()


def test_a_chat_stream_waits_for_the_mock_clock_at_its_speed(tmp_path: Path) -> None:
    directory = chat_directory(tmp_path)
    server = mock(directory, speed=3.0)
    start = server.now()
    with server.client("gptproto") as client, server.stepping(0.01):
        streamed = client.post("/v1/chat/completions", json=CHAT_BODY)
    assert streamed.text.endswith("data: [DONE]\n\n")
    assert ": waiting" not in streamed.text  # the clock came: no keep-alive comments
    # the last event was recorded 3 s in: served 1 s in at speed 3, not before
    assert 1.0 <= server.now() - start < 1.5
    [job] = server.jobs()
    assert job.render_seconds == 1.0


def test_a_chat_create_refused_by_its_recording_lists_no_job(tmp_path: Path) -> None:
    directory = chat_directory(tmp_path)
    path = directory / "chat.json"
    data = json.loads(path.read_text())
    data["create"]["response"]["status"] = 429
    path.write_text(json.dumps(data))
    server = mock(directory)
    with server.client("gptproto") as client, server.stepping(1.0):
        refused = client.post("/v1/chat/completions", json=CHAT_BODY)
    assert refused.status_code == 429
    assert server.jobs() == []


def test_the_list_operations_of_each_provider() -> None:
    from mockserver.conformance.contract_map import ContractMap
    from mockserver.providers import registered

    service = SoraMock(create_app(test_config())).service
    found = {}
    for cls in registered().values():
        dialect = cls(service)
        found[dialect.name] = rp._list_operations(dialect, ContractMap(dialect.contract))
    assert found == {
        "gptge-videos": frozenset({"listVideos"}),
        "gptproto-videos": frozenset({"listVideos"}),
        "gptproto-v3": frozenset(),
        "gptproto-chat": frozenset(),
        "vtrix-generation": frozenset(),
        "openrouter-videos": frozenset({"listVideosModels"}),
    }


def test_a_download_is_matched_by_its_query_repeated_names_included(directory: Path) -> None:
    edit(directory, lambda d: d["downloads"][0].update(query=[["variant", "thumbnail"]]))
    add_copy(
        directory,
        "b.json",
        lambda d: (
            d.update(sequence=1),
            d["downloads"][0].update(query=[["tag", "b"], ["tag", "a"]]),
        ),
    )
    server = mock(directory)
    with server.client("gptge") as client:
        first = create(client).json()["id"]
        second = create(client, prompt="Another").json()["id"]
        server.advance(8)
        plain = client.get(f"/v1/videos/{first}/content")
        thumbnail = client.get(f"/v1/videos/{first}/content?variant=thumbnail")
        both = client.get(f"/v1/videos/{second}/content?tag=a&tag=b")
        one = client.get(f"/v1/videos/{second}/content?tag=a")
    assert plain.status_code == 404 and thumbnail.status_code == 200
    assert both.status_code == 200 and one.status_code == 404


@pytest.mark.parametrize("status", [300, 404])
def test_a_listed_job_recorded_as_not_ok_stays_the_mock_s_item(
    directory: Path, status: int
) -> None:
    def answered(data: dict[str, Any]) -> None:
        data["polls"][0]["response"]["status"] = status

    edit(directory, answered)
    server = mock(directory)
    with server.client("gptge") as client:
        job_id = create(client).json()["id"]
        server.advance(2)
        item = client.get("/v1/videos").json()["data"][0]
        read = client.get(f"/v1/videos/{job_id}")
    assert read.status_code == status and read.json()["progress"] == 5
    assert item["id"] == job_id and item["progress"] != 5


def test_the_dashboard_serves_the_recorded_video_as_recorded(directory: Path) -> None:
    [file] = (directory / "media").iterdir()
    moved = file.with_suffix(".bin")
    file.rename(moved)

    def quicktime(data: dict[str, Any]) -> None:
        answer = data["downloads"][0]["response"]
        answer["media"]["content_type"] = "video/quicktime"
        answer["media"]["file"] = f"media/{moved.name}"
        # the recorded headers the mock's file answer sets itself, and one it does not
        answer["headers"] = {
            "content-type": "video/mp4",
            "cache-control": "private",
            "x-provider-note": f"for {RECORDED_ID}",
        }

    edit(directory, quicktime)
    server = mock(directory)
    with server.client("gptge") as client, own(server) as admin:
        job_id = create(client).json()["id"]
        server.advance(8)
        video = admin.get(f"/__mock/media/{job_id}/video.mov")
        dotted = admin.get(f"/__mock/media/{job_id}/video.v2.mov")
        part = admin.get(f"/__mock/media/{job_id}/video.mov", headers={"Range": "bytes=0-3"})
        download = client.get(f"/v1/videos/{job_id}/content")
    assert video.status_code == 200 and video.content == moved.read_bytes()
    assert video.headers["content-type"] == "video/quicktime"
    assert video.headers["etag"].strip('"') == moved.stem[:32]
    assert video.headers["cache-control"] == "public, max-age=3600"
    assert dotted.status_code == 200  # the variant is the name before its first dot
    assert part.status_code == 206 and part.content == moved.read_bytes()[:4]
    # the provider's download: the file's own type and caching, the other headers as recorded
    assert download.status_code == 200 and download.content == moved.read_bytes()
    assert download.headers["content-type"] == "video/quicktime"
    assert download.headers["cache-control"] == "public, max-age=3600"
    assert download.headers["accept-ranges"] == "bytes"
    assert download.headers["x-provider-note"] == f"for {job_id}"


def test_a_create_that_does_not_say_its_model_or_seconds_is_listed_without(
    directory: Path,
) -> None:
    server = mock(directory)
    with server.client("gptge") as client:
        made = client.post(
            "/v1/videos",
            data={"prompt": "Put a hat on the cat", "size": "720x1280"},
            files={"input_reference": ("cat.png", png(720, 1280), "image/png")},
        )
    assert made.headers["X-Mock-Replay-Cassette"] == NAME
    [job] = server.jobs()
    assert (job.model, job.seconds, job.prompt) == ("", 0, "Put a hat on the cat")


def test_statuses_recorded_at_the_same_offset_are_read_in_file_order(directory: Path) -> None:
    _words(directory, ["in_progress", "completed"], [3.0, 3.0])
    job = job_of(directory)
    assert (job.queue_seconds, job.render_seconds) == (3.0, 0.0)


def test_an_answer_recorded_without_a_body_is_served_empty(directory: Path) -> None:
    def empty(data: dict[str, Any]) -> None:
        data["polls"][0]["response"] = {"status": 202, "headers": {"x-note": "n"}}

    edit(directory, empty)
    server = mock(directory)
    with server.client("gptge") as client:
        job_id = create(client).json()["id"]
        server.advance(2)
        read = client.get(f"/v1/videos/{job_id}")
    assert read.status_code == 202 and read.content == b"" and read.headers["x-note"] == "n"


def test_an_exact_create_is_given_its_own_recording_before_one_with_its_prompt(
    directory: Path,
) -> None:
    def eight(data: dict[str, Any]) -> None:
        data["create"]["request"]["body"]["seconds"] = "8"
        data["create"]["request"]["body_sha256"] = "0" * 64

    add_copy(directory, "a-first.json", eight)  # the same prompt, listed first
    server = mock(directory)
    with server.client("gptge") as client:
        exact = create(client)
    assert exact.headers["X-Mock-Replay-Cassette"] == NAME
    assert "X-Mock-Replay-Mismatch" not in exact.headers
