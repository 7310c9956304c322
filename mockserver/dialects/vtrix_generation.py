"""Vtrix's task API for sora_2_pro_i2v (seed 004)."""

from __future__ import annotations

from typing import Any, ClassVar

from flask import Response

from mockserver.dialects.base import Context, Dialect, handles, register
from mockserver.dialects.errors import vtrix_error
from mockserver.dialects.openai_videos import parse_size
from mockserver.lifecycle import Job, JobState, Status
from mockserver.responses import error_response, json_response

STATUS_WORDS = {
    Status.QUEUED: "pending",
    Status.IN_PROGRESS: "processing",
    Status.COMPLETED: "completed",
    Status.FAILED: "failed",
}
#: the document's error table
FAILURE_CODES = {
    "003000095": "Internal generation error",
    "003000096": "Result parsing error",
    "003000097": "HTTP error response",
    "003000098": "Status check error",
    "003000099": "Task creation error",
}
#: the mock's own price, USD per second of video (the document gives none)
PRICE_PER_SECOND = 0.30


@register
class VtrixGeneration(Dialect):
    contract_name = "vtrix-generation"
    prefix = "vtrix"
    family = "vtrix"
    create_operations: ClassVar[frozenset[str]] = frozenset({"createGeneration"})
    failure = ("003000095", FAILURE_CODES["003000095"])

    def error_body(
        self, status: int, message: str, *, code: str | None = None, param: str | None = None
    ) -> dict[str, Any]:
        return vtrix_error(status, message, code=code, param=param)

    def render(self, job: Job, state: JobState, ctx: Context) -> dict[str, Any]:
        size = f"{job.width}x{job.height}"
        metadata: dict[str, Any] = {"size": size, "seconds": str(job.seconds)}
        if job.remixed_from:
            metadata["remix_video_id"] = job.remixed_from
        if job.notes:
            metadata["mock_notes"] = job.notes
        task: dict[str, Any] = {
            "id": job.id,
            "model": job.model,
            "status": STATUS_WORDS[state.status],
            "progress": round(state.progress, 3),
            "created_at": int(job.created_at),
            "metadata": metadata,
        }
        if state.status is Status.COMPLETED:
            url = ctx.host_url + self.service.media_path(job.id)
            task["output"] = [{"content": [{"type": "video", "url": url, "size": size}]}]
            task["usage"] = {"cost": f"{PRICE_PER_SECOND * job.seconds:.4f}", "discount": 0}
        if state.status is Status.FAILED:
            code = state.error_code or self.failure[0]
            task["error"] = {
                "code": code,
                "error_message": FAILURE_CODES.get(code, self.failure[1]),
            }
        return task

    def _respond(self, job: Job, ctx: Context) -> Response:
        return json_response(self.render(job, self.service.state(job), ctx))

    @handles("createGeneration")
    def create(self, ctx: Context) -> Response:
        body = ctx.body
        refused = self.refuse_model(ctx, body["model"])
        if refused is not None:
            return refused
        width, height = parse_size(body["size"])
        source = None
        if "remix_video_id" in body:
            source = self.service.find(body["remix_video_id"], self.name)
            if source is None:
                return error_response(
                    self, 404, "no video with this id", code="404", param="remix_video_id"
                )
            if self.service.state(source).status is not Status.COMPLETED:
                return error_response(
                    self,
                    409,
                    "must be the id of a completed video",
                    code="409",
                    param="remix_video_id",
                )
        image = self.service.image_of(source) if source else None
        notes: list[str] = []
        if "input_reference" in body:
            found = self.reference_image(
                ctx,
                body["input_reference"],
                "input_reference",
                (width, height),
                "input_reference size must match size exactly",
            )
            if isinstance(found, Response):
                return found
            image, notes = found
        if (
            ctx.scenario is not None
            and ctx.scenario.argument
            and ctx.scenario.argument not in FAILURE_CODES
        ):
            return error_response(
                self,
                400,
                f"unknown Vtrix failure code {ctx.scenario.argument!r}; known: "
                + ", ".join(FAILURE_CODES),
                param="X-Mock-Scenario",
            )
        job = self.new_job(
            ctx,
            model=body["model"],
            prompt=body["prompt"],
            width=width,
            height=height,
            seconds=int(body["seconds"]),
            image=image,
            params={"size": body["size"], "seconds": body["seconds"]},
            notes=notes,
            remixed_from=source.id if source else None,
        )
        return self._respond(job, ctx)

    @handles("getGenerationTask")
    def task(self, ctx: Context) -> Response:
        job = self.service.find(ctx.path["task_id"], self.name)
        if job is None:
            return error_response(self, 404, f"task {ctx.path['task_id']!r} not found", code="404")
        return self._respond(job, ctx)
