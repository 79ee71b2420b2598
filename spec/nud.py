"""Kernel constants of the neighbour subsystem, with the kernel's values.

Mirrors Linux 6.18 ``include/uapi/linux/neighbour.h`` (NUD_* states, NTF_*
flags) and ``include/net/neighbour.h`` (NUD_IN_TIMER, NUD_VALID,
NUD_CONNECTED masks; NEIGH_UPDATE_F_* flags; NTF_MANAGED and
NTF_EXT_VALIDATED in the kernel's internal 32-bit flag word).

Values are ``enum.IntFlag`` so that ``state & NUD_VALID`` reads like the C.
``tests/test_nud.py`` pins every value against the header text.
"""

from __future__ import annotations

import enum


class Nud(enum.IntFlag):
    """``neigh->nud_state`` bits (include/uapi/linux/neighbour.h)."""

    NONE = 0x00
    INCOMPLETE = 0x01
    REACHABLE = 0x02
    STALE = 0x04
    DELAY = 0x08
    PROBE = 0x10
    FAILED = 0x20
    NOARP = 0x40
    PERMANENT = 0x80


NUD_NONE = Nud.NONE
NUD_INCOMPLETE = Nud.INCOMPLETE
NUD_REACHABLE = Nud.REACHABLE
NUD_STALE = Nud.STALE
NUD_DELAY = Nud.DELAY
NUD_PROBE = Nud.PROBE
NUD_FAILED = Nud.FAILED
NUD_NOARP = Nud.NOARP
NUD_PERMANENT = Nud.PERMANENT

# include/net/neighbour.h
NUD_IN_TIMER = NUD_INCOMPLETE | NUD_REACHABLE | NUD_DELAY | NUD_PROBE
NUD_VALID = NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY
NUD_CONNECTED = NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE

#: The single-bit states (and NONE) in the order ``ip neigh`` documents them.
NUD_STATES: tuple[Nud, ...] = (NUD_NONE, NUD_INCOMPLETE, NUD_REACHABLE, NUD_STALE,
                               NUD_DELAY, NUD_PROBE, NUD_FAILED, NUD_NOARP,
                               NUD_PERMANENT)


def nud_name(state: int) -> str:
    """The name ``ip neigh show nud all`` prints for a single-state value
    (``NONE`` for 0).  Raises ValueError for a value that is not one state."""
    for s in NUD_STATES:
        if int(s) == int(state):
            return s.name  # type: ignore[return-value]
    raise ValueError(f"not a single NUD state: {state:#x}")


def nud_from_name(name: str) -> Nud:
    """Inverse of :func:`nud_name`; raises KeyError for an unknown name."""
    return Nud[name]


# NEIGH_UPDATE_F_* (include/net/neighbour.h, 6.18)
class UpdateFlag(enum.IntFlag):
    """``flags`` argument of ``__neigh_update`` (NEIGH_UPDATE_F_*)."""

    NONE = 0
    OVERRIDE = 1 << 0
    WEAK_OVERRIDE = 1 << 1
    OVERRIDE_ISROUTER = 1 << 2
    USE = 1 << 3
    MANAGED = 1 << 4
    EXT_LEARNED = 1 << 5
    ISROUTER = 1 << 6
    ADMIN = 1 << 7
    EXT_VALIDATED = 1 << 8


NEIGH_UPDATE_F_OVERRIDE = UpdateFlag.OVERRIDE
NEIGH_UPDATE_F_WEAK_OVERRIDE = UpdateFlag.WEAK_OVERRIDE
NEIGH_UPDATE_F_OVERRIDE_ISROUTER = UpdateFlag.OVERRIDE_ISROUTER
NEIGH_UPDATE_F_USE = UpdateFlag.USE
NEIGH_UPDATE_F_MANAGED = UpdateFlag.MANAGED
NEIGH_UPDATE_F_EXT_LEARNED = UpdateFlag.EXT_LEARNED
NEIGH_UPDATE_F_ISROUTER = UpdateFlag.ISROUTER
NEIGH_UPDATE_F_ADMIN = UpdateFlag.ADMIN
NEIGH_UPDATE_F_EXT_VALIDATED = UpdateFlag.EXT_VALIDATED


class Ntf(enum.IntFlag):
    """``neigh->flags`` (NTF_* of include/uapi/linux/neighbour.h; the
    extended flags shifted by NTF_EXT_SHIFT as include/net/neighbour.h does)."""

    NONE = 0
    USE = 0x01
    SELF = 0x02
    MASTER = 0x04
    PROXY = 0x08
    EXT_LEARNED = 0x10
    OFFLOADED = 0x20
    STICKY = 0x40
    ROUTER = 0x80
    MANAGED = (1 << 0) << 8        # NTF_EXT_MANAGED << NTF_EXT_SHIFT
    EXT_VALIDATED = (1 << 2) << 8  # NTF_EXT_EXT_VALIDATED << NTF_EXT_SHIFT


NTF_EXT_SHIFT = 8
NTF_ROUTER = Ntf.ROUTER
NTF_EXT_LEARNED = Ntf.EXT_LEARNED
NTF_MANAGED = Ntf.MANAGED
NTF_EXT_VALIDATED = Ntf.EXT_VALIDATED

# include/uapi/linux/rtnetlink.h message types, include/net/netevent.h events
RTM_NEWNEIGH = "RTM_NEWNEIGH"
RTM_DELNEIGH = "RTM_DELNEIGH"
NETEVENT_NEIGH_UPDATE = "NETEVENT_NEIGH_UPDATE"
