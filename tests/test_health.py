"""GET /__mock/health: 200 while the store answers, 503 in the admin error shape once it does
not (a container's health check and an orchestrator's probe rely on it)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from redis_server import redis_server

from mockserver.http.app import create_app
from mockserver.settings.config import MockConfig


def health(config: MockConfig) -> tuple[int, dict[str, object]]:
    app = create_app(config)
    answer = app.test_client().get("/__mock/health")
    assert list(app.extensions["sora_mock"].violations) == []  # strict: as its contract says
    return answer.status_code, answer.get_json()


def test_each_store_that_answers_is_healthy_and_named_by_its_kind(tmp_path: Path) -> None:
    memory = health(MockConfig(strict=True))
    sqlite = health(MockConfig(store=f"sqlite:{tmp_path}/s.sqlite", strict=True))
    assert memory[0] == sqlite[0] == 200
    assert memory[1]["store"] == "memory" and memory[1]["status"] == "ok"
    # the kind only: never the store's path (or a Redis URL's password)
    assert sqlite[1]["store"] == "sqlite"


def test_a_redis_store_that_went_away_is_503_in_the_admin_error_shape() -> None:
    with redis_server() as url:
        app = create_app(MockConfig(store=url, clock="virtual", strict=True))
        client = app.test_client()
        up = client.get("/__mock/health")
        assert up.status_code == 200 and up.get_json()["store"] == "redis"
    down = client.get("/__mock/health")  # the server is gone: the store no longer answers
    assert down.status_code == 503
    error = down.get_json()["error"]
    assert error["type"] == "503"
    assert error["message"] == "the redis store does not answer (Redis: ConnectionError)"
    assert down.headers["Retry-After"] == "1"  # as every other 503 of a store outage
    assert "Traceback" not in down.get_data(as_text=True)
    assert list(app.extensions["sora_mock"].violations) == []  # the 503 is in the contract


def test_a_sqlite_store_that_cannot_be_read_is_503(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    app = create_app(MockConfig(store=f"sqlite:{path}", strict=True))
    svc = app.extensions["sora_mock"]

    def refuse(default: float) -> float:
        raise sqlite3.OperationalError("disk I/O error")

    svc.store.clock_get = refuse
    answer = app.test_client().get("/__mock/health")
    assert answer.status_code == 503
    assert answer.get_json() == {
        "error": {
            "message": "the sqlite store does not answer (OperationalError: disk I/O error)",
            "type": "503",
        }
    }
    assert list(svc.violations) == []
