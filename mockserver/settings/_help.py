"""``--help`` in one house style (pytest's): options grouped under headings, short metavars,
and after an option's help its default, as a user would type it, only where it says something.

No ``(default: None)``, ``(default: False)`` or ``(default: [])``: an option whose absence
means "off" or "none" says so in its help, or says nothing. A size is shown as ``256M``, a
duration as ``24h``, a whole float as ``3``: what the option reads back to the same value.
"""

from __future__ import annotations

import argparse
from typing import Any

#: a default the help already states in its own words (e.g. "default: the number of cores")
_STATED = "default"


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Each option's default after its help, when it has one worth saying; the description
    and epilog kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if _STATED in text.lower():
            return text
        shown = shown_default(action)
        if shown is None:
            return text
        # the default belongs to the words, before an `[env: NAME]` mark
        # (mockserver.settings.envconfig)
        words, mark, env = text.rpartition(" [env: ")
        if mark and env.endswith("]"):
            return f"{words} (default: {shown}) [env: {env}"
        return f"{text} (default: {shown})"


def shown_default(action: argparse.Action) -> str | None:
    """The default as a user would type it, or None when there is none worth showing."""
    value: Any = action.default
    if value is None or value is argparse.SUPPRESS or action.nargs == 0:
        return None  # unset, or a flag (store_true/false, help): its help says what it does
    if isinstance(value, bool) or value == [] or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    kind = getattr(action.type, "__name__", "")
    if kind == "_size" and isinstance(value, int):
        return human_size(value)
    if kind == "_duration" and isinstance(value, int | float):
        return human_duration(value)
    return str(value)


def human_size(count: int) -> str:
    """``268435456`` -> ``256M`` (the largest unit that divides it), ``0`` -> ``0``."""
    for unit, size in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if count and count % size == 0:
            return f"{count // size}{unit}"
    return str(count)


def human_duration(seconds: float) -> str:
    """``86400`` -> ``24h`` (hours up to a week, then days), ``5400`` -> ``90m``."""
    for unit, size in (("d", 86400 * 7), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            if unit == "d":
                return f"{int(seconds // 86400)}d"
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}"
