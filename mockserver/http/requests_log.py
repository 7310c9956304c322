"""What each provider request carried, as data: captured once when it is answered, kept in
its journal entry (so in the store, where every worker's journal lives), read back as
:class:`RequestRecord` objects by the pytest fixtures and ``GET /__mock/requests``.

A capture is bounded and redacted before it is written: credentials never (secret-named
headers are left out; every other text goes through the conformance redaction when it could
hold a secret), at most ``MAX_HEADERS`` headers and ``MAX_QUERY`` query parameters of at most
``MAX_TEXT`` characters each, body fields up to ``MAX_FIELDS_BYTES`` of JSON (beyond it the
fields are left out and ``fields_truncated`` says so), and of an image (a multipart file or
a ``data:`` URL) only its size, hash and media type. Nothing is read that the mock did not
read already: a body refused unread (413) or never parsed has no fields.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from mockserver.state._json import dumps

#: headers a capture keeps (the first, by the request's order)
MAX_HEADERS = 32
#: query parameters a capture keeps
MAX_QUERY = 32
#: characters of a header or query value, or of a body string, a capture keeps
MAX_TEXT = 300
#: bytes of JSON the body fields of one capture may take; beyond it they are left out
MAX_FIELDS_BYTES = 8 * 1024
#: depth of nested body values a capture keeps (deeper ones become "...")
MAX_DEPTH = 6
#: headers that say nothing about what the app sent (the transport's own)
_TRANSPORT_HEADERS = frozenset({"content-length", "host", "connection", "accept-encoding"})
#: a text that cannot hold a secret the redaction would mask (so it is kept as is): every
#: pattern of mockserver.conformance.redaction needs one of these words or characters
_MAYBE_SECRET = re.compile(r"(?i)sk-|bearer|basic|eyj|@|key|token|secret|passw|authoriz|sign")
_FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")
_DATA_URL = re.compile(r"data:([\w.+/-]*)(?:;[\w=.-]+)*;base64,", re.ASCII)


#: WSGI environ key -> the header name a capture keeps ("": left out, a credential or not a
#: header), filled as keys are met
_HEADER_NAMES: dict[str, str] = {}


#: the headers captured for a set of request headers: (headers, their values joined)
_SEEN_HEADERS: dict[tuple[tuple[str, Any], ...], tuple[dict[str, str], str]] = {}


def _headers(sent: Iterable[tuple[str, Any]], mask: _Masker) -> tuple[dict[str, str], str]:
    headers: dict[str, str] = {}
    values = []
    for name, value in sent:
        if name not in headers and len(headers) < MAX_HEADERS:
            text = value if isinstance(value, str) and value.isascii() else repr(value)
            headers[name] = mask.text(text)
            values.append(text)
    return headers, "\n".join(values)


#: the environ keys of a request -> (key, header name) of those a capture keeps, in order
_KEPT_KEYS: dict[tuple[str, ...], tuple[tuple[str, str], ...]] = {}


def _name_of(key: str) -> str:
    """``_header_name``, remembered (for at most 4,096 keys)."""
    name = _HEADER_NAMES.get(key)
    if name is None:
        name = _header_name(key)
        if len(_HEADER_NAMES) < 4096:
            _HEADER_NAMES[key] = name
    return name


def _header_name(key: str) -> str:
    """``HTTP_USER_AGENT`` -> ``user-agent``; "" for a header left out: credentials (any
    secret-looking name) and the transport's own."""
    from mockserver.conformance.redaction import is_secret_name

    if key[:5] != "HTTP_" and key != "CONTENT_TYPE":
        return ""  # the server's own (REQUEST_METHOD, wsgi.input, ...)
    name = key[5:] if key.startswith("HTTP_") else key
    name = name.lower().replace("_", "-")
    if name in _TRANSPORT_HEADERS or is_secret_name(name):
        return ""
    return name


class _Masker:
    """The redaction, built only when a text could hold a secret (most texts cannot)."""

    def __init__(self, secrets: Sequence[str]) -> None:
        self.secrets = tuple(s for s in secrets if s)
        self._redactor: Any = None

    def redactor(self) -> Any:
        if self._redactor is None:
            from mockserver.conformance.redaction import Redactor

            self._redactor = Redactor(self.secrets)
        return self._redactor

    def text(self, value: str) -> str:
        value = value[:MAX_TEXT]
        if _MAYBE_SECRET.search(value) is None and not any(s in value for s in self.secrets):
            return value
        masked: str = self.redactor().text(value)
        return masked


#: the environ key where a handler leaves ``(bytes, sha256 digest)`` of an image it hashed, so
#: the capture of the same bytes does not hash them again (a create's file part: ~150,000
#: instructions of the bench's create, benchmarks/README.md)
HASHED = "sora_mock.hashed_image"


def _image_of(
    data: bytes, content_type: str | None, where: str, hashed: Any = None
) -> dict[str, Any]:
    """What a capture keeps of an image; ``hashed``: a handler's ``(bytes, digest)``, used
    when its bytes are these (compared whole: never a digest of other bytes)."""
    if hashed is not None and hashed[0] == data:
        digest = hashed[1].hex()
    else:
        digest = hashlib.sha256(data).hexdigest()
    return {
        "field": where,
        "size": len(data),
        "sha256": digest,
        "content_type": content_type or None,
    }


def _bounded(
    value: Any, mask: _Masker, images: list[dict[str, Any]], where: str, depth: int
) -> Any:
    """A body value as a capture keeps it: short strings (inline images as size and hash),
    nested values to ``MAX_DEPTH``."""
    from mockserver.conformance.redaction import REDACTED, is_secret_name

    if isinstance(value, str):
        match = _DATA_URL.match(value)
        if match is not None:
            try:
                data = base64.b64decode(value[match.end() :], validate=False)
            except (binascii.Error, ValueError):
                data = b""
            image = _image_of(data, match.group(1), where)
            images.append(image)
            return {"image": {k: image[k] for k in ("size", "sha256", "content_type")}}
        return mask.text(value) + ("..." if len(value) > MAX_TEXT else "")
    if depth >= MAX_DEPTH:
        return "..."
    if isinstance(value, Mapping):
        return {
            str(k): REDACTED
            if is_secret_name(str(k)) and v not in (None, "")
            else _bounded(v, mask, images, f"{where}.{k}" if where else str(k), depth + 1)
            for k, v in list(value.items())[: MAX_QUERY * 4]
        }
    if isinstance(value, list):
        return [
            _bounded(v, mask, images, f"{where}[{n}]", depth + 1)
            for n, v in enumerate(value[: MAX_QUERY * 4])
        ]
    return value


def capture(req: Any, secrets: Sequence[str]) -> dict[str, Any]:
    """What ``req`` (a Werkzeug request the mock answered) carried, bounded and redacted.
    Reads only what the mock read: the form it parsed, or the body it kept."""
    mask = _Masker(secrets)
    environ = req.environ
    # (name, value) of the headers a capture keeps, never a credential: which environ keys
    # those are is worked out once per set of keys (a client sends the same ones each time)
    keys = tuple(environ)
    chosen = _KEPT_KEYS.get(keys)
    if chosen is None:
        chosen = tuple((k, name) for k in keys if (name := _name_of(k)))
        if len(_KEPT_KEYS) < 256:
            _KEPT_KEYS[keys] = chosen
    sent = tuple([(name, environ[k]) for k, name in chosen])
    # a client sends the same headers poll after poll: their capture is computed once
    known = _SEEN_HEADERS.get(sent)
    if known is None:
        known = _headers(sent, _Masker(()))
        if len(_SEEN_HEADERS) < 256:
            _SEEN_HEADERS[sent] = known
    headers, joined = known
    if any(s in joined for s in mask.secrets):  # a key in another header: masked for it
        headers, _ = _headers(sent, mask)
    headers = dict(headers)
    captured: dict[str, Any] = {"headers": headers}
    if environ.get("QUERY_STRING"):
        from mockserver.conformance.redaction import REDACTED, is_secret_name

        query: dict[str, Any] = {}
        for name, value in list(req.args.items(multi=True))[:MAX_QUERY]:
            kept = REDACTED if is_secret_name(name) else mask.text(value)
            previous = query.get(name)
            query[name] = kept if previous is None else [*_listed(previous), kept]
        captured["query"] = query
    fields, images = _body(req, mask)
    if fields is not None:
        if len(dumps(fields)) > MAX_FIELDS_BYTES:
            captured["fields_truncated"] = True
        else:
            captured["fields"] = fields
    if images:
        captured["image"] = images[0]
    return captured


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _body(req: Any, mask: _Masker) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    images: list[dict[str, Any]] = []
    parsed = req.__dict__
    data = getattr(req, "_cached_data", None)
    form = "form" in parsed or "files" in parsed
    if not form and data and req.mimetype in _FORMS:
        form = True  # read whole already (a replayed create): parsed from those bytes
    if form:  # the mock parsed a form (or holds its bytes): its fields and files
        fields: dict[str, Any] = {}
        for name, value in list(req.form.items(multi=True))[: MAX_QUERY * 4]:
            kept = _bounded(value, mask, images, name, 1)
            fields[name] = kept if name not in fields else [*_listed(fields[name]), kept]
        for name, upload in list(req.files.items(multi=True))[:MAX_QUERY]:
            stream = upload.stream
            try:
                stream.seek(0)
                data = stream.read()
                stream.seek(0)
            except (OSError, ValueError):
                continue
            image = _image_of(data, upload.mimetype, name, req.environ.get(HASHED))
            images.append(image)
            kept = {"file": {k: image[k] for k in ("size", "sha256", "content_type")}}
            # two files under one name are both kept, as two values of one field are
            fields[name] = kept if name not in fields else [*_listed(fields[name]), kept]
        return fields, images
    if not data or not req.is_json:
        return None, images
    import json

    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None, images
    if not isinstance(document, dict):
        return {"": _bounded(document, mask, images, "", 1)}, images
    return _bounded(document, mask, images, "", 0), images


@dataclass(frozen=True)
class RequestRecord:
    """One provider request the mock answered, as the fixtures and the admin API give it."""

    #: the mock prefix it was sent to (``gptge``, ``gptproto``, ``vtrix``)
    provider: str
    #: the contract operation it was bound to (``createVideo``), None for an unknown route
    operation: str | None
    method: str
    path: str
    status: int
    query: dict[str, Any] = field(default_factory=dict)
    #: headers without credentials (lower-case names)
    headers: dict[str, str] = field(default_factory=dict)
    #: the JSON body's fields, or the form's (a file as its size and hash); None: no body read
    fields: dict[str, Any] | None = None
    #: the uploaded image (multipart file or ``data:`` URL): field, size, sha256, content_type
    image: dict[str, Any] | None = None
    scenario: str | None = None
    error: str | None = None
    job_id: str | None = None
    request_id: str | None = None
    key: str | None = None
    time: float | None = None
    fields_truncated: bool = False
    #: who says it sent it (``X-Mock-Client``): ``dashboard`` for the dashboard's own reads
    client: str | None = None

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> RequestRecord:
        captured = entry.get("request") or {}
        return cls(
            provider=entry.get("provider") or "",
            operation=entry.get("operation"),
            method=entry.get("method", ""),
            path=entry.get("path", ""),
            status=int(entry.get("status", 0)),
            query=dict(captured.get("query") or {}),
            headers=dict(captured.get("headers") or {}),
            fields=captured.get("fields"),
            image=captured.get("image"),
            scenario=entry.get("scenario"),
            error=entry.get("error"),
            job_id=entry.get("job_id"),
            request_id=entry.get("request_id"),
            key=entry.get("key"),
            time=entry.get("time"),
            fields_truncated=bool(captured.get("fields_truncated")),
            client=entry.get("client"),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        text = f"{self.method} {self.path} -> {self.status}"
        said = [f"{self.provider} {self.operation}"] if self.operation else []
        if self.scenario:  # a fault scenario, or the cassette a replayed answer came from
            said.append(self.scenario)
        return f"{text} ({', '.join(said)})" if said else text


#: the criteria a filter takes besides body fields
ATTRIBUTES = ("operation", "provider", "method", "path", "status", "scenario", "job_id", "client")


def _wanted(expected: Any, actual: Any) -> bool:
    if callable(expected) and not isinstance(expected, type):
        return bool(expected(actual))
    return bool(expected == actual)


_MISSING = object()


def _criteria(record: RequestRecord, criteria: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """(name, wanted, found) for each criterion ``record`` misses."""
    misses = []
    for name, expected in criteria.items():
        if name in ATTRIBUTES:
            actual = getattr(record, name)
            if name == "method" and isinstance(expected, str):
                expected = expected.upper()
        else:
            actual = (record.fields or {}).get(name, _MISSING)
        if actual is _MISSING or not _wanted(expected, actual):
            misses.append((name, expected, actual))
    return misses


def select(records: Iterable[RequestRecord], **criteria: Any) -> list[RequestRecord]:
    """The records that meet every criterion: an attribute (``operation``, ``provider``,
    ``method``, ``path``, ``status``, ``scenario``, ``job_id``, ``client``) or a body field,
    each equal to the value given or, for a callable, one it returns true for."""
    return [r for r in records if not _criteria(r, criteria)]


#: near misses a failed assertion shows
NEAR_MISSES = 5


def _show(value: Any) -> str:
    if value is _MISSING:
        return "(absent)"
    if callable(value) and not isinstance(value, type):
        return getattr(value, "__name__", "a predicate")
    return repr(value)[:120]


def assert_requested(
    records: Sequence[RequestRecord], times: int | None = None, **criteria: Any
) -> list[RequestRecord]:
    """Assert the mock received requests meeting ``criteria`` (see :func:`select`): exactly
    ``times`` of them, or at least one. Returns them. The failure lists what did arrive,
    nearest first, with what each one missed."""
    __tracebackhide__ = True
    found = select(records, **criteria)
    if (times is None and found) or (times is not None and len(found) == times):
        return found
    wanted = ", ".join(f"{k}={_show(v)}" for k, v in criteria.items()) or "any request"
    expected = f"exactly {times}" if times is not None else "at least one"
    lines = [
        f"expected {expected} request(s) with {wanted}; {len(found)} matched "
        f"of {len(records)} received"
    ]
    if found and times is not None:
        lines.append("matched:")
        lines += [f"  {r.line()}" for r in found[:NEAR_MISSES]]
    others = [r for r in records if r not in found]
    if others:
        ranked = sorted(
            enumerate(others), key=lambda pair: (len(_criteria(pair[1], criteria)), -pair[0])
        )
        lines.append("nearest of the others:" if found else "received, nearest first:")
        for _, record in ranked[:NEAR_MISSES]:
            misses = "; ".join(
                f"{name}={_show(got)} (wanted {_show(want)})"
                for name, want, got in _criteria(record, criteria)
            )
            lines.append(f"  {record.line()}: {misses}")
        if len(others) > NEAR_MISSES:
            lines.append(f"  ... and {len(others) - NEAR_MISSES} more")
    raise AssertionError("\n".join(lines))


def records_of(entries: Iterable[Mapping[str, Any]]) -> list[RequestRecord]:
    # a webhook attempt (mockserver.http.webhooks) is in the journal, but the mock sent it: it is
    # no request the mock received
    return [RequestRecord.from_entry(e) for e in entries if "attempt" not in e]
