"""``python -m benchmarks [NAME...] [--quick]``: run benchmarks and print their tables."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import benchmarks


def main() -> int:
    names = sorted(
        m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_")
    )
    flags = [a for a in sys.argv[1:] if a.startswith("-")]
    wanted = [a for a in sys.argv[1:] if not a.startswith("-")] or names
    for name in wanted:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"\n## {name}\n")
        module.main(flags if name == "bench_serving" else [])
    return 0


if __name__ == "__main__":
    sys.exit(main())
