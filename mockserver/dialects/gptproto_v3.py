"""GPTProto's "reverse" v3 format (seed 000): a WaveSpeed-style prediction API."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from flask import Response

from mockserver.dialects.base import Context, Dialect, handles, register
from mockserver.dialects.errors import gptproto_error
from mockserver.lifecycle import Job, JobState, Status
from mockserver.responses import error_response, json_response

#: (size, orientation) -> pixels; an assumption recorded in contracts/README.md
PIXELS = {
    ("small", "portrait"): (720, 1280),
    ("small", "landscape"): (1280, 720),
    ("large", "portrait"): (1024, 1792),
    ("large", "landscape"): (1792, 1024),
}
STATUS_WORDS = {
    Status.QUEUED: "created",
    Status.IN_PROGRESS: "processing",
    Status.COMPLETED: "completed",
    Status.FAILED: "failed",
}


@register
class GptprotoV3(Dialect):
    contract_name = "gptproto-v3"
    prefix = "gptproto"
    family = "gptproto"
    create_operations: ClassVar[frozenset[str]] = frozenset({"createSora2ImageToVideo"})
    failure = ("generation_failed", "Video generation failed, please try again")

    def error_body(
        self, status: int, message: str, *, code: str | None = None, param: str | None = None
    ) -> dict[str, Any]:
        return gptproto_error(status, message, code=code, param=param)

    def render(self, job: Job, state: JobState, ctx: Context) -> dict[str, Any]:
        end = state.finished_at or (self.service.now() if state.started_at else None)
        elapsed_ms = round((end - state.started_at) * 1000) if end and state.started_at else 0
        done = state.status is Status.COMPLETED
        return {
            "data": {
                "id": job.id,
                "model": job.model,
                "outputs": [ctx.host_url + self.service.media_path(job.id)] if done else [],
                "urls": {"get": f"{ctx.base_url}/api/v3/predictions/{job.id}/result"},
                "status": STATUS_WORDS[state.status],
                "error": (state.error_message or self.failure[1])
                if state.status is Status.FAILED
                else None,
                "executionTime": elapsed_ms,
                "timings": {"inference": elapsed_ms},
                "has_nsfw_contents": [False] if done else [],
                "created_at": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(job.created_at)),
            },
            "message": "success",
            "code": 200,
        }

    def _respond(self, job: Job, ctx: Context) -> Response:
        headers = {"X-Mock-Notes": " | ".join(job.notes)} if job.notes else None
        return json_response(self.render(job, self.service.state(job), ctx), 200, headers)

    @handles("createSora2ImageToVideo")
    def create(self, ctx: Context) -> Response:
        """One documented URL for both models: ``model`` in the body (default sora-2) picks,
        and the contract already refused sora-2 with ``large`` or 25 s."""
        body = ctx.body
        model = body.get("model", "sora-2")
        refused = self.refuse_model(ctx, model)
        if refused is not None:
            return refused
        width, height = PIXELS[(body["size"], body.get("orientation", "portrait"))]
        found = self.reference_image(
            ctx,
            body["images"][0],
            "images",
            (width, height),
            "The image must match the target video's resolution (size)",
        )
        if isinstance(found, Response):
            return found
        image, notes = found
        job = self.new_job(
            ctx,
            id_prefix=f"{model}:task_",
            model=model,
            prompt=body["prompt"],
            width=width,
            height=height,
            seconds=int(body.get("duration", 10)),
            image=image,
            params={k: v for k, v in body.items() if k not in ("images", "prompt")},
            notes=notes,
        )
        return self._respond(job, ctx)

    @handles("getPredictionResult")
    def result(self, ctx: Context) -> Response:
        job = self.service.find(ctx.path["id"], self.name)
        if job is None:
            return error_response(self, 404, f"prediction {ctx.path['id']!r} not found", param="id")
        return self._respond(job, ctx)
