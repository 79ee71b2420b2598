"""The seed-scheme1 counterexamples replayed on the live kernel: the kernel
really emits the notifications each counterexample relies on, and the trace
it records is accepted by the linux-6.18 profile.

Needs root and network namespaces (CI has both); skipped with the reason
otherwise."""

import pytest

from nudspec.checker import harness
from nudspec.checker.accept import accept_trace, format_verdict
from nudspec.checker.explore import explore, replay
from nudspec.checker.report import trace_records
from nudspec.checker.trace import parse_lines
from nudspec.models.system import GcRuns, TimerFires, build

import json


@pytest.fixture(scope="module")
def live():
    why = harness.preflight()
    if why:
        pytest.skip(f"kernel harness needs root and network namespaces: {why}")


@pytest.fixture(scope="module")
def seed_cexs():
    system = build("linux-6.18", "seed-scheme1", 1, "small")
    res = explore(system, keep_graph=False)
    return system, res


def _notifies(records):
    return [(r["msg"], r["neigh"], r["nud"], r["lladdr"]) for r in records if r["kind"] == "notify"]


@pytest.mark.parametrize("invariant", ["reachable_in_hw", "no_hw_after_removal",
                                       "hw_lladdr_current", "hw_port_current"])
def test_counterexample_replayed_on_kernel(live, seed_cexs, invariant):
    """Replaying the counterexample's events on the kernel gives exactly the
    RTM_* notifications the model predicts (these runs have no timer or GC
    step), and the recorded trace is accepted."""
    system, res = seed_cexs
    cex = res.counterexample(invariant)
    assert not any(isinstance(a, (TimerFires, GcRuns)) for a in cex.actions)
    predicted = trace_records(system, cex.actions, replay(system, cex.actions), "model")
    events = [r for r in predicted if r["kind"] == "event"]
    recorded = harness.record(events, system.keys, system.macs, system.ports)
    assert _notifies(recorded) == _notifies(predicted)
    trace = parse_lines([json.dumps(r) for r in recorded], f"live-{invariant}.jsonl")
    v = accept_trace(trace)
    assert v.accepted, format_verdict(v)
