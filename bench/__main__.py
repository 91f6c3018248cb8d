"""Run every bench_*.py module's `main()` and print one JSON line per benchmark."""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from pathlib import Path


def main() -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    selected = [n for n in names if not sys.argv[1:] or any(a in n for a in sys.argv[1:])]
    for name in selected:
        module = importlib.import_module(f"bench.{name}")
        result = module.main()
        print(json.dumps({"benchmark": name, **(result or {})}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
