"""``check-spec``: the command line.

Subcommands (each a small function; engines live in their own modules):

* (none)   check every declared (profile, design) pair against the verdicts
           the repository expects (``models/expected.py``); exit 1 on any
           difference.  This is what a user's CI runs.
* check    explore one configuration exhaustively, one row per invariant,
           counterexamples written as traces and pytest files.
* trace    acceptance of kernel traces by a profile (``checker/accept.py``).
* mutate   tightness report over mutants of real traces.
* record   the live-kernel harness (``checker/harness.py``).
* prove    Z3 proofs (``checker/prove.py``).
* draw     Graphviz diagrams (``checker/draw.py``).

Bad input gives one line ``check-spec: error: ...`` on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

from nudspec.models.designs import DESIGNS
from nudspec.models.expected import EXPECTED
from nudspec.models.profiles import PROFILES
from nudspec.models.system import DESIGN_INVARIANTS, INVARIANTS, REGIMES, ModelError, build

from .explore import Progress, explore

DEFAULT_OUT = "build/counterexamples"


class UsageError(Exception):
    """Bad user input; printed as one line, exit 2."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line ``check-spec: error: ...``
    (with a pointer to ``--help``) and exit 2."""

    def error(self, message: str):
        print(f"check-spec: error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(2)


def prepare_out(out: str) -> Path:
    """Create the output directory ``out`` (and parents) before any long run
    and check it is writable; raises UsageError with one line otherwise."""
    path = Path(out or ".")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".check-spec-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"--out {out!r}: cannot write there ({exc.strerror or exc})") from None
    return path


def error(message: str) -> int:
    print(f"check-spec: error: {message}", file=sys.stderr)
    return 2


def _check_names(profile: str, design: str, invariants: Optional[list]) -> list:
    if profile not in PROFILES:
        raise UsageError(f"unknown profile {profile!r} (known: {', '.join(PROFILES)})")
    if design not in DESIGNS:
        raise UsageError(f"unknown design {design!r} (known: {', '.join(DESIGNS)})")
    names = list(dict.fromkeys(invariants)) if invariants else list(DESIGN_INVARIANTS)
    for name in names:
        if name not in INVARIANTS:
            raise UsageError(f"unknown invariant {name!r} (known: {', '.join(INVARIANTS)})")
    return names


def run_check(profile: str, design: str, neighbours: int, regime: str,
              invariants: Optional[list], out: Optional[str], quiet: bool = False) -> list:
    """Explore one configuration; returns one result dict per invariant:
    ``{profile, design, neighbours, regime, invariant, holds, states, seconds,
    counterexample: {length, trace, test} | None}``.  Counterexamples are
    written under ``out`` (skipped when ``out`` is None)."""
    from .report import write_counterexample
    names = _check_names(profile, design, invariants)
    system = build(profile, design, neighbours, regime)
    if out is not None:
        prepare_out(out)
    label = f"{profile} x {design} N={neighbours} {regime}"
    progress = Progress(label) if not quiet else None
    res = explore(system, ["type_ok"] + [n for n in names if n != "type_ok"], progress=progress,
                  keep_graph=False)
    if res.violations.get("type_ok") is not None:
        raise RuntimeError(f"model defect: type_ok violated in {label}")
    results = []
    for name in names:
        cex = res.counterexample(name)
        entry = None
        if cex is not None:
            entry = {"length": len(cex)}
            if out is not None:
                trace, test = write_counterexample(system, cex, out)
                entry.update(trace=str(trace), test=str(test))
        results.append({"profile": profile, "design": design, "neighbours": neighbours,
                        "regime": regime, "invariant": name, "holds": cex is None,
                        "witnessed": res.witnessed[name], "states": res.states,
                        "seconds": round(res.seconds, 2), "counterexample": entry})
    return results


def _print_rows(results: list) -> None:
    head = ("invariant", "verdict", "states", "seconds", "cex", "file")
    rows = [head]
    for r in results:
        c = r["counterexample"]
        rows.append((r["invariant"], "holds" if r["holds"] else "VIOLATED", str(r["states"]),
                     f"{r['seconds']:.1f}", str(c["length"]) if c else "-",
                     (c.get("test") or "-") if c else "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


def cmd_check(args) -> int:
    results = run_check(args.profile, args.design, args.neighbours, args.regime,
                        args.invariant, args.out)
    if args.json:
        print(json.dumps({"results": results}, indent=2))
    else:
        r0 = results[0]
        print(f"{r0['profile']} x {r0['design']}, {r0['neighbours']} neighbour(s), "
              f"{r0['regime']} GC regime: {r0['states']} states in {r0['seconds']:.1f} s")
        _print_rows(results)
    return 0


def cmd_expected(args) -> int:
    """Bare ``check-spec``: every declared pair against its expected verdicts."""
    prepare_out(args.out)
    failures = 0
    t0 = time.monotonic()
    for exp in EXPECTED:
        results = run_check(exp.profile, exp.design, exp.neighbours, exp.regime,
                            list(exp.verdicts), args.out)
        print(f"{exp.profile} x {exp.design}, N={exp.neighbours}, {exp.regime} regime "
              f"({results[0]['states']} states, {results[0]['seconds']:.1f} s)")
        for r in results:
            want_holds, want_len = exp.verdicts[r["invariant"]]
            got_len = r["counterexample"]["length"] if r["counterexample"] else None
            ok = r["holds"] == want_holds and (want_holds or got_len == want_len)
            failures += not ok
            got = "holds" if r["holds"] else f"violated (length {got_len})"
            want = "holds" if want_holds else f"violated (length {want_len})"
            print(f"  {'ok  ' if ok else 'DIFF'} {r['invariant']:<22} {got}"
                  + ("" if ok else f", expected {want}"))
    print(f"{len(EXPECTED)} configuration(s) checked in {time.monotonic() - t0:.1f} s: "
          + ("all verdicts as expected" if not failures else f"{failures} verdict(s) differ"))
    return 1 if failures else 0


def _optional_module(name: str):
    """Import ``nudspec.checker.<name>`` if it is part of this installation."""
    try:
        return importlib.import_module(f"nudspec.checker.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"nudspec.checker.{name}":
            return None
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="check-spec",
        description="Model checker for the Linux neighbour (ARP) state machine and the "
                    "driver designs that mirror it into bkn_tbl.  Without a subcommand: "
                    "check every declared (profile, design) pair against its expected verdicts.")
    parser.add_argument("--out", default=DEFAULT_OUT,
                        help=f"where bare check-spec writes counterexamples (default {DEFAULT_OUT})")
    parser.set_defaults(func=cmd_expected)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)

    p = sub.add_parser("check", help="explore one profile x design exhaustively")
    p.add_argument("--profile", default="linux-6.18", help="kernel profile (default linux-6.18)")
    p.add_argument("--design", default="seed-scheme1", help="driver design (default seed-scheme1)")
    p.add_argument("--neighbours", type=int, default=2, choices=range(1, 5), metavar="N",
                   help="number of neighbours, 1 to 4 (default 2; N=2 takes minutes)")
    p.add_argument("--regime", default="large", choices=REGIMES,
                   help="GC regime: large (switch-sized table, default) or small (the traces')")
    p.add_argument("--invariant", action="append", metavar="NAME",
                   help="check only this invariant (repeatable; default: all)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--out", default=argparse.SUPPRESS,
                   help=f"directory for counterexamples (default {DEFAULT_OUT})")
    p.set_defaults(func=cmd_check)

    accept = _optional_module("accept")
    if accept is not None:
        accept.add_parser(sub)
    for name in ("harness", "prove", "draw"):
        mod = _optional_module(name)
        if mod is not None:
            mod.add_parser(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UsageError, ModelError) as exc:
        return error(str(exc))
    except KeyboardInterrupt:
        print("check-spec: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
