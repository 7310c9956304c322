"""Request ids (mockserver.http.exchange.new_request_id): unique across the workers a server forks,
in the shape they always had (``req_`` and 24 hex digits)."""

from __future__ import annotations

import multiprocessing
import re
import threading

from mockserver.http.exchange import Exchange, new_request_id

SHAPE = re.compile(r"req_[0-9a-f]{24}")


def _ids_in_child(queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    queue.put([new_request_id() for _ in range(500)])


def test_a_forked_worker_never_repeats_its_parents_ids() -> None:
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_ids_in_child, args=(queue,))
    child.start()
    theirs = queue.get(timeout=30)
    child.join(30)
    ours = [new_request_id() for _ in range(500)]
    assert not set(ours) & set(theirs)
    assert all(SHAPE.fullmatch(i) for i in ours + theirs)


def test_threads_of_one_worker_never_share_an_id() -> None:
    seen: list[list[str]] = []

    def draw() -> None:
        seen.append([Exchange().request_id for _ in range(2000)])

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for ids in seen for i in ids]
    assert len(set(every)) == len(every) == 8000
