"""``SORA_MOCK_*`` variables for every ``serve`` option (mockserver/settings/envconfig.py): each
option has one, read as its flag would be; a flag wins; a bad value is one line and exit code 2."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from served import free_port, wait_until_served

from mockserver import cli
from mockserver.settings import envconfig


def serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sora-mock")
    return cli._serve_parser(parser.add_subparsers(dest="command"))


def parse(environ: dict[str, str], *flags: str) -> argparse.Namespace:
    parser = serve_parser()
    applied = envconfig.apply(parser, environ)
    return applied.finish(parser.parse_args(list(flags)))


def sample(action: argparse.Action) -> tuple[str, Any, str, Any]:
    """(text for the variable, the value it gives; a flag's text, the value the flag gives),
    each different from the option's default, derived from the option's kind: an option of a
    kind this does not know fails here, so a new option's variable is tested at once."""
    if isinstance(action, argparse._StoreTrueAction):
        return "yes", True, "", True
    if isinstance(action, argparse._StoreFalseAction):
        return "on", False, "", False
    if action.choices is not None:
        picks = [c for c in action.choices if c != action.default]
        return picks[0], picks[0], picks[-1], picks[-1]
    if isinstance(action, argparse._AppendAction) and action.dest in envconfig.PATH_LISTS:
        return f"a1{os.pathsep} b2", ["a1", "b2"], "c3", ["c3"]  # paths: separated as PATH is
    if isinstance(action, argparse._AppendAction):
        return "a1, b2", ["a1", "b2"], "c3", ["c3"]
    kinds: dict[Any, tuple[str, Any, str, Any]] = {
        int: ("7", 7, "9", 9),
        float: ("0.25", 0.25, "0.5", 0.5),
        Path: ("/data/x", Path("/data/x"), "/y", Path("/y")),
        None: ("sqlite:/data/a.sqlite", "sqlite:/data/a.sqlite", "other", "other"),
        cli._duration: ("90m", 5400.0, "2h", 7200.0),
        cli._size: ("2M", 2 * 1024 * 1024, "1K", 1024),
    }
    if action.type not in kinds:
        raise AssertionError(f"no sample value for {action.option_strings} ({action.type!r})")
    return kinds[action.type]


def serve_options() -> list[argparse.Action]:
    return [a for a in serve_parser()._actions if a.option_strings != ["-h", "--help"]]


@pytest.mark.parametrize("action", serve_options(), ids=lambda a: a.option_strings[-1])
def test_every_serve_option_is_set_by_its_variable_and_a_flag_wins(
    action: argparse.Action,
) -> None:
    name = envconfig.variable(action)
    flag_name = "SORA_MOCK_" + action.option_strings[-1][2:].upper().replace("-", "_")
    assert name == envconfig.PATH_LISTS.get(action.dest, flag_name)
    env_text, env_value, flag_text, flag_value = sample(action)
    assert getattr(parse({name: env_text}), action.dest) == env_value
    flag = [action.option_strings[-1], *([flag_text] if action.nargs != 0 else [])]
    assert getattr(parse({name: env_text}, *flag), action.dest) == flag_value
    if action.nargs == 0:  # a switch set off in the environment keeps its default
        assert getattr(parse({name: "0"}), action.dest) == action.default


def test_the_common_variables_map_to_the_options_a_container_needs() -> None:
    args = parse(
        {
            "SORA_MOCK_HOST": "0.0.0.0",
            "SORA_MOCK_PORT": "8080",
            "SORA_MOCK_WORKERS": "3",
            "SORA_MOCK_STORE": "sqlite:/data/sora-mock.sqlite",
            "SORA_MOCK_CLOCK": "virtual",
            "SORA_MOCK_API_KEY": "sk-one,sk-two",
            "SORA_MOCK_STRICT": "true",
            "SORA_MOCK_NO_RETRY_AFTER": "1",
            "SORA_MOCK_RETENTION": "never",
        },
        "--port",
        "9000",
    )
    assert (args.host, args.port, args.workers) == ("0.0.0.0", 9000, 3)
    assert (args.store, args.clock, args.strict) == (
        "sqlite:/data/sora-mock.sqlite",
        "virtual",
        True,
    )
    assert args.api_keys == ["sk-one", "sk-two"]
    assert args.retry_after is False and args.retention is None


def test_an_empty_environment_changes_nothing() -> None:
    assert parse({}) == serve_parser().parse_args([])


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("SORA_MOCK_PORT", "eighty", "not a whole number (for --port)"),
        ("SORA_MOCK_SPEED", "fast", "not a number (for --speed)"),
        ("SORA_MOCK_CLOCK", "wall", "not one of real, virtual (for --clock)"),
        ("SORA_MOCK_STRICT", "maybe", "expected 1/true/yes/on or 0/false/no/off (for --strict)"),
        ("SORA_MOCK_RETENTION", "soon", "not a duration"),
        ("SORA_MOCK_MEDIA_REDIS_BYTES", "lots", "not a size"),
    ],
)
def test_a_bad_value_names_its_variable(name: str, value: str, words: str) -> None:
    with pytest.raises(envconfig.EnvironmentValueError) as caught:
        parse({name: value})
    assert str(caught.value).startswith(f"{name}={value!r}: ")
    assert words in str(caught.value)


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mockserver.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )


def test_a_bad_value_is_one_line_and_exit_code_2() -> None:
    done = run_cli({"SORA_MOCK_WORKERS": "two"}, "serve")
    assert done.returncode == 2
    assert done.stderr == "sora-mock: SORA_MOCK_WORKERS='two': not a whole number (for --workers)\n"
    assert done.stdout == ""


def test_a_bad_serve_variable_does_not_stop_other_commands() -> None:
    done = run_cli({"SORA_MOCK_PORT": "x"}, "sample-image", "--size", "32x32", "-o", os.devnull)
    assert done.returncode == 0, done.stderr


def test_serve_help_says_the_environment_and_that_flags_win() -> None:
    done = run_cli({}, "serve", "--help")
    text = " ".join(done.stdout.split())
    assert "A flag wins over the environment." in text
    for action in serve_options():
        assert f"[env: {envconfig.variable(action)}]" in text


def test_an_unknown_variable_is_a_warning_naming_it() -> None:
    parser = serve_parser()
    environ = {"SORA_MOCK_PROT": "1", "SORA_MOCK_PORT": "1", "SORA_MOCK_CACHE_DIR": "/x"}
    assert envconfig.unknown(parser, environ) == ["SORA_MOCK_PROT"]


def test_a_served_process_configured_by_the_environment_stops_cleanly_on_sigterm() -> None:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "SORA_MOCK_PORT": str(port),
        "SORA_MOCK_WORKERS": "2",
        "SORA_MOCK_CLOCK": "virtual",
        "SORA_MOCK_QUIET": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "mockserver.cli", "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_served(url + "/__mock/health", process)
        health = httpx.get(url + "/__mock/health").json()
        assert (health["status"], health["clock"], health["store"]) == ("ok", "virtual", "sqlite")
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
        took = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
        out = process.stdout.read().decode(errors="replace") if process.stdout else ""
        if process.stdout:
            process.stdout.close()
    # granian kills a worker that outlives SIGTERM after 3 s: above 5 s, something hangs
    assert took < 5.0, f"SIGTERM took {took:.1f} s"
    assert "Traceback" not in out, out
