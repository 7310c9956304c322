"""How ``sora-mock verify`` turns what came back into outcomes (mockserver/conformance/results.py):
an exchange verifies only with an answer judged for what it checks, an operation is failed by
drift before it is an error, skipped when nothing was sent, and a run is clean only without
drift, unanswered requests and blockers."""

from __future__ import annotations

from collections import Counter

import contracts
from mockserver.conformance.results import (
    Blocker,
    Drift,
    Exchange,
    OperationResult,
    RunResult,
)

CONTRACT = contracts.load("gptge-videos")
OPS = CONTRACT.operations


def answered(status: int = 200, *problems: Drift) -> Exchange:
    return Exchange("probe: list", "GET", "http://x/v1/videos", status=status, problems=[*problems])


def unanswered(error: str = "connection refused") -> Exchange:
    return Exchange("probe: list", "GET", "http://x/v1/videos", error=error)


def rejected(status: int = 401) -> Exchange:
    return Exchange(
        "probe: list", "GET", "http://x", status=status, unverified=f"{status}: rejected"
    )


def run_of(**operations: OperationResult) -> RunResult:
    ops = {op_id: OperationResult(op) for op_id, op in OPS.items()}
    ops.update(operations)
    return RunResult("gptge", CONTRACT, "http://x", 1, "2026-12-07T00:00:00Z", ops)


# --------------------------------------------------------------------------- one exchange


def test_an_answer_without_error_or_rejection_is_verified() -> None:
    assert answered().verified


def test_no_answer_verifies_nothing() -> None:
    assert not unanswered().verified


def test_an_answer_to_rejected_credentials_verifies_nothing() -> None:
    assert not rejected().verified


# --------------------------------------------------------------------------- one operation


def test_an_operation_with_no_request_sent_is_skipped() -> None:
    assert OperationResult(OPS["getVideo"]).outcome == "skipped"


def test_an_operation_whose_answers_all_verify_without_drift_passed() -> None:
    result = OperationResult(OPS["getVideo"], [answered(), answered(404)])
    assert result.outcome == "passed"
    assert result.drift == []
    assert result.errors == []


def test_drift_fails_an_operation_even_beside_an_unanswered_request() -> None:
    bad = Drift("/status", "'done' is not one of ['queued']")
    drifted = answered(200, bad)
    result = OperationResult(OPS["getVideo"], [unanswered(), drifted])
    assert result.outcome == "failed"
    assert result.drift == [(drifted, bad)]


def test_every_problem_of_every_exchange_is_drift_with_its_exchange() -> None:
    one, two, three = Drift("/a", "1"), Drift("/b", "2"), Drift("/c", "3")
    first, second = answered(200, one, two), answered(200, three)
    result = OperationResult(OPS["getVideo"], [first, answered(), second])
    assert result.drift == [(first, one), (first, two), (second, three)]


def test_an_unanswered_request_without_drift_is_an_error() -> None:
    missing = unanswered()
    result = OperationResult(OPS["getVideo"], [answered(), missing])
    assert result.outcome == "error"
    assert result.errors == [missing]


def test_rejected_credentials_make_an_error_not_a_pass() -> None:
    refused = rejected(403)
    result = OperationResult(OPS["getVideo"], [refused, answered()])
    assert result.outcome == "error"
    assert result.errors == [refused]


def test_statuses_count_each_status_and_the_unanswered_apart() -> None:
    result = OperationResult(
        OPS["getVideo"], [answered(200), answered(404), answered(200), unanswered()]
    )
    assert result.statuses == Counter({"200": 2, "404": 1, "no answer": 1})


# --------------------------------------------------------------------------- the whole run


def test_a_run_counts_drift_errors_and_requests_over_its_operations() -> None:
    run = run_of(
        getVideo=OperationResult(OPS["getVideo"], [answered(200, Drift("/a", "x")), unanswered()]),
        listVideos=OperationResult(
            OPS["listVideos"], [answered(200, Drift("/b", "y"), Drift("/c", "z")), rejected()]
        ),
    )
    assert run.drift_count == 3
    assert run.error_count == 2
    assert run.requests == 4
    assert not run.ok


def test_a_run_with_only_clean_answers_is_ok() -> None:
    run = run_of(getVideo=OperationResult(OPS["getVideo"], [answered(), answered(404)]))
    assert (run.drift_count, run.error_count, run.requests) == (0, 0, 2)
    assert run.ok


def test_drift_alone_makes_a_run_not_ok() -> None:
    run = run_of(getVideo=OperationResult(OPS["getVideo"], [answered(200, Drift("/a", "x"))]))
    assert run.error_count == 0
    assert not run.ok


def test_an_unanswered_request_alone_makes_a_run_not_ok() -> None:
    run = run_of(getVideo=OperationResult(OPS["getVideo"], [answered(), unanswered()]))
    assert run.drift_count == 0
    assert not run.ok


def test_a_blocker_alone_makes_a_clean_run_not_ok_and_is_kept_as_given() -> None:
    run = run_of(getVideo=OperationResult(OPS["getVideo"], [answered()]))
    run.block("no-key", "GPTGE_API_KEY is not set")
    run.block("credentials", "rejected")
    assert run.blockers == [
        Blocker("no-key", "GPTGE_API_KEY is not set"),
        Blocker("credentials", "rejected"),
    ]
    assert not run.ok


def test_the_tally_counts_one_check_per_operation_by_outcome() -> None:
    run = run_of(
        getVideo=OperationResult(OPS["getVideo"], [answered(200, Drift("/a", "x"))]),
        listVideos=OperationResult(OPS["listVideos"], [answered()]),
        getVideoContent=OperationResult(OPS["getVideoContent"], [unanswered()]),
    )
    assert run.tally() == Counter({"failed": 1, "passed": 1, "error": 1, "skipped": 3})
