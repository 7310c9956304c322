"""`make mutate`: mutation testing (mutmut 3) of the modules where a silent bug costs most.

Each module is mutated on its own, in a scratch copy of the project under
``reports/mutation/<module>/``, and each mutant runs only the fast test files listed for that
module in ``MODULES`` (mutmut then narrows them further to the tests that reach the mutated
function). The summary (killed, survived, per module, and the surviving mutants' names) goes
to ``reports/mutation.md`` and ``reports/mutation.json``. Mutants listed in
``tests/mutation/equivalents.md`` are equivalent to the original (no test can tell them apart)
and are left out of the score.

    python tests/mutation/mutate.py [MODULE ...]    # default: every module in MODULES
    python tests/mutation/mutate.py --resume MODULE # go on where an interrupted run stopped
    python tests/mutation/mutate.py --resume --mutants '*ǁ_wait_chat*' MODULE  # (re)check some

Not part of `make test`: a full run takes tens of minutes on two cores. A big module can be run
in chunks: ``--mutants`` takes mutmut's name patterns (fnmatch over names like
``sora_client._core.xǁCoreǁ_wait_chat__mutmut_7`` and ``sora_client._core.x__forward__mutmut_2``)
and checks only the mutants they match, again even if they have a result. Write a pattern that
also matches the function's own name (``'*ǁ_wait_chat*'``, ``'*.x__forward*'``, not
``'*_wait_chat__mutmut_*'``): mutmut picks the tests to run by it. With ``--resume`` the scratch
copy is kept, so the results of earlier chunks stay and the summary counts every mutant checked
so far (the rest as unchecked). ``--resume`` refreshes the scratch copy's tests first, so a
chunk runs against the tests as they are now (a change to a module's list of test files makes
mutmut start that module over).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REPORTS = ROOT / "reports"
EQUIVALENTS = ROOT / "tests" / "mutation" / "equivalents.md"
#: what a mutated copy needs besides the sources (mutmut copies the sources itself)
COPY = ["mockserver", "sora_client", "contracts", "tests", "pyproject.toml"]
TARGET = 0.85

#: module -> the fast test files that guard it (no live, no schemathesis, no video-heavy files,
#: and none that talk to a server thread started once per session: mutmut runs each mutant in a
#: fork of one warm pytest process, and a fork has no copy of that thread, so the test hangs)
MODULES: dict[str, list[str]] = {
    "mockserver/lifecycle.py": [
        "tests/test_lifecycle_rules.py",
        "tests/test_mock_scenarios.py",
        "tests/test_expiry.py",
    ],
    "mockserver/faults.py": [
        "tests/test_faults.py",
        "tests/test_mock_scenarios.py",
        "tests/test_mock_fidelity.py",
    ],
    "sora_client/_retry.py": ["tests/test_retry_policy.py", "tests/test_client_retries.py"],
    "sora_client/_images.py": ["tests/test_client_images.py"],
    "mockserver/store.py": [
        "tests/test_store_behaviour.py",
        "tests/test_store_read_instant.py",
        "tests/test_store_journal.py",
        "tests/test_mock_store.py",
        "tests/test_store_scale.py",
        "tests/test_faults.py",
        "tests/test_mock_scenarios.py",
    ],
    "contracts/_validation.py": [
        "tests/test_validation_adapters.py",
        "tests/test_compiled_validation.py",
        "tests/test_contracts.py",
        "tests/test_mock_bad_input.py",
        "tests/test_contract_surface.py",
        "tests/test_client_requests.py",
        "tests/test_mock_chat.py",
        "tests/test_mock_fidelity.py",
    ],
    "mockserver/binding.py": [
        "tests/test_binding_steps.py",
        "tests/test_mock_binding.py",
        "tests/test_lane.py",
        "tests/test_mock_bad_input.py",
        "tests/test_mock_scenarios.py",
        "tests/test_contract_surface.py",
        "tests/test_mock_chat.py",
        "tests/test_mock_fidelity.py",
    ],
    "sora_client/_core.py": [
        "tests/test_client_mock.py",
        "tests/test_client_responses.py",
        "tests/test_client_retries.py",
        "tests/test_client_requests.py",
        "tests/test_client_operations.py",
        "tests/test_client_operations_answers.py",
        "tests/test_client_hardening.py",
        "tests/test_client_secrets.py",
        "tests/test_client_chat_flow.py",
        "tests/test_client_core_flows.py",
    ],
}


def equivalents() -> dict[str, str]:
    """``- `mutant_name`: reason`` lines of the equivalents file."""
    found = {}
    if EQUIVALENTS.exists():
        for line in EQUIVALENTS.read_text().splitlines():
            match = re.match(r"\s*[-*]\s*`([^`]+)`\s*:?\s*(.*)", line)
            if match:
                found[match.group(1)] = match.group(2)
    return found


#: mutmut with its wall-clock limit (half the CPU limit) stretched sixfold: at `nice -n 19` on
#: a shared machine a mutant that merely waits for a core outlives it and would count as an
#: endless loop ("timeout", scored as killed). The CPU-time limit, which waiting does not use up,
#: still stops a real loop; the wall limit is left for a mutant that hangs without using the CPU
#: (a lock another thread held when mutmut forked the test process).
#: And each forked mutant gets a fresh asgiref executor: `SyncToAsync.single_thread_executor`
#: (which serves the async client's in-process transport, `WsgiToAsgi`) is made at import with
#: one worker thread; a fork copies the executor but not its thread, so every async test hung.
BOOT = """
import os
import sys
from concurrent.futures import ThreadPoolExecutor
import mutmut.workers.isolation as isolation
wall = isolation.register_timeout
isolation.register_timeout = lambda pid, timeout_s: wall(pid, timeout_s * 6)


def fresh_executor():
    from asgiref.sync import SyncToAsync
    SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)


os.register_at_fork(after_in_child=fresh_executor)
from mutmut.__main__ import cli
sys.argv[0] = "mutmut"
cli()
"""


def scratch_for(module: str, resume: bool = False) -> Path:
    work = REPORTS / "mutation" / module.replace("/", ".").removesuffix(".py")
    ignore = shutil.ignore_patterns("__pycache__", ".hypothesis", "*.pyc")
    if resume and (work / "mutants").is_dir():
        # mutmut checks only the mutants it has no result for (or those named); the tests are
        # taken as they are now (mutmut copies them on into mutants/), the sources as mutated
        # when the run began
        shutil.rmtree(work / "tests")
        shutil.copytree(ROOT / "tests", work / "tests", ignore=ignore)
        return _write_setup(work, module)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, work / name, ignore=ignore)
        else:
            shutil.copy2(src, work / name)
    return _write_setup(work, module)


def _write_setup(work: Path, module: str) -> Path:
    tests = [t for t in MODULES[module] if (ROOT / t).exists()]
    lines = [
        "[mutmut]",
        "source_paths =\n    mockserver\n    sora_client\n    contracts",
        f"only_mutate = {module}",
        "pytest_add_cli_args_test_selection =\n" + "".join(f"    {t}\n" for t in tests),
        "pytest_add_cli_args =\n    -p\n    no:cacheprovider\n    -x",
        "use_git_change_detection = false",
        # a mutant times out past (estimate + constant) * multiplier * 2 s of CPU; see BOOT
        "timeout_multiplier = 1.0",
        "timeout_constant = 3.0",
        "",
    ]
    (work / "setup.cfg").write_text("\n".join(lines))
    return work


def run_module(
    module: str,
    max_children: int,
    resume: bool = False,
    report: bool = False,
    patterns: list[str] | None = None,
) -> dict[str, object]:
    env = os.environ | {"CI": "true", "PYTHONDONTWRITEBYTECODE": "1"}
    if report:  # only read the results an earlier run left in its scratch copy
        work = REPORTS / "mutation" / module.replace("/", ".").removesuffix(".py")
        if not (work / "mutants").is_dir():
            raise SystemExit(f"{module}: no earlier run under {work}")
        return summarize(module, work, env, code=None, elapsed=None)
    work = scratch_for(module, resume)
    started = time.monotonic()
    log = (work / "mutmut.log").open("w")
    # its own process group: an interrupted run takes every forked mutant with it (an endless
    # loop left behind would burn a core until its CPU limit)
    run = subprocess.Popen(
        [
            "nice",
            "-n",
            "19",
            sys.executable,
            "-c",
            BOOT,
            "run",
            "--max-children",
            str(max_children),
            *(patterns or []),
        ],
        cwd=work,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        code = run.wait()
    except BaseException:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
        raise
    return summarize(module, work, env, code, time.monotonic() - started)


def summarize(
    module: str, work: Path, env: dict[str, str], code: int | None, elapsed: float | None
) -> dict[str, object]:
    mutmut = Path(sys.executable).with_name("mutmut")
    results = subprocess.run(
        [str(mutmut), "results", "--all", "true"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    statuses: dict[str, str] = {}
    for line in results.splitlines():
        name, sep, status = line.strip().partition(": ")
        if sep and "__mutmut_" in name:
            statuses[name] = status.strip()
    known = equivalents()
    unchecked = sum(1 for s in statuses.values() if s == "not checked")
    # a mutant no selected test reaches ("no tests") is a survivor too: nothing would catch it
    lost = ("survived", "no tests")
    survived = sorted(n for n, s in statuses.items() if s in lost and n not in known)
    # an equivalent mutant is out of the score whatever mutmut said: one that "timed out" only
    # hung in its fork (a lock held by another thread at fork time), no test can fail it
    equivalent = sorted(n for n, s in statuses.items() if n in known and s in (*lost, "timeout"))
    killed = sum(1 for n, s in statuses.items() if s == "killed" and n not in known)
    timeouts = sum(1 for n, s in statuses.items() if s == "timeout" and n not in known)
    # listed as equivalent, yet a test failed on it: the entry is wrong
    misfiled = sorted(n for n, s in statuses.items() if n in known and s == "killed")
    other = {s: 0 for s in statuses.values() if s not in ("killed", "timeout", *lost)}
    for s in statuses.values():
        if s in other:
            other[s] += 1
    killed += timeouts  # mutmut's convention: a test run that never ends has failed
    scored = killed + len(survived)
    return {
        "module": module,
        "mutmut_exit_code": code,
        "seconds": round(elapsed) if elapsed is not None else None,
        "mutants": len(statuses),
        "unchecked": unchecked,
        "killed": killed,
        "timeouts": timeouts,
        "survived": len(survived),
        "equivalent": len(equivalent),
        "other": other,
        "complete": unchecked == 0,
        "score": round(killed / scored, 4) if scored else None,
        "survivors": survived,
        "misfiled_equivalents": misfiled,
    }


def write_summary(rows: list[dict[str, object]]) -> None:
    REPORTS.mkdir(exist_ok=True)
    path = REPORTS / "mutation.json"
    old = {r["module"]: r for r in json.loads(path.read_text())} if path.exists() else {}
    old.update({r["module"]: r for r in rows})
    merged = [old[m] for m in MODULES if m in old]
    path.write_text(json.dumps(merged, indent=2) + "\n")
    lines = [
        "# Mutation testing (mutmut 3)",
        "",
        f"Target: at least {TARGET:.0%} of non-equivalent mutants killed per module.",
        "",
        "Killed counts timeouts (a run that never ends fails), shown apart in brackets.",
        "",
        "| module | mutants | killed (timeouts) | survived | equivalent | other | score | time |",
        "|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in merged:
        score = f"{r['score']:.1%}" if r["score"] is not None else "n/a"
        other = ", ".join(f"{k} {v}" for k, v in r["other"].items()) or "-"  # type: ignore[attr-defined]
        lines.append(
            f"| {r['module']} | {_checked(r)} | {r['killed']} ({r.get('timeouts', '?')}) "
            f"| {r['survived']} "
            f"| {r['equivalent']} | {other} | {score} | {r['seconds'] or '-'} s |"
        )
    for r in merged:
        if r.get("misfiled_equivalents"):
            lines += ["", f"## Listed as equivalent in {r['module']}, yet killed", ""]
            lines += [f"- `{n}`" for n in r["misfiled_equivalents"]]  # type: ignore[attr-defined]
        if r["survivors"]:
            lines += ["", f"## Survivors in {r['module']}", ""]
            lines += [f"- `{n}`" for n in r["survivors"]]  # type: ignore[attr-defined]
    (REPORTS / "mutation.md").write_text("\n".join(lines) + "\n")


def _checked(row: dict[str, object]) -> str:
    """``N``, or ``C of N checked`` while a chunked run is unfinished."""
    unchecked = int(row.get("unchecked") or 0)  # type: ignore[call-overload]
    total = int(row["mutants"])  # type: ignore[call-overload]
    return f"{total - unchecked} of {total} checked" if unchecked else str(total)


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the mutants' group goes too
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="paths as in MODULES (default: all)")
    parser.add_argument("--max-children", type=int, default=1)
    parser.add_argument(
        "--resume", action="store_true", help="finish an interrupted run in its scratch copy"
    )
    parser.add_argument(
        "--report", action="store_true", help="rewrite the summary from earlier runs, run nothing"
    )
    parser.add_argument(
        "--mutants",
        nargs="+",
        metavar="PATTERN",
        help="check only the mutants these mutmut name patterns match (one module at a time)",
    )
    args = parser.parse_args()
    modules = args.modules or list(MODULES)
    unknown = [m for m in modules if m not in MODULES]
    if unknown:
        parser.error(f"unknown module(s) {unknown}; known: {list(MODULES)}")
    if args.mutants and len(modules) != 1:
        parser.error("--mutants needs exactly one module")
    rows = []
    for module in modules:
        print(f"{'reading' if args.report else 'mutating'} {module} ...", flush=True)
        row = run_module(module, args.max_children, args.resume, args.report, args.mutants)
        rows.append(row)
        write_summary(rows)
        print(
            f"  {row['killed']} killed, {row['survived']} survived, "
            f"{row['equivalent']} equivalent, {row['unchecked']} unchecked, "
            f"score {row['score']}, {row['seconds']} s",
            flush=True,
        )
    print(f"summary: {REPORTS / 'mutation.md'}")
    failed = [r for r in rows if r["score"] is None or float(r["score"]) < TARGET]  # type: ignore[arg-type]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
