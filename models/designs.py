"""Driver designs that mirror the neighbour table into ``bkn_tbl``.

A design bundles the driver rules of :mod:`nudspec.spec` into the three
places a driver touches the kernel: the receive path (``skb->cb`` stamp),
the ``arp_process`` hook, and the netevent callback.  ``KNOWN_BAD`` lists,
per design, the invariants it is expected to violate and why, in prose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from nudspec.spec.arp import ArpLearnHook
from nudspec.spec.bkn import (
    BknEntry, bkn_arp_learn, bkn_netevent_neigh_update, bkn_netevent_strict, bkn_rx_stamp,
)
from nudspec.spec.neighbour import NeteventCall


@dataclass(frozen=True)
class Design:
    """A driver design.

    ``rx_stamp(port)`` -> skb->cb stamp for a frame arriving on ``port``
    (None: a frame from a non-driver source);
    ``arp_hook``: called by ``arp_process`` before ``neigh_update``;
    ``netevent(entry, call)`` -> (new bkn_tbl entry, action name).
    ``non_driver_source``: the model also offers ARP frames that do not come
    through a driver port.
    """

    name: str
    description: str
    rx_stamp: Callable[[Optional[str]], object]
    arp_hook: Optional[ArpLearnHook]
    netevent: Callable[[Optional[BknEntry], NeteventCall], tuple]
    non_driver_source: bool = True


DRIVER_PORTS = ("P1", "P2")


def _scheme1(name: str, description: str, callback) -> Design:
    """A scheme-1 driver: the seed's skb->cb stamp and arp_process hook, with
    ``callback(entry, call, driver_ports)`` as the netevent notifier."""
    return Design(
        name=name,
        description=description,
        rx_stamp=lambda port: bkn_rx_stamp(port, DRIVER_PORTS),
        arp_hook=bkn_arp_learn,
        netevent=lambda entry, call: callback(entry, call, DRIVER_PORTS),
    )


def _seed_scheme1() -> Design:
    return _scheme1(
        "seed-scheme1",
        "shared/seeds/000: skb->cb stamp, copied into the neighbour when arp_process "
        "learns it REACHABLE; netevent inserts on NUD_REACHABLE, deletes on NUD_FAILED",
        bkn_netevent_neigh_update)


def _scheme1_strict() -> Design:
    return _scheme1(
        "scheme1-strict",
        "scheme 1 with a stricter callback: insert on NUD_REACHABLE with valid magic, "
        "delete on every other state and on dead (no magic needed to delete)",
        bkn_netevent_strict)


DESIGNS: dict[str, Design] = {"seed-scheme1": _seed_scheme1(),
                              "scheme1-strict": _scheme1_strict()}


def get_design(name: str) -> Design:
    """The design called ``name``; KeyError listing the known ones."""
    try:
        return DESIGNS[name]
    except KeyError:
        raise KeyError(f"unknown design {name!r} (known: {', '.join(DESIGNS)})") from None
