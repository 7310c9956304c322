"""Expiry per provider, on the virtual clock (contracts/README.md, "how long a job is kept").

GPTProto's `/v1/videos` contract fills `expires_at` (an hour after `completed_at`): its job is
purged at the moment that field names. Every other API is kept `--retention` after creation.
Either way an expired job then answers as an unknown id would, in its provider's own 404, and
its data are gone. Each answer is judged by the contract with openapi-core (the reference
validator), not by the mock's own strict-mode check.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from flask import Flask
from jobs import make_job
from providers import APIS, Api, _videos_create

import contracts
from mockserver.http.app import create_app
from mockserver.state.lifecycle import plan_expiry
from mockserver.testing import SoraMock, test_config

#: shorter than the default, longer than any render, and not GPTProto's hour
RETENTION = 2 * 3600.0
HEADERS = {"Authorization": "Bearer sk-test"}
#: the APIs whose contracts give no `expires_at` value: kept `--retention`
RETAINED = ["gptproto-v3", "gptge-videos", "vtrix-generation"]


@pytest.fixture(scope="module")
def app_for_expiry() -> Flask:
    return create_app(test_config(retention_seconds=RETENTION))


@pytest.fixture
def mock(app_for_expiry: Flask) -> Iterator[SoraMock]:
    handle = SoraMock(app_for_expiry)
    handle.reset()
    yield handle
    handle.check()


def conforms(contract: str, response: httpx.Response, prefix: str) -> httpx.Response:
    """The response, once the contract's reference validator accepted it for its request."""
    request = contracts.request_from_httpx(response.request, strip_prefix=prefix)
    try:
        contracts.load(contract).validate_response_reference(
            request, contracts.response_from_httpx(response)
        )
    except contracts.ContractViolation as exc:
        pytest.fail(f"{response.request.method} {response.request.url.path}: {exc}")
    return response


def own_url(mock: SoraMock, url: str) -> httpx.Response:
    """GET one of the mock's own URLs (a video link a job hands out)."""
    path = httpx.URL(url).path
    with httpx.Client(base_url=mock.host, transport=mock.transport()) as client:
        return conforms("mock-admin", client.get(path), "")


def thumbnail_of(video_url: str) -> str:
    """The same job's thumbnail: the link's route and expiry, without rendering a 10 s video."""
    assert video_url.endswith("/video.mp4"), video_url
    return video_url.removesuffix("video.mp4") + "thumbnail.webp"


def create(mock: SoraMock, api: Api) -> tuple[str, float]:
    with mock.client(api.provider) as client:
        created = api.create(client, HEADERS)
    assert created.status_code == 200, created.text
    return api.job_id(created.json()), mock.now()


def poll(mock: SoraMock, api: Api, job_id: str) -> httpx.Response:
    with mock.client(api.provider) as client:
        return conforms(api.name, client.get(api.status_path(job_id)), f"/{api.provider}")


def test_plan_expiry_counts_a_contracts_hour_from_the_second_completed_at_shows() -> None:
    # created at 1000.0, queued 2.0, rendered 10.7: completed at 1012.7, shown as 1012
    done = make_job(created_at=1000.0, queue_seconds=2.0, render_seconds=10.7)
    assert plan_expiry(done, 7200.0, 3600) == 4612.0
    assert plan_expiry(done, 7200.0, None) == 8200.0  # no contract expiry: the retention
    assert plan_expiry(done, None, 3600) is None  # --retention never: nothing expires
    failed = make_job(created_at=1000.0, queue_seconds=2.0, render_seconds=10.7, outcome="failed")
    assert plan_expiry(failed, 7200.0, 3600) == 8200.0  # no completed_at to count from
    assert done.expired(4612.0) is False  # a Job's own expires_at is unset here
    done.expires_at = 4612.0
    assert (done.expired(4611.999), done.expired(4612.0)) == (False, True)


@pytest.mark.parametrize("api_id", RETAINED)
def test_a_job_without_a_contract_expiry_is_kept_for_the_retention_then_is_a_404(
    mock: SoraMock, api_id: str
) -> None:
    api = APIS[api_id]
    job_id, created_at = create(mock, api)
    mock.advance(RETENTION - 1)
    last = poll(mock, api, job_id)
    assert last.status_code == 200 and api.status(last.json()) == api.words[2]
    video = api.video_url(last.json())
    if video is not None:  # the mock's own link, handed out in the status
        assert own_url(mock, thumbnail_of(video)).status_code == 200
    mock.advance(created_at + RETENTION - mock.now())  # exactly the retention
    if video is not None:  # read first: nothing else has purged the job yet
        assert own_url(mock, video).status_code == 404
    gone = poll(mock, api, job_id)
    assert gone.status_code == 404, gone.text
    # purged with its data: the record and its (only) reference image
    assert mock.service.store.get(job_id) is None
    assert mock.service.store.stats()["images"] == 0


def _complete(mock: SoraMock, api: Api, job_id: str) -> dict[str, Any]:
    for _ in range(200):
        body = poll(mock, api, job_id).json()
        if body["status"] in api.words[2:]:
            return body
        mock.advance(1.0)
    pytest.fail(f"{job_id} never ended")


def test_gptproto_videos_expires_at_is_the_moment_the_job_is_purged(mock: SoraMock) -> None:
    api = APIS["gptproto-videos"]
    job_id, _ = create(mock, api)
    body = _complete(mock, api, job_id)
    assert body["status"] == "completed"
    # seed 001's status example: expires_at - completed_at = 3600
    assert int(body["expires_at"]) - int(body["completed_at"]) == 3600
    expires = float(body["expires_at"])
    assert expires - mock.now() < RETENTION  # the contract's hour, not --retention

    mock.advance(expires - mock.now() - 0.5)
    assert poll(mock, api, job_id).json()["expires_at"] == body["expires_at"]
    with mock.client("gptproto") as client:
        video = conforms("gptproto-videos", client.get(f"/v1/videos/{job_id}/content"), "/gptproto")
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert own_url(mock, body["soraVideoUrl"]).status_code == 200

    mock.advance(expires - mock.now())  # the second expires_at names
    assert own_url(mock, body["soraVideoUrl"]).status_code == 404  # before anything purged it
    assert poll(mock, api, job_id).status_code == 404
    with mock.client("gptproto") as client:
        for answer in (
            client.get(f"/v1/videos/{job_id}/content"),
            client.delete(f"/v1/videos/{job_id}"),
        ):
            assert conforms("gptproto-videos", answer, "/gptproto").status_code == 404
        listed = conforms("gptproto-videos", client.get("/v1/videos"), "/gptproto")
    assert listed.json()["data"] == []
    assert mock.service.store.get(job_id) is None


def test_a_failed_gptproto_videos_job_has_no_expires_at_and_is_kept_for_the_retention(
    mock: SoraMock,
) -> None:
    api = APIS["gptproto-videos"]
    mock.set_scenario("generation_failed", api_key="sk-test")
    job_id, created_at = create(mock, api)
    body = _complete(mock, api, job_id)
    assert body["status"] == "failed" and body["expires_at"] is None
    mock.advance(created_at + 3600 + 60 - mock.now())  # past the completed job's hour
    assert poll(mock, api, job_id).status_code == 200
    mock.advance(created_at + RETENTION - mock.now())
    assert poll(mock, api, job_id).status_code == 404


def test_retention_never_keeps_every_job_and_gptproto_says_so_with_a_null_expires_at() -> None:
    mock = SoraMock(create_app(test_config(retention_seconds=None)))
    api = APIS["gptproto-videos"]
    job_id, _ = create(mock, api)
    body = _complete(mock, api, job_id)
    assert body["status"] == "completed" and body["expires_at"] is None
    mock.advance(400 * 24 * 3600.0)
    assert poll(mock, api, job_id).json()["status"] == "completed"
    mock.check()


def test_lists_show_no_expired_job_even_when_more_expired_than_one_purge_takes(
    mock: SoraMock,
) -> None:
    # each create or list purges at most 20 expired jobs (a flat cost per request): the rest
    # must still be invisible, or a list would name ids that answer 404. 45 jobs: each of the
    # two lists below leaves some unpurged
    api = APIS["gptge-videos"]
    small = _videos_create("sora-2", "720x1280", "4")
    with mock.client("gptge") as client:
        for _ in range(45):
            assert small(client, HEADERS).status_code == 200
        mock.advance(RETENTION)
        with httpx.Client(base_url=mock.host, transport=mock.transport()) as admin_client:
            admin = conforms("mock-admin", admin_client.get("/__mock/jobs"), "")
        listed = conforms(api.name, client.get("/v1/videos?limit=100"), "/gptge")
    assert admin.json()["data"] == []
    assert listed.json()["data"] == []
    assert mock.service.store.stats()["jobs"] > 0  # the filter, not a purge, hid the last ones


def test_a_chat_jobs_video_link_answers_until_the_retention_then_is_a_404(mock: SoraMock) -> None:
    # chat mode has no read by id: what a client keeps of its job is the link in the answer
    body = {
        "model": "sora-2",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "a cow dancing"}]}],
        "stream": False,
    }
    with mock.stepping(1.0), mock.client("gptproto") as client:
        answer = conforms(
            "gptproto-chat", client.post("/v1/chat/completions", json=body), "/gptproto"
        )
    assert answer.status_code == 200, answer.text
    text = answer.json()["choices"][0]["message"]["content"]
    link = text.split("](", 1)[1].split(")", 1)[0]
    created_at = mock.service.store.get(answer.json()["id"]).created_at
    mock.advance(created_at + RETENTION - 1 - mock.now())
    assert own_url(mock, thumbnail_of(link)).status_code == 200
    mock.advance(1)
    assert own_url(mock, link).status_code == 404
