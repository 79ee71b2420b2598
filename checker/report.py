"""Counterexamples, rendered: a step table, a TRACE_FORMAT v1 trace and a
pytest file that replays the run on the model.

One counterexample object (:class:`~nudspec.checker.explore.Counterexample`),
several renderings.  The ``repr`` of every action is a valid constructor
call, so the pytest file is the list of actions pasted as Python.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from nudspec.models.system import (
    INVARIANTS, AdminAdd, AdminDel, ArpRx, Flush, LinkDown, LinkUp, Sleep, StepResult, System,
    Tx,
)
from nudspec.spec.neighbour import RtmNotify
from nudspec.spec.nud import nud_name

from .explore import Counterexample, replay
from .trace import header_record, write_trace

#: The port symbol a trace uses for a frame from a non-driver source.
NON_DRIVER_PORT = "CPU"


def action_event(action) -> Optional[dict]:
    """The TRACE_FORMAT event record of an environment action, or None for
    an internal step (timers and GC have no event record: the format lets
    them run between any two records).  Model choices a trace cannot
    express travel as extra keys, which readers ignore (``override``)."""
    if isinstance(action, ArpRx):
        ev = {"kind": "event", "event": "arp_rx", "neigh": action.neigh, "op": action.op,
              "dst": action.dst, "sha": action.sha, "target": action.target,
              "port": action.port if action.port is not None else NON_DRIVER_PORT}
        if not action.override:
            ev["override"] = False
        return ev
    if isinstance(action, Tx):
        return {"kind": "event", "event": "tx", "neigh": action.neigh}
    if isinstance(action, AdminAdd):
        return {"kind": "event", "event": "admin_add", "neigh": action.neigh, "nud": action.nud,
                "lladdr": action.lladdr, "replace": action.replace}
    if isinstance(action, AdminDel):
        return {"kind": "event", "event": "admin_del", "neigh": action.neigh}
    if isinstance(action, Flush):
        return {"kind": "event", "event": "flush"}
    if isinstance(action, LinkDown):
        return {"kind": "event", "event": "link_down"}
    if isinstance(action, LinkUp):
        return {"kind": "event", "event": "link_up"}
    if isinstance(action, Sleep):
        return {"kind": "event", "event": "sleep", "ms": action.ms}
    return None


def observe_records(system: System, state) -> list:
    """One observe record per neighbour, as ``ip neigh show`` would give."""
    out = []
    for key, n in zip(system.keys, state.neigh):
        if n is None:
            out.append({"kind": "observe", "neigh": key, "present": False})
        else:
            out.append({"kind": "observe", "neigh": key, "present": True,
                        "nud": nud_name(n.nud_state), "lladdr": n.lladdr})
    return out


def notify_record(em: RtmNotify) -> dict:
    """The TRACE_FORMAT notify record of one RTM_* emission."""
    return {"kind": "notify", "msg": em.msg, "neigh": em.neigh, "nud": nud_name(em.nud),
            "lladdr": em.lladdr}


def trace_records(system: System, actions: list, results: list, source: str) -> list:
    """A TRACE_FORMAT v1 trace of a model run: header, then per step its
    event (environment steps only), the notifications it emitted, and an
    observe of every neighbour."""
    ports = list(system.ports)
    if any(isinstance(a, ArpRx) and a.port is None for a in actions):
        ports.append(NON_DRIVER_PORT)
    recs = [header_record(source, system.keys, system.macs, ports)]
    for action, r in zip(actions, results):
        ev = action_event(action)
        if ev is not None:
            recs.append(ev)
        recs.extend(notify_record(e) for e in r.emissions if isinstance(e, RtmNotify))
        recs.extend(observe_records(system, r.state))
    return recs


def _driver_text(r: StepResult) -> str:
    parts = []
    for key, what, entry in r.driver:
        parts.append(f"{what} {key}" + (f" {entry.mac}@{entry.port}" if entry is not None else ""))
    return ", ".join(parts) or "-"


def _bkn_text(system: System, state) -> str:
    items = [f"{k}:{hw.mac}@{hw.port}" for k, hw in zip(system.keys, state.bkn_tbl) if hw is not None]
    return " ".join(items) or "{}"


def _kernel_text(system: System, state) -> str:
    parts = []
    for k, n in zip(system.keys, state.neigh):
        text = system.describe_entry(n)
        if n is not None and n.bkn_fdb_skb is not None:
            text += f" [stamp {n.bkn_fdb_skb.interface}]"
        parts.append(f"{k}:{text}")
    return "  ".join(parts)


def step_rows(system: System, actions: list, results: list) -> list:
    """Rows (step, event, kernel entries, notifications, driver action,
    bkn_tbl) of a run, as strings; row 0 is the initial state."""
    init = system.init()
    rows = [("0", "(initial)", _kernel_text(system, init), "-", "-", _bkn_text(system, init))]
    for i, (a, r) in enumerate(zip(actions, results), start=1):
        notes = "; ".join(str(e) for e in r.emissions) or "-"
        rows.append((str(i), repr(a), _kernel_text(system, r.state), notes, _driver_text(r),
                     _bkn_text(system, r.state)))
    return rows


def step_table(system: System, actions: list, results: Optional[list] = None) -> str:
    """The run as a plain-text table (one row per step), for pytest output
    and terminals."""
    if results is None:
        results = replay(system, actions)
    head = ("step", "event", "kernel entry", "notifications (kernel order)", "driver", "bkn_tbl")
    rows = [head] + step_rows(system, actions, results)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = []
    for j, r in enumerate(rows):
        lines.append(" | ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if j == 0:
            lines.append("-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def cex_basename(system: System, cex: Counterexample) -> str:
    """File stem for a counterexample: design, invariant, N and regime."""
    design = system.design.name if system.design else "kernel"
    return (f"{design}__{cex.invariant}__{system.profile.name}__n{len(system.keys)}"
            f"_{system.config.regime}").replace("-", "_").replace(".", "_")


PYTEST_TEMPLATE = '''"""Counterexample: design {design!r} violates {invariant!r} on profile {profile!r}
({n} neighbour(s), {regime} GC regime), found by `check-spec check` (breadth first,
so no shorter run violates it).

{statement}

Replays the run on the model, prints the step table, and asserts that the
invariant holds before the last step and fails after it, with the
notifications the model predicts.
"""

from nudspec.checker.explore import replay
from nudspec.checker.report import step_table
from nudspec.models.system import (  # noqa: F401  (names used by ACTIONS)
    INVARIANTS, AdminAdd, AdminDel, ArpRx, Flush, GcRuns, LinkDown, LinkUp, Sleep,
    TimerFires, Tx, build,
)

ACTIONS = [
{actions}
]

#: RTM_* notifications of each step, in kernel order (str of RtmNotify).
NOTIFICATIONS = [
{notifications}
]


def test_{func}():
    system = build(profile={profile!r}, design={design!r}, neighbours={n}, regime={regime!r})
    results = replay(system, ACTIONS)
    print(step_table(system, ACTIONS, results))
    inv = INVARIANTS[{invariant!r}]
    assert inv.holds(system, system.init())
    assert all(inv.holds(system, r.state) for r in results[:-1])
    assert not inv.holds(system, results[-1].state)
    assert [[str(e) for e in r.notifications] for r in results] == NOTIFICATIONS
'''


def pytest_source(system: System, cex: Counterexample) -> str:
    """A self-contained pytest module that replays ``cex`` on the model."""
    results = replay(system, cex.actions)
    design = system.design.name if system.design else None
    return PYTEST_TEMPLATE.format(
        design=design, invariant=cex.invariant, profile=system.profile.name,
        n=len(system.keys), regime=system.config.regime,
        statement=f"{cex.invariant}: {INVARIANTS[cex.invariant].statement}.",
        actions="\n".join(f"    {a!r}," for a in cex.actions),
        notifications="\n".join(f"    {[str(e) for e in r.notifications]!r}," for r in results),
        func=cex_basename(system, cex).lower(),
    )


def write_counterexample(system: System, cex: Counterexample, out_dir) -> tuple[Path, Path]:
    """Write ``cex`` to ``out_dir`` as ``<stem>.jsonl`` (TRACE_FORMAT v1:
    events, and the notifications and observes the model predicts) and
    ``test_<stem>.py`` (a pytest replay).  Returns both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = cex_basename(system, cex)
    results = replay(system, cex.actions)
    design = system.design.name if system.design else "kernel"
    source = f"model {system.profile.name} {design} ({cex.invariant} counterexample)"
    trace = write_trace(out / f"{stem}.jsonl",
                        trace_records(system, cex.actions, results, source))
    test = out / f"test_{stem}.py"
    test.write_text(pytest_source(system, cex), encoding="utf-8")
    return trace, test
