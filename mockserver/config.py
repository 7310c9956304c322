"""The mock's configuration: one typed dataclass, built from the command line or by tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Timings:
    """How long a job waits and renders, in clock seconds, before ``speed`` is applied."""

    queue_seconds: float = 2.0
    render_base_seconds: float = 4.0
    render_seconds_per_video_second: float = 0.25
    #: relative spread drawn per job (0.2 = +-20 %), from the job id so it is reproducible
    jitter: float = 0.2


@dataclass
class MockConfig:
    #: "real" (wall clock), "virtual" (advanced only through the admin API), or "stepping"
    #: (virtual, and also moves `clock_step` seconds at every read: for fuzzing)
    clock: str = "real"
    clock_step: float = 0.5
    #: epoch seconds the virtual clock starts at (None: the wall clock at start-up)
    clock_start: float | None = None
    #: divides every planned duration: 10 = ten times faster
    speed: float = 1.0
    timings: Timings = field(default_factory=Timings)
    #: "memory" or "sqlite:PATH"
    store: str = "memory"
    #: validate every response against its contract; a violation becomes a 500
    strict: bool = False
    #: chance that a request gets a random transient fault (429/500); seeded
    fault_rate: float = 0.0
    fault_seed: int = 0
    #: requests per minute per API key (token bucket); None: unlimited
    rate_limit_rpm: int | None = None
    #: fetch image URLs that are neither data: URLs nor the mock's own (SSRF risk: opt-in)
    fetch_remote_images: bool = False
    #: accepted keys; empty: any non-empty key is accepted
    api_keys: tuple[str, ...] = ()
    #: largest request body accepted, in bytes (413 above it)
    max_body_bytes: int = 32 * 1024 * 1024
    #: where rendered videos are cached on disk (None: memory only)
    media_dir: Path | None = None
    #: delay, in seconds, the `slow` scenario adds to a response
    slow_seconds: float = 3.0
    #: frames per second of rendered videos
    fps: int = 12
    #: start rendering a job's video in the background as soon as it is in progress
    prerender: bool = True
    #: request journal length kept per process
    journal_size: int = 1000
    #: serve the jobs recorded in this directory (``sora-mock proxy --record``); None: off
    replay_dir: Path | None = None
    #: a create no cassette matches: "mock" (simulate it) or "404"
    replay_fallback: str = "mock"
