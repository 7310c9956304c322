"""How a provider id becomes its adapter (``sora_client._providers.adapter_class``): each id
the client documents has its adapter, and an unknown id is a ConfigurationError that names
every known id, so a typo is fixed from the message alone."""

from __future__ import annotations

import pytest

from sora_client import ConfigurationError
from sora_client._providers import PROVIDERS, adapter_class
from sora_client._providers.gptproto_chat import GptprotoChat


def test_each_provider_id_gives_its_own_adapter() -> None:
    assert adapter_class("gptproto-v3").contract_name == "gptproto-v3"  # declared
    assert adapter_class("gptproto-videos").contract_name == "gptproto-videos"  # declared
    assert adapter_class("gptproto-chat") is GptprotoChat
    assert adapter_class("gptge").contract_name == "gptge-videos"  # declared
    assert adapter_class("vtrix").contract_name == "vtrix-generation"  # declared
    assert list(PROVIDERS) == [
        "gptproto-v3",
        "gptproto-videos",
        "gptproto-chat",
        "gptge",
        "vtrix",
        "openrouter",  # declared: its adapter is made from its contract's block
    ]
    assert adapter_class("openrouter").contract_name == "openrouter-videos"


def test_an_unknown_provider_is_a_configuration_error_naming_the_known_ones() -> None:
    with pytest.raises(ConfigurationError) as caught:
        adapter_class("gpt-ge")
    assert str(caught.value) == (
        "unknown provider 'gpt-ge'; known: gptproto-v3, gptproto-videos, gptproto-chat, "
        "gptge, vtrix, openrouter"
    )
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert isinstance(caught.value, ValueError)
