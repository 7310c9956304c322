"""The client's side of a declared ``envelope`` (contracts/_decl_answers.py): an answer whose
job is one object inside it (``/data``), and whose status code (``/code``), when it is a
number of 400 or more, makes the answer the error it names, whatever its HTTP status."""

from __future__ import annotations

from typing import Any

import httpx

from contracts._decl_answers import Envelope
from contracts._pointers import pick_all


def check(adapter: Any, envelope: Envelope, body: Any, response: httpx.Response) -> None:
    """Raise the error an envelope names, or ValueError when it holds no job object."""
    found = pick_all(body, envelope.job)
    if found and isinstance(found[0], dict):
        return
    codes = pick_all(body, envelope.status) if envelope.status else []
    code = codes[0] if codes else None
    if isinstance(code, int) and not isinstance(code, bool) and code >= 400:
        # an error wrapped in a 200 envelope: read it as the error it names
        fake = httpx.Response(code, headers=response.headers, json=body)
        raise adapter.error(fake, fake.content)
    raise ValueError(f"the envelope has no {envelope.noun} object")
