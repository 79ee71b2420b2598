"""The (profile, design) pairs this repository declares, with the verdicts
it expects the explicit engine to reach on each.

Bare ``check-spec`` checks every entry and exits non-zero when a verdict
differs: that is what a user's CI runs.  ``True`` = the invariant holds on
every reachable state, ``False`` = violated (a shortest counterexample
exists); ``length`` pins the counterexample length for violated ones.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Expectation:
    """Expected verdicts of one configuration: ``verdicts`` maps invariant
    name -> (holds, counterexample length or None)."""
    profile: str
    design: str
    neighbours: int
    regime: str
    verdicts: dict
    note: str = ""


_SEED_LARGE = {
    "reachable_in_hw": (False, 2),
    "no_hw_after_failed": (False, 7),
    "no_hw_after_removal": (False, 3),
    "hw_lladdr_current": (False, 3),
    "hw_port_current": (False, 3),
}

EXPECTED: tuple[Expectation, ...] = (
    Expectation("linux-6.18", "seed-scheme1", 1, "large", _SEED_LARGE,
                "the seed design on a switch-sized table: every invariant fails"),
    Expectation("linux-6.18", "seed-scheme1", 1, "small", {
        "reachable_in_hw": (False, 2),
        "no_hw_after_failed": (False, 7),
        "no_hw_after_removal": (False, 3),
        "hw_lladdr_current": (False, 3),
        "hw_port_current": (False, 3),
    }, "without garbage collection the seed design still fails everywhere"),
    Expectation("linux-7.0-atomic-notify", "seed-scheme1", 1, "large", _SEED_LARGE,
                "atomic netlink notification (7.0) fixes none of the design's races"),
    Expectation("linux-6.18", "scheme1-strict", 2, "large", {
        "reachable_in_hw": (False, 2),
        "no_hw_after_failed": (True, None),
        "no_hw_after_removal": (True, None),
        "hw_lladdr_current": (True, None),
        "hw_port_current": (False, 3),
    }, "deleting on dead and on every non-REACHABLE state fixes three invariants; a silent "
       "REACHABLE refresh and a station move without notification remain"),
)
