"""The API key never shows: not in the client's repr, not in any error (even when a server
echoes it back), not in the logs."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from client_helpers import (
    KEY,
    PROVIDER_IDS,
    RESPX_BASE,
    Flavor,
    all_text,
    flavor_fixture,  # noqa: F401  (fixtures)
    image,
)

from sora_client import AsyncSoraClient, SoraClient, SoraError


def _chain(exc: BaseException) -> list[BaseException]:
    found = []
    current: BaseException | None = exc
    while current is not None and current not in found:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def _assert_clean(*values: Any) -> None:
    for value in values:
        text = all_text(value)
        if isinstance(value, BaseException):
            for link in _chain(value):
                text += all_text(link, *link.args, getattr(link, "body", None))
                job = getattr(link, "job", None)
                if job is not None:
                    text += all_text(job, job.raw)
        assert KEY not in text, f"the key leaked through {type(value).__name__}"


def test_clients_do_not_show_the_key() -> None:
    for provider in PROVIDER_IDS:
        _assert_clean(SoraClient(provider, api_key=KEY), AsyncSoraClient(provider, api_key=KEY))


def _echo(status: int) -> Any:
    """A server that puts the key it got into its error (some proxies do)."""

    def answer(request: httpx.Request) -> httpx.Response:
        got = request.headers.get("authorization", "")
        body = {
            "error": {
                "message": f"bad key {got}",
                "type": str(status),
                "code": f"k={got}",
                "param": None,
            },
            "echo": {"headers": {"authorization": got}},
        }
        return httpx.Response(status, json=body, headers={"x-request-id": "req_1"})

    return answer


FAULTS = [
    pytest.param(_echo(400), id="400"),
    pytest.param(_echo(401), id="401"),
    pytest.param(_echo(403), id="403"),
    pytest.param(_echo(404), id="404"),
    pytest.param(_echo(429), id="429"),
    pytest.param(_echo(500), id="500"),
    pytest.param(httpx.ConnectError("refused"), id="connect"),
    pytest.param(httpx.ReadTimeout("slow"), id="read-timeout"),
    pytest.param(lambda r: httpx.Response(200, text=f"<html>{KEY}</html>"), id="html"),
]


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("provider", PROVIDER_IDS)
def test_no_error_shows_the_key(
    flavor: Flavor,
    provider: str,
    fault: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    transport = httpx.MockTransport(
        lambda request: _raise_or_call(fault, request)  # noqa: B023
    )
    errors: list[SoraError] = []
    with flavor.client(provider, transport=transport, base_url=RESPX_BASE) as c:
        calls = [
            lambda: c.create("p", image=image(720, 1280)),
            lambda: c.get("job_1"),
            lambda: c.wait("job_1"),
            lambda: c.download("job_1", tmp_path / "v.mp4"),
        ]
        for call in calls:
            try:
                call()
            except SoraError as exc:
                errors.append(exc)
        _assert_clean(c)
    assert errors
    _assert_clean(*errors)
    assert KEY not in caplog.text


def _raise_or_call(fault: Any, request: httpx.Request) -> httpx.Response:
    if isinstance(fault, Exception):
        raise type(fault)(str(fault), request=request)
    response: httpx.Response = fault(request)
    return response


def test_redaction_keeps_the_rest_of_the_body(flavor: Flavor) -> None:
    from sora_client import AuthenticationError

    with flavor.client(
        "gptge", transport=httpx.MockTransport(_echo(401)), base_url=RESPX_BASE
    ) as c:
        with pytest.raises(AuthenticationError) as info:
            c.get("video_1")
    assert info.value.body["error"]["message"] == "bad key Bearer [redacted]"
    assert json.dumps(info.value.body).count("[redacted]") == 3
