"""Exhaustive explicit-state search over a model's reachable graph.

Breadth first, so the first state found that violates an invariant lies at
the end of a shortest path from the initial state: the counterexample is
shortest.  The reachable graph is a ``networkx.DiGraph`` whose nodes are
:class:`~nudspec.models.system.State` values and whose edges carry the first
action found for them; BFS parents give the counterexample path.
"""

from __future__ import annotations

import sys as _sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Optional

import networkx as nx

from nudspec.models.system import INVARIANTS, State, System


@dataclass
class Counterexample:
    """A shortest path from the initial state to a violation.

    ``actions[i]`` leads from ``states[i]`` to ``states[i + 1]``; the last
    state violates ``invariant``.  Replay (``replay``) re-executes the
    actions; the states are kept only for reports."""
    invariant: str
    actions: list
    states: list

    def __len__(self) -> int:
        return len(self.actions)


@dataclass
class Exploration:
    """Result of :func:`explore`: the reachable graph, per-invariant first
    violation (None = holds on every reachable state), per-invariant whether
    its "sometimes" witness was reached, counts and wall time (seconds)."""
    graph: nx.DiGraph
    init: State
    violations: dict
    witnessed: dict
    states: int
    transitions: int
    seconds: float
    parents: dict = field(repr=False, default_factory=dict)

    def counterexample(self, invariant: str) -> Optional[Counterexample]:
        """The shortest counterexample of ``invariant``, or None if it holds."""
        bad = self.violations.get(invariant)
        if bad is None:
            return None
        states, actions = [bad], []
        while states[-1] != self.init:
            parent, action = self.parents[states[-1]]
            states.append(parent)
            actions.append(action)
        return Counterexample(invariant, actions[::-1], states[::-1])


class Progress:
    """Prints ``states explored, rate`` to stderr at most every ``every`` s
    (only when stderr is a terminal or ``force``)."""

    def __init__(self, label: str, every: float = 2.0, force: bool = False):
        self.label = label
        self.every = every
        self.enabled = force or _sys.stderr.isatty()
        self.start = self.last = time.monotonic()

    def tick(self, states: int, frontier: int) -> None:
        now = time.monotonic()
        if self.enabled and now - self.last >= self.every:
            rate = states / max(now - self.start, 1e-9)
            print(f"  {self.label}: {states} states explored, {frontier} in frontier, "
                  f"{rate:,.0f} states/s", file=_sys.stderr, flush=True)
            self.last = now


def explore(system: System, invariants: Optional[list] = None,
            progress: Optional[Progress] = None, max_states: Optional[int] = None,
            keep_graph: bool = True, symmetry: bool = True) -> Exploration:
    """Breadth-first search of every state reachable from ``system.init()``.

    ``invariants``: names from ``INVARIANTS`` (default: all).  The search
    continues after violations so that every invariant gets its own shortest
    counterexample.  ``max_states`` bounds the search (then the result is
    "no violation within bounds").  Returns an :class:`Exploration`.
    """
    names = list(invariants) if invariants is not None else list(INVARIANTS)
    checks = [(n, INVARIANTS[n].holds, INVARIANTS[n].witness) for n in names]
    t0 = time.monotonic()
    init = system.init()
    graph = nx.DiGraph()
    graph.add_node(init)
    parents: dict = {}
    canon = system.canonical if symmetry else (lambda s: s)
    seen = {canon(init)}
    concrete = {init}  # states already canonicalised: most successors repeat
    violations: dict = {n: None for n in names}
    witnessed: dict = {n: False for n in names}
    queue = deque([init])
    transitions = 0

    def check(s: State) -> None:
        for name, holds, witness in checks:
            if violations[name] is None and not holds(system, s):
                violations[name] = s
            if not witnessed[name] and witness(system, s):
                witnessed[name] = True

    check(init)
    while queue:
        s = queue.popleft()
        for action in system.actions(s):
            t = system.step(s, action, check=False).state
            transitions += 1
            if t is s or t in concrete:
                if keep_graph and t is not s and t in graph and not graph.has_edge(s, t):
                    graph.add_edge(s, t, action=action)
                continue
            concrete.add(t)
            c = canon(t)
            if c not in seen:
                seen.add(c)
                parents[t] = (s, action)
                check(t)
                queue.append(t)
                if keep_graph:
                    graph.add_edge(s, t, action=action)
            elif keep_graph and t in graph and not graph.has_edge(s, t):
                graph.add_edge(s, t, action=action)
        if progress is not None:
            progress.tick(len(seen), len(queue))
        if max_states is not None and len(seen) >= max_states:
            break
    return Exploration(graph=graph, init=init, violations=violations, witnessed=witnessed,
                       states=len(seen), transitions=transitions,
                       seconds=time.monotonic() - t0, parents=parents)


def replay(system: System, actions: list) -> list:
    """Re-execute ``actions`` from the initial state; returns the list of
    :class:`~nudspec.models.system.StepResult`.  Raises ValueError if an
    action is not enabled where the replay reaches it."""
    s = system.init()
    out = []
    for a in actions:
        r = system.step(s, a)
        out.append(r)
        s = r.state
    return out
