"""GPTProto chat mode (contract ``gptproto-chat``): a video job reported as a chat stream.

Create sends ``stream: true``; the answer is server-sent events of ``chat.completion.chunk``
objects, and that stream is the job: there is no status endpoint, so ``get`` raises
UnsupportedOperation and ``wait`` consumes the stream. Progress comes from the chunks'
``N%`` lines, the video URL from the documented success line
``> ✅ Video generated successfully, [click here](URL) to view video~~~``, a failure from a
``❌`` line or ``finish_reason: error``.

Neutral -> chat: the prompt and the image (a URL as given, else a ``data:`` URL) become one
user message; ``seconds`` becomes the documented prompt flag ``duration: N seconds`` (at most
15, the provider's F&Q); there is no ``size``: the video follows the image's orientation.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import httpx

from sora_client._exceptions import InvalidRequestError
from sora_client._models import Job, parse_timestamp
from sora_client._providers.base import Adapter, CreateSpec, request_id, text_or_none

#: "add a duration flag in the prompt ... up to 15 seconds" (seed 002, F&Q)
MAX_SECONDS = 15
SUCCESS = re.compile(r"\[click here\]\((?P<url>[^)\s]+)\)", re.IGNORECASE)
ANY_LINK = re.compile(r"\]\((?P<url>https?://[^)\s]+)\)")
FAILURE = re.compile(r"❌\s*(?:video generation failed:?)?\s*(?P<reason>.*)", re.IGNORECASE | re.S)
PERCENT = re.compile(r"(?P<n>\d{1,3}(?:\.\d+)?)\s*%")


class GptprotoChat(Adapter):
    name = "gptproto-chat"
    contract_name = "gptproto-chat"
    env_var = "GPTPROTO_API_KEY"
    image_field = "image_url"
    has_status = False
    streams = True

    def build_create(self, spec: CreateSpec) -> httpx.Request:
        if spec.size is not None:
            raise InvalidRequestError(
                self.name,
                "size",
                "chat mode has no size: the video follows the image's orientation "
                "(use gptproto-videos or gptproto-v3 to choose a size)",
            )
        text = spec.prompt
        if spec.seconds is not None:
            if isinstance(spec.seconds, bool) or not 1 <= int(spec.seconds) <= MAX_SECONDS:
                raise InvalidRequestError(
                    self.name,
                    "seconds",
                    f"{spec.seconds} is not allowed: chat mode makes videos of 1 to "
                    f"{MAX_SECONDS} seconds",
                )
            text = f"{text}\n\nduration: {int(spec.seconds)} seconds"
        content: list[dict[str, Any]] = [{"type": "text", "text": text}]
        if spec.image is not None:
            content.append(
                {"type": "image_url", "image_url": {"url": spec.image.url_or_data_url()}}
            )
        body: dict[str, Any] = {
            "model": spec.model or "sora-2",
            "messages": [{"role": "user", "content": content}],
            "stream": True,
        }
        extra = dict(spec.extra)
        if extra.pop("stream", True) is not True:
            raise InvalidRequestError(self.name, "stream", "the client always streams chat mode")
        body.update(extra)
        request = self.json_request("POST", "/v1/chat/completions", body)
        request.headers["Accept"] = "text/event-stream"
        return request

    # ------------------------------------------------------------------ the stream

    def apply_chunk(self, job: Job | None, chunk: Any, response: httpx.Response) -> Job:
        """The job after one ``chat.completion.chunk`` (``job`` None: the first chunk)."""
        if not isinstance(chunk, dict):
            raise ValueError("a stream event is not a JSON object")
        if job is None:
            job_id = chunk.get("id")
            if not isinstance(job_id, str) or not job_id:
                raise ValueError("the first chunk has no id")
            job = Job(
                id=job_id,
                provider=self.name,
                status="queued",
                model=text_or_none(chunk.get("model")),
                created_at=parse_timestamp(chunk.get("created")),
                request_id=request_id(response),
            )
        job = dataclasses.replace(job, raw=chunk)  # a new Job per event: callers may keep them
        if job.done:
            return job
        choices = chunk.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices else {}
        if not isinstance(choice, dict):
            raise ValueError("a chunk choice is not an object")
        delta = choice.get("delta") or choice.get("message") or {}
        content = delta.get("content") if isinstance(delta, dict) else None
        if isinstance(content, str) and content:
            self._read_line(job, content)
        if choice.get("finish_reason") == "error" and not job.done:
            job.status = "failed"
            job.error_message = job.error_message or "the video generation failed"
        return job

    def _read_line(self, job: Job, content: str) -> None:
        link = SUCCESS.search(content) or (ANY_LINK.search(content) if "✅" in content else None)
        if link:
            job.status, job.progress, job.video_url = "completed", 1.0, link.group("url")
            return
        failure = FAILURE.search(content)
        if failure:
            job.status = "failed"
            job.error_message = failure.group("reason").strip() or "the video generation failed"
            return
        percent = PERCENT.search(content)
        if percent:
            job.status = "in_progress"
            job.progress = max(job.progress, min(1.0, float(percent.group("n")) / 100.0))

    def parse_job(self, body: Any, response: httpx.Response) -> Job:
        """A non-stream ``chat.completion`` (what a server answers when it ignores stream)."""
        if not isinstance(body, dict):
            raise ValueError("the answer is not a JSON object")
        choices = body.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise ValueError("the completion has no choices")
        job = self.apply_chunk(None, body, response)
        if choices[0].get("finish_reason") == "stop" and not job.done:
            raise ValueError("the completion has no video link")
        return job
