"""``--help`` agrees with itself, in one house style (pytest's): options under headings, every
option explained, a default shown only where it says something and as a user would type it
(``24h``, ``256M``), never ``(default: None)`` next to words that say otherwise."""

from __future__ import annotations

import argparse
import re

import pytest

from mockserver import cli
from mockserver.settings._help import HelpFormatter, human_duration, human_size, shown_default

COMMANDS = ["serve", "sample-image", "verify", "proxy", "cassettes report"]
MEANINGLESS = re.compile(r"\(default: (None|False|True|\[\]|)\)")


def _subparsers(monkeypatch: pytest.MonkeyPatch) -> dict[str, argparse.ArgumentParser]:
    monkeypatch.setenv("COLUMNS", "100")
    parser = argparse.ArgumentParser(prog="sora-mock")
    sub = parser.add_subparsers(dest="command")
    cli._serve_parser(sub)
    cli._sample_image_parser(sub)
    from mockserver import verify
    from mockserver.conformance import commands

    verify.add_parser(sub)
    commands.add_proxy_parser(sub)
    cassettes = commands.add_cassettes_parser(sub)
    found = dict(sub.choices)
    found["cassettes report"] = cassettes._subparsers._group_actions[0].choices["report"]  # type: ignore[union-attr]
    return found


@pytest.mark.parametrize(
    "command", ["serve", "sample-image", "verify", "proxy", "cassettes report"]
)
def test_no_help_shows_a_default_that_says_nothing(
    monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    text = _subparsers(monkeypatch)[command].format_help()
    assert not MEANINGLESS.findall(" ".join(text.split())), text


@pytest.mark.parametrize(
    "command", ["serve", "sample-image", "verify", "proxy", "cassettes report"]
)
def test_every_option_is_explained(monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    parser = _subparsers(monkeypatch)[command]
    bare = [a.option_strings for a in parser._actions if a.option_strings and not a.help]
    assert bare == []


def test_serve_groups_its_options_under_headings(monkeypatch: pytest.MonkeyPatch) -> None:
    parser = _subparsers(monkeypatch)["serve"]
    assert parser.formatter_class is HelpFormatter
    loose = [
        a.option_strings
        for a in parser._option_string_actions.values()
        if a in parser._optionals._group_actions and a.option_strings != ["-h", "--help"]
    ]
    assert loose == [], "options outside any heading"
    headings = [g.title for g in parser._action_groups]
    assert {"where it listens", "faults and limits", "console"} <= set(headings)


def test_serve_shows_defaults_as_they_are_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    text = " ".join(_subparsers(monkeypatch)["serve"].format_help().split())
    assert "(default: 24h)" in text and "86400" not in text
    assert "(default: 256M)" in text and "268435456" not in text
    assert "(default: 3)" in text and "(default: 3.0)" not in text


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0, "0"), (1024, "1K"), (256 << 20, "256M"), (2 << 30, "2G"), (1000, "1000")],
)
def test_sizes(value: int, shown: str) -> None:
    assert human_size(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (86400.0, "24h"),
        (5400.0, "90m"),
        (3600.0, "1h"),
        (7 * 86400.0, "7d"),
        (45.0, "45"),
        (0.5, "0.5"),
    ],
)
def test_durations(value: float, shown: str) -> None:
    assert human_duration(value) == shown
    assert cli._duration(shown) == value  # what is shown reads back as the same value


def test_a_flag_and_an_unset_option_show_no_default() -> None:
    parser = argparse.ArgumentParser()
    flag = parser.add_argument("--x", action="store_true")
    off = parser.add_argument("--no-y", dest="y", action="store_false")
    unset = parser.add_argument("--z")
    many = parser.add_argument("--w", action="append", default=[])
    assert [shown_default(a) for a in (flag, off, unset, many)] == [None] * 4
