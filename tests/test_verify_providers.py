"""The provider names ``sora-mock verify`` and ``proxy`` take (mockserver/conformance/providers.py):
each name's contract and live base URL, the name back from a contract, the provider's own
error shape, and which base URLs are loopback (where the placeholder key may be sent)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from mockserver.conformance import providers


@pytest.mark.parametrize(
    ("provider", "contract"),
    [
        ("gptproto-v3", "gptproto-v3"),
        ("gptproto-chat", "gptproto-chat"),
        ("gptge", "gptge-videos"),
        ("vtrix", "vtrix-generation"),
    ],
)
def test_a_provider_name_loads_its_contract_and_maps_back(provider: str, contract: str) -> None:
    assert providers.contract_of(provider).name == contract
    assert providers.provider_of(contract) == provider


@pytest.mark.parametrize(
    ("provider", "url"),
    [("gptge", "https://api.gpt.ge"), ("vtrix", "https://cloud.vtrix.ai")],
)
def test_the_live_base_url_is_the_contracts(provider: str, url: str) -> None:
    assert providers.live_base_url(provider) == url


def test_a_contract_without_a_base_url_gives_an_empty_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bare = SimpleNamespace(spec={"info": {"title": "no base URL"}})
    monkeypatch.setattr(providers, "contract_of", lambda provider: bare)
    assert providers.live_base_url("gptge") == ""


def test_the_error_shape_is_the_providers_own() -> None:
    assert providers.error_body("vtrix-generation")(404, "no such task") == {
        "error": {"code": "404", "error_message": "no such task"}
    }
    assert providers.error_body("gptge-videos")(404, "gone", code="x") == {
        "error": {"message": "gone", "type": "invalid_request_error", "param": None, "code": "x"}
    }
    assert providers.error_body("gptproto-chat")(429, "slow down") == {
        "error": {"message": "slow down", "type": "429"}
    }


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8000/gptge",
        "http://127.0.0.1:8000",
        "https://127.5.6.7/x",
        "http://[::1]:9000/vtrix",
    ],
)
def test_loopback_urls(url: str) -> None:
    assert providers.is_loopback(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.gpt.ge",
        "http://10.0.0.1:8000",
        "http://localhost.example.com/",
        "http://[::2]/",
        "not a url",
        "",
    ],
)
def test_urls_that_are_not_loopback(url: str) -> None:
    assert not providers.is_loopback(url)
