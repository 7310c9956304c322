"""``sora-mock verify`` as a user runs it (mockserver/conformance/verify_command.py): its
options and their limits, the exit code a CI reads for each kind of outcome (drift wins over
what could not be verified), the base URL refused before anything is sent, the placeholder key
for a loopback mock, a missing key skipped or blocking, a dry run, and what the console says
at the end of each kind of run.

Each run goes through an httpx transport into a mock app built in the test (no port), or into
a stand-in provider that answers what the test needs."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import contracts
from mockserver.conformance import verify_command
from mockserver.conformance.planning import Planner
from mockserver.conformance.results import Drift, Exchange, OperationResult, RunResult
from mockserver.http.app import create_app
from mockserver.testing import SoraMock, test_config

KEY = "sk-CLIKEY-0123456789abcdef0123"
LOOPBACK = "http://127.0.0.1:9"


def mock() -> SoraMock:
    return SoraMock(create_app(test_config()))


def verify(
    tmp_path: Path,
    *argv: str,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], Any] | None = None,
    **more: Any,
) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    kwargs: dict[str, Any] = {"out": out, "err": err, "transport": transport, **more}
    if sleep is not None:
        kwargs["sleep"] = sleep
    code = verify_command.main(["--report-dir", str(tmp_path), "--generated", "0", *argv], **kwargs)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GPTGE_API_KEY", "GPTPROTO_API_KEY", "VTRIX_API_KEY"):
        monkeypatch.delenv(name, raising=False)


# --------------------------------------------------------------------------- options


def parse(*argv: str) -> Any:
    import argparse

    parser = argparse.ArgumentParser(prog="sora-mock")
    verify_command.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["verify", *argv])


def test_the_defaults() -> None:
    args = parse("--provider", "vtrix")
    assert vars(args) == {
        "command": "verify",
        "provider": "vtrix",
        "base_url": None,
        "max_creates": 1,
        "dry_run": False,
        "image": None,
        "report_dir": Path("reports"),
        "timeout": 60.0,
        "poll_seconds": 600.0,
        "poll_interval": 10.0,
        "max_polls": 60,
        "generated": 10,
        "skip_without_key": False,
    }


@pytest.mark.parametrize("option", ["--max-creates", "--max-polls", "--generated"])
def test_counts_take_zero_but_not_less(capsys: pytest.CaptureFixture[str], option: str) -> None:
    assert getattr(parse("--provider", "vtrix", option, "0"), option[2:].replace("-", "_")) == 0
    with pytest.raises(SystemExit) as exit_:
        parse("--provider", "vtrix", option, "-1")
    assert exit_.value.code == 2
    assert f"argument {option}: must be 0 or more" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--timeout", "--poll-seconds", "--poll-interval"])
@pytest.mark.parametrize("value", ["0", "-0.5", "nan"])
def test_times_must_be_more_than_zero(
    capsys: pytest.CaptureFixture[str], option: str, value: str
) -> None:
    assert getattr(parse("--provider", "vtrix", option, "0.25"), option[2:].replace("-", "_")) == (
        0.25
    )
    with pytest.raises(SystemExit):
        parse("--provider", "vtrix", option, value)
    assert f"argument {option}: must be more than 0" in capsys.readouterr().err


def test_the_help_ends_with_the_exit_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    monkeypatch.setenv("COLUMNS", "100")
    parser = argparse.ArgumentParser(prog="sora-mock")
    sub = parser.add_subparsers()
    text = verify_command.add_parser(sub).format_help()
    assert text.endswith(verify_command.EXIT_CODES)
    assert "  0  verified: no drift\n  1  drift:" in verify_command.EXIT_CODES
    assert "\n  2  usage error" in verify_command.EXIT_CODES
    assert '\n  3  no drift, but the provider answers "model not found"' in (
        verify_command.EXIT_CODES
    )
    assert "\n  4  could not verify:" in verify_command.EXIT_CODES
    flat = " ".join(parser.format_help().split())
    assert "verify check a live provider (or the mock) against its contract and report drift" in (
        flat
    )


# --------------------------------------------------------------------------- exit codes


def result_of(*exchanges: Exchange) -> RunResult:
    contract = contracts.load("vtrix-generation")
    ops = {op_id: OperationResult(op) for op_id, op in contract.operations.items()}
    first = next(iter(ops.values()))
    first.exchanges.extend(exchanges)
    return RunResult("vtrix", contract, "u", 1, "t", ops)


def test_a_clean_run_exits_0() -> None:
    assert verify_command.exit_code(result_of(Exchange("k", "GET", "u", status=200))) == 0


def test_drift_exits_1_even_when_part_of_the_run_could_not_be_verified() -> None:
    result = result_of(
        Exchange("k", "GET", "u", status=200, problems=[Drift("/a", "x")]),
        Exchange("k", "GET", "u", error="timed out"),
    )
    result.block("no-answer", "1 of 2")
    result.retired_models.append("sora-2")
    assert verify_command.exit_code(result) == 1


def test_a_blocker_exits_4() -> None:
    result = result_of(Exchange("k", "GET", "u", status=200))
    result.block("credentials", "rejected")
    result.retired_models.append("sora-2")
    assert verify_command.exit_code(result) == 4


def test_an_unanswered_request_exits_4_without_a_blocker() -> None:
    result = result_of(Exchange("k", "GET", "u", error="timed out"))
    result.retired_models.append("sora-2")
    assert verify_command.exit_code(result) == 4


def test_a_retired_model_alone_exits_3() -> None:
    result = result_of(Exchange("k", "GET", "u", status=200))
    result.retired_models.append("sora-2")
    assert verify_command.exit_code(result) == 3


# --------------------------------------------------------------------------- the base URL


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/gptge",
        "127.0.0.1:8000/gptge",
        "http:///gptge",
        "http://127.0.0.1:8000/gptge?page=2",
        "http://127.0.0.1:8000/gptge#top",
    ],
)
def test_a_base_url_that_is_not_a_plain_http_url_is_a_usage_error(tmp_path: Path, url: str) -> None:
    def never(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing may be sent")

    code, out, err = verify(
        tmp_path, "--provider", "gptge", "--base-url", url, transport=httpx.MockTransport(never)
    )
    assert code == 2
    assert err == f"sora-mock verify: --base-url must be an http(s) URL, got {url!r}\n"
    assert out == ""
    assert list(tmp_path.iterdir()) == []


def test_the_refused_base_url_never_shows_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GPTGE_API_KEY", KEY)
    code, _, err = verify(tmp_path, "--provider", "gptge", "--base-url", f"ftp://x/?k={KEY}")
    assert code == 2
    assert KEY not in err
    assert err.startswith("sora-mock verify: --base-url must be an http(s) URL, got ")


# --------------------------------------------------------------------------- runs


def test_the_mock_verifies_clean_with_the_placeholder_key(tmp_path: Path) -> None:
    server = mock()
    code, out, err = verify(
        tmp_path,
        "--provider",
        "vtrix",
        "--base-url",
        f"{LOOPBACK}/vtrix",
        transport=server.transport(),
        sleep=server.advance,
    )
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == (
        f"VTRIX_API_KEY is not set and {LOOPBACK}/vtrix is loopback: sending the placeholder "
        "key '[REDACTED]'"
    )
    md, xml = tmp_path / "verify-vtrix.md", tmp_path / "verify-vtrix.xml"
    assert lines[-2:] == [
        f"no drift: 5 requests, 1 paid create(s). Reports: {md}, {xml}",
        "vtrix: 2 check(s) run: 2 passed, 0 failed, 0 could not run; 0 skipped",
    ]
    assert "- Note: no key set: the placeholder key" in md.read_text(encoding="utf-8")
    # the key the mock saw: the placeholder, with the provider's own header
    assert {e["key"] is not None for e in server.journal if e["method"] == "POST"} == {True}


def test_a_key_that_is_set_is_sent_instead_of_the_placeholder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VTRIX_API_KEY", f"  {KEY}\n")
    seen: list[str] = []

    def provider(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Authorization", ""))
        return httpx.Response(401, json={"error": {"code": "401", "error_message": "no"}})

    code, out, _ = verify(
        tmp_path,
        "--provider",
        "vtrix",
        "--base-url",
        f"{LOOPBACK}/vtrix",
        transport=httpx.MockTransport(provider),
    )
    assert "placeholder" not in out
    assert f"Bearer {KEY}" in seen  # stripped of the blanks around it
    assert KEY not in out
    assert code == 4


def test_the_http_libraries_logs_are_quieted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("httpx", "httpcore"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.DEBUG)
    server = mock()
    verify(
        tmp_path,
        "--provider",
        "vtrix",
        "--base-url",
        f"{LOOPBACK}/vtrix",
        "--dry-run",
        transport=server.transport(),
    )
    assert logging.getLogger("httpx").level == logging.WARNING
    assert logging.getLogger("httpcore").level == logging.WARNING


def test_drift_says_what_drifted_and_where_the_reports_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VTRIX_API_KEY", KEY)

    def provider(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(200, json={"code": 200, "message": "ok", "data": {}})
        if "Authorization" not in request.headers:
            return httpx.Response(401, json={"error": {"code": "401", "error_message": "x"}})
        return httpx.Response(200, json={"unexpected": True})

    code, out, _ = verify(
        tmp_path,
        "--provider",
        "vtrix",
        "--base-url",
        "https://cloud.vtrix.example",
        transport=httpx.MockTransport(provider),
    )
    assert code == 1
    md, xml = tmp_path / "verify-vtrix.md", tmp_path / "verify-vtrix.xml"
    said = [line for line in out.splitlines() if "Reports:" in line]
    assert said == [
        "DRIFT: 10 problem(s) in 2 operation(s) (createGeneration, getGenerationTask). "
        f"Reports: {md}, {xml}"
    ]
    assert out.splitlines()[-1] == (
        "vtrix: 2 check(s) run: 0 passed, 2 failed, 0 could not run; 0 skipped"
    )
    assert md.exists() and xml.exists()


def test_a_provider_that_cannot_be_reached_is_not_verified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VTRIX_API_KEY", KEY)

    def provider(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    code, out, _ = verify(
        tmp_path,
        "--provider",
        "vtrix",
        "--base-url",
        "https://cloud.vtrix.example",
        transport=httpx.MockTransport(provider),
    )
    assert code == 4
    md, xml = tmp_path / "verify-vtrix.md", tmp_path / "verify-vtrix.xml"
    assert out.splitlines()[-3:] == [
        f"Reports: {md}, {xml}",  # nothing drifted: only where the reports are
        "vtrix: NOT VERIFIED (unreachable): cannot reach https://cloud.vtrix.example: no answer "
        "to any of 2 request(s) (ConnectError: connection refused)",
        "vtrix: 1 check(s) run: 0 passed, 0 failed, 1 could not run; 1 skipped: "
        "createGeneration: the provider did not answer the free probes",
    ]


# --------------------------------------------------------------------------- no key


def test_without_a_key_a_live_provider_is_not_verified(tmp_path: Path) -> None:
    code, out, _ = verify(tmp_path, "--provider", "gptge", "--base-url", "https://api.gpt.ge")
    assert code == 4
    md, xml = tmp_path / "verify-gptge.md", tmp_path / "verify-gptge.xml"
    assert out.splitlines() == [
        "gptge: NOT VERIFIED (no-key): no check ran: GPTGE_API_KEY is not set (set it to verify "
        "gptge)",
        f"Reports: {md}, {xml}",
        "gptge: 0 check(s) run: 0 passed, 0 failed, 0 could not run; 6 skipped: listVideos, "
        "createVideo, getVideo, deleteVideo, getVideoContent, remixVideo: no check ran: "
        "GPTGE_API_KEY is not set",
    ]
    assert "could not verify (no-key)" in xml.read_text(encoding="utf-8")


def test_without_a_key_and_skip_without_key_the_run_is_skipped_and_exits_0(
    tmp_path: Path,
) -> None:
    code, out, _ = verify(
        tmp_path, "--provider", "gptge", "--base-url", "https://api.gpt.ge", "--skip-without-key"
    )
    assert code == 0
    md, xml = tmp_path / "verify-gptge.md", tmp_path / "verify-gptge.xml"
    assert out.splitlines()[:2] == [
        "skipped: set GPTGE_API_KEY to verify gptge",
        f"Reports: {md}, {xml}",
    ]
    assert "- Result: **skipped**: no check ran: GPTGE_API_KEY is not set" in md.read_text(
        encoding="utf-8"
    )


def test_without_a_base_url_the_contracts_is_used(tmp_path: Path) -> None:
    code, out, _ = verify(tmp_path, "--provider", "vtrix", "--dry-run")
    assert code == 0
    assert "DRY RUN against https://cloud.vtrix.ai " in out


# --------------------------------------------------------------------------- dry run


def test_a_dry_run_without_a_key_says_a_real_run_would_verify_nothing(tmp_path: Path) -> None:
    def never(request: httpx.Request) -> httpx.Response:
        raise AssertionError("a dry run sends nothing")

    code, out, _ = verify(
        tmp_path,
        "--provider",
        "vtrix",
        "--base-url",
        "https://cloud.vtrix.example",
        "--dry-run",
        transport=httpx.MockTransport(never),
    )
    assert code == 0
    assert out.splitlines()[0] == "(VTRIX_API_KEY is not set: a real run would not verify anything)"
    assert list(tmp_path.iterdir()) == []


def test_a_dry_run_on_loopback_plans_with_the_placeholder_key(tmp_path: Path) -> None:
    code, out, _ = verify(
        tmp_path, "--provider", "vtrix", "--base-url", f"{LOOPBACK}/vtrix", "--dry-run"
    )
    assert code == 0
    assert "sending the placeholder key" in out.splitlines()[0]
    assert "would not verify anything" not in out


def test_a_dry_run_that_cannot_generate_cases_is_not_verified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Planner, "generation_missing", lambda self: "schemathesis is missing")
    monkeypatch.setenv("VTRIX_API_KEY", KEY)
    code, out, _ = verify(
        tmp_path, "--provider", "vtrix", "--base-url", "https://cloud.vtrix.example", "--dry-run"
    )
    assert code == 4
    assert out.splitlines()[-1] == (
        "vtrix: NOT VERIFIED (missing-dependency): schemathesis is missing"
    )


#: ``sora-mock verify --help``'s options, whitespace folded: what a user reads for each
VERIFY_OPTIONS = (
    "-h, --help show this help message and exit --provider "
    "{gptge,gptproto-chat,gptproto-v3,gptproto-videos,openrouter,vtrix} the provider API to check "
    "--base-url BASE_URL default: the contract's x-provider-base-url; the mock: "
    "http://127.0.0.1:8000/gptge --max-creates N hard cap on paid create requests (default 1; "
    "0: only free requests) --dry-run print the plan; send nothing --image URL reference "
    "image URL for a paid create of a JSON API (gptproto-v3 `images`, vtrix "
    "`input_reference`) instead of the contract example's; its size must match the example's "
    "(720x1280 portrait) --report-dir DIR where the Markdown and JUnit reports go (default: "
    "reports) --timeout S per request (default: 60) --poll-seconds S wall-time budget for "
    "polling one job (and for reading one stream) (default: 600) --poll-interval S seconds "
    "between two status reads of a created job (default: 10) --max-polls N status reads of a "
    "created job at most (default: 60) --generated N generated read (GET) cases per operation "
    "(default 10; 0: none); they need schemathesis: pip install 'sora-mock[verify]' "
    "--skip-without-key when the provider's key is not set, report the run skipped and exit 0 "
    "(for a CI matrix where some providers have no key); by default that exits 4: nothing was "
    "checked "
).strip()


def test_the_help_explains_every_option_with_its_default(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    monkeypatch.setenv("COLUMNS", "100")
    parser = argparse.ArgumentParser(prog="sora-mock")
    text = " ".join(verify_command.add_parser(parser.add_subparsers()).format_help().split())
    assert text.startswith(
        "usage: sora-mock verify [-h] --provider {gptge,gptproto-chat,gptproto-v3,"
        "gptproto-videos,openrouter,vtrix} [--base-url BASE_URL] [--max-creates N] [--dry-run] "
        "[--image URL] "
        "[--report-dir DIR] [--timeout S] [--poll-seconds S] [--poll-interval S] [--max-polls N] "
        "[--generated N] [--skip-without-key] Send free probes, at most --max-creates paid "
        "creates (following the contract's links) and generated read cases to a provider, "
        "validate every answer against the contract, and write verify-<provider>.md and .xml. "
        "options: "
    ), text
    assert text.split(" options: ", 1)[1].split(" exit codes:", 1)[0] == VERIFY_OPTIONS


def test_a_bad_option_is_refused_with_the_commands_usage(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        verify_command.main(["--provider", "vtrix", "--max-polls", "many"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: sora-mock verify [-h] --provider")
    assert "sora-mock verify: error: argument --max-polls: invalid _non_negative_int value" in err


def test_messages_go_to_the_processs_own_streams_by_default(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert verify_command.main(["--provider", "vtrix", "--base-url", "ftp://x"]) == 2
    captured = capsys.readouterr()
    assert captured.err == "sora-mock verify: --base-url must be an http(s) URL, got 'ftp://x'\n"
    assert captured.out == ""
    code = verify_command.main(
        ["--provider", "vtrix", "--skip-without-key", "--report-dir", str(tmp_path)]
    )
    assert code == 0
    assert capsys.readouterr().out.startswith("skipped: set VTRIX_API_KEY to verify vtrix\n")


def test_a_contract_without_a_base_url_needs_one_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    bare = SimpleNamespace(name="vtrix-generation", spec={"info": {}})
    monkeypatch.setattr(verify_command.contracts, "load", lambda name: bare)
    code, out, err = verify(tmp_path, "--provider", "vtrix")
    assert (code, out) == (2, "")
    assert err == "sora-mock verify: --base-url must be an http(s) URL, got ''\n"


def test_the_options_reach_the_run(tmp_path: Path) -> None:
    image = "https://images.example/mine-720x1280.png"
    code, out, _ = verify(
        tmp_path,
        "--provider",
        "vtrix",
        "--base-url",
        f"{LOOPBACK}/vtrix",
        "--dry-run",
        "--poll-interval",
        "2.5",
        "--max-polls",
        "7",
        "--poll-seconds",
        "90",
        "--image",
        image,
    )
    assert code == 0
    assert f"input_reference='{image}'" in out
    assert "polled every 2.5 s until the job ends, at most 7 times or 90 s" in out
    code, out, _ = verify(
        tmp_path,
        "--provider",
        "vtrix",
        "--base-url",
        f"{LOOPBACK}/vtrix",
        "--dry-run",
        "--max-creates",
        "0",
    )
    assert "[paid create]" not in out
    assert out.splitlines()[-1] == (
        "2 requests planned, at most 0 of them paid; nothing was sent (dry run)"
    )


def test_the_timeout_is_each_requests(tmp_path: Path) -> None:
    timeouts: list[Any] = []

    def provider(request: httpx.Request) -> httpx.Response:
        timeouts.append(request.extensions["timeout"])
        return httpx.Response(401, json={"error": {"code": "401", "error_message": "no"}})

    verify(
        tmp_path,
        "--provider",
        "vtrix",
        "--base-url",
        f"{LOOPBACK}/vtrix",
        "--timeout",
        "0.5",
        transport=httpx.MockTransport(provider),
    )
    assert timeouts
    assert {t["read"] for t in timeouts} == {0.5}
    assert {t["connect"] for t in timeouts} == {0.5}


def test_a_stream_is_read_without_clock_steps_unless_asked(tmp_path: Path) -> None:
    server = mock()
    slept: list[float] = []
    with server.stepping(1.0):  # the stream's clock moves as the mock reads it
        code, out, _ = verify(
            tmp_path,
            "--provider",
            "gptproto-chat",
            "--base-url",
            f"{LOOPBACK}/gptproto",
            transport=server.transport(),
            sleep=slept.append,
        )
    assert code == 0, out
    assert slept == []


def test_an_interrupted_run_writes_no_report_and_is_not_verified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mockserver.conformance.verifier import Verifier

    def interrupted(self: Verifier) -> RunResult:
        raise KeyboardInterrupt

    monkeypatch.setattr(Verifier, "run", interrupted)
    code, _, err = verify(tmp_path, "--provider", "vtrix", "--base-url", f"{LOOPBACK}/vtrix")
    assert code == 4
    assert err == "sora-mock verify: interrupted; no report written\n"
    assert list(tmp_path.iterdir()) == []


def test_a_stream_pause_asked_for_steps_the_clock_between_events(tmp_path: Path) -> None:
    server = mock()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        server.advance(seconds)

    code, out, _ = verify(
        tmp_path,
        "--provider",
        "gptproto-chat",
        "--base-url",
        f"{LOOPBACK}/gptproto",
        transport=server.transport(),
        sleep=sleep,
        stream_pause=5.0,
    )
    assert code == 0, out
    assert slept and set(slept) == {5.0}
