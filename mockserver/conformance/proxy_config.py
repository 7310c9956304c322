"""``sora-mock proxy``'s options (:class:`ProxyConfig`) and the limits every input is held to."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mockserver.conformance.cassettes import DEFAULT_MEDIA_CAP

VIOLATIONS_HEADER = "X-Contract-Violations"


MODES = ("transparent", "strict")


#: a JSON or text answer is judged whole up to this size, decoded (files and streams never
#: are); a larger one passes through unjudged (transparent) or is a 502 (strict)
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024


#: the largest SSE block (an event, or the comments before the first event) the proxy holds
#: to judge it; past it the stream passes through unjudged (transparent) or ends (strict)
MAX_EVENT_BYTES = 1024 * 1024


#: the largest request body forwarded, as the mock's own (``MockConfig.max_body_bytes``)
MAX_BODY_BYTES = 32 * 1024 * 1024


@dataclass
class ProxyConfig:
    provider: str
    #: default: the contract's ``x-provider-base-url``
    upstream: str | None = None
    mode: str = "transparent"
    #: seconds to connect and between two reads of the upstream's answer; also the most the
    #: proxy holds an answer back: a whole document, the status line and first SSE event,
    #: each later SSE block, a file's first chunk (the rest of a file flows as it comes)
    timeout: float = 60.0
    record_dir: Path | None = None
    media_cap: int = DEFAULT_MEDIA_CAP
    journal_size: int = 1000
    #: fetch the media URLs a finished job names (CDN links) into the cassette
    record_media_urls: bool = True
    #: the largest request body forwarded (413 in the provider's shape above it)
    max_body: int = MAX_BODY_BYTES
    max_document: int = MAX_DOCUMENT_BYTES
    max_event: int = MAX_EVENT_BYTES
