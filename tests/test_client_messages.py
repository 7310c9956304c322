"""What the client says when a create breaks its provider's contract: one allowed set per
field, for the model the request names, and every problem at once (nothing is sent)."""

from __future__ import annotations

import pytest

from sora_client import InvalidRequestError, SoraClient

#: a closed loopback port: a create that slipped past validation would fail to connect
BASE = "http://127.0.0.1:9/mock"


def _refusal(provider: str, **kwargs: object) -> InvalidRequestError:
    with SoraClient(provider, "sk-k", base_url=BASE, max_retries=0) as client:
        with pytest.raises(InvalidRequestError) as info:
            client.create("a cat", None, **kwargs)  # type: ignore[arg-type]
    return info.value


def test_a_duration_the_model_narrows_is_stated_once_with_its_model() -> None:
    error = _refusal("gptproto-v3", seconds=4)
    rules = [rule for field, rule in error.problems if field == "duration"]
    assert rules == ["4 is not one of [10, 15] with model sora-2"]
    assert str(error).count("duration:") == 1
    assert str(error).startswith("invalid request for gptproto-v3: ")


def test_a_value_only_the_other_model_allows_names_the_model_that_refuses_it() -> None:
    error = _refusal("gptproto-v3", seconds=25, model="sora-2")
    assert ("duration", "25 is not one of [10, 15] with model sora-2") in error.problems


def test_the_pro_model_states_its_own_set() -> None:
    error = _refusal("gptproto-v3", seconds=4, model="sora-2-pro")
    assert ("duration", "4 is not one of [10, 15, 25] with model sora-2-pro") in error.problems


def test_a_model_the_contract_refuses_narrows_nothing() -> None:
    error = _refusal("gptge", seconds=5, model="sora-3")
    assert ("model", "'sora-3' is not one of ['sora-2', 'sora-2-pro']") in error.problems
    assert ("seconds", "'5' is not one of ['4', '8', '12']") in error.problems


def test_a_multipart_create_names_its_model_too() -> None:
    error = _refusal("gptproto-videos", seconds=4, size="1792x1024", model="sora-2")
    assert (
        "size",
        "'1792x1024' is not one of ['720x1280', '1280x720'] with model sora-2",
    ) in error.problems
