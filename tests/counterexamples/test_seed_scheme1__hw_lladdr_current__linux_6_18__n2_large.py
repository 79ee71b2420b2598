"""Counterexample: design 'seed-scheme1' violates 'hw_lladdr_current' on profile 'linux-6.18'
(2 neighbour(s), large GC regime), found by `check-spec check` (breadth first,
so no shorter run violates it).

hw_lladdr_current: a bkn entry's MAC equals the kernel entry's lladdr.

Replays the run on the model, prints the step table, and asserts that the
invariant holds before the last step and fails after it, with the
notifications the model predicts.
"""

from nudspec.checker.explore import replay
from nudspec.checker.report import step_table
from nudspec.models.system import (  # noqa: F401  (names used by ACTIONS)
    INVARIANTS, AdminAdd, AdminDel, ArpRx, Flush, GcRuns, LinkDown, LinkUp, Sleep,
    TimerFires, Tx, build,
)

ACTIONS = [
    ArpRx(neigh='N1', op='request', dst='unicast', sha='M1', target='local', port='P1', override=True),
    ArpRx(neigh='N1', op='reply', dst='unicast', sha='M1', target='local', port='P1', override=True),
    ArpRx(neigh='N1', op='request', dst='unicast', sha='M2', target='local', port='P1', override=True),
]

#: RTM_* notifications of each step, in kernel order (str of RtmNotify).
NOTIFICATIONS = [
    ['RTM_NEWNEIGH N1 STALE M1'],
    ['RTM_NEWNEIGH N1 REACHABLE M1'],
    ['RTM_NEWNEIGH N1 STALE M2'],
]


def test_seed_scheme1__hw_lladdr_current__linux_6_18__n2_large():
    system = build(profile='linux-6.18', design='seed-scheme1', neighbours=2, regime='large')
    results = replay(system, ACTIONS)
    print(step_table(system, ACTIONS, results))
    inv = INVARIANTS['hw_lladdr_current']
    assert inv.holds(system, system.init())
    assert all(inv.holds(system, r.state) for r in results[:-1])
    assert not inv.holds(system, results[-1].state)
    assert [[str(e) for e in r.notifications] for r in results] == NOTIFICATIONS
