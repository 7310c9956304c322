"""What building a client decides (``sora_client._client``): where the key comes from (the
argument, else the provider's variable; stripped), the placeholder key a loopback base URL
allows (and the warning that says so), the limits it refuses, and the options that reach
every request (base URL, default headers, timeouts, retries, poll interval), for
``SoraClient`` and ``AsyncSoraClient`` alike."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from client_helpers import (  # noqa: F401  (never_really_sleep: a fixture)
    RESPX_BASE,
    Flavor,
    flavor_fixture,  # noqa: F401  (fixtures)
    job_body,
    never_really_sleep_fixture,
    transport,
)

from sora_client import AsyncSoraClient, ConfigurationError, ServerError, SoraClient
from sora_client._base_client import _is_loopback

KEY = "sk-test-SETUP-61c0aa"
LOOPBACK = "http://127.0.0.1:9/gptge"


def _job(status: str = "queued", job_id: str = "video_1") -> httpx.Response:
    return httpx.Response(200, json=job_body("gptge", status, job_id))


pytestmark = pytest.mark.usefixtures("never_really_sleep")  # from client_helpers


@pytest.fixture(autouse=True)
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("GPTPROTO_API_KEY", "GPTGE_API_KEY", "VTRIX_API_KEY"):
        monkeypatch.delenv(var, raising=False)


@pytest.mark.parametrize("cls", [SoraClient, AsyncSoraClient])
def test_the_key_comes_from_the_providers_variable(
    cls: type[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GPTGE_API_KEY", f"  {KEY}\n")
    client = cls("gptge", base_url=RESPX_BASE)
    assert client._adapter.headers()["Authorization"] == f"Bearer {KEY}"
    assert client.placeholder_key is False
    assert client.provider == "gptge"


@pytest.mark.parametrize("cls", [SoraClient, AsyncSoraClient])
def test_a_key_given_wins_over_the_variable(
    cls: type[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GPTGE_API_KEY", "sk-from-the-environment")
    client = cls("gptge", f" {KEY} ", base_url=RESPX_BASE)
    assert client._adapter.headers()["Authorization"] == f"Bearer {KEY}"
    monkeypatch.setenv("GPTGE_API_KEY", KEY)
    with pytest.raises(ConfigurationError):
        cls("gptge", "", base_url=RESPX_BASE)  # an empty key given is not replaced


@pytest.mark.parametrize("base_url", [None, RESPX_BASE, "http://10.0.0.1/gptge"])
def test_no_key_for_a_real_provider_is_a_configuration_error(base_url: str | None) -> None:
    with pytest.raises(ConfigurationError) as caught:
        SoraClient("gptge", base_url=base_url)
    assert str(caught.value) == "no API key for gptge: set GPTGE_API_KEY or pass api_key="
    with pytest.raises(ConfigurationError, match="set VTRIX_API_KEY"):
        AsyncSoraClient("vtrix", "   ", base_url=base_url)


def test_a_loopback_base_url_gets_a_placeholder_key_and_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="sora_client")
    client = SoraClient("gptge", base_url=LOOPBACK)
    assert client.placeholder_key is True
    assert client._adapter.headers()["Authorization"] == "Bearer sk-mock-placeholder"
    assert caplog.messages == [
        f"no API key for gptge: {LOOPBACK} is a loopback address (a mock, which accepts any "
        "key), so the placeholder key 'sk-mock-placeholder' is sent"
    ]
    caplog.clear()
    SoraClient("gptge", KEY, base_url=LOOPBACK)
    assert caplog.messages == []


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8000/gptge", True),
        ("http://127.9.8.7", True),
        ("http://[::1]:8000/vtrix", True),
        ("http://localhost:8000", True),
        ("http://LocalHost:8000", True),
        ("http://mock.localhost:8000", True),
        ("http://localhost.example.com", False),
        ("http://10.0.0.1", False),
        ("http://[::2]", False),
        ("https://api.gpt.ge", False),
        (httpx.URL("http://127.0.0.1"), True),
    ],
)
def test_loopback_means_this_machine(url: str | httpx.URL, loopback: bool) -> None:
    assert _is_loopback(url) is loopback


@pytest.mark.parametrize("cls", [SoraClient, AsyncSoraClient])
def test_limits_that_make_no_sense_are_refused(cls: type[Any]) -> None:
    with pytest.raises(ConfigurationError, match=r"^max_retries cannot be negative$"):
        cls("gptge", KEY, max_retries=-1)
    for size in (0, -5):
        with pytest.raises(
            ConfigurationError,
            match=r"^max_download_size must be positive \(or None: no limit\)$",
        ):
            cls("gptge", KEY, max_download_size=size)
    assert cls("gptge", KEY, max_retries=0).max_retries == 0
    cls("gptge", KEY, max_download_size=1)
    cls("gptge", KEY, max_download_size=None)


def test_a_client_says_what_it_is() -> None:
    assert repr(SoraClient("gptge", KEY, base_url=LOOPBACK)) == (
        f"<SoraClient provider='gptge' base_url='{LOOPBACK}'>"
    )
    client = AsyncSoraClient("vtrix", KEY)
    assert repr(client) == "<AsyncSoraClient provider='vtrix' base_url='https://cloud.vtrix.ai'>"
    assert client.base_url == httpx.URL("https://cloud.vtrix.ai")


def test_the_options_reach_every_request(flavor: Flavor) -> None:
    mock, seen = transport(_job())
    with flavor.client(
        "gptge",
        transport=mock,
        base_url="http://127.0.0.1:9/relay",
        api_key=KEY,
        default_headers={"X-Trace": "t-1"},
        timeout=3.0,
    ) as client:
        job = client.get("video_1")
    assert job.id == "video_1"
    (request,) = seen
    assert str(request.url) == "http://127.0.0.1:9/relay/v1/videos/video_1"
    assert request.headers["X-Trace"] == "t-1"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.extensions["timeout"] == {
        "connect": 3.0,
        "read": 3.0,
        "write": 3.0,
        "pool": 3.0,
    }


def test_the_default_timeouts_connect_fast_and_read_patiently(flavor: Flavor) -> None:
    mock, seen = transport(_job())
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE) as client:
        client.get("video_1")
    assert seen[0].extensions["timeout"] == {
        "connect": 10.0,
        "read": 60.0,
        "write": 60.0,
        "pool": 60.0,
    }


@pytest.mark.parametrize("retries", [0, 2])
def test_max_retries_is_how_often_a_failed_read_is_tried_again(
    flavor: Flavor, retries: int
) -> None:
    failures = [httpx.Response(503, json={"error": {"message": "busy"}})] * (retries + 1)
    mock, seen = transport(*failures)
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, max_retries=retries) as client:
        with pytest.raises(ServerError):
            client.get("video_1")
    assert len(seen) == retries + 1


def test_the_poll_interval_is_the_wait_between_polls(flavor: Flavor) -> None:
    mock, seen = transport(_job("in_progress"), _job("in_progress"), _job("completed"))
    slept: list[float] = []
    with flavor.client(
        "gptge", transport=mock, base_url=RESPX_BASE, poll_interval=2.5, sleep=slept.append
    ) as client:
        assert client.wait("video_1").completed
    assert slept == [2.5, 2.5]
    assert len(seen) == 3
