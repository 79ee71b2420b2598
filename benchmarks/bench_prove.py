"""Benchmark: Z3 proofs (every N) next to the explicit engine (N = 1, 2, 3).

For each design (large GC regime) it prints:

* the time and peak memory (RSS) of each invariant's proof or refutation by
  `check-spec prove`, which holds for every number of neighbours;
* the explicit engine's states, time and peak memory at N = 1, and at
  N = 2 and N = 3 when asked (they take minutes);
* the bit-precise lemmas about __neigh_update (table and checks).

Each measurement runs in a fresh interpreter, so every peak is that of one
proof alone (tables and encoding included).

    .venv/bin/python benchmarks/bench_prove.py [--n2] [--n3] [--reduction]
        [--design D ...] [--profile P]

--reduction also times the Z3 check of the N-neighbour reduction: N = 2 on
every pair of local states, and N = 3 on 20,000 random states.  It takes
minutes.  The output says what ran and what was skipped.
"""

import argparse
import json
import subprocess
import sys

PROVE = r'''
import json, resource, time
from nudspec.checker import prove
t0 = time.monotonic()
r = prove.prove_invariant({profile!r}, {design!r}, "large", {invariant!r})
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"verdict": r.verdict, "method": r.method, "k": r.k,
                  "cex": len(r.counterexample) if r.counterexample else None,
                  "neighbours": r.neighbours, "seconds": round(time.monotonic() - t0, 2),
                  "peak_mib": round(peak)}}))
'''

EXPLICIT = r'''
import json, resource
from nudspec.models.system import build
from nudspec.checker.explore import explore
res = explore(build({profile!r}, {design!r}, {n}, "large"), keep_graph=False)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"states": res.states, "seconds": round(res.seconds, 1),
                  "peak_mib": round(peak)}}))
'''

LEMMAS = r'''
import json, resource, time
from nudspec.checker import prove
t0 = time.monotonic()
checker = prove.lemma_checker({profile!r})
built = time.monotonic() - t0
results = [checker.check(lem) for lem in prove.LEMMAS]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"cases": checker.table.cases, "table_seconds": round(checker.table.seconds, 2),
                  "load_seconds": round(built, 2),
                  "check_seconds": round(sum(r.seconds for r in results), 2),
                  "verdicts": [r.verdict for r in results], "peak_mib": round(peak)}}))
'''

REDUCTION = r'''
import json, resource
from nudspec.checker import prove
r = prove.check_reduction({profile!r}, {design!r}, "large", {n}, sample={sample})
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(dict(r.as_json(), peak_mib=round(peak))))
'''


def run(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    from nudspec.models.designs import DESIGNS
    from nudspec.models.system import INVARIANTS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n2", action="store_true", help="also run the explicit engine at N = 2")
    ap.add_argument("--n3", action="store_true", help="also run the explicit engine at N = 3")
    ap.add_argument("--reduction", action="store_true", help="also time the reduction check")
    ap.add_argument("--design", action="append", help="only these designs (default: all)")
    ap.add_argument("--profile", default="linux-6.18")
    args = ap.parse_args()
    designs = args.design or list(DESIGNS)
    ns = [1] + ([2] if args.n2 else []) + ([3] if args.n3 else [])
    skipped = [n for n in (2, 3) if n not in ns]
    print(f"profile {args.profile}, large GC regime; explicit engine at N = "
          f"{', '.join(map(str, ns))}"
          + (f" (N = {', '.join(map(str, skipped))} skipped: --n2/--n3)" if skipped else ""))
    for design in designs:
        print(f"\n{design}")
        for n in ns:
            e = run(EXPLICIT.format(profile=args.profile, design=design, n=n))
            print(f"  explicit engine N={n}: {e['states']:>7} states  {e['seconds']:>7.1f} s  "
                  f"{e['peak_mib']:>5} MiB peak")
        print(f"  {'prove (every N)':<22} {'verdict':<8} {'method':<12} {'k':>2} {'cex':>4} "
              f"{'seconds':>8} {'peak MiB':>9}")
        total = 0.0
        for name in INVARIANTS:
            r = run(PROVE.format(profile=args.profile, design=design, invariant=name))
            total += r["seconds"]
            cex = f"{r['cex']}" if r["cex"] is not None else "-"
            print(f"  {name:<22} {r['verdict']:<8} {r['method']:<12} "
                  f"{'-' if r['k'] is None else r['k']:>2} {cex:>4} {r['seconds']:>8.2f} "
                  f"{r['peak_mib']:>9}")
        print(f"  {'all invariants':<22} {'':<8} {'':<12} {'':>2} {'':>4} {total:>8.2f}")
        if args.reduction:
            for n, sample in ((2, None), (3, 20000)):
                r = run(REDUCTION.format(profile=args.profile, design=design, n=n, sample=sample))
                print(f"  reduction N={n} ({r['mode']}): {r['states']} states, "
                      f"{r['transitions']} transitions, {r['projected_pairs']} projected steps, "
                      f"{'ok' if r['ok'] else 'FAILED'}, {r['seconds']} s, {r['peak_mib']} MiB peak")
    if not args.reduction:
        print("\nreduction check skipped (--reduction)")
    r = run(LEMMAS.format(profile=args.profile))
    print(f"\n__neigh_update lemmas: {r['cases']} cases, symbolic run {r['table_seconds']} s, "
          f"loaded into Z3 in {r['load_seconds']} s, {len(r['verdicts'])} lemmas checked in "
          f"{r['check_seconds']} s ({', '.join(sorted(set(r['verdicts'])))}), "
          f"{r['peak_mib']} MiB peak")


if __name__ == "__main__":
    main()
