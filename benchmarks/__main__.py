"""``python -m benchmarks``: run every benchmark and print its table."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import benchmarks


def main() -> int:
    names = sorted(
        m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_")
    )
    wanted = sys.argv[1:] or names
    for name in wanted:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"\n## {name}\n")
        module.main([])
    return 0


if __name__ == "__main__":
    sys.exit(main())
