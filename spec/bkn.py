"""Driver rules of the seed design "scheme 1" (``shared/seeds/000_*.txt``).

A switch driver (the "bkn" network driver of an SDK) keeps a host table
``bkn_tbl`` in the ASIC in sync with the kernel's ARP table:

1. The driver stamps every frame it receives from a front-panel port:
   ``skb->cb`` holds ``struct bkn_fdb_skb { int magic_head; int flags;
   uint32_t interface; int magic_tail; }`` with both magics set and
   ``interface`` = the ingress port.  A frame that reaches the stack another
   way (a non-driver interface, a software path) carries no magic.
2. ``struct neighbour`` gets a ``struct bkn_fdb_skb`` member (zeroed by
   ``neigh_alloc``).  When ``arp_process`` learns the entry as REACHABLE it
   checks the skb's magic and copies the stamp into the neighbour.
3. A netevent callback (``NETEVENT_NEIGH_UPDATE``): if the neighbour is
   NUD_REACHABLE, the magic is valid and the interface is a driver port,
   insert (``ha``, interface) into ``bkn_tbl``; if it is NUD_FAILED and the
   magic is valid, delete it from ``bkn_tbl``.

The seed leaves manual add and delete ("手动增加, 手动删除") open; the
rules above are all it specifies, and are all this module encodes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

from .arp import ArpFrame
from .neighbour import NeteventCall, Neighbour
from .nud import NETEVENT_NEIGH_UPDATE, NUD_FAILED, NUD_REACHABLE


@dataclass(frozen=True)
class BknFdbSkb:
    """``struct bkn_fdb_skb`` as written by the driver: the magics are
    valid (both equal to the driver's constant) and ``interface`` is the
    ingress port symbol."""

    interface: str

    def __hash__(self) -> int:
        return hash(("BknFdbSkb", self.interface))

    def __repr__(self) -> str:
        return f"BknFdbSkb(interface={self.interface!r})"


@dataclass(frozen=True)
class BknEntry:
    """One ``bkn_tbl`` host entry: the neighbour's MAC and egress port."""

    mac: str
    port: str

    def __hash__(self) -> int:
        # Cached: bkn_tbl entries are hashed very often by the engines.
        h = self.__dict__.get("_hash")
        if h is None:
            h = hash(("BknEntry", self.mac, self.port))
            object.__setattr__(self, "_hash", h)
        return h

    def __repr__(self) -> str:
        return f"BknEntry(mac={self.mac!r}, port={self.port!r})"


def bkn_rx_stamp(port: Optional[str], driver_ports: tuple[str, ...]) -> Optional[BknFdbSkb]:
    """Driver receive path: the ``skb->cb`` stamp of a frame arriving on
    ``port``; None (no magic) for a frame that did not come through a
    driver port (``port`` None or not one of ``driver_ports``)."""
    if port is not None and port in driver_ports:
        return BknFdbSkb(interface=port)
    return None


def bkn_arp_learn(n: Neighbour, frame: ArpFrame, state: int) -> Neighbour:
    """Hook in ``arp_process`` before ``neigh_update``: when the entry is
    learned as NUD_REACHABLE and ``skb->cb`` carries a valid magic, copy
    the stamp into ``neigh->bkn_fdb_skb``.  Otherwise the neighbour keeps
    whatever stamp it had."""
    if state == NUD_REACHABLE and isinstance(frame.cb, BknFdbSkb):
        return replace(n, bkn_fdb_skb=frame.cb)
    return n


def bkn_netevent_neigh_update(entry: Optional[BknEntry], call: NeteventCall,
                              driver_ports: tuple[str, ...]
                              ) -> tuple[Optional[BknEntry], str]:
    """The driver's netevent notifier for one call; returns (new bkn_tbl
    entry of that neighbour, action taken: "insert", "delete" or "").

    * ``nud_state == NUD_REACHABLE``, magic valid, interface a driver port:
      insert (``ha``, interface), replacing any entry.
    * ``nud_state == NUD_FAILED``, magic valid: delete.
    * anything else: nothing.  (``dead`` is not looked at.)
    """
    if call.event != NETEVENT_NEIGH_UPDATE:
        return entry, ""
    n = call.entry
    if not isinstance(n.bkn_fdb_skb, BknFdbSkb):
        return entry, ""
    learned = _stamped_reachable(n, driver_ports)
    if learned is not None:
        return learned, "insert"
    if n.nud_state == NUD_FAILED:
        return None, "delete"
    return entry, ""


def _stamped_reachable(n: Neighbour, driver_ports: tuple[str, ...]) -> Optional[BknEntry]:
    """The bkn_tbl entry both callbacks insert: (``ha``, stamp interface) for
    a NUD_REACHABLE neighbour whose stamp has valid magic and names a driver
    port; None otherwise."""
    stamp = n.bkn_fdb_skb
    if (n.nud_state == NUD_REACHABLE and isinstance(stamp, BknFdbSkb)
            and stamp.interface in driver_ports and n.ha is not None):
        return BknEntry(mac=n.ha, port=stamp.interface)
    return None


def bkn_netevent_strict(entry: Optional[BknEntry], call: NeteventCall,
                        driver_ports: tuple[str, ...]) -> tuple[Optional[BknEntry], str]:
    """A stricter netevent notifier (design "scheme1-strict", not in the
    seed): returns (new bkn_tbl entry, action taken).

    * ``dead`` (the entry left the table: ``neigh_cleanup_and_release``):
      delete.
    * ``nud_state == NUD_REACHABLE``, magic valid, interface a driver port:
      insert (``ha``, interface), replacing any entry.
    * any other state (STALE, DELAY, PROBE, FAILED, ...): delete, whatever
      the magic says.
    """
    if call.event != NETEVENT_NEIGH_UPDATE:
        return entry, ""
    n = call.entry
    learned = None if n.dead else _stamped_reachable(n, driver_ports)
    if learned is not None:
        return learned, "insert"
    if entry is not None:
        return None, "delete"
    return entry, ""
