"""A key the upstream quotes back never reaches a cassette, the console or the journal, whatever
its shape. The proxy's other echo tests use an ``sk-`` canary, which the generic ``sk-…``
pattern hides anyway; keys of other shapes are caught only by the literal key the exchange
carried, and a recorder that lost it would write them in clear."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest
from conformance_helpers import proxy_in_front, serving
from providers import png

KEYS = {
    "alnum-40": "Zq7pL0mX9vB4nT2kW8rY5sD1fG6hJ3aQeRtYuI0p",
    "uuid": "3f2b6c1e-9a4d-4e8f-b7c2-5d1a0e9f8b3c",
    "dotted": "gpt.ge.7f3a9c1e5d2b",
}


def _echo(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """An upstream that refuses every key, quoting it back in its message (OpenAI does)."""
    key = environ.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ")
    error = {
        "message": f"Incorrect API key provided: {key}. You can find your key elsewhere.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    }
    start_response("401 Unauthorized", [("Content-Type", "application/json")])
    return [json.dumps({"error": error}).encode()]


@pytest.mark.parametrize("key", list(KEYS.values()), ids=list(KEYS))
def test_a_quoted_key_of_any_shape_reaches_no_file(key: str, tmp_path: Path) -> None:
    console = io.StringIO()
    with serving(_echo) as upstream:
        with proxy_in_front("gptge", upstream, record_dir=tmp_path, out=console) as (base, p):
            with httpx.Client(base_url=base) as client:
                refused = client.post(
                    "/v1/videos",
                    headers={"Authorization": f"Bearer {key}"},
                    data={"prompt": "p", "model": "sora-2", "seconds": "4", "size": "720x1280"},
                    files={"input_reference": ("a.png", png(720, 1280), "image/png")},
                )
            journal = json.dumps(list(p.journal))
    assert refused.status_code == 401 and key in refused.text, "forwarded untouched"
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert written, "the refused create was not recorded"
    for path in written:
        assert key.encode() not in path.read_bytes(), f"{path.name} holds the key"
    assert "Incorrect API key provided" in written[0].read_text()
    assert key not in console.getvalue() and key not in journal
