"""The journal reaches the store at once when a worker is idle, in batches under load, and
always before the worker's answers to it are read (mockserver.state.journal)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from mockserver.http.app import create_app, service_of
from mockserver.state import journal
from mockserver.state.journal import JournalWriter
from mockserver.testing import test_config


class Sink:
    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []

    def journal_add(self, *entries: dict[str, Any]) -> None:
        self.batches.append(list(entries))


def entry(n: int) -> dict[str, Any]:
    return {"request_id": f"req_{n}"}


def test_an_idle_worker_writes_each_entry_at_once() -> None:
    sink = Sink()
    writer = JournalWriter(sink, max_age=3600)
    for n in range(3):
        writer.opened()
        writer.closed(entry(n))
    assert sink.batches == [[entry(0)], [entry(1)], [entry(2)]]


def test_under_load_entries_wait_for_the_last_request_in_flight_and_keep_their_order() -> None:
    sink = Sink()
    writer = JournalWriter(sink, max_age=3600)
    for _ in range(3):
        writer.opened()
    writer.closed(entry(0))
    writer.closed(entry(1))
    assert sink.batches == []  # one request still in flight
    writer.closed(None)  # it was not a provider request: nothing of its own to write
    assert sink.batches == [[entry(0), entry(1)]]


def test_a_full_batch_is_written_even_while_requests_are_in_flight() -> None:
    sink = Sink()
    writer = JournalWriter(sink, max_batch=4, max_age=3600)
    writer.opened()  # a long request that stays open
    for n in range(9):
        writer.opened()
        writer.closed(entry(n))
    assert sink.batches == [[entry(n) for n in range(4)], [entry(n) for n in range(4, 8)]]
    writer.flush()
    assert sink.batches[-1] == [entry(8)]


def test_an_old_entry_is_written_by_the_next_answer_even_under_load() -> None:
    sink = Sink()
    writer = JournalWriter(sink, max_age=0)
    writer.opened()
    writer.opened()
    writer.closed(entry(0))
    assert sink.batches == [[entry(0)]]


def test_reading_the_journal_first_writes_what_this_worker_holds() -> None:
    app = create_app(test_config())
    service = service_of(app)
    service.journal_writer.max_age = 3600
    service.request_opened()  # a request in flight keeps the next entries waiting
    client = app.test_client()
    answer = client.get("/gptge/v1/videos/video_x", headers={"Authorization": "Bearer sk-a"})
    assert answer.status_code == 404
    assert service.store.journal(10) == []  # waiting for the request in flight
    journal = client.get("/__mock/journal").get_json()["data"]
    assert [e["request_id"] for e in journal] == [answer.headers["x-request-id"]]


def test_answers_under_load_never_queue_behind_a_write_under_way() -> None:
    """Only the last answer in flight must wait for a write; others leave their entries to
    the write after the one under way."""
    import threading

    release = threading.Event()
    writing = threading.Event()

    class SlowSink(Sink):
        def journal_add(self, *entries: dict[str, Any]) -> None:
            writing.set()
            release.wait(30)
            super().journal_add(*entries)

    sink = SlowSink()
    writer = JournalWriter(sink, max_batch=1, max_age=3600)
    for _ in range(3):
        writer.opened()
    first = threading.Thread(target=writer.closed, args=(entry(0),))  # a full batch: writes
    first.start()
    assert writing.wait(30)
    second = threading.Thread(target=writer.closed, args=(entry(1),))
    second.start()
    second.join(30)
    assert not second.is_alive(), "an answer under load waited for another's write"
    release.set()
    first.join(30)
    assert sink.batches == [[entry(0)]]
    writer.closed(None)  # the last in flight writes what was left
    assert sink.batches == [[entry(0)], [entry(1)]]


class FailingSink(Sink):
    """A store that refuses journal writes (a full disk) until told otherwise."""

    def __init__(self) -> None:
        super().__init__()
        self.failing = True

    def journal_add(self, *entries: dict[str, Any]) -> None:
        if self.failing:
            raise OSError(28, "No space left on device")
        super().journal_add(*entries)


def test_a_store_refusing_journal_writes_never_fails_an_answer_and_loses_nothing_it_keeps(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal, "MAX_WAITING", 4)
    sink = FailingSink()
    writer = JournalWriter(sink, max_age=3600)
    with caplog.at_level(logging.WARNING, logger="mockserver"):
        for n in range(6):  # six answers while the disk is full: none raises
            writer.opened()
            writer.closed(entry(n))
        writer.flush()  # a journal read while it is full: no error either
        assert sink.batches == []
        failures = [r for r in caplog.records if "journal failed" in r.getMessage()]
        assert len(failures) == 1  # once, not per answer
        sink.failing = False
        writer.opened()
        writer.closed(entry(6))
    # the newest four that waited, in order, then the new one, in one write
    assert sink.batches == [[entry(2), entry(3), entry(4), entry(5), entry(6)]]
    assert any("works again" in r.getMessage() for r in caplog.records)
