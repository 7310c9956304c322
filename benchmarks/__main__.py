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
    args = sys.argv[1:]
    first_flag = next((i for i, a in enumerate(args) if a.startswith("-")), len(args))
    wanted, flags = args[:first_flag] or names, args[first_flag:]
    for name in wanted:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"\n## {name}\n")
        module.main(
            flags
            if name in ("bench_serving", "bench_scale", "bench_hosts", "bench_renders")
            else []
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
