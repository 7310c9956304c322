"""What each admin route (/__mock/...) answers, route by route, on an app built in each test:
jobs and their neutral view, the journal and the requests log filtered, the clock, faults,
scenario rules added and cleared by key, uploaded files, rendered media and the contracts.

Each test builds its own app (a few milliseconds), so a change to the code that builds the
answers is seen by every test here (see the comment over ``MODULES`` in tests/mutation)."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from PIL import Image
from providers import APIS, png

from mockserver.http.app import create_app
from mockserver.state.lifecycle import key_fingerprint
from mockserver.testing import CLOCK_START, SoraMock, test_config

KEY = "sk-admin-answers"
OTHER = "sk-someone-else"


@pytest.fixture
def app() -> Iterator[Flask]:
    app = create_app(test_config())
    yield app
    service = app.extensions["sora_mock"]
    # strict mode: every admin answer the test read kept to contracts/mock-admin.yaml
    assert list(service.violations) == []
    service.store.close()


def create(app: Flask, api_id: str = "gptproto-v3", key: str = KEY, **headers: str) -> str:
    """One job made through the provider's own create; its id."""
    api = APIS[api_id]
    with SoraMock(app).client(api.provider, api_key=key) as client:
        answer = api.create(client, {"Authorization": f"Bearer {key}", **headers})
    assert answer.status_code in (200, 201), answer.text
    return api.job_id(answer.json())


def admin(app: Flask, route: str, **query: Any) -> Any:
    answer = app.test_client().get(f"/__mock/{route}", query_string=query)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.json


# -- scenario rules -------------------------------------------------------------------------


def test_clearing_the_rules_of_one_key_removes_that_keys_rules_only(app: Flask) -> None:
    http = app.test_client()
    mine = http.post("/__mock/scenarios", json={"scenario": "server_error", "api_key": KEY})
    theirs = http.post("/__mock/scenarios", json={"scenario": "rate_limited", "api_key": OTHER})
    everyone = http.post("/__mock/scenarios", json={"scenario": "forbidden"})
    assert mine.status_code == theirs.status_code == everyone.status_code == 201
    # a rule holds the key's fingerprint, never the key
    assert mine.json["key"] == key_fingerprint(KEY)
    assert KEY not in mine.get_data(as_text=True)

    cleared = http.delete("/__mock/scenarios", query_string={"api_key": KEY})
    assert cleared.status_code == 200
    assert cleared.json == {"removed": 1}
    left = http.get("/__mock/scenarios").json["rules"]
    assert left == [theirs.json, everyone.json]


def test_clearing_without_a_key_removes_every_rule(app: Flask) -> None:
    http = app.test_client()
    http.post("/__mock/scenarios", json={"scenario": "server_error", "api_key": KEY})
    http.post("/__mock/scenarios", json={"scenario": "forbidden"})
    cleared = http.delete("/__mock/scenarios")
    assert cleared.json == {"removed": 2}
    assert http.get("/__mock/scenarios").json["rules"] == []


def test_a_rule_for_one_key_and_provider_refuses_only_that_keys_requests(app: Flask) -> None:
    http = app.test_client()
    added = http.post(
        "/__mock/scenarios",
        json={"scenario": "forbidden", "api_key": KEY, "provider": "gptproto", "times": 2},
    )
    assert added.status_code == 201
    assert added.json["scenario"] == "forbidden"
    assert added.json["provider"] == "gptproto"
    assert added.json["remaining"] == 2
    api = APIS["gptproto-v3"]
    with SoraMock(app).client("gptproto", api_key=OTHER) as client:
        assert api.create(client, {"Authorization": f"Bearer {OTHER}"}).status_code == 200
    with SoraMock(app).client("gptproto", api_key=KEY) as client:
        assert api.create(client, {"Authorization": f"Bearer {KEY}"}).status_code == 403


def test_a_rule_for_every_key_has_no_key(app: Flask) -> None:
    added = app.test_client().post("/__mock/scenarios", json={"scenario": "server_error"})
    assert added.status_code == 201
    assert added.json["key"] is None
    assert added.json["provider"] is None
    assert added.json["remaining"] is None


def test_an_unknown_scenario_rule_is_a_400_naming_it(app: Flask) -> None:
    answer = app.test_client().post("/__mock/scenarios", json={"scenario": "meltdown"})
    assert answer.status_code == 400
    assert "meltdown" in answer.json["error"]["message"]
    assert answer.json["error"]["type"] == "400"
    assert app.test_client().get("/__mock/scenarios").json["rules"] == []


def test_the_scenario_list_names_every_scenario_and_the_slow_delay(app: Flask) -> None:
    slow_app = create_app(test_config(slow_seconds=7.5))
    listed = admin(slow_app, "scenarios")
    effects = {s["name"]: s for s in listed["scenarios"]}
    assert effects["slow"]["effect"] == "answers normally, 7.5 s late"
    assert effects["slow"]["summary"] == "7.5 s late"
    assert effects["generation_failed"]["summary"] == "job fails later"
    assert effects["generation_failed"]["effect"] == (
        "the create succeeds, then the job fails with the provider's code"
    )
    assert effects["generation_failed"]["create_only"] is True
    assert effects["model_unavailable"]["effect"] == (
        "each provider's own model-not-found answer to a create"
    )
    assert effects["server_error"]["summary"] == "500"
    assert effects["server_error"]["effect"]  # the scenario's own words
    assert effects["server_error"]["create_only"] is False


# -- jobs -------------------------------------------------------------------------------------


def test_a_job_in_the_neutral_view(app: Flask) -> None:
    job_id = create(app, "gptproto-v3")
    view = admin(app, f"jobs/{job_id}")
    assert view["id"] == job_id
    assert view["api"] == "gptproto-v3"
    assert view["provider"] == "gptproto"
    assert view["model"] == "sora-2"
    assert view["prompt"] == "She turns around and smiles"
    assert (view["width"], view["height"], view["seconds"]) == (720, 1280, 10)
    assert view["status"] == "queued"
    assert view["progress"] == 0
    assert view["created_at"] == CLOCK_START
    assert view["started_at"] is None and view["finished_at"] is None
    assert view["planned"]["outcome"] == "completed"
    assert view["planned"]["queue_seconds"] >= 0 and view["planned"]["render_seconds"] > 0
    assert view["error"] is None
    assert view["has_reference_image"] is True
    assert view["remixed_from"] is None
    assert view["scenario"] is None
    assert view["media_url"] == f"http://localhost/__mock/media/{job_id}/video.mp4"
    assert view["replay"] is None


def test_a_failed_job_shows_its_error_and_its_times(app: Flask) -> None:
    job_id = create(app, "gptproto-v3", **{"X-Mock-Scenario": "generation_failed"})
    SoraMock(app).advance(3600)
    view = admin(app, f"jobs/{job_id}")
    assert view["status"] == "failed"
    assert view["scenario"] == "generation_failed"
    assert view["planned"]["outcome"] == "failed"
    assert view["error"]["code"] and view["error"]["message"]
    assert view["started_at"] >= view["created_at"]
    assert view["finished_at"] >= view["started_at"]


@pytest.mark.parametrize(
    ("code", "message"), [("quota", None), (None, "the render failed"), ("quota", "no quota")]
)
def test_a_failed_job_with_a_code_or_a_message_shows_its_error(
    app: Flask, code: str | None, message: str | None
) -> None:
    from jobs import make_job

    job = make_job(
        id="video_failed",
        created_at=CLOCK_START - 100,
        outcome="failed",
        error_code=code,
        error_message=message,
    )
    app.extensions["sora_mock"].store.add(job)
    view = admin(app, "jobs/video_failed")
    assert view["status"] == "failed"
    assert view["error"] == {"code": code, "message": message}


def test_a_replayed_job_names_its_cassette_and_a_job_keeps_its_notes(app: Flask) -> None:
    from jobs import make_job

    app.extensions["sora_mock"].store.add(
        make_job(
            id="video_replayed",
            created_at=CLOCK_START,
            replay="gptge-create.json",
            notes=["image resized"],
        )
    )
    view = admin(app, "jobs/video_replayed")
    assert view["replay"] == {"cassette": "gptge-create.json"}
    assert view["notes"] == ["image resized"]


def test_an_admin_error_is_written_on_the_console(app: Flask) -> None:
    from mockserver.http.console import RequestLog

    console = io.StringIO()
    app.extensions["sora_mock_console"] = RequestLog("text", console)
    assert app.test_client().get("/__mock/jobs/video_nothing").status_code == 404
    assert app.extensions["sora_mock_console"].flush()
    assert "no job 'video_nothing'" in console.getvalue()


def test_a_job_partway_shows_its_progress_rounded(app: Flask) -> None:
    job_id = create(app)
    planned = admin(app, f"jobs/{job_id}")["planned"]
    SoraMock(app).advance(planned["queue_seconds"] + planned["render_seconds"] / 3)
    view = admin(app, f"jobs/{job_id}")
    assert view["status"] == "in_progress"
    assert 0.3 < view["progress"] < 0.37
    assert view["progress"] == round(view["progress"], 4)


def test_an_unknown_job_is_a_404_naming_it(app: Flask) -> None:
    answer = app.test_client().get("/__mock/jobs/video_nothing")
    assert answer.status_code == 404
    assert answer.json["error"]["message"] == "no job 'video_nothing'"
    assert answer.json["error"]["type"] == "404"


def test_jobs_are_listed_oldest_first_and_filtered(app: Flask) -> None:
    first = create(app, "gptproto-v3")
    second = create(app, "gptge-videos", key=OTHER)
    third = create(app, "vtrix-generation")
    assert [j["id"] for j in admin(app, "jobs")["data"]] == [first, second, third]
    assert [j["id"] for j in admin(app, "jobs", order="desc")["data"]] == [third, second, first]
    assert [j["id"] for j in admin(app, "jobs", provider="gptge")["data"]] == [second]
    assert [j["id"] for j in admin(app, "jobs", api="vtrix-generation")["data"]] == [third]
    by_key = admin(app, "jobs", key=key_fingerprint(OTHER))["data"]
    assert [j["id"] for j in by_key] == [second]
    page = admin(app, "jobs", limit=2)
    assert [j["id"] for j in page["data"]] == [first, second]
    assert page["has_more"] is True
    rest = admin(app, "jobs", limit=2, after=page["next_after"])
    assert [j["id"] for j in rest["data"]] == [third]
    assert rest["has_more"] is False
    assert rest["next_after"] is None


def test_jobs_are_filtered_by_their_state_now(app: Flask) -> None:
    early = create(app)
    SoraMock(app).advance(3600)
    late = create(app)
    assert [j["id"] for j in admin(app, "jobs", status="completed")["data"]] == [early]
    assert [j["id"] for j in admin(app, "jobs", status="queued")["data"]] == [late]
    assert admin(app, "jobs", status="failed")["data"] == []


def test_the_default_page_holds_a_hundred_jobs(app: Flask) -> None:
    service = app.extensions["sora_mock"]
    from jobs import make_job

    for n in range(101):
        service.store.add(make_job(id=f"video_{n:04d}", created_at=CLOCK_START))
    page = admin(app, "jobs")
    assert len(page["data"]) == 100
    assert page["has_more"] is True


def test_an_expired_job_is_neither_listed_nor_found(app: Flask) -> None:
    job_id = create(app, "gptge-videos")  # gpt.ge keeps no expiry: take one with it
    kept = create(app, "gptproto-videos")
    service = app.extensions["sora_mock"]
    found = service.store.get(kept)
    assert found is not None and found.expires_at is not None
    SoraMock(app).advance(found.expires_at - CLOCK_START + 1)
    listed = [j["id"] for j in admin(app, "jobs")["data"]]
    assert kept not in listed and job_id in listed
    assert app.test_client().get(f"/__mock/jobs/{kept}").status_code == 404


# -- journal and requests -----------------------------------------------------------------


def test_the_journal_of_one_job_holds_its_requests_only(app: Flask) -> None:
    mine = create(app)
    create(app)
    with SoraMock(app).client("gptproto") as client:
        client.get(APIS["gptproto-v3"].status_path(mine))
    entries = admin(app, "journal", job_id=mine)["data"]
    assert [e["job_id"] for e in entries] == [mine, mine]
    assert [e["method"] for e in entries] == ["POST", "GET"]
    assert all("request" not in e for e in entries)
    assert [e["method"] for e in admin(app, "journal", job_id=mine, limit=1)["data"]] == ["GET"]
    everything = admin(app, "journal")["data"]
    assert len(everything) == 3
    assert all("request" not in e for e in everything)
    assert len(admin(app, "journal", limit=2)["data"]) == 2


def test_the_journal_keeps_a_hundred_entries_by_default(app: Flask) -> None:
    with SoraMock(app).client("gptge") as client:
        for _ in range(101):
            client.get("/v1/videos/video_none")
    assert len(admin(app, "journal")["data"]) == 100
    assert len(admin(app, "requests")["data"]) == 100


def test_the_requests_log_is_filtered_by_each_field(app: Flask) -> None:
    job_id = create(app)
    with SoraMock(app).client("gptge") as client:
        client.get("/v1/videos/video_none")
    with SoraMock(app).client("gptproto") as client:
        client.get(APIS["gptproto-v3"].status_path(job_id), headers={"X-Mock-Scenario": "slow"})
    everything = admin(app, "requests")["data"]
    assert len(everything) == 3

    def paths(**query: Any) -> list[str]:
        return [r["path"] for r in admin(app, "requests", **query)["data"]]

    status_path = "/gptproto" + APIS["gptproto-v3"].status_path(job_id)
    assert paths(provider="gptge") == ["/gptge/v1/videos/video_none"]
    assert paths(status=404) == ["/gptge/v1/videos/video_none"]
    assert paths(method="get") == ["/gptge/v1/videos/video_none", status_path]
    assert paths(method="POST") == [everything[0]["path"]]
    assert paths(job_id=job_id) == [everything[0]["path"], status_path]
    assert paths(scenario="slow") == [status_path]
    assert paths(path="/gptge/v1/videos/video_none") == ["/gptge/v1/videos/video_none"]
    assert paths(operation=everything[0]["operation"]) == [everything[0]["path"]]
    assert paths(limit=1) == [status_path]


# -- clock, reset, faults, health ---------------------------------------------------------


def test_the_clock_is_read_and_advanced(app: Flask) -> None:
    assert admin(app, "clock") == {"kind": "virtual", "now": CLOCK_START}
    moved = app.test_client().post("/__mock/clock/advance", json={"seconds": 2.5})
    assert moved.status_code == 200
    assert moved.json == {"kind": "virtual", "now": CLOCK_START + 2.5}
    assert admin(app, "clock")["now"] == CLOCK_START + 2.5


def test_a_real_clock_cannot_be_advanced(tmp_path: Path) -> None:
    app = create_app(test_config(clock="real"))
    answer = app.test_client().post("/__mock/clock/advance", json={"seconds": 1})
    assert answer.status_code == 409
    assert "--clock virtual" in answer.json["error"]["message"]
    assert admin(app, "clock")["kind"] == "real"


def test_reset_forgets_jobs_and_rules(app: Flask) -> None:
    create(app)
    http = app.test_client()
    http.post("/__mock/scenarios", json={"scenario": "forbidden"})
    answer = http.post("/__mock/reset")
    assert answer.status_code == 200
    assert answer.json == {"reset": True}
    assert admin(app, "jobs")["data"] == []
    assert admin(app, "scenarios")["rules"] == []


def test_the_fault_rate_is_set_and_read_back(app: Flask) -> None:
    before = admin(app, "faults")
    assert before["rate"] == 0
    assert "server_error" in before["scenarios"]
    answer = app.test_client().put("/__mock/faults", json={"rate": 0.25, "seed": 7})
    assert answer.status_code == 200
    assert (answer.json["rate"], answer.json["seed"]) == (0.25, 7)
    assert answer.json["scenarios"] == before["scenarios"]
    assert (admin(app, "faults")["rate"], admin(app, "faults")["seed"]) == (0.25, 7)


def test_health_names_the_clock_the_store_and_strictness(app: Flask, tmp_path: Path) -> None:
    assert admin(app, "health") == {
        "status": "ok",
        "clock": "virtual",
        "now": CLOCK_START,
        "store": "memory",
        "strict": True,
    }
    lax = create_app(test_config(store=f"sqlite:{tmp_path / 's.db'}", strict=False))
    health = admin(lax, "health")
    assert (health["store"], health["strict"]) == ("sqlite", False)
    lax.extensions["sora_mock"].store.close()


def test_a_store_that_fails_is_a_503_saying_why(app: Flask) -> None:
    service = app.extensions["sora_mock"]

    def broken(default: float) -> float:
        raise RuntimeError("disk on fire")

    service.store.clock_get = broken
    answer = app.test_client().get("/__mock/health")
    assert answer.status_code == 503
    assert answer.headers["Retry-After"].isdigit()
    message = answer.json["error"]["message"]
    assert message == "the memory store does not answer (RuntimeError: disk on fire)"


# -- sample image, files, media, contracts ------------------------------------------------


def test_the_sample_image_is_a_png_of_the_size_asked(app: Flask) -> None:
    answer = app.test_client().get("/__mock/sample-image", query_string={"size": "64x48"})
    assert answer.status_code == 200
    assert answer.mimetype == "image/png"
    assert answer.headers["Cache-Control"] == "public, max-age=86400"
    assert "cat-64x48.png" in answer.headers["Content-Disposition"]
    assert Image.open(io.BytesIO(answer.data)).size == (64, 48)
    default = app.test_client().get("/__mock/sample-image")
    assert Image.open(io.BytesIO(default.data)).size == (720, 1280)


def test_a_sample_image_size_out_of_bounds_is_a_400(app: Flask) -> None:
    answer = app.test_client().get("/__mock/sample-image", query_string={"size": "9999x10"})
    assert answer.status_code == 400
    assert "size" in answer.json["error"]["message"]


def test_an_uploaded_image_is_served_back_with_its_type(app: Flask) -> None:
    data = png(32, 32)
    http = app.test_client()
    uploaded = http.post("/__mock/files", data=data, content_type="image/png")
    assert uploaded.status_code == 201
    file_id = uploaded.json["id"]
    assert uploaded.json["url"] == f"http://localhost/__mock/files/{file_id}"
    back = http.get(f"/__mock/files/{file_id}")
    assert back.status_code == 200
    assert back.data == data
    assert back.mimetype == "image/png"
    assert back.headers["ETag"] == f'"{file_id}"'
    again = http.get(f"/__mock/files/{file_id}", headers={"If-None-Match": f'"{file_id}"'})
    assert again.status_code == 304


def test_an_upload_that_is_no_image_is_a_400_and_an_unknown_file_a_404(app: Flask) -> None:
    http = app.test_client()
    answer = http.post("/__mock/files", data=b"not an image", content_type="image/png")
    assert answer.status_code == 400
    missing = http.get("/__mock/files/file_nothing")
    assert missing.status_code == 404
    assert missing.json["error"]["message"] == "no file 'file_nothing'"


def test_an_upload_larger_than_the_files_quota_is_a_413(tmp_path: Path) -> None:
    data = png(32, 32)
    app = create_app(test_config(files_quota_bytes=len(data) - 1))
    answer = app.test_client().post("/__mock/files", data=data, content_type="image/png")
    assert answer.status_code == 413
    assert answer.json["error"]["type"] == "413"
    assert "larger than the files quota" in answer.json["error"]["message"]


def test_a_jobs_media_is_served_once_it_is_complete(app: Flask) -> None:
    job_id = create(app)
    http = app.test_client()
    early = http.get(f"/__mock/media/{job_id}/video.mp4")
    assert early.status_code == 404
    assert early.json["error"]["message"] == f"job {job_id!r} has no video yet"
    SoraMock(app).advance(3600)
    video = http.get(f"/__mock/media/{job_id}/video.mp4")
    assert video.status_code == 200
    assert video.mimetype == "video/mp4"
    thumbnail = http.get(f"/__mock/media/{job_id}/thumbnail.webp")
    assert thumbnail.status_code == 200
    assert thumbnail.mimetype == "image/webp"
    # a browser asking again with the ETag it holds gets a 304, which the contract allows
    etag = video.headers["ETag"]
    again = http.get(f"/__mock/media/{job_id}/video.mp4", headers={"If-None-Match": etag})
    assert again.status_code == 304
    unknown = http.get("/__mock/media/video_none/video.mp4")
    assert unknown.status_code == 404
    assert unknown.json["error"]["message"] == "no media 'video.mp4' for 'video_none'"


def test_the_contracts_are_listed_and_served(app: Flask) -> None:
    listed = admin(app, "contracts")["data"]
    names = [c["name"] for c in listed]
    assert "mock-admin" in names and "gptge-videos" in names
    for entry in listed:
        assert entry["url"] == f"http://localhost/__mock/contracts/{entry['name']}.yaml"
    served = app.test_client().get("/__mock/contracts/mock-admin.yaml")
    assert served.status_code == 200
    assert served.mimetype == "application/yaml"
    own = Path(__file__).resolve().parents[1] / "contracts" / "mock-admin.yaml"
    assert hashlib.sha256(served.data).digest() == hashlib.sha256(own.read_bytes()).digest()
    missing = app.test_client().get("/__mock/contracts/nothing.yaml")
    assert missing.status_code == 404
    assert missing.json["error"]["message"] == "no contract 'nothing'"


# -- the edge: who may call, and what the contract allows -----------------------------------


def test_a_change_from_another_origin_is_a_403(app: Flask) -> None:
    answer = app.test_client().post(
        "/__mock/reset", headers={"Origin": "http://evil.example", "Content-Type": "text/plain"}
    )
    assert answer.status_code == 403
    assert answer.json["error"]["type"] == "403"
    same = app.test_client().post("/__mock/reset", headers={"Origin": "http://localhost"})
    assert same.status_code == 200


def test_a_query_the_contract_refuses_is_a_400(app: Flask) -> None:
    answer = app.test_client().get("/__mock/jobs", query_string={"limit": "0"})
    assert answer.status_code == 400
    assert "limit" in answer.json["error"]["message"]


def test_a_body_of_the_wrong_type_is_a_415(app: Flask) -> None:
    answer = app.test_client().post(
        "/__mock/scenarios", data="scenario=slow", content_type="text/plain"
    )
    assert answer.status_code == 415


def test_a_bad_body_is_a_400(app: Flask) -> None:
    answer = app.test_client().post("/__mock/clock/advance", json={"seconds": "soon"})
    assert answer.status_code == 400


def test_an_unknown_admin_path_is_flasks_404_and_a_wrong_method_a_405(app: Flask) -> None:
    assert app.test_client().get("/__mock/nothing").status_code == 404
    wrong = app.test_client().put("/__mock/reset")
    assert wrong.status_code == 405
    assert "POST" in wrong.headers["Allow"]


def test_strict_mode_checks_the_admin_answers(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """An admin answer the contract does not allow is recorded as a breach in strict mode (the
    test plugin fails the test on it), and not checked when the mock is not strict."""
    import mockserver.http.admin as admin_module

    monkeypatch.setattr(admin_module, "neutral", lambda job, svc: {"id": job.id})
    job_id = create(app)
    assert app.test_client().get(f"/__mock/jobs/{job_id}").status_code == 200
    breaches = app.extensions["sora_mock"].violations
    assert len(breaches) == 1
    assert breaches[0].startswith(f"GET /__mock/jobs/{job_id} -> 200: ")
    breaches.clear()  # the breach was this test's own
    lax = create_app(test_config(strict=False))
    other = create(lax)
    assert lax.test_client().get(f"/__mock/jobs/{other}").status_code == 200
    assert list(lax.extensions["sora_mock"].violations) == []


def test_strict_mode_does_not_check_a_413_refused_unread() -> None:
    app = create_app(test_config(max_body_bytes=64))
    answer = app.test_client().post("/__mock/files", data=png(64, 64), content_type="image/png")
    assert answer.status_code == 413
    assert list(app.extensions["sora_mock"].violations) == []
