"""Every documented error is reachable on demand, in the provider's own shape, four ways:
a request header, a per-key rule, a global rule, and a seeded random fault rate."""

from __future__ import annotations

import pytest
from providers import APIS, Api

from mockserver.http.app import create_app
from mockserver.testing import SoraMock, test_config

KEY = "sk-test"
HEADERS = {"Authorization": f"Bearer {KEY}"}


def error_fields(api: Api, body: dict) -> tuple[str, str | None]:
    """(message, provider code) from each family's error shape."""
    error = body["error"]
    if api.provider == "vtrix":
        return error["error_message"], error["code"]
    return error["message"], error.get("code")


REQUEST_SCENARIOS = [
    ("unauthorized", 401),
    ("forbidden", 403),
    ("insufficient_balance", 403),
    ("rate_limited", 429),
    ("server_error", 500),
    ("content_policy", 400),
]


@pytest.mark.parametrize("api_id", sorted(APIS))
@pytest.mark.parametrize(("scenario", "status"), REQUEST_SCENARIOS)
def test_header_scenario_answers_the_documented_status_and_shape(
    sora_mock: SoraMock, api_id: str, scenario: str, status: int
) -> None:
    api = APIS[api_id]
    with sora_mock.client(api.provider) as client:
        response = api.create(client, HEADERS | {"X-Mock-Scenario": scenario})
    assert response.status_code == status, response.text
    message, code = error_fields(api, response.json())
    assert message
    if scenario == "rate_limited":
        assert int(response.headers["Retry-After"]) >= 1
    if scenario == "content_policy":
        assert code in {"content_policy_violation", "moderation_blocked"}
    if scenario == "insufficient_balance" and api.provider != "vtrix":
        # gpt.ge answers as the new-api relay does (contracts/README.md, issue 12 item 3)
        expected = "insufficient_user_quota" if api.provider == "gptge" else "insufficient_balance"
        assert code == expected
    assert sora_mock.jobs() == [], "a refused create must not make a job"


@pytest.mark.parametrize("api_id", sorted(APIS))
def test_generation_failed_job_fails_midway_with_the_provider_code(
    sora_mock: SoraMock, api_id: str
) -> None:
    api = APIS[api_id]
    with sora_mock.client(api.provider) as client:
        created = api.create(client, HEADERS | {"X-Mock-Scenario": "generation_failed"})
        assert created.status_code == 200
        job_id = api.job_id(created.json())
        seen, progress = [], [api.progress(created.json())]
        for _ in range(100):
            sora_mock.advance(0.5)
            body = client.get(api.status_path(job_id)).json()
            seen.append(api.status(body))
            progress.append(api.progress(body))
            if seen[-1] == api.words[3]:
                break
    assert api.words[1] in seen, "the job should run for a while before failing"
    assert seen[-1] == api.words[3]
    assert progress == sorted(progress), f"progress went backwards: {progress}"
    if api.name != "gptproto-v3":  # the others report progress: a failure keeps what it reached
        running = [p for p, s in zip(progress[1:], seen, strict=True) if s == api.words[1]]
        assert 0 < running[-1] <= progress[-1] < 1, progress
    if api.provider == "vtrix":
        assert body["error"] == {"code": "003000095", "error_message": "Internal generation error"}
        assert "output" not in body
    elif api.name == "gptproto-v3":
        assert body["data"]["error"] and body["data"]["outputs"] == []
    else:
        assert body["error"]["code"] and body["error"]["message"]


@pytest.mark.parametrize("code", ["003000095", "003000096", "003000097", "003000098", "003000099"])
def test_vtrix_failure_code_can_be_chosen(sora_mock: SoraMock, code: str) -> None:
    api = APIS["vtrix-generation"]
    with sora_mock.client("vtrix") as client:
        created = api.create(client, HEADERS | {"X-Mock-Scenario": f"generation_failed:{code}"})
        sora_mock.advance(60)
        body = client.get(api.status_path(created.json()["id"])).json()
    assert body["status"] == "failed"
    assert body["error"]["code"] == code


def test_unknown_vtrix_failure_code_is_refused(sora_mock: SoraMock) -> None:
    api = APIS["vtrix-generation"]
    with sora_mock.client("vtrix") as client:
        response = api.create(client, HEADERS | {"X-Mock-Scenario": "generation_failed:42"})
    assert response.status_code == 400


def test_unknown_scenario_is_a_400_naming_the_known_ones(sora_mock: SoraMock) -> None:
    with sora_mock.client("gptge") as client:
        response = client.get("/v1/videos", headers={"X-Mock-Scenario": "meteor_strike"})
    assert response.status_code == 400
    assert "rate_limited" in response.json()["error"]["message"]


def test_per_key_rule_hits_only_that_key_and_runs_out(sora_mock: SoraMock) -> None:
    sora_mock.set_scenario("insufficient_balance", api_key="sk-poor", times=2)
    with sora_mock.client("gptge") as client:
        poor = {"Authorization": "Bearer sk-poor"}
        assert client.get("/v1/videos", headers=poor).status_code == 403
        assert client.get("/v1/videos").status_code == 200  # another key
        assert client.get("/v1/videos", headers=poor).status_code == 403
        assert client.get("/v1/videos", headers=poor).status_code == 200  # used up


def test_global_rule_through_the_admin_api_hits_one_provider(sora_mock: SoraMock) -> None:
    with sora_mock.client("gptge") as client:
        added = client.post(
            sora_mock.host + "/__mock/scenarios",
            json={"scenario": "server_error", "provider": "vtrix"},
        )
        assert added.status_code == 201
        assert added.json()["key"] is None
        assert client.get("/v1/videos").status_code == 200
    with sora_mock.client("vtrix") as client:
        assert client.get("/model/v1/generation/task/video_x").status_code == 500
        cleared = client.delete(sora_mock.host + "/__mock/scenarios")
        assert cleared.json() == {"removed": 1}
        assert client.get("/model/v1/generation/task/video_x").status_code == 404


def test_admin_rule_never_stores_the_key_itself(sora_mock: SoraMock) -> None:
    secret = "sk-SECRET-do-not-store-0123"
    with sora_mock.client("gptge") as client:
        rule = client.post(
            sora_mock.host + "/__mock/scenarios",
            json={"scenario": "rate_limited", "api_key": secret},
        ).json()
        listed = client.get(sora_mock.host + "/__mock/scenarios").text
        client.get("/v1/videos", headers={"Authorization": f"Bearer {secret}"})
        journal = client.get(sora_mock.host + "/__mock/journal").text
    assert rule["key"].startswith("key_")
    for text in (str(rule), listed, journal):
        assert secret not in text


def test_random_faults_are_reproducible_from_the_seed() -> None:
    def statuses(seed: int) -> list[int]:
        mock = SoraMock(create_app(test_config(fault_rate=0.3, fault_seed=seed)))
        with mock.client("gptge") as client:
            return [client.get("/v1/videos").status_code for _ in range(40)]

    first, again, other = statuses(7), statuses(7), statuses(8)
    assert first == again
    assert first != other
    assert set(first) == {200, 429, 500}


def test_rate_limit_refills_on_the_mock_clock() -> None:
    # 7 a minute: a token every 60/7 = 8.57 s, so Retry-After must round *up*, to 9 (a
    # client obeying a rounded-down 8 would be refused again)
    mock = SoraMock(create_app(test_config(rate_limit_rpm=7)))
    with mock.client("gptge") as client:
        assert [client.get("/v1/videos").status_code for _ in range(7)] == [200] * 7
        limited = client.get("/v1/videos")
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "9"
        other = client.get("/v1/videos", headers={"Authorization": "Bearer sk-other"})
        assert other.status_code == 200
        mock.advance(8)  # 0.57 s short of a token: still refused, and told to wait 1 s
        again = client.get("/v1/videos")
        assert (again.status_code, again.headers["Retry-After"]) == (429, "1")
        mock.advance(1)
        assert client.get("/v1/videos").status_code == 200
        refused = client.get("/v1/videos")
        assert (refused.status_code, refused.headers["Retry-After"]) == (429, "9")


def test_slow_scenario_delays_then_answers_normally(sora_mock: SoraMock) -> None:
    waited: list[float] = []
    service = sora_mock.service
    original = service.sleep
    service.sleep = waited.append
    try:
        with sora_mock.client("gptge") as client:
            response = client.get("/v1/videos", headers={"X-Mock-Scenario": "slow"})
    finally:
        service.sleep = original
    assert response.status_code == 200
    assert waited == [service.config.slow_seconds]


@pytest.mark.parametrize(
    ("provider", "path", "header", "status"),
    [
        ("gptproto", "/v1/videos", None, 401),
        ("gptproto", "/v1/videos", "sk-raw-key", 200),  # GPTProto documents the raw key
        ("gptproto", "/v1/videos", "Bearer sk-bearer", 200),  # and its auth page Bearer
        ("gptge", "/v1/videos", "sk-raw-key", 401),  # gpt.ge: Bearer only
        ("gptge", "/v1/videos", "Bearer ", 401),
        ("vtrix", "/model/v1/generation/task/x", "sk-raw-key", 401),
        ("vtrix", "/model/v1/generation/task/x", "Bearer sk-ok", 404),
    ],
)
def test_auth_exactly_as_each_provider_documents(
    sora_mock: SoraMock, provider: str, path: str, header: str | None, status: int
) -> None:
    with sora_mock.client(provider) as client:
        client.headers.pop("Authorization")
        headers = {"Authorization": header} if header is not None else {}
        response = client.get(path, headers=headers)
    assert response.status_code == status, response.text


def test_allowed_keys_refuse_others() -> None:
    mock = SoraMock(create_app(test_config(api_keys=("sk-good",))))
    with mock.client("gptge", api_key="sk-good") as client:
        assert client.get("/v1/videos").status_code == 200
        bad = client.get("/v1/videos", headers={"Authorization": "Bearer sk-bad"})
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "invalid_api_key"
