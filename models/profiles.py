"""Kernel profiles: which kernel semantics a model runs.

A profile fixes the spec's :class:`~nudspec.spec.neighbour.Parms` (sysctls
and named kernel-version knobs).  The garbage-collection *regime* is a
separate model parameter (see :mod:`nudspec.models.system`).
"""

from __future__ import annotations

from dataclasses import dataclass

from nudspec.spec.neighbour import Parms


@dataclass(frozen=True)
class Profile:
    """A named kernel profile: ``parms`` for the spec, a one-line
    description, and the kernel source it mirrors."""

    name: str
    parms: Parms
    description: str
    source: str


PROFILES: dict[str, Profile] = {
    "linux-6.18": Profile(
        name="linux-6.18",
        parms=Parms(notify_in_lock=False),
        description="Linux 6.18: neigh_update_notify after unlock (netevent, then RTM_NEWNEIGH), "
                    "sysctls of shared/traces/README.md",
        source="Linux 6.18 net/core/neighbour.c, net/ipv4/arp.c (before the 7.0 "
               "'make netlink notification atomic' series)",
    ),
    "linux-7.0-atomic-notify": Profile(
        name="linux-7.0-atomic-notify",
        parms=Parms(notify_in_lock=True),
        description="net-next series 'make netlink notification atomic' (7.0): RTM_NEWNEIGH "
                    "under neigh->lock, before the ARP queue is flushed",
        source="net/core/neighbour.c with Petr Machata's series (search tool copy "
               "6952350/linux-6.18.y)",
    ),
}


def get_profile(name: str) -> Profile:
    """The profile called ``name``; KeyError listing the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown profile {name!r} (known: {', '.join(PROFILES)})") from None
