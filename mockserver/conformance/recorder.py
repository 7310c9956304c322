"""The recorder: the proxy's exchanges, grouped by job, written as cassettes.

A create (an operation the contract's links start from) opens a cassette named after the job
id its answer carries; a later read whose path names that id is a status read (the link's
JSON target, kept with its time offset from the create) or a download (kept with its media).
When a status read says the job ended, the media URLs its body names outside the provider's
API (a CDN link, the mock's ``/__mock/media/...``) are fetched once, without credentials, and
stored by hash, under the address policy of ``--fetch-remote-images``
(:mod:`mockserver.media.remote`: public addresses only, every redirect hop checked, one deadline,
the media cap); loopback is allowed too when the upstream itself is on loopback (a mock standing in
for the provider). A URL the policy refuses is noted in the cassette and logged, never fetched.
Every cassette passes through the redaction (the keys the exchanges carried, secret-named fields,
token-looking strings) before it is written.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from werkzeug.datastructures import Headers

from contracts import Contract, Operation
from mockserver.conformance import cassettes
from mockserver.conformance.contract_map import TERMINAL_WORDS, ContractMap
from mockserver.conformance.pointers import pointer_get
from mockserver.conformance.redaction import Redactor
from mockserver.conformance.results import Drift
from mockserver.conformance.validation import path_values
from mockserver.media import remote

log = logging.getLogger("mockserver.recorder")
#: seconds one media URL may take in all (DNS, every redirect hop, the whole body)
MEDIA_FETCH_SECONDS = 300.0


@dataclass
class Observed:
    """One exchange as the proxy saw it (kept in memory only; the recorder writes a summary)."""

    operation: Operation | None
    method: str
    path: str
    query: list[tuple[str, str]]
    request_headers: Headers
    request_body: bytes
    started: float
    status: int | None = None
    response_headers: Headers = field(default_factory=Headers)
    document: Any = None
    text: str | None = None
    media: dict[str, Any] | None = None
    media_note: str | None = None
    events: list[tuple[float, str]] = field(default_factory=list)
    problems: list[Drift] = field(default_factory=list)
    error: str | None = None
    #: the credentials this exchange carried: redacted from everything written
    secrets: list[str] = field(default_factory=list)

    @property
    def content_type(self) -> str:
        return self.response_headers.get("Content-Type", "")


@dataclass
class _Job:
    path: Path
    create: Operation
    started: float
    data: dict[str, Any]
    secrets: set[str]
    fetched: set[str] = field(default_factory=set)


class Recorder:
    """Writes one cassette per job into ``directory`` (media under ``directory/media``)."""

    def __init__(
        self,
        directory: Path,
        provider: str,
        contract: Contract,
        upstream: str,
        *,
        media_cap: int = cassettes.DEFAULT_MEDIA_CAP,
        fetch_media: bool = True,
        fetch_seconds: float = MEDIA_FETCH_SECONDS,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.provider = provider
        self.contract = contract
        self.map = ContractMap(contract)
        self.upstream = upstream.rstrip("/")
        self.media_cap = media_cap
        #: fetch the media URLs a finished job names (False: they are recorded as URLs only)
        self.fetch_media = fetch_media
        self.fetch_seconds = fetch_seconds
        #: which addresses a media fetch may reach (every hop, :mod:`mockserver.media.remote`)
        self.allowed = media_policy(self.upstream)
        self.creates = {op.operation_id: op for op in self.map.create_operations()}
        self._jobs: dict[str, _Job] = {}
        self._lock = threading.Lock()
        existing = [cassettes.load_sequence(p) for p in cassettes.iter_files(self.directory)]
        self._sequence = max(existing, default=-1) + 1

    # ------------------------------------------------------------------ sinks

    def media_sink(self, content_type: str) -> cassettes.MediaSink:
        return cassettes.MediaSink(self.directory, content_type, self.media_cap)

    # ------------------------------------------------------------------ exchanges

    def record(self, seen: Observed) -> None:
        """Attach one finished exchange to its job's cassette (or open one), then write it."""
        op = seen.operation
        if op is None or seen.status is None:
            return
        if op.operation_id in self.creates:
            self._create(op, seen)
            return
        job = self._job_of(op, seen.path)
        if job is None:
            return
        with self._lock:
            job.secrets.update(seen.secrets)
            read = self._read(op, seen, job.started)
            status_op = self.map.status_operation(job.create)
            kind = "polls" if status_op is not None and op == status_op else "downloads"
            job.data[kind].append(read)
        if kind == "polls":
            self._fetch_media_urls(job, seen)
        self._write(job)

    def _create(self, op: Operation, seen: Observed) -> None:
        summary, sha, prompt = cassettes.summarize_request(
            seen.request_headers.get("Content-Type", ""), seen.request_body
        )
        job_id: str | None = None
        pointer = self.map.id_pointer(op)
        if pointer is not None and seen.document is not None and (seen.status or 500) < 300:
            try:
                job_id = str(pointer_get(seen.document, pointer))
            except KeyError:
                job_id = None
        create: dict[str, Any] = {
            "operation": op.operation_id,
            "method": seen.method,
            "path": seen.path,
            "request": {
                "headers": cassettes.keep_headers(seen.request_headers, cassettes.REQUEST_HEADERS),
                "body": summary,
                "body_sha256": sha,
                "prompt": prompt,
            },
            "response": self._answer(op, seen),
            "verdict": _verdict(seen.problems),
        }
        if seen.events:
            create["events"] = [
                {"offset": round(t - seen.started, 3), "raw": raw} for t, raw in seen.events
            ]
        fetched: list[dict[str, Any]] = []
        if seen.events and self.fetch_media:
            # a streamed create (chat mode) names its video inside the events' text
            text = "".join(raw for _, raw in seen.events)
            for url in _ordered(_TEXT_URL.findall(text)):
                if not url.startswith(self.upstream + "/"):
                    fetched.append(self._fetch_one(url))
        with self._lock:
            sequence = self._sequence
            self._sequence += 1
            name = f"{self.provider}-{sequence:04d}-{_safe(job_id or 'create')}.json"
            job = _Job(
                path=self.directory / name,
                create=op,
                started=seen.started,
                secrets=set(seen.secrets),
                data={
                    "format": cassettes.FORMAT,
                    "provider": self.provider,
                    "contract": self.contract.name,
                    "sequence": sequence,
                    "recorded_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "upstream": self.upstream,
                    "job_id": job_id,
                    "create": create,
                    "polls": [],
                    "downloads": [],
                    "media_urls": fetched,
                },
            )
            if job_id is not None:
                self._jobs[job_id] = job
        self._write(job)

    def _job_of(self, op: Operation, path: str) -> _Job | None:
        values = list(path_values(op, path).values())
        with self._lock:
            for value in values:
                if value in self._jobs:
                    return self._jobs[value]
        return None

    def _read(self, op: Operation, seen: Observed, started: float) -> dict[str, Any]:
        return {
            "offset": round(seen.started - started, 3),
            "operation": op.operation_id,
            "method": seen.method,
            "path": seen.path,
            "query": [list(q) for q in seen.query],
            "response": self._answer(op, seen),
            "verdict": _verdict(seen.problems),
        }

    def _answer(self, op: Operation, seen: Observed) -> dict[str, Any]:
        assert seen.status is not None
        declared = {
            str(name).lower()
            for name in (self.map.response_def(op, seen.status).get("headers") or {})
        }
        answer: dict[str, Any] = {
            "status": seen.status,
            "headers": cassettes.keep_headers(
                seen.response_headers, cassettes.RESPONSE_HEADERS | declared
            ),
        }
        if seen.document is not None:
            answer["body"] = seen.document
        elif seen.text is not None:
            answer["text"] = seen.text
        if seen.media is not None:
            answer["media"] = seen.media
        if seen.media_note is not None:
            answer["media_note"] = seen.media_note
        return answer

    # ------------------------------------------------------------------ media URLs

    def _fetch_media_urls(self, job: _Job, seen: Observed) -> None:
        status_pointer = self.map.status_pointer(job.create)
        try:
            word = str(pointer_get(seen.document, status_pointer or "/status")).lower()
        except KeyError:
            return
        if word not in TERMINAL_WORDS or not self.fetch_media:
            return
        for url in _urls(seen.document):
            if url.startswith(self.upstream + "/") or url in job.fetched:
                continue  # the provider's own API: the client reads it through the proxy
            job.fetched.add(url)
            entry = self._fetch_one(url)
            with self._lock:
                job.data["media_urls"].append(entry)

    def _fetch_one(self, url: str) -> dict[str, Any]:
        """GET a media URL (no credentials, :func:`remote.fetch_into`'s policy) into the media
        store: its cassette entry, with a note instead of the media when it was not kept."""
        entry: dict[str, Any] = {"url": url}
        sink = self.media_sink("")
        try:
            content_type = remote.fetch_into(
                url,
                sink.write,
                max_bytes=self.media_cap,
                deadline_seconds=self.fetch_seconds,
                allowed=self.allowed,
                accept="*/*",
            )
        except remote.FetchError as exc:
            sink.discard()
            entry["note"] = "not fetched: " + _media_words(str(exc))
            # the same redaction as everything the recorder writes (token-looking path parts)
            log.warning("recording: media URL %s %s", Redactor([])(_shown(url)), entry["note"])
            return entry
        sink.content_type = content_type.split(";")[0].strip()
        media, note = sink.finish()
        entry["media" if media else "note"] = media or note
        return entry

    # ------------------------------------------------------------------ writing

    def _write(self, job: _Job) -> None:
        with self._lock:
            document = Redactor(sorted(job.secrets))(job.data)
            cassettes.write_json(job.path, document)


def media_policy(upstream: str) -> remote.AddressPolicy:
    """The addresses a media fetch may reach: public ones; loopback too when the upstream is
    on loopback (the party naming the URLs is then a local server the user runs)."""
    return _public_or_loopback if _on_loopback(upstream) else remote.public_only


def _public_or_loopback(address: remote.IPAddress) -> bool:
    return address.is_loopback or remote.public_only(address)


def _on_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _media_words(message: str) -> str:
    """remote's messages speak of an image URL; a recorder fetches media."""
    return message.replace("image URL", "media URL").replace("image at", "media at")


def _shown(url: str) -> str:
    """A URL for the console: no query (a CDN link's signature), no user info."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}"


_TEXT_URL = re.compile(r"https?://[^\s)\]>\"']+")


def _ordered(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _verdict(problems: Iterable[Drift]) -> dict[str, Any]:
    found = [{"where": p.where, "message": p.message} for p in problems]
    return {"ok": not found, "problems": found}


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in text)[:80]


def _urls(document: Any) -> Iterator[str]:
    if isinstance(document, str):
        if document.startswith(("http://", "https://")):
            yield document
    elif isinstance(document, Mapping):
        for value in document.values():
            yield from _urls(value)
    elif isinstance(document, list):
        for value in document:
            yield from _urls(value)
