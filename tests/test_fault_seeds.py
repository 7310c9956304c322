"""Seeded faults that reproduce. Setting the fault rate at run time (``PUT /__mock/faults``,
even with the seed already in force) restarts the seeded stream for every worker sharing the
store: the same PUT followed by the same requests, in the same order, gives the same faults,
the ones a server started with ``--fault-rate``/``--fault-seed`` gives, whichever worker
answers each request. Every store (memory, SQLite, Redis) keeps the stream; two apps on one
store stand for two workers (or two servers on one Redis). One test runs ``sora-mock serve
--workers 2`` itself. The requests are sequential, so their order (which request takes which
draw) is defined."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis_server import redis_server
from served import Served, served

from mockserver.http.app import create_app
from mockserver.testing import SoraMock, test_config

#: the same twelve requests each round: reads (the poll lane) and creates with a body
#: the contract refuses (JSON where it takes a form: Flask's path), so both ways draw
ROUND = 12
#: what a request answers when no fault hits it; a fault answers 429 or 500
UNFAULTED = {"GET": 200, "POST": 415}


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store_spec(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "memory":
        yield "memory"
    elif request.param == "sqlite":
        yield f"sqlite:{tmp_path / 'faults.db'}"
    else:
        yield request.getfixturevalue("redis_url")


def workers(store: str, **config: Any) -> list[SoraMock]:
    """The apps of one server: two sharing the store (one for the memory store, which a
    single worker holds), its state reset."""
    apps = [SoraMock(create_app(test_config(store=store, **config)))]
    if store != "memory":
        apps.append(SoraMock(create_app(test_config(store=store, **config))))
    apps[0].reset()
    return apps


def one_round(apps: list[SoraMock]) -> list[int]:
    """The twelve requests, in turn on each worker; their statuses."""
    statuses = []
    for n in range(ROUND):
        with apps[n % len(apps)].client("gptge") as client:
            if n % 3 == 2:
                answer = client.post("/v1/videos", json={"model": "no-such-model"})
            else:
                answer = client.get("/v1/videos")
        statuses.append(answer.status_code)
    return statuses


def put_faults(app: SoraMock, **body: Any) -> dict[str, Any]:
    with app.client("gptge") as client:
        answer = client.put(app.host + "/__mock/faults", json=body)
    assert answer.status_code == 200, answer.text
    setting: dict[str, Any] = answer.json()
    return setting


def reset(app: SoraMock) -> None:
    with app.client("gptge") as client:
        assert client.post(app.host + "/__mock/reset").status_code == 200


def started_with(rate: float, seed: int) -> list[int]:
    """The round as a fresh server started with ``--fault-rate RATE --fault-seed SEED``
    answers it (one worker, its own memory store)."""
    return one_round(workers("memory", fault_rate=rate, fault_seed=seed))


def assert_mixed(statuses: list[int]) -> None:
    """Some requests faulted (429 and 500) and some not: a comparison that can fail."""
    assert {429, 500} <= set(statuses), statuses
    assert set(UNFAULTED.values()) <= set(statuses), statuses


def test_the_same_put_then_the_same_requests_give_the_same_faults(store_spec: str) -> None:
    apps = workers(store_spec)
    put_faults(apps[0], rate=0.5, seed=7)
    first = one_round(apps)
    put_faults(apps[-1], rate=0.5, seed=7)  # the same seed again, through the other worker
    second = one_round(apps)
    assert_mixed(first)
    assert second == first
    assert first == started_with(0.5, 7)
    for app in apps:
        app.check()


def test_a_setting_holds_from_the_next_request_whichever_worker_answers(store_spec: str) -> None:
    """A worker that answered a moment ago under the old setting draws from the new one at
    once: no worker keeps a copy of the rate or the seed."""
    apps = workers(store_spec)
    unfaulted = [UNFAULTED["POST" if n % 3 == 2 else "GET"] for n in range(ROUND)]
    assert one_round(apps) == unfaulted  # the start-up rate, 0, on every worker
    put_faults(apps[0], rate=0.5, seed=7)
    assert one_round(apps) == started_with(0.5, 7)
    put_faults(apps[0], rate=0.5, seed=8)
    assert one_round(apps) == started_with(0.5, 8)
    put_faults(apps[-1], rate=0.0, seed=8)
    assert one_round(apps) == unfaulted
    put_faults(apps[0], rate=1.0)
    assert set(one_round(apps)) <= {429, 500}


def test_put_without_a_seed_and_reset_restart_the_stream(store_spec: str) -> None:
    """Started with rate 0.5 and seed 7: a PUT that names no seed keeps 7 and restarts the
    stream; a reset goes back to the start-up setting, from the first draw, on every worker."""
    apps = workers(store_spec, fault_rate=0.5, fault_seed=7)
    first = one_round(apps)
    assert_mixed(first)
    assert put_faults(apps[-1], rate=0.5)["seed"] == 7
    assert one_round(apps) == first
    put_faults(apps[0], rate=0.5, seed=8)
    one_round(apps)
    reset(apps[0])
    assert one_round(apps) == first


def test_seed_0_can_be_set_at_run_time_and_repeats() -> None:
    """Started with seed 7, set to seed 0 at run time: the faults are seed 0's, every time."""
    (app,) = workers("memory", fault_rate=0.0, fault_seed=7)
    assert put_faults(app, rate=0.5, seed=0) == {
        "rate": 0.5,
        "seed": 0,
        "scenarios": ["rate_limited", "server_error"],
    }
    with app.client("gptge") as client:
        assert client.get(app.host + "/__mock/faults").json()["seed"] == 0
    first = one_round([app])
    put_faults(app, rate=0.5, seed=0)
    assert one_round([app]) == first
    assert_mixed(first)
    assert first == started_with(0.5, 0) != started_with(0.5, 7)


# ------------------------------------------------------------------ a served server


def served_round(server: Served) -> list[int]:
    """The twelve requests, each on a new connection (so both workers answer some)."""
    statuses = []
    for n in range(ROUND):
        with server.client("gptge/v1") as client:
            if n % 3 == 2:
                answer = client.post("/videos", json={"model": "no-such-model"})
            else:
                answer = client.get("/videos/video_missing")
        statuses.append(answer.status_code)
    return statuses


def test_two_served_workers_repeat_the_faults_after_the_same_put() -> None:
    with served() as server:  # 2 workers on one SQLite store
        with server.client() as admin:
            rounds = []
            for _ in range(2):
                put = admin.put("/__mock/faults", json={"rate": 0.5, "seed": 7})
                assert put.status_code == 200, put.text
                rounds.append(served_round(server))
            journal = admin.get("/__mock/journal", params={"limit": 1000}).json()["data"]
    first, second = rounds
    assert second == first
    assert {429, 500} <= set(first) and {404, 415} <= set(first), first
    draws = [e for e in journal if e["path"].startswith("/gptge/")]
    assert len(draws) == 2 * ROUND
    assert len({e["worker"] for e in draws}) == 2, "one worker answered every request"
