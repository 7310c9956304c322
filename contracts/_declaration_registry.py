"""The declared providers: the bundled contracts' declarations, read once, and those added
from a file (``sora-mock serve --provider FILE``); :class:`Mirrored`, a dict kept up to date
with them for the modules that index providers by name or prefix."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from contracts._declaration_reader import read
from contracts._declaration_types import KEY, Declaration
from contracts._loader import ContractError

#: called after the set of declared providers changes (each keeps its own view up to date)
_LISTENERS: list[Callable[[], None]] = []


@functools.cache
def declarations() -> tuple[Declaration, ...]:
    """Every declared provider: the bundled contracts' (a file without the block is skipped
    unread: its bytes are searched first), then those added with :func:`add_provider`."""
    from contracts._loader import CONTRACTS_DIR, EXTRA_PATHS, load

    found = []
    paths = sorted(CONTRACTS_DIR.glob("*.yaml")) + list(EXTRA_PATHS.values())
    for path in paths:
        if f"\n{KEY}:".encode() not in path.read_bytes():
            continue
        declaration = read(load(path.stem))
        if declaration is not None:
            found.append(declaration)
    return tuple(sorted(found, key=_listed))


def _listed(declaration: Declaration) -> tuple[bool, int]:
    """Providers with a ``list-order`` first, lowest first; the others keep the file order."""
    order = declaration.list_order
    return (order is None, order or 0)


def place(
    items: list[tuple[Any, Any]], item: tuple[Any, Any], at: int | None, orders: dict[Any, int]
) -> None:
    """Put a declared provider's entry in a list (the Python ones', then the declared ones' in
    ascending ``list-order``): at its ``list-order`` (None: last), but never before an entry of
    a lower ``list-order`` already placed (``orders``: key -> the ``list-order`` of each declared
    entry placed, this one's added). One provider added at 0 goes first; with two bundled at 0
    and 1, the one at 1 stays after the one at 0 wherever the added one went."""
    if at is None:
        items.append(item)
        return
    lower = [i for i, (key, _) in enumerate(items) if key in orders and orders[key] < at]
    items.insert(max(at, lower[-1] + 1) if lower else at, item)
    orders[item[0]] = at


def add_provider(path: str | Path) -> Declaration:
    """Serve (and drive) one more provider: a contract file with its declaration, anywhere
    (``sora-mock serve --provider FILE``). Checked now: a mistake is a ContractError naming
    the file, the place and the fix; a name or prefix already taken is refused."""
    from contracts._loader import CONTRACTS_DIR, EXTRA_PATHS, PROVIDER_CONTRACTS, forget, load_path

    path = Path(path).resolve()
    contract = load_path(path)
    declaration = read(contract)
    if declaration is None:
        raise ContractError(path, f"/{KEY}", f"no `{KEY}` block: a provider file declares one")
    name = contract.name
    if (CONTRACTS_DIR / f"{name}.yaml").is_file() or EXTRA_PATHS.get(name, path) != path:
        raise ContractError(path, "", f"a contract named {name!r} exists already: rename the file")
    taken = {d.prefix for d in declarations() if d.contract != name}
    if declaration.prefix in taken or declaration.prefix in PROVIDER_CONTRACTS.values():
        raise ContractError(
            path, f"/{KEY}/prefix", f"{declaration.prefix!r} is taken: choose another prefix"
        )
    EXTRA_PATHS[name] = path
    forget(name)  # a name added again (after forget_provider) is this file's now
    _changed()
    return declaration


def forget_provider(name: str) -> None:
    """Stop serving an added provider (tests: a throwaway provider leaves nothing behind)."""
    from contracts._loader import EXTRA_PATHS, forget

    if EXTRA_PATHS.pop(name, None) is not None:
        forget(name)
        _changed()


def _changed() -> None:
    declarations.cache_clear()
    for listener in _LISTENERS:
        listener()


class Mirrored(dict[Any, Any]):
    """A dict of fixed entries plus every declared provider's (``entries(declaration)``),
    filled in when first read (declarations are read from the contracts: importing a module
    that holds one must not read them) and again after a provider is added or forgotten."""

    def __init__(
        self, fixed: Mapping[Any, Any], entries: Callable[[Declaration], Iterable[tuple[Any, Any]]]
    ) -> None:
        super().__init__(fixed)
        self._fixed = dict(fixed)
        self._entries = entries
        self._fresh = False
        _LISTENERS.append(self._stale)

    def _stale(self) -> None:
        self._fresh = False

    def _fill(self) -> None:
        if self._fresh:
            return
        self._fresh = True
        items: list[tuple[Any, Any]] = list(self._fixed.items())
        orders: dict[Any, int] = {}
        for declaration in declarations():  # at its `list-order` (a place in the list), else last
            for key, value in self._entries(declaration):
                if all(key != k for k, _ in items):
                    place(items, (key, value), declaration.list_order, orders)
        dict.clear(self)
        dict.update(self, items)

    def __getitem__(self, key: Any) -> Any:
        self._fill()
        return dict.__getitem__(self, key)

    def __contains__(self, key: object) -> bool:
        self._fill()
        return dict.__contains__(self, key)

    def __iter__(self) -> Iterator[Any]:
        self._fill()
        return dict.__iter__(self)

    def __len__(self) -> int:
        self._fill()
        return dict.__len__(self)

    def __repr__(self) -> str:
        self._fill()
        return dict.__repr__(self)

    def get(self, key: Any, default: Any = None) -> Any:
        self._fill()
        return dict.get(self, key, default)

    def keys(self) -> Any:
        self._fill()
        return dict.keys(self)

    def values(self) -> Any:
        self._fill()
        return dict.values(self)

    def items(self) -> Any:
        self._fill()
        return dict.items(self)
