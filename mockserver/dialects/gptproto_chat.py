"""GPTProto chat mode (seed 002): a video job reported as a chat completion.

With ``stream: true`` the answer is server-sent events: progress chunks as the job advances
on the mock's clock, the documented success line with the video link, a stop chunk and
``data: [DONE]``. With ``stream: false`` one ``chat.completion`` once the job has ended.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any, ClassVar

from flask import Response

from mockserver.dialects.base import Context, Dialect, handles, register
from mockserver.dialects.errors import gptproto_error
from mockserver.lifecycle import Job, JobState, Status, state_at
from mockserver.responses import error_response, json_response

DURATION = re.compile(r"duration\s*[:=]?\s*(\d{1,4})\s*(?:s\b|sec|second)", re.IGNORECASE)
DEFAULT_SECONDS = 10
MAX_SECONDS = 15
SUCCESS = "> ✅ Video generated successfully, [click here]({url}) to view video~~~\n\n"
FAILURE = "> ❌ Video generation failed: {reason}\n\n"
QUEUED = "> ⌛ Task queued ({id}), waiting for a worker...\n\n"
PROGRESS = "> 🏃 Generating... {percent}%\n\n"
#: real seconds between keep-alive comments while the clock does not move
KEEPALIVE_SECONDS = 15.0
#: real seconds a request may wait for its job before the mock gives up on it
MAX_WAIT_SECONDS = 3600.0


@register
class GptprotoChat(Dialect):
    contract_name = "gptproto-chat"
    prefix = "gptproto"
    family = "gptproto"
    id_prefix = "chatcmpl-"
    create_operations: ClassVar[frozenset[str]] = frozenset({"createChatCompletion"})
    failure = ("generation_failed", "the video could not be generated, please try again")

    def error_body(
        self, status: int, message: str, *, code: str | None = None, param: str | None = None
    ) -> dict[str, Any]:
        return gptproto_error(status, message, code=code, param=param)

    @handles("createChatCompletion")
    def create(self, ctx: Context) -> Response:
        body = ctx.body
        refused = self.refuse_model(ctx, body["model"])
        if refused is not None:
            return refused
        user = [m for m in body["messages"] if m["role"] == "user"]
        if not user:
            return error_response(self, 400, "no user message", param="messages")
        content = user[-1]["content"]
        parts: list[dict[str, Any]] = (
            [{"type": "text", "text": content}] if isinstance(content, str) else content
        )
        prompt = "\n".join(p["text"] for p in parts if p["type"] == "text").strip()
        if not prompt:
            return error_response(self, 400, "the user message has no text", param="messages")
        images = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
        match = DURATION.search(prompt)
        seconds = int(match.group(1)) if match else DEFAULT_SECONDS
        if not 1 <= seconds <= MAX_SECONDS:
            return error_response(
                self, 400, f"duration must be between 1 and {MAX_SECONDS} seconds", param="messages"
            )
        image: bytes | None = None
        notes: list[str] = []
        if images:
            found = self.reference_image(ctx, images[0], "messages", None, "")
            if isinstance(found, Response):
                return found
            image, notes = found
        width, height = 720, 1280
        if image is not None:
            from mockserver import media

            img_w, img_h, _ = media.probe_image(image)
            width, height = (1280, 720) if img_w > img_h else (720, 1280)
        job = self.new_job(
            ctx,
            model=body["model"],
            prompt=prompt,
            width=width,
            height=height,
            seconds=seconds,
            image=image,
            params={"stream": body.get("stream", True)},
            notes=notes,
        )
        headers = {"X-Mock-Notes": " | ".join(notes)} if notes else {}
        if body.get("stream", True):
            # a plain generator (no stream_with_context: it needs nothing from the request,
            # and a request context held open across yields breaks when one thread
            # interleaves two streams, as an in-process client reading line by line does)
            events = self._events(job, ctx.host_url)
            headers |= {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
            return Response(events, mimetype="text/event-stream", headers=headers)
        return self._complete(job, ctx, headers)

    # ------------------------------------------------------------------ shapes

    def _chunk(
        self, job: Job, content: str | None, finish: str | None = None, role: bool = False
    ) -> str:
        delta: dict[str, Any] = {}
        if role:
            delta["role"] = "assistant"
        if content is not None:
            delta["content"] = content
        chunk = {
            "id": job.id,
            "object": "chat.completion.chunk",
            "created": int(job.created_at),
            "model": job.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        if self.service.config.strict:
            validator = self.contract.schema_validator("#/components/schemas/ChatCompletionChunk")
            for err in validator.iter_errors(chunk):
                self.service.violations.append(f"chat chunk breaks its contract: {err.message}")
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

    def _final_text(self, job: Job, state: JobState, host_url: str) -> str:
        if state.status is Status.COMPLETED:
            return SUCCESS.format(url=host_url + self.service.media_path(job.id))
        reason = state.error_message or self.failure[1]
        return FAILURE.format(reason=reason)

    def render(self, job: Job, state: JobState, ctx: Context) -> dict[str, Any]:
        return {
            "id": job.id,
            "object": "chat.completion",
            "created": int(job.created_at),
            "model": job.model,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": self._final_text(job, state, ctx.host_url),
                    },
                    "finish_reason": "stop" if state.status is Status.COMPLETED else "error",
                }
            ],
        }

    # ------------------------------------------------------------------ waiting on the clock

    def _step(self, job: Job) -> float:
        """Clock seconds between two progress checks: about twenty per render."""
        return max(job.render_seconds / 20.0, 0.05)

    def _events(self, job: Job, host_url: str) -> Iterator[str]:
        clock = self.service.clock
        virtual = clock.kind == "virtual"
        last_percent = -1
        waited = 0.0
        target: float | None = None
        first = True
        while True:
            # Each wake-up target is fixed before the stream yields, so a test that advances a
            # virtual clock between two reads of the stream never blocks.
            if target is not None and not clock.wait_until(target, KEEPALIVE_SECONDS):
                waited += KEEPALIVE_SECONDS
                if waited >= MAX_WAIT_SECONDS:
                    reason = "the mock gave up waiting"
                    yield self._chunk(job, FAILURE.format(reason=reason), finish="error")
                    yield "data: [DONE]\n\n"
                    return
                yield ": keep-alive\n\n"
                continue
            now = clock.now()
            state = self.service.state(job)
            # On a virtual clock every advance wakes the stream, and a wake with no news sends
            # an SSE comment: a test reading line by line never waits on a quiet stream.
            target = now + 1e-6 if virtual else min(now + self._step(job), _next_change(job, now))
            news = False
            if first:
                first = False
                news = True
                yield self._chunk(job, QUEUED.format(id=job.id), role=True)
            if state.status.terminal:
                # the document's success chunk carries `"role": "assistant"` in its delta
                yield self._chunk(job, self._final_text(job, state, host_url), role=True)
                finish = "stop" if state.status is Status.COMPLETED else "error"
                yield self._chunk(job, None, finish=finish)
                yield "data: [DONE]\n\n"
                return
            percent = math.floor(state.progress * 100)
            if state.status is Status.IN_PROGRESS and percent > last_percent:
                last_percent = percent
                news = True
                yield self._chunk(job, PROGRESS.format(percent=percent))
            if virtual and not news:
                yield ": waiting\n\n"

    def _complete(self, job: Job, ctx: Context, headers: dict[str, str]) -> Response:
        clock = self.service.clock
        end = job.created_at + job.queue_seconds + job.render_seconds
        waited = 0.0
        while not state_at(job, clock.now()).status.terminal:
            if not clock.wait_until(end, KEEPALIVE_SECONDS):
                waited += KEEPALIVE_SECONDS
                if waited >= MAX_WAIT_SECONDS:
                    return error_response(self, 500, "the mock gave up waiting for the video")
        return json_response(self.render(job, self.service.state(job), ctx), 200, headers)


def _next_change(job: Job, now: float) -> float:
    """The next instant the job's status changes (start of render or its end)."""
    start = job.created_at + job.queue_seconds
    if now < start:
        return start
    return start + job.render_seconds * (job.fail_progress if job.outcome == "failed" else 1.0)
