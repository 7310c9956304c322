"""Every store (memory, SQLite, Redis) at scale: pages that stay correct while jobs come and
go, one stored copy per image, and retention."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from jobs import make_job
from redis_server import redis_server

from mockserver.state.lifecycle import Job
from mockserver.state.store import Filters, Store
from mockserver.state.stores import open_store

API, OTHER_API = "gptge-videos", "gptproto-videos"
OWNER, OTHER_OWNER = "key_aaaaaaaaaaaa", "key_bbbbbbbbbbbb"


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    kind = request.param
    spec = {
        "memory": "memory",
        "sqlite": f"sqlite:{tmp_path / 'state.sqlite'}",
    }.get(kind) or request.getfixturevalue("redis_url")
    opened = open_store(spec)
    opened.reset()
    yield opened
    opened.reset()
    opened.close()


def job(n: int, api: str = API, owner: str = OWNER, **fields: object) -> Job:
    return make_job(
        id=f"video_{n:06d}",
        api=api,
        owner=owner,
        prompt=f"job {n}",
        created_at=1000.0 + n,
        queue_seconds=1.0,
        render_seconds=5.0,
        **fields,
    )


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_pages_stay_correct_while_jobs_are_created_and_deleted(store: Store, order: str) -> None:
    rng = random.Random(7)
    mine: list[str] = []
    for n in range(120):  # interleaved with other APIs' and keys' jobs the page must skip
        api, owner = [(API, OWNER), (OTHER_API, OWNER), (API, OTHER_OWNER)][n % 3]
        store.add(job(n, api, owner))
        if (api, owner) == (API, OWNER):
            mine.append(job(n).id)
    created = list(mine)
    deleted_early: set[str] = set()
    seen: list[str] = []
    after = None
    n = 1000
    while True:
        page = store.page(Filters(API, OWNER), order=order, after=after, limit=7)
        seen += [j.id for j in page.jobs]
        assert all(j.api == API and j.owner == OWNER for j in page.jobs)
        if not page.has_more:
            break
        after = page.cursor
        # meanwhile: new jobs arrive, one not yet seen goes, and so does the page's last job
        for _ in range(2):
            n += 1
            store.add(job(n))
            created.append(job(n).id)
        unseen = [i for i in created if i not in seen and i not in deleted_early]
        if unseen:
            gone = rng.choice(unseen)
            assert store.delete(gone)
            deleted_early.add(gone)
        assert after is not None
        store.delete(after)  # the cursor itself: its place is still known
    assert len(seen) == len(set(seen)), "a job was listed twice"
    expected = [i for i in created if i not in deleted_early]
    if order == "desc":  # jobs created after the walk began are newer than its start
        expected = [i for i in reversed(created) if i not in deleted_early and i in mine]
    assert seen == expected


def test_a_page_after_an_unknown_cursor_is_empty(store: Store) -> None:
    store.add(job(1))
    page = store.page(Filters(API), after="video_unknown")
    assert (page.jobs, page.has_more) == ([], False)


def test_a_selective_filter_examines_a_bounded_number_of_jobs(store: Store) -> None:
    for n in range(50):
        store.add(job(n, OTHER_API))
    store.add(job(99))
    page = store.page(Filters(where=lambda j: j.api == API), order="asc", limit=5, scan=20)
    assert page.jobs == [] and page.has_more and page.cursor == job(19).id
    rest = store.page(
        Filters(where=lambda j: j.api == API), order="asc", after=page.cursor, limit=5
    )
    assert [j.id for j in rest.jobs] == [job(99).id] and not rest.has_more


def test_an_image_is_stored_once_for_every_job_that_uses_it(store: Store) -> None:
    image = b"\x89PNG fake image bytes" * 100
    for n in range(300):
        store.add(job(n, image_key="image:abc"), image)
    assert store.stats() == {"jobs": 300, "images": 1, "image_bytes": len(image)}
    for n in range(299):
        store.delete(job(n).id)
    assert store.get_blob("image:abc") == image, "a job still uses it"
    store.delete(job(299).id)
    assert store.get_blob("image:abc") is None
    assert store.stats() == {"jobs": 0, "images": 0, "image_bytes": 0}


def test_expired_jobs_are_found_through_an_index_oldest_first(store: Store) -> None:
    for n in range(10):
        store.add(job(n, expires_at=2000.0 + n))
    store.add(job(50))  # kept forever
    assert store.expired(2003.0, limit=100) == [job(n).id for n in range(4)]
    assert store.expired(2100.0, limit=3) == [job(n).id for n in range(3)]
