"""The house's shape, read from the source with ``ast``: no import circle between the modules
of ``contracts/``, ``mockserver/`` and ``sora_client/`` (an import deferred into a function or
kept under ``TYPE_CHECKING`` counts: it is the same circle, dodged), and no module over 600
lines (ARCHITECTURE.md, "Where a new thing goes")."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("contracts", "mockserver", "sora_client")
MAX_LINES = 600
#: modules allowed over MAX_LINES for now, each with who splits it
OVERSIZED: dict[str, str] = {}


def modules(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """Dotted module name -> file, packages as their ``__init__.py``."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    source = node.module or ""
    if node.level:
        base = module if is_package else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        source = f"{base}.{source}" if source else base
    # ``from pkg import name``: the submodule pkg.name when there is one, else pkg itself
    return [f"{source}.{alias.name}" for alias in node.names] + [source]


def import_graph(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, dict[str, int]]:
    """module -> {module it imports: line of the first such import}, every import in the
    file (module level, in functions, under ``if TYPE_CHECKING``), own packages only."""
    found = modules(root, packages)
    graph: dict[str, dict[str, int]] = {name: {} for name in found}
    for name, path in found.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            names = _imported(node, name, is_package)
            if isinstance(node, ast.ImportFrom):  # the submodules named, or else the source
                names = [n for n in names[:-1] if n in found] or names[-1:]
            for target in names:
                while target and target not in found:  # pkg.mod.attr -> pkg.mod
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].setdefault(target, node.lineno)
    return graph


def circles(graph: Mapping[str, Mapping[str, int]]) -> list[list[str]]:
    """The graph's strongly connected components of more than one module (Tarjan's, by
    iteration), each sorted, in order of their first module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return sorted(found)


def describe(component: list[str], graph: Mapping[str, Mapping[str, int]]) -> str:
    members = set(component)
    edges = [
        f"  {module}:{line} imports {target}"
        for module in component
        for target, line in sorted(graph[module].items())
        if target in members
    ]
    return " <-> ".join(component) + "\n" + "\n".join(edges)


def test_no_module_of_the_three_packages_is_in_an_import_circle() -> None:
    graph = import_graph(ROOT)
    assert "mockserver.http.app" in graph and graph["mockserver.http.app"]  # the graph was read
    found = circles(graph)
    assert not found, "import circles:\n" + "\n".join(describe(c, graph) for c in found)


def _write(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(
            {"a/x.py": "from a.y import f\n", "a/y.py": "def f():\n    from a import x\n"},
            [["a.x", "a.y"]],
            id="deferred-into-a-function",
        ),
        pytest.param(
            {
                "a/x.py": "import typing\nif typing.TYPE_CHECKING:\n    from .y import T\n",
                "a/y.py": "import a.z\n",
                "a/z.py": "from . import x\n",
            },
            [["a.x", "a.y", "a.z"]],
            id="type-checking-and-relative-three-long",
        ),
        pytest.param(
            {"a/x.py": "from a.y import f\n", "a/y.py": "import os\nfrom a import w\n"},
            [],
            id="a-chain-is-no-circle",
        ),
    ],
)
def test_a_circle_is_found_however_its_imports_are_written(
    tmp_path: Path, files: dict[str, str], expected: list[list[str]]
) -> None:
    _write(tmp_path, {"a/__init__.py": "", "a/w.py": "", **files})
    assert circles(import_graph(tmp_path, ["a"])) == expected


def test_a_circle_is_reported_with_the_line_of_each_import(tmp_path: Path) -> None:
    _write(tmp_path, {"a/__init__.py": "", "a/x.py": "\n\nimport a.y\n", "a/y.py": "import a.x\n"})
    graph = import_graph(tmp_path, ["a"])
    assert describe(circles(graph)[0], graph) == (
        "a.x <-> a.y\n  a.x:3 imports a.y\n  a.y:1 imports a.x"
    )


def oversized(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, int]:
    """Module path -> its line count, for every module of the packages over MAX_LINES."""
    found = {}
    for path in modules(root, packages).values():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            found[path.relative_to(root).as_posix()] = lines
    return found


def test_a_module_is_oversized_from_its_601st_line(tmp_path: Path) -> None:
    _write(
        tmp_path, {"a/__init__.py": "", "a/fits.py": "x = 1\n" * 600, "a/big.py": "x = 1\n" * 601}
    )
    assert oversized(tmp_path, ["a"]) == {"a/big.py": 601}


def test_no_module_is_over_600_lines_but_the_listed_ones() -> None:
    found = oversized(ROOT)
    unlisted = {path: lines for path, lines in found.items() if path not in OVERSIZED}
    assert not unlisted, f"modules over {MAX_LINES} lines (split each by concept): {unlisted}"


def test_every_listed_exemption_still_exists() -> None:
    """An exemption outlives its module's split only by mistake: remove it then."""
    missing = [path for path in OVERSIZED if not (ROOT / path).is_file()]
    assert not missing, f"exempted modules that no longer exist: {missing}"
