"""Benchmark: trace acceptance of all shared Linux 6.18 traces.

Prints the wall time of `check-spec trace` on the 12 files (best of 5 runs,
each run from a fresh model so no cache carries over) and per file.

    .venv/bin/python benchmarks/bench_accept.py [TRACE_DIR]
"""

import sys
import time
from pathlib import Path

from nudspec.checker.accept import accept_trace
from nudspec.checker.trace import read_trace

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    tdir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared/traces/linux-6.18"
    paths = sorted(tdir.glob("*.jsonl"))
    best = None
    per_file = {}
    for _ in range(5):
        t0 = time.perf_counter()
        for p in paths:
            t1 = time.perf_counter()
            v = accept_trace(read_trace(p))
            assert v.accepted, p
            per_file[p.name] = min(per_file.get(p.name, 1e9), time.perf_counter() - t1)
        total = time.perf_counter() - t0
        best = total if best is None else min(best, total)
    for name, sec in sorted(per_file.items()):
        print(f"  {name:<22} {sec * 1000:7.1f} ms")
    print(f"{len(paths)} traces accepted in {best:.3f} s (best of 5)")


if __name__ == "__main__":
    main()
