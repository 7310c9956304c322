"""GPTProto's chat mode on the adapter alone (sora_client._providers.gptproto_chat): the create
is one user message (the prompt, ``duration: N seconds`` when asked, the image) sent as a
stream; each chunk of the answer moves the job (a percentage, the success line's link, a
failure line or ``finish_reason: error``); a non-stream completion is read the same way."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from sora_client._exceptions import InvalidRequestError
from sora_client._images import Image
from sora_client._models import Job
from sora_client._providers import CreateSpec
from sora_client._providers.gptproto_chat import MAX_SECONDS, GptprotoChat

BASE = "http://127.0.0.1:9/gptproto"
PNG = Image(b"\x89PNG...", None, "image/png", 720, 1280, "cat.png")
SUCCESS = "> ✅ Video generated successfully, [click here](https://cdn/v.mp4) to view video~~~"


@pytest.fixture
def chat() -> GptprotoChat:
    return GptprotoChat("sk-test", BASE)


def _body(request: httpx.Request) -> dict[str, Any]:
    return json.loads(request.content)


def test_a_create_is_one_streamed_user_message(chat: GptprotoChat) -> None:
    request = chat.build_create(CreateSpec("a cat", PNG, seconds=10))
    assert (request.method, str(request.url)) == ("POST", f"{BASE}/v1/chat/completions")
    assert request.headers["Accept"] == "text/event-stream"
    assert _body(request) == {
        "model": "sora-2",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "a cat\n\nduration: 10 seconds"},
                    {"type": "image_url", "image_url": {"url": PNG.data_url()}},
                ],
            }
        ],
        "stream": True,
    }


def test_a_create_without_seconds_or_image_sends_the_prompt_alone(chat: GptprotoChat) -> None:
    body = _body(chat.build_create(CreateSpec("a cat", model="sora-2-pro", extra={"n": 1})))
    assert body["model"] == "sora-2-pro"
    assert body["messages"][0]["content"] == [{"type": "text", "text": "a cat"}]
    assert (body["stream"], body["n"]) == (True, 1)
    assert _body(chat.build_create(CreateSpec("x", extra={"stream": True})))["stream"] is True


@pytest.mark.parametrize("seconds", [1, MAX_SECONDS])
def test_seconds_from_1_to_15_are_allowed(chat: GptprotoChat, seconds: int) -> None:
    text = _body(chat.build_create(CreateSpec("x", seconds=seconds)))["messages"][0]["content"]
    assert text[0]["text"] == f"x\n\nduration: {seconds} seconds"


@pytest.mark.parametrize("seconds", [0, MAX_SECONDS + 1, True])
def test_other_seconds_are_refused(chat: GptprotoChat, seconds: int) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        chat.build_create(CreateSpec("x", seconds=seconds))
    assert (refused.value.provider, refused.value.field) == ("gptproto-chat", "seconds")
    assert refused.value.rule == (
        f"{seconds} is not allowed: chat mode makes videos of 1 to 15 seconds"
    )


def test_a_size_and_a_non_stream_request_are_refused(chat: GptprotoChat) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        chat.build_create(CreateSpec("x", size="720x1280"))
    assert (refused.value.provider, refused.value.field) == ("gptproto-chat", "size")
    assert refused.value.rule == (
        "chat mode has no size: the video follows the image's orientation "
        "(use gptproto-videos or gptproto-v3 to choose a size)"
    )
    with pytest.raises(InvalidRequestError) as refused:
        chat.build_create(CreateSpec("x", extra={"stream": False}))
    assert (refused.value.provider, refused.value.field) == ("gptproto-chat", "stream")
    assert refused.value.rule == "the client always streams chat mode"


def _chunk(content: str | None = None, finish: str | None = None, **more: Any) -> dict[str, Any]:
    delta = {} if content is None else {"content": content}
    chunk = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "sora-2",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return {**chunk, **more}


def _answer(**headers: str) -> httpx.Response:
    return httpx.Response(200, headers=headers)


def test_the_first_chunk_makes_a_queued_job(chat: GptprotoChat) -> None:
    job = chat.apply_chunk(None, _chunk(), _answer(**{"x-request-id": "req_1"}))
    assert (job.id, job.provider, job.status, job.progress) == (
        "chatcmpl-1",
        "gptproto-chat",
        "queued",
        0.0,
    )
    assert job.model == "sora-2"
    assert job.created_at is not None and job.created_at.timestamp() == 1_700_000_000
    assert job.request_id == "req_1"
    assert job.raw == _chunk()


def test_percent_lines_move_the_progress_forwards_only(chat: GptprotoChat) -> None:
    job = chat.apply_chunk(None, _chunk("Progress: 12.5%"), _answer())
    assert (job.status, job.progress) == ("in_progress", 0.125)
    later = chat.apply_chunk(job, _chunk("40 %"), _answer())
    assert later.progress == 0.4
    assert later is not job, "a new Job per event"
    assert job.progress == 0.125, "the earlier Job is left as it was"
    assert chat.apply_chunk(later, _chunk("30%"), _answer()).progress == 0.4
    assert chat.apply_chunk(later, _chunk("250%"), _answer()).progress == 1.0
    assert chat.apply_chunk(later, _chunk("no number"), _answer()).progress == 0.4


def test_the_success_line_completes_the_job_with_its_link(chat: GptprotoChat) -> None:
    job = chat.apply_chunk(None, _chunk(SUCCESS), _answer())
    assert (job.status, job.progress, job.video_url) == ("completed", 1.0, "https://cdn/v.mp4")
    # another wording with the check mark and a link: the link is the video
    other = chat.apply_chunk(None, _chunk("✅ done: [video](https://cdn/w.mp4)"), _answer())
    assert (other.status, other.video_url) == ("completed", "https://cdn/w.mp4")
    # a link without the check mark is no success
    plain = chat.apply_chunk(None, _chunk("see [docs](https://docs) 5%"), _answer())
    assert (plain.status, plain.video_url) == ("in_progress", None)
    # once done, later chunks change nothing but the raw event
    after = chat.apply_chunk(job, _chunk("❌ failed", "error"), _answer())
    assert (after.status, after.video_url) == ("completed", "https://cdn/v.mp4")
    assert after.raw == _chunk("❌ failed", "error")


def test_a_failure_line_fails_the_job_with_its_reason(chat: GptprotoChat) -> None:
    job = chat.apply_chunk(None, _chunk("❌ Video generation failed: content policy\n"), _answer())
    assert (job.status, job.error_message) == ("failed", "content policy")
    bare = chat.apply_chunk(None, _chunk("❌"), _answer())
    assert (bare.status, bare.error_message) == ("failed", "the video generation failed")


def test_finish_reason_error_fails_a_job_not_yet_done(chat: GptprotoChat) -> None:
    job = chat.apply_chunk(None, _chunk(finish="error"), _answer())
    assert (job.status, job.error_message) == ("failed", "the video generation failed")
    running = chat.apply_chunk(None, _chunk("50%"), _answer())
    failed = chat.apply_chunk(running, _chunk("❌ out of credits", "error"), _answer())
    assert failed.error_message == "out of credits", "its own reason is kept"
    stopped = chat.apply_chunk(running, _chunk(finish="stop"), _answer())
    assert stopped.status == "in_progress"


def test_a_message_instead_of_a_delta_is_read_too(chat: GptprotoChat) -> None:
    chunk = _chunk()
    chunk["choices"] = [{"index": 0, "message": {"content": SUCCESS}, "finish_reason": "stop"}]
    assert chat.apply_chunk(None, chunk, _answer()).video_url == "https://cdn/v.mp4"
    empty = _chunk()
    empty["choices"] = []
    assert chat.apply_chunk(None, empty, _answer()).status == "queued"
    # a delta that is no object, or content that is no text: nothing to read, no error
    for delta in ("50%", ["50%"], {"content": ["50%"]}, {"content": {"text": "50%"}}):
        odd = _chunk()
        odd["choices"] = [{"index": 0, "delta": delta, "finish_reason": None}]
        job = chat.apply_chunk(None, odd, _answer())
        assert (job.status, job.progress) == ("queued", 0.0)


@pytest.mark.parametrize(
    ("chunk", "message"),
    [
        ([], "a stream event is not a JSON object"),
        (_chunk(id=""), "the first chunk has no id"),
        (_chunk(id=7), "the first chunk has no id"),
        ({**_chunk(), "choices": ["x"]}, "a chunk choice is not an object"),
    ],
)
def test_an_unreadable_chunk_is_a_value_error(chat: GptprotoChat, chunk: Any, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        chat.apply_chunk(None, chunk, _answer())


def test_a_non_stream_completion_is_read_as_one_chunk(chat: GptprotoChat) -> None:
    completion = _chunk(object="chat.completion")
    completion["choices"] = [{"index": 0, "message": {"content": SUCCESS}, "finish_reason": "stop"}]
    job = chat.parse_job(completion, _answer())
    assert (job.status, job.video_url) == ("completed", "https://cdn/v.mp4")
    completion["choices"][0]["message"]["content"] = "still working"
    with pytest.raises(ValueError, match="^the completion has no video link$"):
        chat.parse_job(completion, _answer())
    completion["choices"][0]["finish_reason"] = None
    assert chat.parse_job(completion, _answer()).status == "queued"
    for bad, message in (
        ([], "the answer is not a JSON object"),
        ({"choices": []}, "the completion has no choices"),
        ({"choices": "x"}, "the completion has no choices"),
        ({"choices": ["x"]}, "the completion has no choices"),
    ):
        with pytest.raises(ValueError, match=f"^{message}$"):
            chat.parse_job(bad, _answer())


def test_chat_mode_has_no_status_read(chat: GptprotoChat) -> None:
    assert chat.has_status is False
    assert chat.streams is True
    assert isinstance(chat.apply_chunk(None, _chunk(), _answer()), Job)
