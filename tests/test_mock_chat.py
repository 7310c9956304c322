"""Chat mode: an SSE stream of progress chunks on the mock's clock, ending with the documented
success line and [DONE]; JSON errors before the stream starts; a blocking non-stream mode."""

from __future__ import annotations

import json
import threading

import httpx
import pytest
from providers import data_url, png

import contracts
from mockserver.testing import SoraMock

CHUNK = contracts.load("gptproto-chat").schema_validator("#/components/schemas/ChatCompletionChunk")


def chat_body(
    text: str = "video of cow and horse dancing", image: str | None = None, stream: bool = True
) -> dict:
    content: list[dict] = [{"type": "text", "text": text}]
    if image:
        content.append({"type": "image_url", "image_url": {"url": image}})
    return {"model": "sora-2", "messages": [{"role": "user", "content": content}], "stream": stream}


def events(lines: list[str]) -> list[dict | str]:
    out: list[dict | str] = []
    for line in lines:
        if line.startswith("data: "):
            payload = line[len("data: ") :]
            out.append(payload if payload == "[DONE]" else json.loads(payload))
    return out


def test_stream_reports_progress_as_the_clock_moves(sora_mock: SoraMock) -> None:
    with sora_mock.client("gptproto") as client:
        with client.stream(
            "POST", "/v1/chat/completions", json=chat_body(image=data_url(png(1280, 720)))
        ) as response:
            assert response.status_code == 200
            lines = response.iter_lines()
            received: list[str] = []
            for line in lines:
                received.append(line)
                if line.startswith("data: [DONE]"):
                    break
                if line:
                    sora_mock.advance(0.5)  # between two reads of the stream
    chunks = events(received)
    assert chunks[-1] == "[DONE]"
    dicts = [c for c in chunks if isinstance(c, dict)]
    for chunk in dicts:
        assert not list(CHUNK.iter_errors(chunk)), chunk
    texts = [c["choices"][0]["delta"].get("content", "") for c in dicts]
    assert "queued" in texts[0]
    percents = [int(t.split("Generating... ")[1].split("%")[0]) for t in texts if "Generating" in t]
    assert len(percents) >= 3 and percents == sorted(percents)
    assert texts[-2].startswith("> ✅ Video generated successfully, [click here](")
    assert dicts[-1]["choices"][0]["finish_reason"] == "stop"
    job = sora_mock.jobs()[0]
    assert (job.width, job.height, job.seconds) == (1280, 720, 10)


def test_duration_comes_from_the_prompt(sora_mock: SoraMock) -> None:
    with sora_mock.client("gptproto") as client:
        with client.stream(
            "POST", "/v1/chat/completions", json=chat_body("a horse, duration: 5 seconds")
        ) as r:
            assert r.status_code == 200
    assert sora_mock.jobs()[0].seconds == 5


def test_duration_over_fifteen_seconds_is_a_json_400(sora_mock: SoraMock) -> None:
    with sora_mock.client("gptproto") as client:
        response = client.post("/v1/chat/completions", json=chat_body("duration: 20 seconds"))
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["type"] == "400"


def test_errors_before_the_stream_are_json(sora_mock: SoraMock) -> None:
    with sora_mock.client("gptproto") as client:
        client.headers.pop("Authorization")
        response = client.post("/v1/chat/completions", json=chat_body())
    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "message": response.json()["error"]["message"],
            "type": "401",
            "code": "invalid_api_key",
        }
    }


def test_failed_generation_ends_the_stream_with_an_error_chunk(sora_mock: SoraMock) -> None:
    with sora_mock.client("gptproto") as client:
        with client.stream(
            "POST",
            "/v1/chat/completions",
            json=chat_body(),
            headers={"X-Mock-Scenario": "generation_failed"},
        ) as response:
            sora_mock.advance(300)
            chunks = events(list(response.iter_lines()))
    assert chunks[-1] == "[DONE]"
    final = [c for c in chunks if isinstance(c, dict)]
    assert "failed" in final[-2]["choices"][0]["delta"]["content"]
    assert final[-1]["choices"][0]["finish_reason"] == "error"


def test_non_stream_waits_for_the_video_then_answers_one_completion(sora_mock: SoraMock) -> None:
    result: dict = {}

    def call() -> None:
        with sora_mock.client("gptproto") as client:
            result["response"] = client.post("/v1/chat/completions", json=chat_body(stream=False))

    worker = threading.Thread(target=call)
    worker.start()
    # once the request has made its job, move the clock past its end: the waiting request
    # thread wakes on the advance (no sleeping anywhere)
    while not sora_mock.jobs() and worker.is_alive():
        pass
    sora_mock.advance(3600)
    worker.join(timeout=60)
    response: httpx.Response = result["response"]
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["finish_reason"] == "stop"
    assert "[click here](" in body["choices"][0]["message"]["content"]


@pytest.mark.parametrize("messages", [[], [{"role": "system", "content": "only system"}]])
def test_chat_without_a_user_message_is_a_400(sora_mock: SoraMock, messages: list) -> None:
    with sora_mock.client("gptproto") as client:
        response = client.post(
            "/v1/chat/completions", json={"model": "sora-2", "messages": messages}
        )
    assert response.status_code == 400
