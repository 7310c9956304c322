"""Everything the dialects share: jobs, clock, store, media, faults, journal. No Flask here.

Dialects translate between a provider's words and this service; the lifecycle, the faults,
the rate limit and the storage live here once.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from mockserver import media
from mockserver.http import exchange
from mockserver.http.webhooks import Webhooks
from mockserver.media import RenderCrashed, remote
from mockserver.media.renders import RenderQueue
from mockserver.settings.config import MockConfig
from mockserver.state.clock import Clock, RealClock, SteppingClock, VirtualClock
from mockserver.state.faults import RandomFaults, RateLimiter, Selected, parse
from mockserver.state.journal import JournalEntry, JournalWriter
from mockserver.state.lifecycle import (
    Job,
    JobState,
    key_fingerprint,
    new_id,
    plan_durations,
    plan_expiry,
    state_at,
)
from mockserver.state.metrics import Metrics
from mockserver.state.store import Store
from mockserver.state.stores import open_store

if TYPE_CHECKING:
    from flask import Flask

    from mockserver.media.media_store import RedisMediaStore

log = logging.getLogger("mockserver")

#: kinds of unexpected error counted one by one (more are counted in ``error_count`` only)
MAX_ERROR_KINDS = 100
PLACEHOLDER_NOTE = (
    "the reference image URL was not fetched (remote fetching is off; start the mock with "
    "--fetch-remote-images to allow it): the video is rendered from a placeholder frame"
)
MEDIA_VARIANTS = {
    "video": ("video.mp4", "video/mp4"),
    "thumbnail": ("thumbnail.webp", "image/webp"),
    "spritesheet": ("spritesheet.jpg", "image/jpeg"),
}


class FilesFull(Exception):
    """An upload the files quota has no room for, even without the files no job uses."""


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
    #: videos rendered in the background from the moment a job is accepted
    renders: RenderQueue
    #: what ``GET /metrics`` exposes (None: ``--no-metrics``)
    metrics: Metrics | None = None
    #: the latest unexpected exceptions raised by handlers (bounded): a test fixture re-raises
    #: them (never swallowed); ``error_count`` counts them all
    errors: deque[BaseException] = field(default_factory=lambda: deque(maxlen=20))
    error_count: int = 0
    #: how often each kind of unexpected error was seen (bounded: the first 100 kinds)
    error_kinds: dict[str, int] = field(default_factory=dict)
    #: responses that broke their contract in strict mode (the latest ones, bounded)
    violations: deque[str] = field(default_factory=lambda: deque(maxlen=100))
    #: which resolved addresses a remote image fetch may connect to; tests let loopback through
    remote_address_allowed: remote.AddressPolicy = remote.public_only
    #: how long the `slow` scenario waits; tests swap it for a recorder
    sleep: Callable[[float], None] = time.sleep
    _lock: threading.Lock = field(default_factory=threading.Lock)
    #: one upload at a time checks and frees the files quota (per process)
    _files_lock: threading.Lock = field(default_factory=threading.Lock)
    #: journal entries reach the store in batches under load (mockserver.state.journal)
    journal_writer: JournalWriter = field(init=False)
    #: the webhooks this worker owes and sends (mockserver.http.webhooks)
    webhooks: Webhooks = field(init=False)

    def __post_init__(self) -> None:
        self.journal_writer = JournalWriter(self.store)
        self.webhooks = Webhooks(self)
        if self.metrics is not None:
            self.metrics.service = self
            self.journal_writer.on_error = functools.partial(self.metrics.store_error, "journal")

    @classmethod
    def from_config(cls, config: MockConfig) -> MockService:
        store = open_store(config.store, config.journal_size)
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
        limiter = (
            RateLimiter(config.rate_limit_rpm, clock, store) if config.rate_limit_rpm else None
        )
        for item in config.scenarios:
            name, _, key = item.partition("@")
            parse(name, "rule")  # UnknownScenario (a ValueError) names the known ones
            store.add_rule(name, key_fingerprint(key) if key else None, None, None)
        metrics = Metrics() if config.metrics else None
        cache = media.MediaCache(
            directory=config.media_dir or _default_media_dir(config),
            disk_max_bytes=config.media_dir_bytes,
            shared=_shared_media(config, store),
            timed_render=metrics.timed_render if metrics else None,
        )
        return cls(
            config=config,
            clock=clock,
            store=store,
            media=cache,
            faults=RandomFaults(config.fault_rate, config.fault_seed, store),
            limiter=limiter,
            renders=RenderQueue(
                cache, config.render_threads, metrics.render_queue_depth if metrics else None
            ),
            errors=deque(maxlen=config.error_history),
            metrics=metrics,
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
        expires_after_completion: float | None = None,
        image_sha256: bytes | None = None,
    ) -> Job:
        """Plan and store a new job; it is never lost once this returns (until it expires:
        ``expires_after_completion`` is its contract's ``expires_at`` offset, if it has one).
        ``image_sha256``: the image's SHA-256, when the caller hashed it already."""
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
            scenario=(
                ":".join(filter(None, (scenario.scenario.value, scenario.argument)))
                if scenario
                else None
            ),
        )
        if scenario is not None and scenario.scenario == "generation_failed":
            job.outcome = "failed"
            job.error_code = scenario.argument or failure[0]
            job.error_message = failure[1]
        job.expires_at = plan_expiry(job, self.config.retention_seconds, expires_after_completion)
        if image is not None:
            # stored once per content: a thousand jobs from one PNG keep one copy of it
            digest = image_sha256 or hashlib.sha256(image).digest()
            job.image_key = "image:" + digest.hex()
        self.store.add(job, image)
        if self.config.prerender:
            # ready when the job completes: the pool takes the earliest completion first
            due = job.created_at + job.queue_seconds + job.render_seconds
            self.renders.schedule(
                self.media_key(job, "video"), due, lambda: self._render(job, "video")
            )
        self.purge_expired()
        return job

    def find(self, job_id: str, api: str) -> Job | None:
        """The job with this id, if ``api`` created it (ids of one API are unknown to another)
        and it has not expired (an expired job is purged when it is next seen)."""
        job = self.live(job_id)
        return job if job is not None and job.api == api else None

    def live(self, job_id: str) -> Job | None:
        """The job with this id unless it has expired (an expired job is purged when seen):
        what every read by id goes through, the mock's own media URLs included."""
        job = self.store.get(job_id)
        if job is not None and job.expired(self.now()):
            self.delete(job)
            return None
        return job

    def purge_expired(self, limit: int = 20) -> int:
        """Delete up to ``limit`` jobs past their retention (a few per create: flat cost)."""
        due = self.store.expired(self.now(), limit)
        for job_id in due:
            self.store.delete(job_id)
        if due:
            self.store.webhook_forget(due)
        return len(due)

    def state(self, job: Job) -> JobState:
        """The job's state now (a read: it never starts any work)."""
        return state_at(job, self.now())

    def now(self) -> float:
        """The mock's time. A read the poll lane serves happens at one instant: the clock
        (a store read with a shared clock) is read once for it, so its expiry check, its
        state and its journal entry agree. Anything that waits reads the clock itself."""
        notes = exchange.current()
        if notes is None or not notes.instant or isinstance(self.clock, SteppingClock):
            return self.clock.now()
        if notes.now is None:
            notes.now = self.clock.now()
        return notes.now

    def delete(self, job: Job) -> None:
        # its media stay: they are keyed by content, and other jobs may share them
        self.store.delete(job.id)
        if job.api in self.webhooks.declaring():
            self.store.webhook_forget([job.id])

    # ------------------------------------------------------------------ media

    def image_of(self, job: Job) -> bytes | None:
        return self.store.get_blob(job.image_key) if job.image_key else None

    def media_key(self, job: Job, variant: str) -> tuple[str, ...]:
        """Media are keyed by what they are made of: the same image, size and duration give
        the same video, rendered once however many jobs ask for it."""
        size = f"{job.width}x{job.height}"
        shape = f"{job.seconds}s@{self.config.fps}" if variant != "thumbnail" else ""
        return (job.image_key or "placeholder", size, shape, variant)

    def _render(self, job: Job, variant: str) -> bytes:
        image = self.image_of(job)
        if variant == "video":
            try:
                return media.render_video(
                    image, job.width, job.height, job.seconds, fps=self.config.fps
                )
            except RenderCrashed as exc:
                self.render_crashed(job, exc)
                raise
        if variant == "thumbnail":
            return media.render_thumbnail(image, job.width, job.height)
        if variant == "spritesheet":
            return media.render_spritesheet(image, job.width, job.height, job.seconds)
        raise ValueError(f"unknown variant {variant!r}")

    def render_crashed(self, job: Job, exc: RenderCrashed) -> None:
        """The render process died on this job's video (twice): the job fails from now on
        with its provider's own failure (each dialect words a failure without a code), unless
        it has ended already. Only this job: the server and its other renders go on."""
        state = state_at(job, self.clock.now())
        if state.status.terminal:
            log.error("the video of job %s could not be rendered: %s", job.id, exc.reason)
            return
        failed = Job.from_dict(job.to_dict())
        failed.outcome = "failed"
        failed.error_code = failed.error_message = None
        # it fails where it stands now: a client never sees its progress go back
        failed.fail_progress = max(state.progress, 0.0)
        self.store.replace_job(failed)
        self.webhooks.ended_early(failed)  # its event is due now, not at its planned end
        log.error(
            "the render process died rendering the video of job %s (%s): the job fails",
            job.id,
            exc.reason,
        )

    def asset(self, job: Job, variant: str = "video") -> bytes:
        return self.media.get(self.media_key(job, variant), lambda: self._render(job, variant))

    @staticmethod
    def media_path(job_id: str, variant: str = "video") -> str:
        return f"/__mock/media/{job_id}/{MEDIA_VARIANTS[variant][0]}"

    def resolve_image_url(self, url: str, own_hosts: Container[str]) -> ResolvedImage:
        """Bytes of a reference image named by URL; never fetches a remote URL unless allowed.

        Raises ``media.ImageError`` for a malformed data: URL or an unknown mock URL.
        """
        if url.startswith("data:"):
            return ResolvedImage(media.parse_data_url(url))
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise media.ImageError(f"not an image URL: {url[:80]!r}")
        if parts.netloc in own_hosts:
            return ResolvedImage(self._own_image(parts.path, parts.query))
        if not self.config.fetch_remote_images:
            return ResolvedImage(None, PLACEHOLDER_NOTE)
        return ResolvedImage(self._fetch_remote(url))

    def _own_image(self, path: str, query: str = "") -> bytes:
        segments = [s for s in path.split("/") if s]
        if segments == ["__mock", "sample-image"]:
            return _sample_image(query)
        if len(segments) == 3 and segments[:2] == ["__mock", "files"]:
            data = self.store.get_blob(f"file:{segments[2]}")
            if data is not None:
                return data
        if len(segments) == 4 and segments[:2] == ["__mock", "media"]:
            job = self.live(segments[2])
            variant = {v[0]: k for k, v in MEDIA_VARIANTS.items()}.get(segments[3])
            if job is not None and variant == "thumbnail":
                return self.asset(job, "thumbnail")
        raise media.ImageError(f"the mock serves no image at {path!r}")

    def _fetch_remote(self, url: str) -> bytes:
        try:
            return remote.fetch(
                url,
                max_bytes=self.config.max_body_bytes,
                deadline_seconds=self.config.remote_fetch_seconds,
                allowed=self.remote_address_allowed,
            )
        except remote.FetchError as exc:
            raise media.ImageError(str(exc)) from None

    def store_file(self, data: bytes) -> str:
        """Keep an uploaded image; return its id (served at /__mock/files/<id>).

        Within the quota (``files_quota`` files, ``files_quota_bytes`` bytes): over it, the
        oldest files no job uses go first (a job uses a file when it was made from the same
        bytes: its reference image is kept under their hash); :class:`FilesFull` when that
        is not enough. Every worker (and host) counts the same store; two uploads at the
        same instant in two processes may each see room for one (the quota is exceeded by at
        most one file per process at once)."""
        media.probe_image(data)
        count, size = self.config.files_quota, self.config.files_quota_bytes
        if len(data) > size:
            raise FilesFull(
                f"the file ({len(data)} bytes) is larger than the files quota of {size} bytes"
            )
        with self._files_lock:
            kept = self.store.files()
            total = sum(n for _, n in kept)
            for key, n in list(kept):
                if len(kept) < count and total + len(data) <= size:
                    break
                held = self.store.get_blob(key)
                image_key = "image:" + hashlib.sha256(held).hexdigest() if held else None
                if image_key and self.store.get_blob(image_key) is not None:
                    continue  # a job uses it
                self.store.delete_blob(key)
                kept.remove((key, n))
                total -= n
            if len(kept) >= count or total + len(data) > size:
                raise FilesFull(
                    f"the files quota is full: {len(kept)} files, {total} bytes, every one used "
                    f"by a job (at most {count} files, {size} bytes; sora-mock serve "
                    "--files-quota N --files-quota-bytes SIZE, or POST /__mock/reset)"
                )
            file_id = new_id("file_", 12)
            self.store.put_blob(f"file:{file_id}", data)
        return file_id

    # ------------------------------------------------------------------ faults

    def draw_fault(self) -> Selected | None:
        """A random fault for this request, at the rate in force (set at run time or at start):
        the next draw of the seeded stream every worker shares (``faults.RandomFaults``)."""
        return self.faults.draw()

    def fault_settings(self) -> tuple[float, int]:
        return self.faults.setting()

    def set_faults(self, rate: float, seed: int | None = None) -> tuple[float, int]:
        """Set the rate (and the seed; None keeps the one in force) and restart the stream,
        for every worker. ValueError for a rate outside 0..1."""
        return self.faults.restart(rate, seed)

    # ------------------------------------------------------------------ admin

    def note_error(self, exc: BaseException, where: str) -> None:
        """Count an unexpected error; log its traceback the first time its kind is seen, then
        one line with the count (a flood of one bug neither fills the log nor the memory)."""
        kind = _error_kind(exc)
        if self.metrics is not None:
            self.metrics.unexpected_error(exc)
        with self._lock:
            self.error_count += 1
            self.errors.append(exc)
            seen = self.error_kinds.get(kind, 0)
            if seen or len(self.error_kinds) < MAX_ERROR_KINDS:
                self.error_kinds[kind] = seen + 1
        if seen == 0:
            log.error("unexpected error in the mock at %s (%s)", where, kind, exc_info=exc)
        else:
            log.error("unexpected error at %s (%s, seen %d times)", where, kind, seen + 1)

    def request_opened(self) -> None:
        """A request began (its journal entry may then wait for a batch)."""
        self.journal_writer.opened()
        if self.config.store != "memory":  # webhooks a worker that died owed, to send here
            self.webhooks.request_seen()

    def record(self, entry: JournalEntry | None) -> None:
        """A request was answered; its journal entry, None for a request not journalled."""
        self.journal_writer.closed(entry.to_dict() if entry is not None else None)

    def journal(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The latest requests, oldest first, as every worker of this server saw them."""
        self.journal_writer.flush()
        return self.store.journal(self.config.journal_size if limit is None else limit)

    def reset(self) -> None:
        self.journal_writer.flush()  # entries of requests before the reset go with it
        self.store.reset()
        self.store.webhook_clear()
        with self._lock:
            self.errors.clear()
            self.error_kinds.clear()
            self.error_count = 0
            self.violations.clear()


def _sample_image(query: str) -> bytes:
    """The PNG ``GET /__mock/sample-image?QUERY`` serves (its first ``size``, as Flask reads
    it), or the ``ImageError`` naming why that URL serves no image."""
    from mockserver import sample

    sizes = [v for k, v in parse_qsl(query, keep_blank_values=True) if k == "size"]
    size = sizes[0] if sizes else sample.DEFAULT_SIZE
    try:
        width, height = sample.parse_size(size)
    except sample.SizeError as exc:
        raise media.ImageError(f"the mock's sample image has no size {size!r}: {exc}") from None
    return sample.sample_image(width, height)


def _error_kind(exc: BaseException) -> str:
    """An error's type and the place it was raised: what tells one bug from another."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    place = f"{Path(tb.tb_frame.f_code.co_filename).name}:{tb.tb_lineno}" if tb else "?"
    return f"{type(exc).__name__} at {place}"


def _default_media_dir(config: MockConfig) -> Path | None:
    """With a SQLite store, rendered videos are cached beside it (workers, restarts share it)."""
    if config.store.startswith("sqlite:"):
        return Path(config.store[len("sqlite:") :] + ".media")
    return None


def _shared_media(config: MockConfig, store: Store) -> RedisMediaStore | None:
    """With a Redis store and no media directory: rendered media shared in that Redis, so
    every host finds a video any host rendered (``media_store``). A directory, when given,
    is the shared tier instead (on a file system every host mounts)."""
    redis_client = getattr(store, "redis", None)
    if redis_client is None or config.media_dir is not None or config.media_redis_bytes <= 0:
        return None
    from mockserver.media.media_store import RedisMediaStore

    return RedisMediaStore(redis_client, max_bytes=config.media_redis_bytes)


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


def service_of(app: Flask) -> MockService:
    svc: MockService = app.extensions["sora_mock"]
    return svc
