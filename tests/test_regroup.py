"""tools/regroup.py (issue 26): mockserver/ grouped by concern from one module map. The tree
is regrouped (a dry run finds nothing to do, so a branch that adds an old import is told to
re-run it), and each rewrite does what it says, once: a second pass changes nothing."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("regroup", ROOT / "tools" / "regroup.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("regroup", module)
    spec.loader.exec_module(module)
    return module


regroup = _load()


def test_the_tree_is_regrouped_and_a_run_would_change_nothing() -> None:
    assert regroup.run(dry_run=True, leave_unknown=False, quiet=True) == 0
    assert regroup.references() == []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param(
            "from mockserver import exchange, media, remote, sample\n",
            "from mockserver.http import exchange\nfrom mockserver import media, sample\n"
            "from mockserver.media import remote\n",
            id="split-per-new-package",
        ),
        pytest.param(
            "def f():\n    from mockserver import store as s, dialects  # why\n",
            "def f():\n    from mockserver.state import store as s\n"
            "    from mockserver import providers as dialects  # why\n",
            id="nested-aliased-renamed",
        ),
        pytest.param(
            'x = importlib.import_module(f"mockserver.dialects.{m}")\n'
            'monkeypatch.setattr("mockserver.store_sqlite.fsync", f)\n'
            "import mockserver.admin as admin_module\n",
            'x = importlib.import_module(f"mockserver.providers.{m}")\n'
            'monkeypatch.setattr("mockserver.state.store_sqlite.fsync", f)\n'
            "import mockserver.http.admin as admin_module\n",
            id="dotted-strings",
        ),
        pytest.param(
            'ROOT / "mockserver" / "dashboard" / "static"\n"mockserver/store.py": [\n',
            'ROOT / "mockserver" / "http" / "dashboard" / "static"\n'
            '"mockserver/state/store.py": [\n',
            id="paths",
        ),
        pytest.param(
            "from mockserver.media import cache\nfrom mockserver import media, testing\n"
            "mockserver.state.store mockserver/media/renders.py mockserver.store_x\n",
            "from mockserver.media import cache\nfrom mockserver import media, testing\n"
            "mockserver.state.store mockserver/media/renders.py mockserver.store_x\n",
            id="left-alone",
        ),
    ],
)
def test_a_python_file_is_rewritten_once(old: str, new: str) -> None:
    path = ROOT / "tests" / "example.py"
    assert regroup.rewrite_text(old, path) == new
    assert regroup.rewrite_text(new, path) == new


def test_markdown_paths_keep_their_escapes() -> None:
    old = "| mockserver/\\_help.py | mockserver/dialects/\\_\\_init\\_\\_.py | `mockserver._json` |"
    new = (
        "| mockserver/settings/\\_help.py | mockserver/providers/\\_\\_init\\_\\_.py "
        "| `mockserver.state._json` |"
    )
    assert regroup.rewrite_text(old, ROOT / "x.md") == new


def test_a_relative_import_is_read_from_where_the_file_was() -> None:
    path = ROOT / "mockserver" / "dialects" / "base.py"
    text = "from ..exchange import note\nfrom . import errors\n"
    assert regroup.rewrite_text(text, path) == (
        "from mockserver.http.exchange import note\nfrom mockserver.providers import errors\n"
    )


def test_the_dashboards_package_data_moves_with_it() -> None:
    text = 'mockserver = ["dashboard/static/*", "examples/cassettes/*.json"]\n'
    assert regroup.rewrite_text(text, ROOT / "pyproject.toml") == (
        'mockserver = ["http/dashboard/static/*", "examples/cassettes/*.json"]\n'
    )


def test_prose_pushed_past_the_limit_is_carried_to_the_next_line() -> None:
    text = (
        '"""A docstring whose first line is now far too long to fit\n'
        'and a second line."""\n'
        "x = 1  # a code line is ruff's to format, long or not, however long it is\n"
        "    # one comment line now too long for the limit\n"
        "y = 2\n"
    )
    assert regroup.rewrap(text, 40) == (
        '"""A docstring whose first line is now\n'
        "far too long to fit and a second\n"
        'line."""\n'
        "x = 1  # a code line is ruff's to format, long or not, however long it is\n"
        "    # one comment line now too long for\n"
        "    # the limit\n"
        "y = 2\n"
    )


def test_a_module_the_map_does_not_know_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("__init__.py", "cli.py", "store.py", "newthing.py"):
        (tmp_path / "mockserver" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "mockserver" / name).write_text("", encoding="utf-8")
    (tmp_path / "mockserver" / "dialects").mkdir()
    (tmp_path / "mockserver" / "dialects" / "__init__.py").write_text("", encoding="utf-8")
    monkeypatch.setattr(regroup, "ROOT", tmp_path)
    moves, unknown = regroup.top_level()
    base = tmp_path / "mockserver"
    assert moves == [
        (base / "dialects", base / "providers"),
        (base / "store.py", base / "state" / "store.py"),
    ]
    assert unknown == ["mockserver/newthing.py"]
