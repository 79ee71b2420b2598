"""The neighbour decisions of ARP input (Linux 6.18 ``net/ipv4/arp.c``).

Only what ``arp_process`` decides about the neighbour table is modelled:
which entry it looks up or creates, which state and flags it hands to
``neigh_update``, and where a driver design hooks in.  Sending the ARP
reply, proxy ARP and duplicate address detection change no neighbour entry
in the set-up we model (no proxy ARP, arp_ignore=0, arp_filter=0,
``sip`` never 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from .neighbour import (
    Neighbour, Parms, ___neigh_create, neigh_event_ns, neigh_update,
)
from .nud import NEIGH_UPDATE_F_OVERRIDE, NUD_REACHABLE, NUD_STALE

#: skb->pkt_type values that matter here (include/uapi/linux/if_packet.h)
PACKET_HOST = "PACKET_HOST"
PACKET_BROADCAST = "PACKET_BROADCAST"


@dataclass(frozen=True)
class ArpFrame:
    """An ARP frame as ``arp_process`` reads it.

    ``op``: "request" (ARPOP_REQUEST) or "reply" (ARPOP_REPLY);
    ``pkt_type``: PACKET_HOST (sent to the host's MAC) or PACKET_BROADCAST;
    ``sha``: sender hardware address (MAC symbol); the sender IP is the
    neighbour the caller passes; ``tip_local``: the target IP is one of the
    host's addresses (``ip_route_input`` gives RTN_LOCAL).  ``cb`` is the
    skb control block (``skb->cb``), which a driver may have stamped.
    """

    op: str
    pkt_type: str
    sha: str
    tip_local: bool
    cb: Any = None


#: A driver hook called by ``arp_process`` before it updates an entry:
#: (entry, frame, state) -> entry.  The seed's scheme 1 copies the skb->cb
#: stamp into the neighbour here when the state is NUD_REACHABLE.
ArpLearnHook = Callable[[Neighbour, ArpFrame, int], Neighbour]


def arp_is_garp(frame: ArpFrame) -> bool:
    """``arp_is_garp``: ``tip == sip`` (plus ``tha == sha`` for replies).
    Our frames target either the host's address or an unrelated one, never
    the sender's own address, so this is always False."""
    return False


def arp_process(key: str, n: Optional[Neighbour], frame: ArpFrame, p: Parms,
                override: bool, hook: Optional[ArpLearnHook] = None
                ) -> tuple[Optional[Neighbour], tuple]:
    """``arp_process`` (6.18 net/ipv4/arp.c), neighbour part; returns
    (entry or None, emissions).

    ``override`` is the value of ``time_after(jiffies, n->updated +
    NEIGH_VAR(n->parms, LOCKTIME))`` -- a time comparison, so a choice.

    1. ``arp->ar_op == ARPOP_REQUEST`` and the target is local
       (RTN_LOCAL, arp_ignore 0): ``neigh_event_ns(&arp_tbl, sha, &sip,
       dev)`` -- creates the entry if needed, ``neigh_update(STALE,
       OVERRIDE)`` -- then a reply is sent; done.
    2. Otherwise ``n = __neigh_lookup(&arp_tbl, &sip, dev, 0)`` (no
       creation); with ``arp_accept`` an unknown sender of a reply (or a
       gratuitous ARP) is created.
    3. If ``n``: ``state = NUD_REACHABLE``, but NUD_STALE when
       ``ar_op != ARPOP_REPLY || skb->pkt_type != PACKET_HOST``;
       ``override || is_garp`` gives NEIGH_UPDATE_F_OVERRIDE;
       ``neigh_update(n, sha, state, flags)``.
    The driver ``hook`` runs just before that ``neigh_update``.
    """
    if frame.op == "request" and frame.tip_local:
        return neigh_event_ns(key, n, frame.sha, p)
    is_garp = arp_is_garp(frame)
    if n is None and p.arp_accept:
        if is_garp or frame.op == "reply":
            n = ___neigh_create()
    if n is None:
        return None, ()
    state = NUD_REACHABLE
    if frame.op != "reply" or frame.pkt_type != PACKET_HOST:
        state = NUD_STALE
    flags = NEIGH_UPDATE_F_OVERRIDE if (override or is_garp) else 0
    if hook is not None:
        n = hook(n, frame, state)
    n, em, _ = neigh_update(key, n, frame.sha, state, flags, p)
    return n, em
