"""Every provider's job really moves queued -> in_progress -> completed on the virtual clock,
and ends with a playable video of the size and duration asked for."""

from __future__ import annotations

import io

import av
import pytest
from PIL import Image, ImageStat
from providers import APIS, Api

from mockserver.testing import SoraMock

HEADERS = {"Authorization": "Bearer sk-test"}
#: the colour of the reference images providers.png makes
RED = (200, 40, 40)


def decode(data: bytes) -> tuple[str, int, int, float]:
    """(codec, width, height, seconds) of an MP4, read back with PyAV."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        return stream.codec_context.name, stream.width, stream.height, frames / fps


def run_lifecycle(
    mock: SoraMock, api: Api, step: float = 0.5
) -> tuple[list[str], list[float], dict]:
    with mock.client(api.provider) as client:
        created = client.post  # keep the client open for the polls below
        del created
        response = api.create(client, HEADERS)
        assert response.status_code == 200, response.text
        body = response.json()
        job_id = api.job_id(body)
        statuses, progress = [api.status(body)], [api.progress(body)]
        for _ in range(400):
            mock.advance(step)
            polled = client.get(api.status_path(job_id))
            assert polled.status_code == 200, polled.text
            body = polled.json()
            statuses.append(api.status(body))
            progress.append(api.progress(body))
            if statuses[-1] in api.words[2:]:
                break
    return statuses, progress, body


@pytest.mark.parametrize("api_id", sorted(APIS))
def test_job_moves_through_every_status_in_order(sora_mock: SoraMock, api_id: str) -> None:
    api = APIS[api_id]
    statuses, progress, _ = run_lifecycle(sora_mock, api)
    queued, running, completed, _ = api.words
    distinct = [s for i, s in enumerate(statuses) if i == 0 or s != statuses[i - 1]]
    assert distinct == [queued, running, completed]
    assert progress == sorted(progress), "progress went backwards"
    assert progress[-1] == 1.0


@pytest.mark.parametrize("api_id", ["gptproto-videos", "gptge-videos"])
def test_openai_style_progress_rises_in_small_steps(sora_mock: SoraMock, api_id: str) -> None:
    _, progress, _ = run_lifecycle(sora_mock, APIS[api_id], step=0.2)
    in_progress = [p for p in progress if 0 < p < 1]
    assert len(set(in_progress)) >= 5


@pytest.mark.parametrize("api_id", sorted(APIS))
def test_completed_job_downloads_a_playable_video_of_the_right_size(
    sora_mock: SoraMock, api_id: str
) -> None:
    api = APIS[api_id]
    _, _, body = run_lifecycle(sora_mock, api, step=2.0)
    with sora_mock.client(api.provider) as client:
        if api.provider == "gptge" or api.name == "gptproto-videos":
            response = client.get(f"/v1/videos/{api.job_id(body)}/content")
        else:
            url = api.video_url(body)
            assert url and url.startswith(sora_mock.host), url
            response = client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    assert int(response.headers["content-length"]) == len(response.content)
    codec, width, height, seconds = decode(response.content)
    assert (codec, (width, height)) == ("h264", api.size)
    assert seconds == pytest.approx(api.seconds, abs=0.1)


@pytest.fixture(name="finished")
def finished_fixture(sora_mock: SoraMock) -> tuple[SoraMock, str, bytes]:
    """A completed GPTProto /v1/videos job (the smallest video) and its whole content."""
    _, _, body = run_lifecycle(sora_mock, APIS["gptproto-videos"], step=5.0)
    with sora_mock.client("gptproto") as client:
        whole = client.get(f"/v1/videos/{body['id']}/content")
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    return sora_mock, body["id"], whole.content


@pytest.mark.parametrize("where", ["provider", "media"])
def test_video_supports_range_requests(finished: tuple[SoraMock, str, bytes], where: str) -> None:
    """What a resuming client sends: `bytes=A-B`, `bytes=N-` (the rest), `bytes=-N` (the
    last N), on the provider's path and on the media URL the others point at."""
    mock, job_id, whole = finished
    path = (
        f"/v1/videos/{job_id}/content"
        if where == "provider"
        else f"{mock.host}/__mock/media/{job_id}/video.mp4"
    )
    size = len(whole)
    with mock.client("gptproto") as client:
        part = client.get(path, headers={"Range": "bytes=0-99"})
        rest = client.get(path, headers={"Range": "bytes=100-"})
        last = client.get(path, headers={"Range": "bytes=-100"})
        too_long = client.get(path, headers={"Range": f"bytes=-{size + 50}"})
        beyond = client.get(path, headers={"Range": f"bytes={size + 10}-"})
    assert (part.status_code, part.content) == (206, whole[:100])
    assert part.headers["content-range"] == f"bytes 0-99/{size}"
    assert (rest.status_code, rest.content) == (206, whole[100:])
    assert rest.headers["content-range"] == f"bytes 100-{size - 1}/{size}"
    assert int(rest.headers["content-length"]) == size - 100
    assert (last.status_code, last.content) == (206, whole[-100:])
    assert last.headers["content-range"] == f"bytes {size - 100}-{size - 1}/{size}"
    # a suffix longer than the file is the whole file (RFC 9110 14.1.3), not a 416
    assert too_long.status_code in (200, 206) and too_long.content == whole
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{size}"
    assert beyond.json()["error"]["message"]


def test_if_range_resumes_only_the_same_video(finished: tuple[SoraMock, str, bytes]) -> None:
    """`If-Range` with the video's ETag gets the part asked for; with any other validator the
    whole video (200), so a client never splices two different files."""
    mock, job_id, whole = finished
    path = f"/v1/videos/{job_id}/content"
    with mock.client("gptproto") as client:
        etag = client.get(path).headers["etag"]
        same = client.get(path, headers={"Range": "bytes=10-", "If-Range": etag})
        other = client.get(path, headers={"Range": "bytes=10-", "If-Range": '"another-video"'})
        weak = client.get(path, headers={"Range": "bytes=10-", "If-Range": f"W/{etag}"})
    assert etag.startswith('"') and etag.endswith('"')
    assert (same.status_code, same.content) == (206, whole[10:])
    assert (other.status_code, other.content) == (200, whole)
    # If-Range compares strongly: a weak validator never yields a part
    assert (weak.status_code, weak.content) == (200, whole)


def _sheet_size(width: int, height: int) -> tuple[int, int]:
    """The documented spritesheet: 10 tiles, five a row, each 160 px on its long side."""
    tile = (
        (160, round(160 * height / width))
        if width >= height
        else (round(160 * width / height), 160)
    )
    return tile[0] * 5, tile[1] * 2


@pytest.mark.parametrize(
    ("variant", "mime"), [("thumbnail", "image/webp"), ("spritesheet", "image/jpeg")]
)
def test_content_variants(sora_mock: SoraMock, variant: str, mime: str) -> None:
    """Each still is of the documented size and shows the reference image (a uniform red
    PNG here), not a placeholder or another job's picture."""
    api = APIS["gptge-videos"]
    _, _, body = run_lifecycle(sora_mock, api, step=5.0)
    with sora_mock.client("gptge") as client:
        response = client.get(f"/v1/videos/{body['id']}/content", params={"variant": variant})
    assert response.status_code == 200
    assert response.headers["content-type"] == mime
    with Image.open(io.BytesIO(response.content)) as image:
        assert image.format == {"image/webp": "WEBP", "image/jpeg": "JPEG"}[mime]
        size = api.size if variant == "thumbnail" else _sheet_size(*api.size)
        assert image.size == size
        # every part of it is the reference image's colour (lossy formats: a margin)
        stats = ImageStat.Stat(image.convert("RGB"))
        assert stats.mean == pytest.approx(RED, abs=10)
        assert max(stats.stddev) < 15, stats.stddev


def test_gptproto_content_before_completion_is_the_json_job(sora_mock: SoraMock) -> None:
    api = APIS["gptproto-videos"]
    with sora_mock.client("gptproto") as client:
        job = api.create(client, HEADERS).json()
        response = client.get(f"/v1/videos/{job['id']}/content")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["status"] == "queued"


def test_gptge_content_before_completion_is_a_404(sora_mock: SoraMock) -> None:
    api = APIS["gptge-videos"]
    with sora_mock.client("gptge") as client:
        job = api.create(client, HEADERS).json()
        response = client.get(f"/v1/videos/{job['id']}/content")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "video_not_ready"


def test_gptproto_timestamps_are_strings_and_gptge_integers(sora_mock: SoraMock) -> None:
    _, _, proto = run_lifecycle(sora_mock, APIS["gptproto-videos"], step=5.0)
    _, _, ge = run_lifecycle(sora_mock, APIS["gptge-videos"], step=5.0)
    assert isinstance(proto["created_at"], str) and proto["created_at"].isdigit()
    assert int(proto["expires_at"]) - int(proto["completed_at"]) == 3600
    assert isinstance(ge["created_at"], int) and isinstance(ge["completed_at"], int)
    assert proto["soraVideoUrl"].endswith("/video.mp4")


def test_status_poll_carries_request_id_and_poll_hint(sora_mock: SoraMock) -> None:
    with sora_mock.client("gptge") as client:
        job = APIS["gptge-videos"].create(client, HEADERS)
        assert job.headers["x-request-id"].startswith("req_")
        polled = client.get(f"/v1/videos/{job.json()['id']}")
    assert int(polled.headers["openai-poll-after-ms"]) >= 250
    assert polled.headers["x-request-id"] != job.headers["x-request-id"]


def test_list_paginates_newest_first_and_is_scoped_to_the_key(sora_mock: SoraMock) -> None:
    api = APIS["gptge-videos"]
    with sora_mock.client("gptge") as client:
        ids = [api.create(client, HEADERS).json()["id"] for _ in range(5)]
        api.create(client, {"Authorization": "Bearer sk-someone-else"})
        first = client.get("/v1/videos", params={"limit": 2}).json()
        second = client.get("/v1/videos", params={"limit": 2, "after": first["last_id"]}).json()
        rest = client.get("/v1/videos", params={"limit": 2, "after": second["last_id"]}).json()
    seen = [v["id"] for page in (first, second, rest) for v in page["data"]]
    assert seen == ids[::-1]
    assert (first["has_more"], second["has_more"], rest["has_more"]) == (True, True, False)


def test_delete_then_every_read_is_404(sora_mock: SoraMock) -> None:
    with sora_mock.client("gptge") as client:
        job_id = APIS["gptge-videos"].create(client, HEADERS).json()["id"]
        deleted = client.delete(f"/v1/videos/{job_id}")
        assert deleted.json() == {"id": job_id, "object": "video.deleted", "deleted": True}
        assert client.get(f"/v1/videos/{job_id}").status_code == 404
        assert client.get(f"/v1/videos/{job_id}/content").status_code == 404
        assert client.delete(f"/v1/videos/{job_id}").status_code == 404


def test_remix_makes_a_new_job_from_a_completed_one(sora_mock: SoraMock) -> None:
    _, _, source = run_lifecycle(sora_mock, APIS["gptge-videos"], step=5.0)
    with sora_mock.client("gptge") as client:
        remix = client.post(f"/v1/videos/{source['id']}/remix", json={"prompt": "at night"})
    assert remix.status_code == 200
    body = remix.json()
    assert body["remixed_from_video_id"] == source["id"]
    assert (body["size"], body["seconds"], body["status"]) == (
        source["size"],
        source["seconds"],
        "queued",
    )


def test_remix_of_an_unfinished_job_is_refused(sora_mock: SoraMock) -> None:
    with sora_mock.client("gptge") as client:
        job_id = APIS["gptge-videos"].create(client, HEADERS).json()["id"]
        remix = client.post(f"/v1/videos/{job_id}/remix", json={"prompt": "again"})
    assert remix.status_code == 409


def test_ids_of_one_api_are_unknown_to_another(sora_mock: SoraMock) -> None:
    with sora_mock.client("gptge") as ge:
        job_id = APIS["gptge-videos"].create(ge, HEADERS).json()["id"]
    with sora_mock.client("gptproto") as proto:
        assert proto.get(f"/v1/videos/{job_id}").status_code == 404


def test_vtrix_remix_video_id_reuses_a_completed_video(sora_mock: SoraMock) -> None:
    _, _, source = run_lifecycle(sora_mock, APIS["vtrix-generation"], step=5.0)
    with sora_mock.client("vtrix") as client:
        body = {
            "model": "sora_2_pro_i2v",
            "prompt": "again",
            "size": "1280x720",
            "remix_video_id": source["id"],
        }
        response = client.post("/model/v1/generation", json=body)
    assert response.status_code == 200
    assert response.json()["metadata"]["remix_video_id"] == source["id"]


def test_v3_remote_image_url_is_not_fetched_and_the_job_says_so(sora_mock: SoraMock) -> None:
    with sora_mock.client("gptproto") as client:
        body = {"prompt": "p", "images": ["https://example.invalid/a.png"], "size": "small"}
        response = client.post("/api/v3/openai/reverse/sora-2/image-to-video", json=body)
        assert response.status_code == 200
        assert "placeholder" in response.headers["x-mock-notes"]
        job = client.get(sora_mock.host + f"/__mock/jobs/{response.json()['data']['id']}").json()
    assert job["has_reference_image"] is False
    assert "--fetch-remote-images" in job["notes"][0]


def test_an_uploaded_file_url_is_used_as_the_reference_image(sora_mock: SoraMock) -> None:
    from providers import png

    with sora_mock.client("vtrix") as client:
        uploaded = client.post(
            sora_mock.host + "/__mock/files",
            content=png(720, 1280),
            headers={"Content-Type": "image/png"},
        )
        assert uploaded.status_code == 201
        body = {"model": "sora_2_pro_i2v", "prompt": "p", "input_reference": uploaded.json()["url"]}
        response = client.post("/model/v1/generation", json=body)
        assert response.status_code == 200
        job = client.get(sora_mock.host + f"/__mock/jobs/{response.json()['id']}").json()
    assert job["has_reference_image"] is True and job["notes"] == []
