"""Where ``--help`` puts an option's default, and when it leaves it out: after the option's own
words and before its ``[env: NAME]`` mark, never twice, never for a flag, never for an empty
text, and a plain number shown as the number it is (only a duration reads as ``1h``)."""

from __future__ import annotations

import argparse

import pytest

from mockserver.settings._help import HelpFormatter, shown_default


def _help(monkeypatch: pytest.MonkeyPatch, *args: str, **kwargs: object) -> str:
    monkeypatch.setenv("COLUMNS", "200")  # one line per option
    parser = argparse.ArgumentParser(prog="x", formatter_class=HelpFormatter, add_help=False)
    parser.add_argument(*args, **kwargs)  # type: ignore[arg-type]
    return " ".join(parser.format_help().split())


def test_the_default_goes_before_the_env_mark(monkeypatch: pytest.MonkeyPatch) -> None:
    text = _help(monkeypatch, "--port", type=int, default=8000, help="port to listen on [env: P]")
    assert "port to listen on (default: 8000) [env: P]" in text


def test_only_the_last_env_mark_is_the_mark(monkeypatch: pytest.MonkeyPatch) -> None:
    text = _help(
        monkeypatch,
        "--fmt",
        default="a",
        help="a mark such as [env: NAME] names a variable [env: FMT]",
    )
    assert "such as [env: NAME] names a variable (default: a) [env: FMT]" in text


def test_help_ending_in_a_bracket_keeps_its_words(monkeypatch: pytest.MonkeyPatch) -> None:
    text = _help(monkeypatch, "--mode", default="a", help="one of [a, b]")
    assert "one of [a, b] (default: a)" in text
    assert "[env:" not in text


def test_help_that_states_its_default_gets_no_second_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = _help(monkeypatch, "--workers", type=int, default=4, help="Default: the cores")
    assert "Default: the cores" in text
    assert "(default: 4)" not in text


def test_an_empty_text_default_is_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    text = _help(monkeypatch, "--prefix", default="", help="text put first")
    assert text.endswith("--prefix PREFIX text put first")


@pytest.mark.parametrize(
    ("action", "extra"),
    [("count", {}), ("store_const", {"const": 2}), ("append_const", {"const": 1})],
)
def test_a_flag_with_a_default_shows_none(
    monkeypatch: pytest.MonkeyPatch, action: str, extra: dict[str, object]
) -> None:
    text = _help(monkeypatch, "-v", action=action, default=0, help="louder", **extra)
    assert text.endswith("-v louder")


def test_a_plain_number_is_not_read_as_a_duration() -> None:
    action = argparse.ArgumentParser().add_argument("--n", type=int, default=3600)
    assert shown_default(action) == "3600"
