"""One scenario rule switched off on its own (DELETE /__mock/scenarios/{rule_id}), in every
store, and the scenario list that says what each scenario answers with (the dashboard shows
both: a Remove button per rule, a status code per scenario name)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from redis_server import redis_server

from mockserver.http.app import create_app
from mockserver.providers.errors import MODEL_NOT_FOUND
from mockserver.state.faults import SCENARIOS, Scenario
from mockserver.state.store import Store
from mockserver.state.stores import open_store
from mockserver.testing import test_config


@pytest.fixture(params=["memory", "sqlite", "redis"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    spec = {"memory": "memory", "sqlite": f"sqlite:{tmp_path / 's.db'}"}.get(request.param)
    if spec is None:
        spec = request.getfixturevalue("redis_url")
        redis.Redis.from_url(spec).flushdb()
    app = create_app(test_config(store=spec))
    yield app
    app.extensions["sora_mock"].store.close()


def test_one_rule_removed_through_the_route_leaves_the_others_in_force(app: Flask) -> None:
    http = app.test_client()
    kept = http.post("/__mock/scenarios", json={"scenario": "server_error", "provider": "vtrix"})
    gone = http.post("/__mock/scenarios", json={"scenario": "rate_limited", "times": 3})
    assert kept.status_code == gone.status_code == 201

    removed = http.delete(f"/__mock/scenarios/{gone.json['id']}")
    assert removed.status_code == 200
    assert removed.json == gone.json  # the rule as it stood
    assert http.get("/__mock/scenarios").json["rules"] == [kept.json]
    # the removed rule no longer applies; the kept one still does
    headers = {"Authorization": "Bearer sk-x"}
    assert http.get("/gptge/v1/videos", headers=headers).status_code == 200
    assert http.get("/vtrix/model/v1/generation/task/video_x", headers=headers).status_code == 500

    again = http.delete(f"/__mock/scenarios/{gone.json['id']}")
    assert again.status_code == 404
    assert "no rule" in again.json["error"]["message"]


@pytest.mark.parametrize("rule_id", ["abc", "0", "-1", "1.5", str(2**63)])
def test_a_rule_id_that_cannot_be_one_is_a_400_not_a_500(app: Flask, rule_id: str) -> None:
    answer = app.test_client().delete(f"/__mock/scenarios/{rule_id}")
    assert answer.status_code == 400
    assert "rule_id" in answer.json["error"]["message"]


def test_the_largest_rule_id_is_answered_404(app: Flask) -> None:
    answer = app.test_client().delete(f"/__mock/scenarios/{2**63 - 1}")
    assert answer.status_code == 404


def test_the_scenario_list_says_which_status_each_scenario_answers_with(app: Flask) -> None:
    listed = app.test_client().get("/__mock/scenarios").json
    effects = {s["name"]: s for s in listed["scenarios"]}
    assert [s["name"] for s in listed["scenarios"]] == listed["known"]
    for scenario in Scenario:
        status = SCENARIOS[scenario].status
        if status is not None:
            assert effects[scenario.value]["statuses"] == [status]
    # the status is each provider's own: every one of them is listed
    assert effects["model_unavailable"]["statuses"] == sorted(
        {status for status, _, _ in MODEL_NOT_FOUND.values()}
    )
    # the request itself succeeds: no status, and the words say what happens instead
    assert effects["generation_failed"]["statuses"] == []
    assert "fails" in effects["generation_failed"]["effect"]
    assert effects["slow"]["statuses"] == []
    assert "3 s late" in effects["slow"]["effect"]
    # the few words shown beside each name
    assert effects["rate_limited"]["summary"] == "429"
    # OpenRouter's declared "not a valid model ID" is a 400
    assert effects["model_unavailable"]["summary"] == "400/404/503"
    assert effects["slow"]["summary"] == "3 s late"


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    spec = {"memory": "memory", "sqlite": f"sqlite:{tmp_path / 's.db'}"}.get(request.param)
    opened = open_store(spec or request.getfixturevalue("redis_url"))
    opened.reset()
    yield opened
    opened.reset()
    opened.close()


def test_every_store_removes_exactly_the_rule_named(store: Store) -> None:
    first = store.add_rule("slow", "key_a", None, None)
    middle = store.add_rule("forbidden", None, "gptge", 2)
    last = store.add_rule("server_error", None, None, None)
    removed = store.remove_rule(middle.id)
    assert removed is not None and removed.to_dict() == middle.to_dict()
    assert [r.to_dict() for r in store.rules()] == [first.to_dict(), last.to_dict()]
    assert store.remove_rule(middle.id) is None
    assert store.take_rule(None, "gptge") == "server_error"  # the removed one never applies


def test_a_rule_used_up_is_no_longer_there_to_remove(store: Store) -> None:
    once = store.add_rule("rate_limited", None, None, 1)
    assert store.take_rule(None, "gptge") == "rate_limited"
    assert store.remove_rule(once.id) is None
