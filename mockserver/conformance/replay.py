"""Replay: the mock serves recorded jobs (``sora-mock serve --replay DIR``).

A create that matches a cassette (same contract and operation; the same body hash, else the
same prompt, else the next cassette not yet replayed, in recorded order) starts a replayed
job: its answers are the recorded ones, chosen by the time since the create on the mock's
clock (so the virtual clock and ``--speed`` work: at speed 10, a status recorded 30 s after
the create is served 3 s after it). Ids are rewritten consistently (the recorded job id
becomes a new one everywhere it appears, URLs included), links to the recorded provider
host point at the mock, and media are the recorded bytes (Range requests work). A create
that matches nothing goes to the simulated mock, or is answered 404 (``--replay-fallback``).

Every worker process loads the cassettes itself; a replayed job lives in the mock's store
(a blob), so workers sharing a SQLite store agree on it.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, Response, request, send_file

from contracts import ContractViolation, Operation
from mockserver import exchange
from mockserver.conformance import cassettes
from mockserver.conformance.cassettes import Cassette
from mockserver.conformance.contract_map import ContractMap
from mockserver.conformance.validation import path_values
from mockserver.dialects.base import Dialect
from mockserver.lifecycle import key_fingerprint
from mockserver.responses import error_response
from mockserver.service import MockService

log = logging.getLogger("mockserver.replay")

FALLBACKS = ("mock", "404")
MEDIA_ROUTE = "/__mock/replay/media/"
_BLOB_JOB = "replay:job:"
_BLOB_USED = "replay:used"
#: headers a replayed answer never carries over (the mock sets its own)
_DROP_HEADERS = frozenset({"content-length", "x-request-id", "transfer-encoding"})


@dataclass
class _Route:
    dialect: Dialect
    operation: Operation
    values: dict[str, str]


class Replay:
    """The cassettes of one directory, answering requests before the mock's own views."""

    def __init__(
        self, directory: Path, service: MockService, dialects: list[Dialect], fallback: str
    ) -> None:
        if fallback not in FALLBACKS:
            raise ValueError(f"replay fallback must be one of {', '.join(FALLBACKS)}")
        # absolute: Flask's send_file reads a relative path from the package's folder
        self.directory = Path(directory).resolve()
        self.service = service
        self.fallback = fallback
        self.cassettes = cassettes.load(self.directory)
        self.by_name = {c.name: c for c in self.cassettes}
        self.dialects = [d for d in dialects if any(c.contract == d.name for c in self.cassettes)]
        self.maps = {d.name: ContractMap(d.contract) for d in self.dialects}
        self._lock = threading.Lock()
        for cassette in self.cassettes:
            for problem in cassette.problems:
                log.warning(
                    "cassette %s: the recorded answer breaks today's contract: %s: %s",
                    cassette.name,
                    problem.where,
                    problem.message,
                )

    # ------------------------------------------------------------------ routing

    def before_request(self) -> Response | None:
        if request.path.startswith(MEDIA_ROUTE):
            return self._media_file(request.path[len(MEDIA_ROUTE) :])
        route = self._route()
        if route is None:
            return None
        dialect, op = route.dialect, route.operation
        api_key = dialect.credentials(request)
        if api_key is None:
            return None  # the mock's pipeline answers 401 in the provider's shape
        notes = exchange.current() or exchange.begin()
        notes.provider, notes.operation = dialect.prefix, op.operation_id
        notes.key = key_fingerprint(api_key)
        if op.operation_id in {o.operation_id for o in self.maps[dialect.name].create_operations()}:
            return self._create(dialect, op)
        for value in route.values.values():
            job = self._job(value)
            if job is not None:
                return self._read(dialect, op, job, value)
        return None

    def _route(self) -> _Route | None:
        prefix, _, rest = request.path.lstrip("/").partition("/")
        for dialect in self.dialects:
            if dialect.prefix != prefix:
                continue
            op = dialect.contract.find_operation(request.method, "/" + rest)
            if op is not None:
                return _Route(dialect, op, path_values(op, "/" + rest))
        return None

    # ------------------------------------------------------------------ creates

    def _create(self, dialect: Dialect, op: Operation) -> Response | None:
        from mockserver.binding import openapi_request

        try:
            dialect.contract.validate_request(openapi_request(dialect.prefix))
        except ContractViolation:
            return None  # the mock's pipeline answers 400 naming the field
        body = request.get_data(cache=True)
        _, sha, prompt = cassettes.summarize_request(request.content_type or "", body)
        cassette = self._match(dialect.name, op.operation_id, sha, prompt)
        if cassette is None:
            if self.fallback == "404":
                return error_response(
                    dialect,
                    404,
                    f"No recorded job matches this {op.operation_id} (replaying "
                    f"{self.directory.name}; start without --replay-fallback 404 to let the "
                    "mock simulate it)",
                    code="not_recorded",
                )
            return None
        created = self.service.clock.now()
        ids = {}
        if cassette.job_id:
            ids[cassette.job_id] = _new_id(cassette.job_id)
            record = {"cassette": cassette.name, "created": created, "ids": ids}
            self.service.store.put_blob(
                _BLOB_JOB + ids[cassette.job_id], json.dumps(record).encode()
            )
        create = cassette.data["create"]
        if create.get("events"):
            return self._stream(dialect, cassette, created, ids)
        return self._answer(cassette, create["response"], ids)

    def _match(
        self, contract: str, operation: str, sha: str, prompt: str | None
    ) -> Cassette | None:
        candidates = [
            c for c in self.cassettes if c.contract == contract and c.operation == operation
        ]
        for found in (
            next((c for c in candidates if c.body_sha256 == sha), None),
            next((c for c in candidates if prompt and c.prompt == prompt), None),
        ):
            if found is not None:
                self._mark_used(found)
                return found
        with self._lock:
            used = self._used()
            found = next((c for c in candidates if c.name not in used), None)
            if found is not None:
                self._mark_used(found, used)
        return found

    def _used(self) -> set[str]:
        raw = self.service.store.get_blob(_BLOB_USED)
        return set(json.loads(raw)) if raw else set()

    def _mark_used(self, cassette: Cassette, used: set[str] | None = None) -> None:
        used = self._used() if used is None else used
        used.add(cassette.name)
        self.service.store.put_blob(_BLOB_USED, json.dumps(sorted(used)).encode())

    # ------------------------------------------------------------------ reads

    def _job(self, job_id: str) -> dict[str, Any] | None:
        raw = self.service.store.get_blob(_BLOB_JOB + job_id)
        return json.loads(raw) if raw else None

    def _elapsed(self, job: Mapping[str, Any]) -> float:
        """Recorded seconds since the create: clock seconds times ``--speed``."""
        return (self.service.clock.now() - float(job["created"])) * self.service.config.speed

    def _read(self, dialect: Dialect, op: Operation, job: dict[str, Any], job_id: str) -> Response:
        cassette = self.by_name.get(job["cassette"])
        if cassette is None:  # the directory changed under a running job
            return error_response(dialect, 404, f"Video with id '{job_id}' not found.")
        elapsed = self._elapsed(job)
        ids = dict(job["ids"])
        query = sorted([k, v] for k, v in request.args.items(multi=True))
        status_op = self.maps[dialect.name].status_operation(
            dialect.contract.operation(cassette.operation)
        )
        if status_op is not None and op == status_op:
            polls = cassette.reads("polls")
            timeline = [(0.0, cassette.data["create"]["response"])]
            timeline += [(float(p["offset"]), p["response"]) for p in polls]
            return self._answer(cassette, _at(timeline, elapsed), ids)
        reads = [
            r
            for r in cassette.reads("downloads")
            if r["operation"] == op.operation_id and sorted(r.get("query") or []) == query
        ]
        if not reads:
            return error_response(
                dialect,
                404,
                f"{op.operation_id} of '{job_id}' was not recorded (replaying {cassette.name})",
                code="not_recorded",
            )
        timeline = [(float(r["offset"]), r["response"]) for r in reads]
        return self._answer(cassette, _at(timeline, elapsed), ids)

    # ------------------------------------------------------------------ answers

    def _answer(
        self, cassette: Cassette, answer: Mapping[str, Any], ids: dict[str, str]
    ) -> Response:
        headers = {k: v for k, v in answer["headers"].items() if k.lower() not in _DROP_HEADERS}
        headers = {k: self._rewrite(cassette, v, ids) for k, v in headers.items()}
        if answer.get("media"):
            media = answer["media"]
            response = send_file(
                cassette.media_path(media),
                mimetype=media["content_type"],
                conditional=True,
                etag=media["sha256"][:32],
                max_age=3600,
            )
            for name in ("content-type", "etag", "accept-ranges", "cache-control"):
                headers.pop(name, None)
            response.headers.update(headers)
            return response
        if "body" in answer:
            data = json.dumps(self._rewrite(cassette, answer["body"], ids), ensure_ascii=False)
        else:
            data = self._rewrite(cassette, answer.get("text", ""), ids)
        return Response(data, status=answer["status"], headers=headers)

    def _stream(
        self, dialect: Dialect, cassette: Cassette, created: float, ids: dict[str, str]
    ) -> Response:
        answer = cassette.data["create"]["response"]
        events = cassette.data["create"]["events"]
        clock, speed = self.service.clock, self.service.config.speed
        host = request.host_url.rstrip("/")  # the generator runs after the request context

        def generate() -> Iterator[str]:
            for event in events:
                due = created + float(event["offset"]) / speed
                waited = 0.0
                while clock.now() < due and waited < 600:
                    if not clock.wait_until(due, 15.0):
                        waited += 15.0
                        yield ": waiting\n\n"
                yield self._rewrite(cassette, event["raw"], ids, host)

        headers = {k: v for k, v in answer["headers"].items() if k.lower() not in _DROP_HEADERS}
        return Response(generate(), status=answer["status"], headers=headers)

    def _rewrite(
        self, cassette: Cassette, value: Any, ids: dict[str, str], host: str | None = None
    ) -> Any:
        """Recorded ids -> this replay's ids; the recorded provider's URLs -> the mock's."""
        host = host or request.host_url.rstrip("/")
        if isinstance(value, str):
            for entry in cassette.data.get("media_urls") or []:
                if entry.get("media") and entry["url"] in value:
                    value = value.replace(entry["url"], self._media_url(entry["media"], host))
            for old, new in ids.items():
                value = value.replace(old, new)
            upstream = str(cassette.data.get("upstream") or "")
            if upstream and value.startswith(upstream + "/"):
                prefix = next((d.prefix for d in self.dialects if d.name == cassette.contract), "")
                value = f"{host}/{prefix}{value[len(upstream) :]}"
            return value
        if isinstance(value, Mapping):
            return {k: self._rewrite(cassette, v, ids, host) for k, v in value.items()}
        if isinstance(value, list):
            return [self._rewrite(cassette, v, ids, host) for v in value]
        return value

    def _media_url(self, media: Mapping[str, Any], host: str) -> str:
        return host + MEDIA_ROUTE + Path(str(media["file"])).name

    def _media_file(self, name: str) -> Response:
        if not re.fullmatch(r"[0-9a-f]{64}\.[a-z0-9]+", name):
            return Response(status=404)
        path = self.directory / cassettes.MEDIA_DIR / name
        if not path.is_file():
            return Response(status=404)
        mime = next(
            (k for k, v in cassettes.EXTENSIONS.items() if v == name.rsplit(".", 1)[1]),
            "application/octet-stream",
        )
        return send_file(path, mimetype=mime, conditional=True, etag=name[:32], max_age=3600)


def install(app: Flask, service: MockService, dialects: list[Dialect]) -> Replay:
    """Answer recorded jobs before the mock's views (``config.replay_dir``)."""
    config = service.config
    assert config.replay_dir is not None
    replay = Replay(Path(config.replay_dir), service, dialects, config.replay_fallback)
    app.before_request(replay.before_request)
    app.extensions["sora_mock_replay"] = replay
    return replay


def _at(timeline: list[tuple[float, Mapping[str, Any]]], elapsed: float) -> Mapping[str, Any]:
    """The last answer recorded at or before ``elapsed`` (the first one before any)."""
    chosen = timeline[0][1]
    for offset, answer in sorted(timeline, key=lambda item: item[0]):
        if offset <= elapsed + 1e-9:
            chosen = answer
    return chosen


def _new_id(recorded: str) -> str:
    """A fresh id shaped like the recorded one: its trailing hex run redrawn."""
    match = re.search(r"[0-9a-f]{8,}$", recorded)
    if match is None:
        return f"{recorded}-replay-{secrets.token_hex(6)}"
    return (
        recorded[: match.start()]
        + secrets.token_hex((len(match.group()) + 1) // 2)[: len(match.group())]
    )
