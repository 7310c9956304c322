"""What the recorder writes (``mockserver.conformance.recorder``): one cassette per job, named
after the job; its create, status reads and downloads with their offsets, answers and
verdicts; the media a finished job names fetched once each (or noted); every credential the
exchanges carried redacted.

The recorder is fed exchanges directly (no proxy). Media fetches go through a stand-in for
``remote.fetch_into`` that records how it was called, so no test opens a socket; the real
fetch under its address policy is ``tests/test_recorder_media.py``'s.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from werkzeug.datastructures import Headers

import contracts
from mockserver.conformance import cassettes, recorder
from mockserver.conformance.recorder import (
    Observed,
    Recorder,
    _media_words,
    _on_loopback,
    _safe,
    _shown,
    _urls,
    media_policy,
)
from mockserver.conformance.results import Drift
from mockserver.media import remote

GPTGE = contracts.load("gptge-videos")
V3 = contracts.load("gptproto-v3")
CHAT = contracts.load("gptproto-chat")
JOB = "video_0123456789abcdef"
KEY = "sk-recorder-test-key-0123456789"
VIDEO = b"\x00\x00\x00\x18ftypmp42" + b"v" * 40
UPSTREAM = "https://api.gpt.ge"


class Fetches:
    """Stands in for ``remote.fetch_into``: each URL's answer is given by the test."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.answers: dict[str, tuple[bytes, str] | str] = {}

    def __call__(self, url: str, write: Any, **options: Any) -> str:
        self.calls.append((url, options))
        answer = self.answers.get(url, (VIDEO, "video/mp4; codecs=avc1"))
        if isinstance(answer, str):
            raise remote.FetchError(answer)
        data, content_type = answer
        write(data[:10])
        write(data[10:])
        return content_type


@pytest.fixture
def fetches(monkeypatch: pytest.MonkeyPatch) -> Fetches:
    fake = Fetches()
    monkeypatch.setattr(recorder.remote, "fetch_into", fake)
    return fake


def seen(
    op_id: str,
    path: str,
    document: Any = None,
    *,
    contract: contracts.Contract = GPTGE,
    method: str = "GET",
    started: float = 1000.0,
    status: int | None = 200,
    **more: Any,
) -> Observed:
    return Observed(
        operation=contract.operation(op_id),
        method=method,
        path=path,
        query=more.pop("query", []),
        request_headers=more.pop(
            "request_headers",
            Headers({"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}),
        ),
        request_body=more.pop("request_body", b'{"prompt": "a cat", "model": "sora-2"}'),
        started=started,
        status=status,
        response_headers=more.pop(
            "response_headers", Headers({"Content-Type": "application/json"})
        ),
        document=document,
        **more,
    )


def create(started: float = 1000.0, job: str = JOB, **more: Any) -> Observed:
    return seen(
        "createVideo",
        "/v1/videos",
        {"id": job, "status": "queued"},
        method="POST",
        started=started,
        **more,
    )


def poll(word: str, started: float, job: str = JOB, **more: Any) -> Observed:
    document = {"id": job, "status": word, **more.pop("extra", {})}
    return seen("getVideo", f"/v1/videos/{job}", document, started=started, **more)


def cassette(directory: Path, index: int = 0) -> dict[str, Any]:
    files = list(cassettes.iter_files(directory))
    return dict(json.loads(files[index].read_text()))


def make(directory: Path, contract: contracts.Contract = GPTGE, **options: Any) -> Recorder:
    return Recorder(directory, options.pop("provider", "gptge"), contract, UPSTREAM, **options)


# --------------------------------------------------------------------------- one job


def test_a_create_opens_a_cassette_named_after_its_job(tmp_path: Path, fetches: Fetches) -> None:
    rec = make(tmp_path / "new")
    rec.record(create())
    (path,) = cassettes.iter_files(tmp_path / "new")
    assert path.name == f"gptge-0000-{JOB}.json"
    data = cassette(tmp_path / "new")
    assert data["format"] == cassettes.FORMAT
    assert (data["provider"], data["contract"], data["sequence"]) == ("gptge", "gptge-videos", 0)
    assert data["upstream"] == UPSTREAM and data["job_id"] == JOB
    assert data["polls"] == [] and data["downloads"] == [] and data["media_urls"] == []
    assert data["recorded_at"].endswith("Z") and len(data["recorded_at"]) == 20


def test_the_cassette_directory_is_made_with_its_parents(tmp_path: Path, fetches: Fetches) -> None:
    rec = make(tmp_path / "a" / "b", fetch_media=False)
    rec.record(create())
    assert [p.name for p in cassettes.iter_files(tmp_path / "a" / "b")] == [
        f"gptge-0000-{JOB}.json"
    ]


def test_the_recording_time_is_utc(
    tmp_path: Path, fetches: Fetches, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime, timedelta

    class Clock(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            utc = datetime(2026, 12, 7, 3, 4, 5, tzinfo=UTC)
            return (
                utc
                if tz is not None and tz.utcoffset(None) == timedelta(0)
                else utc + timedelta(hours=9)
            )

    monkeypatch.setattr(recorder, "datetime", Clock)
    make(tmp_path, fetch_media=False).record(create())
    assert cassette(tmp_path)["recorded_at"] == "2026-12-07T03:04:05Z"


def test_a_create_without_a_content_type_is_summarized_by_its_bytes(
    tmp_path: Path, fetches: Fetches
) -> None:
    make(tmp_path, fetch_media=False).record(
        create(request_headers=Headers({"Authorization": f"Bearer {KEY}"}), request_body=b"raw")
    )
    request = cassette(tmp_path)["create"]["request"]
    assert request["headers"] == {}
    assert request["body"] == {
        "content_type": "",
        "sha256": cassettes.summarize_request("", b"raw")[0]["sha256"],
        "size": 3,
    }


def test_the_create_is_kept_with_its_request_summary_and_answer(
    tmp_path: Path, fetches: Fetches
) -> None:
    make(tmp_path).record(create())
    entry = cassette(tmp_path)["create"]
    assert (entry["operation"], entry["method"], entry["path"]) == (
        "createVideo",
        "POST",
        "/v1/videos",
    )
    summary, sha, prompt = cassettes.summarize_request(
        "application/json", b'{"prompt": "a cat", "model": "sora-2"}'
    )
    assert entry["request"] == {
        "headers": {"content-type": "application/json"},  # never the Authorization
        "body": summary,
        "body_sha256": sha,
        "prompt": prompt,
    }
    assert prompt == "a cat"
    assert entry["response"] == {
        "status": 200,
        "headers": {"content-type": "application/json"},
        "body": {"id": JOB, "status": "queued"},
    }
    assert entry["verdict"] == {"ok": True, "problems": []}
    assert "events" not in entry


def test_a_create_with_drift_records_its_verdict(tmp_path: Path, fetches: Fetches) -> None:
    problems = [Drift("/status", "bad word"), Drift("header x-request-id", "missing")]
    make(tmp_path).record(create(problems=problems))
    assert cassette(tmp_path)["create"]["verdict"] == {
        "ok": False,
        "problems": [
            {"where": "/status", "message": "bad word"},
            {"where": "header x-request-id", "message": "missing"},
        ],
    }


def test_status_reads_and_downloads_are_kept_in_order_with_their_offsets(
    tmp_path: Path, fetches: Fetches
) -> None:
    rec = make(tmp_path, fetch_media=False)
    rec.record(create(started=1000.0))
    rec.record(poll("in_progress", 1002.5, query=[("a", "1"), ("a", "2")]))
    rec.record(
        seen(
            "getVideoContent",
            f"/v1/videos/{JOB}/content",
            started=1010.1234,
            response_headers=Headers({"Content-Type": "video/mp4", "Content-Length": "48"}),
            media={"sha256": "ab", "size": 48, "content_type": "video/mp4", "file": "media/x.mp4"},
            problems=[Drift("body", "not an MP4")],
        )
    )
    rec.record(poll("completed", 1004.0))
    data = cassette(tmp_path)
    assert [p["offset"] for p in data["polls"]] == [2.5, 4.0]
    assert data["polls"][0] == {
        "offset": 2.5,
        "operation": "getVideo",
        "method": "GET",
        "path": f"/v1/videos/{JOB}",
        "query": [["a", "1"], ["a", "2"]],
        "response": {
            "status": 200,
            "headers": {"content-type": "application/json"},
            "body": {"id": JOB, "status": "in_progress"},
        },
        "verdict": {"ok": True, "problems": []},
    }
    (download,) = data["downloads"]
    assert download["offset"] == 10.123 and download["operation"] == "getVideoContent"
    assert download["response"]["headers"] == {"content-type": "video/mp4", "content-length": "48"}
    assert download["response"]["media"]["file"] == "media/x.mp4"
    assert download["verdict"] == {
        "ok": False,
        "problems": [{"where": "body", "message": "not an MP4"}],
    }


def test_a_text_answer_or_a_media_note_is_kept_as_given(tmp_path: Path, fetches: Fetches) -> None:
    rec = make(tmp_path, fetch_media=False)
    rec.record(create())
    rec.record(
        seen(
            "getVideoContent",
            f"/v1/videos/{JOB}/content",
            status=502,
            response_headers=Headers({"Content-Type": "text/html"}),
            text="<h1>502</h1>",
            media_note="not stored: too big",
        )
    )
    (download,) = cassette(tmp_path)["downloads"]
    assert download["response"] == {
        "status": 502,
        "headers": {"content-type": "text/html"},
        "text": "<h1>502</h1>",
        "media_note": "not stored: too big",
    }


def test_only_the_answer_headers_worth_keeping_are_written(
    tmp_path: Path, fetches: Fetches
) -> None:
    headers = Headers(
        {
            "Content-Type": "application/json",
            "X-Request-Id": "req_1",
            "openai-poll-after-ms": "2000",
            "Set-Cookie": "session=SECRET",
            "Server": "nginx",
            "Retry-After": "3",
        }
    )
    rec = make(tmp_path, fetch_media=False)
    rec.record(create())
    rec.record(poll("queued", 1001.0, response_headers=headers))
    kept = cassette(tmp_path)["polls"][0]["response"]["headers"]
    assert kept == {
        "content-type": "application/json",
        "x-request-id": "req_1",
        "openai-poll-after-ms": "2000",
        "retry-after": "3",
    }


def test_a_header_the_contract_declares_is_kept_too(
    tmp_path: Path, fetches: Fetches, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = make(tmp_path, fetch_media=False)
    asked: list[tuple[str, int]] = []

    def declared(op: Any, status: int) -> dict[str, Any]:
        asked.append((op.operation_id, status))
        return {"headers": {"X-Trace-Id": {"schema": {"type": "string"}}}}

    monkeypatch.setattr(rec.map, "response_def", declared)
    headers = Headers({"Content-Type": "application/json", "X-Trace-Id": "t1", "X-Other": "o"})
    rec.record(create(response_headers=headers, status=201))
    response = cassette(tmp_path)["create"]["response"]
    assert response["headers"] == {"content-type": "application/json", "x-trace-id": "t1"}
    assert asked[-1] == ("createVideo", 201)


def test_the_keys_an_exchange_carried_are_redacted_everywhere(
    tmp_path: Path, fetches: Fetches
) -> None:
    other = "sk-second-key-abcdefghijklmnop"
    rec = make(tmp_path, fetch_media=False)
    rec.record(create(secrets=["plainsecretvalue1"]))
    rec.record(
        poll("queued", 1001.0, secrets=[other], extra={"note": "plainsecretvalue1 " + other})
    )
    rec.record(poll("queued", 1002.0, extra={"echo": "again plainsecretvalue1"}))
    text = (next(cassettes.iter_files(tmp_path))).read_text()
    assert "plainsecretvalue1" not in text and other not in text and KEY not in text
    assert text.count("[REDACTED]") >= 3


# --------------------------------------------------------------------------- which job


def test_each_job_gets_its_own_cassette_in_sequence(tmp_path: Path, fetches: Fetches) -> None:
    rec = make(tmp_path, fetch_media=False)
    rec.record(create(job="video_a"))
    rec.record(create(job="video_b"))
    rec.record(poll("queued", 1001.0, job="video_b"))
    names = [p.name for p in cassettes.iter_files(tmp_path)]
    assert names == ["gptge-0000-video_a.json", "gptge-0001-video_b.json"]
    assert cassette(tmp_path, 0)["polls"] == [] and len(cassette(tmp_path, 1)["polls"]) == 1
    assert cassette(tmp_path, 1)["sequence"] == 1


def test_a_new_recorder_goes_on_after_the_cassettes_already_there(
    tmp_path: Path, fetches: Fetches
) -> None:
    make(tmp_path, fetch_media=False).record(create(job="video_a"))
    (tmp_path / "notes.json").write_text("not a cassette")  # unreadable: ignored
    again = make(tmp_path, fetch_media=False)
    again.record(create(job="video_b"))
    again.record(create(job="video_c"))
    names = sorted(p.name for p in cassettes.iter_files(tmp_path))
    assert "gptge-0001-video_b.json" in names and "gptge-0002-video_c.json" in names


def test_a_read_of_an_unknown_job_is_not_recorded(tmp_path: Path, fetches: Fetches) -> None:
    rec = make(tmp_path, fetch_media=False)
    rec.record(create(job="video_a"))
    rec.record(poll("queued", 1001.0, job="video_other"))
    assert cassette(tmp_path)["polls"] == []
    assert len(list(cassettes.iter_files(tmp_path))) == 1


def test_an_exchange_with_no_operation_or_no_answer_is_not_recorded(
    tmp_path: Path, fetches: Fetches
) -> None:
    rec = make(tmp_path, fetch_media=False)
    rec.record(create(status=None))
    no_op = create()
    no_op.operation = None
    rec.record(no_op)
    assert list(cassettes.iter_files(tmp_path)) == []
    rec.record(create())
    rec.record(poll("queued", 1001.0, status=None))
    assert cassette(tmp_path)["polls"] == []


@pytest.mark.parametrize(
    ("status", "document"),
    [(400, {"id": JOB, "status": "queued"}), (200, {"status": "queued"}), (200, None)],
    ids=["refused", "no-id", "no-body"],
)
def test_a_create_without_a_job_id_is_a_cassette_of_its_own(
    tmp_path: Path, fetches: Fetches, status: int, document: Any
) -> None:
    rec = make(tmp_path, fetch_media=False)
    rec.record(seen("createVideo", "/v1/videos", document, method="POST", status=status))
    (path,) = cassettes.iter_files(tmp_path)
    assert path.name == "gptge-0000-create.json"
    assert cassette(tmp_path)["job_id"] is None
    rec.record(poll("queued", 1001.0))  # no job to attach it to
    assert cassette(tmp_path)["polls"] == []


def test_a_create_with_a_redirect_status_has_no_job(tmp_path: Path, fetches: Fetches) -> None:
    rec = make(tmp_path, fetch_media=False)
    rec.record(seen("createVideo", "/v1/videos", {"id": JOB}, method="POST", status=300))
    assert cassette(tmp_path)["job_id"] is None
    rec.record(seen("createVideo", "/v1/videos", {"id": JOB}, method="POST", status=299))
    assert cassette(tmp_path, 1)["job_id"] == JOB


def test_a_job_id_is_found_where_the_contract_puts_it(tmp_path: Path, fetches: Fetches) -> None:
    rec = make(tmp_path, V3, provider="gptproto-v3", fetch_media=False)
    rec.record(
        seen(
            "createSora2ImageToVideo",
            "/api/v3/openai/reverse/sora-2/image-to-video",
            {"code": 200, "data": {"id": "pred/1 x", "status": "created"}},
            contract=V3,
            method="POST",
        )
    )
    (path,) = cassettes.iter_files(tmp_path)
    assert path.name == "gptproto-v3-0000-pred_1_x.json"  # made safe for a file name
    assert cassette(tmp_path)["job_id"] == "pred/1 x"


def test_a_number_as_job_id_is_kept_as_text(tmp_path: Path, fetches: Fetches) -> None:
    rec = make(tmp_path, fetch_media=False)
    rec.record(seen("createVideo", "/v1/videos", {"id": 42}, method="POST"))
    assert cassette(tmp_path)["job_id"] == "42"
    rec.record(seen("getVideo", "/v1/videos/42", {"id": "42", "status": "queued"}))
    assert len(cassette(tmp_path)["polls"]) == 1


# --------------------------------------------------------------------------- media URLs


def finished(tmp_path: Path, *urls: str, **options: Any) -> dict[str, Any]:
    rec = make(tmp_path, **options)
    rec.record(create())
    document = {"id": JOB, "status": "completed", "assets": {"urls": list(urls)}}
    rec.record(seen("getVideo", f"/v1/videos/{JOB}", document, started=1030.0))
    return cassette(tmp_path)


def test_the_media_a_finished_job_names_is_fetched_and_kept_by_hash(
    tmp_path: Path, fetches: Fetches
) -> None:
    url = "https://cdn.example.com/v.mp4?sig=abc"
    data = finished(tmp_path, url)
    ((called, options),) = fetches.calls
    assert called == url
    assert options == {
        "max_bytes": cassettes.DEFAULT_MEDIA_CAP,
        "deadline_seconds": recorder.MEDIA_FETCH_SECONDS,
        "allowed": remote.public_only,
        "accept": "*/*",
    }
    (entry,) = data["media_urls"]
    assert entry["url"] == url
    assert entry["media"]["content_type"] == "video/mp4"  # its parameters dropped
    assert entry["media"]["size"] == len(VIDEO) and entry["media"]["file"].endswith(".mp4")
    assert (tmp_path / entry["media"]["file"]).read_bytes() == VIDEO
    assert "note" not in entry


def test_the_fetch_uses_the_recorder_s_cap_deadline_and_policy(
    tmp_path: Path, fetches: Fetches
) -> None:
    rec = Recorder(
        tmp_path, "gptge", GPTGE, "http://127.0.0.1:9/gptge/", media_cap=99, fetch_seconds=7.5
    )
    assert rec.upstream == "http://127.0.0.1:9/gptge"
    assert make(tmp_path / "x", fetch_media=False).upstream == UPSTREAM
    kept = Recorder(tmp_path / "y", "gptge", GPTGE, "http://127.0.0.1:9/MAX//")
    assert kept.upstream == "http://127.0.0.1:9/MAX"  # only slashes come off its end
    rec.record(create())
    done = {"id": JOB, "status": "completed", "video_url": "http://127.0.0.1:8/v.mp4"}
    rec.record(seen("getVideo", f"/v1/videos/{JOB}", done))
    ((_, options),) = fetches.calls
    assert options["max_bytes"] == 99 and options["deadline_seconds"] == 7.5
    assert options["allowed"] is rec.allowed and options["allowed"] is not remote.public_only


def test_media_over_the_cap_is_noted_not_kept(tmp_path: Path, fetches: Fetches) -> None:
    data = finished(tmp_path, "https://cdn.example.com/v.mp4", media_cap=len(VIDEO) - 1)
    (entry,) = data["media_urls"]
    assert entry == {
        "url": "https://cdn.example.com/v.mp4",
        "note": f"not stored: {len(VIDEO)} bytes is over the {len(VIDEO) - 1}-byte cap",
    }


def test_a_refused_fetch_is_noted_in_the_recorder_s_words_and_logged(
    tmp_path: Path, fetches: Fetches, caplog: pytest.LogCaptureFixture
) -> None:
    url = "https://user:pw@cdn.example.com/private/v.mp4?sig=SIGNATURE"
    fetches.answers[url] = "the image URL answered HTTP 403"
    with caplog.at_level(logging.WARNING, logger="mockserver.recorder"):
        data = finished(tmp_path, url)
    (entry,) = data["media_urls"]
    assert entry["note"] == "not fetched: the media URL answered HTTP 403"
    assert "media" not in entry
    assert list((tmp_path / cassettes.MEDIA_DIR).iterdir()) == []  # no partial file left
    (line,) = [r.getMessage() for r in caplog.records]
    assert line == (
        "recording: media URL https://cdn.example.com/private/v.mp4 "
        "not fetched: the media URL answered HTTP 403"
    )


def test_each_media_url_is_fetched_once_and_the_provider_s_own_never(
    tmp_path: Path, fetches: Fetches
) -> None:
    rec = make(tmp_path)
    rec.record(create())
    urls = [
        "https://cdn.example.com/a.mp4",
        f"{UPSTREAM}/v1/videos/{JOB}/content",  # the API itself: read through the proxy
        "https://cdn.example.com/a.mp4",
        "https://cdn.example.com/b.png",
        "ftp://cdn.example.com/c.mp4",
    ]
    done = {"id": JOB, "status": "completed", "urls": urls, "thumb": {"u": "http://x.example/t"}}
    rec.record(seen("getVideo", f"/v1/videos/{JOB}", done, started=1030.0))
    rec.record(seen("getVideo", f"/v1/videos/{JOB}", done, started=1031.0))
    assert [url for url, _ in fetches.calls] == [
        "https://cdn.example.com/a.mp4",
        "https://cdn.example.com/b.png",
        "http://x.example/t",
    ]
    assert [e["url"] for e in cassette(tmp_path)["media_urls"]] == [u for u, _ in fetches.calls]


def test_a_url_that_only_starts_like_the_upstream_is_fetched(
    tmp_path: Path, fetches: Fetches
) -> None:
    finished(tmp_path, f"{UPSTREAM}.evil.example/v.mp4", f"{UPSTREAM}/v1/x")
    assert [url for url, _ in fetches.calls] == [f"{UPSTREAM}.evil.example/v.mp4"]


@pytest.mark.parametrize("word", ["queued", "in_progress", "processing"])
def test_no_media_is_fetched_before_the_job_ends(
    tmp_path: Path, fetches: Fetches, word: str
) -> None:
    rec = make(tmp_path)
    rec.record(create())
    rec.record(poll(word, 1001.0, extra={"url": "https://cdn.example.com/early.mp4"}))
    assert fetches.calls == [] and cassette(tmp_path)["media_urls"] == []


@pytest.mark.parametrize("word", ["completed", "FAILED", "succeeded"])
def test_media_is_fetched_once_the_job_ends_whatever_the_case(
    tmp_path: Path, fetches: Fetches, word: str
) -> None:
    rec = make(tmp_path)
    rec.record(create())
    rec.record(poll(word, 1001.0, extra={"url": "https://cdn.example.com/end.mp4"}))
    assert [u for u, _ in fetches.calls] == ["https://cdn.example.com/end.mp4"]


def test_a_status_read_without_a_status_fetches_nothing(tmp_path: Path, fetches: Fetches) -> None:
    rec = make(tmp_path)
    rec.record(create())
    rec.record(seen("getVideo", f"/v1/videos/{JOB}", {"id": JOB, "url": "https://c.example/x"}))
    rec.record(seen("getVideo", f"/v1/videos/{JOB}", None))
    assert fetches.calls == [] and len(cassette(tmp_path)["polls"]) == 2


def test_a_download_fetches_nothing(tmp_path: Path, fetches: Fetches) -> None:
    rec = make(tmp_path)
    rec.record(create())
    document = {"status": "completed", "url": "https://cdn.example.com/x.mp4"}
    rec.record(seen("getVideoContent", f"/v1/videos/{JOB}/content", document))
    assert fetches.calls == [] and len(cassette(tmp_path)["downloads"]) == 1


def test_the_status_is_read_where_the_contract_puts_it(tmp_path: Path, fetches: Fetches) -> None:
    rec = make(tmp_path, V3, provider="gptproto-v3")
    rec.record(
        seen(
            "createSora2ImageToVideo",
            "/api/v3/openai/reverse/sora-2/image-to-video",
            {"data": {"id": "p1", "status": "created"}},
            contract=V3,
            method="POST",
        )
    )
    outputs = {
        "data": {"id": "p1", "status": "succeeded", "outputs": ["https://cdn.example.com/o.mp4"]}
    }
    # a top-level status word is not the one the contract points at
    early = {"status": "completed", "data": {"id": "p1", "status": "processing"}}
    rec.record(seen("getPredictionResult", "/api/v3/predictions/p1/result", early, contract=V3))
    assert fetches.calls == []
    rec.record(seen("getPredictionResult", "/api/v3/predictions/p1/result", outputs, contract=V3))
    assert [u for u, _ in fetches.calls] == ["https://cdn.example.com/o.mp4"]
    assert [p["operation"] for p in cassette(tmp_path)["polls"]] == ["getPredictionResult"] * 2


def test_without_a_status_pointer_the_top_level_status_is_read(
    tmp_path: Path, fetches: Fetches, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = make(tmp_path)
    monkeypatch.setattr(rec.map, "status_pointer", lambda create: None)
    rec.record(create())
    rec.record(poll("COMPLETED", 1001.0, extra={"url": "https://cdn.example.com/top.mp4"}))
    assert [u for u, _ in fetches.calls] == ["https://cdn.example.com/top.mp4"]


def test_no_media_fetch_when_it_is_switched_off(tmp_path: Path, fetches: Fetches) -> None:
    data = finished(tmp_path, "https://cdn.example.com/v.mp4", fetch_media=False)
    assert fetches.calls == [] and data["media_urls"] == []


# --------------------------------------------------------------------------- chat mode


def chat_create(tmp_path: Path, events: list[tuple[float, str]], **options: Any) -> dict[str, Any]:
    rec = Recorder(tmp_path, "gptproto-chat", CHAT, "https://gptproto.com", **options)
    rec.record(
        seen(
            "createChatCompletion",
            "/v1/chat/completions",
            None,
            contract=CHAT,
            method="POST",
            started=1000.0,
            response_headers=Headers({"Content-Type": "text/event-stream"}),
            events=events,
        )
    )
    return cassette(tmp_path)


def event(text: str) -> str:
    return "data: " + json.dumps({"choices": [{"delta": {"content": text}}]}) + "\n\n"


def test_a_streamed_create_keeps_its_events_with_their_offsets(
    tmp_path: Path, fetches: Fetches
) -> None:
    events = [(1000.25, event("13%")), (1002.0004, "data: [DONE]\n\n")]
    data = chat_create(tmp_path, events, fetch_media=False)
    assert data["create"]["events"] == [
        {"offset": 0.25, "raw": events[0][1]},
        {"offset": 2.0, "raw": "data: [DONE]\n\n"},
    ]
    assert data["job_id"] is None
    assert (next(cassettes.iter_files(tmp_path))).name == "gptproto-chat-0000-create.json"


def test_the_video_a_chat_answer_names_in_its_text_is_fetched_once(
    tmp_path: Path, fetches: Fetches
) -> None:
    url = "https://cdn.example.com/chat.mp4"
    events = [
        (1001.0, event(f"[video]({url})")),
        (1002.0, event(f"again: {url} and <https://cdn.example.com/b.mp4>")),
        (1003.0, event("https://gptproto.com/v1/files/1 'http://q.example/q.mp4'")),
    ]
    data = chat_create(tmp_path, events)
    assert [u for u, _ in fetches.calls] == [
        url,
        "https://cdn.example.com/b.mp4",
        "http://q.example/q.mp4",
    ]
    assert [e["url"] for e in data["media_urls"]] == [u for u, _ in fetches.calls]
    assert all("media" in e for e in data["media_urls"])


def test_a_chat_answer_s_urls_are_not_fetched_when_switched_off(
    tmp_path: Path, fetches: Fetches
) -> None:
    data = chat_create(
        tmp_path, [(1001.0, event("https://cdn.example.com/c.mp4"))], fetch_media=False
    )
    assert fetches.calls == [] and data["media_urls"] == []


# --------------------------------------------------------------------------- small rules


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://localhost:8000", True),
        ("http://LocalHost.:8000/x", True),
        ("http://api.localhost", True),
        ("http://127.0.0.1", True),
        ("http://127.8.0.1:1", True),
        ("http://[::1]:8000", True),
        ("http://notlocalhost", False),
        ("http://localhost.example.com", False),
        ("http://10.0.0.1", False),
        ("https://api.gpt.ge", False),
        ("not a url", False),
    ],
)
def test_which_upstreams_are_on_loopback(url: str, loopback: bool) -> None:
    assert _on_loopback(url) is loopback


def test_a_public_upstream_gets_the_public_only_policy() -> None:
    assert media_policy("https://api.gpt.ge") is remote.public_only
    assert media_policy("http://127.0.0.1:1") is not remote.public_only


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://cdn.example.com/a/b.mp4?sig=SECRET#frag", "https://cdn.example.com/a/b.mp4"),
        ("https://user:pass@cdn.example.com:8443/x", "https://cdn.example.com:8443/x"),
        ("http://a@b@c.example/y", "http://c.example/y"),
    ],
)
def test_a_url_is_shown_without_its_query_or_user(url: str, shown: str) -> None:
    assert _shown(url) == shown


def test_remote_s_words_are_put_in_terms_of_media() -> None:
    assert _media_words("the image URL answered 404; the image at the URL is big") == (
        "the media URL answered 404; the media at the URL is big"
    )


@pytest.mark.parametrize(
    ("text", "safe"),
    [("video_1.a-b", "video_1.a-b"), ("a/b c:d", "a_b_c_d"), ("é", "é"), ("x" * 100, "x" * 80)],
)
def test_a_job_id_is_made_safe_for_a_file_name(text: str, safe: str) -> None:
    assert _safe(text) == safe


def test_every_web_url_of_a_document_is_found_in_order() -> None:
    document = {
        "a": "https://one.example/1",
        "b": [{"c": "http://two.example/2"}, "ftp://no.example", 3, None],
        "d": "see https://no.example",
        "e": ("https://a.tuple.is.not.walked",),
    }
    assert list(_urls(document)) == ["https://one.example/1", "http://two.example/2"]
    assert list(_urls("https://alone.example")) == ["https://alone.example"]
    assert list(_urls(7)) == []


def test_the_content_type_of_an_exchange_is_its_answer_s() -> None:
    exchange = seen("getVideo", "/v1/videos/x", response_headers=Headers({"content-type": "a/b"}))
    assert exchange.content_type == "a/b"
    bare = seen("getVideo", "/v1/videos/x", response_headers=Headers())
    assert bare.content_type == ""
