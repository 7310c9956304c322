"""The provider-neutral job lifecycle. No Flask here.

A job is a record fixed at creation (what was asked, when, how long it will queue and render,
and how it will end). Its state at any instant is a pure function of that record and the
clock: queued, then in_progress with progress rising monotonically, then completed or failed.
Nothing is stored when a job moves on, so every worker process agrees on every job.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mockserver.settings.config import Timings


class Status(StrEnum):
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in (Status.COMPLETED, Status.FAILED)


@dataclass
class Job:
    id: str
    #: the contract (dialect) that created the job: "gptge-videos", "vtrix-generation", ...
    api: str
    model: str
    prompt: str
    width: int
    height: int
    seconds: int
    owner: str
    created_at: float
    queue_seconds: float
    render_seconds: float
    #: "completed" or "failed"
    outcome: str = "completed"
    #: progress (0..1) at which a failing job fails
    fail_progress: float = 0.5
    error_code: str | None = None
    error_message: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    #: key of the reference image in the store's blobs, if any
    image_key: str | None = None
    notes: list[str] = field(default_factory=list)
    remixed_from: str | None = None
    #: the scenario that applied when it was created (``generation_failed:003000097``, ``slow``)
    scenario: str | None = None
    #: when the record and its data are purged (epoch seconds on the mock's clock); None: never
    expires_at: float | None = None
    #: the cassette a replayed job's answers come from (``serve --replay``); None: simulated
    replay: str | None = None

    @property
    def provider(self) -> str:
        """The mock prefix of the API that created the job: gptproto, gptge, vtrix."""
        return self.api.split("-", 1)[0]

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def to_dict(self) -> dict[str, Any]:
        # every field is a plain value but these two containers (asdict's deep walk costs
        # more than the rest of a status poll)
        data = dict(self.__dict__)
        data["params"] = dict(self.params)
        data["notes"] = list(self.notes)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        return cls(**data)


@dataclass(frozen=True)
class JobState:
    status: Status
    #: 0.0..1.0, never decreasing
    progress: float
    started_at: float | None
    finished_at: float | None
    error_code: str | None = None
    error_message: str | None = None


def state_at(job: Job, now: float) -> JobState:
    started = job.created_at + job.queue_seconds
    if now < started:
        return JobState(Status.QUEUED, 0.0, None, None)
    failing = job.outcome == "failed"
    span = job.render_seconds * (job.fail_progress if failing else 1.0)
    end = started + span
    if now < end:
        progress = (now - started) / job.render_seconds if job.render_seconds else 0.0
        return JobState(Status.IN_PROGRESS, min(progress, 0.999), started, None)
    if failing:
        return JobState(
            Status.FAILED, job.fail_progress, started, end, job.error_code, job.error_message
        )
    return JobState(Status.COMPLETED, 1.0, started, end)


def plan_expiry(
    job: Job, retention: float | None, after_completion: float | None = None
) -> float | None:
    """When a job is purged (epoch seconds on the mock's clock), or None: never.

    ``after_completion`` is a contract's ``expires_at`` offset (GPTProto ``/v1/videos``: an
    hour after ``completed_at``): a job that completes expires that long after the whole
    second its ``completed_at`` shows, so the field a client reads is the purge moment itself.
    Every other job (no such offset, or one that fails) is kept ``retention`` seconds after its
    creation. ``retention`` None (``--retention never``) keeps every job.
    """
    if retention is None:
        return None
    if after_completion is not None and job.outcome == "completed":
        finished = job.created_at + job.queue_seconds + job.render_seconds
        return float(int(finished) + after_completion)
    return job.created_at + retention


def plan_durations(
    job_id: str, video_seconds: int, timings: Timings, speed: float
) -> tuple[float, float]:
    """(queue, render) seconds for a job: realistic shape, short by default, divided by speed.

    The jitter is drawn from the job id, so a job's plan is reproducible and needs no RNG state.
    """
    digest = hashlib.sha256(job_id.encode()).digest()
    spread = (digest[0] / 255.0 * 2 - 1) * timings.jitter
    queue = timings.queue_seconds * (1 + spread)
    render = (
        timings.render_base_seconds + timings.render_seconds_per_video_second * video_seconds
    ) * (1 - spread / 2)
    return max(queue, 0.0) / speed, max(render, 0.001) / speed


def new_id(prefix: str, nbytes: int = 16) -> str:
    return f"{prefix}{secrets.token_hex(nbytes)}"


def key_fingerprint(api_key: str) -> str:
    """A short, stable, non-reversible name for an API key: what journals and stores keep."""
    return "key_" + hashlib.sha256(api_key.encode()).hexdigest()[:12]
