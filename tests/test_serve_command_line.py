"""``sora-mock`` from its command line to what it runs, in-process (the server, the conformance
commands are stand-ins): every serve flag lands in the configuration, mistakes are one line
and exit code 2, the environment fills in what the flags leave out, durations and sizes read
as a user writes them, and ``sample-image`` writes its cat."""

from __future__ import annotations

import argparse
import gc
import logging
import math
import os
from pathlib import Path
from typing import Any

import pytest

from mockserver import cli
from mockserver.http import serving
from mockserver.http.serving import ServeError, ServeOptions
from mockserver.settings.config import MockConfig


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SORA_MOCK_"):
            monkeypatch.delenv(name)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What ``serving.serve`` was asked to run: (config, options, announce, gc enabled)."""
    runs: list[Any] = []

    def run(config: MockConfig, options: ServeOptions, announce: Any) -> int:
        runs.append((config, options, announce, gc.isenabled()))
        return 0

    monkeypatch.setattr(serving, "serve", run)
    monkeypatch.setattr(serving, "default_workers", lambda: 3)
    return runs


def test_serve_with_no_flag_runs_the_documented_defaults(served: list[Any]) -> None:
    assert cli.main(["serve"]) == 0
    ((config, options, _, _),) = served
    assert options == ServeOptions("127.0.0.1", 8000, 3, 128)
    assert config == MockConfig(
        clock="real",
        speed=1.0,
        store="memory",
        log_format="text",
        bind_host="127.0.0.1",
        retention_seconds=86400.0,
    )


def test_every_serve_flag_lands_in_the_configuration(served: list[Any], tmp_path: Path) -> None:
    argv = [
        "serve",
        "--host=::1",
        "--port=9123",
        "--allowed-host=.test",
        "--allowed-host=mock.local",
        "--clock=virtual",
        "--speed=10",
        "--store=sqlite:/tmp/s.sqlite",
        "--strict",
        "--fault-rate=0.25",
        "--fault-seed=7",
        "--rate-limit=60",
        "--fetch-remote-images",
        "--api-key=k1",
        "--api-key=k2",
        "--scenario=slow",
        "--scenario=rate_limited@k2",
        f"--media-dir={tmp_path}",
        "--media-dir-bytes=2G",
        "--media-redis-bytes=512M",
        "--files-quota=5",
        "--files-quota-bytes=1M",
        "--slow-seconds=0.5",
        f"--replay={tmp_path / 'cassettes'}",
        "--replay-fallback=404",
        "--replay-match=strict",
        "--max-waiting-chats=4",
        "--retired-model=sora-1",
        "--retired-model=sora-2-old",
        "--no-retry-after",
        "--no-metrics",
        "--retention=90m",
        "--workers=2",
        "--concurrency=16",
        "--log-format=json",
        "--log-dashboard",
    ]
    assert cli.main(argv) == 0
    ((config, options, _, _),) = served
    assert options == ServeOptions("::1", 9123, 2, 16)
    assert config == MockConfig(
        clock="virtual",
        speed=10.0,
        store="sqlite:/tmp/s.sqlite",
        strict=True,
        fault_rate=0.25,
        fault_seed=7,
        rate_limit_rpm=60,
        fetch_remote_images=True,
        api_keys=("k1", "k2"),
        media_dir=tmp_path,
        media_dir_bytes=2 << 30,
        media_redis_bytes=512 << 20,
        files_quota=5,
        files_quota_bytes=1 << 20,
        slow_seconds=0.5,
        scenarios=("slow", "rate_limited@k2"),
        retention_seconds=5400.0,
        log_format="json",
        log_dashboard=True,
        bind_host="::1",
        allowed_hosts=(".test", "mock.local"),
        retry_after=False,
        metrics=False,
        retired_models=("sora-1", "sora-2-old"),
        max_waiting_chats=4,
        replay_dir=tmp_path / "cassettes",
        replay_fallback="404",
        replay_match="strict",
    )


def test_quiet_means_no_console_lines(served: list[Any]) -> None:
    assert cli.main(["serve", "--quiet", "--log-format=json"]) == 0
    assert served[0][0].log_format is None


def test_a_namespace_without_console_options_gets_text_lines() -> None:
    """``config_from`` serves other commands' namespaces too (no --quiet, no --log-format)."""
    parser = argparse.ArgumentParser()
    cli._serve_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve"])
    for name in ("quiet", "log_format", "log_dashboard", "allowed_hosts", "metrics"):
        delattr(args, name)
    config = cli.config_from(args)
    assert config.log_format == "text" and config.log_dashboard is False
    assert config.allowed_hosts == () and config.metrics is True


def test_the_banner_is_printed_at_once(
    served: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    cli.main(["serve"])
    announce = served[0][2]
    announce("sora-mock serving on ...")
    assert capsys.readouterr().out == "sora-mock serving on ...\n"


def test_the_collector_is_off_while_serve_starts_and_on_after(served: list[Any]) -> None:
    assert gc.isenabled()
    cli.main(["serve"])
    assert served[0][3] is False, "start-up ran with the cyclic collector off"
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_caller_stays_off(served: list[Any]) -> None:
    gc.disable()
    try:
        cli.main(["serve"])
        assert gc.isenabled() is False
    finally:
        gc.enable()


def test_the_collector_is_on_again_when_serve_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("the server broke")

    monkeypatch.setattr(serving, "serve", boom)
    with pytest.raises(RuntimeError):
        cli.main(["serve", "--workers=1"])
    assert gc.isenabled()


def test_the_command_line_is_read_from_argv_by_default(
    served: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.argv", ["sora-mock", "serve", "--port=9555"])
    assert cli.main() == 0
    assert served[0][1].port == 9555


def test_logging_goes_to_the_console_at_info_and_werkzeug_says_only_warnings(
    served: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", logging.WARNING)
    werkzeug = logging.getLogger("werkzeug")
    monkeypatch.setattr(werkzeug, "level", logging.NOTSET)
    cli.main(["serve"])
    assert root.level == logging.INFO
    (handler,) = root.handlers
    record = logging.LogRecord("mockserver", logging.ERROR, "", 0, "worker died", None, None)
    assert handler.format(record) == "ERROR mockserver: worker died"
    assert werkzeug.level == logging.WARNING


# ------------------------------------------------------------------ mistakes: one line, exit 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["serve", "--scenario=no_such_thing"], "sora-mock: unknown scenario 'no_such_thing'"),
        (["serve", "--scenario=nope@k1"], "sora-mock: unknown scenario 'nope'"),
        (["serve", "--workers=0"], "sora-mock: --workers and --concurrency must be at least 1"),
        (["serve", "--concurrency=0"], "sora-mock: --workers and --concurrency must be at least 1"),
        (
            ["serve", "--store=memory", "--workers=2"],
            "sora-mock: --store memory keeps the state in one process: use it with --workers 1, "
            "or leave --store out (the workers then share a temporary SQLite store)",
        ),
        (
            ["serve", "--store=memory"],  # the default worker count here: 3
            "sora-mock: --store memory keeps the state in one process",
        ),
    ],
)
def test_a_serve_mistake_is_one_line_and_exit_code_2(
    served: list[Any], capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
    assert served == []


def test_one_worker_may_keep_its_state_in_memory(served: list[Any]) -> None:
    assert cli.main(["serve", "--store=memory", "--workers=1"]) == 0
    assert cli.main(["serve", "--scenario=slow@k1", "--workers=1"]) == 0
    assert len(served) == 2


@pytest.mark.parametrize("error", [ServeError("port 8000 is in use"), ValueError("bad store")])
def test_a_server_that_cannot_start_is_one_line_and_exit_code_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], error: Exception
) -> None:
    def run(*args: Any, **kwargs: Any) -> int:
        raise error

    monkeypatch.setattr(serving, "serve", run)
    assert cli.main(["serve", "--workers=1"]) == 2
    assert capsys.readouterr().err == f"sora-mock: {error}\n"


# ------------------------------------------------------------------ the environment


def test_the_environment_fills_in_what_the_flags_leave_out(
    served: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SORA_MOCK_PORT", "9001")
    monkeypatch.setenv("SORA_MOCK_API_KEY", "k1,k2")
    monkeypatch.setenv("SORA_MOCK_STRICT", "1")
    assert cli.main(["serve", "--api-key=k3"]) == 0
    config, options, _, _ = served[0]
    assert options.port == 9001 and config.strict is True
    assert config.api_keys == ("k3",), "a flag wins over the environment"


def test_a_bad_environment_value_is_one_line_and_exit_code_2(
    served: list[Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SORA_MOCK_PORT", "eighty")
    assert cli.main(["serve"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sora-mock: SORA_MOCK_PORT") and err.count("\n") == 1
    assert served == []


def test_an_unknown_serve_variable_is_a_warning_not_a_failure(
    served: list[Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SORA_MOCK_PROT", "9001")
    assert cli.main(["serve"]) == 0
    assert capsys.readouterr().err == (
        "sora-mock: warning: SORA_MOCK_PROT is not a serve option: ignored\n"
    )


def test_other_commands_ignore_the_serve_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SORA_MOCK_PROT", "9001")
    monkeypatch.setenv("SORA_MOCK_PORT", "eighty")
    assert cli.main(["sample-image", "--size=64x48", f"-o={tmp_path / 'c.png'}"]) == 0
    assert "warning" not in capsys.readouterr().err


# ------------------------------------------------------------------ the other commands


def test_each_conformance_command_goes_to_its_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    from mockserver import verify
    from mockserver.conformance import commands

    ran: list[Any] = []
    monkeypatch.setattr(verify, "run_args", lambda a: ran.append(("verify", a.provider)) or 11)
    monkeypatch.setattr(commands, "run_proxy", lambda a: ran.append(("proxy", a.provider)) or 12)
    monkeypatch.setattr(
        commands, "run_cassettes", lambda a: ran.append(("cassettes", a.directory)) or 13
    )
    assert cli.main(["verify", "--provider=gptge", "--base-url=http://127.0.0.1:1"]) == 11
    assert cli.main(["proxy", "--provider=vtrix"]) == 12
    assert cli.main(["cassettes", "report", "/tmp/c"]) == 13
    assert ran == [("verify", "gptge"), ("proxy", "vtrix"), ("cassettes", Path("/tmp/c"))]


def test_serve_does_not_offer_the_conformance_commands(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`serve` starts without importing them; the full list comes with any other command."""
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    assert "{serve,sample-image,verify,proxy,cassettes}" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["serve", "--no-such-flag"])
    assert "{serve,sample-image}" in capsys.readouterr().err


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main([])
    assert exit_.value.code == 2
    assert "the following arguments are required: command" in capsys.readouterr().err


def test_sample_image_writes_a_png_of_the_size_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    target = tmp_path / "cat.png"
    assert cli.main(["sample-image", "--size", "64x48", "--output", str(target)]) == 0
    assert capsys.readouterr().out == f"wrote {target} (64x48 PNG)\n"
    with Image.open(target) as image:
        assert image.size == (64, 48) and image.format == "PNG"


def test_sample_image_names_its_file_after_the_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli.main(["sample-image", "--size=32x32"]) == 0
    assert (tmp_path / "cat-32x32.png").read_bytes().startswith(b"\x89PNG")
    assert capsys.readouterr().out == "wrote cat-32x32.png (32x32 PNG)\n"


def test_the_default_sample_image_is_a_portrait_720p(monkeypatch: pytest.MonkeyPatch) -> None:
    from mockserver import sample

    asked: list[Any] = []
    monkeypatch.setattr(sample, "sample_image", lambda w, h: asked.append((w, h)) or b"png")
    parser = argparse.ArgumentParser()
    cli._sample_image_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["sample-image", "-o", os.devnull])
    assert args.size == "720x1280"
    assert cli.sample_image(args) == 0
    assert asked == [(720, 1280)]


def test_sample_image_mistakes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["sample-image", "--size=big"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sora-mock: ") and "big" in err and err.count("\n") == 1
    missing = tmp_path / "no" / "such" / "dir" / "c.png"
    assert cli.main(["sample-image", "--size=64x48", "-o", str(missing)]) == 1
    assert capsys.readouterr().err == (
        f"sora-mock: cannot write {missing}: No such file or directory\n"
    )


def test_a_write_error_without_a_reason_still_says_what_went_wrong(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(self: Path, data: bytes) -> int:
        raise OSError("disk on fire")

    monkeypatch.setattr(Path, "write_bytes", fail)
    assert cli.main(["sample-image", "--size=64x48", "-o", str(tmp_path / "c.png")]) == 1
    assert capsys.readouterr().err.endswith(": disk on fire\n")


# ------------------------------------------------------------------ durations and sizes


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("3600", 3600.0),
        ("1.5", 1.5),
        ("45s", 45.0),
        ("90m", 5400.0),
        ("24h", 86400.0),
        ("7d", 604800.0),
        ("0.5h", 1800.0),
        ("never", None),
        (" Never ", None),
        ("NEVER", None),
    ],
)
def test_a_retention_reads_as_a_user_writes_it(text: str, seconds: float | None) -> None:
    assert cli._duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "", "h", "24x", "1e400m", "nan"])
def test_what_is_not_a_duration_says_what_would_be(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as caught:
        cli._duration(text)
    message = str(caught.value)
    if text in ("1e400m", "nan"):
        assert message == f"a duration must be positive: {text!r}"
    else:
        assert message == f"not a duration: {text!r} (e.g. 3600, 90m, 24h)"


@pytest.mark.parametrize("text", ["0", "-5", "0m", "-1d", "inf"])
def test_a_retention_must_be_positive(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=r"^a duration must be positive: "):
        cli._duration(text)
    assert math.isfinite(cli._duration("1e300") or 0)


@pytest.mark.parametrize(("text", "size"), [("0", 0), ("512M", 512 << 20), ("2G", 2 << 30)])
def test_a_size_reads_as_a_user_writes_it(text: str, size: int) -> None:
    assert cli._size(text) == size


@pytest.mark.parametrize("text", ["big", "", "12Q", "-1"])
def test_what_is_not_a_size_says_what_would_be(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as caught:
        cli._size(text)
    assert str(caught.value) == f"not a size: {text!r} (e.g. 512M, 2G, 0)"


def test_a_bad_retention_on_the_command_line_is_a_usage_error(
    served: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["serve", "--retention=soon"])
    assert exit_.value.code == 2
    assert "argument --retention: not a duration: 'soon'" in capsys.readouterr().err
    assert cli.main(["serve", "--retention=never"]) == 0
    assert served[0][0].retention_seconds is None


# ------------------------------------------------------------------ serve --help


def test_the_help_lists_every_scenario_with_its_status_and_when_it_applies() -> None:
    from mockserver.state.faults import SCENARIOS

    lines = cli._scenario_help().splitlines()
    assert lines[0] == (
        "scenarios (--scenario NAME[@KEY], header X-Mock-Scenario, POST /__mock/scenarios):"
    )
    assert lines[-2:] == ["", "dashboard: http://HOST:PORT/__mock/ (or / in a browser)"]
    assert lines[-3] == (
        "  generation_failed:CODE picks the provider's failure code (Vtrix: 003000095..99)"
    )
    rows = {line.split()[0]: line for line in lines[1:-3]}
    assert set(rows) == {scenario.value for scenario in SCENARIOS}
    limited = rows["rate_limited"]
    assert limited.startswith("  rate_limited          429  any request  ")
    for scenario, spec in SCENARIOS.items():
        row = rows[scenario.value]
        assert row.endswith(f" {spec.message}")
        assert row[24:28] == (f"{spec.status:<4}" if spec.status else "-   ")
        assert row[29:41] == ("at create   " if spec.create_only else "any request ")


def test_serve_help_shows_the_scenarios_and_the_environment_rule(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit):
        cli.main(["serve", "--help"])
    out = capsys.readouterr().out
    assert "Serve every provider API, the admin API and the dashboard on one port." in out
    assert "SORA_MOCK_ and the option's" in out
    assert out.rstrip().endswith("dashboard: http://HOST:PORT/__mock/ (or / in a browser)")
    for heading in (
        "where it listens:",
        "jobs and time:",
        "state: jobs, media and uploads:",
        "what it accepts:",
        "faults and limits:",
        "replaying recordings:",
        "console:",
    ):
        assert f"\n{heading}\n" in out


def test_one_request_at_a_time_is_a_valid_concurrency(served: list[Any]) -> None:
    assert cli.main(["serve", "--workers=1", "--concurrency=1"]) == 0
    assert served[0][1] == ServeOptions("127.0.0.1", 8000, 1, 1)


def test_the_banner_is_flushed_at_once_whatever_the_stdout(
    served: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pipe (a supervisor, `| tee`) buffers stdout: the banner must not wait in it."""
    import io

    class Pipe(io.StringIO):
        flushed: list[str] = []

        def flush(self) -> None:
            self.flushed.append(self.getvalue())

    pipe = Pipe()
    monkeypatch.setattr("sys.stdout", pipe)
    cli.main(["serve"])
    served[0][2]("sora-mock serving on ...")
    assert pipe.flushed[-1] == "sora-mock serving on ...\n"


def test_with_the_collector_off_serve_still_reads_its_environment(
    served: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SORA_MOCK_PORT", "9002")
    gc.disable()
    try:
        assert cli.main(["serve"]) == 0
    finally:
        gc.enable()
    assert served[0][1].port == 9002


def test_the_top_level_help_names_the_program_and_what_it_does(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import re

    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert out.startswith("usage: sora-mock [-h]")
    assert "serve the mock (or replay recordings), verify a base URL against the" in out
    assert re.search(r"^\s+serve\s+serve every provider API on one port$", out, re.M), out
    assert re.search(
        r"^\s+sample-image\s+write the built-in sample reference image \(a cat in a hat\) "
        r"as PNG$",
        out,
        re.M,
    ), out


def test_sample_image_help_says_what_it_writes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import re

    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit):
        cli.main(["sample-image", "--help"])
    out = capsys.readouterr().out
    assert out.startswith("usage: sora-mock sample-image [-h]")
    assert (
        "Write the mock's built-in reference image, at the size a video will have (a provider "
        "refuses an image whose size differs from the video's)." in out
    )
    assert "WIDTHxHEIGHT in pixels (default: 720x1280)" in out  # the house formatter
    assert re.search(
        r"\s-o OUTPUT, --output OUTPUT\s+file to write \(default: cat-SIZE\.png\)$", out, re.M
    )


def test_sample_image_does_not_offer_the_conformance_commands(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        cli.main(["sample-image", "--no-such-flag"])
    assert "{serve,sample-image}" in capsys.readouterr().err


# ------------------------------------------------------------------ serve --help, as reviewed

#: every serve option's words, placeholder and heading as last reviewed: a change to any of
#: them shows as a diff to read rather than passing unseen (a garbled or swapped help line, a
#: lost heading); an option added since need only be explained (test_help_style.py). After an
#: intended change, ``UPDATE_SERVE_OPTIONS=1 pytest tests/test_serve_command_line.py -k
#: reviewed`` rewrites the file: commit it with the change
REVIEWED = Path(__file__).resolve().parent / "serve-options.json"


def _serve_options() -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="sora-mock")
    serve = cli._serve_parser(parser.add_subparsers(dest="command"))
    found: dict[str, Any] = {"(description)": serve.description}
    for group in serve._action_groups:
        for action in group._group_actions:
            if action.option_strings and action.dest != "help":
                found[action.option_strings[-1]] = {
                    "heading": group.title,
                    "help": action.help,
                    "metavar": action.metavar,
                }
    return found


def test_every_reviewed_serve_option_reads_as_reviewed() -> None:
    import json

    now = _serve_options()
    if os.environ.get("UPDATE_SERVE_OPTIONS"):
        REVIEWED.write_text(json.dumps(now, indent=2, ensure_ascii=False) + "\n")
    reviewed = json.loads(REVIEWED.read_text())
    changed = {
        name: {"reviewed": text, "now": now.get(name)}
        for name, text in reviewed.items()
        if now.get(name) != text
    }
    assert not changed, json.dumps(changed, indent=2)


@pytest.mark.parametrize(
    ("flag", "allowed", "refused"),
    [
        ("--clock", ["real", "virtual"], "stepping"),
        ("--replay-fallback", ["mock", "404"], "500"),
        ("--replay-match", ["lenient", "strict"], "loose"),
        ("--log-format", ["text", "json"], "xml"),
    ],
)
def test_an_option_with_a_few_values_takes_only_those(
    served: list[Any],
    capsys: pytest.CaptureFixture[str],
    flag: str,
    allowed: list[str],
    refused: str,
) -> None:
    for value in allowed:
        assert cli.main(["serve", f"{flag}={value}"]) == 0
    with pytest.raises(SystemExit) as exit_:
        cli.main(["serve", f"{flag}={refused}"])
    assert exit_.value.code == 2
    assert f"argument {flag}: invalid choice: '{refused}'" in capsys.readouterr().err
    assert len(served) == len(allowed)
