"""The README's stated defaults of ``sora-mock serve`` options are the ones ``serve --help``
prints and the server uses.

The README states a default next to an option in a few forms: "`--opt` (4)", "`--opt`,
default 3", "`--opt` (default `24h`, ...", "(`--opt`, 128 per worker)". Each value the README
gives is read the way the command line reads it (so `24h` and `86400.0` are the same
duration) and compared with the parser's default and with what ``--help`` prints.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from mockserver import cli

README = Path(__file__).resolve().parent.parent / "README.md"

#: a backticked serve option followed by the default the README states for it
_STATED = re.compile(
    r"`(--[a-z][a-z-]*)`\s*[(,]\s*(?:default\s+)?`?([0-9][0-9A-Za-z.]*|never)`?(?=[\s,;:)])"
)


def serve_parser(monkeypatch: pytest.MonkeyPatch) -> argparse.ArgumentParser:
    monkeypatch.setenv("COLUMNS", "1000")  # one option a line in --help, never wrapped
    parser = argparse.ArgumentParser(prog="sora-mock")
    sub = parser.add_subparsers(dest="command")
    cli._serve_parser(sub)
    serve: argparse.ArgumentParser = sub.choices["serve"]
    return serve


def stated_defaults(text: str) -> list[tuple[str, str]]:
    return _STATED.findall(" ".join(text.split()))


def help_defaults(help_text: str) -> dict[str, str]:
    """``--option ... (default: VALUE)`` per option of ``serve --help`` (an option's help may
    start on the line below its name)."""
    blocks: list[str] = []
    for line in help_text.splitlines():
        if re.match(r"\s{2}-", line):
            blocks.append(line)
        elif blocks and line.startswith("   "):
            blocks[-1] += " " + line.strip()
    found = {}
    for block in blocks:
        match = re.match(r"\s+(?:-\w, )?(--[a-z-]+)\b.*\(default: (.*)\)$", block.rstrip())
        if match:
            found[match.group(1)] = match.group(2)
    return found


def read_as_given(parser: argparse.ArgumentParser, option: str, value: str) -> object:
    dest = next(a.dest for a in parser._actions if option in a.option_strings)
    return getattr(parser.parse_args([option, value]), dest)


def test_the_readme_finds_the_defaults_it_states() -> None:
    """The pattern reads every form the README uses (else the test below checks nothing)."""
    sample = (
        "at most `--max-waiting-chats` (4) chat; (`--slow-seconds`, default 3), "
        "`--retention` (default `24h`, on the clock; (`--concurrency`, 128 per worker). "
        "`--speed`, `--fault-rate`: see; `--workers 1` for one"
    )
    assert stated_defaults(sample) == [
        ("--max-waiting-chats", "4"),
        ("--slow-seconds", "3"),
        ("--retention", "24h"),
        ("--concurrency", "128"),
    ]


def test_every_serve_default_the_readme_states_is_the_one_serve_help_prints(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parser = serve_parser(monkeypatch)
    printed = help_defaults(parser.format_help())
    options = {o for a in parser._actions for o in a.option_strings}
    stated = [(o, v) for o, v in stated_defaults(README.read_text()) if o in options]
    # the README states these, at the least; a reworded sentence must not drop out unseen
    assert {o for o, _ in stated} >= {
        "--max-waiting-chats",
        "--slow-seconds",
        "--retention",
        "--concurrency",
        "--media-redis-bytes",
    }
    wrong = []
    for option, value in stated:
        default = parser.get_default(
            next(a.dest for a in parser._actions if option in a.option_strings)
        )
        readme = read_as_given(parser, option, value)
        shown = read_as_given(parser, option, printed[option])
        if not (readme == default == shown):
            wrong.append(f"{option}: README {value}, --help {printed[option]}")
    assert wrong == []
