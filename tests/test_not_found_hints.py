"""The 404 of an unknown path names the URL the caller most likely meant (mockserver/http/hints.py):
the prefix or ``/v1`` left out, ``/v1`` or the prefix written twice, a segment too many, a
near spelling, a path of another provider, and the error shape of the provider it was meant for.
Each case is a base URL or path a user gets wrong, with the whole message they read."""

from __future__ import annotations

import pytest
from flask import Flask

from mockserver.http.app import create_app
from mockserver.http.hints import not_found_message, suggestions
from mockserver.testing import test_config

GPTGE_ROUTES = (
    "POST /gptge/v1/videos, DELETE /gptge/v1/videos/{video_id}, GET /gptge/v1/videos/{video_id}, "
    "GET /gptge/v1/videos/{video_id}/content, GET /gptge/v1/videos, "
    "POST /gptge/v1/videos/{video_id}/remix"
)
EVERYWHERE = (
    "every provider is under its prefix: /gptproto/..., /gptge/..., /vtrix/..., /openrouter/... "
    "(GET / lists them)"
)


@pytest.fixture(scope="module")
def app() -> Flask:
    return create_app(test_config())


@pytest.mark.parametrize(
    ("method", "path", "message", "shape"),
    [
        (
            "POST",
            "/v1/videos",
            "Unknown path '/v1/videos': did you mean /gptproto/v1/videos or /gptge/v1/videos?",
            "gptproto",
        ),
        (
            "GET",
            "/v1/v1/videos",
            "Unknown path '/v1/v1/videos': did you mean /gptproto/v1/videos or /gptge/v1/videos?",
            "gptproto",
        ),
        (
            "POST",
            "/gptge/videos",
            "Unknown path '/gptge/videos': did you mean /gptge/v1/videos? "
            "An OpenAI-style base URL ends in /v1: .../gptge/v1",
            "gptge",
        ),
        (
            "GET",
            "/gptge/videos/abc/remix",  # remix is POST only: still the URL they meant
            "Unknown path '/gptge/videos/abc/remix': did you mean /gptge/v1/videos/abc/remix? "
            "An OpenAI-style base URL ends in /v1: .../gptge/v1",
            "gptge",
        ),
        (
            "POST",
            "/gptge/v1/v1/videos",
            "Unknown path '/gptge/v1/v1/videos': did you mean /gptge/v1/videos?",
            "gptge",
        ),
        (
            "POST",
            "/gptge/api/v1/videos",
            # OpenRouter's path is /api/v1/videos: both are named
            "Unknown path '/gptge/api/v1/videos': did you mean /gptge/v1/videos or "
            "/openrouter/api/v1/videos?",
            "gptge",
        ),
        (
            "GET",
            "/gptge/gptge/v1/videos",
            "Unknown path '/gptge/gptge/v1/videos': did you mean /gptge/v1/videos?",
            "gptge",
        ),
        (
            "GET",
            "/vtrix/model/generation/task/t1",  # /v1 left out in the middle
            "Unknown path '/vtrix/model/generation/task/t1': "
            "did you mean /vtrix/model/v1/generation/task/t1?",
            "vtrix",
        ),
        (
            "GET",
            "/gptproto/v1/vidoes",
            "Unknown path '/gptproto/v1/vidoes': did you mean /gptproto/v1/videos?",
            "gptproto",
        ),
        (
            "GET",
            "/gptproto/v1/video/abc",  # the id stays where the route has a variable
            "Unknown path '/gptproto/v1/video/abc': did you mean /gptproto/v1/videos/abc?",
            "gptproto",
        ),
        (
            "POST",
            "/vtrix/model/v1/generations",
            "Unknown path '/vtrix/model/v1/generations': did you mean /vtrix/model/v1/generation?",
            "vtrix",
        ),
        (
            "POST",
            "/vtrix/v1/videos",
            "Vtrix has no POST /v1/videos: its routes are POST /vtrix/model/v1/generation, "
            "GET /vtrix/model/v1/generation/task/{task_id}; /v1/videos is GPTProto's "
            "(/gptproto/v1/videos) and gpt.ge's (/gptge/v1/videos)",
            "vtrix",
        ),
        (
            "POST",
            "/gptge/v1/chat/completions",
            f"gpt.ge has no POST /v1/chat/completions: its routes are {GPTGE_ROUTES}; "
            "/v1/chat/completions is GPTProto's (/gptproto/v1/chat/completions)",
            "gptge",
        ),
        (
            "GET",
            "/gptge/v1/v1/v1/videos",
            "Unknown path '/gptge/v1/v1/v1/videos': did you mean /gptge/v1/videos?",
            "gptge",
        ),
        (
            "GET",
            "/v1/videos/videos",  # a video called "videos" first; four repairs, three shown
            "Unknown path '/v1/videos/videos': did you mean /gptproto/v1/videos/videos or "
            "/gptproto/v1/videos or /gptge/v1/videos/videos?",
            "gptproto",
        ),
        (
            "POST",
            "/gptge/v1/videos/abc/remit",  # remit to remix: exactly as alike as ALIKE asks
            "Unknown path '/gptge/v1/videos/abc/remit': did you mean /gptge/v1/videos/remit or "
            "/gptge/v1/videos/abc or /gptge/v1/videos/abc/remix?",
            "gptge",
        ),
        # the spelling is fixed but the id is empty: no route, so nothing to offer
        ("GET", "/gptge/v1/video//content", "Unknown path '/gptge/v1/video//content'", "gptge"),
        ("GET", "/nothing/here", f"Unknown path '/nothing/here'; {EVERYWHERE}", None),
        ("GET", "/gptge/x/y/z/w", "Unknown path '/gptge/x/y/z/w'", "gptge"),
        ("GET", "/vtrix", "Unknown path '/vtrix'", "vtrix"),
        ("GET", "/__mock/nothing", "Unknown path '/__mock/nothing'", None),
    ],
)
def test_an_unknown_path_names_what_was_meant(
    app: Flask, method: str, path: str, message: str, shape: str | None
) -> None:
    assert not_found_message(app, path, method) == (message, shape)


def test_at_most_three_urls_are_offered_routes_first(app: Flask) -> None:
    assert suggestions(app, "/gptge/v1/videos/abc/contents", "GET") == [
        "/gptge/v1/videos/contents",
        "/gptge/v1/videos/abc",
        "/gptge/v1/videos/abc/content",
    ]
    assert len(suggestions(app, "/v1/videos/abc", "GET")) <= 3


def test_a_path_that_exists_is_not_offered_as_its_own_repair(app: Flask) -> None:
    assert "/gptge/v1/videos" not in suggestions(app, "/gptge/v1/videos", "GET")
