"""The pytest fixtures' ini options for a user's files (``mockserver.plugin.pytest_files``), rule by
rule: the two options as pytest is told of them (name, help, type, default), and where each
read option's files are looked for (beside the ini file, else the root directory). In-process
and fast: the module's own tests for mutation runs (tests/mutation/mutate.py)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mockserver.plugin import pytest_files


def test_the_two_ini_options_are_declared_with_their_help_type_and_default() -> None:
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    parser = SimpleNamespace(addini=lambda *args, **kwargs: calls.append((args, kwargs)))
    pytest_files.add_options(parser)  # type: ignore[arg-type]
    assert calls == [
        (
            (
                "sora_mock_providers",
                "provider files (a contract with its x-sora-mock declaration) the sora-mock "
                "fixtures serve, one a line, relative to the ini file",
            ),
            {"type": "linelist", "default": []},
        ),
        (
            (
                "sora_mock_models",
                "a models file the sora-mock fixtures (and so the clients in the tests) use, "
                "relative to the ini file (README.md, 'Models files')",
            ),
            {"default": ""},
        ),
    ]


@pytest.fixture
def files(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setitem(pytest_files.FILES, "providers", ("untouched",))
    monkeypatch.setitem(pytest_files.FILES, "models_file", "untouched")
    return pytest_files.FILES


def _config(inipath: Path | None, root: Path, ini: dict[str, Any]) -> Any:
    return SimpleNamespace(inipath=inipath, rootpath=root, getini=ini.__getitem__)


def test_the_files_are_read_beside_the_ini_file(tmp_path: Path, files: dict[str, Any]) -> None:
    ini = {"sora_mock_providers": ["p/a.yaml", "b.yaml"], "sora_mock_models": "m/models.yaml"}
    pytest_files.read_options(_config(tmp_path / "ini" / "tox.ini", tmp_path / "root", ini))
    assert files == {
        "providers": (str(tmp_path / "ini/p/a.yaml"), str(tmp_path / "ini/b.yaml")),
        "models_file": str(tmp_path / "ini/m/models.yaml"),
    }
    assert isinstance(files["providers"], tuple)


def test_without_an_ini_file_they_are_read_in_the_root_directory(
    tmp_path: Path, files: dict[str, Any]
) -> None:
    ini = {"sora_mock_providers": ["a.yaml"], "sora_mock_models": "models.yaml"}
    pytest_files.read_options(_config(None, tmp_path / "root", ini))
    assert files == {
        "providers": (str(tmp_path / "root/a.yaml"),),
        "models_file": str(tmp_path / "root/models.yaml"),
    }


def test_absolute_paths_stay_as_they_are(tmp_path: Path, files: dict[str, Any]) -> None:
    ini = {"sora_mock_providers": ["/srv/a.yaml"], "sora_mock_models": "/srv/models.yaml"}
    pytest_files.read_options(_config(tmp_path / "pytest.ini", tmp_path, ini))
    assert files == {"providers": ("/srv/a.yaml",), "models_file": "/srv/models.yaml"}


def test_options_left_empty_name_no_files(tmp_path: Path, files: dict[str, Any]) -> None:
    ini = {"sora_mock_providers": [], "sora_mock_models": ""}
    pytest_files.read_options(_config(tmp_path / "pytest.ini", tmp_path, ini))
    assert files == {"providers": (), "models_file": None}
