"""``check-spec prove``: Z3 proofs and refutations, for every number of
neighbours, in agreement with the explicit engine.

What is proved is stated in ``docs/prove.md``; in short:

* Every invariant is a conjunction over neighbours of one per-neighbour
  predicate of (the neighbour's entry and bkn_tbl slot, ``link_up``, the
  FDB).  The projection of the N-neighbour model onto any one neighbour is
  simulated by the abstract one-neighbour model of
  :class:`~nudspec.checker.z3enc.Encoding` with environment steps (the FDB
  writes other neighbours make), and every run of that abstract model is
  the projection of a run with N = 2.  So the abstract model with
  environment steps decides each invariant for every N >= 2, and without
  them for N = 1 (a sub-model: its proof is implied).  The simulation is
  checked with Z3 by :func:`check_reduction`.
* Per invariant: the 1-induction step, bounded model checking (depth by
  depth, so a counterexample has the breadth-first length), k-induction
  for k = 2, 3, then Spacer (Z3's CHC engine), whose inductive invariant is
  re-checked and printed in the spec's terms.  Z3's ``unknown`` is
  reported as UNKNOWN with its reason, never as proved.
* ``--lemmas``: bit-precise lemmas over the case table of
  ``__neigh_update`` (:func:`~nudspec.checker.z3enc.neigh_update_cases`).

Verdicts: PROVED (every N, every run), REFUTED (with a counterexample that
replays on ``build(..., neighbours=N)``), BOUNDED (``--bmc K``: no
violation within K steps), UNKNOWN (with the reason).
"""

from __future__ import annotations

import itertools
import json
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional

import z3

from nudspec.models.designs import DESIGNS
from nudspec.models.profiles import PROFILES, get_profile
from nudspec.models.system import DESIGN_INVARIANTS, INVARIANTS, REGIMES, build
from nudspec.spec.nud import (
    NEIGH_UPDATE_F_ADMIN, NEIGH_UPDATE_F_MANAGED, NEIGH_UPDATE_F_OVERRIDE,
    NEIGH_UPDATE_F_USE, NEIGH_UPDATE_F_WEAK_OVERRIDE, NUD_CONNECTED, NUD_IN_TIMER,
    NUD_NOARP, NUD_PERMANENT, NUD_STATES, NUD_VALID, Ntf, Nud, UpdateFlag,
)

from . import z3enc
from .explore import Counterexample
from .z3enc import EncodingError, Encoding, encoding, make_state, project, render, tables

PROVED, REFUTED, BOUNDED, UNKNOWN = "PROVED", "REFUTED", "BOUNDED", "UNKNOWN"
VACUOUS = "VACUOUS"    # a lemma whose hypothesis no input satisfies
DEFAULT_OUT = "build/counterexamples"
DEFAULT_TIMEOUT = 120.0
DEFAULT_BMC = 8        # BMC depth tried before induction (auto mode)
MAX_K = 3              # k-induction depths tried before Spacer (auto mode)


# --- results -----------------------------------------------------------------------

@dataclass
class ProofResult:
    """The verdict on one invariant.

    ``scope``: "N>=1" (the abstract model with environment steps: every N)
    or "N=1".  ``method``: "bmc", "k-induction", "spacer".  ``k``: the BMC
    depth reached, the induction depth, or None.  ``neighbours``: N of the
    system a counterexample runs on.  ``invariant_found``: Spacer's
    inductive invariant, readable.  ``reason``: why UNKNOWN."""
    profile: str
    design: Optional[str]
    regime: str
    invariant: str
    verdict: str
    method: str
    k: Optional[int]
    seconds: float
    scope: str = "N>=1"
    counterexample: Optional[Counterexample] = None
    neighbours: Optional[int] = None
    invariant_found: Optional[str] = None
    reason: Optional[str] = None
    files: tuple = ()
    note: Optional[str] = None

    def as_json(self) -> dict:
        cex = None
        if self.counterexample is not None:
            cex = {"length": len(self.counterexample), "neighbours": self.neighbours,
                   "actions": [repr(a) for a in self.counterexample.actions]}
            if self.files:
                cex.update(trace=str(self.files[0]), test=str(self.files[1]))
        return {"profile": self.profile, "design": self.design, "regime": self.regime,
                "invariant": self.invariant, "verdict": self.verdict, "method": self.method,
                "k": self.k, "seconds": round(self.seconds, 3), "scope": self.scope,
                "counterexample": cex, "invariant_found": self.invariant_found,
                "reason": self.reason, "note": self.note}


class _Deadline:
    def __init__(self, seconds: Optional[float]):
        self.end = None if seconds is None else time.monotonic() + seconds

    def ms(self) -> int:
        """Remaining time in ms for a Z3 call (at least 1)."""
        if self.end is None:
            return 0
        return max(1, int((self.end - time.monotonic()) * 1000))

    def over(self) -> bool:
        return self.end is not None and time.monotonic() >= self.end


def _solver(deadline: _Deadline) -> z3.Solver:
    s = z3.Solver()
    # measured: without relevancy filtering the SAT core is ~40% faster on
    # these disjunctive table encodings
    s.set("relevancy", 0)
    if deadline.end is not None:
        s.set("timeout", deadline.ms())
    return s


# --- engines -------------------------------------------------------------------------

def _distinct(enc: Encoding, a: dict, b: dict) -> z3.BoolRef:
    return z3.Or([a[n] != b[n] for n in enc.names])


class _Unknown(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _unknown_method(exc: _Unknown, deadline: _Deadline) -> str:
    return "timeout" if deadline.over() or "timeout" in exc.reason else "z3"


def _reason(s: z3.Solver) -> str:
    text = " ".join(s.reason_unknown().split())
    return text if len(text) <= 120 else text[:117] + "..."


def _check(s: z3.Solver, what: str, deadline: Optional[_Deadline] = None) -> z3.CheckSatResult:
    if deadline is not None and deadline.end is not None:
        s.set("timeout", deadline.ms())
    r = s.check()
    if r == z3.unknown:
        raise _Unknown(f"{what}: z3 returned unknown ({_reason(s)})")
    return r


class Unrolling:
    """Incremental bounded model checking: ``init`` at step 0 and one
    transition per :meth:`extend`; :meth:`violation` asks for a path to the
    current last step that violates a property."""

    def __init__(self, enc: Encoding, deadline: _Deadline):
        self.enc, self.deadline = enc, deadline
        self.solver = _solver(deadline)
        self.solver.add(enc.at(enc.init, 0))
        self.depth = 0

    def extend(self) -> None:
        self.solver.add(self.enc.at(self.enc.trans, self.depth))
        self.depth += 1

    def violation(self, prop: z3.BoolRef) -> Optional[list]:
        """The path (abstract states) to a state at the current depth where
        ``prop`` fails, or None."""
        s = self.solver
        s.push()
        try:
            s.add(z3.Not(self.enc.at(prop, self.depth)))
            if _check(s, f"BMC depth {self.depth}", self.deadline) == z3.sat:
                m = s.model()
                return [self.enc.decode(m, self.enc.step_vars(i)) for i in range(self.depth + 1)]
            return None
        finally:
            s.pop()


def bmc(enc: Encoding, prop: z3.BoolRef, depth: int, deadline: _Deadline,
        start: int = 0) -> Optional[list]:
    """Bounded model checking: the shortest path (abstract states) from the
    initial state to a state violating ``prop``, of length <= ``depth``, or
    None.  Lengths below ``start`` are not checked (known clean)."""
    u = Unrolling(enc, deadline)
    while True:
        if u.depth >= start:
            path = u.violation(prop)
            if path is not None:
                return path
        if u.depth >= depth:
            return None
        if deadline.over():
            raise _Unknown(f"timeout during BMC at depth {u.depth}")
        u.extend()


def k_induction_step(enc: Encoding, prop: z3.BoolRef, k: int, deadline: _Deadline) -> bool:
    """The inductive step of k-induction with simple paths: no path of k + 1
    distinct states has ``prop`` on its first k and not on its last."""
    s = _solver(deadline)
    for i in range(k):
        s.add(enc.at(prop, i), enc.at(enc.trans, i))
    s.add(z3.Not(enc.at(prop, k)))
    for i in range(k + 1):
        for j in range(i + 1, k + 1):
            s.add(_distinct(enc, enc.step_vars(i), enc.step_vars(j)))
    return _check(s, f"{k}-induction step", deadline) == z3.unsat


def spacer(enc: Encoding, prop: z3.BoolRef, deadline: _Deadline) -> Optional[z3.BoolRef]:
    """Spacer on the Horn clauses Init => Inv, Inv /\\ T => Inv', Inv =>
    prop.  Returns the inductive invariant (a formula over ``enc.X``) or None
    when the clauses are unsatisfiable (the invariant fails)."""
    xs, ys = enc.state_vars(enc.X), enc.state_vars(enc.Y)
    inv = z3.Function("Inv", *[v.sort() for v in xs], z3.BoolSort())
    s = z3.SolverFor("HORN")
    if deadline.end is not None:
        s.set("timeout", deadline.ms())
    s.add(z3.ForAll(xs, z3.Implies(enc.init, inv(*xs))))
    s.add(z3.ForAll(xs + ys, z3.Implies(z3.And(inv(*xs), enc.trans), inv(*ys))))
    s.add(z3.ForAll(xs, z3.Implies(z3.And(inv(*xs), z3.Not(prop)), z3.BoolVal(False))))
    r = _check(s, "Spacer")
    if r == z3.unsat:
        return None
    interp = s.model()[inv]
    if interp is None:
        return z3.BoolVal(False)
    if isinstance(interp, z3.FuncInterp):
        # Var(i) of the interpretation is argument i
        f = z3.substitute_vars(interp.else_value(), *xs)
        for j in reversed(range(interp.num_entries())):
            e = interp.entry(j)
            f = z3.If(z3.And([x == e.arg_value(i) for i, x in enumerate(xs)]), e.value(), f)
        return f
    return z3.substitute_vars(interp, *xs)  # pragma: no cover - a lambda


def check_inductive(enc: Encoding, inv: z3.BoolRef, prop: z3.BoolRef, deadline: _Deadline) -> str:
    """Re-check a claimed inductive invariant: "" if Init => inv, inv /\\ T =>
    inv' and inv => prop all hold, else which one fails."""
    inv_y = z3.substitute(inv, *[(enc.X[n], enc.Y[n]) for n in enc.names])
    for what, f in (("initiation", z3.And(enc.init, z3.Not(inv))),
                    ("consecution", z3.And(inv, enc.trans, z3.Not(inv_y))),
                    ("safety", z3.And(inv, z3.Not(prop)))):
        s = _solver(deadline)
        s.add(f)
        if _check(s, f"re-checking the invariant ({what})", deadline) != z3.unsat:
            return what
    return ""


def readable(enc: Encoding, inv: z3.BoolRef) -> str:
    """Spacer's invariant, simplified and in the spec's terms."""
    try:
        g = z3.Goal()
        g.add(inv)
        simp = z3.Tactic("ctx-simplify")(g).as_expr()
    except z3.Z3Exception:  # pragma: no cover - keep the raw formula
        simp = z3.simplify(inv)
    return render(simp, enc.field_of_var())


# --- counterexamples ----------------------------------------------------------------

def _needs_env(enc: Encoding, path: list) -> bool:
    t = enc.t
    return any(y not in t.successors(x, env=False) for x, y in zip(path, path[1:]))


def concretize(enc: Encoding, path: list, invariant: str, inv_obj=None
               ) -> tuple[Any, Counterexample]:
    """Turn an abstract path into a run of ``build(..., neighbours=N)``
    (N = 1 if it needs no environment step, else 2): at each step an enabled
    action whose result projects onto neighbour N1 as the next abstract
    state (own actions first; for an environment step, an action of N2 that
    leaves N2 as it is if there is one).  Returns (system, Counterexample)."""
    t = enc.t
    n = 2 if _needs_env(enc, path) else 1
    system = build(t.profile, t.design, n, t.regime)
    s = system.init()
    if project(s, 0) != (t.locals[path[0][0]], path[0][1], path[0][2]):
        raise EncodingError("abstract path does not start in the initial state")
    states, actions = [s], []
    for y in path[1:]:
        want = (t.locals[y[0]], y[1], y[2])
        best = None
        for a in system.actions(s):
            r = system.step(s, a).state
            if project(r, 0) != want:
                continue
            neigh = getattr(a, "neigh", None)
            rank = (0 if neigh == system.keys[0] else 1 if neigh is None else
                    2 if (r.neigh[1:], r.bkn_tbl[1:]) == (s.neigh[1:], s.bkn_tbl[1:]) else 3)
            if best is None or rank < best[0]:
                best = (rank, a, r)
        if best is None:
            raise EncodingError(f"abstract step to {want!r} has no action in {s!r}")
        actions.append(best[1])
        s = best[2]
        states.append(s)
    inv = inv_obj if inv_obj is not None else INVARIANTS[invariant]
    if inv.holds(system, s):
        raise EncodingError(f"concretized run does not violate {invariant}")
    return system, Counterexample(invariant, actions, states)


# --- invariants ---------------------------------------------------------------------

def prove_invariants(profile: str, design: Optional[str], regime: str, invariants: list,
                     env: bool = True, timeout: Optional[float] = DEFAULT_TIMEOUT,
                     bmc_only: Optional[int] = None, engine: str = "auto",
                     inv_objs: Optional[dict] = None) -> list:
    """Decide each invariant; one :class:`ProofResult` per name, in order.

    ``env`` True: for every N (the abstraction with environment steps);
    False: for N = 1 exactly.  ``bmc_only``: only BMC to that depth.
    ``engine``: "auto" (BMC with k-induction up to :data:`MAX_K`, then
    Spacer), "kind" (no Spacer), "spacer" (no k-induction).  ``inv_objs``:
    name -> :class:`~nudspec.models.system.Invariant` for invariants not in
    INVARIANTS (tests).

    Order: depth 0, the 1-induction step, BMC to depth :data:`DEFAULT_BMC`
    (all invariants share one incremental unrolling; depth d is checked for
    every open invariant before d + 1, so each counterexample is a shortest
    one), k-induction for k = 2..MAX_K (base case: the clean depths), then
    Spacer.  ``timeout`` bounds the shared phase, and then each Spacer run.
    ``seconds`` of a result: from the start to its verdict."""
    t0 = time.monotonic()
    inv_objs = inv_objs or {}
    enc = encoding(profile, design, regime, env)
    props = {name: enc.prop(name, inv_objs.get(name)) for name in invariants}
    scope = "N>=1" if env else "N=1"
    results: dict = {}

    def result(name, verdict, method, k, **kw):
        results[name] = ProofResult(profile, design, regime, name, verdict, method, k,
                                    time.monotonic() - t0, scope, **kw)

    def refuted(name, path):
        system, cex = concretize(enc, path, name, inv_objs.get(name))
        result(name, REFUTED, "bmc", len(path) - 1, counterexample=cex,
               neighbours=len(system.keys))

    deadline = _Deadline(timeout)
    open_ = list(invariants)
    depth = bmc_only if bmc_only is not None else DEFAULT_BMC
    use_kind = bmc_only is None and engine in ("auto", "kind")

    def violations(u):
        for name in list(open_):
            path = u.violation(props[name])
            if path is not None:
                refuted(name, path)
                open_.remove(name)

    def induction(k):
        for name in list(open_):
            if k_induction_step(enc, props[name], k, deadline):
                result(name, PROVED, "k-induction", k)
                open_.remove(name)

    try:
        # depth 0 (the base case of 1-induction), then the 1-induction step:
        # on this encoding most invariants that hold are 1-inductive (the
        # domain of local states is itself a strong invariant)
        u = Unrolling(enc, deadline)
        violations(u)
        if use_kind:
            induction(1)
        while open_ and u.depth < depth:
            if deadline.over():
                raise _Unknown(f"timeout during BMC at depth {u.depth}")
            u.extend()
            violations(u)
        # k-induction for k <= MAX_K: its base case (depths < k) is done
        if use_kind:
            for k in range(2, MAX_K + 1):
                induction(k)
    except _Unknown as exc:
        for name in open_:
            result(name, UNKNOWN, _unknown_method(exc, deadline), None, reason=exc.reason)
        open_ = []
    for name in open_:
        if bmc_only is not None:
            result(name, BOUNDED, "bmc", bmc_only)
        elif engine == "kind":
            result(name, UNKNOWN, "k-induction", MAX_K,
                   reason=f"not {MAX_K}-inductive; no violation within {depth} steps")
        else:
            _spacer_phase(enc, name, props[name], depth, timeout, result, refuted)
    return [results[name] for name in invariants]


def _spacer_phase(enc: Encoding, name: str, prop: z3.BoolRef, depth: int,
                  timeout: Optional[float], result, refuted) -> None:
    deadline = _Deadline(timeout)
    try:
        inv = spacer(enc, prop, deadline)
        if inv is None:
            # the invariant fails: the shortest run, by deeper BMC
            bound = 4 * len(enc.t.locals) * len(enc.t.fdb_valuations())
            path = bmc(enc, prop, bound, deadline, start=depth + 1)
            if path is None:
                raise _Unknown(f"Spacer refutes, but BMC found no run within {bound} steps")
            refuted(name, path)
            return
        bad = check_inductive(enc, inv, prop, deadline)
        if bad:
            result(name, UNKNOWN, "spacer", None,
                   reason=f"Spacer's invariant failed re-checking ({bad})")
            return
        result(name, PROVED, "spacer", None, invariant_found=readable(enc, inv))
    except _Unknown as exc:
        result(name, UNKNOWN, _unknown_method(exc, deadline), None, reason=exc.reason)


def prove_invariant(profile: str, design: Optional[str], regime: str, invariant: str,
                    env: bool = True, timeout: Optional[float] = DEFAULT_TIMEOUT,
                    bmc_only: Optional[int] = None, engine: str = "auto",
                    inv_obj=None) -> ProofResult:
    """:func:`prove_invariants` for one invariant."""
    return prove_invariants(profile, design, regime, [invariant], env, timeout, bmc_only,
                            engine, {invariant: inv_obj} if inv_obj is not None else None)[0]


def prove_all(profile: str, design: Optional[str], regime: str, invariants: list,
              timeout: Optional[float] = DEFAULT_TIMEOUT, bmc_only: Optional[int] = None,
              engine: str = "auto") -> list:
    """Each invariant for every N.  A counterexample that needs a second
    neighbour is followed by the verdict for N = 1 alone (``note``)."""
    out = prove_invariants(profile, design, regime, invariants, True, timeout, bmc_only, engine)
    multi = [r for r in out if r.verdict == REFUTED and r.neighbours and r.neighbours > 1]
    if multi:
        alone = prove_invariants(profile, design, regime, [r.invariant for r in multi], False,
                                 timeout, bmc_only, engine)
        for r, r1 in zip(multi, alone):
            r.note = (f"needs a second neighbour; for N = 1 alone: {r1.verdict} ({r1.method}"
                      + (f", k={r1.k})" if r1.k is not None else ")"))
    return out


# --- the reduction, checked ---------------------------------------------------------

@dataclass
class ReductionReport:
    """Result of :func:`check_reduction` for one N."""
    neighbours: int
    states: int
    transitions: int
    pairs: int
    seconds: float
    mode: str
    failures: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_json(self) -> dict:
        return {"neighbours": self.neighbours, "mode": self.mode, "states": self.states,
                "transitions": self.transitions, "projected_pairs": self.pairs,
                "seconds": round(self.seconds, 2), "ok": self.ok,
                "failures": [str(f) for f in self.failures[:10]]}


def _reduction_states(t, n: int, sample: Optional[int], seed: int):
    system = build(t.profile, t.design, n, t.regime)
    if sample is None:
        for lids in itertools.product(range(len(t.locals)), repeat=n):
            ls = [t.locals[i] for i in lids]
            present = [k for k, l in zip(system.keys, ls) if l[0] is not None]
            for lu in (True, False):
                for order in itertools.permutations(present):
                    yield system, make_state(system, lu, [l[0] for l in ls], [l[1] for l in ls],
                                             t.fdb0, order), lids
        return
    rng = random.Random(seed)
    vals = t.fdb_valuations()
    for _ in range(sample):
        lids = [rng.randrange(len(t.locals)) for _ in range(n)]
        ls = [t.locals[i] for i in lids]
        order = list(system.keys)
        rng.shuffle(order)
        yield system, make_state(system, rng.random() < 0.5, [l[0] for l in ls],
                                 [l[1] for l in ls], rng.choice(vals), order), lids


def check_reduction(profile: str, design: Optional[str], regime: str, n: int = 2,
                    sample: Optional[int] = None, seed: int = 0,
                    invariants: Optional[list] = None,
                    enc: Optional[Encoding] = None) -> ReductionReport:
    """Check, for N = ``n``, that every transition of ``build(...,
    neighbours=n)`` projected onto each neighbour is a transition or a
    stutter of the abstract model with environment steps (Z3: no projected
    pair falsifies ``Encoding.trans``), and that each invariant of the N
    system is the conjunction of the per-neighbour predicate.

    States: every combination of local states, both link states, every
    device-list order and the initial FDB (``sample`` None), or ``sample``
    random states with random FDBs.  ``enc``: the abstract model to check
    against (default: the one with environment steps)."""
    t0 = time.monotonic()
    t = tables(profile, design, regime)
    enc = enc if enc is not None else encoding(profile, design, regime, True)
    names = list(invariants) if invariants is not None else list(INVARIANTS)
    bad = {name: t.bad(name) for name in names}
    pairs: set = set()
    failures: list = []
    states = transitions = 0
    for system, s, lids in _reduction_states(t, n, sample, seed):
        states += 1
        xs = [(lid, s.link_up, tuple(s.fdb)) for lid in lids]
        for name in names:
            want = all(x not in bad[name] for x in xs)
            if INVARIANTS[name].holds(system, s) != want:
                failures.append(f"{name} is not the conjunction of its per-neighbour predicate "
                                f"in {s!r}")
        for a in system.actions(s):
            r = system.step(s, a).state
            transitions += 1
            for i, x in enumerate(xs):
                (loc, lu, fdb) = project(r, i)
                lid = t.index.get(loc)
                if lid is None:
                    failures.append(f"{a!r} from {s!r} leaves neighbour {i + 1} in a local state "
                                    f"outside the domain: {loc!r}")
                    continue
                y = (lid, lu, fdb)
                if y != x:
                    pairs.add((x, y))
        if len(failures) > 20:
            break
    # Z3: per local state l, substitute l into the encoding and ask for a
    # projected step from l that the encoding does not allow.
    by_local: dict = {}
    for x, y in pairs:
        by_local.setdefault(x[0], []).append((x, y))
    for lid, ps in sorted(by_local.items()):
        vals = z3enc.local_values(t.locals[lid])
        sub = [(enc.X[f.name], f.z3val(vals[f.name])) for f in enc.lfields if not f.constant]
        steps = z3enc.fast_or([z3enc.fast_and([enc.is_state(enc.X, x), enc.is_state(enc.Y, y)])
                               for x, y in sorted(ps, key=repr)])
        sv = z3.Tactic("smt").solver()
        sv.add(z3.substitute(z3.And(steps, z3.Not(enc.trans)), *sub))
        if sv.check() != z3.unsat:
            m = sv.model()
            failures.append(f"projected step from local state {lid} to {enc.decode(m, enc.Y)} "
                            f"is not a step of the abstract model")
    return ReductionReport(n, states, transitions, len(pairs), time.monotonic() - t0,
                           "all local-state combinations" if sample is None
                           else f"{sample} random states", failures)


# --- the encoding, checked against the spec ----------------------------------------

@dataclass
class ConformanceReport:
    """Result of :func:`check_conformance`."""
    states: int
    transitions: int
    seconds: float
    failures: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def check_conformance(profile: str, design: Optional[str], regime: str,
                      invariants: Optional[list] = None, enc: Optional[Encoding] = None,
                      lids: Optional[Iterable] = None) -> ConformanceReport:
    """Z3 finds no input on which the encoding and the executable spec
    differ: for every abstract state of the domain (every local state,
    link state and FDB) the successors ``Encoding(env=False).trans`` allows
    are exactly the states ``System.step`` reaches by the actions
    ``System.actions`` enables in the one-neighbour model, and each
    invariant's formula is true exactly where its ``holds`` is.

    ``enc``: check this encoding instead (tests: a mutated one); ``lids``:
    only these local states of X (and skip the invariants)."""
    t0 = time.monotonic()
    t = tables(profile, design, regime)
    enc = enc if enc is not None else encoding(profile, design, regime, False)
    only = set(lids) if lids is not None else None
    sys1 = t.system   # System.step itself; its per-entry cache memoises a pure function
    failures: list = []
    succ: dict = {}
    states = transitions = 0
    names = list(invariants) if invariants is not None else list(INVARIANTS)
    good: dict = {name: [] for name in names}
    for x in t.abstract_states():
        lid, lu, fdb = x
        if only is not None and lid not in only:
            continue
        loc = t.locals[lid]
        s = make_state(sys1, lu, (loc[0],), (loc[1],), fdb)
        states += 1
        for name in names:
            if INVARIANTS[name].holds(sys1, s):
                good[name].append(x)
        ys = succ.setdefault(x, [])
        for a in sys1.actions(s):
            r = sys1.step(s, a).state
            transitions += 1
            l2 = t.index.get((r.neigh[0], r.bkn_tbl[0]))
            if l2 is None:
                failures.append(f"{a!r} from {s!r} leaves the domain")
                continue
            ys.append((l2, r.link_up, tuple(r.fdb)))
    # Per local state l of X: substitute l's values into the whole encoding
    # (Z3 then dispatches to l's branch) and ask for a link state, an FDB
    # and a next state Y, all in the domain, on which the encoding and the
    # spec's transitions from l disagree.
    dom_y = z3.substitute(enc.dom, *[(enc.X[n], enc.Y[n]) for n in enc.names])
    by_local: dict = {}
    for x, ys in succ.items():
        by_local.setdefault(x[0], []).append((x, ys))
    for lid, xs in sorted(by_local.items()):
        vals = z3enc.local_values(t.locals[lid])
        sub = [(enc.X[f.name], f.z3val(vals[f.name])) for f in enc.lfields if not f.constant]
        spec = z3enc.fast_or([
            z3enc.fast_and([enc.is_state(enc.X, x),
                            z3enc.fast_or([enc.is_state(enc.Y, y) for y in sorted(set(ys), key=repr)])])
            for x, ys in xs])
        solver = z3.Tactic("smt").solver()
        solver.add(enc.dom, dom_y, z3.substitute(enc.trans != spec, *sub))
        if solver.check() != z3.unsat:
            m = solver.model()
            failures.append(f"from local state {lid} ({t.locals[lid]!r}), link_up="
                            f"{m.eval(enc.X['link_up'])}: the encoding and the spec disagree on "
                            f"the step to {enc.decode(m, enc.Y)}")
    for name in (names if only is None else []):
        s2 = z3.Tactic("smt").solver()
        spec = z3enc.fast_or([enc.is_state(enc.X, x) for x in good[name]])
        s2.add(enc.dom, enc.prop(name) != spec)
        if s2.check() != z3.unsat:
            failures.append(f"invariant {name} differs at {enc.decode(s2.model(), enc.X)}")
    return ConformanceReport(states, transitions, time.monotonic() - t0, failures)


# --- lemmas about __neigh_update -----------------------------------------------------

#: Addresses as Z3 integers in lemmas: NULL / zeroed = 0, M1 = 1, M2 = 2.
ADDRESSES = (None, "M1", "M2")


def addr(v: Optional[str]) -> z3.ArithRef:
    """An address (or None) as the Z3 integer lemmas compare ``ha`` with."""
    return z3.IntVal(ADDRESSES.index(v))


def _bv(v: Any) -> z3.ExprRef:
    if isinstance(v, z3.ExprRef):
        return v
    if isinstance(v, bool):
        return z3.BoolVal(v)
    return z3.BitVecVal(int(v), z3enc.W)


#: The result variables a lemma's conclusion talks about, with their sorts.
_OUT_SORTS = {
    "nud_state": "bv", "flags": "bv", "probes": "bv", "err": "bv", "notify_nud": "bv",
    "timer": "bool", "arp_queue": "bool", "dead": "bool", "confirmed_fresh": "bool",
    "notify": "bool", "netevent": "bool", "silent": "bool",
    "ha": "addr", "notify_lladdr": "addr",
}


def _out_vars() -> dict:
    out = {}
    for k, sort in _OUT_SORTS.items():
        out[k] = (z3.BitVec(f"{k}'", z3enc.W) if sort == "bv" else
                  z3.Bool(f"{k}'") if sort == "bool" else z3.Int(f"{k}'"))
    return out


def _case_values(out: dict) -> dict:
    vals = dict(out)
    vals["silent"] = not out["emissions"]
    if vals["notify_nud"] is None:
        vals["notify_nud"] = 0
    return vals


def relation(table: z3enc.UpdateTable, ctx: tuple, outs: dict) -> z3.BoolRef:
    """The table of one context as a relation between the inputs and the
    result variables ``outs``: the case whose path condition holds fixes
    every result variable."""
    eqs_memo: dict = {}

    def eq(k, sort, v):
        # concrete values repeat across cases: build each equation once
        key = (k, v) if not isinstance(v, z3.ExprRef) else None
        if key is not None and key in eqs_memo:
            return eqs_memo[key]
        e = outs[k] == (addr(v) if sort == "addr" else _bv(v))
        if key is not None:
            eqs_memo[key] = e
        return e

    alts = []
    for c in table.contexts[ctx]:
        vals = _case_values(c.out)
        alts.append(z3enc.fast_and([c.pc] + [eq(k, sort, vals[k]) for k, sort in _OUT_SORTS.items()]))
    return z3enc.fast_or(alts)


@dataclass(frozen=True)
class Lemma:
    """A named statement about ``__neigh_update``: at every input point of
    every context where ``hyp(i, ctx)`` holds, ``concl(i, o, ctx)`` holds of
    the result.  ``i``: the inputs (``old``, ``new``, ``flags``, ``nflags``
    as 32-bit terms; ``dead``, ``timer``, ``arp_queue``, ``confirmed_fresh``
    Bools; ``ha``, ``lladdr`` as :func:`addr` integers); ``o``: the result
    variables of :data:`_OUT_SORTS` (primed)."""
    name: str
    statement: str
    hyp: Callable
    concl: Callable


def _inputs(table: z3enc.UpdateTable, ctx: tuple) -> dict:
    inp = {}
    for k, v in table.inputs.items():
        inp[k] = v if z3.is_bool(v) else z3.ZeroExt(z3enc.W - v.size(), v)
    inp["ha"], inp["lladdr"] = addr(ctx[0]), addr(ctx[1])
    return inp


def _c(x) -> int:
    return int(x)


def _unchanged(i, o) -> z3.BoolRef:
    return z3.And(o["nud_state"] == i["old"], o["flags"] == i["nflags"], o["ha"] == i["ha"],
                  o["timer"] == i["timer"], o["arp_queue"] == i["arp_queue"])


def _reaches_update(i) -> z3.BoolRef:
    """Not dead, not a static entry refused to a non-admin, not USE/MANAGED."""
    return z3.And(z3.Not(i["dead"]),
                  z3.Or(i["flags"] & _c(NEIGH_UPDATE_F_ADMIN) != 0,
                        i["old"] & _c(NUD_NOARP | NUD_PERMANENT) == 0),
                  i["flags"] & _c(NEIGH_UPDATE_F_USE | NEIGH_UPDATE_F_MANAGED) == 0)


def _single(x) -> z3.BoolRef:
    return z3.Or([x == int(s) for s in NUD_STATES])


LEMMAS: tuple = (
    Lemma("dead_entry_untouched",
          "neigh->dead => err == -EPERM, the entry is unchanged and nothing is emitted",
          lambda i: i["dead"],
          lambda i, o: z3.And(o["err"] == _bv(-1), _unchanged(i, o), o["silent"])),
    Lemma("nonadmin_static_untouched",
          "!(flags & ADMIN) && (old & (NOARP|PERMANENT)) => the entry is unchanged and nothing "
          "is emitted",
          lambda i: z3.And(i["flags"] & _c(NEIGH_UPDATE_F_ADMIN) == 0,
                           i["old"] & _c(NUD_NOARP | NUD_PERMANENT) != 0),
          lambda i, o: z3.And(_unchanged(i, o), o["silent"])),
    Lemma("unchanged_is_silent",
          "old is one NUD state (or NONE) && nud_state, ha and neigh->flags unchanged => no "
          "RTM_NEWNEIGH",
          lambda i: _single(i["old"]),
          lambda i, o: z3.Implies(z3.And(o["nud_state"] == i["old"], o["flags"] == i["nflags"],
                                         o["ha"] == i["ha"]), z3.Not(o["notify"]))),
    Lemma("invalid_new_on_valid_notifies",
          "!dead && (flags & ADMIN || !(old & (NOARP|PERMANENT))) && !(flags & (USE|MANAGED)) "
          "&& (old & VALID) && !(new & VALID) => RTM_NEWNEIGH with ndm_state == new",
          lambda i: z3.And(_reaches_update(i), i["old"] & _c(NUD_VALID) != 0,
                           i["new"] & _c(NUD_VALID) == 0),
          lambda i, o: z3.And(o["notify"], o["notify_nud"] == i["new"])),
    Lemma("no_lladdr_on_invalid_is_einval",
          "!dead && (flags & ADMIN || !(old & (NOARP|PERMANENT))) && !(flags & (USE|MANAGED)) "
          "&& !(old & VALID) && (new & VALID) && lladdr == NULL => err == -EINVAL and nud_state "
          "unchanged",
          lambda i: z3.And(_reaches_update(i), i["old"] & _c(NUD_VALID) == 0,
                           i["new"] & _c(NUD_VALID) != 0, i["lladdr"] == addr(None)),
          lambda i, o: z3.And(o["err"] == _bv(-22), o["nud_state"] == i["old"])),
    Lemma("weak_override_keeps_address",
          "!dead && (flags & ADMIN || !(old & (NOARP|PERMANENT))) && !(flags & (USE|MANAGED)) "
          "&& (old & CONNECTED) && lladdr != NULL && lladdr != ha && (flags & WEAK_OVERRIDE) && "
          "!(flags & OVERRIDE) && (new & VALID) => ha unchanged and nud_state == STALE",
          lambda i: z3.And(_reaches_update(i), i["old"] & _c(NUD_CONNECTED) != 0,
                           i["lladdr"] != addr(None), i["lladdr"] != i["ha"],
                           i["flags"] & _c(NEIGH_UPDATE_F_WEAK_OVERRIDE) != 0,
                           i["flags"] & _c(NEIGH_UPDATE_F_OVERRIDE) == 0,
                           i["new"] & _c(NUD_VALID) != 0),
          lambda i, o: z3.And(o["ha"] == i["ha"], o["nud_state"] == int(Nud.STALE))),
    Lemma("timer_only_in_timer_states",
          "(timer => old & NUD_IN_TIMER) => (timer' => nud_state' & NUD_IN_TIMER): type_ok's "
          "timer clause is preserved",
          lambda i: z3.Implies(i["timer"], i["old"] & _c(NUD_IN_TIMER) != 0),
          lambda i, o: z3.Implies(o["timer"], o["nud_state"] & _c(NUD_IN_TIMER) != 0)),
    Lemma("valid_has_address",
          "(old & VALID => ha != NULL) => (nud_state' & VALID => ha' != NULL): a valid entry "
          "always has an lladdr to show",
          lambda i: z3.Implies(i["old"] & _c(NUD_VALID) != 0, i["ha"] != addr(None)),
          lambda i, o: z3.Implies(o["nud_state"] & _c(NUD_VALID) != 0, o["ha"] != addr(None))),
)


@dataclass
class LemmaResult:
    """``verdict`` PROVED, REFUTED (with ``witness``: the input values and
    the spec's result at a point where the lemma fails), VACUOUS (no input
    satisfies the hypothesis) or UNKNOWN."""
    name: str
    statement: str
    verdict: str
    seconds: float
    cases: int
    witness: Optional[dict] = None
    reason: Optional[str] = None

    def as_json(self) -> dict:
        return {"lemma": self.name, "statement": self.statement, "verdict": self.verdict,
                "seconds": round(self.seconds, 3), "cases": self.cases,
                "witness": self.witness, "reason": self.reason}


def _flagname(v: Any) -> str:
    name = getattr(v, "name", None)
    return f"{type(v).__name__}.{name}" if name else f"{type(v).__name__}(0)"


def _point(table: z3enc.UpdateTable, m: z3.ModelRef) -> dict:
    vals = {}
    for k, x in table.inputs.items():
        v = m.eval(x, model_completion=True)
        vals[k] = z3.is_true(v) if z3.is_bool(x) else v.as_long()
    return vals


def _show_point(vals: dict, ctx: tuple) -> dict:
    return {
        "old": f"{_flagname(Nud(vals['old']))} ({vals['old']:#04x})",
        "new": f"{_flagname(Nud(vals['new']))} ({vals['new']:#04x})",
        "flags": f"{_flagname(UpdateFlag(vals['flags']))} ({vals['flags']:#05x})",
        "neigh_flags": f"{_flagname(Ntf(vals['nflags']))} ({vals['nflags']:#06x})",
        "ha": ctx[0], "lladdr": ctx[1],
        **{b: vals[b] for b in ("dead", "timer", "arp_queue", "confirmed_fresh")},
    }


class LemmaChecker:
    """The case table of a profile's ``__neigh_update`` loaded into one
    incremental Z3 solver per context; :meth:`check` asks, per context,
    for an input where the hypothesis holds and the result violates the
    conclusion."""

    def __init__(self, table: z3enc.UpdateTable):
        self.table = table
        self.outs = _out_vars()
        self.solvers = {}
        for ctx in table.contexts:
            s = z3.Solver()
            s.add(table.assume, relation(table, ctx, self.outs))
            self.solvers[ctx] = s

    def check(self, lemma: Lemma, timeout: Optional[float] = None) -> LemmaResult:
        t0 = time.monotonic()
        for ctx, s in self.solvers.items():
            i = _inputs(self.table, ctx)
            s.push()
            if timeout is not None:
                s.set("timeout", max(1, int(timeout * 1000)))
            s.add(lemma.hyp(i), z3.Not(lemma.concl(i, self.outs)))
            r = s.check()
            model = s.model() if r == z3.sat else None
            reason = _reason(s) if r == z3.unknown else None
            s.pop()
            if r == z3.unknown:
                return LemmaResult(lemma.name, lemma.statement, UNKNOWN, time.monotonic() - t0,
                                   self.table.cases, reason=reason)
            if r == z3.sat:
                vals = _point(self.table, model)
                w = _show_point(vals, ctx)
                w["result"] = z3enc.concrete_update_result(self.table, ctx, vals)
                return LemmaResult(lemma.name, lemma.statement, REFUTED, time.monotonic() - t0,
                                   self.table.cases, witness=w)
        # not vacuous: some input of some context satisfies the hypothesis
        for ctx, s in self.solvers.items():
            s.push()
            s.add(lemma.hyp(_inputs(self.table, ctx)))
            r = s.check()
            s.pop()
            if r == z3.sat:
                return LemmaResult(lemma.name, lemma.statement, PROVED, time.monotonic() - t0,
                                   self.table.cases)
        return LemmaResult(lemma.name, lemma.statement, VACUOUS, time.monotonic() - t0,
                           self.table.cases, reason="no input satisfies the hypothesis")


_CHECKERS: dict = {}


def lemma_checker(profile: str) -> LemmaChecker:
    """The :class:`LemmaChecker` of a profile's parms (cached)."""
    parms = get_profile(profile).parms
    if parms not in _CHECKERS:
        _CHECKERS[parms] = LemmaChecker(z3enc.neigh_update_cases(parms))
    return _CHECKERS[parms]


def check_lemmas(profile: str, lemmas: tuple = LEMMAS, timeout: Optional[float] = None) -> list:
    """Check ``lemmas`` against the profile's ``__neigh_update``."""
    checker = lemma_checker(profile)
    return [checker.check(lem, timeout) for lem in lemmas]


# --- command line -----------------------------------------------------------------------

class _Usage(Exception):
    pass


def _error(msg: str) -> int:
    print(f"check-spec: error: {msg}", file=sys.stderr)
    return 2


def add_parser(subparsers) -> None:
    """Add the ``prove`` subcommand."""
    p = subparsers.add_parser(
        "prove", help="Z3: prove or refute the invariants for every number of neighbours",
        description="Prove (k-induction, Spacer) or refute (bounded model checking, shortest "
                    "counterexample) each invariant of a profile x design for every number of "
                    "neighbours (docs/prove.md); --lemmas: bit-precise lemmas about "
                    "__neigh_update.  Exit 0: all proved (or bounded); 1: something refuted; "
                    "3: something unknown; 2: bad input.")
    p.add_argument("--profile", default="linux-6.18", help="kernel profile (default linux-6.18)")
    p.add_argument("--design", default="seed-scheme1", help="driver design (default seed-scheme1)")
    p.add_argument("--invariant", action="append", metavar="NAME",
                   help="only this invariant (repeatable; default: the design invariants)")
    p.add_argument("--regime", default="large", choices=REGIMES,
                   help="GC regime: large (default: GC may remove any eligible entry at any time) "
                        "or small")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="S",
                   help=f"seconds per invariant before UNKNOWN (default {DEFAULT_TIMEOUT:g})")
    p.add_argument("--bmc", type=int, metavar="K",
                   help="only bounded model checking to depth K (verdict REFUTED or BOUNDED)")
    p.add_argument("--engine", default="auto", choices=("auto", "kind", "spacer"),
                   help="after BMC: k-induction then Spacer (auto), k-induction only, or Spacer")
    p.add_argument("--out", default=DEFAULT_OUT,
                   help=f"directory for counterexamples (default {DEFAULT_OUT})")
    p.add_argument("--lemmas", action="store_true",
                   help="check the bit-precise lemmas about __neigh_update instead")
    p.add_argument("--reduction", action="store_true",
                   help="also check the N-neighbour reduction with Z3 (N = 2 on every "
                        "local-state pair, N = 3 on a sample; takes minutes)")
    p.set_defaults(func=prove_main)


def _validate(args) -> list:
    if args.profile not in PROFILES:
        raise _Usage(f"unknown profile {args.profile!r} (known: {', '.join(PROFILES)})")
    if args.design not in DESIGNS:
        raise _Usage(f"unknown design {args.design!r} (known: {', '.join(DESIGNS)})")
    names = list(args.invariant) if args.invariant else list(DESIGN_INVARIANTS)
    for name in names:
        if name not in INVARIANTS:
            raise _Usage(f"unknown invariant {name!r} (known: {', '.join(INVARIANTS)})")
    if args.bmc is not None and args.bmc < 0:
        raise _Usage(f"--bmc must be >= 0, got {args.bmc}")
    if args.timeout is not None and args.timeout <= 0:
        raise _Usage(f"--timeout must be positive, got {args.timeout:g}")
    return names


def _write(result: ProofResult, out: Optional[str]) -> None:
    if result.counterexample is None or not out:
        return
    try:
        from .report import write_counterexample
    except ImportError:  # pragma: no cover - report.py not there yet
        return
    system = build(result.profile, result.design, result.neighbours, result.regime)
    result.files = tuple(write_counterexample(system, result.counterexample, out))


def _print_results(results: list) -> None:
    r0 = results[0]
    print(f"{r0.profile} x {r0.design}, {r0.regime} GC regime, every number of neighbours "
          f"(reduction: docs/prove.md)")
    head = ("invariant", "verdict", "method", "k", "seconds", "counterexample")
    rows = [head]
    for r in results:
        cex = "-"
        if r.counterexample is not None:
            cex = f"{len(r.counterexample)} steps, N={r.neighbours}"
            if r.files:
                cex += f": {r.files[1]}"
        rows.append((r.invariant, r.verdict, r.method, "-" if r.k is None else str(r.k),
                     f"{r.seconds:.2f}", cex))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    for row in rows:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    for r in results:
        if r.verdict == REFUTED:
            print(f"\n{r.invariant}: {INVARIANTS[r.invariant].statement}")
            print(f"  REFUTED: shortest counterexample, {len(r.counterexample)} steps on "
                  f"build({r.profile!r}, {r.design!r}, neighbours={r.neighbours}, "
                  f"regime={r.regime!r}):")
            for i, a in enumerate(r.counterexample.actions, 1):
                print(f"    {i}. {a!r}")
            if r.note:
                print(f"  ({r.note})")
        elif r.verdict == PROVED:
            how = (f"{r.k}-induction" if r.method == "k-induction"
                   else "an inductive invariant Spacer found (re-checked by Z3)")
            print(f"\n{r.invariant}: PROVED for every N by {how}")
            if r.invariant_found:
                print("  inductive invariant, per neighbour (one conjunct per line):")
                for line in r.invariant_found.splitlines():
                    print(f"  {line}")
        elif r.verdict == BOUNDED:
            print(f"\n{r.invariant}: no violation within {r.k} steps (not a proof)")
        else:
            print(f"\n{r.invariant}: UNKNOWN: {r.reason}")


def _print_lemmas(results: list, profile: str) -> None:
    table = lemma_checker(profile).table
    size = table.domain_size
    power = size.bit_length() - 1
    print(f"__neigh_update ({profile}): {table.cases} cases from the spec, covering "
          + (f"2^{power}" if size == 1 << power else str(size))
          + f" input points in each of {len(table.contexts)} (ha, lladdr) contexts "
          f"({table.seconds:.1f} s)")
    for r in results:
        print(f"  {r.verdict:<8} {r.name}: {r.statement}  ({r.seconds:.2f} s)")
        if r.witness is not None:
            w = dict(r.witness)
            res = w.pop("result")
            print(f"           counterexample: {w}")
            print(f"           the spec returns: {res}")
        if r.reason:
            print(f"           {r.reason}")


def prove_main(args) -> int:
    """``check-spec prove``; returns the exit code."""
    try:
        names = _validate(args)
    except _Usage as exc:
        return _error(str(exc))
    if args.lemmas:
        results = check_lemmas(args.profile, timeout=args.timeout)
        if args.json:
            print(json.dumps({"lemmas": [r.as_json() for r in results]}, indent=2, default=str))
        else:
            _print_lemmas(results, args.profile)
        if any(r.verdict in (REFUTED, VACUOUS) for r in results):
            return 1
        return 3 if any(r.verdict == UNKNOWN for r in results) else 0
    results = prove_all(args.profile, args.design, args.regime, names, args.timeout, args.bmc,
                        args.engine)
    for r in results:
        _write(r, args.out)
    reductions = []
    if args.reduction:
        reductions = [check_reduction(args.profile, args.design, args.regime, 2),
                      check_reduction(args.profile, args.design, args.regime, 3, sample=20000)]
    if args.json:
        doc = {"results": [r.as_json() for r in results]}
        if reductions:
            doc["reduction"] = [r.as_json() for r in reductions]
        print(json.dumps(doc, indent=2))
    else:
        _print_results(results)
        for rep in reductions:
            print(f"\nreduction, N={rep.neighbours} ({rep.mode}): {rep.states} states, "
                  f"{rep.transitions} transitions, {rep.pairs} projected steps: "
                  + ("every one a step of the abstract model (Z3)" if rep.ok
                     else "FAILED") + f" ({rep.seconds:.1f} s)")
            for f in rep.failures[:5]:
                print(f"  {f}")
    if any(not rep.ok for rep in reductions):
        return 1
    if any(r.verdict == REFUTED for r in results):
        return 1
    return 3 if any(r.verdict == UNKNOWN for r in results) else 0
