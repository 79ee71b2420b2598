"""Z3 encodings derived from the executable spec -- no second semantics.

Two encodings, both built by *running* the spec's Python functions:

1. **The per-neighbour model** (:class:`NeighbourTables`, :class:`Encoding`).
   The model is per-neighbour: an action names one neighbour, and
   ``System._step_entry`` computes its kernel + driver effect on that
   neighbour's slot alone; ``Flush``/``LinkDown`` act on every slot; the
   globals are ``link_up`` and the per-MAC ``fdb``.  We enumerate, with a
   one-neighbour :class:`~nudspec.models.system.System`, every local state
   (kernel entry, bkn_tbl entry) reachable from the initial one, and for
   each local state and link state every enabled action's successor: the
   new local state, the new link state and its effect on the FDB (each
   FDB slot either kept or set to a constant).  Those rows, plus the
   invariants evaluated on every abstract state, are the whole encoding:
   ``Encoding.trans`` is their disjunction over Z3 variables, one variable
   per field of the entry (``nud_state``, ``ha``, ``timer``, ...), so that
   an inductive invariant found by Spacer reads in the kernel's terms.
   With ``env=True`` the encoding adds *environment steps*: the FDB writes
   another neighbour's action can make (see ``docs/prove.md``).

2. **``__neigh_update`` as a case table** (:func:`neigh_update_cases`).
   The spec function is executed with Z3 bit-vectors for ``old``
   (``neigh->nud_state``, 8 bits), ``new`` (8 bits), ``flags`` (the 9
   NEIGH_UPDATE_F_* bits) and the entry's ``flags`` word (16 bits), and Z3
   booleans for ``dead``, ``timer``, ``arp_queue`` and ``confirmed_fresh``:
   every ``if`` on a symbolic value forks, and each feasible path gives one
   row -- a path condition and the symbolic result (entry, emissions,
   error).  The rows cover all 2^8 x 2^8 x 2^9 x ... inputs exactly once;
   lemmas are then checked over them bit-precisely.

Both are checked against concrete runs of the spec by ``tests/test_prove.py``.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterable, Optional

import z3

from nudspec.models.system import INVARIANTS, System, build
from nudspec.spec import neighbour as _neighbour_mod
from nudspec.spec.neighbour import NeteventCall, Neighbour, Parms, RtmNotify
from nudspec.spec.nud import NUD_STATES, RTM_NEWNEIGH


class EncodingError(RuntimeError):
    """The model no longer has the shape the encoding relies on (an FDB
    read, a per-neighbour action that changes the link, ...): the reduction
    of docs/prove.md must be revisited before any proof is trusted."""


# --- field codecs --------------------------------------------------------------

def _show_value(v: Any) -> str:
    if isinstance(v, enum.Flag):
        name = v.name
        if name and "|" not in name:
            return name
        return f"{type(v).__name__}({int(v):#x})"
    return repr(v)


@dataclass(frozen=True)
class Field:
    """One state variable: its name, every value it takes over the domain
    (Python values, as the spec has them) and its Z3 representation.

    ``kind``: "bool" (a Z3 Bool), "int" (a Z3 Int holding ``int(v)``: NUD
    states, flag words, counters) or "enum" (a Z3 Int holding the index of
    the value in ``values``; None first).  A field with one value is a
    constant, not a Z3 variable."""

    name: str
    values: tuple
    kind: str

    @staticmethod
    def of(name: str, values: Iterable) -> "Field":
        vals = list(dict.fromkeys(values))
        if all(isinstance(v, bool) for v in vals):
            return Field(name, tuple(sorted(vals)), "bool")
        if all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
            return Field(name, tuple(sorted(vals, key=int)), "int")
        vals.sort(key=lambda v: (v is not None, repr(v)))
        return Field(name, tuple(vals), "enum")

    @property
    def constant(self) -> bool:
        return len(self.values) == 1

    def encode(self, v: Any):
        if self.kind == "bool":
            return bool(v)
        if self.kind == "int":
            return int(v)
        return self.values.index(v)

    def decode(self, z: Any) -> Any:
        if self.kind == "bool":
            return bool(z)
        if self.kind == "int":
            for v in self.values:
                if int(v) == int(z):
                    return v
            return int(z)
        return self.values[int(z)]

    def z3val(self, v: Any) -> z3.ExprRef:
        e = self.encode(v)
        return z3.BoolVal(e) if self.kind == "bool" else z3.IntVal(e)

    def var(self, suffix: str) -> z3.ExprRef:
        if self.constant:
            return self.z3val(self.values[0])
        if self.kind == "bool":
            return z3.Bool(self.name + suffix)
        return z3.Int(self.name + suffix)

    def domain(self, e: z3.ExprRef) -> z3.BoolRef:
        if self.constant or self.kind == "bool":
            return z3.BoolVal(True)
        return z3.Or([e == self.encode(v) for v in self.values])

    def show(self, z: Any) -> str:
        try:
            return _show_value(self.decode(z))
        except (IndexError, ValueError):
            return str(z)


_ABSENT = Neighbour()


def local_values(l: tuple) -> dict:
    """The fields of a local state ``(entry or None, bkn_tbl entry or None)``:
    ``present``, every field of :class:`Neighbour` (the defaults of a fresh
    entry when absent) and ``bkn``."""
    n, b = l
    base = n if n is not None else _ABSENT
    d = {"present": n is not None}
    for f in dataclasses.fields(Neighbour):
        d[f.name] = getattr(base, f.name)
    d["bkn"] = b
    return d


def make_state(system: System, link_up: bool, entries, bkns, fdb, dev_order=None):
    """A model State from its parts.  ``dev_list`` (present keys, newest
    first) defaults to the key order; ``dev_order`` gives another order."""
    s0 = system.init()
    kw = dict(link_up=link_up, neigh=tuple(entries), bkn_tbl=tuple(bkns), fdb=tuple(fdb))
    if any(f.name == "dev_list" for f in dataclasses.fields(s0)):
        present = [k for k, n in zip(system.keys, entries) if n is not None]
        if dev_order is not None:
            present = [k for k in dev_order if k in present]
        kw["dev_list"] = tuple(present)
    return dataclasses.replace(s0, **kw)


def project(s, i: int) -> tuple:
    """The abstract state of neighbour ``i`` in ``s``: (local, link_up, fdb)."""
    return (s.neigh[i], s.bkn_tbl[i]), s.link_up, tuple(s.fdb)


# --- the per-neighbour tables ---------------------------------------------------

@dataclass(frozen=True)
class Row:
    """One successor of (local state, link state): the new local state id,
    the new link state, the FDB effect (per MAC: None = kept, else the value
    written) and the first action found that takes it."""
    dst: int
    link_up: bool
    eff: tuple
    action: Any


def apply_eff(eff: tuple, fdb: tuple) -> tuple:
    return tuple(f if e is None else e for e, f in zip(eff, fdb))


class _Probe:
    """An FDB value no step can produce: shows which FDB slots a step keeps."""

    def __init__(self, j: int):
        self.j = j

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"<probe {self.j}>"


class NeighbourTables:
    """The one-neighbour model of (profile, design, regime), enumerated from
    the spec.

    * ``locals``: every local state reachable from the initial one (under
      every link state), as (entry, bkn entry) pairs; ids are indices.
    * ``rows[(lid, link_up)]``: the distinct successors (:class:`Row`).
    * ``env``: FDB effect -> an action of *another* neighbour that makes it
      (the environment steps of the N >= 2 abstraction).
    * ``fdb_values``: every value an FDB slot takes.
    * ``bad(name)``: the abstract states (lid, link_up, fdb) violating an
      invariant, evaluated by the invariant's own ``holds``.

    Raises :class:`EncodingError` if a step reads the FDB, if the enabled
    actions depend on it, or if a per-neighbour action changes the link.
    """

    def __init__(self, profile: str, design: Optional[str], regime: str):
        self.profile, self.design, self.regime = profile, design, regime
        self.system = sys1 = build(profile, design, 1, regime)
        self.key = sys1.keys[0]
        self.macs = tuple(sys1.macs)
        init = sys1.init()
        self.fdb0 = tuple(init.fdb)
        self.link0 = init.link_up
        self.l0 = (init.neigh[0], init.bkn_tbl[0])
        probe = tuple(_Probe(j) for j in range(len(self.macs)))
        index = {self.l0: 0}
        locs = [self.l0]
        rows: dict = {}
        env: dict = {}
        todo = [0]
        while todo:
            lid = todo.pop()
            l = locs[lid]
            for lu in (True, False):
                s0 = make_state(sys1, lu, (l[0],), (l[1],), self.fdb0)
                s1 = make_state(sys1, lu, (l[0],), (l[1],), probe)
                acts0 = list(sys1.actions(s0))
                if acts0 != list(sys1.actions(s1)):
                    raise EncodingError(f"enabled actions depend on the FDB in {s0!r}")
                out: dict = {}
                for a in acts0:
                    r0 = sys1.step(s0, a).state
                    r1 = sys1.step(s1, a).state
                    l2 = (r0.neigh[0], r0.bkn_tbl[0])
                    if l2 != (r1.neigh[0], r1.bkn_tbl[0]) or r0.link_up != r1.link_up:
                        raise EncodingError(f"{a!r} reads the FDB")
                    eff = []
                    for j in range(len(self.macs)):
                        if r1.fdb[j] is probe[j]:
                            if r0.fdb[j] != self.fdb0[j]:
                                raise EncodingError(f"{a!r} reads the FDB")
                            eff.append(None)
                        elif r1.fdb[j] == r0.fdb[j] and not isinstance(r0.fdb[j], _Probe):
                            eff.append(r0.fdb[j])
                        else:
                            raise EncodingError(f"{a!r} reads the FDB")
                    eff = tuple(eff)
                    if l2 not in index:
                        index[l2] = len(locs)
                        locs.append(l2)
                        todo.append(index[l2])
                    k = (index[l2], r0.link_up, eff)
                    out.setdefault(k, a)
                    if getattr(a, "neigh", None) is not None:
                        if r0.link_up != lu:
                            raise EncodingError(f"per-neighbour action {a!r} changes link_up")
                        if any(e is not None for e in eff):
                            env.setdefault(eff, a)
                rows[(lid, lu)] = tuple(Row(d, u, e, a) for (d, u, e), a in out.items())
        self.locals = tuple(locs)
        self.index = index
        self.rows = rows
        self.env = env
        vals = list(self.fdb0)
        for rs in rows.values():
            for r in rs:
                vals.extend(e for e in r.eff if e is not None)
        self.fdb_values = tuple(dict.fromkeys(vals))
        self._bad: dict = {}

    # abstract states: (lid, link_up, fdb)

    def fdb_valuations(self) -> list:
        return list(itertools.product(self.fdb_values, repeat=len(self.macs)))

    def abstract_states(self) -> Iterable[tuple]:
        for lid in range(len(self.locals)):
            for lu in (True, False):
                for fdb in self.fdb_valuations():
                    yield lid, lu, fdb

    def state(self, x: tuple):
        """The one-neighbour model State of abstract state ``x``."""
        lid, lu, fdb = x
        l = self.locals[lid]
        return make_state(self.system, lu, (l[0],), (l[1],), fdb)

    def successors(self, x: tuple, env: bool) -> set:
        """Abstract successors of ``x`` (own steps; with ``env`` also the
        environment's FDB writes)."""
        lid, lu, fdb = x
        out = {(r.dst, r.link_up, apply_eff(r.eff, fdb)) for r in self.rows[(lid, lu)]}
        if env:
            out |= {(lid, lu, apply_eff(e, fdb)) for e in self.env}
        return out

    def reachable(self, env: bool) -> set:
        """Explicit reachability over the tables (a cross-check of the tables
        against the explicit engine, not used by the proofs)."""
        x0 = (0, self.link0, self.fdb0)
        seen = {x0}
        todo = [x0]
        while todo:
            for y in self.successors(todo.pop(), env):
                if y not in seen:
                    seen.add(y)
                    todo.append(y)
        return seen

    def bad(self, name: str, invariant=None) -> frozenset:
        """Abstract states violating invariant ``name`` (``invariant``: an
        :class:`~nudspec.models.system.Invariant` not in INVARIANTS)."""
        if name not in self._bad:
            inv = invariant if invariant is not None else INVARIANTS[name]
            self._bad[name] = frozenset(x for x in self.abstract_states()
                                        if not inv.holds(self.system, self.state(x)))
        return self._bad[name]

    # fields

    @property
    def local_fields(self) -> tuple:
        vals = [local_values(l) for l in self.locals]
        names = list(vals[0])
        return tuple(Field.of(n, (v[n] for v in vals)) for n in names)

    @property
    def global_fields(self) -> tuple:
        return (Field.of("link_up", (True, False)),) + tuple(
            Field.of(f"fdb[{m}]", self.fdb_values) for m in self.macs)


@lru_cache(maxsize=16)
def tables(profile: str, design: Optional[str], regime: str) -> NeighbourTables:
    """Cached :class:`NeighbourTables`."""
    return NeighbourTables(profile, design, regime)


# --- the Z3 encoding ----------------------------------------------------------

class Encoding:
    """The abstract one-neighbour model as Z3 formulas over named variables.

    ``env=False``: exactly the one-neighbour system (N = 1).
    ``env=True``: plus environment steps, the FDB writes of the other
    neighbours' actions (the abstraction of every N >= 2, docs/prove.md).

    ``X``/``Y``: the current/next state variables (dict name -> Z3 term);
    ``init``, ``trans``, ``dom``, ``prop(name)`` are formulas over them;
    ``at(f, k)`` renames a formula over X (and Y) to steps k (and k+1).
    """

    def __init__(self, t: NeighbourTables, env: bool):
        self.t, self.env = t, env
        self.lfields = t.local_fields
        self.gfields = t.global_fields
        self.fields = self.lfields + self.gfields
        self._check_injective()
        self.X = self.vars("")
        self.Y = self.vars("'")
        self.names = [f.name for f in self.fields if not f.constant]
        self.init = self.is_state(self.X, (0, t.link0, t.fdb0))
        self.dom = z3.And([f.domain(self.X[f.name]) for f in self.fields])
        self.trans = self._trans()
        self._props: dict = {}
        self._steps: dict = {}

    def _check_injective(self) -> None:
        seen = {}
        for lid, l in enumerate(self.t.locals):
            key = tuple(f.encode(local_values(l)[f.name]) for f in self.lfields)
            if key in seen:
                raise EncodingError(f"local states {seen[key]} and {lid} encode alike")
            seen[key] = lid

    def vars(self, suffix: str) -> dict:
        return {f.name: f.var(suffix) for f in self.fields}

    def state_vars(self, x: dict) -> list:
        """The Z3 variables (non-constant fields) of state ``x``."""
        return [x[n] for n in self.names]

    # state formulas

    def is_local(self, x: dict, lid: int) -> z3.BoolRef:
        vals = local_values(self.t.locals[lid])
        return z3.And([x[f.name] == f.z3val(vals[f.name]) for f in self.lfields
                       if not f.constant])

    def _fdb(self, x: dict, j: int) -> z3.ExprRef:
        return x[f"fdb[{self.t.macs[j]}]"]

    def _fdb_field(self, j: int) -> Field:
        return self.gfields[1 + j]

    def is_state(self, x: dict, a: tuple) -> z3.BoolRef:
        lid, lu, fdb = a
        return z3.And(self.is_local(x, lid), x["link_up"] == lu,
                      *[self._fdb(x, j) == self._fdb_field(j).z3val(v) for j, v in enumerate(fdb)])

    def _eff(self, x: dict, y: dict, eff: tuple) -> list:
        return [self._fdb(y, j) == (self._fdb(x, j) if e is None else self._fdb_field(j).z3val(e))
                for j, e in enumerate(eff)]

    def _trans(self) -> z3.BoolRef:
        X, Y, t = self.X, self.Y, self.t
        keep = [None] * len(t.macs)
        per_local = []
        for lid in range(len(t.locals)):
            branches = []
            for lu in (True, False):
                by_dst: dict = {}
                for r in t.rows[(lid, lu)]:
                    by_dst.setdefault((r.dst, r.link_up), []).append(r.eff)
                alts = []
                for (dst, lu2), effs in by_dst.items():
                    eff_f = z3.Or([z3.And(self._eff(X, Y, e)) for e in effs])
                    alts.append(z3.And(self.is_local(Y, dst), Y["link_up"] == lu2, eff_f))
                branches.append(z3.Or(alts) if alts else z3.BoolVal(False))
            per_local.append(z3.And(self.is_local(X, lid), z3.If(X["link_up"], *branches)))
        own = z3.Or(per_local)
        if not self.env or not t.env:
            return own
        same = z3.And([Y[f.name] == X[f.name] for f in self.lfields if not f.constant]
                      + [Y["link_up"] == X["link_up"]])
        envf = z3.And(same, z3.Or([z3.And(self._eff(X, Y, e)) for e in t.env]))
        return z3.Or(own, envf)

    def prop(self, name: str, invariant=None) -> z3.BoolRef:
        """Invariant ``name`` over X: true exactly on the abstract states of
        the domain where ``holds`` is true (false outside the domain)."""
        if name not in self._props:
            bad = self.t.bad(name, invariant)
            by_local: dict = {}
            for lid, lu, fdb in bad:
                by_local.setdefault(lid, []).append((lu, fdb))
            X = self.X
            alts = []
            for lid in range(len(self.t.locals)):
                b = by_local.get(lid, [])
                local_bad = z3.Or([z3.And(X["link_up"] == lu, *[
                    self._fdb(X, j) == self._fdb_field(j).z3val(v) for j, v in enumerate(fdb)])
                    for lu, fdb in b]) if b else z3.BoolVal(False)
                alts.append(z3.And(self.is_local(X, lid), z3.Not(local_bad)))
            self._props[name] = z3.And(self.dom, z3.Or(alts))
        return self._props[name]

    # unrolling

    def step_vars(self, k: int) -> dict:
        if k not in self._steps:
            self._steps[k] = self.vars(f"@{k}")
        return self._steps[k]

    def at(self, f: z3.ExprRef, k: int) -> z3.ExprRef:
        """``f`` over (X, Y) renamed to (step k, step k + 1)."""
        xs, ys = self.step_vars(k), self.step_vars(k + 1)
        pairs = [(self.X[n], xs[n]) for n in self.names] + [(self.Y[n], ys[n]) for n in self.names]
        return z3.substitute(f, *pairs)

    def decode(self, model: z3.ModelRef, x: dict) -> tuple:
        """The abstract state (lid, link_up, fdb) of ``x`` in ``model``."""
        vals = {}
        for f in self.fields:
            v = model.eval(x[f.name], model_completion=True)
            vals[f.name] = f.decode(z3.is_true(v) if f.kind == "bool" else v.as_long())
        local = {f.name: vals[f.name] for f in self.lfields}
        for lid, l in enumerate(self.t.locals):
            if local_values(l) == local:
                break
        else:
            raise EncodingError(f"model state outside the domain: {local}")
        fdb = tuple(vals[f"fdb[{m}]"] for m in self.t.macs)
        return lid, vals["link_up"], fdb

    def field_of_var(self) -> dict:
        """Z3 variable name -> Field, for :func:`render`."""
        return {f.name: f for f in self.fields if not f.constant}


@lru_cache(maxsize=32)
def encoding(profile: str, design: Optional[str], regime: str, env: bool) -> Encoding:
    """Cached :class:`Encoding` of (profile, design, regime)."""
    return Encoding(tables(profile, design, regime), env)


# --- readable formulas ---------------------------------------------------------

def render(e: z3.ExprRef, fields: dict) -> str:
    """A Z3 formula over the encoding's variables, in the spec's terms:
    constants compared with a field are shown as the field's values
    (``nud_state == REACHABLE``, ``bkn == BknEntry(mac='M1', port='P1')``)."""

    def field_of(t):
        if z3.is_const(t) and t.decl().kind() == z3.Z3_OP_UNINTERPRETED:
            return fields.get(t.decl().name())
        return None

    def cmp(op, a, b):
        fa, fb = field_of(a), field_of(b)
        if fa is not None and z3.is_int_value(b) and op in ("==", "!="):
            return f"{a} {op} {fa.show(b.as_long())}"
        if fb is not None and z3.is_int_value(a) and op in ("==", "!="):
            return f"{b} {op} {fb.show(a.as_long())}"
        if fa is not None and z3.is_int_value(b) and fa.kind != "bool":
            c = b.as_long()
            test = {"<=": lambda v: v <= c, "<": lambda v: v < c,
                    ">=": lambda v: v >= c, ">": lambda v: v > c}[op]
            vals = [v for v in fa.values if test(fa.encode(v))]
            return f"{a} in {{{', '.join(_show_value(v) for v in vals)}}}"
        return f"{go(a)} {op} {go(b)}"

    def go(t) -> str:
        if z3.is_true(t):
            return "true"
        if z3.is_false(t):
            return "false"
        if z3.is_and(t):
            return "(" + " and ".join(go(c) for c in t.children()) + ")"
        if z3.is_or(t):
            return "(" + " or ".join(go(c) for c in t.children()) + ")"
        if z3.is_not(t):
            c = t.arg(0)
            if z3.is_eq(c):
                return cmp("!=", c.arg(0), c.arg(1))
            return "not " + go(c)
        if z3.is_implies(t):
            return f"({go(t.arg(0))} => {go(t.arg(1))})"
        if z3.is_eq(t) and not z3.is_bool(t.arg(0)):
            return cmp("==", t.arg(0), t.arg(1))
        if z3.is_eq(t):
            return f"({go(t.arg(0))} == {go(t.arg(1))})"
        for op, test in (("<=", z3.is_le), ("<", z3.is_lt), (">=", z3.is_ge), (">", z3.is_gt)):
            if test(t):
                return cmp(op, t.arg(0), t.arg(1))
        if z3.is_app_of(t, z3.Z3_OP_DISTINCT) and t.num_args() == 2:
            return cmp("!=", t.arg(0), t.arg(1))
        if z3.is_app_of(t, z3.Z3_OP_ITE):
            return f"({go(t.arg(0))} ? {go(t.arg(1))} : {go(t.arg(2))})"
        return str(t)

    return go(e)


# --- __neigh_update, executed symbolically ---------------------------------------

W = 32  # every symbolic integer is a 32-bit vector (inputs are zero-extended)


class _Paths:
    """Depth-first enumeration of the feasible paths of a Python function
    whose branches test :class:`Sym` / :class:`SymBool` values."""

    def __init__(self, assumptions: list):
        self.solver = z3.Solver()
        self.solver.add(*assumptions)
        self.prefix: list = []
        self.trail: list = []
        self.pending: list = []

    def decide(self, cond: z3.BoolRef) -> bool:
        i = len(self.trail)
        if i < len(self.prefix):
            v = self.prefix[i]
            self.trail.append((cond, v))
            self.solver.push()
            self.solver.add(cond if v else z3.Not(cond))
            return v
        ok = []
        for v in (True, False):
            self.solver.push()
            self.solver.add(cond if v else z3.Not(cond))
            if self.solver.check() == z3.sat:
                ok.append(v)
            self.solver.pop()
        if not ok:
            raise EncodingError("infeasible path reached")
        v = ok[0]
        if len(ok) == 2:
            self.pending.append([d for _, d in self.trail] + [not v])
        self.trail.append((cond, v))
        self.solver.push()
        self.solver.add(cond if v else z3.Not(cond))
        return v

    def run(self, fn: Callable[[], Any]) -> list:
        """All (path condition, result) pairs of ``fn``."""
        out = []
        self.pending = [[]]
        while self.pending:
            self.prefix = self.pending.pop()
            self.trail = []
            self.solver.push()
            try:
                res = fn()
            finally:
                for _ in self.trail:
                    self.solver.pop()
                self.solver.pop()
            pc = z3.And([c if v else z3.Not(c) for c, v in self.trail])
            out.append((pc, res))
        return out


def _bv(o: Any) -> z3.BitVecRef:
    if isinstance(o, Sym):
        return o.e
    if isinstance(o, (bool, SymBool)):
        raise TypeError("boolean used as an integer")
    return z3.BitVecVal(int(o), W)


class SymBool:
    """A symbolic boolean; ``bool()`` of it forks the path."""

    __slots__ = ("e", "paths")

    def __init__(self, e: z3.BoolRef, paths: _Paths):
        self.e, self.paths = e, paths

    def __bool__(self) -> bool:
        return self.paths.decide(self.e)

    def __eq__(self, o):  # pragma: no cover - not used by the spec
        return SymBool(self.e == (o.e if isinstance(o, SymBool) else z3.BoolVal(bool(o))), self.paths)

    __hash__ = None  # type: ignore[assignment]


class Sym:
    """A symbolic 32-bit integer with the operators the spec uses on NUD
    states and flag words (``& | ^ ~ == !=``); ``bool()`` of it forks."""

    __slots__ = ("e", "paths")

    def __init__(self, e: z3.BitVecRef, paths: _Paths):
        self.e, self.paths = e, paths

    def _w(self, e):
        return Sym(e, self.paths)

    def __and__(self, o):
        return self._w(self.e & _bv(o))

    __rand__ = __and__

    def __or__(self, o):
        return self._w(self.e | _bv(o))

    __ror__ = __or__

    def __xor__(self, o):
        return self._w(self.e ^ _bv(o))

    __rxor__ = __xor__

    def __invert__(self):
        return self._w(~self.e)

    def __eq__(self, o):
        return SymBool(self.e == _bv(o), self.paths)

    def __ne__(self, o):
        return SymBool(self.e != _bv(o), self.paths)

    def __bool__(self) -> bool:
        return self.paths.decide(self.e != 0)

    def __index__(self):
        raise TypeError("symbolic value used as a concrete integer")

    __int__ = __index__
    __hash__ = None  # type: ignore[assignment]


class _PassThrough:
    """Stands for a flag class (``Nud``, ``Ntf``) in the spec module while it
    runs symbolically: calling it on a :class:`Sym` returns the Sym, any
    other use is the class's own."""

    def __init__(self, cls):
        self._cls = cls

    def __call__(self, v=0, *args, **kw):
        if isinstance(v, Sym):
            return v
        return self._cls(v, *args, **kw)

    def __getattr__(self, name):
        return getattr(self._cls, name)


@dataclass(frozen=True)
class UpdateCase:
    """One row of the ``__neigh_update`` table: the path condition over the
    inputs and the result (every value a Z3 term or a concrete value)."""
    pc: z3.BoolRef
    out: dict


@dataclass
class UpdateTable:
    """``__neigh_update`` over its whole finite domain, one
    :class:`UpdateCase` list per concrete context (``ha``, ``lladdr``).

    ``inputs``: the Z3 input variables (``old``, ``new`` 8-bit; ``flags``
    9-bit; ``nflags`` 16-bit entry flags; ``dead``, ``timer``,
    ``arp_queue``, ``confirmed_fresh`` Bool)."""
    inputs: dict
    contexts: dict      # (ha, lladdr) -> [UpdateCase]

    @property
    def cases(self) -> int:
        return sum(len(c) for c in self.contexts.values())


#: The concrete parts of the domain: the entry's ``ha`` and the supplied
#: lladdr (none / the same / a different address).
UPDATE_CONTEXTS = ((None, None), (None, "M1"), ("M1", None), ("M1", "M1"), ("M1", "M2"))


def _to_z3(v: Any) -> Any:
    if isinstance(v, Sym):
        return v.e
    if isinstance(v, SymBool):
        return v.e
    if isinstance(v, bool):
        return z3.BoolVal(v)
    if isinstance(v, int):
        return z3.BitVecVal(int(v), W)
    return v


def neigh_update_cases(parms: Parms) -> UpdateTable:
    """Run the spec's ``__neigh_update`` symbolically over every input (see
    the module docstring); returns the case table.

    While it runs, ``Nud(x)``/``Ntf(x)`` in the spec module pass a symbolic
    ``x`` through unchanged (the spec only uses them to give an int its flag
    type); nothing else is instrumented."""
    fn = getattr(_neighbour_mod, "__neigh_update")
    old8, new8 = z3.BitVec("old", 8), z3.BitVec("new", 8)
    flags9, nflags16 = z3.BitVec("flags", 9), z3.BitVec("nflags", 16)
    bools = {b: z3.Bool(b) for b in ("dead", "timer", "arp_queue", "confirmed_fresh")}
    inputs = dict(old=old8, new=new8, flags=flags9, nflags=nflags16, **bools)
    saved = {name: getattr(_neighbour_mod, name) for name in ("Nud", "Ntf")}
    contexts = {}
    try:
        for name, cls in saved.items():
            setattr(_neighbour_mod, name, _PassThrough(cls))
        for ha, lladdr in UPDATE_CONTEXTS:
            paths = _Paths([])
            old = Sym(z3.ZeroExt(W - 8, old8), paths)
            new = Sym(z3.ZeroExt(W - 8, new8), paths)
            flags = Sym(z3.ZeroExt(W - 9, flags9), paths)
            nflags = Sym(z3.ZeroExt(W - 16, nflags16), paths)
            n = Neighbour(nud_state=old, ha=ha, flags=nflags, probes=0,
                          **{b: SymBool(e, paths) for b, e in bools.items()})

            def call():
                n2, em, err = fn("N1", n, lladdr, new, flags, parms)
                out = {f.name: _to_z3(getattr(n2, f.name)) for f in dataclasses.fields(Neighbour)
                       if f.name != "bkn_fdb_skb"}
                out["err"] = err
                news = [e for e in em if isinstance(e, RtmNotify) and e.msg == RTM_NEWNEIGH]
                out["notify"] = z3.BoolVal(bool(news))
                out["netevent"] = z3.BoolVal(any(isinstance(e, NeteventCall) for e in em))
                out["notify_nud"] = _to_z3(news[-1].nud) if news else None
                out["notify_lladdr"] = news[-1].lladdr if news else None
                out["emissions"] = tuple(type(e).__name__ for e in em)
                return out

            contexts[(ha, lladdr)] = [UpdateCase(pc, out) for pc, out in paths.run(call)]
    finally:
        for name, cls in saved.items():
            setattr(_neighbour_mod, name, cls)
    return UpdateTable(inputs, contexts)


def concrete_update(parms: Parms, ctx: tuple, point: dict) -> dict:
    """The concrete spec's ``__neigh_update`` at one input point, in the
    shape of an :class:`UpdateCase` result (for cross-checking the table)."""
    from nudspec.spec.nud import Ntf, Nud
    fn = getattr(_neighbour_mod, "__neigh_update")
    ha, lladdr = ctx
    n = Neighbour(nud_state=Nud(point["old"]), ha=ha, flags=Ntf(point["nflags"]), probes=0,
                  dead=point["dead"], timer=point["timer"], arp_queue=point["arp_queue"],
                  confirmed_fresh=point["confirmed_fresh"])
    n2, em, err = fn("N1", n, lladdr, Nud(point["new"]), point["flags"], parms)
    news = [e for e in em if isinstance(e, RtmNotify) and e.msg == RTM_NEWNEIGH]
    out = {f.name: getattr(n2, f.name) for f in dataclasses.fields(Neighbour)
           if f.name != "bkn_fdb_skb"}
    out.update(err=err, notify=bool(news), netevent=any(isinstance(e, NeteventCall) for e in em),
               notify_nud=news[-1].nud if news else None,
               notify_lladdr=news[-1].lladdr if news else None,
               emissions=tuple(type(e).__name__ for e in em))
    return out


def eval_case_out(out: dict, model_or_subst: Callable[[z3.ExprRef], z3.ExprRef]) -> dict:
    """A case's result with its Z3 terms evaluated to Python values."""
    res = {}
    for k, v in out.items():
        if isinstance(v, z3.ExprRef):
            e = model_or_subst(v)
            if z3.is_bool(e):
                res[k] = z3.is_true(e)
            else:
                res[k] = e.as_long()
        else:
            res[k] = v
    return res


def random_points(n: int, seed: int = 0) -> list:
    """``n`` random input points of the ``__neigh_update`` domain, plus the
    corner points every lemma talks about (single states, no flags)."""
    rng = random.Random(seed)
    pts = []
    singles = [int(s) for s in NUD_STATES]
    for _ in range(n):
        pick = (lambda: rng.choice(singles)) if rng.random() < 0.5 else (lambda: rng.randrange(256))
        pts.append(dict(old=pick(), new=pick(), flags=rng.randrange(512),
                        nflags=rng.choice((0, 0x10, 0x80, 0x100, 0x400, rng.randrange(1 << 16))),
                        dead=rng.random() < 0.2, timer=rng.random() < 0.5,
                        arp_queue=rng.random() < 0.5, confirmed_fresh=rng.random() < 0.5))
    return pts
