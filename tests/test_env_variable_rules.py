"""How a ``SORA_MOCK_*`` variable is found for an option and what a refused value says
(mockserver/settings/envconfig.py), on small parsers of its own: the first long flag names it,
``--help`` has none, every message names the variable, its value and the flag, and the help
names the variable only when asked to."""

from __future__ import annotations

import argparse
import functools

import pytest

from mockserver.settings import envconfig


def _parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog="x")  # with its own --help


def _refusal(parser: argparse.ArgumentParser, environ: dict[str, str]) -> str:
    with pytest.raises(envconfig.EnvironmentValueError) as caught:
        envconfig.apply(parser, environ)
    return str(caught.value)


def test_a_short_flag_first_still_names_the_long_one() -> None:
    parser = _parser()
    parser.add_argument("-p", "--listen-port", type=int, default=1)
    assert set(envconfig.options(parser)) == {"SORA_MOCK_LISTEN_PORT"}


def test_help_has_no_variable() -> None:
    parser = _parser()
    assert envconfig.options(parser) == {}
    assert envconfig.unknown(parser, {"SORA_MOCK_HELP": "1"}) == ["SORA_MOCK_HELP"]


def test_a_bad_item_of_a_list_names_the_variable_and_the_flag() -> None:
    parser = _parser()
    parser.add_argument("--port", action="append", type=int)
    assert _refusal(parser, {"SORA_MOCK_PORT": "1, two"}) == (
        "SORA_MOCK_PORT='two': not a whole number (for --port)"
    )


def test_an_option_the_environment_cannot_set_says_so() -> None:
    parser = _parser()
    parser.add_argument("-v", "--verbose", action="count", default=0)
    assert _refusal(parser, {"SORA_MOCK_VERBOSE": "2"}) == (
        "SORA_MOCK_VERBOSE: --verbose cannot be set from the environment"
    )


def test_a_refused_value_names_the_converter() -> None:
    def port_number(text: str) -> int:
        return int(text)

    parser = _parser()
    parser.add_argument("--port", type=port_number)
    assert _refusal(parser, {"SORA_MOCK_PORT": "x"}) == (
        "SORA_MOCK_PORT='x': not port_number (for --port)"
    )


def test_a_converter_without_a_name_is_called_a_value() -> None:
    parser = _parser()
    parser.add_argument("--mask", type=functools.partial(int, base=16))
    assert _refusal(parser, {"SORA_MOCK_MASK": "zz"}) == (
        "SORA_MOCK_MASK='zz': not value (for --mask)"
    )


def _helps(annotate: bool | None) -> dict[str, str | None]:
    parser = _parser()
    parser.add_argument("--port", type=int, help="where to listen")
    parser.add_argument("--quiet", action="store_true")  # no help
    parser.add_argument("--secret", help=argparse.SUPPRESS)
    if annotate is None:
        envconfig.apply(parser, {})
    else:
        envconfig.apply(parser, {}, annotate=annotate)
    return {a.dest: a.help for a in parser._actions if a.dest != "help"}


def test_help_names_each_variable_by_default() -> None:
    assert _helps(None) == {
        "port": "where to listen [env: SORA_MOCK_PORT]",
        "quiet": None,
        "secret": argparse.SUPPRESS,
    }


def test_help_is_left_alone_when_not_asked_to_name_variables() -> None:
    assert _helps(False) == {"port": "where to listen", "quiet": None, "secret": argparse.SUPPRESS}
