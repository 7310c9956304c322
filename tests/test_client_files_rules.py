"""How a client takes a user's own files (``sora_client._files``), rule by rule: which models
file is used (``models=`` over ``$SORA_CLIENT_MODELS``, an empty variable as none), a file's
mistake as a ConfigurationError in so many words, and the provider files of
``$SORA_CLIENT_PROVIDERS`` (split as PATH is, blanks and spaces around a name dropped).
In-process and fast: the module's own tests for mutation runs (tests/mutation/mutate.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import contracts
from contracts import _usermodels
from sora_client import ConfigurationError, _providers
from sora_client._files import (
    MODELS_ENV,
    PROVIDERS_ENV,
    use_models_file,
    use_provider_files,
)


def _readmes_models_file() -> str:
    """The models file README.md shows (a good one: ``tests/test_user_files.py`` serves it)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme[readme.index("#### Models files") :]
    return section[section.index("```yaml\n") + 8 : section.index("```\n", 8)]


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(MODELS_ENV, raising=False)
    monkeypatch.delenv(PROVIDERS_ENV, raising=False)
    yield
    contracts.use_models(None)


@pytest.fixture
def used(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What reaches ``contracts.use_models`` (a stand-in that records it)."""
    calls: list[Any] = []
    monkeypatch.setattr(contracts, "use_models", calls.append)
    return calls


def test_the_environment_names_the_variables() -> None:
    assert (MODELS_ENV, PROVIDERS_ENV) == ("SORA_CLIENT_MODELS", "SORA_CLIENT_PROVIDERS")


def test_a_file_given_is_used_whatever_the_environment_says(
    used: list[Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SORA_CLIENT_MODELS", "/from/the/environment.yaml")
    use_models_file(tmp_path / "given.yaml")
    use_models_file("relative.yaml")
    assert used == [str(tmp_path / "given.yaml"), "relative.yaml"]
    assert all(type(p) is str for p in used)  # a path-like is handed on as text


def test_without_one_the_environments_file_is_used(
    used: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SORA_CLIENT_MODELS", "/from/the/environment.yaml")
    use_models_file(None)
    assert used == ["/from/the/environment.yaml"]


@pytest.mark.parametrize("env", [None, ""])
def test_with_neither_the_models_in_use_stay_as_they_are(
    used: list[Any], monkeypatch: pytest.MonkeyPatch, env: str | None
) -> None:
    if env is not None:
        monkeypatch.setenv("SORA_CLIENT_MODELS", env)
    use_models_file(None)
    assert used == []


def test_a_good_file_is_then_the_models_file_in_use(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(_readmes_models_file())
    assert _usermodels.active() is None
    use_models_file(path)
    active = _usermodels.active()
    assert active is not None and active.path == path
    assert [m["id"] for m in active.models["openrouter"]] == ["acme/wan-2.5"]


def test_a_mistake_is_a_configuration_error_naming_the_file_the_place_and_the_fix(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "models.yaml"
    bad.write_text("openrouter: [{id: x, sizes: [wide], durations: [4]}]\n")
    with pytest.raises(ConfigurationError) as caught:
        use_models_file(bad)
    assert str(caught.value) == (
        f"models file {bad}: at /openrouter/0/sizes/0: 'wide' is not WIDTHxHEIGHT (e.g. 1280x720)"
    )
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert _usermodels.active() is None


def test_a_mistake_in_the_whole_file_is_at_the_root(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    with pytest.raises(ConfigurationError) as caught:
        use_models_file(missing)
    assert str(caught.value) == (
        f"models file {missing}: at /: cannot read the models file: No such file or directory"
    )


@pytest.fixture
def added(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What reaches ``sora_client.add_provider`` (a stand-in that records it)."""
    calls: list[Any] = []
    monkeypatch.setattr(_providers, "add_provider", calls.append)
    return calls


def test_no_provider_files_without_the_variable(added: list[Any]) -> None:
    use_provider_files()
    assert added == []


def test_each_provider_file_of_the_variable_is_added_in_order(
    added: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    names = ["/a b/one.yaml", "  two.yaml ", "", "   ", "/c,d/three.yaml"]
    monkeypatch.setenv("SORA_CLIENT_PROVIDERS", os.pathsep.join(names))
    use_provider_files()
    assert added == ["/a b/one.yaml", "two.yaml", "/c,d/three.yaml"]


def test_a_provider_files_mistake_is_the_clients_configuration_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SORA_CLIENT_PROVIDERS", str(tmp_path / "none.yaml"))
    with pytest.raises(ConfigurationError, match=r"^provider file .*none\.yaml: at /: cannot"):
        use_provider_files()
