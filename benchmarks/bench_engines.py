"""Benchmark: the explicit engine on the seed design.

Prints states, transitions, seconds and peak memory (RSS) of exhaustive
search for N = 1, 2 (and 3 with --n3) neighbours, large GC regime.

    .venv/bin/python benchmarks/bench_engines.py [--n3]
"""

import json
import subprocess
import sys

CODE = r'''
import json, resource, time
from nudspec.models.system import build
from nudspec.checker.explore import explore
n = {n}
res = explore(build("linux-6.18", "seed-scheme1", n, "large"), keep_graph=False)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"n": n, "states": res.states, "transitions": res.transitions,
                  "seconds": round(res.seconds, 1), "peak_mib": round(peak)}}))
'''


def main() -> None:
    ns = [1, 2] + ([3] if "--n3" in sys.argv else [])
    print(f"{'N':>2} {'states':>10} {'transitions':>12} {'seconds':>8} {'peak MiB':>9}")
    for n in ns:
        out = subprocess.run([sys.executable, "-c", CODE.format(n=n)], capture_output=True,
                             text=True, check=True).stdout
        r = json.loads(out)
        print(f"{r['n']:>2} {r['states']:>10} {r['transitions']:>12} {r['seconds']:>8} "
              f"{r['peak_mib']:>9}")


if __name__ == "__main__":
    main()
