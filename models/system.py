"""Profile x design x environment as one transition system.

The environment's events are exactly the event vocabulary of
``shared/TRACE_FORMAT.md`` (``ArpRx``, ``Tx``, ``AdminAdd``, ``AdminDel``,
``Flush``, ``LinkDown``, ``LinkUp``, ``Sleep``); the kernel's own steps are
internal actions (``TimerFires``, ``GcRuns``).  Every nondeterministic choice
the kernel makes is a parameter of the action that takes it (the timer's
time comparison, the locktime ``override``, the order in which a table walk
visits entries), so a counterexample records which choice was taken.

A :class:`State` is a frozen, hashable value: the link state, the kernel
table (one slot per neighbour key, None = no entry), ``bkn_tbl`` (one slot
per neighbour), the device's neighbour list ``dev_list`` (keys of the
present entries, newest first: ``___neigh_create`` adds at the head with
``hlist_add_head_rcu``, and ``neigh_flush_dev`` walks it in that order)
and the environment's FDB view (per MAC, the port it was last
seen on; ``"-"`` = not seen on a driver port: never seen, or last seen
through a non-driver source).

``System.step`` is pure and deterministic given the action; ``System.actions``
lists the enabled ones.  Model-only names (``TimerFires``, ``GcRuns``,
``ip_neigh_flush``) are never kernel names.

Garbage-collection regime: ``small`` (the traces' case: far fewer than
gc_thresh1 = 128 entries, so neither ``neigh_periodic_work`` nor
``neigh_forced_gc`` removes anything) or ``large`` (a switch's table, at or
above gc_thresh2: periodic and forced collection may remove every entry
the kernel lets them remove, at any time).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Callable, Iterator, Optional

from nudspec.spec.arp import PACKET_BROADCAST, PACKET_HOST, ArpFrame, arp_process
from nudspec.spec.bkn import BknEntry, BknFdbSkb
from nudspec.spec.neighbour import (
    NeteventCall, Neighbour, Parms, RtmNotify, ___neigh_create,
    neigh_add, neigh_delete, neigh_event_send, neigh_flush_dev, neigh_forced_gc,
    neigh_periodic_work, neigh_timer_handler, timer_outcomes,
)
from nudspec.spec.nud import (
    NUD_DELAY, NUD_FAILED, NUD_IN_TIMER, NUD_INCOMPLETE, NUD_NOARP, NUD_PERMANENT, NUD_PROBE,
    NUD_REACHABLE, NUD_STATES, NUD_VALID,
    nud_from_name, nud_name,
)

from .designs import Design, get_design
from .profiles import Profile, get_profile

# Kernel names with leading underscores would be mangled inside a class body.
_neigh_create = ___neigh_create

REGIMES = ("small", "large")
ADMIN_NUDS = ("PERMANENT", "NOARP", "REACHABLE", "STALE")
SLEEP_MS = (300, 800, 1500, 3000)
NON_DRIVER = "-"


def canonical_entry(n: Optional[Neighbour]) -> Optional[Neighbour]:
    """Forget the entry's dead variables, so that states that no future can
    tell apart are one state:

    * ``probes`` is only read by ``neigh_timer_handler`` in INCOMPLETE and
      PROBE, and every way into those states with a pending timer writes it
      first (``__neigh_event_send``: UCAST_PROBES; DELAY->PROBE and
      ``__neigh_update`` to PROBE: 0); elsewhere it is set to 0.
    * ``ha`` is only read while ``nud_state & NUD_VALID`` (an invalid entry
      takes any supplied lladdr, ``__neigh_fill_info`` hides it, the seed's
      callback reads it on REACHABLE only); elsewhere it is set to None.
    * ``confirmed_fresh`` is only read in DELAY, and every way into DELAY
      writes it; elsewhere it is set to False.
    """
    if n is None:
        return None
    if n.probes and not n.nud_state & (NUD_INCOMPLETE | NUD_PROBE):
        n = replace(n, probes=0)
    if n.ha is not None and not n.nud_state & NUD_VALID:
        n = replace(n, ha=None)
    if n.confirmed_fresh and n.nud_state != NUD_DELAY:
        n = replace(n, confirmed_fresh=False)
    return n


def _hash_once(self) -> int:
    h = self.__dict__.get("_hash")
    if h is None:
        h = hash(tuple(getattr(self, f) for f in self.__dataclass_fields__))
        object.__setattr__(self, "_hash", h)
    return h


def _cached_hash(cls):
    """Class decorator for frozen dataclasses hashed very often (states,
    actions): the field hash is computed once per object."""
    cls.__hash__ = _hash_once
    return cls


# --- actions ----------------------------------------------------------------

@_cached_hash
@dataclass(frozen=True)
class ArpRx:
    """An ARP frame arrives (TRACE_FORMAT ``arp_rx``).  ``port`` None: from a
    non-driver source (no skb->cb stamp).  ``override``: the locktime
    comparison ``time_after(jiffies, n->updated + LOCKTIME)``."""
    neigh: str
    op: str
    dst: str
    sha: str
    target: str
    port: Optional[str]
    override: bool = True


@_cached_hash
@dataclass(frozen=True)
class Tx:
    """The host sends one IP datagram to ``neigh`` (``neigh_resolve_output``)."""
    neigh: str


@_cached_hash
@dataclass(frozen=True)
class AdminAdd:
    """``ip neigh add`` (replace=False) / ``ip neigh replace`` (replace=True)."""
    neigh: str
    nud: str
    lladdr: str
    replace: bool


@_cached_hash
@dataclass(frozen=True)
class AdminDel:
    """``ip neigh del``: an RTM_DELNEIGH request."""
    neigh: str


@_cached_hash
@dataclass(frozen=True)
class Flush:
    """``ip neigh flush dev br0``: RTM_DELNEIGH for every entry that is not
    PERMANENT or NOARP, in the dump's ``order`` (a permutation of the keys)."""
    order: tuple


@_cached_hash
@dataclass(frozen=True)
class LinkDown:
    """``ip link set br0 down``: NETDEV_DOWN -> ``neigh_ifdown`` flushes
    every entry (PERMANENT too) in device-list ``order``, which is the
    state's ``dev_list`` (newest entry first)."""
    order: tuple


@_cached_hash
@dataclass(frozen=True)
class LinkUp:
    """``ip link set br0 up``."""


@_cached_hash
@dataclass(frozen=True)
class Sleep:
    """The harness waits; changes nothing by itself (internal steps may run)."""
    ms: int


@_cached_hash
@dataclass(frozen=True)
class TimerFires:
    """Internal: ``neigh->timer`` of ``neigh`` fires with outcome ``expired``
    (see ``spec.neighbour.TIMER_OUTCOMES``)."""
    neigh: str
    expired: Optional[str] = None


@_cached_hash
@dataclass(frozen=True)
class GcRuns:
    """Internal (large regime): ``kind`` = "periodic" (``neigh_periodic_work``)
    or "forced" (``neigh_forced_gc`` from ``neigh_alloc``) removes ``neigh``."""
    neigh: str
    kind: str


ENV_ACTIONS = (ArpRx, Tx, AdminAdd, AdminDel, Flush, LinkDown, LinkUp, Sleep)
_VALID_NOT_STATIC = int(NUD_VALID & ~(NUD_NOARP | NUD_PERMANENT))
_PER_NEIGHBOUR = frozenset((ArpRx, Tx, AdminAdd, AdminDel, TimerFires, GcRuns))
INTERNAL_ACTIONS = (TimerFires, GcRuns)


# --- state -------------------------------------------------------------------

@_cached_hash
@dataclass(frozen=True)
class State:
    """One model state (see module docstring)."""
    link_up: bool
    neigh: tuple
    bkn_tbl: tuple
    fdb: tuple
    dev_list: tuple = ()

    def entry(self, sys: "System", key: str) -> Optional[Neighbour]:
        return self.neigh[sys.keys.index(key)]


@dataclass(frozen=True)
class StepResult:
    """What one step did: the new state, the kernel's emissions in order
    (``RtmNotify`` / ``NeteventCall``) and the driver's actions
    (``(key, "insert"|"delete", BknEntry|None)``)."""
    state: State
    emissions: tuple
    driver: tuple = ()

    @property
    def notifications(self) -> tuple:
        return tuple(e for e in self.emissions if isinstance(e, RtmNotify))


# --- invariants ---------------------------------------------------------------

@dataclass(frozen=True)
class Invariant:
    """A named state predicate with a one-line statement, and a "sometimes"
    companion showing the states it talks about are reachable."""
    name: str
    statement: str
    holds: Callable[["System", State], bool]
    witness: Callable[["System", State], bool]


def _valid_magic(n: Neighbour) -> bool:
    return isinstance(n.bkn_fdb_skb, BknFdbSkb)


def _reachable_in_hw(sys: "System", s: State) -> bool:
    return all(not (n is not None and n.nud_state == NUD_REACHABLE and _valid_magic(n))
               or hw is not None for n, hw in zip(s.neigh, s.bkn_tbl))


def _no_hw_after_failed(sys: "System", s: State) -> bool:
    return all(not (n is not None and n.nud_state == NUD_FAILED) or hw is None
               for n, hw in zip(s.neigh, s.bkn_tbl))


def _no_hw_after_removal(sys: "System", s: State) -> bool:
    return all(n is not None or hw is None for n, hw in zip(s.neigh, s.bkn_tbl))


def _hw_lladdr_current(sys: "System", s: State) -> bool:
    return all(hw is None or n is None or hw.mac == n.lladdr
               for n, hw in zip(s.neigh, s.bkn_tbl))


def _hw_port_current(sys: "System", s: State) -> bool:
    return all(hw is None or s.fdb[sys.macs.index(hw.mac)] == hw.port for hw in s.bkn_tbl)


def _type_ok(sys: "System", s: State) -> bool:
    ok = len(s.neigh) == len(sys.keys) == len(s.bkn_tbl) and len(s.fdb) == len(sys.macs)
    for n in s.neigh:
        if n is None:
            continue
        ok &= n.nud_state in NUD_STATES and (n.ha is None or n.ha in sys.macs) and not n.dead
        ok &= not (n.timer and not n.nud_state & NUD_IN_TIMER)
    for hw in s.bkn_tbl:
        ok &= hw is None or (hw.mac in sys.macs and hw.port in sys.ports)
    return bool(ok)


INVARIANTS: dict[str, Invariant] = {inv.name: inv for inv in (
    Invariant("type_ok", "every field holds a value of its type; the timer is only pending in a "
              "NUD_IN_TIMER state", _type_ok, lambda sys, s: True),
    Invariant("reachable_in_hw", "a REACHABLE entry with valid magic is always in bkn_tbl",
              _reachable_in_hw,
              lambda sys, s: any(n is not None and n.nud_state == NUD_REACHABLE and _valid_magic(n)
                                 for n in s.neigh)),
    Invariant("no_hw_after_failed", "no bkn entry survives FAILED", _no_hw_after_failed,
              lambda sys, s: any(n is not None and n.nud_state == NUD_FAILED and _valid_magic(n)
                                 for n in s.neigh)),
    Invariant("no_hw_after_removal",
              "no bkn entry for a neighbour the kernel table no longer holds",
              _no_hw_after_removal,
              lambda sys, s: any(hw is not None for hw in s.bkn_tbl)),
    Invariant("hw_lladdr_current", "a bkn entry's MAC equals the kernel entry's lladdr",
              _hw_lladdr_current,
              lambda sys, s: any(hw is not None and n is not None for n, hw in zip(s.neigh, s.bkn_tbl))),
    Invariant("hw_port_current",
              "a bkn entry's port is the port its MAC was last seen on (the bridge FDB's view)",
              _hw_port_current,
              lambda sys, s: any(hw is not None for hw in s.bkn_tbl)),
)}

#: The design invariants (everything but type_ok), in report order.
DESIGN_INVARIANTS = tuple(k for k in INVARIANTS if k != "type_ok")


# --- the system -------------------------------------------------------------------

@dataclass(frozen=True)
class Config:
    """Parameters that turn profile x design x environment into a model.

    ``neighbours``: 1..4 keys N1..Nn; ``macs``/``ports``: the symbols;
    ``regime``: "small" or "large" (garbage collection)."""
    profile: str = "linux-6.18"
    design: Optional[str] = "seed-scheme1"
    neighbours: int = 2
    regime: str = "large"
    macs: tuple = ("M1", "M2")
    ports: tuple = ("P1", "P2")
    keys: Optional[tuple] = None   # neighbour symbols; default N1..Nn


class ModelError(ValueError):
    """A configuration that names an unknown profile, design or regime."""


class System:
    """The transition system of one :class:`Config`.

    ``init()`` -> the initial State; ``actions(s)`` -> the enabled actions;
    ``step(s, a)`` -> :class:`StepResult`; ``INVARIANTS`` are checked on states.
    """

    def __init__(self, config: Config):
        if not 1 <= config.neighbours <= 4:
            raise ModelError(f"--neighbours must be 1 to 4, got {config.neighbours}")
        if config.regime not in REGIMES:
            raise ModelError(f"unknown regime {config.regime!r} (known: {', '.join(REGIMES)})")
        try:
            self.profile: Profile = get_profile(config.profile)
            self.design: Optional[Design] = get_design(config.design) if config.design else None
        except KeyError as exc:
            raise ModelError(exc.args[0]) from None
        self.config = config
        self.parms: Parms = self.profile.parms
        self.keys = (tuple(config.keys) if config.keys is not None
                     else tuple(f"N{i + 1}" for i in range(config.neighbours)))
        if len(self.keys) != config.neighbours:
            raise ModelError(f"{len(self.keys)} neighbour keys for --neighbours {config.neighbours}")
        self.macs = tuple(config.macs)
        self.ports = tuple(config.ports)
        self._step_entry = lru_cache(maxsize=None)(self._step_entry_uncached)
        self._index = {k: i for i, k in enumerate(self.keys)}
        self._neigh_actions = self._make_neigh_actions()
        self._renamings = self._make_renamings()
        self._rename_pair = lru_cache(maxsize=None)(self._rename_pair_uncached)
        self._mac_index = {m: i for i, m in enumerate(self.macs)}

    # -- states

    def init(self) -> State:
        """Empty table, link up, empty bkn_tbl, no MAC seen on a driver port."""
        k = len(self.keys)
        return State(True, (None,) * k, (None,) * k, (NON_DRIVER,) * len(self.macs))

    # -- actions

    def rx_ports(self) -> tuple:
        """Ports ARP frames may arrive on: the driver ports, plus None (a
        non-driver source) when the design asks for it."""
        if self.design is not None and self.design.non_driver_source:
            return self.ports + (None,)
        return self.ports

    def env_actions(self, s: State) -> Iterator:
        """Environment events (TRACE_FORMAT vocabulary, Sleep excluded: it
        is a stutter), with every choice that can make a difference."""
        for i, key in enumerate(self.keys):
            n = s.neigh[i]
            fixed, no_override = self._neigh_actions[key]
            yield from fixed
            # the locktime comparison only matters on the update path of a
            # valid, non-static entry offered a different address
            if s.link_up and n is not None and int(n.nud_state) & _VALID_NOT_STATIC:
                for a in no_override:
                    if a.sha != n.ha:
                        yield a
        present = tuple(k for k, n in zip(self.keys, s.neigh) if n is not None)
        for order in itertools.permutations(present):
            yield Flush(order)
        if s.link_up:
            yield LinkDown(s.dev_list)
        else:
            yield LinkUp()

    def _make_neigh_actions(self) -> dict:
        """Per key: the state-independent events, and the ArpRx variants with
        ``override=False`` (offered only where the comparison matters).
        Built once so that the engines hash each action object once."""
        out = {}
        for key in self.keys:
            fixed, no_override = [], []
            for op, dst, sha, target, port in itertools.product(
                    ("request", "reply"), ("unicast", "broadcast"), self.macs,
                    ("local", "other"), self.rx_ports()):
                fixed.append(ArpRx(key, op, dst, sha, target, port, True))
                if not (op == "request" and target == "local"):
                    no_override.append(ArpRx(key, op, dst, sha, target, port, False))
            fixed.append(Tx(key))
            for nud, mac, rep in itertools.product(ADMIN_NUDS, self.macs, (False, True)):
                fixed.append(AdminAdd(key, nud, mac, rep))
            fixed.append(AdminDel(key))
            out[key] = (tuple(fixed), tuple(no_override))
        return out

    def internal_actions(self, s: State) -> Iterator:
        """Timer firings and garbage collection the kernel allows in ``s``."""
        for key, n in zip(self.keys, s.neigh):
            if n is None:
                continue
            if n.timer:
                for out in timer_outcomes(n):
                    if out != "alive":      # re-arms with no change: a stutter
                        yield TimerFires(key, out)
            if self.config.regime == "large":
                for kind in ("periodic", "forced"):
                    if self._gc_removes(n, kind):
                        yield GcRuns(key, kind)

    def actions(self, s: State) -> Iterator:
        """All enabled actions of ``s``: environment events, then internal steps."""
        yield from self.env_actions(s)
        yield from self.internal_actions(s)

    @staticmethod
    def _gc_removes(n: Neighbour, kind: str) -> bool:
        fn = neigh_periodic_work if kind == "periodic" else neigh_forced_gc
        return fn("", n, True)[0] is None

    # -- step

    def _driver(self, bkn: Optional[BknEntry], emissions: tuple, key: str
                ) -> tuple[Optional[BknEntry], tuple]:
        if self.design is None:
            return bkn, ()
        acts = []
        for em in emissions:
            if isinstance(em, NeteventCall):
                bkn, what = self.design.netevent(bkn, em)
                if what:
                    acts.append((key, what, bkn))
        return bkn, tuple(acts)

    def _step_entry_uncached(self, key: str, n: Optional[Neighbour], bkn: Optional[BknEntry],
                             link_up: bool, action) -> tuple:
        """Kernel + driver effect of ``action`` on the one neighbour it names.
        Returns (entry, bkn entry, emissions, driver actions)."""
        p = self.parms
        em: tuple = ()
        if isinstance(action, ArpRx):
            if link_up:
                cb = self.design.rx_stamp(action.port) if self.design else None
                frame = ArpFrame(action.op, PACKET_HOST if action.dst == "unicast" else PACKET_BROADCAST,
                                 action.sha, action.target == "local", cb)
                hook = self.design.arp_hook if self.design else None
                n, em = arp_process(key, n, frame, p, action.override, hook)
        elif isinstance(action, Tx):
            if link_up:
                if n is None:
                    n = _neigh_create()
                n, _ = neigh_event_send(n, p, skb=True)
        elif isinstance(action, AdminAdd):
            n, em, _ = neigh_add(key, n, action.lladdr, nud_from_name(action.nud), action.replace, p)
        elif isinstance(action, AdminDel):
            n, em, _ = neigh_delete(key, n, p)
        elif isinstance(action, TimerFires):
            n, em = neigh_timer_handler(key, n, p, action.expired)
        elif isinstance(action, GcRuns):
            fn = neigh_periodic_work if action.kind == "periodic" else neigh_forced_gc
            n, em = fn(key, n, True)
        else:  # pragma: no cover
            raise TypeError(f"not a per-neighbour action: {action!r}")
        bkn, drv = self._driver(bkn, em, key)
        return canonical_entry(n), bkn, em, drv

    def enabled(self, s: State, action) -> bool:
        """Whether ``action`` may be taken in ``s`` (environment events are
        always enabled -- a command on a missing entry just fails; internal
        steps need their kernel precondition)."""
        if isinstance(action, TimerFires):
            n = s.entry(self, action.neigh)
            return n is not None and n.timer and action.expired in timer_outcomes(n)
        if isinstance(action, GcRuns):
            n = s.entry(self, action.neigh)
            return (self.config.regime == "large" and n is not None
                    and action.kind in ("periodic", "forced") and self._gc_removes(n, action.kind))
        if isinstance(action, LinkDown):
            return not s.link_up or tuple(action.order) == s.dev_list
        if isinstance(action, Flush):
            present = {k for k, n in zip(self.keys, s.neigh) if n is not None}
            return set(action.order) >= present and len(set(action.order)) == len(action.order)
        return True

    def step(self, s: State, action, check: bool = True) -> StepResult:
        """Apply ``action`` to ``s``.  Raises ValueError if it is not enabled
        (``check=False`` skips that test, for actions ``actions(s)`` gave)."""
        if check and not self.enabled(s, action):
            raise ValueError(f"action not enabled: {action!r}")
        if type(action) in _PER_NEIGHBOUR:
            return self._step_one(s, action)
        neigh = list(s.neigh)
        bkn = list(s.bkn_tbl)
        fdb = s.fdb
        link_up = s.link_up
        em: tuple = ()
        drv: tuple = ()
        if isinstance(action, Flush):
            # iproute2: dump, then RTM_DELNEIGH for each non-PERMANENT/NOARP entry
            for key in action.order:
                i = self.keys.index(key)
                n = neigh[i]
                if n is None or n.nud_state & (NUD_PERMANENT | NUD_NOARP):
                    continue
                n, e, _ = neigh_delete(key, n, self.parms)
                neigh[i] = canonical_entry(n)
                bkn[i], d = self._driver(bkn[i], e, key)
                em += e
                drv += d
        elif isinstance(action, LinkDown):
            if link_up:
                table = {k: n for k, n in zip(self.keys, neigh) if n is not None}
                table, e = neigh_flush_dev(table, action.order, skip_perm=False)
                for i, key in enumerate(self.keys):
                    neigh[i] = table.get(key)
                # the driver sees the calls in kernel order
                for call in e:
                    if isinstance(call, NeteventCall):
                        i = self.keys.index(call.neigh)
                        bkn[i], d = self._driver(bkn[i], (call,), call.neigh)
                        drv += d
                em = e
                link_up = False
        elif isinstance(action, LinkUp):
            link_up = True
        elif isinstance(action, Sleep):
            pass
        else:
            raise TypeError(f"unknown action {action!r}")
        dev_list = s.dev_list
        for i, key in enumerate(self.keys):
            was, now = s.neigh[i] is not None, neigh[i] is not None
            if now and not was:
                dev_list = (key,) + dev_list
            elif was and not now:
                dev_list = tuple(k for k in dev_list if k != key)
        return StepResult(State(link_up, tuple(neigh), tuple(bkn), fdb, dev_list), em, drv)

    def canonical(self, s: State) -> tuple:
        """A key equal for ``s`` and every state that differs from it only by
        a renaming of the neighbour keys, of the MACs, or of the driver
        ports.  Sound because each of these sets is interchangeable: no
        kernel rule, design rule, event or invariant depends on a symbol's
        name (the events are offered for every symbol, Flush in every order,
        both ports are driver ports, and the initial state is symmetric), so
        renamed states satisfy the same invariants now and after every step.

        ``dev_list`` is left out too: it only orders LinkDown's emissions,
        and every design's callback acts on the notified neighbour's own
        bkn_tbl entry, so states that differ in it alone satisfy the same
        invariants now and after every step.

        Of the MAC x port renamings the image with the smallest hash is the
        key; neighbour slots are sorted by hash.  A hash tie can only miss a
        merge, never make a wrong one.  Used by the explorer's visited set;
        paths keep concrete states."""
        best, best_h = None, None
        pairs0 = tuple(zip(s.neigh, s.bkn_tbl))
        for r in range(len(self._renamings)):
            pairs = tuple(sorted((self._rename_pair(n, b, r) for n, b in pairs0), key=hash))
            key = (s.link_up, self._rename_fdb(s.fdb, r), pairs)
            h = hash(key)
            if best is None or h < best_h:
                best, best_h = key, h
        return best

    def _make_renamings(self) -> list:
        """Every (MAC renaming, port renaming), identity first."""
        return [(dict(zip(self.macs, mp)), dict(zip(self.ports, pp)))
                for mp in itertools.permutations(self.macs)
                for pp in itertools.permutations(self.ports)]

    def _rename_pair_uncached(self, n: Optional[Neighbour], b: Optional[BknEntry], r: int) -> tuple:
        mm, pm = self._renamings[r]
        if n is not None:
            ha = mm.get(n.ha, n.ha)
            stamp = n.bkn_fdb_skb
            if isinstance(stamp, BknFdbSkb) and stamp.interface in pm:
                stamp = BknFdbSkb(pm[stamp.interface])
            if ha != n.ha or stamp != n.bkn_fdb_skb:
                n = replace(n, ha=ha, bkn_fdb_skb=stamp)
        if b is not None:
            b = BknEntry(mm.get(b.mac, b.mac), pm.get(b.port, b.port))
        return n, b

    def _rename_fdb(self, fdb: tuple, r: int) -> tuple:
        if r == 0:
            return fdb
        mm, pm = self._renamings[r]
        out = [None] * len(fdb)
        for j, m in enumerate(self.macs):
            out[self._mac_index[mm[m]]] = pm.get(fdb[j], fdb[j])
        return tuple(out)

    def _step_one(self, s: State, action) -> StepResult:
        """``step`` for an action on one neighbour (the hot path of every
        engine): only that neighbour's slot, its bkn_tbl slot, the FDB entry
        of an ARP sender and ``dev_list`` can change."""
        key = action.neigh
        i = self._index[key]
        n0, b0 = s.neigh[i], s.bkn_tbl[i]
        n1, b1, em, drv = self._step_entry(key, n0, b0, s.link_up, action)
        fdb = s.fdb
        if type(action) is ArpRx:
            j = self._mac_index[action.sha]
            where = action.port if action.port is not None else NON_DRIVER
            if fdb[j] != where:
                fdb = fdb[:j] + (where,) + fdb[j + 1:]
        if n1 is n0 and b1 is b0 and fdb is s.fdb:
            return StepResult(s, em, drv)
        dev_list = s.dev_list
        if n0 is None and n1 is not None:
            dev_list = (key,) + dev_list
        elif n0 is not None and n1 is None:
            dev_list = tuple(k for k in dev_list if k != key)
        return StepResult(State(s.link_up, s.neigh[:i] + (n1,) + s.neigh[i + 1:],
                                s.bkn_tbl[:i] + (b1,) + s.bkn_tbl[i + 1:], fdb, dev_list),
                          em, drv)

    # -- presentation

    def describe_entry(self, n: Optional[Neighbour]) -> str:
        """``STATE lladdr`` as ip neigh would show it, or ``-`` when absent."""
        if n is None:
            return "-"
        return f"{nud_name(n.nud_state)} {n.lladdr or ''}".strip()


def build(profile: str = "linux-6.18", design: Optional[str] = "seed-scheme1",
          neighbours: int = 2, regime: str = "large") -> System:
    """Shorthand: ``System(Config(profile, design, neighbours, regime))``.
    Raises :class:`ModelError` for an unknown profile, design or regime."""
    return System(Config(profile=profile, design=design, neighbours=neighbours, regime=regime))
