"""Retention frees the store, not only the answers: every job past its retention is deleted
by the next create's purge (a few at a time, oldest first), so a long-running mock does not
keep what no client can read any more. Reads hide an expired job by themselves (they check
its expiry), so only the store's own count shows a purge that skips one."""

from __future__ import annotations

import httpx

from mockserver.http.app import create_app
from mockserver.testing import SoraMock, test_config

RETENTION = 600.0
AUTH = {"Authorization": "Bearer sk-retention"}
TASK = {"model": "sora_2_pro_i2v", "prompt": "a kite", "size": "720x1280", "seconds": "4"}


def _create(client: httpx.Client) -> str:
    answer = client.post("/model/v1/generation", headers=AUTH, json=TASK)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def test_the_next_create_deletes_every_job_past_its_retention() -> None:
    mock = SoraMock(create_app(test_config(retention_seconds=RETENTION)))
    with mock.client("vtrix") as client:
        old = [_create(client) for _ in range(5)]
        assert mock.service.store.stats()["jobs"] == 5
        mock.advance(RETENTION + 1)
        fresh = _create(client)  # its create purges what expired
        assert mock.service.store.stats()["jobs"] == 1
        assert [job.id for job in mock.jobs()] == [fresh]
        for job_id in old:
            assert (
                client.get(f"/model/v1/generation/task/{job_id}", headers=AUTH).status_code == 404
            )
    mock.check()


def test_a_purge_takes_a_bounded_batch_and_the_next_create_takes_the_rest() -> None:
    mock = SoraMock(create_app(test_config(retention_seconds=RETENTION)))
    with mock.client("vtrix") as client:
        for _ in range(25):
            _create(client)
        mock.advance(RETENTION + 1)
        _create(client)  # 20 of the 25 go (a flat cost per create)
        assert mock.service.store.stats()["jobs"] == 1 + 5
        _create(client)
        assert mock.service.store.stats()["jobs"] == 2
    mock.check()
