"""The generic neighbour layer of Linux 6.18, as pure functions.

Mirrors ``net/core/neighbour.c`` of Linux 6.18 (stable 6.18.y, *before* the
net-next series "net: neighbour: make netlink notification atomic" by Petr
Machata, merged for 7.0).  The search-tool copy ``6952350/linux-6.18.y``
carries that series; where it differs, this module follows the real 6.18,
which the traces in ``shared/traces/linux-6.18/`` show (see
``Parms.notify_in_lock`` for the one observable difference).

Every function is named after the kernel function it models and takes and
returns immutable values: a :class:`Neighbour` (``struct neighbour``, the
fields the state machine reads) and a tuple of emissions, in the order the
kernel emits them:

* :class:`RtmNotify` -- one netlink message on RTNLGRP_NEIGH
  (``__neigh_notify``): RTM_NEWNEIGH or RTM_DELNEIGH with ``ndm_state`` and
  NDA_LLADDR (present only when ``nud_state & NUD_VALID``, as
  ``__neigh_fill_info`` does);
* :class:`NeteventCall` -- one call of the netevent notifier chain
  (``call_netevent_notifiers(NETEVENT_NEIGH_UPDATE, neigh)``), carrying the
  neighbour as a callback sees it at that moment (state, ``ha``, ``dead``,
  and any member a driver design added).

Abstractions, each because nothing observable depends on it here:

* Time.  ``jiffies``, ``confirmed``, ``used`` and ``updated`` are not
  stored; every comparison of them with a time-out is a *choice* the caller
  passes in (``neigh_timer_handler``'s ``expired``, ``arp_process``'s
  ``override``, the garbage collector's ``expired``).  A caller that
  enumerates all choices over-approximates the kernel's timing.
* Output functions.  On an Ethernet device (our ``br0``) ARP uses
  ``arp_hh_ops``, whose ``output`` and ``connected_output`` are both
  ``neigh_resolve_output``; so ``neigh_connect``/``neigh_suspect`` change
  nothing observable and every transmitted packet goes through
  ``neigh_event_send``.
* ``arp_queue`` is a boolean: non-empty or not (its byte limit only drops
  older packets).
* ``refcnt`` is derived: 1 (the table's reference) plus 1 while the timer is
  pending (``neigh_add_timer`` takes a reference).  No other holder exists
  between the atomic steps we model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Optional

from .nud import (
    NETEVENT_NEIGH_UPDATE, NUD_CONNECTED, NUD_DELAY, NUD_FAILED, NUD_INCOMPLETE,
    NUD_IN_TIMER, NUD_NOARP, NUD_NONE, NUD_PERMANENT, NUD_PROBE, NUD_REACHABLE,
    NUD_STALE, NUD_VALID, NEIGH_UPDATE_F_ADMIN, NEIGH_UPDATE_F_EXT_LEARNED,
    NEIGH_UPDATE_F_EXT_VALIDATED, NEIGH_UPDATE_F_ISROUTER, NEIGH_UPDATE_F_MANAGED,
    NEIGH_UPDATE_F_OVERRIDE, NEIGH_UPDATE_F_OVERRIDE_ISROUTER, NEIGH_UPDATE_F_USE,
    NEIGH_UPDATE_F_WEAK_OVERRIDE, NTF_EXT_LEARNED, NTF_EXT_VALIDATED, NTF_MANAGED,
    NTF_ROUTER, Ntf, Nud, RTM_DELNEIGH, RTM_NEWNEIGH, nud_name,
)

SOURCE = "Linux 6.18 net/core/neighbour.c"


@dataclass(frozen=True)
class Parms:
    """``struct neigh_parms`` values (sysctls ``net.ipv4.neigh.<dev>.*``) and
    the table-wide settings the spec reads, plus named kernel-version knobs.

    Defaults are the sysctls of ``shared/traces/README.md``.

    ``notify_in_lock``: False for Linux 6.18: ``__neigh_update`` and
    ``neigh_timer_handler`` call ``neigh_update_notify`` (netevent, then
    RTM_NEWNEIGH) after releasing ``neigh->lock``, i.e. after the ARP queue
    was flushed, so the notification shows the state the flush left (a
    queued packet turns STALE into DELAY: ``dev_seed1.jsonl`` line 59).
    True models the net-next series of 7.0, which sends RTM_NEWNEIGH under
    the lock before the queue is flushed.
    """

    ucast_probes: int = 2      # ucast_solicit
    mcast_probes: int = 2      # mcast_solicit
    app_probes: int = 0        # app_solicit
    mcast_reprobes: int = 0    # mcast_resolicit
    arp_accept: int = 0        # net.ipv4.conf.<dev>.arp_accept
    notify_in_lock: bool = False


@dataclass(frozen=True)
class Neighbour:
    """One ``struct neighbour`` as the state machine sees it.

    ``ha`` is the link-layer address as a MAC symbol (``"M1"``) or None while
    it is still all zeroes (fresh from ``neigh_alloc``'s kzalloc).  The
    kernel keeps ``ha`` when the entry turns invalid; it is only *shown*
    (NDA_LLADDR) while ``nud_state & NUD_VALID`` -- see :attr:`lladdr`.
    ``timer`` is True while ``neigh->timer`` is pending.  ``arp_queue`` is
    True while packets wait for resolution.  ``bkn_fdb_skb`` is the member a
    driver design may add to the struct (the seed's scheme 1 adds
    ``struct bkn_fdb_skb``); None means zeroed.

    ``confirmed_fresh`` abstracts ``neigh->confirmed``: True when it was set
    to ``jiffies`` after the entry last entered NUD_DELAY.  The DELAY timer
    fires DELAY_PROBE_TIME after the entry entered DELAY, so only then can
    ``time_before_eq(now, confirmed + DELAY_PROBE_TIME)`` hold ("now
    reachable").  Entering DELAY clears it; ``neigh->confirmed = jiffies``
    (``__neigh_update`` with ``new & NUD_CONNECTED``) sets it.
    """

    nud_state: Nud = NUD_NONE
    ha: Optional[str] = None
    flags: Ntf = Ntf.NONE
    probes: int = 0
    timer: bool = False
    arp_queue: bool = False
    dead: bool = False
    confirmed_fresh: bool = False
    bkn_fdb_skb: Any = None

    def __hash__(self) -> int:
        # Cached: entries are immutable and hashed very often by the engines.
        h = self.__dict__.get("_hash")
        if h is None:
            h = hash((int(self.nud_state), self.ha, int(self.flags), self.probes, self.timer,
                      self.arp_queue, self.dead, self.confirmed_fresh, self.bkn_fdb_skb))
            object.__setattr__(self, "_hash", h)
        return h

    @property
    def lladdr(self) -> Optional[str]:
        """NDA_LLADDR as ``__neigh_fill_info`` reports it: ``ha`` if valid."""
        return self.ha if self.nud_state & NUD_VALID else None

    @property
    def refcnt(self) -> int:
        """Derived reference count: the table's, plus the pending timer's."""
        return 1 + int(self.timer)

    def __repr__(self) -> str:
        parts = [f"nud_state=NUD_{nud_name(self.nud_state)}", f"ha={self.ha!r}"]
        if self.flags:
            parts.append(f"flags=Ntf({int(self.flags)})")
        if self.probes:
            parts.append(f"probes={self.probes}")
        if self.timer:
            parts.append("timer=True")
        if self.arp_queue:
            parts.append("arp_queue=True")
        if self.dead:
            parts.append("dead=True")
        if self.confirmed_fresh:
            parts.append("confirmed_fresh=True")
        if self.bkn_fdb_skb is not None:
            parts.append(f"bkn_fdb_skb={self.bkn_fdb_skb!r}")
        return "Neighbour(" + ", ".join(parts) + ")"


@dataclass(frozen=True)
class RtmNotify:
    """A netlink notification on RTNLGRP_NEIGH (``__neigh_notify``)."""

    msg: str          # RTM_NEWNEIGH / RTM_DELNEIGH
    neigh: str        # neighbour key symbol ("N1")
    nud: Nud
    lladdr: Optional[str]

    def __str__(self) -> str:
        return f"{self.msg} {self.neigh} {nud_name(self.nud)} {self.lladdr or '-'}"


@dataclass(frozen=True)
class NeteventCall:
    """One ``call_netevent_notifiers(NETEVENT_NEIGH_UPDATE, neigh)``: the
    neighbour as every registered callback sees it at that moment."""

    event: str
    neigh: str
    entry: Neighbour

    def __str__(self) -> str:
        e = self.entry
        dead = " dead" if e.dead else ""
        return f"netevent {self.neigh} {nud_name(e.nud_state)} {e.ha or '-'}{dead}"


Emission = Any  # RtmNotify | NeteventCall
Step = tuple  # (Optional[Neighbour], tuple[Emission, ...])


# --- small helpers that keep their kernel names ---------------------------

def ___neigh_create(ndm_flags: Ntf = Ntf.NONE) -> Neighbour:
    """``___neigh_create`` (``neigh_alloc`` + hash insert), 6.18
    net/core/neighbour.c: a new entry is NUD_NONE with zeroed ``ha`` and
    ``flags`` = the creation flags; ``dead`` is cleared once it is hashed.

    Table-size effects of ``neigh_alloc`` (forced GC, overflow) are the
    model's business (:func:`neigh_forced_gc`)."""
    return Neighbour(flags=Ntf(ndm_flags))


def neigh_add_timer(n: Neighbour) -> Neighbour:
    """``neigh_add_timer``: arm the timer (takes a reference)."""
    return replace(n, timer=True)


def neigh_del_timer(n: Neighbour) -> Neighbour:
    """``neigh_del_timer``: ``if ((n->nud_state & NUD_IN_TIMER) &&
    timer_delete(&n->timer))`` drop the pending timer."""
    if n.nud_state & NUD_IN_TIMER and n.timer:
        return replace(n, timer=False)
    return n


def neigh_max_probes(n: Neighbour, p: Parms) -> int:
    """``neigh_max_probes``: UCAST_PROBES + APP_PROBES + (NUD_PROBE ?
    MCAST_REPROBES : MCAST_PROBES)."""
    return p.ucast_probes + p.app_probes + (
        p.mcast_reprobes if n.nud_state & NUD_PROBE else p.mcast_probes)


def neigh_probe(n: Neighbour) -> Neighbour:
    """``neigh_probe``: send a solicitation (``arp_solicit``) and
    ``atomic_inc(&neigh->probes)``."""
    return replace(n, probes=n.probes + 1)


def neigh_invalidate(n: Neighbour) -> Neighbour:
    """``neigh_invalidate``: report every queued packet unreachable and
    purge ``arp_queue``."""
    return replace(n, arp_queue=False)


def neigh_update_is_router(n: Neighbour, flags: int) -> tuple[Neighbour, bool]:
    """``neigh_update_is_router`` (include/net/neighbour.h): set NTF_ROUTER
    from NEIGH_UPDATE_F_ISROUTER; returns (entry, notify)."""
    want = NTF_ROUTER if flags & NEIGH_UPDATE_F_ISROUTER else Ntf.NONE
    if (n.flags ^ want) & NTF_ROUTER:
        # f ^ (f & m) clears m; ~m on an IntFlag would also drop bits Ntf does not name
        return replace(n, flags=Ntf((n.flags ^ (n.flags & NTF_ROUTER)) | want)), True
    return n, False


def neigh_update_flags(n: Neighbour, flags: int) -> tuple[Neighbour, bool]:
    """``neigh_update_flags``: only for NEIGH_UPDATE_F_ADMIN, copy
    EXT_LEARNED / MANAGED / EXT_VALIDATED into ``neigh->flags``; any change
    notifies.  Returns (entry, notify)."""
    if not flags & NEIGH_UPDATE_F_ADMIN:
        return n, False
    ndm = Ntf.NONE
    if flags & NEIGH_UPDATE_F_EXT_LEARNED:
        ndm |= NTF_EXT_LEARNED
    if flags & NEIGH_UPDATE_F_MANAGED:
        ndm |= NTF_MANAGED
    if flags & NEIGH_UPDATE_F_EXT_VALIDATED:
        ndm |= NTF_EXT_VALIDATED
    mask = NTF_EXT_LEARNED | NTF_MANAGED | NTF_EXT_VALIDATED
    changed = (n.flags ^ ndm) & mask
    if not changed:
        return n, False
    return replace(n, flags=Ntf((n.flags ^ (n.flags & changed)) | (ndm & changed))), True


def neigh_update_notify(key: str, n: Neighbour) -> tuple:
    """``neigh_update_notify`` (6.18): ``call_netevent_notifiers(
    NETEVENT_NEIGH_UPDATE, neigh)`` then ``__neigh_notify(neigh,
    RTM_NEWNEIGH)`` -- in that order, both with the entry as it is now."""
    return (NeteventCall(NETEVENT_NEIGH_UPDATE, key, n),
            RtmNotify(RTM_NEWNEIGH, key, n.nud_state, n.lladdr))


def neigh_cleanup_and_release(key: str, n: Neighbour) -> tuple:
    """``neigh_cleanup_and_release``: ``__neigh_notify(neigh, RTM_DELNEIGH)``
    then the netevent chain, on an entry already marked dead and unhashed."""
    return (RtmNotify(RTM_DELNEIGH, key, n.nud_state, n.lladdr),
            NeteventCall(NETEVENT_NEIGH_UPDATE, key, n))


def neigh_mark_dead(n: Neighbour) -> Neighbour:
    """``neigh_mark_dead``: ``n->dead = 1`` (and off the gc/managed lists)."""
    return replace(n, dead=True)


# --- output path ----------------------------------------------------------

def __neigh_event_send(n: Neighbour, p: Parms, skb: bool, immediate_ok: bool = True
                       ) -> tuple[Neighbour, int]:
    """``__neigh_event_send`` (6.18 net/core/neighbour.c); returns (entry, rc).

    Branches in kernel order (never notifies):

    * ``nud_state & (NUD_CONNECTED|NUD_DELAY|NUD_PROBE)``: nothing, rc 0.
    * ``dead``: STALE -> rc 0; else the packet is dropped, rc 1.
    * ``!(nud_state & (NUD_STALE|NUD_INCOMPLETE))`` (NONE, FAILED):
      with MCAST_PROBES + APP_PROBES: ``probes = UCAST_PROBES``, timer
      re-armed, -> INCOMPLETE, and with ``immediate_ok`` ``neigh_probe`` at
      the end; without them: -> FAILED, packet dropped, rc 1.
    * ``nud_state & NUD_STALE``: -> DELAY, timer armed for
      DELAY_PROBE_TIME.
    * then if INCOMPLETE: the packet is queued on ``arp_queue``, rc 1.
    """
    if n.nud_state & (NUD_CONNECTED | NUD_DELAY | NUD_PROBE):
        return n, 0
    if n.dead:
        return (n, 0) if n.nud_state & NUD_STALE else (n, 1)
    immediate_probe = False
    if not n.nud_state & (NUD_STALE | NUD_INCOMPLETE):
        if p.mcast_probes + p.app_probes:
            n = replace(n, probes=p.ucast_probes)
            n = neigh_del_timer(n)
            n = replace(n, nud_state=NUD_INCOMPLETE)
            immediate_probe = immediate_ok
            n = neigh_add_timer(n)
        else:
            return replace(n, nud_state=NUD_FAILED), 1
    elif n.nud_state & NUD_STALE:
        n = neigh_del_timer(n)
        n = replace(n, nud_state=NUD_DELAY, confirmed_fresh=False)
        n = neigh_add_timer(n)
    rc = 0
    if n.nud_state == NUD_INCOMPLETE:
        if skb:
            n = replace(n, arp_queue=True)
        rc = 1
    if immediate_probe:
        n = neigh_probe(n)
    return n, rc


def neigh_event_send(n: Neighbour, p: Parms, skb: bool = True) -> tuple[Neighbour, int]:
    """``neigh_event_send`` -> ``neigh_event_send_probe(neigh, skb, true)``
    (include/net/neighbour.h): refresh ``used`` (not stored), and unless
    ``nud_state & (NUD_CONNECTED|NUD_DELAY|NUD_PROBE)`` call
    :func:`__neigh_event_send`."""
    if n.nud_state & (NUD_CONNECTED | NUD_DELAY | NUD_PROBE):
        return n, 0
    return __neigh_event_send(n, p, skb, True)


def neigh_update_process_arp_queue(n: Neighbour, p: Parms) -> Neighbour:
    """``neigh_update_process_arp_queue`` (inline in 6.18's
    ``__neigh_update``): while ``nud_state & NUD_VALID`` and a packet is
    queued, send it through ``neigh->output`` (``neigh_resolve_output`` ->
    ``neigh_event_send``: STALE becomes DELAY), then purge the queue."""
    if n.nud_state & NUD_VALID and n.arp_queue:
        n = replace(n, arp_queue=False)
        n, _ = neigh_event_send(n, p, skb=False)
    return replace(n, arp_queue=False)


# --- the generic update ---------------------------------------------------

def __neigh_update(key: str, n: Neighbour, lladdr: Optional[str], new: int, flags: int,
                   p: Parms) -> tuple[Neighbour, tuple, int]:
    """``__neigh_update`` (6.18 net/core/neighbour.c); returns
    (entry, emissions, err).

    ``lladdr`` is a MAC symbol or None (no address supplied).  Branches in
    kernel order:

    1. ``neigh->dead``: nothing, err -EPERM.
    2. ``!(flags & ADMIN) && (old & (NUD_NOARP|NUD_PERMANENT))``: nothing.
    3. ``neigh_update_flags`` (ADMIN only): EXT_LEARNED/MANAGED/
       EXT_VALIDATED changes notify.
    4. ``flags & (USE|MANAGED)``: ``new = old & ~NUD_PERMANENT``, goto out.
    5. ``!(new & NUD_VALID)``: timer deleted, state = new,
       ``notify = old & NUD_VALID``; ``(old & (INCOMPLETE|PROBE)) &&
       (new & FAILED)``: ``neigh_invalidate``, notify = 1.  goto out.
    6. lladdr: none supplied and ``!(old & NUD_VALID)`` -> -EINVAL;
       none supplied -> keep ``ha``; same as ``ha`` on a valid entry -> keep.
    7. ``old & NUD_VALID``: a different lladdr without OVERRIDE is refused
       (goto out) unless WEAK_OVERRIDE on a CONNECTED entry, which makes it
       STALE with the old address; same lladdr, ``new == STALE`` and not
       ADMIN -> ``new = old``.
    8. ``new != old``: timer deleted, probes reset for PROBE, timer armed for
       IN_TIMER states, state = new, notify.
    9. ``lladdr != neigh->ha``: ``ha`` = lladdr, notify.
    10. ``new != old`` and ``!(old & NUD_VALID)``: the ARP queue is sent.
    out: OVERRIDE_ISROUTER (only past step 7) updates NTF_ROUTER; if notify:
    ``neigh_update_notify`` (netevent, RTM_NEWNEIGH) after the unlock.
    """
    old = n.nud_state
    err = -1  # -EPERM
    notify = False
    update_isrouter = False
    process_arp_queue = False

    def out(n: Neighbour, notify: bool, err: int) -> tuple[Neighbour, tuple, int]:
        if update_isrouter:
            n, nt = neigh_update_is_router(n, flags)
            notify = notify or nt
        if notify and p.notify_in_lock:
            em = (RtmNotify(RTM_NEWNEIGH, key, n.nud_state, n.lladdr),)
        else:
            em = ()
        if process_arp_queue:
            n = neigh_update_process_arp_queue(n, p)
        if notify:
            if p.notify_in_lock:
                em = em + (NeteventCall(NETEVENT_NEIGH_UPDATE, key, n),)
            else:
                em = neigh_update_notify(key, n)
        return n, em, err

    if n.dead:
        return out(n, False, err)
    if not flags & NEIGH_UPDATE_F_ADMIN and old & (NUD_NOARP | NUD_PERMANENT):
        return out(n, False, err)

    n, notify = neigh_update_flags(n, flags)
    if flags & (NEIGH_UPDATE_F_USE | NEIGH_UPDATE_F_MANAGED):
        new = old & ~NUD_PERMANENT
        n = replace(n, nud_state=Nud(new))
        return out(n, notify, 0)

    if not new & NUD_VALID:
        n = neigh_del_timer(n)
        n = replace(n, nud_state=Nud(new))
        notify = bool(old & NUD_VALID)
        if old & (NUD_INCOMPLETE | NUD_PROBE) and new & NUD_FAILED:
            n = neigh_invalidate(n)
            notify = True
        return out(n, notify, 0)

    # Compare new lladdr with cached one.  ``keep`` stands for the C's
    # ``lladdr = neigh->ha`` (pointer equality afterwards).
    if lladdr is not None:
        keep = bool(old & NUD_VALID) and lladdr == n.ha
    else:
        if not old & NUD_VALID:
            return out(n, notify, -22)  # -EINVAL: no link layer address given
        keep = True
    if keep:
        lladdr = n.ha

    # "Update confirmed timestamp for neighbour entry after we received ARP
    # packet even if it doesn't change IP to MAC binding."
    if new & NUD_CONNECTED:
        n = replace(n, confirmed_fresh=True)

    err = 0
    update_isrouter = bool(flags & NEIGH_UPDATE_F_OVERRIDE_ISROUTER)
    if old & NUD_VALID:
        if not keep and not flags & NEIGH_UPDATE_F_OVERRIDE:
            update_isrouter = False
            if flags & NEIGH_UPDATE_F_WEAK_OVERRIDE and old & NUD_CONNECTED:
                keep = True
                lladdr = n.ha
                new = NUD_STALE
            else:
                return out(n, notify, err)
        else:
            if keep and new == NUD_STALE and not flags & NEIGH_UPDATE_F_ADMIN:
                new = old

    if new != old:
        n = neigh_del_timer(n)
        if new & NUD_PROBE:
            n = replace(n, probes=0)
        if new & NUD_DELAY:
            n = replace(n, confirmed_fresh=False)
        if new & NUD_IN_TIMER:
            n = neigh_add_timer(n)
        n = replace(n, nud_state=Nud(new))
        notify = True

    if not keep:
        n = replace(n, ha=lladdr)
        if not new & NUD_CONNECTED:
            n = replace(n, confirmed_fresh=False)  # confirmed = jiffies - 2 * BASE_REACHABLE_TIME
        notify = True

    if new == old:
        return out(n, notify, err)
    if not old & NUD_VALID:
        process_arp_queue = True
    return out(n, notify, err)


def neigh_update(key: str, n: Neighbour, lladdr: Optional[str], new: int, flags: int,
                 p: Parms) -> tuple[Neighbour, tuple, int]:
    """``neigh_update``: ``__neigh_update`` without an extack."""
    return __neigh_update(key, n, lladdr, new, flags, p)


def neigh_event_ns(key: str, n: Optional[Neighbour], lladdr: Optional[str], p: Parms
                   ) -> tuple[Optional[Neighbour], tuple]:
    """``neigh_event_ns``: ``__neigh_lookup(tbl, saddr, dev, lladdr ||
    !dev->addr_len)`` (creates the entry when an address is given), then
    ``neigh_update(neigh, lladdr, NUD_STALE, NEIGH_UPDATE_F_OVERRIDE)``.
    Returns (entry or None, emissions)."""
    if n is None:
        if lladdr is None:
            return None, ()
        n = ___neigh_create()
    n, em, _ = neigh_update(key, n, lladdr, NUD_STALE, NEIGH_UPDATE_F_OVERRIDE, p)
    return n, em


# --- timers ---------------------------------------------------------------

#: Outcomes of the time comparisons in ``neigh_timer_handler``, named after
#: the kernel's debug messages.  REACHABLE: ``alive`` (now <= confirmed +
#: reachable_time), ``delayed`` (else now <= used + DELAY_PROBE_TIME),
#: ``suspected`` (else).  DELAY: ``reachable`` (now <= confirmed +
#: DELAY_PROBE_TIME), ``probed`` (else).  INCOMPLETE/PROBE: no choice (None).
TIMER_OUTCOMES = {
    NUD_REACHABLE: ("alive", "delayed", "suspected"),
    NUD_DELAY: ("reachable", "probed"),
    NUD_INCOMPLETE: (None,),
    NUD_PROBE: (None,),
}


def timer_outcomes(n: Neighbour) -> tuple:
    """The outcomes ``neigh_timer_handler`` can reach for ``n``: those of
    :data:`TIMER_OUTCOMES`, except that DELAY is "reachable" only if
    ``confirmed_fresh`` (see :class:`Neighbour`); (None,) outside
    NUD_IN_TIMER states."""
    if not n.nud_state & NUD_IN_TIMER:
        return (None,)
    outs = TIMER_OUTCOMES.get(Nud(n.nud_state), (None,))
    if n.nud_state == NUD_DELAY and not n.confirmed_fresh:
        outs = tuple(o for o in outs if o != "reachable")
    return outs


def neigh_timer_handler(key: str, n: Neighbour, p: Parms, expired: Optional[str]
                        ) -> tuple[Neighbour, tuple]:
    """``neigh_timer_handler`` (6.18 net/core/neighbour.c): the pending
    timer fires.  ``expired`` picks the time comparison's outcome (see
    :data:`TIMER_OUTCOMES`).  Returns (entry, emissions).

    * ``!(state & NUD_IN_TIMER)``: nothing (timer not re-armed).
    * REACHABLE: alive -> re-arm; delayed -> DELAY (no notify); suspected ->
      STALE, notify.
    * DELAY: reachable (only with ``confirmed_fresh``) -> REACHABLE, notify;
      probed -> PROBE, probes = 0, notify.
    * then ``(state & (INCOMPLETE|PROBE)) && probes >= neigh_max_probes``:
      PROBE with NTF_EXT_VALIDATED -> STALE, else FAILED +
      ``neigh_invalidate``; notify; no re-arm, no probe.
    * otherwise re-arm while IN_TIMER, and ``neigh_probe`` in INCOMPLETE/PROBE.
    * if notify: ``neigh_update_notify`` (after the probe was sent).

    Raises ValueError when ``expired`` is not an outcome of the state.
    """
    if not n.timer:
        raise ValueError("neigh_timer_handler: timer not pending")
    n = replace(n, timer=False)          # the timer's reference is consumed
    state = n.nud_state
    notify = False
    if not state & NUD_IN_TIMER:
        return n, ()
    allowed = timer_outcomes(n)
    if expired not in allowed:
        raise ValueError(f"neigh_timer_handler: outcome {expired!r} not one of {allowed} "
                         f"for NUD_{nud_name(state)}")
    if state & NUD_REACHABLE:
        if expired == "alive":
            pass
        elif expired == "delayed":
            n = replace(n, nud_state=NUD_DELAY, confirmed_fresh=False)
        else:
            n = replace(n, nud_state=NUD_STALE)
            notify = True
    elif state & NUD_DELAY:
        if expired == "reachable":
            n = replace(n, nud_state=NUD_REACHABLE)
            notify = True
        else:
            n = replace(n, nud_state=NUD_PROBE, probes=0)
            notify = True

    if n.nud_state & (NUD_INCOMPLETE | NUD_PROBE) and n.probes >= neigh_max_probes(n, p):
        if n.nud_state == NUD_PROBE and n.flags & NTF_EXT_VALIDATED:
            n = replace(n, nud_state=NUD_STALE)
        else:
            n = replace(n, nud_state=NUD_FAILED)
            n = neigh_invalidate(n)
        return n, neigh_update_notify(key, n)

    if n.nud_state & NUD_IN_TIMER:
        n = replace(n, timer=True)
    if n.nud_state & (NUD_INCOMPLETE | NUD_PROBE):
        n = neigh_probe(n)
    return n, (neigh_update_notify(key, n) if notify else ())


# --- netlink requests (ip neigh add/replace/del) --------------------------

def neigh_add(key: str, n: Optional[Neighbour], lladdr: Optional[str], ndm_state: int,
              replace_: bool, p: Parms, ndm_flags: Ntf = Ntf.NONE
              ) -> tuple[Optional[Neighbour], tuple, int]:
    """``neigh_add`` (RTM_NEWNEIGH request), 6.18 net/core/neighbour.c.

    ``replace_`` True is ``ip neigh replace`` (NLM_F_CREATE|NLM_F_REPLACE),
    False is ``ip neigh add`` (NLM_F_CREATE|NLM_F_EXCL).  Returns
    (entry or None, emissions, err).

    * no entry: ``___neigh_create`` with the NTF_EXT_LEARNED|NTF_MANAGED|
      NTF_EXT_VALIDATED creation flags, then ``__neigh_update`` with
      ADMIN|OVERRIDE|OVERRIDE_ISROUTER.
    * entry and NLM_F_EXCL: -EEXIST, nothing changes.
    * entry and NLM_F_REPLACE: ``__neigh_update`` with
      ADMIN|OVERRIDE|OVERRIDE_ISROUTER.
    NTF_USE/NTF_MANAGED then ``neigh_event_send``.
    """
    flags = NEIGH_UPDATE_F_ADMIN | NEIGH_UPDATE_F_OVERRIDE | NEIGH_UPDATE_F_OVERRIDE_ISROUTER
    if n is None:
        n = ___neigh_create(Ntf(ndm_flags & (NTF_EXT_LEARNED | NTF_MANAGED | NTF_EXT_VALIDATED)))
    else:
        if not replace_:
            return n, (), -17  # -EEXIST
        # (with NLM_F_REPLACE the OVERRIDE flags stay)
    if ndm_flags & NTF_EXT_LEARNED:
        flags |= NEIGH_UPDATE_F_EXT_LEARNED
    if ndm_flags & NTF_ROUTER:
        flags |= NEIGH_UPDATE_F_ISROUTER
    if ndm_flags & NTF_MANAGED:
        flags |= NEIGH_UPDATE_F_MANAGED
    if ndm_flags & Ntf.USE:
        flags |= NEIGH_UPDATE_F_USE
    if ndm_flags & NTF_EXT_VALIDATED:
        flags |= NEIGH_UPDATE_F_EXT_VALIDATED
    n, em, err = __neigh_update(key, n, lladdr, ndm_state, flags, p)
    if not err and ndm_flags & (Ntf.USE | NTF_MANAGED):
        n, _ = neigh_event_send(n, p, skb=False)
    return n, em, err


def neigh_remove_one(key: str, n: Neighbour) -> tuple[Optional[Neighbour], tuple]:
    """``neigh_remove_one``: if ``refcnt == 1`` unhash, ``neigh_mark_dead``
    and ``neigh_cleanup_and_release`` (RTM_DELNEIGH, netevent); else keep."""
    if n.refcnt != 1:
        return n, ()
    return None, neigh_cleanup_and_release(key, neigh_mark_dead(n))


def neigh_delete(key: str, n: Optional[Neighbour], p: Parms
                 ) -> tuple[Optional[Neighbour], tuple, int]:
    """``neigh_delete`` (RTM_DELNEIGH request): no entry -> -ENOENT;
    else ``__neigh_update(neigh, NULL, NUD_FAILED, OVERRIDE|ADMIN)`` then
    ``neigh_remove_one``.  ``ip neigh del`` on a valid entry thus gives
    RTM_NEWNEIGH FAILED, then RTM_DELNEIGH FAILED."""
    if n is None:
        return None, (), -2  # -ENOENT
    n, em, err = __neigh_update(key, n, None, NUD_FAILED,
                                NEIGH_UPDATE_F_OVERRIDE | NEIGH_UPDATE_F_ADMIN, p)
    n2, em2 = neigh_remove_one(key, n)
    return n2, em + em2, err


# --- table-wide removal ---------------------------------------------------

def neigh_flush_one(key: str, n: Neighbour) -> tuple:
    """``neigh_flush_one``: unhash, delete the timer, mark dead; an entry
    still referenced elsewhere becomes NOARP (if valid) or NONE; then
    ``neigh_cleanup_and_release``.  Returns the emissions."""
    n = neigh_mark_dead(neigh_del_timer(n))
    if n.refcnt != 1:
        n = replace(n, arp_queue=False,
                    nud_state=NUD_NOARP if n.nud_state & NUD_VALID else NUD_NONE)
    return neigh_cleanup_and_release(key, n)


def neigh_flush_dev(table: dict, order: tuple, skip_perm: bool) -> tuple[dict, tuple]:
    """``neigh_flush_dev`` (from ``neigh_ifdown`` on NETDEV_DOWN, with
    ``skip_perm`` False; ``neigh_carrier_down`` with True): every entry of the
    device, in ``order`` (the device list order), is flushed with
    :func:`neigh_flush_one` unless ``skip_perm`` and it is PERMANENT or
    NTF_EXT_VALIDATED.

    ``table`` maps key -> Neighbour (present entries only); returns
    (table, emissions)."""
    table = dict(table)
    em: tuple = ()
    for key in order:
        n = table.get(key)
        if n is None:
            continue
        if skip_perm and (n.nud_state & NUD_PERMANENT or n.flags & NTF_EXT_VALIDATED):
            continue
        del table[key]
        em += neigh_flush_one(key, n)
    return table, em


def neigh_periodic_work(key: str, n: Neighbour, expired: bool
                        ) -> tuple[Optional[Neighbour], tuple]:
    """The per-entry body of ``neigh_periodic_work`` (runs only while the
    table holds at least gc_thresh1 entries -- the caller's precondition).

    Skipped: ``state & (NUD_PERMANENT|NUD_IN_TIMER)`` or NTF_EXT_LEARNED/
    NTF_EXT_VALIDATED.  Removed (unhash, dead, ``neigh_cleanup_and_release``)
    when ``refcnt == 1`` and (NUD_FAILED or ``used`` older than
    GC_STALETIME -- the ``expired`` choice).  Returns (entry or None,
    emissions)."""
    if n.nud_state & (NUD_PERMANENT | NUD_IN_TIMER) or n.flags & (NTF_EXT_LEARNED | NTF_EXT_VALIDATED):
        return n, ()
    if n.refcnt == 1 and (n.nud_state == NUD_FAILED or expired):
        return None, neigh_cleanup_and_release(key, neigh_mark_dead(n))
    return n, ()


def neigh_forced_gc(key: str, n: Neighbour, expired: bool
                    ) -> tuple[Optional[Neighbour], tuple]:
    """The per-entry body of ``neigh_forced_gc`` (run by ``neigh_alloc``
    when the table holds gc_thresh2+ entries -- the caller's precondition).

    Only entries on ``tbl->gc_list`` (not NUD_PERMANENT, not
    NTF_EXT_LEARNED/NTF_EXT_VALIDATED: ``neigh_update_gc_list``) with
    ``refcnt == 1``; removed when NUD_FAILED, NUD_NOARP, or ``updated`` is
    older than 5 s (the ``expired`` choice), via ``neigh_remove_one``."""
    if n.nud_state & NUD_PERMANENT or n.flags & (NTF_EXT_LEARNED | NTF_EXT_VALIDATED):
        return n, ()
    if n.refcnt == 1 and (n.nud_state in (NUD_FAILED, NUD_NOARP) or expired):
        return neigh_remove_one(key, n)
    return n, ()
