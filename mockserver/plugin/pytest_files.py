"""The pytest fixtures' ini options for a user's own files (a part of the ``mockserver.testing``
plugin, whose hooks call these two functions; not a plugin of its own: a plugin module the
plugin imports first could not be assertion-rewritten, and a user's ``filterwarnings = error``
would fail their run on pytest's warning): ``sora_mock_providers`` (provider files, one a line) and
``sora_mock_models`` (a models file), each relative to the ini file. Every fixture's app is
built with them (``mockserver.testing.test_config``), which loads them. Imports only pytest
and the standard library (the plugin's import stays light)."""

from __future__ import annotations

from typing import Any

import pytest

#: what the ini options name, read at configure time
FILES: dict[str, Any] = {"providers": (), "models_file": None}


def add_options(parser: pytest.Parser) -> None:
    parser.addini(
        "sora_mock_providers",
        "provider files (a contract with its x-sora-mock declaration) the sora-mock fixtures "
        "serve, one a line, relative to the ini file",
        type="linelist",
        default=[],
    )
    parser.addini(
        "sora_mock_models",
        "a models file the sora-mock fixtures (and so the clients in the tests) use, relative "
        "to the ini file (README.md, 'Models files')",
        default="",
    )


def read_options(config: pytest.Config) -> None:
    here = config.inipath.parent if config.inipath is not None else config.rootpath
    FILES["providers"] = tuple(str(here / p) for p in config.getini("sora_mock_providers"))
    models = config.getini("sora_mock_models")
    FILES["models_file"] = str(here / models) if models else None
