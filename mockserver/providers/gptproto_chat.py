"""GPTProto chat mode (seed 002): a video job reported as a chat completion.

With ``stream: true`` the answer is server-sent events: progress chunks as the job advances
on the mock's clock, the documented success line with the video link, a stop chunk and
``data: [DONE]``. With ``stream: false`` one ``chat.completion`` once the job has ended.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

from flask import Response

from mockserver.http.responses import error_response, json_response
from mockserver.providers.base import Context, Dialect, handles, register
from mockserver.providers.errors import gptproto_error
from mockserver.state.lifecycle import Job, JobState, Status, state_at
from mockserver.state.service import MockService

DURATION = re.compile(r"duration\s*[:=]?\s*(\d{1,4})\s*(?:s\b|sec|second)", re.IGNORECASE)
DEFAULT_SECONDS = 10
MAX_SECONDS = 15
SUCCESS = "> ✅ Video generated successfully, [click here]({url}) to view video~~~\n\n"
FAILURE = "> ❌ Video generation failed: {reason}\n\n"
QUEUED = "> ⌛ Task queued ({id}), waiting for a worker...\n\n"
PROGRESS = "> 🏃 Generating... {percent}%\n\n"
#: real seconds between keep-alive comments while the clock does not move: writing one to a
#: client that has gone away ends the stream (and frees its waiting slot) within this time
KEEPALIVE_SECONDS = 5.0


class _Slot:
    """One of the process's waiting slots, released exactly once (stream end or close)."""

    def __init__(self, semaphore: threading.BoundedSemaphore) -> None:
        self._semaphore = semaphore
        self._held = True
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            if self._held:
                self._held = False
                self._semaphore.release()


@register
class GptprotoChat(Dialect):
    contract_name = "gptproto-chat"
    prefix = "gptproto"
    family = "gptproto"
    id_prefix = "chatcmpl-"
    create_operations: ClassVar[frozenset[str]] = frozenset({"createChatCompletion"})
    failure = ("generation_failed", "the video could not be generated, please try again")

    def __init__(self, service: MockService) -> None:
        super().__init__(service)
        # a waiting completion holds a server thread: bounded, so waiting requests can never
        # take every thread and starve the admin API (clock advances) or other clients
        self.max_waiting = service.config.max_waiting_chats
        self._waiting = threading.BoundedSemaphore(self.max_waiting)

    def _take_slot(self) -> _Slot | None:
        return _Slot(self._waiting) if self._waiting.acquire(blocking=False) else None

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
        slot = self._take_slot()
        if slot is None:
            # refused before any job exists: a retry cannot pay twice
            return error_response(
                self,
                429,
                f"too many chat completions are waiting for their videos on this mock "
                f"(at most {self.max_waiting} at once); retry later",
                code=self.scenario_code("rate_limited"),
                headers={"Retry-After": "1"},
            )
        try:
            return self._start(ctx, body, prompt, seconds, image, notes, slot)
        except BaseException:
            slot.release()
            raise

    def _start(
        self,
        ctx: Context,
        body: dict[str, Any],
        prompt: str,
        seconds: int,
        image: bytes | None,
        notes: list[str],
        slot: _Slot,
    ) -> Response:
        width, height = 720, 1280
        if image is not None:
            from mockserver import media

            img_w, img_h = media.image_size(image)  # decoded once already, by the check
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
            events = self._events(job, ctx.host_url, slot)
            headers |= {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
            response = Response(events, mimetype="text/event-stream", headers=headers)
            # the server closes the response when the client goes away, even unread
            response.call_on_close(slot.release)
            return response
        try:
            return self._complete(job, ctx, headers)
        finally:
            slot.release()

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

    def _events(self, job: Job, host_url: str, slot: _Slot) -> Iterator[str]:
        try:
            yield from self._event_lines(job, host_url)
        finally:
            slot.release()

    def _event_lines(self, job: Job, host_url: str) -> Iterator[str]:
        clock = self.service.clock
        virtual = clock.kind == "virtual"
        last_percent = -1
        give_up = time.monotonic() + self.service.config.chat_max_wait_seconds
        target: float | None = None
        first = True
        while True:
            # Each wake-up target is fixed before the stream yields, so a test that advances a
            # virtual clock between two reads of the stream never blocks.
            if target is not None and not clock.wait_until(target, self._keepalive(give_up)):
                if time.monotonic() >= give_up:
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

    @staticmethod
    def _keepalive(give_up: float) -> float:
        return max(0.0, min(KEEPALIVE_SECONDS, give_up - time.monotonic()))

    def _complete(self, job: Job, ctx: Context, headers: dict[str, str]) -> Response:
        """Wait for the job, at most ``chat_max_wait_seconds`` real seconds: a WSGI app cannot
        see that a client of a plain request has gone, so the wait itself is bounded."""
        clock = self.service.clock
        end = job.created_at + job.queue_seconds + job.render_seconds
        limit = self.service.config.chat_max_wait_seconds
        give_up = time.monotonic() + limit
        while not state_at(job, clock.now()).status.terminal:
            if time.monotonic() >= give_up:
                return error_response(
                    self,
                    500,
                    f"the mock stopped waiting for the video after {limit:g} s "
                    f"(advance the virtual clock, or use stream: true)",
                )
            clock.wait_until(end, self._keepalive(give_up))
        return json_response(self.render(job, self.service.state(job), ctx), 200, headers)


def _next_change(job: Job, now: float) -> float:
    """The next instant the job's status changes (start of render or its end)."""
    start = job.created_at + job.queue_seconds
    if now < start:
        return start
    return start + job.render_seconds * (job.fail_progress if job.outcome == "failed" else 1.0)
