"""Cassettes: one job's whole recorded life as one plain JSON file, and the media beside it.

A cassette holds the create (request summary with images replaced by their hash, allow-listed
headers, the answer), every status read with its time offset from the create, every download
(media stored once by hash in ``media/``, up to a size cap), the events of a streamed create,
and the contract's verdict on each exchange. Nothing secret is in it: the recorder passes the
whole document through the conformance redaction before writing.

:func:`load` reads a directory back, checks each file's shape (:data:`CASSETTE_SCHEMA`), that
its media exist, and validates every recorded answer against the contract again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft202012Validator, ValidationError
from werkzeug.datastructures import Headers

import contracts
from contracts import OpenAPIRequest
from mockserver.conformance.results import Drift
from mockserver.conformance.validation import response_drift

FORMAT = "sora-mock-cassette/1"
MEDIA_DIR = "media"
#: largest media file kept (bytes); a bigger download is recorded without its bytes
DEFAULT_MEDIA_CAP = 256 * 1024 * 1024

#: request headers a cassette keeps (everything else, credentials first, is dropped)
REQUEST_HEADERS = frozenset({"content-type", "accept", "user-agent", "openai-beta"})
#: response headers a cassette keeps, beside those the contract declares for the answer
RESPONSE_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "content-range",
        "accept-ranges",
        "etag",
        "last-modified",
        "cache-control",
        "retry-after",
        "x-request-id",
        "openai-poll-after-ms",
        "openai-processing-ms",
        "x-ratelimit-limit-requests",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-reset-requests",
    }
)
EXTENSIONS = {
    "video/mp4": "mp4",
    "image/webp": "webp",
    "image/jpeg": "jpg",
    "image/png": "png",
}
_DATA_URL = re.compile(
    r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[^,;]*)*),(?P<data>.*)$", re.S
)

_ANSWER = {
    "type": "object",
    "required": ["status", "headers"],
    "properties": {
        "status": {"type": "integer"},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "body": {},
        "text": {"type": "string"},
        "media": {"$ref": "#/$defs/media"},
        "media_note": {"type": "string"},
    },
}
_VERDICT = {
    "type": "object",
    "required": ["ok", "problems"],
    "properties": {
        "ok": {"type": "boolean"},
        "problems": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["where", "message"],
                "properties": {"where": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
_READ = {
    "type": "object",
    "required": ["offset", "operation", "method", "path", "response", "verdict"],
    "properties": {
        "offset": {"type": "number"},
        "operation": {"type": "string"},
        "method": {"type": "string"},
        "path": {"type": "string"},
        "query": {"type": "array", "items": {"type": "array", "prefixItems": [{}, {}]}},
        "response": _ANSWER,
        "verdict": _VERDICT,
    },
}
#: the shape of a cassette file (this project's own format, not a provider's)
CASSETTE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["format", "provider", "contract", "sequence", "create", "polls", "downloads"],
    "properties": {
        "format": {"const": FORMAT},
        "provider": {"type": "string"},
        "contract": {"type": "string"},
        "sequence": {"type": "integer", "minimum": 0},
        "recorded_at": {"type": "string"},
        "upstream": {"type": "string"},
        "job_id": {"type": ["string", "null"]},
        "create": {
            "type": "object",
            "required": ["operation", "method", "path", "request", "response", "verdict"],
            "properties": {
                "operation": {"type": "string"},
                "method": {"type": "string"},
                "path": {"type": "string"},
                "request": {
                    "type": "object",
                    "required": ["headers", "body_sha256"],
                    "properties": {
                        "headers": {"type": "object"},
                        "body": {},
                        "body_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                        "prompt": {"type": ["string", "null"]},
                    },
                },
                "response": _ANSWER,
                "verdict": _VERDICT,
                "events": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["offset", "raw"],
                        "properties": {"offset": {"type": "number"}, "raw": {"type": "string"}},
                    },
                },
            },
        },
        "polls": {"type": "array", "items": _READ},
        "downloads": {"type": "array", "items": _READ},
        "media_urls": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["url"],
                "properties": {"url": {"type": "string"}, "media": {"$ref": "#/$defs/media"}},
            },
        },
    },
    "$defs": {
        "media": {
            "type": "object",
            "required": ["sha256", "size", "content_type", "file"],
            "properties": {
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "size": {"type": "integer", "minimum": 0},
                "content_type": {"type": "string"},
                "file": {"type": "string", "pattern": "^media/[0-9a-f]{64}\\.[a-z0-9]+$"},
            },
        }
    },
}
_SCHEMA_VALIDATOR = Draft202012Validator(CASSETTE_SCHEMA)


class CassetteError(ValueError):
    """A cassette file that cannot be replayed (names the file and the fault)."""


# ------------------------------------------------------------------ request fingerprints


def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _image_ref(data: bytes, content_type: str | None, filename: str | None = None) -> dict:
    ref: dict[str, Any] = {"sha256": _hash(data), "size": len(data)}
    if content_type:
        ref["content_type"] = content_type
    if filename:
        ref["filename"] = filename
    return ref


def _hash_data_urls(value: Any) -> Any:
    """Every ``data:`` URL inside a JSON value, replaced by ``data:<mime>;sha256,<hex>``."""
    if isinstance(value, str):
        match = _DATA_URL.match(value) if value.startswith("data:") else None
        if match is None:
            return value
        raw = match["data"].encode()
        if ";base64" in (match["params"] or ""):
            import base64
            import binascii

            try:
                raw = base64.b64decode(raw, validate=False)
            except (binascii.Error, ValueError):
                pass
        return f"data:{match['mime'] or 'application/octet-stream'};sha256,{_hash(raw)}"
    if isinstance(value, Mapping):
        return {k: _hash_data_urls(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_hash_data_urls(v) for v in value]
    return value


def summarize_request(content_type: str, body: bytes) -> tuple[Any, str, str | None]:
    """(body summary with images replaced by their hash, its sha256, the prompt).

    The recorder stores the summary; replay computes the same for an incoming create and
    matches a cassette by the hash, else by the prompt.
    """
    mime = content_type.split(";")[0].strip().lower()
    summary: Any
    if mime == "application/json":
        try:
            summary = _hash_data_urls(json.loads(body or b"null"))
        except ValueError:
            summary = {"unparsed_sha256": _hash(body)}
    elif mime == "multipart/form-data":
        summary = _multipart_summary(content_type, body)
    elif body:
        summary = {"content_type": mime, "sha256": _hash(body), "size": len(body)}
    else:
        summary = None
    canonical = json.dumps(summary, sort_keys=True, ensure_ascii=False).encode()
    return summary, _hash(canonical), prompt_of(summary)


def _multipart_summary(content_type: str, body: bytes) -> dict[str, Any]:
    import io

    from werkzeug.formparser import parse_form_data

    environ = {
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": content_type,
        "REQUEST_METHOD": "POST",
    }
    _, form, files = parse_form_data(environ)
    summary: dict[str, Any] = {k: v for k, v in form.items(multi=False)}
    for name, part in files.items(multi=False):
        summary[name] = _image_ref(part.read(), part.mimetype or None, part.filename)
    for _, part in files.items(multi=True):  # every part: values() gives each name's first
        part.close()
    return summary


def prompt_of(summary: Any) -> str | None:
    """The prompt of a request summary (a chat's: its messages' texts, one per line)."""
    if not isinstance(summary, Mapping):
        return None
    if isinstance(summary.get("prompt"), str):
        return str(summary["prompt"])
    texts: list[str] = []
    for message in summary.get("messages") or []:
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, str):
            texts.append(content)
        for part in content if isinstance(content, list) else []:
            if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                texts.append(part["text"])
    return "\n".join(texts) or None


# ------------------------------------------------------------------ headers and media


def keep_headers(headers: Headers, allowed: frozenset[str] | set[str]) -> dict[str, str]:
    from mockserver.conformance.redaction import is_secret_name

    return {
        name.lower(): value
        for name, value in headers.items()
        if name.lower() in allowed and not is_secret_name(name)
    }


class MediaSink:
    """Receives a download chunk by chunk; keeps it once by hash if it stays under the cap."""

    def __init__(self, directory: Path, content_type: str, cap: int) -> None:
        self.directory = directory / MEDIA_DIR
        self.content_type = content_type.split(";")[0].strip()
        self.cap = cap
        self.size = 0
        self._digest = hashlib.sha256()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._path = _partial(self.directory / "media")
        self._file: Any = open(self._path, "wb")  # noqa: SIM115 - closed in finish/discard

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self._digest.update(chunk)
        if self._file is not None and self.size > self.cap:
            self.discard()
        elif self._file is not None:
            self._file.write(chunk)

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            self._path.unlink(missing_ok=True)

    def finish(self) -> tuple[dict[str, Any] | None, str | None]:
        """(media reference, or None with the reason it was not kept)."""
        if self._file is None:
            return None, f"not stored: {self.size} bytes is over the {self.cap}-byte cap"
        self._file.close()
        self._file = None
        sha = self._digest.hexdigest()
        name = f"{MEDIA_DIR}/{sha}.{EXTENSIONS.get(self.content_type, 'bin')}"
        target = self.directory.parent / name
        if target.exists():  # stored once by hash
            self._path.unlink(missing_ok=True)
        else:
            os.replace(self._path, target)
        return {
            "sha256": sha,
            "size": self.size,
            "content_type": self.content_type,
            "file": name,
        }, None


def write_json(path: Path, document: Any) -> None:
    """Write atomically (a reader never sees half a cassette), diffable: indented, keys in the
    order written (the recorder's fixed order; a recorded body's keys in the provider's order,
    which replay serves as recorded)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = _partial(path)
    with open(partial, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    os.replace(partial, path)


def _partial(path: Path) -> Path:
    """A hidden temporary name beside ``path``, unique per thread (normal permissions, unlike
    mkstemp's 0600: a cassette is meant to be shared)."""
    return path.parent / f".{path.name}.{os.getpid()}.{threading.get_ident()}.partial"


# ------------------------------------------------------------------ loading


@dataclass
class Cassette:
    path: Path
    data: dict[str, Any]
    #: what the contract says about the recorded answers, checked again at load
    problems: list[Drift] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def contract(self) -> str:
        return str(self.data["contract"])

    @property
    def operation(self) -> str:
        return str(self.data["create"]["operation"])

    @property
    def job_id(self) -> str | None:
        return self.data.get("job_id")

    @property
    def body_sha256(self) -> str:
        return str(self.data["create"]["request"]["body_sha256"])

    @property
    def prompt(self) -> str | None:
        return self.data["create"]["request"].get("prompt")

    def media_path(self, media: Mapping[str, Any]) -> Path:
        return self.path.parent / str(media["file"])

    def reads(self, kind: str) -> list[dict[str, Any]]:
        return list(self.data.get(kind) or [])


def iter_files(directory: Path) -> Iterator[Path]:
    yield from sorted(p for p in directory.glob("*.json") if not p.name.startswith("."))


#: largest cassette file read (bytes): media live beside it, so a cassette is a few hundred KB
MAX_CASSETTE_BYTES = 16 * 1024 * 1024
#: deepest nesting of arrays and objects a cassette may hold (a recorded one reaches about 10)
MAX_DEPTH = 64
#: the contracts a cassette may name: the provider contracts (bundled and added), by name
CONTRACT_NAMES = contracts.PROVIDER_CONTRACTS


def read_document(path: Path) -> Any:
    """A cassette file's JSON, read within bounds (size checked before reading, nesting checked
    before anything walks it); :class:`CassetteError` naming the file and the fault, never its
    content.

    Cassettes are JSON, never YAML (no aliases to expand). orjson parses without recursion
    limits of Python's (its own stops at 1024 levels with an error); the depth is then checked
    without recursion, before the schema check or the contract's validators walk the document.
    """
    try:
        size = path.stat().st_size
        if size > MAX_CASSETTE_BYTES:
            raise CassetteError(
                f"{path}: {size} bytes is over the {MAX_CASSETTE_BYTES}-byte cassette limit"
            )
        with open(path, "rb") as handle:
            raw = handle.read(MAX_CASSETTE_BYTES + 1)
    except OSError as exc:
        raise CassetteError(
            f"{path}: cannot be read ({exc.strerror or type(exc).__name__})"
        ) from None
    if len(raw) > MAX_CASSETTE_BYTES:  # it grew since the stat
        raise CassetteError(f"{path}: over the {MAX_CASSETTE_BYTES}-byte cassette limit")
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("depth limit exceeded"):
            raise CassetteError(f"{path}: nested deeper than {MAX_DEPTH} levels") from None
        raise CassetteError(f"{path}: not a JSON cassette ({_where(exc)})") from None
    if _depth_over(document, MAX_DEPTH):
        raise CassetteError(f"{path}: nested deeper than {MAX_DEPTH} levels")
    return document


def _where(exc: orjson.JSONDecodeError) -> str:
    """Where JSON text broke, in words that quote none of it."""
    if exc.pos >= len(exc.doc):
        return "the JSON text ends early" if exc.doc else "the file is empty"
    return f"invalid JSON at line {exc.lineno}, column {exc.colno}"


def _depth_over(document: Any, limit: int) -> bool:
    """Whether arrays and objects nest deeper than ``limit`` (an explicit stack: no recursion)."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def load_sequence(path: Path) -> int:
    """A cassette file's sequence number (-1 when it cannot be read): where a new one goes."""
    try:
        return int(read_document(path).get("sequence", -1))
    except (CassetteError, ValueError, AttributeError, TypeError):
        return -1


def load(directory: Path | str) -> list[Cassette]:
    """Every cassette of a directory, in recorded order; raises CassetteError on a bad file."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CassetteError(f"{directory}: not a directory of cassettes")
    cassettes = [load_file(path) for path in iter_files(directory)]
    return sorted(cassettes, key=lambda c: (c.data["sequence"], c.name))


def load_file(path: Path) -> Cassette:
    data = read_document(path)
    error = next(iter(_SCHEMA_VALIDATOR.iter_errors(data)), None)
    if error is not None:
        where = "/" + "/".join(str(p) for p in error.absolute_path)
        raise CassetteError(f"{path}: at {where}: {_schema_fault(error)}")
    if data["contract"] not in CONTRACT_NAMES:
        # a name, never a path: the contracts a cassette may name are the bundled ones
        raise CassetteError(
            f"{path}: at /contract: not a bundled provider contract (one of "
            f"{', '.join(sorted(CONTRACT_NAMES))})"
        )
    contract = contracts.load(data["contract"])
    if data["create"]["operation"] not in contract.operations:
        raise CassetteError(f"{path}: at /create/operation: not an operation of {data['contract']}")
    cassette = Cassette(path, data)
    for media in _media_refs(data):
        file = cassette.media_path(media)
        if not file.is_file() or file.stat().st_size != media["size"]:
            raise CassetteError(f"{path}: media {media['file']} is missing or has the wrong size")
    try:
        cassette.problems = recheck(cassette)
    except Exception as exc:  # a shape the schema lets through but the validators cannot read
        raise CassetteError(
            f"{path}: its recorded answers cannot be checked against {cassette.contract} "
            f"({type(exc).__name__})"
        ) from None
    return cassette


def _schema_fault(error: ValidationError) -> str:
    """What a schema error says, in the schema's words only (jsonschema's own message quotes
    the offending value, which may be anything the file holds)."""
    rule, expected = error.validator, error.validator_value
    if rule == "required":
        missing = [name for name in expected if name not in error.instance]
        return f"{missing[0]!r} is a required property" if missing else "a property is missing"
    if rule == "type":
        return (
            f"must be of type {' or '.join(expected) if isinstance(expected, list) else expected}"
        )
    if rule == "const":
        return f"must be {expected!r}"
    if rule == "pattern":
        return f"must match {expected}"
    if rule in ("minimum", "maximum"):
        return f"must be {'at least' if rule == 'minimum' else 'at most'} {expected}"
    return f"breaks the cassette format's {rule!r} rule"


def _media_refs(data: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for read in [*data.get("downloads", []), *data.get("media_urls", [])]:
        media = read.get("media") or (read.get("response") or {}).get("media")
        if media:
            yield media


def recheck(cassette: Cassette) -> list[Drift]:
    """Validate every recorded answer against the contract as it is today."""
    contract = contracts.load(cassette.contract)
    found: list[Drift] = []
    create = cassette.data["create"]
    reads = [("create", create), *(("poll", r) for r in cassette.reads("polls"))]
    reads += [("download", r) for r in cassette.reads("downloads")]
    for kind, read in reads:
        answer = read["response"]
        headers = Headers(list(answer["headers"].items()))
        if "body" in answer and answer["body"] is not None:
            data: bytes | None = json.dumps(answer["body"]).encode()
        elif "text" in answer:
            data = answer["text"].encode()
        else:
            data = None
        if "events" in read:
            data = "".join(e["raw"] for e in read["events"]).encode()
        request = OpenAPIRequest.build(
            read["method"],
            read["path"],
            query=[tuple(q) for q in read.get("query") or []],
            headers=(read.get("request") or {}).get("headers") or {},
        )
        for drift in response_drift(contract, request, answer["status"], headers, data):
            found.append(Drift(f"{kind} {read['path']} {drift.where}", drift.message))
    return found
