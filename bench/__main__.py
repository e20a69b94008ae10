"""Run every benchmark (or those named on the command line) and print one JSON object."""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    wanted = [a if a.startswith("bench_") else f"bench_{a}" for a in argv] or names
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        print(f"bench: unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(names)}", file=sys.stderr)
        return 2
    results: dict[str, object] = {}
    for name in wanted:
        start = time.perf_counter()
        module = importlib.import_module(f"bench.{name}")
        figures = module.run()
        figures["wall_seconds"] = round(time.perf_counter() - start, 2)
        results[name.removeprefix("bench_")] = figures
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
