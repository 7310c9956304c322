"""``sora-mock proxy`` forwarding an event stream and a file, run in-process
(:mod:`proxy_fakes`): each event judged before it goes out, comments held until the first
event, strict mode's 502 or error event, a stream too large or encoded passed through
unjudged; a file forwarded chunk by chunk and recorded; an answer cut short never looking
whole.
"""

from __future__ import annotations

import gzip
import json
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from proxy_fakes import (
    AUTH,
    BAD_CHUNK,
    CHUNK,
    MP4_HEAD,
    UPSTREAM,
    VIDEO,
    Chunks,
    answer,
    document,
    error_of,
    late,
    noted_deadlines,
    proxied,
    sse,
)

from mockserver.conformance import cassettes

DONE = b"data: [DONE]\n\n"
STREAM = {"Content-Type": "text/event-stream"}
BODY = {"model": "sora-2", "stream": True, "messages": [{"role": "user", "content": "A cat"}]}


def chat(run: Any) -> Any:
    return run.client.post("/v1/chat/completions", json=BODY, headers=AUTH, buffered=True)


def chat_proxy(*chunks: bytes, error: Exception | None = None, **config: Any) -> Any:
    headers = config.pop("headers", STREAM)
    return proxied(
        "gptproto-chat", lambda request: answer(200, headers, *chunks, error=error), **config
    )


# --------------------------------------------------------------------------- streams


def test_a_clean_stream_is_forwarded_event_by_event() -> None:
    run = chat_proxy(sse(CHUNK)[:10], sse(CHUNK)[10:] + DONE)
    got = chat(run)
    assert got.status_code == 200
    assert got.get_data() == sse(CHUNK) + DONE
    assert got.headers["X-Contract-Violations"] == "0"
    assert got.headers["Content-Type"] == "text/event-stream"
    assert run.entry["violations"] == [] and run.entry["status"] == 200
    assert run.entry["operation"] == "createChatCompletion"


def test_a_bad_event_is_forwarded_and_named_in_transparent_mode() -> None:
    run = chat_proxy(sse(BAD_CHUNK), DONE)
    got = chat(run)
    assert got.get_data() == sse(BAD_CHUNK) + DONE
    assert got.headers["X-Contract-Violations"].startswith("1; SSE event 1 /data/object")


def test_strict_refuses_a_stream_whose_first_event_is_bad() -> None:
    run = chat_proxy(sse(BAD_CHUNK), DONE, mode="strict")
    got = chat(run)
    assert got.status_code == 502
    error = error_of(got)
    assert error["code"] == "contract_violation"
    assert error["message"].startswith(
        "sora-mock proxy (strict): the upstream stream breaks the gptproto-chat contract: "
        "SSE event 1 /data/object"
    )
    assert run.entry["status"] == 502


def test_strict_ends_a_begun_stream_with_an_error_event() -> None:
    run = chat_proxy(sse(CHUNK), sse(BAD_CHUNK), sse(CHUNK), DONE, mode="strict")
    got = chat(run)
    assert got.status_code == 200
    data = got.get_data()
    assert data.startswith(sse(CHUNK))
    last = data[len(sse(CHUNK)) :]
    assert last.startswith(b"data: ") and last.endswith(b"\n\n")
    error = json.loads(last[6:])["error"]
    assert error["code"] == "contract_violation"
    assert error["message"].startswith(
        "sora-mock proxy (strict): the upstream stream breaks the gptproto-chat contract: "
        "SSE event 2 /data/object"
    )
    assert BAD_CHUNK["object"].encode() not in data.split(b"\n\n")[1][:40]  # not forwarded
    assert run.entry["violations"][0]["where"].startswith("SSE event 2")


def test_comments_before_the_first_event_go_out_with_it() -> None:
    run = chat_proxy(b": keep-alive\n\n", b": again\n\n", sse(CHUNK), DONE)
    got = chat(run)
    assert got.get_data() == b": keep-alive\n\n: again\n\n" + sse(CHUNK) + DONE


def test_a_stream_of_comments_only_still_gets_its_status_and_bytes() -> None:
    run = chat_proxy(b": one\n\n", b": two\n\ntail")
    got = chat(run)
    assert got.status_code == 200
    assert got.get_data() == b": one\n\n: two\n\ntail"
    assert got.headers["X-Contract-Violations"] == (
        "1; stream end: the stream ended without `data: [DONE]`"
    )


def test_a_stream_that_ends_without_its_terminator_is_drift_in_the_journal() -> None:
    run = chat_proxy(sse(CHUNK), b'data: {"cut')
    got = chat(run)
    assert got.get_data() == sse(CHUNK) + b'data: {"cut'  # the rest goes out too
    assert run.entry["violations"] == [
        {"where": "stream end", "message": "the stream ended without `data: [DONE]`"}
    ]
    assert "DRIFT: 1 difference" in run.console


def test_an_event_past_the_event_limit_passes_through_unjudged() -> None:
    big = sse({**CHUNK, "id": "x" * 200})
    run = chat_proxy(sse(CHUNK), big[:100], big[100:], DONE, max_event=64)
    got = chat(run)
    assert got.get_data() == sse(CHUNK) + big + DONE
    (problem,) = run.entry["violations"]
    assert problem == {
        "where": "SSE event 2",
        "message": "an event larger than the 64 bytes the proxy judges: 100 bytes judged, "
        "the rest passed through unjudged",
    }


def test_comments_count_toward_the_event_limit() -> None:
    run = chat_proxy(b": " + b"c" * 40 + b"\n\n", b"data: " + b"d" * 30, DONE, max_event=64)
    got = chat(run)
    assert got.get_data() == b": " + b"c" * 40 + b"\n\n" + b"data: " + b"d" * 30 + DONE
    assert got.headers["X-Contract-Violations"].startswith(
        "1; SSE event 1: an event larger than the 64 bytes the proxy judges: 80 bytes judged"
    )


def test_a_block_of_exactly_the_limit_is_judged() -> None:
    event = sse(CHUNK)
    run = chat_proxy(event[:-2], event[-2:], DONE, max_event=len(event) - 2)
    got = chat(run)
    assert got.headers["X-Contract-Violations"] == "0"


def test_strict_refuses_a_stream_it_cannot_judge_before_it_begins() -> None:
    run = chat_proxy(b"data: " + b"d" * 100, DONE, mode="strict", max_event=64)
    got = chat(run)
    assert got.status_code == 502
    error = error_of(got)
    assert error["code"] == "unjudged_answer"
    assert error["message"] == (
        "sora-mock proxy (strict): the upstream stream could not be judged: SSE event 1: an "
        "event larger than the 64 bytes the proxy judges: 106 bytes judged, the rest passed "
        "through unjudged"
    )


def test_strict_ends_a_begun_stream_it_can_no_longer_judge_with_an_event() -> None:
    run = chat_proxy(sse(CHUNK), b"data: " + b"d" * 100, DONE, mode="strict", max_event=64)
    got = chat(run)
    data = got.get_data()
    assert got.status_code == 200 and data.startswith(sse(CHUNK))
    error = json.loads(data[len(sse(CHUNK)) + 6 :])["error"]
    assert error["code"] == "unjudged_answer"
    assert error["message"] == (
        "sora-mock proxy (strict): the upstream stream could not be judged: SSE event 2: an "
        "event larger than the 64 bytes the proxy judges: 106 bytes judged, the rest passed "
        "through unjudged"
    )
    assert b"ddd" not in data


def test_an_encoded_stream_is_forwarded_as_sent_and_not_judged() -> None:
    raw = gzip.compress(sse(BAD_CHUNK) + DONE)
    run = chat_proxy(raw, headers={**STREAM, "Content-Encoding": " GZIP "})
    got = chat(run)
    assert got.get_data() == raw
    assert got.headers["X-Contract-Violations"] == (
        "1; SSE event 1: Content-Encoding gzip (the proxy asked for identity): "
        "the events were not judged"
    )


def test_an_identity_coded_stream_is_judged() -> None:
    run = chat_proxy(sse(CHUNK), DONE, headers={**STREAM, "Content-Encoding": "Identity"})
    assert chat(run).headers["X-Contract-Violations"] == "0"


def test_strict_refuses_an_encoded_stream() -> None:
    run = chat_proxy(
        gzip.compress(DONE), mode="strict", headers={**STREAM, "Content-Encoding": "gzip"}
    )
    got = chat(run)
    assert got.status_code == 502 and error_of(got)["code"] == "unjudged_answer"


def test_a_stream_broken_after_it_began_is_cut_not_ended() -> None:
    run = chat_proxy(sse(CHUNK), error=httpx.ReadError("reset"))
    with pytest.raises(ConnectionAbortedError):
        chat(run)
    assert run.entry["error"] == "upstream connection broke mid-answer (ReadError)"
    assert run.entry["status"] == 200


def test_strict_ends_a_broken_stream_with_an_error_event() -> None:
    run = chat_proxy(sse(CHUNK), error=httpx.ReadError("reset"), mode="strict")
    data = chat(run).get_data()
    error = json.loads(data[len(sse(CHUNK)) + 6 :])["error"]
    assert error["code"] == "upstream_error"
    assert error["message"] == (
        f"sora-mock proxy (strict): the upstream {UPSTREAM} upstream connection broke "
        "mid-answer (ReadError)"
    )


def test_strict_ends_a_stream_whose_reads_time_out_with_a_timeout_event() -> None:
    """Bug found by this test: the event's code was read off the error's words, and "read
    timed out" holds no "timeout": a read timeout mid-stream said `upstream_error`, where
    contracts/README.md (and the same timeout before the answer began) says
    `upstream_timeout`."""
    run = chat_proxy(sse(CHUNK), error=httpx.ReadTimeout("slow"), mode="strict")
    data = chat(run).get_data()
    error = json.loads(data[len(sse(CHUNK)) + 6 :])["error"]
    assert error["code"] == "upstream_timeout"
    assert error["message"] == (
        f"sora-mock proxy (strict): the upstream {UPSTREAM} upstream read timed out "
        "mid-answer (ReadTimeout)"
    )


def test_a_stream_broken_before_its_first_event_is_a_502() -> None:
    run = chat_proxy(b": hi\n\n", error=httpx.ReadError("reset"))
    got = chat(run)
    assert got.status_code == 502 and error_of(got)["code"] == "upstream_unreachable"


def test_an_error_answer_as_a_stream_is_judged_by_its_status() -> None:
    run = proxied("gptproto-chat", lambda request: answer(418, STREAM, DONE))
    got = chat(run)
    assert got.status_code == 418
    assert got.headers["X-Contract-Violations"] == "1; status code: status 418 is not declared"


def test_a_recorded_stream_keeps_its_events_in_the_cassette(tmp_path: Path) -> None:
    run = chat_proxy(b": c\n\n", sse(CHUNK), DONE, record_dir=tmp_path, record_media_urls=False)
    chat(run)
    (path,) = cassettes.iter_files(tmp_path)
    events = json.loads(path.read_text())["create"]["events"]
    assert [e["raw"] for e in events] == [sse(CHUNK).decode(), DONE.decode()]


def test_a_stream_not_recorded_holds_no_events() -> None:
    run = chat_proxy(sse(CHUNK), DONE)
    captured: list[Any] = []
    original = run.proxy._finish

    def finish(seen: Any, answered: Any = None) -> None:
        captured.append(list(seen.events))
        original(seen, answered)

    run.proxy._finish = finish  # type: ignore[method-assign]
    chat(run)
    assert captured == [[]]


# --------------------------------------------------------------------------- files


def mp4(size: int) -> bytes:
    return MP4_HEAD + bytes(size - len(MP4_HEAD))


def content_proxy(*chunks: bytes, **options: Any) -> Any:
    headers = options.pop("headers", None)
    error = options.pop("error", None)
    total = sum(map(len, chunks))
    head = (
        headers
        if headers is not None
        else {"Content-Type": "video/mp4", "Content-Length": str(total)}
    )
    return proxied(reply=lambda request: answer(200, head, *chunks, error=error), **options)


def test_a_video_is_forwarded_chunk_by_chunk_with_its_length() -> None:
    video = mp4(3000)
    run = content_proxy(video[:1000], video[1000:2000], video[2000:])
    got = run.get("/v1/videos/video_1/content")
    assert got.status_code == 200 and got.get_data() == video
    assert got.headers["Content-Length"] == "3000"
    assert got.headers["X-Contract-Violations"] == "0"
    assert run.entry["operation"] == "getVideoContent"


def test_a_video_that_is_not_an_mp4_is_drift() -> None:
    run = content_proxy(b"<html>not a video</html>")
    got = run.get("/v1/videos/video_1/content")
    assert got.get_data() == b"<html>not a video</html>"
    assert got.headers["X-Contract-Violations"] == (
        "1; body: Content-Type is video/mp4 but the body is not an MP4 (no ftyp box)"
    )


def test_strict_refuses_a_video_that_is_not_an_mp4() -> None:
    run = content_proxy(b"<html>not a video</html>", mode="strict")
    got = run.get("/v1/videos/video_1/content")
    assert got.status_code == 502 and error_of(got)["code"] == "contract_violation"


def test_an_encoded_video_is_judged_by_its_decoded_head() -> None:
    raw = gzip.compress(mp4(5000))
    run = content_proxy(raw, headers={"Content-Type": "video/mp4", "Content-Encoding": "gzip"})
    got = run.get("/v1/videos/video_1/content")
    assert got.get_data() == raw and got.headers["X-Contract-Violations"] == "0"


def test_an_empty_file_answer_is_drift() -> None:
    run = content_proxy(headers={"Content-Type": "video/mp4"})
    got = run.get("/v1/videos/video_1/content")
    assert got.get_data() == b""
    assert got.headers["X-Contract-Violations"].startswith("1; body: Content-Type is video/mp4")


def test_a_recorded_video_is_stored_before_its_last_chunk_goes_out(tmp_path: Path) -> None:
    video = mp4(4000)
    run = content_proxy(video[:3000], video[3000:], record_dir=tmp_path, record_media_urls=False)
    create = {**VIDEO, "id": "video_1"}
    run.upstream.reply = lambda request: document(create)
    run.post("/v1/videos", data=b"x", content_type="application/json")
    run.upstream.reply = lambda request: answer(
        200, {"Content-Type": "video/mp4", "Content-Length": "4000"}, video[:3000], video[3000:]
    )
    stream = run.client.get("/v1/videos/video_1/content", headers=AUTH, buffered=False)
    pieces = stream.iter_encoded() if hasattr(stream, "iter_encoded") else iter(stream.response)
    first = next(pieces)
    (path,) = cassettes.iter_files(tmp_path)
    assert json.loads(path.read_text())["downloads"] == []  # not yet: the file is not whole
    second = next(pieces)
    (download,) = json.loads(path.read_text())["downloads"]
    assert first + second == video
    media = download["response"]["media"]
    assert media["size"] == 4000 and media["content_type"] == "video/mp4"
    assert (tmp_path / media["file"]).read_bytes() == video
    stream.close()


def test_a_recorded_video_without_a_length_is_stored_at_its_end(tmp_path: Path) -> None:
    video = mp4(2000)
    run = content_proxy(
        video[:500],
        video[500:],
        headers={"Content-Type": "video/mp4"},
        record_dir=tmp_path,
        record_media_urls=False,
    )
    run.upstream.reply = lambda request: document(VIDEO)
    run.post("/v1/videos", data=b"x", content_type="application/json")
    run.upstream.reply = lambda request: answer(
        200, {"Content-Type": "video/mp4"}, video[:500], video[500:]
    )
    assert run.get("/v1/videos/video_1/content").get_data() == video
    (path,) = cassettes.iter_files(tmp_path)
    (download,) = json.loads(path.read_text())["downloads"]
    assert download["response"]["media"]["size"] == 2000


def test_a_recorded_encoded_video_is_stored_decoded(tmp_path: Path) -> None:
    video = mp4(3000)
    raw = gzip.compress(video)
    run = content_proxy(raw, record_dir=tmp_path, record_media_urls=False)
    run.upstream.reply = lambda request: document(VIDEO)
    run.post("/v1/videos", data=b"x", content_type="application/json")
    run.upstream.reply = lambda request: answer(
        200, {"Content-Type": "video/mp4", "Content-Encoding": "gzip"}, raw[:100], raw[100:]
    )
    assert run.get("/v1/videos/video_1/content").get_data() == raw
    (path,) = cassettes.iter_files(tmp_path)
    media = json.loads(path.read_text())["downloads"][0]["response"]["media"]
    assert (tmp_path / media["file"]).read_bytes() == video


def test_a_file_error_answer_is_judged_as_a_document() -> None:
    error = {
        "error": {
            "message": "not ready",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }
    run = proxied(
        reply=lambda request: answer(
            404, {"Content-Type": "application/json"}, json.dumps(error).encode()
        )
    )
    got = run.get("/v1/videos/video_1/content")
    assert got.status_code == 404 and json.loads(got.get_data()) == error


def test_a_video_broken_mid_way_is_cut_not_ended() -> None:
    run = content_proxy(
        mp4(100),
        error=httpx.ReadError("reset"),
        headers={"Content-Type": "video/mp4", "Content-Length": "500"},
    )
    with pytest.raises(ConnectionAbortedError):
        run.get("/v1/videos/video_1/content").get_data()
    assert run.entry["error"] == "upstream connection broke mid-answer (ReadError)"


def test_a_full_disk_while_recording_never_breaks_the_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = proxied(record_dir=tmp_path, record_media_urls=False)
    assert run.proxy.recorder is not None

    def full(seen: Any) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(run.proxy.recorder, "record", full)
    got = run.get("/v1/videos/video_1")
    assert got.status_code == 200 and json.loads(got.get_data()) == VIDEO


def test_the_recorder_gets_the_proxy_s_settings(tmp_path: Path) -> None:
    run = proxied(record_dir=tmp_path, media_cap=123, record_media_urls=False)
    recorder = run.proxy.recorder
    assert recorder is not None
    assert (recorder.directory, recorder.provider, recorder.upstream) == (
        tmp_path,
        "gptge",
        UPSTREAM,
    )
    assert recorder.media_cap == 123 and recorder.fetch_media is False
    assert recorder.contract.name == "gptge-videos"


# --------------------------------------------------------------------------- leaving, and the rest


def test_a_client_that_left_before_the_first_event_is_let_go() -> None:
    mine, theirs = socket.socketpair()
    theirs.close()
    chunks = Chunks([b": waiting\n\n", b": still\n\n", sse(CHUNK), DONE])
    run = proxied("gptproto-chat", httpx.Response(200, headers=STREAM, stream=chunks))
    try:
        got = run.client.post(
            "/v1/chat/completions",
            json=BODY,
            headers=AUTH,
            environ_overrides={"werkzeug.socket": mine},
            buffered=True,
        )
        assert got.status_code == 502
    finally:
        mine.close()
    assert chunks.sent == 1
    assert run.entry["error"] == "the client went away before the answer was complete"
    assert len(run.proxy.journal) == 1


def test_strict_cuts_rather_than_reports_when_the_client_left() -> None:
    mine, theirs = socket.socketpair()
    theirs.close()
    run = chat_proxy(b": waiting\n\n", sse(CHUNK), DONE, mode="strict")
    try:
        got = run.client.post(
            "/v1/chat/completions",
            json=BODY,
            headers=AUTH,
            environ_overrides={"werkzeug.socket": mine},
            buffered=True,
        )
    finally:
        mine.close()
    assert got.get_data() == b""  # no error event for a client that is not there
    assert run.entry["error"] == "the client went away before the answer was complete"


def test_a_client_that_closes_a_stream_mid_way_is_journaled_once() -> None:
    chunks = Chunks([sse(CHUNK), sse(CHUNK), DONE])
    run = proxied("gptproto-chat", httpx.Response(200, headers=STREAM, stream=chunks))
    got = run.client.post("/v1/chat/completions", json=BODY, headers=AUTH)
    pieces = iter(got.response)
    assert next(pieces) == b""  # the comments held before the first event (none)
    assert next(pieces) == sse(CHUNK)
    got.close()
    assert run.entry["error"] == "the client went away before the answer was complete"
    assert len(run.proxy.journal) == 1
    assert chunks.closed


def test_a_stream_for_no_operation_is_forwarded_unjudged() -> None:
    run = chat_proxy(b"data: anything\n\n")
    got = run.client.post("/v1/other", json=BODY, headers=AUTH, buffered=True)
    assert got.get_data() == b"data: anything\n\n"
    assert got.headers["X-Contract-Violations"] == (
        "1; request: no operation of gptproto-chat is POST /v1/other"
    )


def test_a_file_of_a_type_the_contract_does_not_declare_is_drift() -> None:
    run = content_proxy(b"ID3" + bytes(100), headers={"Content-Type": "audio/mpeg"})
    got = run.get("/v1/videos/video_1/content")
    assert got.get_data() == b"ID3" + bytes(100)
    assert got.headers["X-Contract-Violations"].startswith("1; header Content-Type: ")


def test_a_cut_answer_is_journaled_once() -> None:
    run = chat_proxy(sse(CHUNK), error=httpx.ReadError("reset"))
    with pytest.raises(ConnectionAbortedError):
        chat(run)
    assert len(run.proxy.journal) == 1
    assert "ERROR upstream connection broke mid-answer (ReadError)" in run.console


def test_strict_passes_a_clean_stream() -> None:
    run = chat_proxy(sse(CHUNK), sse(CHUNK), DONE, mode="strict")
    got = chat(run)
    assert got.get_data() == sse(CHUNK) * 2 + DONE
    assert run.entry["violations"] == []


def test_a_bad_later_event_is_forwarded_in_transparent_mode() -> None:
    run = chat_proxy(sse(CHUNK), sse(BAD_CHUNK), DONE)
    got = chat(run)
    assert got.get_data() == sse(CHUNK) + sse(BAD_CHUNK) + DONE
    assert run.entry["violations"][0]["where"] == "SSE event 2 /data/object"


def test_strict_error_events_carry_the_gateway_status() -> None:
    run = chat_proxy(sse(CHUNK), sse(BAD_CHUNK), mode="strict")
    error = json.loads(chat(run).get_data()[len(sse(CHUNK)) + 6 :])["error"]
    assert error["type"] == "502"  # GPTProto's shape: the status as its type


def test_every_comment_held_counts_toward_the_event_limit() -> None:
    comment = b": " + b"c" * 26 + b"\n\n"  # 30 bytes each
    run = chat_proxy(comment + comment + b"data: 1234", DONE, max_event=64)
    got = chat(run)
    assert got.headers["X-Contract-Violations"].startswith(
        "1; SSE event 1: an event larger than the 64 bytes the proxy judges: 70 bytes judged"
    )
    assert got.get_data() == comment + comment + b"data: 1234" + DONE


def test_an_encoded_stream_is_unjudged_for_its_coding_whatever_its_size() -> None:
    raw = gzip.compress(sse(CHUNK) * 20 + DONE)
    run = chat_proxy(raw, headers={**STREAM, "Content-Encoding": "gzip"}, max_event=8)
    got = chat(run)
    assert got.get_data() == raw
    assert got.headers["X-Contract-Violations"] == (
        "1; SSE event 1: Content-Encoding gzip (the proxy asked for identity): "
        "the events were not judged"
    )


def test_a_recorded_event_with_broken_utf8_is_kept_readable(tmp_path: Path) -> None:
    bad = b'data: {"x": "\xff"}\n\n'
    run = chat_proxy(bad, DONE, record_dir=tmp_path, record_media_urls=False)
    assert chat(run).get_data() == bad + DONE  # forwarded as sent
    (path,) = cassettes.iter_files(tmp_path)
    events = json.loads(path.read_text())["create"]["events"]
    assert events[0]["raw"] == 'data: {"x": "\ufffd"}\n\n'


@pytest.fixture
def deadlines(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    return noted_deadlines(monkeypatch)


def test_strict_ends_a_stream_the_deadline_cut_with_a_timeout_event(
    deadlines: list[Any],
) -> None:
    run = proxied(
        "gptproto-chat",
        late(deadlines, sse(CHUNK), content_type="text/event-stream"),
        mode="strict",
        timeout=0.01,
    )
    data = chat(run).get_data()
    error = json.loads(data[len(sse(CHUNK)) + 6 :])["error"]
    assert error["code"] == "upstream_timeout"
    assert "did not finish its answer within --timeout 0.01 s" in error["message"]


def test_a_video_in_two_gzip_members_is_judged_across_them() -> None:
    video = mp4(200)
    raw = gzip.compress(video[:6]) + gzip.compress(video[6:])
    run = content_proxy(raw, headers={"Content-Type": "video/mp4", "Content-Encoding": "gzip"})
    got = run.get("/v1/videos/video_1/content")
    assert got.headers["X-Contract-Violations"] == "0"


def test_strict_says_which_answer_it_refused() -> None:
    run = content_proxy(b"<html>not a video</html>", mode="strict")
    assert error_of(run.get("/v1/videos/video_1/content"))["message"] == (
        "sora-mock proxy (strict): the upstream answer breaks the gptge-videos contract: "
        "body: Content-Type is video/mp4 but the body is not an MP4 (no ftyp box)"
    )


def test_a_video_is_recorded_only_once_its_last_byte_came(tmp_path: Path) -> None:
    video = mp4(4000)
    run = content_proxy(record_dir=tmp_path, record_media_urls=False)
    run.upstream.reply = lambda request: document(VIDEO)
    run.post("/v1/videos", data=b"x", content_type="application/json")
    run.upstream.reply = lambda request: answer(
        200, {"Content-Type": "video/mp4", "Content-Length": "4000"}, video[:3999], video[3999:]
    )
    assert run.get("/v1/videos/video_1/content").get_data() == video
    (path,) = cassettes.iter_files(tmp_path)
    media = json.loads(path.read_text())["downloads"][0]["response"]["media"]
    assert media["size"] == 4000


def test_an_error_status_sent_as_a_stream_is_forwarded_and_named() -> None:
    run = proxied("gptproto-chat", lambda request: answer(429, STREAM, b"data: slow down\n\n"))
    got = chat(run)
    assert got.status_code == 429 and got.get_data() == b"data: slow down\n\n"
    assert got.headers["X-Contract-Violations"].startswith("1; header Content-Type: ")


def test_a_redirect_with_a_video_type_is_judged_as_a_document() -> None:
    run = proxied(reply=answer(300, {"Content-Type": "video/mp4"}, b"<a href=x>x</a>"))
    got = run.get("/v1/videos/video_1/content")
    assert got.get_data() == b"<a href=x>x</a>"
    assert got.headers["Content-Length"] == "15"  # read whole, then sent with its length
    partial = proxied(reply=answer(299, {"Content-Type": "video/mp4"}, MP4_HEAD))
    assert "Content-Length" not in partial.get("/v1/videos/video_1/content").headers
