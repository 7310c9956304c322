"""One redaction for everything conformance writes: console, reports, journals, cassettes.

:class:`Redactor` masks the literal key (and its URL- and JSON-escaped forms), secret-named
headers, JSON fields and query parameters, ``Bearer``/``Basic`` credentials, ``sk-...`` keys,
JWTs and URL user-info. Every writer (verify's reports, the proxy's header, console and
journal, the recorder's cassettes) passes what it writes through one.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

REDACTED = "[REDACTED]"

#: words that make a header, JSON field or query parameter name secret
_SECRET_WORDS = frozenset(
    {
        "key",
        "apikey",
        "token",
        "authorization",
        "auth",
        "secret",
        "password",
        "passwd",
        "signature",
        "cookie",
        "credential",
        "credentials",
    }
)
_SECRET_JOINED = frozenset(
    {"apikey", "xapikey", "accesstoken", "refreshtoken", "idtoken", "clientsecret", "setcookie"}
)
_NAME_VALUE = re.compile(
    r"""(?ix)
    (?<![\w-])
    (?P<q>["']?)
    (?P<name>[\w-]*(?:api[_-]?key|token|secret|password|passwd|authorization)[\w-]*|key)
    (?P=q)
    (?P<sep>\s*[:=]\s*)
    (?P<vq>["']?)
    (?P<value>(?>(?:(?:bearer|basic)\s+)?)(?!\[REDACTED\]|(?:null|true|false)\b)[^\s"'&,;})\]]+)
    """
)
_TEXT_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"(?i)\b(bearer|basic)\s+(?!\[REDACTED\])[A-Za-z0-9._~+/=-]{4,}"),
        r"\1 " + REDACTED,
    ),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{6,}"), REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), REDACTED),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+(?::[^/\s@]*)?@"), r"\1" + REDACTED + "@"),
)
#: literal secrets shorter than this are not replaced in free text (it would garble the report)
MIN_LITERAL_SECRET = 6


def is_secret_name(name: str) -> bool:
    """True for names like ``Authorization``, ``api_key``, ``apiKey``, ``X-Api-Key``, ``token``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name)).lower()
    words = [w for w in re.split(r"[^a-z0-9]+", spaced) if w]
    if not words:
        return False
    return "".join(words) in _SECRET_JOINED or any(w in _SECRET_WORDS for w in words)


class Redactor:
    """Masks secrets in any value a writer is about to output; the one redaction of this module.

    Strings lose every literal secret (and its URL- and JSON-escaped forms), secret-looking
    ``name=value``/``name: value`` pairs, ``Bearer``/``Basic`` credentials, ``sk-...`` keys, JWTs
    and URL user-info. Mappings (headers, JSON objects) lose the values of secret-named keys
    and are redacted recursively, as are lists and tuples; bytes are decoded first.
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if secret and len(secret) >= MIN_LITERAL_SECRET:
                forms |= {secret, quote(secret, safe=""), json.dumps(secret)[1:-1]}
        self.literals = sorted(forms, key=len, reverse=True)

    def text(self, value: str) -> str:
        for literal in self.literals:
            value = value.replace(literal, REDACTED)
        value = _NAME_VALUE.sub(
            lambda m: f"{m['q']}{m['name']}{m['q']}{m['sep']}{m['vq']}{REDACTED}", value
        )
        for pattern, replacement in _TEXT_PATTERNS:
            value = pattern.sub(replacement, value)
        return value

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bytes | bytearray):
            return self.text(bytes(value).decode("utf-8", "replace"))
        # httpx is imported only where its headers exist (the mock's console and journal
        # mask through this class too, and `serve` starts without httpx)
        httpx = sys.modules.get("httpx")
        if httpx is not None and isinstance(value, httpx.Headers):
            return [self((k, v)) for k, v in value.multi_items()]
        if isinstance(value, Mapping):
            return {
                k: (REDACTED if is_secret_name(str(k)) and v not in (None, "") else self(v))
                for k, v in value.items()
            }
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
            name, inner = value
            return (name, REDACTED if is_secret_name(name) else self(inner))
        if isinstance(value, list | tuple):
            return type(value)(self(v) for v in value)
        if isinstance(value, BaseException):
            return self.text(f"{type(value).__name__}: {value}")
        return value

    def final_pass(self, text: str) -> str:
        """The last step before a report file is written: no literal key survives, whatever."""
        text = self.text(text)
        for literal in self.literals:
            text = text.replace(literal, REDACTED)
        return text


def redact(value: Any, secrets: Iterable[str | None] = ()) -> Any:
    """Redact one value (see :class:`Redactor`)."""
    return Redactor(secrets)(value)
