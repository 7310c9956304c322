"""Any answer the contracts allow to list, delete and remix becomes a value or one typed
error (property tests over ``contracts.strategies`` answers, as tests/test_client_responses.py
does for create, get and content); a remix, billed like a create, is never sent twice."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from client_helpers import RESPX_BASE, ContractRouter, Flavor, flavor_fixture  # noqa: F401
from hypothesis import HealthCheck, given, settings

import contracts
from contracts import strategies
from sora_client import (
    AmbiguousCreateError,
    APIError,
    Job,
    NotFoundError,
    RateLimitError,
    ServerError,
    SoraError,
    UnexpectedResponseError,
)
from sora_client._providers import PROVIDERS

OPERATIONS = [
    (provider, operation_id, how)
    for provider in ("gptproto-videos", "gptge")
    for operation_id, how in (
        ("listVideos", "list"),
        ("deleteVideo", "delete"),
        ("remixVideo", "remix"),
    )
]


def _cases() -> list[Any]:
    cases = []
    for provider, operation_id, how in OPERATIONS:
        contract = contracts.load(PROVIDERS[provider].contract_name)
        for status in contract.operation(operation_id).definition["responses"]:
            cases.append(pytest.param(provider, operation_id, how, int(status),
                                      id=f"{provider}-{how}-{status}"))  # fmt: skip
    return cases


def _call(flavor: Flavor, c: Any, how: str) -> Any:
    if how == "list":
        listing = c.list(limit=5)
        if not flavor.is_async:
            return list(listing)

        async def gather() -> list[Job]:
            return [job async for job in listing]

        runner: asyncio.Runner = c.runner
        return runner.run(gather())
    if how == "delete":
        return c.delete("video_1")
    return c.remix("video_1", "the same, at night")


@pytest.mark.parametrize(("provider", "operation_id", "how", "status"), _cases())
def test_any_answer_the_contract_allows_is_a_value_or_a_typed_error(
    flavor: Flavor, provider: str, operation_id: str, how: str, status: int
) -> None:
    contract_name = PROVIDERS[provider].contract_name
    answers = strategies.responses(contract_name, operation_id, status)
    examples = 4 if status < 300 else 1

    @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(answer=answers)
    def check(answer: httpx.Response) -> None:
        def respond(request: httpx.Request) -> httpx.Response:
            return httpx.Response(
                answer.status_code, headers=answer.headers, content=answer.content
            )

        cr = ContractRouter(provider)
        # the same answer on every page: a list reads one page unless it says has_more
        cr.router.route().mock(side_effect=respond)
        with flavor.client(provider, transport=cr.transport(), base_url=RESPX_BASE) as c:
            try:
                result = _call(flavor, c, how)
            except SoraError as exc:
                result = exc
        assert cr.problems == [], cr.problems
        _check(how, status, result, cr)

    check()


def _check(how: str, status: int, result: Any, cr: ContractRouter) -> None:
    if how == "remix":
        assert cr.posts() <= (4 if status == 429 else 1), "a remix was sent twice"
    if 200 <= status < 300:
        if how == "list":
            # a page that says has_more with the cursor it was asked for stops the walk
            # (an unreadable page, or a next-page cursor the contract refuses, is unexpected)
            if not isinstance(result, UnexpectedResponseError):
                assert isinstance(result, list) and all(isinstance(j, Job) for j in result)
        elif how == "delete":
            assert isinstance(result, (bool, UnexpectedResponseError)), result
        else:
            assert isinstance(result, (Job, AmbiguousCreateError)), result
        return
    if how == "remix" and status >= 500:
        assert isinstance(result, AmbiguousCreateError), result
        return
    assert isinstance(result, APIError) and result.status_code == status, result
    if status == 404:
        assert isinstance(result, NotFoundError)
    if status == 429:
        assert isinstance(result, RateLimitError)
    if status >= 500:
        assert isinstance(result, ServerError)
