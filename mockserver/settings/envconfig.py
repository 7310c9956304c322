"""``SORA_MOCK_*`` environment variables for every ``serve`` option (a container's usual way to
be configured): ``--port`` is ``SORA_MOCK_PORT``, ``--api-key`` is ``SORA_MOCK_API_KEY``.

The variables become the parser's defaults, so a flag on the command line wins over the
environment. Values are read as the flag's own value would be (the same type, the same
choices), a switch (``--strict``) takes 1/true/yes/on or 0/false/no/off, and a repeatable
option (``--api-key``) takes a comma-separated list. A value the flag would refuse is one line
naming the variable (`EnvironmentValueError`), not argparse's usage text.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PREFIX = "SORA_MOCK_"
TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off", ""})


class EnvironmentValueError(ValueError):
    """A ``SORA_MOCK_*`` variable holds a value its option refuses (one line)."""


#: repeatable options whose variable is named otherwise and holds paths, separated as
#: ``PATH`` is (``os.pathsep``): a path may hold a comma
PATH_LISTS = {"providers": "SORA_MOCK_PROVIDERS"}


def variable(action: argparse.Action) -> str | None:
    """The variable of an option: its first long flag, upper case, dashes as underscores."""
    if action.dest in PATH_LISTS:
        return PATH_LISTS[action.dest]
    for flag in action.option_strings:
        if flag.startswith("--") and flag != "--help":
            return PREFIX + flag[2:].upper().replace("-", "_")
    return None


def options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Every option of ``parser`` that has a variable, by variable name."""
    found = {}
    for action in parser._actions:
        name = variable(action)
        if name is not None:
            found[name] = action
    return found


@dataclass
class Applied:
    """The variables one `apply` read; `finish` drops them where a repeatable flag was given."""

    lists: dict[str, list[str]] = field(default_factory=dict)

    def finish(self, args: argparse.Namespace) -> argparse.Namespace:
        # argparse appends a repeated flag's values to its default: the environment's list is
        # the default, so a flag given on the command line shows as a new, longer list
        for dest, from_env in self.lists.items():
            value = getattr(args, dest)
            if value is not from_env:
                setattr(args, dest, value[len(from_env) :])
        return args


def apply(
    parser: argparse.ArgumentParser, environ: Mapping[str, str], *, annotate: bool = True
) -> Applied:
    """Make every ``SORA_MOCK_*`` variable set in ``environ`` the default of its option (and,
    with ``annotate``, name each option's variable in its help). Raises
    `EnvironmentValueError` for a value the option refuses."""
    applied = Applied()
    defaults: dict[str, Any] = {}
    for name, action in options(parser).items():
        if annotate and action.help not in (None, argparse.SUPPRESS):
            action.help = f"{action.help} [env: {name}]"
        if name not in environ:
            continue
        value = _convert(name, action, environ[name])
        if isinstance(action, argparse._AppendAction):
            applied.lists[action.dest] = value
        defaults[action.dest] = value
    parser.set_defaults(**defaults)
    return applied


def _convert(name: str, action: argparse.Action, text: str) -> Any:
    flag = action.option_strings[-1] if action.option_strings else action.dest
    if isinstance(action, argparse._StoreTrueAction | argparse._StoreFalseAction):
        word = text.strip().lower()
        if word not in TRUE | FALSE:
            raise EnvironmentValueError(
                f"{name}={text!r}: expected 1/true/yes/on or 0/false/no/off (for {flag})"
            )
        on = word in TRUE
        # --no-retry-after=on stores False, as the flag does
        return on if isinstance(action, argparse._StoreTrueAction) else not on
    if isinstance(action, argparse._AppendAction):
        separator = os.pathsep if action.dest in PATH_LISTS else ","
        items = text.split(separator)
        return [_one(name, flag, action, item.strip()) for item in items if item.strip()]
    if type(action) is not argparse._StoreAction:
        raise EnvironmentValueError(f"{name}: {flag} cannot be set from the environment")
    return _one(name, flag, action, text.strip())


def _one(name: str, flag: str, action: argparse.Action, text: str) -> Any:
    convert = action.type
    try:
        value = convert(text) if callable(convert) else text
    except argparse.ArgumentTypeError as exc:
        raise EnvironmentValueError(f"{name}={text!r}: {exc} (for {flag})") from None
    except (TypeError, ValueError):
        kind = getattr(convert, "__name__", "value")
        kind = {"int": "a whole number", "float": "a number"}.get(kind, kind)
        raise EnvironmentValueError(f"{name}={text!r}: not {kind} (for {flag})") from None
    if action.choices is not None and value not in action.choices:
        listed = ", ".join(map(str, action.choices))
        raise EnvironmentValueError(f"{name}={text!r}: not one of {listed} (for {flag})")
    return value


def unknown(parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> list[str]:
    """``SORA_MOCK_*`` variables no option of ``parser`` reads (a typo: SORA_MOCK_PROT)."""
    known = set(options(parser)) | OTHER_VARIABLES
    return sorted(n for n in environ if n.startswith(PREFIX) and n not in known)


#: variables of the project read elsewhere, not serve options
OTHER_VARIABLES = frozenset({"SORA_MOCK_CONFIG", "SORA_MOCK_CACHE_DIR"})
