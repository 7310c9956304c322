"""Request and response bodies compiled per media type: the media type a Content-Type selects,
JSON, text and multipart decoding (declared parts only, each by its `encoding`), completeness
of a multipart body, and the body's schema."""

from __future__ import annotations

import fnmatch
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import FileStorage, MultiDict

from contracts._schemas import FastValidator, _Filler, _filler, compile_schema, deref

if TYPE_CHECKING:
    from contracts._document import ContractDocument as Contract


_TEXT_TYPES = ("text/plain",)


_JSON_TYPES = ("application/json",)


def _split_mimetype(value: str | None) -> tuple[str, dict[str, str]]:
    """``multipart/form-data; boundary=x`` -> (``multipart/form-data``, {boundary: x})."""
    if not value:
        return "", {}
    head, *rest = value.split(";")
    params: dict[str, str] = {}
    for item in rest:
        if "=" in item:
            name, val = item.split("=", 1)
            val = val.strip()
            if len(val) >= 2 and val[0] == val[-1] == '"':
                val = val[1:-1]
            params[name.strip().lower()] = val
    return head.strip().lower(), params


def _find_media(content: Mapping[str, Any], mimetype: str) -> str | None:
    """The declared media type a message's ``Content-Type`` selects (openapi-core's order:
    exact, without parameters, then ranges such as ``image/*``)."""
    if mimetype in content:
        return mimetype
    bare, _ = _split_mimetype(mimetype)
    if bare in content:
        return bare
    if bare:
        for key in content:
            if fnmatch.fnmatch(bare, key):
                return key
    return None


def _part_content_type(schema: Any, encoding: Mapping[str, Any] | None) -> str:
    """openapi-core's content type for a multipart part (``get_content_type``)."""
    if encoding is not None and "contentType" in encoding:
        return str(encoding["contentType"])
    if not isinstance(schema, Mapping):
        return "text/plain"
    kind = schema.get("type")
    if kind is None:
        return "text/plain" if encoding is not None else "application/octet-stream"
    if kind == "string" and schema.get("format") in ("binary", "base64"):
        return "application/octet-stream"
    if kind == "object":
        return "application/json"
    return "text/plain"


def _text(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("ascii", errors="surrogateescape")


@dataclass(frozen=True)
class _Part:
    name: str
    kind: str  # "text", "json" or "file" (latin-1 text: every byte one character)
    array: bool
    has_default: bool
    default: Any

    def decode(self, value: str | FileStorage) -> Any:
        if isinstance(value, FileStorage):
            raw = value.stream.read()
            value.stream.seek(0)
            if self.kind == "file":
                return raw.decode("latin-1")
            return json.loads(raw) if self.kind == "json" else _text(raw)
        if self.kind == "file":
            return value.encode("utf-8", errors="surrogateescape").decode("latin-1")
        return json.loads(value) if self.kind == "json" else value


class MalformedBody(Exception):
    """The body cannot be read as its media type."""


@dataclass
class CompiledMedia:
    """One media type of a request or response body."""

    media_type: str
    validator: FastValidator | None
    filler: _Filler | None
    parts: list[_Part] | None  # multipart only
    closed: frozenset[str] | None  # multipart with additionalProperties: false: the names

    @property
    def multipart(self) -> bool:
        return self.parts is not None

    def decode(self, raw: bytes, params: Mapping[str, str]) -> Any:
        """Raw bytes as the value to validate (multipart: the declared parts, as a dict)."""
        mt = self.media_type
        if self.parts is not None:
            form, files = _parse_multipart(raw, params)
            return self.decode_form(form, files)
        if mt in _JSON_TYPES or mt.endswith("+json"):
            return json.loads(raw)
        if mt in _TEXT_TYPES:
            return _text(raw)
        if mt == "application/yaml":
            import yaml

            try:
                return yaml.safe_load(raw)
            except yaml.YAMLError as exc:  # unreadable YAML is a body that cannot be read
                raise ValueError(f"not valid YAML: {exc}") from None
        # images, video, octet-stream: latin-1 text, every byte one character
        return raw.decode("latin-1")

    def decode_form(self, form: MultiDict[str, str], files: MultiDict[str, FileStorage]) -> Any:
        assert self.parts is not None
        if self.closed is not None:
            unknown = sorted((set(form) | set(files)) - self.closed)
            if unknown:
                raise _UnknownPart(unknown[0])
        body: dict[str, Any] = {}
        for part in self.parts:
            values: list[str | FileStorage] = [*form.getlist(part.name), *files.getlist(part.name)]
            if not values:
                if part.has_default:
                    body[part.name] = part.default
                continue
            if part.array:
                body[part.name] = [part.decode(v) for v in values]
            else:
                body[part.name] = part.decode(values[0])
        return body


class _UnknownPart(Exception):
    def __init__(self, name: str) -> None:
        self.name = name


def _parse_multipart(
    raw: bytes, params: Mapping[str, str]
) -> tuple[MultiDict[str, str], MultiDict[str, FileStorage]]:
    from werkzeug.formparser import FormDataParser

    boundary = params.get("boundary", "")
    if not boundary or not multipart_complete(raw, boundary):
        raise MalformedBody("the multipart body is truncated or malformed")
    try:
        # in memory: the body is in memory already (no spooled temporary files to close)
        _, form, files = FormDataParser(stream_factory=_memory_stream, silent=False).parse(
            io.BytesIO(raw), "multipart/form-data", len(raw), {"boundary": boundary}
        )
    except ValueError as exc:
        raise MalformedBody("the multipart body is truncated or malformed") from exc
    return form, files


def _memory_stream(*_args: Any, **_kwargs: Any) -> io.BytesIO:
    return io.BytesIO()


def multipart_complete(raw: bytes, boundary: str) -> bool:
    """A multipart body must end with its closing delimiter; Werkzeug parses one that does not."""
    return bool(raw) and f"--{boundary}--".encode() in raw[-len(boundary) - 8 :]


def _compile_media(
    contract: Contract, media_type: str, media: Mapping[str, Any], *, request: bool
) -> CompiledMedia:
    raw_schema = media.get("schema")
    schema = deref(contract, raw_schema) if raw_schema is not None else None
    validator = compile_schema(contract, schema) if schema is not None else None
    filler = _filler(contract, raw_schema, {}) if raw_schema is not None and request else None
    parts: list[_Part] | None = None
    closed: frozenset[str] | None = None
    if media_type.startswith("multipart/") and isinstance(schema, Mapping):
        encoding = media.get("encoding") or {}
        parts = []
        for name, sub in (schema.get("properties") or {}).items():
            prop = deref(contract, sub)
            array = isinstance(prop, Mapping) and prop.get("type") == "array"
            item = deref(contract, prop.get("items", {})) if array else prop
            ctype = _part_content_type(item if array else prop, encoding.get(name))
            bare, _ = _split_mimetype(ctype)
            kind = "text" if bare in _TEXT_TYPES else "json" if bare in _JSON_TYPES else "file"
            has_default = isinstance(prop, Mapping) and "default" in prop
            default = prop.get("default") if has_default else None
            parts.append(_Part(name, kind, array, has_default, default))
        if schema.get("additionalProperties", True) is False:
            closed = frozenset(schema.get("properties") or {})
    return CompiledMedia(media_type, validator, filler, parts, closed)
