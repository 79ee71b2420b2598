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
   NEIGH_UPDATE_F_* bits) and the entry's ``flags`` word (16 bits, every
   combination of the NTF bits the spec defines), and Z3 booleans for
   ``dead``, ``timer``, ``arp_queue`` and ``confirmed_fresh``: every ``if``
   on a symbolic value forks, and each feasible path gives one row -- a
   path condition and the symbolic result (entry, emissions, error).  A
   branch is taken exactly when some input reaches it (each path keeps the
   exact set of inputs still possible, as bitsets over independent input
   groups), so the rows partition the 2^39 inputs of each context; lemmas
   are then checked over them bit-precisely.

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
from nudspec.spec.nud import NUD_STATES, RTM_NEWNEIGH, Ntf


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
        self._memo: dict = {}
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
        key = (id(x), "l", lid)
        f = self._memo.get(key)
        if f is None:
            vals = local_values(self.t.locals[lid])
            f = fast_and([x[fl.name] == fl.z3val(vals[fl.name]) for fl in self.lfields
                          if not fl.constant])
            self._memo[key] = f
        return f

    def _fdb(self, x: dict, j: int) -> z3.ExprRef:
        return x[f"fdb[{self.t.macs[j]}]"]

    def _fdb_field(self, j: int) -> Field:
        return self.gfields[1 + j]

    def is_state(self, x: dict, a: tuple) -> z3.BoolRef:
        key = (id(x), "s", a)
        f = self._memo.get(key)
        if f is None:
            lid, lu, fdb = a
            f = fast_and([self.is_local(x, lid), x["link_up"] == lu]
                         + [self._fdb(x, j) == self._fdb_field(j).z3val(v)
                            for j, v in enumerate(fdb)])
            self._memo[key] = f
        return f

    def _eff(self, x: dict, y: dict, eff: tuple) -> list:
        return [self._fdb(y, j) == (self._fdb(x, j) if e is None else self._fdb_field(j).z3val(e))
                for j, e in enumerate(eff)]

    def _trans(self) -> z3.BoolRef:
        X, Y, t = self.X, self.Y, self.t
        per_local = []
        for lid in range(len(t.locals)):
            branches = []
            for lu in (True, False):
                by_dst: dict = {}
                for r in t.rows[(lid, lu)]:
                    by_dst.setdefault((r.dst, r.link_up), []).append(r.eff)
                alts = []
                for (dst, lu2), effs in by_dst.items():
                    eff_f = fast_or([fast_and(self._eff(X, Y, e)) for e in effs])
                    alts.append(fast_and([self.is_local(Y, dst), Y["link_up"] == lu2, eff_f]))
                branches.append(fast_or(alts))
            per_local.append(fast_and([self.is_local(X, lid), z3.If(X["link_up"], *branches)]))
        own = fast_or(per_local)
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
                local_bad = fast_or([fast_and([X["link_up"] == lu] + [
                    self._fdb(X, j) == self._fdb_field(j).z3val(v) for j, v in enumerate(fdb)])
                    for lu, fdb in b])
                alts.append(fast_and([self.is_local(X, lid), z3.Not(local_bad)]))
            self._props[name] = fast_and([self.dom, fast_or(alts)])
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
    """A Z3 formula over the encoding's variables, in the spec's terms.

    Every comparison of a field with a constant becomes a set of the
    field's values (``nud_state in {STALE, DELAY}``, ``bkn ==
    BknEntry(mac='M1', port='P1')``, ``not timer``); negations are pushed
    in, and literals on one field are merged (intersected under "and",
    united under "or"), so facts that only restate a field's domain vanish.
    """
    return _show(_simp(_tree(e, fields)), fields)


def _tree(t: z3.ExprRef, fields: dict):
    def field_of(x):
        if z3.is_const(x) and x.decl().kind() == z3.Z3_OP_UNINTERPRETED:
            return fields.get(x.decl().name())
        return None

    def member(f: Field, test) -> tuple:
        return ("in", f.name, frozenset(v for v in f.values if test(f.encode(v))))

    if z3.is_true(t):
        return ("true",)
    if z3.is_false(t):
        return ("false",)
    if z3.is_and(t):
        return ("and", [_tree(c, fields) for c in t.children()])
    if z3.is_or(t):
        return ("or", [_tree(c, fields) for c in t.children()])
    if z3.is_not(t):
        return ("not", _tree(t.arg(0), fields))
    if z3.is_implies(t):
        return ("or", [("not", _tree(t.arg(0), fields)), _tree(t.arg(1), fields)])
    f = field_of(t)
    if f is not None and f.kind == "bool":
        return ("in", f.name, frozenset([True]))
    ops = ((z3.is_le, lambda v, c: v <= c, lambda v, c: v >= c),
           (z3.is_lt, lambda v, c: v < c, lambda v, c: v > c),
           (z3.is_ge, lambda v, c: v >= c, lambda v, c: v <= c),
           (z3.is_gt, lambda v, c: v > c, lambda v, c: v < c),
           (z3.is_eq, lambda v, c: v == c, lambda v, c: v == c))
    if t.num_args() == 2:
        a, b = t.arg(0), t.arg(1)
        for test, fwd, rev in ops:
            if test(t):
                fa, fb = field_of(a), field_of(b)
                if fa is not None and fa.kind != "bool" and z3.is_int_value(b):
                    c = b.as_long()
                    return member(fa, lambda v: fwd(v, c))
                if fb is not None and fb.kind != "bool" and z3.is_int_value(a):
                    c = a.as_long()
                    return member(fb, lambda v: rev(v, c))
                if fa is not None and fa.kind == "bool" and z3.is_bool(b) and z3.is_true(b):
                    return ("in", fa.name, frozenset([True]))
    return ("raw", str(t))


def _simp(n, fields_all: Optional[dict] = None):
    kind = n[0]
    if kind == "not":
        c = n[1]
        if c[0] == "not":
            return _simp(c[1])
        if c[0] == "and":
            return _simp(("or", [("not", x) for x in c[1]]))
        if c[0] == "or":
            return _simp(("and", [("not", x) for x in c[1]]))
        if c[0] == "true":
            return ("false",)
        if c[0] == "false":
            return ("true",)
        if c[0] == "in":
            return ("notin", c[1], c[2])
        return ("not", _simp(c))
    if kind == "notin":
        return n
    if kind in ("and", "or"):
        unit, zero = (("true",), ("false",)) if kind == "and" else (("false",), ("true",))
        flat = []
        for c in n[1]:
            c = _simp(c)
            if c[0] == kind:
                flat.extend(c[1])
            else:
                flat.append(c)
        sets: dict = {}
        rest = []
        for c in flat:
            if c == unit:
                continue
            if c == zero:
                return zero
            if c[0] in ("in", "notin"):
                sets.setdefault(c[1], []).append(c)
            else:
                rest.append(c)
        out = []
        for name, lits in sets.items():
            inc = [l[2] for l in lits if l[0] == "in"]
            exc = [l[2] for l in lits if l[0] == "notin"]
            out.append(("set", name, kind, inc, exc))
        out += [c for c in rest if c not in out]
        if not out:
            return unit
        return (kind, out) if len(out) > 1 else out[0]
    return n


def _show(n, fields: dict) -> str:
    def setlit(name, vals) -> str:
        f = fields[name]
        vals = [v for v in f.values if v in vals]
        if f.kind == "bool":
            if set(vals) == {True}:
                return name
            if set(vals) == {False}:
                return f"not {name}"
        if not vals:
            return "false"
        if len(vals) == len(f.values):
            return "true"
        if len(vals) == 1:
            return f"{name} == {_show_value(vals[0])}"
        others = [v for v in f.values if v not in vals]
        if len(others) == 1:
            return f"{name} != {_show_value(others[0])}"
        return f"{name} in {{{', '.join(_show_value(v) for v in vals)}}}"

    def go(n, top=False) -> str:
        kind = n[0]
        if kind in ("true", "false"):
            return kind
        if kind == "raw":
            return n[1]
        if kind == "in":
            return setlit(n[1], n[2])
        if kind == "notin":
            return setlit(n[1], set(fields[n[1]].values) - n[2])
        if kind == "not":
            return f"not ({go(n[1])})"
        if kind == "set":
            _, name, op, inc, exc = n
            allv = set(fields[name].values)
            if op == "and":
                vals = set(allv)
                for s in inc:
                    vals &= s
                for s in exc:
                    vals -= s
            else:
                vals = set()
                for s in inc:
                    vals |= s
                for s in exc:
                    vals |= allv - s
            return setlit(name, vals)
        parts = [go(c) for c in n[1]]
        parts = [p for p in parts if p != ("true" if kind == "and" else "false")]
        if any(p == ("false" if kind == "and" else "true") for p in parts):
            return "false" if kind == "and" else "true"
        if not parts:
            return "true" if kind == "and" else "false"
        if len(parts) == 1:
            return parts[0]
        if kind == "and" and top:
            return "\n".join(f"  {p}" for p in sorted(parts, key=len))
        return "(" + f" {kind} ".join(parts) + ")"

    return go(n, top=True)


# --- __neigh_update, executed symbolically ---------------------------------------
W = 32  # every symbolic integer is a 32-bit vector (inputs are zero-extended)
_MASK = (1 << W) - 1

#: The inputs of ``__neigh_update`` that are symbolic, in independent groups:
#: a branch condition may read the inputs of one group only (checked), so
#: the feasibility of each branch is decided exactly by evaluating it on
#: every value of that group (65 536 (old, new) pairs, 512 flag words, ...).
SYM_GROUPS = {
    "state": (("old", 8), ("new", 8)),   # neigh->nud_state and the new state
    "flags": (("flags", 9),),            # NEIGH_UPDATE_F_*
    "nflags": (("nflags", 16),),         # neigh->flags (NTF_*, ext flags << 8)
    "dead": (("dead", 1),),
    "timer": (("timer", 1),),
    "arp_queue": (("arp_queue", 1),),
    "confirmed_fresh": (("confirmed_fresh", 1),),
}
_BOOL_INPUTS = ("dead", "timer", "arp_queue", "confirmed_fresh")

#: ``neigh->flags`` ranges over the NTF_* bits the spec defines.  On other
#: bits Python's ``~`` of an IntFlag (confined to the class's bit width) and
#: C's ``~`` differ, so the symbolic run would follow C, not the spec.
NTF_DEFINED = 0
for _m in Ntf:
    NTF_DEFINED |= int(_m)


def _allowed(name: str, v: int) -> bool:
    return v & ~NTF_DEFINED == 0 if name == "nflags" else True


class _Terms:
    """Hash-consed terms over the symbolic inputs.  Each term has a group
    (None for a constant) and its value on every point of the group's
    domain, so a condition's truth set is a bitset over that domain."""

    def __init__(self):
        self.key: list = []
        self.group: list = []
        self.vals: list = []
        self.memo: dict = {}
        self.bits: dict = {}
        self.z3memo: dict = {}
        self.domain: dict = {}
        self.full: dict = {}
        self.inputs: dict = {}
        for g, vs in SYM_GROUPS.items():
            size = 1 << sum(w for _, w in vs)
            self.domain[g] = size
            self.full[g] = (1 << size) - 1
            if len(vs) == 1 and vs[0][0] == "nflags":
                self.full[g] = sum(1 << v for v in range(size) if _allowed("nflags", v))
            shift = sum(w for _, w in vs)
            for name, w in vs:
                shift -= w
                vals = [(i >> shift) & ((1 << w) - 1) for i in range(size)]
                if name in _BOOL_INPUTS:
                    vals = [bool(v) for v in vals]
                    self.inputs[name] = z3.Bool(name)
                else:
                    self.inputs[name] = z3.BitVec(name, w)
                self._new(("var", name), g, vals)

    def _new(self, key, group, vals) -> int:
        i = len(self.key)
        self.key.append(key)
        self.group.append(group)
        self.vals.append(vals)
        self.memo[key] = i
        return i

    def var(self, name: str) -> int:
        return self.memo[("var", name)]

    def const(self, v) -> int:
        key = ("const", v if isinstance(v, bool) else int(v) & _MASK)
        i = self.memo.get(key)
        return i if i is not None else self._new(key, None, key[1])

    _OPS = {
        "&": lambda a, b: a & b, "|": lambda a, b: a | b, "^": lambda a, b: a ^ b,
        "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
    }

    def op(self, op: str, a: int, b: Optional[int] = None) -> int:
        key = (op, a, b)
        i = self.memo.get(key)
        if i is not None:
            return i
        ga, gb = self.group[a], (self.group[b] if b is not None else None)
        if ga is not None and gb is not None and ga != gb:
            raise EncodingError(f"a branch of __neigh_update mixes inputs of {ga} and {gb}; "
                                f"merge the groups in SYM_GROUPS")
        g = ga if ga is not None else gb
        va = self.vals[a]
        if op == "~":
            f1 = lambda x: ~x & _MASK  # noqa: E731
            vals = f1(va) if g is None else [f1(x) for x in va]
        elif op == "not":
            vals = (not va) if g is None else [not x for x in va]
        else:
            f2 = self._OPS[op]
            vb = self.vals[b]
            if g is None:
                vals = f2(va, vb)
            elif ga is None:
                vals = [f2(va, y) for y in vb]
            elif gb is None:
                vals = [f2(x, vb) for x in va]
            else:
                vals = [f2(x, y) for x, y in zip(va, vb)]
        return self._new(key, g, vals)

    def bitset(self, i: int) -> int:
        b = self.bits.get(i)
        if b is None:
            vals = self.vals[i]
            b = int("".join("1" if v else "0" for v in reversed(vals)), 2)
            self.bits[i] = b
        return b

    def literal(self, i: int, v: bool) -> z3.BoolRef:
        """Term ``i`` (a condition) or its negation, as Z3 (cached)."""
        key = (i, v)
        e = self.z3memo.get(key)
        if e is None:
            e = self.to_z3(i) if v else z3.Not(self.to_z3(i))
            self.z3memo[key] = e
        return e

    def to_z3(self, i: int) -> z3.ExprRef:
        e = self.z3memo.get(i)
        if e is not None:
            return e
        key = self.key[i]
        if key[0] == "var":
            x = self.inputs[key[1]]
            e = x if z3.is_bool(x) else z3.ZeroExt(W - x.size(), x)
        elif key[0] == "const":
            e = z3.BoolVal(key[1]) if isinstance(key[1], bool) else z3.BitVecVal(key[1], W)
        else:
            op, a, b = key
            ea = self.to_z3(a)
            if op == "~":
                e = ~ea
            elif op == "not":
                e = z3.Not(ea)
            else:
                eb = self.to_z3(b)
                e = {"&": lambda: ea & eb, "|": lambda: ea | eb, "^": lambda: ea ^ eb,
                     "==": lambda: ea == eb, "!=": lambda: ea != eb}[op]()
        self.z3memo[i] = e
        return e


def fast_and(items: list) -> z3.BoolRef:
    """``z3.And`` of Boolean terms without the Python API's per-argument
    coercion (the hot path when tables have tens of thousands of rows)."""
    return _nary(z3.Z3_mk_and, items, True)


def fast_or(items: list) -> z3.BoolRef:
    """``z3.Or`` of Boolean terms, like :func:`fast_and`."""
    return _nary(z3.Z3_mk_or, items, False)


def _nary(mk, items: list, unit: bool) -> z3.BoolRef:
    if not items:
        return z3.BoolVal(unit)
    ctx = items[0].ctx
    arr = (z3.Ast * len(items))(*[e.as_ast() for e in items])
    return z3.BoolRef(mk(ctx.ref(), len(items), arr), ctx)


class _Paths:
    """Depth-first enumeration of the feasible paths of a Python function
    whose branches test :class:`Sym` / :class:`SymBool` values.  Each path
    keeps, per input group, the set of points still possible (a bitset);
    a branch is feasible iff its side of the condition meets that set."""

    def __init__(self, terms: _Terms):
        self.terms = terms
        self.prefix: list = []
        self.trail: list = []
        self.masks: dict = {}
        self.pending: list = []

    def decide(self, node: int) -> bool:
        t = self.terms
        g = t.group[node]
        if g is None:
            return bool(t.vals[node])
        c = t.bitset(node)
        m = self.masks.get(g, t.full[g])
        yes, no = m & c, m & ~c
        i = len(self.trail)
        if i < len(self.prefix):
            v = self.prefix[i]
        elif yes and no:
            v = True
            self.pending.append([d for _, d in self.trail] + [False])
        else:
            v = bool(yes)
        self.masks[g] = yes if v else no
        self.trail.append((node, v))
        return v

    def run(self, fn: Callable[[], Any]) -> list:
        """All (literals, masks, result) triples of ``fn``: ``literals`` is
        the path condition as (condition term, value) pairs, ``masks`` the
        exact point set per input group it constrains."""
        out = []
        self.pending = [[]]
        while self.pending:
            self.prefix = self.pending.pop()
            self.trail, self.masks = [], {}
            res = fn()
            out.append((tuple(self.trail), dict(self.masks), res))
        return out


class SymBool:
    """A symbolic boolean; ``bool()`` of it forks the path."""

    __slots__ = ("i", "p")

    def __init__(self, i: int, p: _Paths):
        self.i, self.p = i, p

    def __bool__(self) -> bool:
        return self.p.decide(self.i)

    __hash__ = None  # type: ignore[assignment]


def _term(p: _Paths, o: Any) -> int:
    if isinstance(o, Sym):
        return o.i
    if isinstance(o, (bool, SymBool)):
        raise TypeError("boolean used as an integer")
    return p.terms.const(int(o))


class Sym:
    """A symbolic 32-bit integer with the operators the spec uses on NUD
    states and flag words (``& | ^ ~ == !=``); ``bool()`` of it forks."""

    __slots__ = ("i", "p")

    def __init__(self, i: int, p: _Paths):
        self.i, self.p = i, p

    def _op(self, op, o):
        return Sym(self.p.terms.op(op, self.i, _term(self.p, o)), self.p)

    def __and__(self, o):
        return self._op("&", o)

    __rand__ = __and__

    def __or__(self, o):
        return self._op("|", o)

    __ror__ = __or__

    def __xor__(self, o):
        return self._op("^", o)

    __rxor__ = __xor__

    def __invert__(self):
        return Sym(self.p.terms.op("~", self.i), self.p)

    def __eq__(self, o):
        return SymBool(self.p.terms.op("==", self.i, _term(self.p, o)), self.p)

    def __ne__(self, o):
        return SymBool(self.p.terms.op("!=", self.i, _term(self.p, o)), self.p)

    def __bool__(self) -> bool:
        return self.p.decide(self.p.terms.op("!=", self.i, self.p.terms.const(0)))

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
    inputs and the result (Z3 terms for what depends on the inputs,
    concrete values otherwise)."""
    pc: z3.BoolRef
    out: dict
    masks: tuple = ()   # ((group, bitset of the group's points), ...): the exact point set


@dataclass
class UpdateTable:
    """``__neigh_update`` over its whole finite domain, one
    :class:`UpdateCase` list per concrete context (``ha``, ``lladdr``).

    ``inputs``: the Z3 input variables -- ``old``, ``new`` (8 bits),
    ``flags`` (9 bits), ``nflags`` (the entry's flags, 16 bits), ``dead``,
    ``timer``, ``arp_queue``, ``confirmed_fresh`` (Bool)."""
    inputs: dict
    contexts: dict      # (ha, lladdr) -> [UpdateCase]
    parms: Any = None
    seconds: float = 0.0

    def size(self, case: UpdateCase) -> int:
        """How many input points (of its context) ``case`` covers."""
        m = dict(case.masks)
        total = 1
        for g, vs in SYM_GROUPS.items():
            if g in m:
                total *= bin(m[g]).count("1")
            else:
                total *= sum(1 for v in range(1 << sum(w for _, w in vs))
                             if len(vs) > 1 or _allowed(vs[0][0], v))
        return total

    @property
    def domain_size(self) -> int:
        """Input points per context."""
        return self.size(UpdateCase(z3.BoolVal(True), {}, ()))

    @property
    def assume(self) -> z3.BoolRef:
        """The domain restriction the cases assume (``nflags`` within the
        defined NTF_* bits)."""
        return self.inputs["nflags"] & (~NTF_DEFINED & 0xFFFF) == 0

    @property
    def cases(self) -> int:
        return sum(len(c) for c in self.contexts.values())


#: The concrete parts of the domain: the entry's ``ha`` (zeroed or M1) and
#: the lladdr supplied (none, the same, a different one).
UPDATE_CONTEXTS = ((None, None), (None, "M1"), ("M1", None), ("M1", "M1"), ("M1", "M2"))

#: The outputs of a case: every field of the resulting entry (but the
#: driver's member), ``err``, and what was emitted.
UPDATE_OUTPUTS = ("nud_state", "ha", "flags", "probes", "timer", "arp_queue", "dead",
                  "confirmed_fresh", "err", "notify", "netevent", "notify_nud",
                  "notify_lladdr", "emissions")


def _result(n2: Neighbour, em: tuple, err: int) -> dict:
    news = [e for e in em if isinstance(e, RtmNotify) and e.msg == RTM_NEWNEIGH]
    out = {f.name: getattr(n2, f.name) for f in dataclasses.fields(Neighbour)
           if f.name != "bkn_fdb_skb"}
    out.update(err=err, notify=bool(news),
               netevent=any(isinstance(e, NeteventCall) for e in em),
               notify_nud=news[-1].nud if news else None,
               notify_lladdr=news[-1].lladdr if news else None,
               emissions=tuple(type(e).__name__ for e in em))
    return out


def neigh_update_cases(parms: Parms, contexts: tuple = UPDATE_CONTEXTS) -> UpdateTable:
    """Run the spec's ``__neigh_update`` symbolically over every input (see
    the module docstring); returns the case table.

    While it runs, ``Nud(x)``/``Ntf(x)`` in the spec module pass a symbolic
    ``x`` through unchanged (the spec only uses them to give an int its flag
    type); nothing else is instrumented."""
    import time
    t0 = time.monotonic()
    fn = getattr(_neighbour_mod, "__neigh_update")
    terms = _Terms()
    saved = {name: getattr(_neighbour_mod, name) for name in ("Nud", "Ntf")}
    table = {}

    def z3out(v):
        if isinstance(v, (Sym, SymBool)):
            return terms.to_z3(v.i)
        if isinstance(v, int) and not isinstance(v, bool):
            return int(v)
        return v

    try:
        for name, cls in saved.items():
            setattr(_neighbour_mod, name, _PassThrough(cls))
        for ha, lladdr in contexts:
            paths = _Paths(terms)

            def call():
                n = Neighbour(nud_state=Sym(terms.var("old"), paths), ha=ha,
                              flags=Sym(terms.var("nflags"), paths), probes=0,
                              **{b: SymBool(terms.var(b), paths) for b in _BOOL_INPUTS})
                n2, em, err = fn("N1", n, lladdr, Sym(terms.var("new"), paths),
                                 Sym(terms.var("flags"), paths), parms)
                return _result(n2, em, err)

            cases = []
            for lits, masks, out in paths.run(call):
                pc = fast_and([terms.literal(i, v) for i, v in lits])
                cases.append(UpdateCase(pc, {k: z3out(v) for k, v in out.items()},
                                        tuple(sorted(masks.items()))))
            table[(ha, lladdr)] = cases
    finally:
        for name, cls in saved.items():
            setattr(_neighbour_mod, name, cls)
    inputs = {name: terms.inputs[name] for vs in SYM_GROUPS.values() for name, _ in vs}
    return UpdateTable(inputs, table, parms, time.monotonic() - t0)


def concrete_update(parms: Parms, ctx: tuple, point: dict) -> dict:
    """The concrete spec's ``__neigh_update`` at one input point, in the
    shape of an :class:`UpdateCase` result with plain values."""
    from nudspec.spec.nud import Ntf, Nud
    fn = getattr(_neighbour_mod, "__neigh_update")
    ha, lladdr = ctx
    n = Neighbour(nud_state=Nud(point["old"]), ha=ha, flags=Ntf(point["nflags"]), probes=0,
                  **{b: point[b] for b in _BOOL_INPUTS})
    n2, em, err = fn("N1", n, lladdr, Nud(point["new"]), point["flags"], parms)
    out = _result(n2, em, err)
    return {k: (int(v) if isinstance(v, int) and not isinstance(v, bool) else v)
            for k, v in out.items()}


def point_index(point: dict) -> dict:
    """Group -> index of ``point`` in the group's domain (first input in the
    high bits)."""
    idx = {}
    for g, vs in SYM_GROUPS.items():
        i = 0
        for name, w in vs:
            i = (i << w) | int(point[name])
        idx[g] = i
    return idx


def case_at(table: UpdateTable, ctx: tuple, point: dict) -> dict:
    """The table's result at one input point: the one case whose point set
    holds it, its Z3 terms evaluated there by Z3.  Raises EncodingError if
    not exactly one case holds it."""
    idx = point_index(point)
    hits = [c for c in table.contexts[ctx] if all((m >> idx[g]) & 1 for g, m in c.masks)]
    if len(hits) != 1:
        raise EncodingError(f"{len(hits)} cases hold at {point} ({ctx})")
    subst = []
    for name, x in table.inputs.items():
        v = point[name]
        subst.append((x, z3.BoolVal(bool(v)) if z3.is_bool(x) else z3.BitVecVal(int(v), x.size())))
    if not z3.is_true(z3.simplify(z3.substitute(hits[0].pc, *subst))):
        raise EncodingError(f"path condition false at {point} ({ctx})")
    res = {}
    for k, v in hits[0].out.items():
        if isinstance(v, z3.ExprRef):
            e = z3.simplify(z3.substitute(v, *subst))
            res[k] = z3.is_true(e) if z3.is_bool(e) else e.as_long()
        else:
            res[k] = v
    return res


def random_points(n: int, seed: int = 0) -> list:
    """``n`` random input points of the ``__neigh_update`` domain, half of
    them with single NUD states (the kernel's own values)."""
    rng = random.Random(seed)
    singles = [int(s) for s in NUD_STATES]
    pts = []
    for _ in range(n):
        def pick():
            return rng.choice(singles) if rng.random() < 0.5 else rng.randrange(256)
        pts.append(dict(old=pick(), new=pick(), flags=rng.randrange(512),
                        nflags=rng.choice((0, 0x10, 0x80, 0x100, 0x400, rng.randrange(1 << 16) & NTF_DEFINED)),
                        **{b: rng.random() < 0.4 for b in _BOOL_INPUTS}))
    return pts



def concrete_update_result(table: UpdateTable, ctx: tuple, point: dict) -> dict:
    """What the concrete spec returns at a point of the table's domain,
    readable: new nud_state, ha, neigh->flags, err, emissions."""
    from nudspec.spec.nud import Nud
    r = concrete_update(table.parms, ctx, point)
    return {"nud_state": repr(Nud(r["nud_state"])).replace("<", "").split(":")[0],
            "ha": r["ha"], "neigh_flags": f"{r['flags']:#06x}", "err": r["err"],
            "emissions": list(r["emissions"])}
