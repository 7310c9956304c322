"""Replay: the mock serves recorded jobs (``sora-mock serve --replay DIR``).

A create that matches a cassette (same contract and operation; the same body hash, else the
same prompt, else the next cassette not yet replayed, in recorded order) starts a replayed
job: its answers are the recorded ones, chosen by the time since the create on the mock's
clock (so the virtual clock and ``--speed`` work: at speed 10, a status recorded 30 s after
the create is served 3 s after it). Ids are rewritten consistently (the recorded job id
becomes a new one everywhere it appears, URLs included), links to the recorded provider
host point at the mock, and media are the recorded bytes (Range requests work). A create
that matches nothing goes to the simulated mock, or is answered 404 (``--replay-fallback``).

A create given a recording it differs from (prompt, model, size, seconds, image) says so: the
answer's ``X-Mock-Replay-Mismatch`` header and the console line name the fields; with
``--replay-match strict`` it is refused instead (400, the provider's error shape), naming the
nearest recording and the fields that differ. Every replayed answer names its cassette in
``X-Mock-Replay-Cassette``.

A replayed job is listed like a live one: it has a job record in the store (marked with its
cassette, its timings taken from the recording), so ``/__mock/jobs``, the dashboard and the
provider's own list operation show it; the list's items for replayed jobs are their recorded
status answers at this instant. JSON answers are serialised as the live mock's are.

Every worker process loads the cassettes itself; a replayed job lives in the mock's store
(a blob and a job record), so workers sharing a SQLite store agree on it.
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

import orjson
from flask import Flask, Response, current_app, request, send_file

from contracts import ContractViolation, Operation
from mockserver.conformance import cassettes
from mockserver.conformance.cassettes import Cassette
from mockserver.conformance.contract_map import TERMINAL_WORDS, ContractMap
from mockserver.conformance.pointers import pointer_get
from mockserver.conformance.replay_cassettes import (
    _at,
    _new_id,
    _pixels,
    _recorded_media,
    _status_timeline,
    differences,
    request_fields,
)
from mockserver.conformance.validation import path_values
from mockserver.http import exchange
from mockserver.http.responses import error_response
from mockserver.providers.base import Dialect
from mockserver.state._json import dumps
from mockserver.state.lifecycle import Job, key_fingerprint, plan_expiry
from mockserver.state.service import MockService

log = logging.getLogger("mockserver.replay")

FALLBACKS = ("mock", "404")
MATCHES = ("lenient", "strict")
MISMATCH_HEADER = "X-Mock-Replay-Mismatch"
CASSETTE_HEADER = "X-Mock-Replay-Cassette"
MEDIA_ROUTE = "/__mock/replay/media/"
_ADMIN_MEDIA = re.compile(r"^/__mock/media/(?P<job>[^/]+)/(?P<name>[^/]+)$")
#: status words of a job not started yet (any other non-terminal word: running)
_WAITING_WORDS = frozenset({"queued", "pending", "submitted", "created", "waiting", "queueing"})
_FAILED_WORDS = frozenset({"failed", "error", "cancelled", "canceled", "expired"})
#: render seconds of a recorded job that never ended: it never ends in the listing either
_NEVER = 10.0 * 365 * 86400
_BLOB_JOB = "replay:job:"
_BLOB_USED = "replay:used"
#: headers a replayed answer never carries over (the mock sets its own)
_DROP_HEADERS = frozenset({"content-length", "x-request-id", "transfer-encoding"})


@dataclass
class _Route:
    dialect: Dialect
    operation: Operation
    values: dict[str, str]


@dataclass
class _Choice:
    """The recording a create is given (or, refused, the nearest one) and what differs."""

    cassette: Cassette
    differs: list[str]
    refused: bool = False


class Replay:
    """The cassettes of one directory, answering requests before the mock's own views."""

    def __init__(
        self,
        directory: Path,
        service: MockService,
        dialects: list[Dialect],
        fallback: str,
        match: str = "lenient",
    ) -> None:
        if fallback not in FALLBACKS:
            raise ValueError(f"replay fallback must be one of {', '.join(FALLBACKS)}")
        if match not in MATCHES:
            raise ValueError(f"replay match must be one of {', '.join(MATCHES)}")
        self.match = match
        # absolute: Flask's send_file reads a relative path from the package's folder
        self.directory = Path(directory).resolve()
        self.service = service
        self.fallback = fallback
        self.cassettes = cassettes.load(self.directory)
        self.by_name = {c.name: c for c in self.cassettes}
        self.dialects = [d for d in dialects if any(c.contract == d.name for c in self.cassettes)]
        self.maps = {d.name: ContractMap(d.contract) for d in self.dialects}
        self.lists = {d.name: _list_operations(d, self.maps[d.name]) for d in self.dialects}
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
        admin_media = _ADMIN_MEDIA.match(request.path)
        if admin_media is not None and request.method in ("GET", "HEAD"):
            return self._admin_media(admin_media["job"], admin_media["name"])
        route = self._route()
        if route is None:
            return None
        dialect, op = route.dialect, route.operation
        if op.operation_id in self.lists[dialect.name]:
            return self._list(dialect)
        api_key = dialect.credentials(request)
        if api_key is None:
            return None  # the mock's pipeline answers 401 in the provider's shape
        notes = exchange.current() or exchange.begin()
        notes.provider, notes.operation = dialect.prefix, op.operation_id
        notes.key = key_fingerprint(api_key)
        if op.operation_id in {o.operation_id for o in self.maps[dialect.name].create_operations()}:
            return self._create(dialect, op, api_key)
        for value in route.values.values():
            job = self._job(value)
            if job is not None:
                return self._read(dialect, op, job, value)
        return None

    def summary(self) -> str:
        """One line for the serve banner: what was loaded, from where."""
        jobs = sum(1 for c in self.cassettes if c.job_id)
        return (
            f"replaying {len(self.cassettes)} cassette{'s' if len(self.cassettes) != 1 else ''} "
            f"({jobs} job{'s' if jobs != 1 else ''}) from {self.directory} "
            f"(unmatched creates: {self.fallback}; match: {self.match})"
        )

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

    def _create(self, dialect: Dialect, op: Operation, api_key: str) -> Response | None:
        from mockserver.http.binding import openapi_request

        try:
            dialect.contract.validate_request(openapi_request(dialect.prefix))
        except ContractViolation:
            return None  # the mock's pipeline answers 400 naming the field
        body = request.get_data(cache=True)
        summary, sha, prompt = cassettes.summarize_request(request.content_type or "", body)
        asked = request_fields(summary)
        choice = self._match(dialect.name, op.operation_id, sha, prompt, asked)
        if choice is not None and choice.refused:
            return error_response(
                dialect,
                400,
                f"No recording matches this {op.operation_id} exactly (--replay-match strict): "
                f"the nearest, {choice.cassette.name}, differs in {', '.join(choice.differs)}",
                code="replay_mismatch",
                headers={MISMATCH_HEADER: ",".join(choice.differs)},
            )
        if choice is None:
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
        cassette = choice.cassette
        notes = exchange.current()
        if notes is not None:  # the console line and the journal say where the answer came from
            notes.scenario = f"replay {cassette.name}" + (
                f" differs: {','.join(choice.differs)}" if choice.differs else ""
            )
        created = self.service.clock.now()
        ids: dict[str, str] = {}
        create = cassette.data["create"]
        job_id: str | None = None
        if cassette.job_id:
            job_id = ids[cassette.job_id] = _new_id(cassette.job_id)
        elif create.get("events") and create["response"]["status"] < 300:
            # a streamed create (chat) names no job id: its job is listed under a fresh one,
            # shaped like the live mock's chat jobs
            job_id = f"{dialect.id_prefix}{secrets.token_hex(12)}"
        if job_id is not None:
            record = {"cassette": cassette.name, "created": created, "ids": ids}
            self.service.store.put_blob(_BLOB_JOB + job_id, json.dumps(record).encode())
            job = self._job_record(dialect, cassette, job_id, api_key, summary, created)
            self.service.store.add(job)
            if notes is not None:
                notes.job_id = job.id
        if create.get("events"):
            response = self._stream(dialect, cassette, created, ids)
        else:
            response = self._answer(cassette, create["response"], ids)
        response.headers[CASSETTE_HEADER] = cassette.name
        if choice.differs:
            response.headers[MISMATCH_HEADER] = ",".join(choice.differs)
        return response

    def _match(
        self, contract: str, operation: str, sha: str, prompt: str | None, asked: dict[str, Any]
    ) -> _Choice | None:
        candidates = [
            c for c in self.cassettes if c.contract == contract and c.operation == operation
        ]
        if not candidates:
            return None
        exact = next((c for c in candidates if c.body_sha256 == sha), None)
        if exact is not None:
            self._mark_used(exact)
            return _Choice(exact, [])
        if self.match == "strict":
            return self._match_strict(candidates, asked)
        found = next((c for c in candidates if prompt and c.prompt == prompt), None)
        if found is not None:
            self._mark_used(found)
            return _Choice(found, differences(found, asked))
        with self._lock:
            used = self._used()
            found = next((c for c in candidates if c.name not in used), None)
            if found is not None:
                self._mark_used(found, used)
        return _Choice(found, differences(found, asked)) if found is not None else None

    def _match_strict(self, candidates: list[Cassette], asked: dict[str, Any]) -> _Choice:
        """A recording the create does not differ from (unused ones first), else a refusal
        naming the nearest: fewest differing fields, unused first, then recorded order."""
        with self._lock:
            used = self._used()
            ranked = sorted(
                enumerate(candidates),
                key=lambda item: (
                    len(differences(item[1], asked)),
                    item[1].name in used,
                    item[0],
                ),
            )
            nearest = ranked[0][1]
            differs = differences(nearest, asked)
            if not differs:
                self._mark_used(nearest, used)
        return _Choice(nearest, differs, refused=bool(differs))

    def _used(self) -> set[str]:
        raw = self.service.store.get_blob(_BLOB_USED)
        return set(json.loads(raw)) if raw else set()

    def _mark_used(self, cassette: Cassette, used: set[str] | None = None) -> None:
        used = self._used() if used is None else used
        used.add(cassette.name)
        # replace: a blob key otherwise keeps its first bytes (blobs are content-addressed)
        self.service.store.put_blob(_BLOB_USED, json.dumps(sorted(used)).encode(), replace=True)

    def _job_record(
        self,
        dialect: Dialect,
        cassette: Cassette,
        job_id: str,
        api_key: str,
        summary: Any,
        created: float,
    ) -> Job:
        """The replayed job as the store lists it: what the create asked, timed as recorded."""
        asked = request_fields(summary)
        seconds = asked["seconds"]
        queue, render, outcome = self._plan(dialect, cassette)
        width, height = _pixels(summary)
        job = Job(
            id=job_id,
            api=dialect.name,
            model=asked["model"] or "",
            prompt=asked["prompt"] or "",
            width=width,
            height=height,
            seconds=int(seconds) if seconds is not None and seconds.isdecimal() else 0,
            owner=key_fingerprint(api_key),
            created_at=created,
            queue_seconds=queue,
            render_seconds=render,
            outcome=outcome,
            fail_progress=1.0,  # a recorded failure is shown when it was recorded
            replay=cassette.name,
        )
        job.expires_at = plan_expiry(job, self.service.config.retention_seconds)
        return job

    def _plan(self, dialect: Dialect, cassette: Cassette) -> tuple[float, float, str]:
        """(queue, render seconds on the mock's clock, outcome) from the recorded statuses (a
        streamed create's: from its first event to its last)."""
        speed = self.service.config.speed
        events = cassette.data["create"].get("events")
        if events:
            return 0.0, max(float(e["offset"]) for e in events) / speed, "completed"
        pointer = self.maps[dialect.name].status_pointer(
            dialect.contract.operation(cassette.operation)
        )
        words: list[tuple[float, str]] = []
        for offset, answer in sorted(_status_timeline(cassette), key=lambda item: item[0]):
            try:
                words.append((offset, str(pointer_get(answer.get("body"), pointer or "/status"))))
            except KeyError:
                continue
        words = [(offset, word.lower()) for offset, word in words]
        started = next((t for t, w in words if w not in _WAITING_WORDS), None)
        ended = next(((t, w) for t, w in words if w in TERMINAL_WORDS), None)
        if ended is None:
            return (
                (_NEVER, 1.0, "completed")
                if started is None
                else (started / speed, _NEVER, "completed")
            )
        end, word = ended
        start = min(started if started is not None else end, end)
        outcome = "failed" if word in _FAILED_WORDS else "completed"
        return start / speed, (end - start) / speed, outcome

    def _list(self, dialect: Dialect) -> Response | None:
        """The mock's own list answer, each replayed job's item its recorded status now."""
        if request.url_rule is None or request.url_rule.endpoint is None:
            return None
        view = current_app.view_functions[request.url_rule.endpoint]
        answer: Any = view(**(request.view_args or {}))
        response = current_app.make_response(answer)
        if response.status_code != 200 or not response.is_json or response.is_streamed:
            return response
        try:
            document = orjson.loads(response.get_data())
        except orjson.JSONDecodeError:
            return response
        items = document.get("data") if isinstance(document, dict) else None
        changed = False
        for index, item in enumerate(items if isinstance(items, list) else []):
            job_id = item.get("id") if isinstance(item, dict) else None
            job = self._job(job_id) if isinstance(job_id, str) else None
            body = self._status_body(dialect, job) if job is not None else None
            if body is not None:
                items[index] = body  # type: ignore[index]
                changed = True
        if changed:
            response.set_data(dumps(document))
        return response

    def _status_body(self, dialect: Dialect, job: Mapping[str, Any]) -> Any:
        cassette = self.by_name.get(job["cassette"])
        if cassette is None:
            return None
        answer = _at(_status_timeline(cassette), self._elapsed(job))
        if "body" not in answer or answer["status"] >= 300:
            return None
        return self._rewrite(cassette, answer["body"], dict(job["ids"]))

    def _admin_media(self, job_id: str, name: str) -> Response | None:
        """``/__mock/media/<id>/<name>`` of a replayed job (the dashboard's player): the
        recorded bytes, once the job's record says it completed."""
        from mockserver.http.admin import admin_error
        from mockserver.state.lifecycle import Status

        job = self._job(job_id)
        if job is None:
            return None  # a simulated job: the mock's own route
        cassette = self.by_name.get(job["cassette"])
        found = self.service.live(job_id)
        if cassette is None or found is None:
            return admin_error(404, f"no media {name!r} for {job_id!r}")
        if self.service.state(found).status is not Status.COMPLETED:
            return admin_error(404, f"job {job_id!r} has no video yet")
        media = _recorded_media(cassette, name.split(".", 1)[0])
        if media is None:
            return admin_error(
                404, f"no {name!r} was recorded for {job_id!r} (replaying {cassette.name})"
            )
        return send_file(
            cassette.media_path(media),
            mimetype=media["content_type"],
            conditional=True,
            etag=media["sha256"][:32],
            max_age=3600,
        )

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
            answer = self._answer(cassette, _at(_status_timeline(cassette), elapsed), ids)
            answer.headers[CASSETTE_HEADER] = cassette.name
            return answer
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
        answer = self._answer(cassette, _at(timeline, elapsed), ids)
        answer.headers[CASSETTE_HEADER] = cassette.name
        return answer

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
        data: bytes | str
        if "body" in answer:
            # as the live mock serialises its answers (mockserver.state._json: compact, key order
            # kept)
            data = dumps(self._rewrite(cassette, answer["body"], ids))
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
    replay = Replay(
        Path(config.replay_dir), service, dialects, config.replay_fallback, config.replay_match
    )
    app.before_request(replay.before_request)
    app.extensions["sora_mock_replay"] = replay
    return replay


def _list_operations(dialect: Dialect, contract_map: ContractMap) -> frozenset[str]:
    """The contract's list operations: GETs without path parameters answering ``data: [...]``."""
    found = set()
    for op in dialect.contract.operations.values():
        if op.method.lower() != "get" or "{" in op.path:
            continue
        schema = contract_map.resolve(
            contract_map.media(op, 200, "application/json").get("schema") or {}
        )
        data = contract_map.resolve((schema.get("properties") or {}).get("data") or {})
        if data.get("type") == "array":
            found.add(op.operation_id)
    return frozenset(found)
