"""The OpenAI `/v1/videos` surface, as GPTProto's ``gptproto_videos`` serves it.

gpt.ge, the other clone, is served from its contract's declaration (the generic engine,
``declared.py``); the switches here (timestamps, the content of an unfinished video,
GPTProto's extra ``soraVideoUrl``) are the ways the two differ (contracts/README.md).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from flask import Response

from mockserver.dialects.base import Context, Dialect, handles
from mockserver.lifecycle import Job, JobState, Status
from mockserver.responses import error_response, json_response
from mockserver.service import send_asset

#: seconds a completed video stays available, as the seed 001 status example shows
EXPIRY_SECONDS = 3600
INPAINT_MESSAGE = "Inpaint image must match the requested width and height"


def parse_size(size: str) -> tuple[int, int]:
    width, _, height = size.partition("x")
    return int(width), int(height)


def file_bytes(value: Any) -> bytes | None:
    """A multipart file part as openapi-core hands it over (latin-1 text) back to bytes."""
    if value is None:
        return None
    return value.encode("latin-1") if isinstance(value, str) else bytes(value)


class OpenAIVideos(Dialect):
    create_operations: ClassVar[frozenset[str]] = frozenset({"createVideo", "remixVideo"})
    #: True: timestamps are strings of unix seconds (GPTProto); False: integers
    string_timestamps: ClassVar[bool] = False
    #: True: content of an unfinished job is the JSON job with 200 (GPTProto's document)
    content_json_until_ready: ClassVar[bool] = False
    #: GPTProto adds the video URL as `soraVideoUrl`
    sora_video_url: ClassVar[bool] = False
    failure: ClassVar[tuple[str, str]] = ("video_generation_failed", "Video generation failed")
    #: seconds from completion to `expires_at`; None: `expires_at` is always null
    expiry_seconds: ClassVar[int | None] = EXPIRY_SECONDS

    def _ts(self, value: float | None) -> int | str | None:
        if value is None:
            return None
        return str(int(value)) if self.string_timestamps else int(value)

    def render(self, job: Job, state: JobState, ctx: Context) -> dict[str, Any]:
        percent = (
            100 if state.status is Status.COMPLETED else min(99, math.floor(state.progress * 100))
        )
        body: dict[str, Any] = {
            "id": job.id,
            "object": "video",
            "created_at": self._ts(job.created_at),
            "status": state.status.value,
            "model": job.model,
            "progress": percent,
            "seconds": str(job.seconds),
            "size": f"{job.width}x{job.height}",
            "completed_at": self._ts(
                state.finished_at if state.status is Status.COMPLETED else None
            ),
            # the moment the job is purged (lifecycle.plan_expiry), shown once it completed
            "expires_at": self._ts(
                job.expires_at
                if state.status is Status.COMPLETED and self.expiry_seconds is not None
                else None
            ),
            "error": (
                {
                    "code": state.error_code or self.failure[0],
                    "message": state.error_message or self.failure[1],
                }
                if state.status is Status.FAILED
                else None
            ),
            "remixed_from_video_id": job.remixed_from,
            "prompt": job.prompt,
        }
        if self.sora_video_url:
            if job.model == "sora-2":
                # seed 001 prints `quality: standard` for a sora-2 job; a pro job's word is
                # not shown, so none is invented (contracts/README.md)
                body["quality"] = "standard"
            body["soraVideoUrl"] = (
                ctx.host_url + self.service.media_path(job.id)
                if state.status is Status.COMPLETED
                else None
            )
        return body

    def _job_response(self, job: Job, ctx: Context, status: int = 200) -> Response:
        state = self.service.state(job)
        headers = {}
        if not state.status.terminal:
            headers["openai-poll-after-ms"] = str(self._poll_hint_ms(job, state))
        if job.notes:
            headers["X-Mock-Notes"] = " | ".join(job.notes)
        return json_response(self.render(job, state, ctx), status, headers)

    def _poll_hint_ms(self, job: Job, state: JobState) -> int:
        # a tenth of the render, between 250 ms and 5 s (in clock time)
        return int(min(5000, max(250, job.render_seconds * 100)))

    def _not_found(self, video_id: str) -> Response:
        return error_response(self, 404, f"Video with id '{video_id}' not found.", param="video_id")

    @handles("createVideo")
    def create(self, ctx: Context) -> Response:
        body = ctx.body
        refused = self.refuse_model(ctx, body["model"])
        if refused is not None:
            return refused
        width, height = parse_size(body["size"])
        image = file_bytes(body.get("input_reference"))
        if image is not None:
            refused = self.check_image(image, "input_reference", (width, height), INPAINT_MESSAGE)
            if refused is not None:
                return refused
        job = self.new_job(
            ctx,
            model=body["model"],
            prompt=body["prompt"],
            width=width,
            height=height,
            seconds=int(body["seconds"]),
            image=image,
            params={"size": body["size"], "seconds": body["seconds"]},
        )
        return self._job_response(job, ctx)

    @handles("getVideo")
    def retrieve(self, ctx: Context) -> Response:
        job = self.service.find(ctx.path["video_id"], self.name)
        if job is None:
            return self._not_found(ctx.path["video_id"])
        return self._job_response(job, ctx)

    @handles("listVideos")
    def list(self, ctx: Context) -> Response:
        q = ctx.query
        after = q.get("after")
        self.service.purge_expired()
        jobs, has_more = self.service.store.jobs(
            api=self.name,
            owner=ctx.owner,
            order=q.get("order", "desc"),
            after=after,
            limit=q.get("limit", 20),
        )
        now = self.service.now()
        # more jobs may have expired than one purge takes: none is listed (a read would 404)
        jobs = [j for j in jobs if not j.expired(now)]
        data = [self.render(j, self.service.state(j), ctx) for j in jobs]
        return json_response(
            {
                "object": "list",
                "data": data,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
                "has_more": has_more,
            }
        )

    @handles("deleteVideo")
    def delete(self, ctx: Context) -> Response:
        job = self.service.find(ctx.path["video_id"], self.name)
        if job is None:
            return self._not_found(ctx.path["video_id"])
        self.service.delete(job)
        return json_response({"id": job.id, "object": "video.deleted", "deleted": True})

    @handles("getVideoContent")
    def content(self, ctx: Context) -> Response:
        job = self.service.find(ctx.path["video_id"], self.name)
        if job is None:
            return self._not_found(ctx.path["video_id"])
        state = self.service.state(job)
        if state.status is not Status.COMPLETED:
            if self.content_json_until_ready:
                return self._job_response(job, ctx)
            word = "failed" if state.status is Status.FAILED else "is not ready yet"
            return error_response(
                self,
                404,
                f"Video {job.id} {word}: its content cannot be downloaded.",
                code="video_not_ready" if not state.status.terminal else "video_failed",
            )
        variant = ctx.query.get("variant", "video")
        return send_asset(self.service, job, variant)

    @handles("remixVideo")
    def remix(self, ctx: Context) -> Response:
        source = self.service.find(ctx.path["video_id"], self.name)
        if source is None:
            return self._not_found(ctx.path["video_id"])
        if self.service.state(source).status is not Status.COMPLETED:
            return error_response(
                self, 409, "Only a completed video can be remixed.", param="video_id"
            )
        refused = self.refuse_model(ctx, source.model)
        if refused is not None:
            return refused
        job = self.new_job(
            ctx,
            model=source.model,
            prompt=ctx.body["prompt"],
            width=source.width,
            height=source.height,
            seconds=source.seconds,
            image=self.service.image_of(source),
            params=dict(source.params),
            remixed_from=source.id,
        )
        return self._job_response(job, ctx)
