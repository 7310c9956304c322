"""A handler's Context works out the request's host URL once: Werkzeug parses the host for
it (its IDNA form, the trusted-host check), and a declared create's answer names it twice."""

from __future__ import annotations

from typing import Any

import contracts
from mockserver.providers.base import Context


class CountingRequest:
    def __init__(self, host_url: str) -> None:
        self._host_url = host_url
        self.asked = 0

    @property
    def host_url(self) -> str:
        self.asked += 1
        return self._host_url


def context(request: Any) -> Context:
    operation = contracts.load("gptge-videos").operation("createVideo")
    return Context(
        request=request,
        operation=operation,
        body=None,
        path={},
        query={},
        api_key="sk-test",
        scenario=None,
        prefix="gptge",
    )


def test_the_host_url_is_read_of_the_request_once_and_kept() -> None:
    request = CountingRequest("http://127.0.0.1:8000/")
    ctx = context(request)
    assert ctx.host_url == "http://127.0.0.1:8000"
    assert ctx.base_url == "http://127.0.0.1:8000/gptge"
    assert ctx.host_url == "http://127.0.0.1:8000"
    assert request.asked == 1


def test_each_request_has_its_own() -> None:
    first, second = context(CountingRequest("http://a:1/")), context(CountingRequest("http://b:2/"))
    assert (first.base_url, second.base_url) == ("http://a:1/gptge", "http://b:2/gptge")
