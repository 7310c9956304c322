"""The official ``openai`` package, given the base URLs users get wrong first, shows the mock's
hint in its exception text (it shows only ``error.message``: Vtrix's 404 carries it there too,
beside its own ``error_message``)."""

from __future__ import annotations

import warnings

import httpx
import openai
import pytest

from mockserver.http.app import create_app
from mockserver.testing import test_config


@pytest.fixture(scope="module")
def http() -> httpx.Client:
    return httpx.Client(transport=httpx.WSGITransport(app=create_app(test_config())))


@pytest.mark.parametrize(
    ("base", "hint"),
    [
        (
            "http://mock.test/gptge",
            "did you mean /gptge/v1/videos/video_1? An OpenAI-style base URL ends in /v1: "
            ".../gptge/v1",
        ),
        ("http://mock.test/gptproto", "An OpenAI-style base URL ends in /v1: .../gptproto/v1"),
        (
            "http://mock.test/vtrix/v1",
            "Vtrix has no GET /v1/videos/video_1: its routes are POST /vtrix/model/v1/generation",
        ),
        ("http://mock.test/v1", "did you mean /gptproto/v1/videos/video_1 or /gptge/v1/videos"),
    ],
    ids=["gptge-no-v1", "gptproto-no-v1", "vtrix-v1", "no-prefix"],
)
def test_the_openai_package_shows_where_to_go(http: httpx.Client, base: str, hint: str) -> None:
    client = openai.OpenAI(base_url=base, api_key="sk-anything", http_client=http, max_retries=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the SDK's Sora shutdown notice
        with pytest.raises(openai.NotFoundError) as info:
            client.videos.retrieve("video_1")
    assert hint in str(info.value), str(info.value)
