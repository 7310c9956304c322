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
    #: uploaded files (POST /__mock/files) kept at most, by count and in bytes: an upload
    #: over either first evicts the oldest files no job uses, else it is a 413
    files_quota: int = 1000
    files_quota_bytes: int = 256 * 1024 * 1024
    #: largest request body accepted, in bytes (413 above it)
    max_body_bytes: int = 32 * 1024 * 1024
    #: where rendered videos are cached on disk (None: memory only)
    media_dir: Path | None = None
    #: bytes of rendered media kept in that directory (or beside a SQLite store), least
    #: recently used deleted first; 0: no limit (`--media-dir-bytes`)
    media_dir_bytes: int = 1 << 30
    #: with a Redis store and no `media_dir`: bytes of rendered media every host shares in
    #: Redis (least recently used go first; 0: none, each host renders its own)
    media_redis_bytes: int = 256 * 1024 * 1024
    #: delay, in seconds, the `slow` scenario adds to a response
    slow_seconds: float = 3.0
    #: frames per second of rendered videos
    fps: int = 12
    #: render a job's video in the background from the moment it is accepted
    prerender: bool = True
    #: background render threads per worker process
    render_threads: int = 1
    #: requests the journal keeps (the newest), shared by every worker
    journal_size: int = 1000
    #: one console line per request: "text", "json", or None for none (`--quiet`; the default
    #: when the app is built in-process, e.g. by tests)
    log_format: str | None = None
    #: show the dashboard's own requests (``X-Mock-Client: dashboard``) on the console too
    log_dashboard: bool = False
    #: the address the server listens on (`--host`): URLs naming it are the mock's own
    bind_host: str | None = None
    #: more names the ``Host`` header may carry (`--allowed-host`): ``NAME``, ``.DOMAIN`` (it
    #: and every name under it) or ``*`` (any); loopback names, IP addresses, this machine's
    #: name, the bind address and .test/.example/.invalid/.localhost need none (hosts.py)
    allowed_hosts: tuple[str, ...] = ()
    #: how long a job is kept after its creation, in clock seconds (None: forever); an expired
    #: job is purged and answers as an unknown id (contracts/README.md)
    retention_seconds: float | None = 24 * 3600.0
    #: scenario rules switched on at start-up: ``NAME`` (everyone) or ``NAME@KEY`` (one key)
    scenarios: tuple[str, ...] = ()
    #: send `Retry-After` on 429s (no provider document mentions it: a client must cope
    #: with both; `--no-retry-after` shows the other behaviour)
    retry_after: bool = True
    #: count requests, renders, faults for ``GET /metrics`` (Prometheus; `--no-metrics`: off,
    #: and /metrics is a 404)
    metrics: bool = True
    #: models every create answers with the provider's own "model not found"
    #: (`--retired-model NAME`, repeatable; the `model_unavailable` scenario does it per key)
    retired_models: tuple[str, ...] = ()
    #: largest JSON body (413 above it) and deepest nesting (400 above it) the mock parses
    max_json_bytes: int = 32 * 1024 * 1024
    max_json_depth: int = 64
    #: chat completions that may wait for their video at once, per process (429 above it)
    max_waiting_chats: int = 32
    #: real seconds a chat completion may wait for its video before the mock gives up on it
    chat_max_wait_seconds: float = 120.0
    #: real seconds a remote reference-image fetch may take in all (redirects included)
    remote_fetch_seconds: float = 10.0
    #: unexpected errors kept (with their tracebacks) for tests to re-raise
    error_history: int = 20
    #: serve the jobs recorded in this directory (``sora-mock proxy --record``); None: off
    replay_dir: Path | None = None
    #: a create no cassette matches: "mock" (simulate it) or "404"
    replay_fallback: str = "mock"
    #: a create that differs from the recording it is given: "lenient" (replayed, the answer's
    #: X-Mock-Replay-Mismatch header names the fields) or "strict" (refused with 400)
    replay_match: str = "lenient"
    #: provider files served besides the bundled contracts (`--provider FILE`, repeatable): a
    #: contract with its ``x-sora-mock`` declaration, added with ``contracts.add_provider``
    providers: tuple[str | Path, ...] = ()
    #: a models file (`--models FILE`): models the declared providers serve besides their
    #: contracts' (``contracts.use_models``); None: the contracts' models only
    models_file: str | Path | None = None
    #: webhooks of a declared provider's callback URL (mockserver.http.webhooks): the signing
    #: secret (None: sent unsigned; `--webhook-secret`); never shown (not in the repr)
    webhook_secret: str | None = field(default=None, repr=False)
    #: hosts besides loopback a callback URL may name: ``NAME`` or ``.DOMAIN`` (it and every
    #: name under it) (`--webhook-allow-host`); any other is refused at create with a 400
    webhook_allow_hosts: tuple[str, ...] = ()
    #: attempts per event at most (the first included), then it is given up
    webhook_attempts: int = 5
    #: clock seconds before the first retry, doubled at each (at most 300 s)
    webhook_backoff_seconds: float = 10.0
    #: real seconds one attempt may take, connection and answer included
    webhook_timeout_seconds: float = 10.0
