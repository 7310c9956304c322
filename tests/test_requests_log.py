"""Requests as data: what each provider request carried, from the fixtures and the admin API
(mockserver/http/requests_log.py; issue 24)."""

from __future__ import annotations

import base64
import hashlib
import io
import json

import pytest
from PIL import Image

from mockserver.http.requests_log import MAX_FIELDS_BYTES, RequestRecord, assert_requested
from mockserver.testing import SoraMock

KEY = "sk-live-abcdef0123456789"


def png(width: int = 720, height: int = 1280) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), "teal").save(buf, "PNG")
    return buf.getvalue()


def create(client: object, image: bytes, **fields: str) -> object:
    data = {"prompt": "a fox", "model": "sora-2", "seconds": "4", "size": "720x1280"} | fields
    return client.post(  # type: ignore[attr-defined]
        "/v1/videos", data=data, files={"input_reference": ("ref.png", image, "image/png")}
    )


def test_a_create_is_given_with_its_fields_image_hash_and_no_credentials(
    sora_mock: SoraMock,
) -> None:
    image = png()
    with sora_mock.client("gptge", api_key=KEY, headers={"X-Trace": "t-1"}) as client:
        video_id = create(client, image).json()["id"]  # type: ignore[attr-defined]
        client.get(f"/v1/videos/{video_id}")
    first, poll = sora_mock.requests()
    assert (first.provider, first.operation, first.method, first.status) == (
        "gptge",
        "createVideo",
        "POST",
        200,
    )
    assert first.fields is not None and first.fields["model"] == "sora-2"
    assert first.fields["seconds"] == "4"
    assert first.image == {
        "field": "input_reference",
        "size": len(image),
        "sha256": hashlib.sha256(image).hexdigest(),
        "content_type": "image/png",
    }
    assert first.job_id == video_id and first.headers["x-trace"] == "t-1"
    assert "authorization" not in first.headers and "authorization" not in poll.headers
    assert (poll.operation, poll.fields, poll.image) == ("getVideo", None, None)
    # the key is nowhere in what the store keeps, nor in what the admin API gives
    assert KEY not in json.dumps(sora_mock.service.store.journal(100))
    answer = sora_mock.app.test_client().get("/__mock/requests")
    assert answer.status_code == 200 and KEY not in answer.get_data(as_text=True)


def test_a_key_sent_in_another_header_or_field_is_masked(sora_mock: SoraMock) -> None:
    with sora_mock.client("gptge", api_key=KEY, headers={"X-Forwarded-Note": KEY}) as client:
        create(client, png(), prompt=f"use {KEY} please")
    (record,) = sora_mock.requests()
    assert KEY not in json.dumps(record.to_dict())
    assert record.headers["x-forwarded-note"] == "[REDACTED]"


def test_assert_requested_counts_and_matches_fields(sora_mock: SoraMock) -> None:
    with sora_mock.client("gptge", api_key=KEY) as client:
        create(client, png())
        create(client, png(), model="sora-2-pro")
    sora_mock.assert_requested(operation="createVideo", times=2)
    sora_mock.assert_requested(operation="createVideo", model="sora-2-pro", times=1)
    sora_mock.assert_requested(provider="gptge", seconds=lambda s: int(s) >= 4, times=2)
    with pytest.raises(AssertionError, match="exactly 1 .* 2 matched"):
        sora_mock.assert_requested(operation="createVideo", times=1)
    assert sora_mock.requests(model="sora-2", method="post")[0].fields["model"] == "sora-2"  # type: ignore[index]


def test_a_failed_assertion_lists_what_arrived_nearest_first(sora_mock: SoraMock) -> None:
    with sora_mock.client("gptge", api_key=KEY) as client:
        video_id = create(client, png(), seconds="8").json()["id"]  # type: ignore[attr-defined]
        client.get(f"/v1/videos/{video_id}")
        client.get(f"/v1/videos/{video_id}")
    with pytest.raises(AssertionError) as failure:
        sora_mock.assert_requested(operation="createVideo", seconds="4")
    lines = str(failure.value).splitlines()
    assert "0 matched of 3 received" in lines[0]
    assert lines[1] == "received, nearest first:"
    assert lines[2].startswith("  POST /gptge/v1/videos -> 200 (gptge createVideo): ")
    assert "seconds='8' (wanted '4')" in lines[2] and "operation" not in lines[2].split(":")[1]
    assert "operation='getVideo' (wanted 'createVideo')" in lines[3]


def test_nearest_first_ranks_by_criteria_missed() -> None:
    def record(operation: str, **fields: str) -> RequestRecord:
        return RequestRecord("gptge", operation, "POST", "/gptge/v1/videos", 200, fields=fields)

    records = [record("createVideo", model="a"), record("getVideo"), record("createVideo")]
    with pytest.raises(AssertionError) as failure:
        assert_requested(records, operation="createVideo", model="sora-2")
    lines = str(failure.value).splitlines()[2:5]
    # one criterion missed, the newest first; then the one that missed two
    assert lines[0].endswith("): model=(absent) (wanted 'sora-2')")
    assert lines[1].endswith("): model='a' (wanted 'sora-2')")
    assert "operation='getVideo'" in lines[2] and "model=(absent)" in lines[2]


def test_an_inline_image_is_kept_as_its_size_and_hash(sora_mock: SoraMock) -> None:
    image = png(1280, 720)
    data_url = "data:image/png;base64," + base64.b64encode(image).decode()
    with sora_mock.client("gptproto", api_key=KEY) as client:
        answer = client.post(
            "/api/v3/openai/sora-2/image-to-video",
            json={"prompt": "a fox", "images": [data_url], "duration": 4},
        )
    (record,) = sora_mock.requests()
    assert answer.status_code < 500, answer.text
    assert record.image is not None and record.image["size"] == len(image)
    assert record.image["sha256"] == hashlib.sha256(image).hexdigest()
    assert record.fields is not None and "base64" not in json.dumps(record.fields)


def test_fields_beyond_the_byte_bound_are_left_out(sora_mock: SoraMock) -> None:
    with sora_mock.client("gptge", api_key=KEY) as client:
        words = " ".join(f"w{n}" for n in range(200))
        create(client, png(), **{f"extra_{n}": words for n in range(40)})
    (record,) = sora_mock.requests()
    assert record.fields is None and record.fields_truncated
    stored = json.dumps(sora_mock.service.store.journal(1)[0]["request"])
    assert len(stored) < MAX_FIELDS_BYTES


def test_the_admin_api_filters_requests(sora_mock: SoraMock) -> None:
    with sora_mock.client("gptge", api_key=KEY) as client:
        video_id = create(client, png()).json()["id"]  # type: ignore[attr-defined]
        client.get(f"/v1/videos/{video_id}")
        client.get("/v1/videos/nope")
    admin = sora_mock.app.test_client()
    creates = admin.get("/__mock/requests?operation=createVideo&method=post").json["data"]  # type: ignore[index]
    assert [r["fields"]["model"] for r in creates] == ["sora-2"]
    missing = admin.get("/__mock/requests?status=404").json["data"]  # type: ignore[index]
    assert [r["path"] for r in missing] == ["/gptge/v1/videos/nope"]
    assert len(admin.get("/__mock/requests?limit=1").json["data"]) == 1  # type: ignore[index]
    assert admin.get("/__mock/requests?status=abc").status_code == 400
    # the journal stays as it was: no request data in it
    assert all("request" not in e for e in admin.get("/__mock/journal").json["data"])  # type: ignore[index]
    assert all("request" not in e for e in sora_mock.journal)
    # and reading it takes nothing from the requests (a memory store's entries are its own)
    again = admin.get("/__mock/requests?operation=createVideo").json["data"]  # type: ignore[index]
    assert [r["fields"]["model"] for r in again] == ["sora-2"]
    assert sora_mock.requests(operation="createVideo")[0].image is not None


def test_sora_respx_gives_what_the_app_sent_to_the_real_host(sora_respx: object) -> None:
    import httpx

    with httpx.Client(
        base_url="https://api.gpt.ge", headers={"Authorization": f"Bearer {KEY}"}
    ) as client:
        create(client, png(), model="sora-2-pro")
    router = sora_respx
    router.assert_requested(operation="createVideo", model="sora-2-pro", times=1)  # type: ignore[attr-defined]
    (record,) = router.requests(provider="gptge")  # type: ignore[attr-defined]
    assert record.path == "/gptge/v1/videos" and "authorization" not in record.headers


def test_every_worker_of_a_served_mock_answers_for_all_requests() -> None:
    """Two workers (a SQLite store): each create is noted by the worker that took it, and
    either worker gives them all (the requests live with the journal, in the store)."""
    import httpx
    from served import served

    with served("--clock", "virtual", workers=2) as server:
        for n in range(12):  # a new connection each: they spread over the workers
            with httpx.Client(
                base_url=server.url + "/gptge", headers={"Authorization": f"Bearer {KEY}"}
            ) as client:
                # an image of the wrong size: a 400 that still carries its fields (no render)
                answer = create(client, png(64 * 12, 64 * 20), prompt=f"fox {n}")
                assert answer.status_code == 400  # type: ignore[attr-defined]
        answers = []
        for _ in range(4):
            with httpx.Client(base_url=server.url) as admin:
                answers.append(admin.get("/__mock/requests", params={"limit": 100}).json())
                journal = admin.get("/__mock/journal", params={"limit": 100}).json()["data"]
    assert len({entry["worker"] for entry in journal}) == 2
    for answer in answers:
        prompts = [r["fields"]["prompt"] for r in answer["data"]]
        assert prompts == [f"fox {n}" for n in range(12)]
    assert KEY not in json.dumps(answers)


def test_two_hosts_on_one_redis_store_give_each_others_requests() -> None:
    """A Redis store (servers on several hosts): a create through one app is given, with its
    fields and image hash, by the other."""
    import shutil

    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (Debian package redis-server)")
    from mockserver.http.app import create_app
    from mockserver.testing import redis_server, test_config

    image = png()
    with redis_server() as url:
        one, two = (SoraMock(create_app(test_config(store=url))) for _ in range(2))
        with one.client("gptge", api_key=KEY) as client:
            create(client, image, prompt="from host one")
        (record,) = two.requests(operation="createVideo")
        assert record.fields is not None and record.fields["prompt"] == "from host one"
        assert record.image is not None
        assert record.image["sha256"] == hashlib.sha256(image).hexdigest()
        one.service.store.close()
        two.service.store.close()
