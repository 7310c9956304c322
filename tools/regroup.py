"""Group ``mockserver/``'s flat modules into subpackages by concern (issue 26), as
ARCHITECTURE.md's "Layers, and where a new thing goes" draws them, and rewrite every reference.

    python tools/regroup.py --dry-run    # print the plan (moves, files and lines to rewrite)
    python tools/regroup.py              # do it (git mv + rewrites), then ruff on what changed
    python tools/regroup.py --check      # exit 1 when anything is left to do (a test runs it)

Run from anywhere; it works on the repository it lives in. Standard library only (ruff, when
found beside the Python running this or on PATH, sorts and formats the Python files changed).

Re-runnable and idempotent: everything it does is derived from ``MOVES`` (module -> group)
and the tree as it is, never from a list of import lines, so it can be run again after other
branches land (a second run finds nothing to do). What it rewrites, in every tracked or
untracked-but-not-ignored text file but this one:

* ``from mockserver import a, b`` naming moved modules: split per new package (``ast``);
* relative imports inside ``mockserver/`` (none today): made absolute first, from where the
  file was, so moving it cannot change what they mean;
* every dotted path ``mockserver.<moved>`` (imports, ``importlib``/``monkeypatch``/
  ``mock.patch`` strings, entry points, mutmut's mutant names, docs);
* every file path ``mockserver/<moved>.py`` and ``mockserver/<moved package>/`` (mutate.py's
  ``MODULES``, docs tables, Makefile), and ``"mockserver" / "<moved>"`` path joins;
* pyproject's package data for a moved package (the dashboard's static files).

A module or package at the top of ``mockserver/`` that ``MOVES`` and ``KEEP`` do not name is
reported and nothing is changed (exit 2): add it to ``MOVES`` (or ``--leave-unknown`` to go on
and leave it where it is, its references still rewritten). No compatibility shim is left: an
old module path stops being importable.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
import tokenize
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "mockserver"

#: kept at the top of mockserver/: the entry points (the console script, the pytest plugin
#: users import, ``verify``'s old home, the built-in image the README's examples import)
KEEP = {"__init__", "cli", "testing", "verify", "sample"}
#: packages kept where they are: media/ and conformance/ are groups already; examples/ holds
#: the how-to tests (tests/examples/ runs them), not a part of the server
KEEP_PACKAGES = {"media", "conformance", "examples"}
#: flat module (or package) -> the group it goes to. Choices the Layers block does not make:
#: webhook_sending (with webhooks: http/), store_webhooks (a store part: state/), the store's
#: parts and stores.py (state/), pytest_files and pytest_routing (plugin/), the dashboard
#: package (http/: it is served at /__mock/ beside the admin API)
GROUPS: dict[str, tuple[str, ...]] = {
    "http": (
        "app", "_routing", "guard", "binding", "lane", "exchange", "requests_log",
        "responses", "admin", "console", "hints", "hosts", "serving", "healthcheck",
        "webhooks", "webhook_sending", "dashboard",
    ),
    "state": (
        "service", "lifecycle", "clock", "faults", "journal", "metrics", "_json", "stores",
        "store", "store_guard", "store_interface", "store_journal", "store_memory",
        "store_redis", "store_sqlite", "store_webhooks", "store_writers",
    ),
    "media": ("media_store", "remote", "renders"),
    "settings": ("config", "envconfig", "_help"),
    "plugin": ("pytest_record", "pytest_files", "pytest_routing", "mock_error"),
}  # fmt: skip
#: packages renamed in place (old name -> new dotted name under mockserver)
RENAMED = {"dialects": "providers"}
#: packages moved whole (their package data moves with them)
MOVED_PACKAGES = {"dashboard", *RENAMED}
GROUP_DOCS = {
    "http": "The HTTP edge: the Flask app, the pipeline every request goes through, the poll\n"
    "lane, the admin API and dashboard, the console; webhooks out (ARCHITECTURE.md, Layers).",
    "state": "What a client can observe, kept in the store: the service, the lifecycle, the\n"
    "clock, faults, the journal, metrics; the stores (ARCHITECTURE.md, Layers).",
    "settings": "Serve options: MockConfig, the SORA_MOCK_* variables, --help in one style\n"
    "(ARCHITECTURE.md, Layers).",
    "plugin": "The pytest plugin's parts (``mockserver.testing`` is its entry point): cassettes\n"
    "per test, files, routing of a provider's host, the mock's error (ARCHITECTURE.md, Layers).",
}
#: text files rewritten: by suffix, or by name
SUFFIXES = {".py", ".md", ".toml", ".cfg", ".ini", ".txt", ".yaml", ".yml", ".json", ".sh"}
NAMES = {"Makefile", "Containerfile", "Dockerfile", "run", "setup-step", "debian-base"}
SELF = {"tools/regroup.py", "tests/test_regroup.py"}


def module_map() -> dict[str, str]:
    """Old top-level name under mockserver -> its new dotted path under mockserver."""
    found = {name: f"{group}.{name}" for group, names in GROUPS.items() for name in names}
    found.update(RENAMED)
    return found


MAP = module_map()


def _name_pattern(name: str) -> str:
    """The name as a regex, an underscore also matched escaped (Markdown: ``\\_help``)."""
    return "".join(r"\\?_" if c == "_" else re.escape(c) for c in name)


_ALT = "|".join(sorted((_name_pattern(n) for n in MAP), key=len, reverse=True))
#: mockserver.<name> as a dotted path, not a longer name's prefix
DOTTED = re.compile(rf"(?<![\w.]){PACKAGE}\.({_ALT})(?!\w)")
#: mockserver/<name>.py or mockserver/<package>(/ or end of word)
SLASHED = re.compile(rf"(?<![\w.\-]){PACKAGE}/({_ALT})(?=\.py\b|/|(?![\w.]))")
#: "mockserver" / "name" or "mockserver" / "name.py" (pathlib joins)
JOINED = re.compile(rf"""(["']){PACKAGE}\1(\s*/\s*)(["'])({_ALT})(\.py)?\3""")


def _plain(matched: str) -> str:
    return matched.replace("\\_", "_")


def _new_path(matched: str, sep: str) -> str:
    """The new path of an old name as matched (escapes kept), joined with ``sep``."""
    new = MAP[_plain(matched)]
    head, _, last = new.rpartition(".")
    if _plain(matched) in RENAMED:
        return new.replace(".", sep)
    return f"{head}{sep}{matched}" if head else matched


# --- the tree --------------------------------------------------------------------------


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout


def tracked(path: Path) -> bool:
    rel = path.relative_to(ROOT).as_posix()
    return bool(git("ls-files", "--", rel).strip())


def top_level() -> tuple[list[tuple[Path, Path]], list[str]]:
    """(the moves to make: old path -> new path, the unknown modules and packages)."""
    base = ROOT / PACKAGE
    moves: list[tuple[Path, Path]] = []
    unknown: list[str] = []
    for path in sorted(base.iterdir()):
        if path.name.startswith(".") or path.name == "__pycache__":
            continue
        if path.is_dir():
            name = path.name
            known = KEEP_PACKAGES | set(GROUPS) | set(RENAMED.values())
            if not (path / "__init__.py").exists() or name in known:
                continue
            if name in RENAMED and (base / RENAMED[name]).exists():
                # a half-done rename (or a new file on an old branch): move its files one by one
                for child in sorted(path.rglob("*")):
                    if child.is_file() and "__pycache__" not in child.parts:
                        moves.append((child, base / RENAMED[name] / child.relative_to(path)))
                continue
        elif path.suffix == ".py":
            name = path.stem
            if name in KEEP:
                continue
        else:
            continue
        if name not in MAP:
            unknown.append(path.relative_to(ROOT).as_posix())
            continue
        moves.append((path, base.joinpath(*MAP[name].split(".")).with_suffix(path.suffix)))
    return moves, unknown


def text_files() -> list[Path]:
    listed = git("ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    found = []
    for rel in sorted(set(listed)):
        if not rel or rel in SELF:
            continue
        path = ROOT / rel
        if path.is_file() and (path.suffix in SUFFIXES or path.name in NAMES):
            found.append(path)
    return found


# --- rewriting -------------------------------------------------------------------------


def _offsets(text: str) -> list[int]:
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    return starts


def _span(text: str, starts: list[int], node: ast.stmt) -> tuple[int, int]:
    """Character offsets of a statement (ast's columns count UTF-8 bytes)."""

    def at(line: int, col: int) -> int:
        row = text[starts[line - 1] : starts[line] if line < len(starts) else len(text)]
        return starts[line - 1] + len(row.encode("utf-8")[:col].decode("utf-8"))

    assert node.end_lineno is not None and node.end_col_offset is not None
    return at(node.lineno, node.col_offset), at(node.end_lineno, node.end_col_offset)


def _module_of(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def _alias(alias: ast.alias) -> str:
    return f"{alias.name} as {alias.asname}" if alias.asname else alias.name


def _replace_nodes(text: str, edits: list[tuple[ast.stmt, str]]) -> str:
    starts = _offsets(text)
    for node, new in sorted(edits, key=lambda e: (e[0].lineno, e[0].col_offset), reverse=True):
        begin, end = _span(text, starts, node)
        text = text[:begin] + new + text[end:]
    return text


def absolute_imports(text: str, path: Path) -> str:
    """Relative imports in a module of mockserver/ made absolute, from where the file is."""
    if not path.relative_to(ROOT).as_posix().startswith(f"{PACKAGE}/") or "from ." not in text:
        return text
    module, is_package = _module_of(path)
    edits = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = module if is_package else module.rpartition(".")[0]
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            source = f"{base}.{node.module}" if node.module else base
            names = ", ".join(_alias(a) for a in node.names)
            edits.append((node, f"from {source} import {names}"))
    return _replace_nodes(text, edits)


def split_package_imports(text: str) -> str:
    """``from mockserver import a, b`` naming moved modules: one import per new package."""
    if f"from {PACKAGE} import" not in text:
        return text
    edits = []
    for node in ast.walk(ast.parse(text)):
        if not (isinstance(node, ast.ImportFrom) and node.module == PACKAGE and not node.level):
            continue
        if not any(a.name in MAP for a in node.names):
            continue
        by_source: dict[str, list[str]] = {}
        for alias in node.names:
            new = MAP.get(alias.name)
            if new is None:
                source, name = PACKAGE, _alias(alias)
            else:
                head, _, last = new.rpartition(".")
                source = f"{PACKAGE}.{head}" if head else PACKAGE
                # a renamed package keeps the name the module used for it
                bound = alias.asname or alias.name
                name = last if bound == last else f"{last} as {bound}"
            by_source.setdefault(source, []).append(name)
        starts = _offsets(text)
        begin, _ = _span(text, starts, node)
        line_start = starts[node.lineno - 1]
        indent = text[line_start:begin]
        indent = indent if not indent.strip() else ""
        lines = [f"from {s} import {', '.join(names)}" for s, names in by_source.items()]
        edits.append((node, ("\n" + indent).join(lines)))
    return _replace_nodes(text, edits)


def rewrite_text(text: str, path: Path) -> str:
    if path.suffix == ".py":
        try:
            text = split_package_imports(absolute_imports(text, path))
        except SyntaxError:
            print(f"  not Python (left to the regexes): {path.relative_to(ROOT)}")
    text = DOTTED.sub(lambda m: f"{PACKAGE}.{_new_path(m.group(1), '.')}", text)
    text = SLASHED.sub(lambda m: f"{PACKAGE}/{_new_path(m.group(1), '/')}", text)

    def joined(m: re.Match[str]) -> str:
        quote, sep, inner, name, suffix = m.groups()
        parts = _new_path(name, "\0").split("\0")
        return (
            f"{quote}{PACKAGE}{quote}"
            + "".join(f"{sep}{inner}{part}{inner}" for part in parts[:-1])
            + f"{sep}{inner}{parts[-1]}{suffix or ''}{inner}"
        )

    text = JOINED.sub(joined, text)
    if path.name == "pyproject.toml":
        text = package_data(text)
    return text


def package_data(text: str) -> str:
    """Package data of mockserver named under a moved package (the dashboard's static files)."""
    alt = "|".join(re.escape(n) for n in sorted(MOVED_PACKAGES))
    block = re.search(rf"^{PACKAGE} = \[.*?\]$", text, re.M | re.S)
    if not block:
        return text
    new = re.sub(
        rf"""(["'])({alt})/""",
        lambda m: f"{m.group(1)}{_new_path(m.group(2), '/')}/",
        block.group(0),
    )
    return text[: block.start()] + new + text[block.end() :]


# --- lines made too long ------------------------------------------------------------


def line_length() -> int:
    import tomllib

    try:
        config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
        return int(config["tool"]["ruff"]["line-length"])
    except (OSError, KeyError, ValueError):
        return 100


def _prose_spans(text: str) -> tuple[set[int], dict[int, int]]:
    """(lines inside a triple-quoted string, comment-only lines -> the comment's column)."""
    strings: set[int] = set()
    comments: dict[int, int] = {}
    lines = text.splitlines()
    for tok in tokenize.generate_tokens(iter(text.splitlines(keepends=True)).__next__):
        if tok.type == tokenize.STRING and tok.string.lstrip("rbuRBUfF")[:3] in ('"""', "'''"):
            strings.update(range(tok.start[0], tok.end[0] + 1))
        elif tok.type == tokenize.COMMENT and not lines[tok.start[0] - 1][: tok.start[1]].strip():
            comments[tok.start[0]] = tok.start[1]
    return strings, comments


_WORD_START = re.compile(r"[\w`(\"'\[:]")


def rewrap(text: str, limit: int) -> str:
    """Prose lines (docstrings, comment-only lines) over ``limit`` after the rewrite: the last
    words carried to the next line of the same paragraph, or to a line of their own."""
    lines = text.split("\n")
    if all(len(line) <= limit for line in lines):
        return text
    strings, comments = _prose_spans(text)
    i = 0
    while i < len(lines):
        line, number = lines[i], i + 1
        if len(line) <= limit or (number not in strings and number not in comments):
            i += 1
            continue
        cut = line.rfind(" ", 0, limit + 1)
        head_end = len(line) - len(line.lstrip())
        if number in comments:
            head_end = comments[number] + 2
        if cut <= head_end:
            i += 1
            continue
        head, rest = line[:cut].rstrip(), line[cut + 1 :]
        if number in comments:
            prefix = line[: comments[number]] + "# "
        elif i + 1 < len(lines) and number + 1 in strings and lines[i + 1].strip():
            nxt = lines[i + 1]
            prefix = nxt[: len(nxt) - len(nxt.lstrip())]
        else:
            prefix = line[: len(line) - len(line.lstrip())]
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        same_block = (
            nxt is not None
            and nxt.startswith(prefix)
            and (
                (number in comments and number + 1 in comments)
                or (
                    number in strings
                    and number + 1 in strings
                    and not nxt.strip().startswith('"""')
                )
            )
        )
        body = nxt[len(prefix) :] if same_block and nxt is not None else ""
        if same_block and body and not body[0].isspace() and _WORD_START.match(body):
            lines[i + 1] = prefix + rest + " " + body
        else:
            lines.insert(i + 1, prefix + rest)
            strings = {n + 1 if n > number else n for n in strings}
            comments = {(n + 1 if n > number else n): c for n, c in comments.items()}
        lines[i] = head
        i += 1
    return "\n".join(lines)


def long_lines(paths: Iterable[Path], limit: int) -> list[str]:
    found = []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if len(line) > limit:
                found.append(f"{path.relative_to(ROOT)}:{number}: {len(line)} > {limit}")
    return found


# --- doing it --------------------------------------------------------------------------


def find_ruff() -> str | None:
    beside = Path(sys.executable).parent / "ruff"
    return str(beside) if beside.exists() else shutil.which("ruff")


def run(dry_run: bool, leave_unknown: bool, quiet: bool = False) -> int:
    """The number of things done (or, with dry_run, to do); -1 for unknown modules."""
    say = (lambda *a: None) if quiet else print
    moves, unknown = top_level()
    if unknown:
        say("modules the map does not know (add them to GROUPS in tools/regroup.py):")
        for name in unknown:
            say(f"  {name}")
        if not leave_unknown:
            say("nothing changed")
            return -1
        say("left where they are (--leave-unknown); their references are rewritten")
    # relative imports are read from where a file is now, before it moves
    rewrites: dict[Path, str] = {}
    for path in text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        new = rewrite_text(text, path)
        if new != text:
            rewrites[path] = new
    groups = sorted({new.relative_to(ROOT / PACKAGE).parts[0] for _, new in moves})
    inits = [
        ROOT / PACKAGE / g / "__init__.py"
        for g in groups
        if not (ROOT / PACKAGE / g / "__init__.py").exists() and g in GROUP_DOCS
    ]
    for old, new in moves:
        say(f"move    {old.relative_to(ROOT)} -> {new.relative_to(ROOT)}")
    for path in inits:
        say(f"create  {path.relative_to(ROOT)}")
    for path, new in rewrites.items():
        old_lines = path.read_text(encoding="utf-8").splitlines()
        changed = len(set(new.splitlines()) - set(old_lines))
        say(f"rewrite {path.relative_to(ROOT)} ({changed} lines)")
    total = len(moves) + len(inits) + len(rewrites)
    if dry_run:
        say("nothing to do" if not total else f"{total} changes planned (--dry-run)")
        return total
    for path, new in rewrites.items():
        path.write_text(new, encoding="utf-8")
    moved_py = []
    for old, new in moves:
        new.parent.mkdir(parents=True, exist_ok=True)
        if tracked(old):
            git("mv", old.relative_to(ROOT).as_posix(), new.relative_to(ROOT).as_posix())
        else:
            old.rename(new)
        moved_py.extend(new.rglob("*.py") if new.is_dir() else [new])
    for path in inits:
        path.write_text(f'"""{GROUP_DOCS[path.parent.name]}"""\n', encoding="utf-8")
        git("add", path.relative_to(ROOT).as_posix())
    for old, _ in moves:  # a package renamed file by file leaves its folder behind
        parent = old.parent
        while parent != ROOT / PACKAGE and parent.exists():
            leftovers = [p for p in parent.rglob("*") if "__pycache__" not in p.parts]
            if any(p.is_file() for p in leftovers):
                break
            shutil.rmtree(parent)
            parent = parent.parent
    py = [p for p in [*rewrites, *moved_py] if p.suffix == ".py" and p.exists()]
    py = sorted(set(py))
    ruff = find_ruff()
    if py and ruff:
        names = [p.relative_to(ROOT).as_posix() for p in py]
        subprocess.run([ruff, "check", "--select", "I", "--fix", "-q", *names], cwd=ROOT)
        subprocess.run([ruff, "format", "-q", *names], cwd=ROOT)
    elif py:
        say("ruff not found: sort the imports and format the changed files yourself")
    limit = line_length()
    for path in py:
        text = path.read_text(encoding="utf-8")
        new = rewrap(text, limit)
        if new != text:
            path.write_text(new, encoding="utf-8")
    if py and ruff:  # what ruff still finds too long (a line that was long before is not ours)
        names = [p.relative_to(ROOT).as_posix() for p in py]
        found = subprocess.run(
            [ruff, "check", "--select", "E501", "--output-format", "concise", "-q", *names],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.splitlines()
    else:
        found = long_lines(py, limit)
    for where in found:
        say(f"too long, to wrap by hand: {where}")
    leftover = references()
    for where in leftover:
        say(f"left: {where}")
    say(f"done: {len(moves)} moved, {len(inits)} created, {len(rewrites)} files rewritten")
    return total


def references(files: Iterable[Path] | None = None) -> list[str]:
    """Old paths still named anywhere (should be none after a run)."""
    found = []
    for path in files if files is not None else text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for pattern in (DOTTED, SLASHED, JOINED):
            for m in pattern.finditer(text):
                line = text.count("\n", 0, m.start()) + 1
                found.append(f"{path.relative_to(ROOT)}:{line}: {m.group(0)}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    parser.add_argument(
        "--check", action="store_true", help="like --dry-run; exit 1 when anything is to do"
    )
    parser.add_argument(
        "--leave-unknown", action="store_true", help="go on past modules the map does not know"
    )
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    done = run(args.dry_run or args.check, args.leave_unknown)
    if done < 0:
        return 2
    return 1 if args.check and done else 0


if __name__ == "__main__":
    sys.exit(main())
