"""Everything the dialects share: jobs, clock, store, media, faults, journal. No Flask here.

Dialects translate between a provider's words and this service; the lifecycle, the faults,
the rate limit and the storage live here once.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mockserver import media
from mockserver.clock import Clock, RealClock, SteppingClock, VirtualClock
from mockserver.config import MockConfig
from mockserver.faults import RandomFaults, RateLimiter, Selected
from mockserver.lifecycle import Job, JobState, Status, new_id, plan_durations, state_at
from mockserver.store import Store, open_store

PLACEHOLDER_NOTE = (
    "the reference image URL was not fetched (remote fetching is off; start the mock with "
    "--fetch-remote-images to allow it): the video is rendered from a placeholder frame"
)
MEDIA_VARIANTS = {
    "video": ("video.mp4", "video/mp4"),
    "thumbnail": ("thumbnail.webp", "image/webp"),
    "spritesheet": ("spritesheet.jpg", "image/jpeg"),
}


@dataclass
class JournalEntry:
    time: float
    method: str
    path: str
    provider: str
    operation: str | None
    status: int
    latency_ms: float
    request_id: str
    key: str | None
    scenario: str | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ResolvedImage:
    data: bytes | None
    note: str | None = None


@dataclass
class MockService:
    config: MockConfig
    clock: Clock
    store: Store
    media: media.MediaCache
    faults: RandomFaults
    limiter: RateLimiter | None
    journal: deque[JournalEntry] = field(default_factory=deque)
    #: unexpected exceptions raised by handlers: a test fixture re-raises them (never swallowed)
    errors: list[BaseException] = field(default_factory=list)
    #: responses that broke their contract in strict mode
    violations: list[str] = field(default_factory=list)
    #: how long the `slow` scenario waits; tests swap it for a recorder
    sleep: Callable[[float], None] = time.sleep
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_config(cls, config: MockConfig) -> MockService:
        store = open_store(config.store)
        clock: Clock
        start = config.clock_start or float(int(time.time()))
        if config.clock == "virtual":
            clock = VirtualClock(store, start)
        elif config.clock == "stepping":
            clock = SteppingClock(store, start, config.clock_step)
        elif config.clock == "real":
            clock = RealClock()
        else:
            raise ValueError(f"unknown clock {config.clock!r}: use 'real', 'virtual' or 'stepping'")
        if config.speed <= 0:
            raise ValueError("speed must be positive")
        limiter = RateLimiter(config.rate_limit_rpm, clock) if config.rate_limit_rpm else None
        return cls(
            config=config,
            clock=clock,
            store=store,
            media=media.MediaCache(directory=config.media_dir or _default_media_dir(config)),
            faults=RandomFaults(config.fault_rate, config.fault_seed),
            limiter=limiter,
            journal=deque(maxlen=config.journal_size),
        )

    # ------------------------------------------------------------------ jobs

    def create_job(
        self,
        *,
        api: str,
        id_prefix: str,
        model: str,
        prompt: str,
        width: int,
        height: int,
        seconds: int,
        owner: str,
        image: bytes | None,
        params: dict[str, Any],
        scenario: Selected | None,
        failure: tuple[str, str],
        notes: list[str] | None = None,
        remixed_from: str | None = None,
    ) -> Job:
        """Plan and store a new job; it is never lost once this returns."""
        job_id = new_id(id_prefix)
        queue, render = plan_durations(job_id, seconds, self.config.timings, self.config.speed)
        job = Job(
            id=job_id,
            api=api,
            model=model,
            prompt=prompt,
            width=width,
            height=height,
            seconds=seconds,
            owner=owner,
            created_at=self.clock.now(),
            queue_seconds=queue,
            render_seconds=render,
            params=params,
            notes=list(notes or []),
            remixed_from=remixed_from,
        )
        if scenario is not None and scenario.scenario == "generation_failed":
            job.outcome = "failed"
            job.error_code = scenario.argument or failure[0]
            job.error_message = failure[1]
        if image is not None:
            job.image_key = f"image:{job_id}"
            self.store.put_blob(job.image_key, image)
        self.store.add(job)
        return job

    def find(self, job_id: str, api: str) -> Job | None:
        """The job with this id, if ``api`` created it (ids of one API are unknown to another)."""
        job = self.store.get(job_id)
        return job if job is not None and job.api == api else None

    def state(self, job: Job) -> JobState:
        state = state_at(job, self.clock.now())
        if self.config.prerender and state.status in (Status.IN_PROGRESS, Status.COMPLETED):
            # start rendering before anyone asks for the file: off the request path
            self.media.prerender((job.id, "video"), lambda: self._render(job, "video"))
        return state

    def delete(self, job: Job) -> None:
        self.store.delete(job.id)
        for variant in MEDIA_VARIANTS:
            self.media.discard((job.id, variant))

    # ------------------------------------------------------------------ media

    def image_of(self, job: Job) -> bytes | None:
        return self.store.get_blob(job.image_key) if job.image_key else None

    def _render(self, job: Job, variant: str) -> bytes:
        image = self.image_of(job)
        caption = job.prompt[:200]
        if variant == "video":
            return media.render_video(
                image, job.width, job.height, job.seconds, fps=self.config.fps, caption=caption
            )
        if variant == "thumbnail":
            return media.render_thumbnail(image, job.width, job.height)
        if variant == "spritesheet":
            return media.render_spritesheet(image, job.width, job.height, job.seconds)
        raise ValueError(f"unknown variant {variant!r}")

    def asset(self, job: Job, variant: str = "video") -> bytes:
        return self.media.get((job.id, variant), lambda: self._render(job, variant))

    @staticmethod
    def media_path(job_id: str, variant: str = "video") -> str:
        return f"/__mock/media/{job_id}/{MEDIA_VARIANTS[variant][0]}"

    def resolve_image_url(self, url: str, own_hosts: set[str]) -> ResolvedImage:
        """Bytes of a reference image named by URL; never fetches a remote URL unless allowed.

        Raises ``media.ImageError`` for a malformed data: URL or an unknown mock URL.
        """
        if url.startswith("data:"):
            return ResolvedImage(media.parse_data_url(url))
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise media.ImageError(f"not an image URL: {url[:80]!r}")
        if parts.netloc in own_hosts:
            return ResolvedImage(self._own_image(parts.path))
        if not self.config.fetch_remote_images:
            return ResolvedImage(None, PLACEHOLDER_NOTE)
        return ResolvedImage(self._fetch_remote(url))

    def _own_image(self, path: str) -> bytes:
        segments = [s for s in path.split("/") if s]
        if len(segments) == 3 and segments[:2] == ["__mock", "files"]:
            data = self.store.get_blob(f"file:{segments[2]}")
            if data is not None:
                return data
        if len(segments) == 4 and segments[:2] == ["__mock", "media"]:
            job = self.store.get(segments[2])
            variant = {v[0]: k for k, v in MEDIA_VARIANTS.items()}.get(segments[3])
            if job is not None and variant == "thumbnail":
                return self.asset(job, "thumbnail")
        raise media.ImageError(f"the mock serves no image at {path!r}")

    def _fetch_remote(self, url: str) -> bytes:
        import httpx

        limit = self.config.max_body_bytes
        try:
            with httpx.stream("GET", url, timeout=10.0, follow_redirects=True) as response:
                response.raise_for_status()
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise media.ImageError(f"image at {url[:80]} is larger than {limit} bytes")
                    chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise media.ImageError(f"could not fetch image {url[:80]}: {exc}") from exc
        return b"".join(chunks)

    def store_file(self, data: bytes) -> str:
        """Keep an uploaded image; return its id (served at /__mock/files/<id>)."""
        media.probe_image(data)
        file_id = new_id("file_", 12)
        self.store.put_blob(f"file:{file_id}", data)
        return file_id

    # ------------------------------------------------------------------ admin

    def record(self, entry: JournalEntry) -> None:
        with self._lock:
            self.journal.append(entry)

    def reset(self) -> None:
        jobs, _ = self.store.jobs(order="asc")
        for job in jobs:
            for variant in MEDIA_VARIANTS:
                self.media.discard((job.id, variant))
        self.store.reset()
        if self.limiter:
            self.limiter.reset()
        with self._lock:
            self.journal.clear()
            self.errors.clear()
            self.violations.clear()


def _default_media_dir(config: MockConfig) -> Path | None:
    """With a SQLite store, rendered videos are cached beside it (workers, restarts share it)."""
    if config.store.startswith("sqlite:"):
        return Path(config.store[len("sqlite:") :] + ".media")
    return None


def send_asset(service: MockService, job: Job, variant: str) -> Any:
    """A rendered asset as a Flask response: Content-Type, Length, ETag, Range (206/416)."""
    import io

    from flask import request, send_file

    name, mimetype = MEDIA_VARIANTS[variant]
    data = service.asset(job, variant)
    _fix_range(request.environ, len(data))
    return send_file(
        io.BytesIO(data),
        mimetype=mimetype,
        as_attachment=False,
        download_name=f"{job.id}-{name}",
        conditional=True,
        etag=f"{job.id}-{variant}-{len(data)}",
        max_age=3600,
    )


def _fix_range(environ: dict[str, Any], length: int) -> None:
    """Two RFC 9110 rules Werkzeug 3.1 bends, applied before it reads the headers: a suffix
    range longer than the file means the whole file (14.1.3; Werkzeug answers 416), and
    If-Range compares strongly, so a weak validator never yields a part (13.1.5)."""
    if environ.get("HTTP_IF_RANGE", "").lstrip().startswith("W/"):
        environ.pop("HTTP_RANGE", None)
        return
    spec = environ.get("HTTP_RANGE", "").replace(" ", "")
    if spec.startswith("bytes=-") and spec[7:].isdigit() and int(spec[7:]) > length:
        environ["HTTP_RANGE"] = "bytes=0-"
