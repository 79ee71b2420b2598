"""Trace acceptance: does some run of a model profile explain a kernel trace?

Implements "Acceptance" of ``shared/TRACE_FORMAT.md`` on the same
transition system ``check-spec check`` explores (``models/system.py`` with no
driver design): there is no second semantics here, only the matching.

The engine keeps the set of *configurations* a run can be in after each
record: a model :class:`~nudspec.models.system.State`, the number ``k`` of
RTM_* notifications the run has emitted that the trace has not shown yet,
and ``ev``, how many of those (counted from the oldest) reach up to the last
one an *event* caused.  Pending notifications are always the next ``k``
notify records of the trace: an emission is kept only if it equals the
notify record it will have to match, so a configuration needs no queue.

Before every record the set is closed under internal steps (timers; garbage
collection in the large regime).  Then:

* ``event``: every model action for the event, with every choice the kernel
  has (locktime ``override``, table-walk orders), is applied.  Pending
  notifications may outlive an event record: a timer can fire just before
  the harness acts, and its notification is read after the event was
  written.
* ``notify``: consumes the oldest pending notification (already known to
  match).
* ``observe``: the neighbour must be as observed, and every notification an
  event caused must have been shown (``ev == 0``).  A timer's notification
  may still be pending: 6.18 sends it after ``neigh->lock`` is released, so
  a dump can show the new state first (``dev_seed11.jsonl`` lines 93-96:
  REACHABLE -> STALE observed before its RTM_NEWNEIGH STALE).

A trace is accepted when a configuration with nothing pending survives the
last record.  Otherwise the first record that empties the set is the
diagnosis, with the configurations possible just before it.
"""

from __future__ import annotations

import itertools
import json
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Iterable, Optional

from nudspec.models.system import (
    AdminAdd, AdminDel, ArpRx, Config, Flush, LinkDown, LinkUp, REGIMES, Sleep, State, System,
    Tx,
)
from nudspec.models.profiles import PROFILES
from nudspec.spec.neighbour import RtmNotify
from nudspec.spec.nud import nud_name

from .trace import Record, Trace, TraceError, read_trace



@dataclass
class Verdict:
    """Acceptance result of one trace: ``accepted``; for a rejection the
    first unexplained record (``line``, ``record``) and the configurations
    possible just before it (``possible``, readable lines)."""
    file: str
    accepted: bool
    line: Optional[int] = None
    record: Optional[dict] = None
    possible: list = field(default_factory=list)
    seconds: float = 0.0

    def as_json(self) -> dict:
        return {"file": self.file, "accepted": self.accepted, "line": self.line,
                "record": self.record, "possible_states": self.possible}


def kernel_system(trace: Trace, profile: str = "linux-6.18", regime: str = "small") -> System:
    """The kernel-only model (no driver design) for a trace's symbols.
    Raises TraceError (line 1) for a header the model cannot take."""
    h = trace.header
    if not 1 <= len(h.keys) <= 4:
        raise TraceError(trace.path, 1, f"header: 'keys' declares {len(h.keys)} neighbours; "
                                        f"the model takes 1 to 4")
    return System(Config(profile=profile, design=None, neighbours=len(h.keys), regime=regime,
                         macs=tuple(h.macs), ports=tuple(h.ports), keys=tuple(h.keys)))


def event_actions(system: System, state: State, ev: dict) -> list:
    """Every model action a TRACE_FORMAT event can be, with every choice."""
    name = ev["event"]
    if name == "arp_rx":
        port = ev["port"] if ev["port"] in system.ports and ev["port"] != "CPU" else None
        return [ArpRx(ev["neigh"], ev["op"], ev["dst"], ev["sha"], ev["target"], port, o)
                for o in (True, False)]
    if name == "tx":
        return [Tx(ev["neigh"])]
    if name == "admin_add":
        return [AdminAdd(ev["neigh"], ev["nud"], ev["lladdr"], ev["replace"])]
    if name == "admin_del":
        return [AdminDel(ev["neigh"])]
    present = tuple(k for k, n in zip(system.keys, state.neigh) if n is not None)
    if name == "flush":
        return [Flush(o) for o in itertools.permutations(present)]
    if name == "link_down":
        return [LinkDown(state.dev_list)]
    if name == "link_up":
        return [LinkUp()]
    if name == "sleep":
        return [Sleep(ev["ms"])]
    raise ValueError(f"unknown event {name!r}")  # the reader rejects these first


def _notify_matches(em: RtmNotify, rec: dict) -> bool:
    return (em.msg == rec["msg"] and em.neigh == rec["neigh"] and nud_name(em.nud) == rec["nud"]
            and em.lladdr == rec["lladdr"])


def _observe_matches(system: System, s: State, rec: dict) -> bool:
    n = s.entry(system, rec["neigh"])
    if not rec["present"]:
        return n is None
    return n is not None and nud_name(n.nud_state) == rec["nud"] and n.lladdr == rec["lladdr"]


def describe(system: System, cfg: tuple, owed: tuple = ()) -> str:
    """One readable line for a configuration (``owed``: the notify records
    it has emitted but the trace has not shown yet)."""
    s = cfg[0]
    parts = ["link up" if s.link_up else "link down"]
    for k, n in zip(system.keys, s.neigh):
        if n is None:
            parts.append(f"{k}: -")
            continue
        extra = []
        if n.timer:
            extra.append("timer")
        if n.arp_queue:
            extra.append("queued")
        if n.probes:
            extra.append(f"probes={n.probes}")
        parts.append(f"{k}: {system.describe_entry(n)}" + (f" ({', '.join(extra)})" if extra else ""))
    line = "; ".join(parts)
    if owed:
        line += " | emitted, not yet shown: " + ", ".join(
            f"{r['msg']} {r['neigh']} {r['nud']} {r['lladdr'] or '-'}" for r in owed)
    return line


class Acceptor:
    """Acceptance of traces on one system; reusable for mutants.

    A configuration is ``(state, k, ev)`` (see the module docstring)."""

    def __init__(self, system: System):
        self.system = system

    def _emit(self, trace_notifies: list, j: int, k: int, ems: tuple) -> Optional[int]:
        """Append emissions ``ems`` to a pending queue of length ``k`` whose
        oldest entry is notify record number ``j``; returns the new length,
        or None when an emission differs from the record it must match."""
        for em in ems:
            if j + k >= len(trace_notifies) or not _notify_matches(em, trace_notifies[j + k]):
                return None
            k += 1
        return k

    def closure(self, configs: set, notifies: list, j: int) -> set:
        """All configurations reachable from ``configs`` by internal steps."""
        sys_ = self.system
        out = set(configs)
        stack = list(configs)
        while stack:
            s, k, ev = stack.pop()
            for a in sys_.internal_actions(s):
                r = sys_.step(s, a)
                k2 = self._emit(notifies, j, k, r.notifications)
                if k2 is None:
                    continue
                c = (r.state, k2, ev)
                if c not in out:
                    out.add(c)
                    stack.append(c)
        return out

    def apply(self, configs: set, rec: Record, notifies: list, j: int) -> set:
        """Configurations after ``rec``; ``j`` is the number of notify
        records before it."""
        sys_ = self.system
        d = rec.data
        out = set()
        if rec.kind == "event":
            for s, k, ev in configs:
                for a in event_actions(sys_, s, d):
                    r = sys_.step(s, a)
                    k2 = self._emit(notifies, j, k, r.notifications)
                    if k2 is not None:
                        out.add((r.state, k2, k2 if k2 > k else ev))
        elif rec.kind == "notify":
            for s, k, ev in configs:
                if k:
                    out.add((s, k - 1, max(0, ev - 1)))
        elif rec.kind == "observe":
            for s, k, ev in configs:
                if ev == 0 and _observe_matches(sys_, s, d):
                    out.add((s, k, ev))
        return out

    def run(self, trace: Trace, start: Optional[set] = None, first: int = 0,
            reference: Optional[list] = None, reference_from: int = 0) -> tuple:
        """Accept ``trace.records[first:]`` from the configurations ``start``
        (default: the initial state, nothing pending).  Returns (accepted,
        index of the rejected record or None, configurations before it,
        per-record configurations, notify records owed before it).

        With ``reference`` (per-record configurations of an accepted trace
        whose records equal these from ``reference_from`` on) stop early,
        accepted, as soon as the configurations equal the reference's at a
        record past ``reference_from``."""
        records = trace.records
        notifies = [r.data for r in records if r.kind == "notify"]
        j = sum(1 for r in records[:first] if r.kind == "notify")
        configs = start if start is not None else {(self.system.init(), 0, 0)}
        trail = []
        for i in range(first, len(records)):
            configs = self.closure(configs, notifies, j)
            trail.append(configs)
            if reference is not None and i > reference_from and reference[i] == configs:
                return True, None, configs, trail, ()
            nxt = self.apply(configs, records[i], notifies, j)
            if not nxt:
                return False, i, configs, trail, tuple(notifies[j:])
            if records[i].kind == "notify":
                j += 1
            configs = nxt
        if not any(k == 0 for _, k, _ in configs):
            return False, len(records), configs, trail, tuple(notifies[j:])
        return True, None, configs, trail, ()


def accept_trace(trace: Trace, profile: str = "linux-6.18", regime: str = "small") -> Verdict:
    """Acceptance of a parsed trace by ``profile``; see the module docstring."""
    t0 = time.monotonic()
    system = kernel_system(trace, profile, regime)
    ok, idx, configs, _, owed = Acceptor(system).run(trace)
    v = Verdict(file=trace.path, accepted=ok)
    if not ok:
        if idx < len(trace.records):
            rec = trace.records[idx]
            v.line, v.record = rec.line, rec.data
        else:
            v.line = trace.records[-1].line if trace.records else 1
            v.record = None
        v.possible = sorted({describe(system, c, owed[:c[1]]) for c in configs})
    v.seconds = time.monotonic() - t0
    return v


def format_verdict(v: Verdict) -> str:
    """ACCEPT line, or REJECT with the diagnosis (one line per possible state)."""
    if v.accepted:
        return f"ACCEPT {v.file}"
    if v.record is None:
        head = (f"REJECT {v.file}:{v.line}: the trace ends while the model still owes "
                f"notifications it never showed")
    else:
        head = f"REJECT {v.file}:{v.line}: no run explains {json.dumps(v.record)}"
        if v.record.get("kind") == "event":
            head += " with the notifications that follow it"
    lines = [head, f"  model states possible just before it ({len(v.possible)}):"]
    lines += [f"    {p}" for p in v.possible]
    return "\n".join(lines)


def cmd_trace(args) -> int:
    if args.profile not in PROFILES:
        print(f"check-spec: error: unknown profile {args.profile!r} "
              f"(known: {', '.join(PROFILES)})", file=sys.stderr)
        return 2
    verdicts = []
    for f in args.files:
        try:
            verdicts.append(accept_trace(read_trace(f), args.profile, args.regime))
        except TraceError as exc:
            print(f"check-spec: error: {exc}", file=sys.stderr)
            return 2
    if args.json:
        print(json.dumps({"traces": [v.as_json() for v in verdicts]}, indent=2))
    else:
        for v in verdicts:
            print(format_verdict(v))
        n_ok = sum(v.accepted for v in verdicts)
        print(f"{n_ok}/{len(verdicts)} accepted by {args.profile}")
    return 0 if all(v.accepted for v in verdicts) else 1


# --- mutation -----------------------------------------------------------------

MUTANT_KINDS = ("observe_nud", "observe_lladdr", "observe_presence", "notify_drop",
                "notify_insert", "notify_reorder", "notify_alter")


def mutants(trace: Trace, rng: random.Random, per_kind: int) -> Iterable[tuple]:
    """Mutants of ``trace``: (kind, index of the first changed record,
    description, mutated Trace).  At most ``per_kind`` of each kind, drawn
    with ``rng`` from all candidates."""
    recs = list(trace.records)
    h = trace.header
    nuds = ("NONE", "INCOMPLETE", "REACHABLE", "STALE", "DELAY", "PROBE", "FAILED", "NOARP",
            "PERMANENT")

    def with_records(new: list) -> Trace:
        return Trace(path=trace.path, header=h, records=tuple(new))

    def rec(i: int, data: dict) -> Record:
        return Record(recs[i].line, data)

    cands: dict = {k: [] for k in MUTANT_KINDS}
    for i, r in enumerate(recs):
        d = r.data
        if r.kind == "observe":
            if d["present"]:
                for nud in nuds:
                    if nud != d["nud"]:
                        cands["observe_nud"].append((i, f"nud {d['nud']}->{nud}", {**d, "nud": nud}))
                for mac in list(h.macs) + [None]:
                    if mac != d["lladdr"]:
                        cands["observe_lladdr"].append(
                            (i, f"lladdr {d['lladdr']}->{mac}", {**d, "lladdr": mac}))
                cands["observe_presence"].append(
                    (i, "present->absent", {"kind": "observe", "neigh": d["neigh"], "present": False}))
            else:
                for nud in nuds:
                    cands["observe_presence"].append(
                        (i, f"absent->present {nud}",
                         {"kind": "observe", "neigh": d["neigh"], "present": True, "nud": nud,
                          "lladdr": None if nud in ("NONE", "INCOMPLETE", "FAILED") or not h.macs
                          else h.macs[0]}))
        elif r.kind == "notify":
            cands["notify_drop"].append((i, "drop", None))
            for nud in nuds:
                if nud != d["nud"]:
                    cands["notify_alter"].append((i, f"nud {d['nud']}->{nud}", {**d, "nud": nud}))
            for mac in list(h.macs) + [None]:
                if mac != d["lladdr"]:
                    cands["notify_alter"].append((i, f"lladdr {d['lladdr']}->{mac}", {**d, "lladdr": mac}))
            other = "RTM_DELNEIGH" if d["msg"] == "RTM_NEWNEIGH" else "RTM_NEWNEIGH"
            cands["notify_alter"].append((i, f"msg {d['msg']}->{other}", {**d, "msg": other}))
            if i + 1 < len(recs) and recs[i + 1].kind == "notify" and recs[i + 1].data != d:
                cands["notify_reorder"].append((i, "swap with next notify", "swap"))
        if r.kind == "event":
            # insert a notification right after an event: for each neighbour a
            # plausible message
            for key in h.keys:
                for nud in ("REACHABLE", "STALE", "FAILED", "DELAY", "PROBE"):
                    lladdr = None if nud == "FAILED" or not h.macs else h.macs[0]
                    cands["notify_insert"].append(
                        (i + 1, f"insert RTM_NEWNEIGH {key} {nud}",
                         {"kind": "notify", "msg": "RTM_NEWNEIGH", "neigh": key, "nud": nud,
                          "lladdr": lladdr}))
    for kind in MUTANT_KINDS:
        pool = cands[kind]
        pick = rng.sample(pool, min(per_kind, len(pool)))
        for i, desc, data in sorted(pick, key=lambda t: (t[0], t[1])):
            new = list(recs)
            if kind == "notify_drop":
                del new[i]
            elif kind == "notify_insert":
                line = recs[i - 1].line
                new.insert(i, Record(line, data))
            elif kind == "notify_reorder":
                new[i], new[i + 1] = new[i + 1], new[i]
            else:
                new[i] = rec(i, data)
            yield kind, i, desc, with_records(new)


def mutation_report(paths: list, profile: str = "linux-6.18", regime: str = "small",
                    per_kind: int = 30, seed: int = 0) -> dict:
    """Mutate every trace, run acceptance on each mutant, and count
    rejections per kind.  Returns ``{"kinds": {kind: {"mutants", "rejected",
    "rate"}}, "total": {...}, "accepted": [{file, line, kind, change}]}``.
    Raises TraceError for an unreadable trace."""
    kinds = {k: {"mutants": 0, "rejected": 0} for k in MUTANT_KINDS}
    accepted_mutants = []
    for path in paths:
        trace = read_trace(path)
        system = kernel_system(trace, profile, regime)
        acc = Acceptor(system)
        ok, _, _, trail, _ = acc.run(trace)
        if not ok:
            raise ValueError(f"{path}: the original trace is rejected; mutation needs accepted traces")
        rng = random.Random(f"{seed}:{path.rsplit('/', 1)[-1]}")
        # records where nothing is owed: a mutant may restart from there,
        # since no pending notification was matched against later records
        clean = [all(k == 0 for _, k, _ in c) for c in trail]
        for kind, i, desc, mtrace in mutants(trace, rng, per_kind):
            p = min(i, len(trail) - 1)
            while p > 0 and not clean[p]:
                p -= 1
            same_length = kind not in ("notify_drop", "notify_insert")
            m_ok, _, _, _, _ = acc.run(mtrace, start=trail[p], first=p,
                                       reference=trail if same_length else None,
                                       reference_from=i + 1)
            kinds[kind]["mutants"] += 1
            if m_ok:
                line = trace.records[i].line if i < len(trace.records) else trace.records[-1].line
                accepted_mutants.append({"file": path, "line": line, "kind": kind, "change": desc})
            else:
                kinds[kind]["rejected"] += 1
    total = {"mutants": sum(k["mutants"] for k in kinds.values()),
             "rejected": sum(k["rejected"] for k in kinds.values())}
    for k in list(kinds.values()) + [total]:
        k["rate"] = round(k["rejected"] / k["mutants"], 4) if k["mutants"] else None
    return {"kinds": kinds, "total": total, "accepted": accepted_mutants}


def cmd_mutate(args) -> int:
    if args.per_kind < 0:
        print("check-spec: error: --per-kind must be 0 or more", file=sys.stderr)
        return 2
    try:
        report = mutation_report(args.files, args.profile, args.regime, args.per_kind, args.seed)
    except TraceError as exc:
        print(f"check-spec: error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"check-spec: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{'mutant kind':<18} {'mutants':>8} {'rejected':>9} {'rate':>7}")
    for kind, k in list(report["kinds"].items()) + [("all", report["total"])]:
        rate = f"{100 * k['rate']:.1f}%" if k["rate"] is not None else "-"
        print(f"{kind:<18} {k['mutants']:>8} {k['rejected']:>9} {rate:>7}")
    if report["accepted"]:
        print("accepted mutants (each must be possible on the kernel; see "
              "tests/fixtures/accepted_mutants.json):")
        for m in report["accepted"]:
            print(f"  {m['file']}:{m['line']} {m['kind']}: {m['change']}")
    return 0


def add_parser(sub) -> None:
    """Add the ``trace`` and ``mutate`` subcommands."""
    p = sub.add_parser("trace", help="check kernel traces against a profile (ACCEPT/REJECT)")
    p.add_argument("files", nargs="+", metavar="FILE", help="TRACE_FORMAT v1 files")
    p.add_argument("--profile", default="linux-6.18")
    p.add_argument("--regime", default="small", choices=REGIMES,
                   help="GC regime (default small: the traces' table is tiny)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_trace)

    m = sub.add_parser("mutate", help="tightness: how many mutants of real traces are rejected")
    m.add_argument("files", nargs="+", metavar="TRACE")
    m.add_argument("--profile", default="linux-6.18")
    m.add_argument("--regime", default="small", choices=REGIMES)
    m.add_argument("--per-kind", type=int, default=30, help="mutants per kind per file (default 30)")
    m.add_argument("--seed", type=int, default=0, help="random seed for picking mutants")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_mutate)
