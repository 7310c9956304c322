"""What the mock answers in GPTProto's chat mode (mockserver.providers.gptproto_chat), read by a
client on an app built in each test: the prompt and duration taken from the last user message,
the picture's orientation picking the video's, the exact chunks of a stream (queued, progress,
the success or failure line, the stop chunk, [DONE]), its headers, the bound on waiting
completions, and giving up on a clock that never moves."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from providers import data_url, png

from mockserver.http.app import create_app
from mockserver.testing import SoraMock, test_config


@pytest.fixture
def mock() -> SoraMock:
    return SoraMock(create_app(test_config()))


def _body(content: Any = "a cow dancing", stream: bool = True, **extra: Any) -> dict[str, Any]:
    return {
        "model": "sora-2",
        "messages": [{"role": "user", "content": content}],
        "stream": stream,
        **extra,
    }


def _parts(text: str, image: str | None = None) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
    if image is not None:
        parts.append({"type": "image_url", "image_url": {"url": image}})
    return parts


def _stream(mock: SoraMock, client: httpx.Client, body: dict[str, Any]) -> list[Any]:
    """Every line of the stream, the clock moved 0.5 s after each event."""
    received: list[str] = []
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            received.append(line)
            if line == "data: [DONE]":
                break
            if line:
                mock.advance(0.5)
    return received


def _chunks(lines: list[str]) -> list[dict[str, Any]]:
    return [
        json.loads(line[6:])
        for line in lines
        if line.startswith("data: ") and line != "data: [DONE]"
    ]


def test_a_stream_says_queued_then_each_percent_then_the_link_then_stop(mock: SoraMock) -> None:
    with mock.client("gptproto") as client:
        lines = _stream(mock, client, _body(_parts("a cow dancing")))
    assert lines[-1] == "data: [DONE]"
    chunks = _chunks(lines)
    (job,) = mock.service.store.jobs()[0]
    for chunk in chunks:
        assert chunk["id"] == job.id and job.id.startswith("chatcmpl-")
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["created"] == int(job.created_at)
        assert chunk["model"] == "sora-2"
        assert chunk["choices"][0]["index"] == 0
    first, *middle, success, stop = chunks
    assert first["choices"][0] == {
        "index": 0,
        "delta": {
            "role": "assistant",
            "content": f"> ⌛ Task queued ({job.id}), waiting for a worker...\n\n",
        },
        "finish_reason": None,
    }
    texts = [c["choices"][0]["delta"]["content"] for c in middle]
    assert all(set(c["choices"][0]["delta"]) == {"content"} for c in middle)
    percents = [int(t.removeprefix("> 🏃 Generating... ").removesuffix("%\n\n")) for t in texts]
    assert percents == sorted(set(percents)), "each percent once, rising"
    assert len(percents) >= 3 and 0 <= percents[0] and percents[-1] <= 99
    url = mock.base_url("gptproto").removesuffix("/gptproto") + mock.service.media_path(job.id)
    assert success["choices"][0] == {
        "index": 0,
        "delta": {
            "role": "assistant",
            "content": "> ✅ Video generated successfully, "
            f"[click here]({url}) to view video~~~\n\n",
        },
        "finish_reason": None,
    }
    assert stop["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    assert job.params == {"stream": True}
    assert (job.width, job.height, job.seconds) == (720, 1280, 10), "portrait, 10 s by default"


def test_a_quiet_advance_sends_a_comment_so_a_reader_never_waits(mock: SoraMock) -> None:
    with mock.client("gptproto") as client:
        lines = _stream(mock, client, _body())
    assert ": waiting" in lines, "a wake-up with no news"


def test_the_stream_headers_keep_proxies_from_buffering(mock: SoraMock) -> None:
    with mock.client("gptproto") as client:
        with client.stream("POST", "/v1/chat/completions", json=_body()) as response:
            headers = response.headers
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["cache-control"] == "no-cache"
    assert headers["x-accel-buffering"] == "no"
    assert "x-mock-notes" not in headers


def test_a_failed_video_ends_with_the_reason_and_an_error_finish(mock: SoraMock) -> None:
    mock.set_scenario("generation_failed", provider="gptproto")
    with mock.client("gptproto") as client:
        chunks = _chunks(_stream(mock, client, _body()))
    *_, failure, stop = chunks
    assert failure["choices"][0]["delta"] == {
        "role": "assistant",
        "content": "> ❌ Video generation failed: "
        "the video could not be generated, please try again\n\n",
    }
    assert stop["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "error"}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("a horse, duration: 5 seconds", 5),
        ("a horse Duration=12s", 12),
        ("a horse duration 3 sec", 3),
        ("a horse duration 1s", 1),
        ("a horse duration: 15 seconds", 15),
        ("a horse for 5 seconds", 10),  # no "duration": the default
    ],
)
def test_the_duration_is_read_from_the_prompt(mock: SoraMock, text: str, seconds: int) -> None:
    with mock.client("gptproto") as client:
        with client.stream("POST", "/v1/chat/completions", json=_body(text)) as response:
            assert response.status_code == 200
    (job,) = mock.service.store.jobs()[0]
    assert job.seconds == seconds


@pytest.mark.parametrize("text", ["duration: 0 seconds", "duration: 16 seconds"])
def test_a_duration_out_of_range_is_a_400_naming_the_range(mock: SoraMock, text: str) -> None:
    with mock.client("gptproto") as client:
        answer = client.post("/v1/chat/completions", json=_body(text))
    assert answer.status_code == 400
    assert answer.json() == {
        "error": {
            "message": "duration must be between 1 and 15 seconds",
            "type": "400",
            "param": "messages",
        }
    }
    assert mock.service.store.jobs()[0] == []


def test_the_prompt_is_the_last_user_messages_text(mock: SoraMock) -> None:
    body = _body()
    body["messages"] = [
        {"role": "user", "content": "an old request"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": _parts("  first line") + _parts("second line  ")},
    ]
    with mock.client("gptproto") as client:
        with client.stream("POST", "/v1/chat/completions", json=body) as response:
            assert response.status_code == 200
    (job,) = mock.service.store.jobs()[0]
    assert job.prompt == "first line\nsecond line"


@pytest.mark.parametrize("content", ["   ", [{"type": "text", "text": " "}]])
def test_a_user_message_without_text_is_a_400(mock: SoraMock, content: Any) -> None:
    with mock.client("gptproto") as client:
        answer = client.post("/v1/chat/completions", json=_body(content))
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["message"] == "the user message has no text"
    assert answer.json()["error"]["param"] == "messages"


@pytest.mark.parametrize(
    ("picture", "pixels"),
    [((1280, 720), (1280, 720)), ((720, 1280), (720, 1280)), ((500, 500), (720, 1280))],
)
def test_the_pictures_orientation_picks_the_videos(
    mock: SoraMock, picture: tuple[int, int], pixels: tuple[int, int]
) -> None:
    body = _body(_parts("a cat", data_url(png(*picture))))
    with mock.client("gptproto") as client:
        with client.stream("POST", "/v1/chat/completions", json=body) as response:
            assert response.status_code == 200
    (job,) = mock.service.store.jobs()[0]
    assert (job.width, job.height) == pixels
    assert job.image_key is not None


def test_a_remote_picture_is_a_placeholder_named_in_a_header(mock: SoraMock) -> None:
    body = _body(_parts("a cat", "https://oss.gptproto.com/cat.png"))
    with mock.client("gptproto") as client:
        with client.stream("POST", "/v1/chat/completions", json=body) as response:
            note = response.headers.get("x-mock-notes")
            assert response.headers["cache-control"] == "no-cache"
    (job,) = mock.service.store.jobs()[0]
    assert note and job.notes == [note]


def test_a_picture_that_is_no_image_is_a_400_on_messages(mock: SoraMock) -> None:
    body = _body(_parts("a cat", data_url(b"not a picture")))
    with mock.client("gptproto") as client:
        answer = client.post("/v1/chat/completions", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "messages"
    assert mock.service.store.jobs()[0] == []


def test_a_retired_model_is_refused_before_a_job_exists() -> None:
    mock = SoraMock(create_app(test_config(retired_models=["sora-2"])))
    with mock.client("gptproto") as client:
        answer = client.post("/v1/chat/completions", json=_body())
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "model_not_found"
    assert mock.service.store.jobs()[0] == []


def test_waiting_completions_are_bounded_and_a_slot_frees_when_a_stream_ends() -> None:
    mock = SoraMock(create_app(test_config(max_waiting_chats=1)))
    with mock.client("gptproto") as client:
        with client.stream("POST", "/v1/chat/completions", json=_body()) as first:
            assert first.status_code == 200
            next(first.iter_lines())
            refused = client.post("/v1/chat/completions", json=_body())
            assert refused.status_code == 429
            assert refused.headers["retry-after"] == "1"
            assert refused.json()["error"] == {
                "message": "too many chat completions are waiting for their videos on this "
                "mock (at most 1 at once); retry later",
                "type": "429",
                "code": "rate_limit_exceeded",
            }
        assert len(mock.service.store.jobs()[0]) == 1, "the refused one made no job"
        lines = _stream(mock, client, _body())
    assert lines[-1] == "data: [DONE]"


def test_a_stream_on_a_clock_that_never_moves_gives_up_in_words() -> None:
    mock = SoraMock(create_app(test_config(chat_max_wait_seconds=0)))
    with mock.client("gptproto") as client:
        with client.stream("POST", "/v1/chat/completions", json=_body()) as response:
            lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    queued, gave_up = _chunks(lines)
    assert "Task queued" in queued["choices"][0]["delta"]["content"]
    assert gave_up["choices"][0]["delta"] == {
        "content": "> ❌ Video generation failed: the mock gave up waiting\n\n"
    }
    assert gave_up["choices"][0]["finish_reason"] == "error"


def test_a_plain_completion_on_a_clock_that_never_moves_says_how_to_go_on() -> None:
    mock = SoraMock(create_app(test_config(chat_max_wait_seconds=0, max_waiting_chats=1)))
    with mock.client("gptproto") as client:
        answer = client.post("/v1/chat/completions", json=_body(stream=False))
        again = client.post("/v1/chat/completions", json=_body(stream=False))
    assert again.status_code == 500, "the first gave its waiting slot back"
    assert answer.status_code == 500
    assert answer.json()["error"]["message"] == (
        "the mock stopped waiting for the video after 0 s "
        "(advance the virtual clock, or use stream: true)"
    )
    jobs, _ = mock.service.store.jobs()
    assert [job.params for job in jobs] == [{"stream": False}] * 2


def test_on_a_real_clock_a_stream_wakes_at_the_next_change_or_every_twentieth(
    mock: SoraMock,
) -> None:
    """A stream on a real clock cannot wake on every advance: it sleeps until the render
    starts, then about twenty times per render (never less than 50 ms apart), and a failing
    job's last change is where it fails."""
    from mockserver.providers.gptproto_chat import GptprotoChat, _next_change

    with mock.client("gptproto") as client:
        with client.stream("POST", "/v1/chat/completions", json=_body()):
            pass
    (job,) = mock.service.store.jobs()[0]
    start = job.created_at + job.queue_seconds
    assert _next_change(job, job.created_at) == start
    assert _next_change(job, start - 0.001) == start
    assert _next_change(job, start) == start + job.render_seconds
    job.outcome, job.fail_progress = "failed", 0.25
    assert _next_change(job, start + 1) == start + job.render_seconds * 0.25
    dialect = GptprotoChat(mock.service)
    job.render_seconds = 40.0
    assert dialect._step(job) == 2.0
    job.render_seconds = 0.5
    assert dialect._step(job) == 0.05


def _next_event(lines: Any) -> str:
    for line in lines:
        if line:
            return str(line)
    raise AssertionError("the stream ended")


def test_each_advance_brings_one_event_and_the_percent_is_floored(mock: SoraMock) -> None:
    with mock.client("gptproto") as client:
        with client.stream("POST", "/v1/chat/completions", json=_body()) as response:
            lines = response.iter_lines()
            queued = _next_event(lines)
            assert "⌛ Task queued" in queued, "the emoji as is, not \\u-escaped"
            (job,) = mock.service.store.jobs()[0]
            mock.advance(job.queue_seconds)  # the render starts
            assert "Generating... 0%" in _next_event(lines)
            mock.advance(job.render_seconds * 1e-4)  # no new percent
            assert _next_event(lines) == ": waiting"
            mock.advance(job.render_seconds * 0.995)
            assert "Generating... 99%" in _next_event(lines), "floored, not rounded"
            mock.advance(job.render_seconds)
            success = _next_event(lines)
            assert "✅ Video generated successfully" in success
            assert '"finish_reason": "stop"' in _next_event(lines)
            assert _next_event(lines) == "data: [DONE]"


def _plain(mock: SoraMock, body: dict[str, Any]) -> httpx.Response:
    with mock.stepping(5.0), mock.client("gptproto") as client:
        return client.post("/v1/chat/completions", json=body)


def test_a_plain_completion_answers_once_the_video_is_done(mock: SoraMock) -> None:
    answer = _plain(mock, _body(_parts("a cat", "https://oss.gptproto.com/cat.png"), stream=False))
    assert answer.status_code == 200, answer.text
    (job,) = mock.service.store.jobs()[0]
    assert answer.headers["x-mock-notes"] == job.notes[0]
    body = answer.json()
    assert body["id"] == job.id and body["object"] == "chat.completion"
    assert body["created"] == int(job.created_at) and body["model"] == "sora-2"
    (choice,) = body["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"].startswith("> ✅ Video generated successfully")


def test_a_plain_completion_of_a_failed_video_finishes_with_error(mock: SoraMock) -> None:
    mock.set_scenario("generation_failed", provider="gptproto")
    answer = _plain(mock, _body(stream=False))
    (choice,) = answer.json()["choices"]
    assert choice["finish_reason"] == "error"
    assert choice["message"]["content"] == (
        "> ❌ Video generation failed: the video could not be generated, please try again\n\n"
    )


class _ScriptedRealClock:
    """A clock of kind "real" whose waits return at once: each records what the stream asked
    (wake at, give up after) and jumps there, or times out when the script says so."""

    kind = "real"

    def __init__(self, start: float, timeouts: int = 0) -> None:
        self.t = start
        self.waits: list[tuple[float, float]] = []
        self.timeouts = timeouts

    def now(self) -> float:
        return self.t

    def wait_until(self, when: float, timeout: float) -> bool:
        self.waits.append((when, timeout))
        if self.timeouts:
            self.timeouts -= 1
            return False
        self.t = max(self.t, when)
        return True


def _stream_on(mock: SoraMock, clock: _ScriptedRealClock) -> list[str]:
    with mock.client("gptproto") as client:
        original, mock.service.clock = mock.service.clock, clock  # type: ignore[assignment]
        try:
            with client.stream("POST", "/v1/chat/completions", json=_body()) as response:
                return [line for line in response.iter_lines() if line]
        finally:
            mock.service.clock = original


def test_on_a_real_clock_the_stream_sleeps_until_the_next_change_or_a_step() -> None:
    mock = SoraMock(create_app(test_config()))
    clock = _ScriptedRealClock(mock.now())
    lines = _stream_on(mock, clock)
    assert lines[-1] == "data: [DONE]" and "✅" in lines[-3]
    (job,) = mock.service.store.jobs()[0]
    start = job.created_at + job.queue_seconds
    step = max(job.render_seconds / 20.0, 0.05)
    targets = [when for when, _ in clock.waits]
    assert targets[0] == pytest.approx(min(job.created_at + step, start))
    in_render = [t for t in targets if t > start]
    assert in_render[:3] == pytest.approx([start + step * (i + 1) for i in range(3)])
    assert targets[-1] == pytest.approx(start + job.render_seconds)
    assert all(0 < timeout <= 5.0 for _, timeout in clock.waits), "a keep-alive at most 5 s apart"
    assert clock.waits[0][1] == pytest.approx(5.0, abs=0.5)


def test_a_quiet_real_clock_sends_keep_alives_then_goes_on() -> None:
    mock = SoraMock(create_app(test_config()))
    clock = _ScriptedRealClock(mock.now(), timeouts=2)
    lines = _stream_on(mock, clock)
    assert lines[1:3] == [": keep-alive", ": keep-alive"]
    assert lines[-1] == "data: [DONE]" and "✅" in lines[-3], "the stream went on"


def test_a_plain_completion_sleeps_until_the_video_ends() -> None:
    mock = SoraMock(create_app(test_config()))
    clock = _ScriptedRealClock(mock.now())
    with mock.client("gptproto") as client:
        original, mock.service.clock = mock.service.clock, clock  # type: ignore[assignment]
        try:
            answer = client.post("/v1/chat/completions", json=_body(stream=False))
        finally:
            mock.service.clock = original
    assert answer.json()["choices"][0]["finish_reason"] == "stop"
    (job,) = mock.service.store.jobs()[0]
    (wait,) = clock.waits
    assert wait[0] == pytest.approx(job.created_at + job.queue_seconds + job.render_seconds)
    assert 0 < wait[1] <= 5.0


def test_a_request_that_does_not_say_streams_by_default(mock: SoraMock) -> None:
    body = _body()
    del body["stream"]
    with mock.client("gptproto") as client:
        with client.stream("POST", "/v1/chat/completions", json=body) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
    (job,) = mock.service.store.jobs()[0]
    assert job.params == {"stream": True}


def test_a_wait_never_outlasts_the_give_up_time() -> None:
    """With less than a keep-alive's time left before the mock gives up, each wait is only
    as long as what is left (never past it, never a full keep-alive)."""
    mock = SoraMock(create_app(test_config(chat_max_wait_seconds=0.5)))
    clock = _ScriptedRealClock(mock.now())
    _stream_on(mock, clock)
    assert clock.waits
    assert all(0 <= timeout <= 0.5 for _, timeout in clock.waits)
