"""Example: property-test your own code against everything a provider's contract allows it to
answer, with strategies taken from the contract itself."""

from __future__ import annotations

from hypothesis import given, settings

from contracts import strategies


# --- the code under test: a user's status parser for Vtrix tasks --------------------------
# A first version read `task["output"][0]["content"][0]["url"]`: the property below found
# at once that the contract allows a completed task with `output: []`.
def summarize(task: dict) -> tuple[str, str | None]:
    status = task["status"]
    if status == "completed":
        urls = [c["url"] for out in task.get("output", []) for c in out.get("content", [])]
        return "done", urls[0] if urls else None
    if status == "failed":
        return "failed", task.get("error", {}).get("code")
    return "waiting", None


# --- the property --------------------------------------------------------------------------
@settings(max_examples=50, deadline=None)
@given(task=strategies.response_bodies("vtrix-generation", "getGenerationTask", 200))
def test_summarize_handles_every_task_the_contract_allows(task: dict) -> None:
    state, detail = summarize(task)
    if task["status"] == "completed":
        # a finished task's link is the first one it carries (or none, if it carries none)
        urls = [c["url"] for out in task.get("output", []) for c in out.get("content", [])]
        assert (state, detail) == ("done", urls[0] if urls else None)
    elif task["status"] == "failed":
        assert state == "failed" and detail == task.get("error", {}).get("code")
    else:
        assert (state, detail) == ("waiting", None)


@settings(max_examples=25, deadline=None)
@given(response=strategies.responses("gptge-videos", "getVideo", 429))
def test_rate_limit_answers_may_omit_retry_after(response) -> None:
    # no provider documents Retry-After (contracts/README.md): read it only when it is there
    value = response.headers.get("Retry-After")
    assert value is None or int(value) >= 0
