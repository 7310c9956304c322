"""The served benchmark's targets table (issue 25) judges each target from the run's medians:
a figure on the wrong side of its bound is marked unmet, and a server that did not run is
"not run", never met."""

from __future__ import annotations

import re

import pytest

from benchmarks import profile_requests
from benchmarks.bench_serving import WORKLOADS, Result, Sample, Target, targets, targets_table

POLL16, POLL64, CREATE, MIX = WORKLOADS


def _result(server: str, load_name: str, rps: float, p99: float = 10.0) -> Result:
    return Result(server, load_name, [Sample(rps, 1.0, p99, 0, 0)])


def _run(**rps: dict[str, float]) -> dict[tuple[str, str], Result]:
    results = {}
    for server, per_load in rps.items():
        name = server.replace("_m", " -m").replace("_redis", " (redis)")
        for load, value in per_load.items():
            results[(name, load)] = _result(name, load, value)
    return results


def _by_what(rows: list[Target]) -> dict[str, Target]:
    return {row.what: row for row in rows}


def test_each_ratio_is_the_mock_over_its_reference_and_judged_against_its_bound() -> None:
    loads = {w.name: 1000.0 for w in WORKLOADS}
    results = _run(
        mock={POLL16.name: 900, POLL64.name: 850, CREATE.name: 450, MIX.name: 650},
        floor=loads,
        mock_redis={POLL16.name: 700},
        prism={w.name: 300.0 for w in WORKLOADS},
    )
    rows = _by_what(targets(results))
    create = rows["creates vs the floor's multipart endpoint"]
    assert create.figure == 0.45 and create.met is False
    assert rows["90/10 mix vs the floor"].met is True  # 0.65 >= 0.6
    assert rows["polls at 64 connections vs the floor"].met is False  # 0.85 < 0.9
    redis = rows["Redis polls (16 connections) vs SQLite's"]
    assert round(redis.figure, 3) == round(700 / 900, 3) and redis.met is False
    assert rows[f"{POLL16.name} vs prism"].met is True  # 3.0x
    assert rows[f"{CREATE.name} vs prism"].met is False  # 1.5x
    # Prism -m did not run: not met, not unmet
    assert rows[f"{POLL16.name} vs prism -m"].met is None


def test_a_tail_is_met_only_within_one_and_a_half_times_the_floors() -> None:
    results = {
        ("mock", POLL16.name): _result("mock", POLL16.name, 1, p99=15.0),
        ("floor", POLL16.name): _result("floor", POLL16.name, 1, p99=10.0),
        ("mock", POLL64.name): _result("mock", POLL64.name, 1, p99=16.0),
        ("floor", POLL64.name): _result("floor", POLL64.name, 1, p99=10.0),
    }
    rows = _by_what(targets(results))
    assert rows[f"p99, {POLL16.name}, vs the floor's"].met is True
    assert rows[f"p99, {POLL64.name}, vs the floor's"].met is False


def test_the_table_marks_unmet_targets_and_says_which_did_not_run() -> None:
    table = targets_table(
        [Target("a", 0.4, 0.5), Target("b", 2.0, 1.5, at_most=True), Target("c", None, 3.0)]
    )
    assert "| a | 0.40x | >= 0.5x | **no** |" in table
    assert "| b | 2.00x | <= 1.5x | **no** |" in table
    assert "| c | n/a | >= 3x | not run |" in table


@pytest.mark.parametrize("what", ["create", "poll", "poll-after-write", "floor", "floor-poll"])
def test_the_request_profiler_runs_each_measure(
    what: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m benchmarks.profile_requests` (the README's in-process figures) cannot rot."""
    assert profile_requests.main([what, "-n", "3"]) == 0
    out = capsys.readouterr().out
    figure = (
        r"after another worker's write \d+\.\d{3}"
        if what == "poll-after-write"
        else r"\d+\.\d{3} ms of CPU per request"
    )
    assert re.search(figure, out), out


def test_the_request_profiler_polls_the_api_the_served_bench_polls(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert profile_requests.main(["poll", "--api", "gptge", "-n", "3"]) == 0
    assert re.search(r"\d+\.\d{3} ms of CPU per request", capsys.readouterr().out)


def test_instructions_are_the_difference_of_two_run_lengths_per_request(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--instructions``: callgrind twice (n // 10 and n requests); what each run is asked
    and the arithmetic, with valgrind's answers stood in for (a real run takes minutes)."""
    import shutil
    import subprocess
    from types import SimpleNamespace
    from typing import Any

    asked: list[list[str]] = []

    def run(command: list[str], **_: Any) -> Any:
        asked.append(command)
        n = int(command[command.index("-n") + 1])
        return SimpleNamespace(stderr=f"==1== Collected : {1_000_000 + 700 * n}\n")

    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.setattr(subprocess, "run", run)
    argv = ["poll", "--api", "gptge", "--instructions", "-n", "400"]
    assert profile_requests.main(argv) == 0
    assert [c[c.index("-n") + 1] for c in asked] == ["40", "400"]
    assert all(c[:2] == ["valgrind", "--tool=callgrind"] for c in asked)
    assert [c[4:] for c in asked] == [
        ["-m", "benchmarks.profile_requests", "poll", "--api", "gptge", "-n", n]
        for n in ("40", "400")
    ]
    assert "700 instructions per request" in capsys.readouterr().out
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(SystemExit, match="needs valgrind"):
        profile_requests.main(argv)


def test_a_run_starts_once_the_servers_are_idle_or_after_the_bound() -> None:
    """``settle``: CPU ticks read every step until a step used at most ``quiet_ticks``; a
    server that never quiets down lets the run go on after ``bound``, saying so (False).
    The clock is the test's (no sleep)."""
    from benchmarks.bench_serving import session_ticks, settle

    waited: list[float] = []
    readings = iter([100, 150, 180, 181, 500])
    assert settle(lambda: next(readings), waited.append, step=0.2, quiet_ticks=2) is True
    assert waited == [0.2, 0.2, 0.2]  # 150, 180: busy; 181: one tick in a step, quiet
    busy = iter(range(0, 10_000, 50))
    waited.clear()
    assert settle(lambda: next(busy), waited.append, step=0.5, bound=2.0) is False
    assert waited == [0.5] * 4
    assert session_ticks([]) == 0
    import os

    assert session_ticks([os.getsid(0)]) > 0  # this test run's own session has run
    assert session_ticks([-1]) == 0  # no such session
