"""Kernel behaviour pinned with concrete cases from the real Linux 6.18 traces
in shared/traces/linux-6.18/ (file and line cited in each test), run on the
model's step function: the state after each event and the notification
sequence it emits."""

from nudspec.checker.explore import replay
from nudspec.models.system import (
    AdminAdd, AdminDel, ArpRx, Flush, LinkDown, TimerFires, Tx, build,
)
from nudspec.spec.neighbour import Neighbour, Parms, RtmNotify, neigh_delete
from nudspec.spec.nud import NUD_FAILED


def kernel(n=2):
    return build(design=None, neighbours=n, regime="small")


def run(system, actions):
    out = replay(system, actions)
    return out[-1].state, out


def notes(r):
    return [str(e) for e in r.notifications]


def shown(system, s, key):
    return system.describe_entry(s.entry(system, key))


def test_tx_to_unknown_neighbour_creates_incomplete_silently():
    """dev_seed1.jsonl lines 2-3: tx to N1 -> INCOMPLETE, no notification."""
    sys_ = kernel()
    s, (r,) = run(sys_, [Tx("N1")])
    assert shown(sys_, s, "N1") == "INCOMPLETE" and notes(r) == []


def test_unicast_reply_makes_incomplete_reachable():
    """dev_seed1.jsonl lines 5-7: reply, unicast, target other, on INCOMPLETE ->
    RTM_NEWNEIGH REACHABLE M1."""
    sys_ = kernel()
    s, rs = run(sys_, [Tx("N1"), ArpRx("N1", "reply", "unicast", "M1", "other", "P2")])
    assert shown(sys_, s, "N1") == "REACHABLE M1"
    assert notes(rs[-1]) == ["RTM_NEWNEIGH N1 REACHABLE M1"]


def test_request_to_local_address_creates_stale_entry():
    """dev_seed1.jsonl lines 12-15: request for the host's address from an
    unknown N2 -> neigh_event_ns creates N2 STALE M1 and notifies."""
    sys_ = kernel()
    s, (r,) = run(sys_, [ArpRx("N2", "request", "broadcast", "M1", "local", "P1")])
    assert shown(sys_, s, "N2") == "STALE M1" and notes(r) == ["RTM_NEWNEIGH N2 STALE M1"]


def test_reply_for_unknown_address_creates_nothing():
    """dev_seed2.jsonl lines 2-4: a reply from N1, which the table does not
    hold, creates nothing (arp_accept=0): no entry, no notification."""
    sys_ = kernel()
    s, (r,) = run(sys_, [ArpRx("N1", "reply", "unicast", "M2", "other", "P2")])
    assert s.entry(sys_, "N1") is None and notes(r) == []


def test_request_with_same_lladdr_keeps_reachable():
    """dev_seed1.jsonl lines 9-10: a request (new state STALE) with the cached
    lladdr leaves a REACHABLE entry alone (new = old), silently."""
    sys_ = kernel()
    s, rs = run(sys_, [Tx("N1"), ArpRx("N1", "reply", "unicast", "M1", "other", "P2"),
                       ArpRx("N1", "request", "unicast", "M1", "other", "P1")])
    assert shown(sys_, s, "N1") == "REACHABLE M1" and notes(rs[-1]) == []


def test_queued_packet_turns_stale_into_delay_before_notifying():
    """dev_seed1.jsonl lines 56-61: after tx (INCOMPLETE with a queued packet)
    a broadcast reply makes the entry STALE, the queued packet is sent at
    once (STALE -> DELAY) and only then 6.18 notifies: RTM_NEWNEIGH DELAY."""
    sys_ = kernel()
    s, rs = run(sys_, [Tx("N1"), ArpRx("N1", "reply", "broadcast", "M1", "local", "P2")])
    assert shown(sys_, s, "N1") == "DELAY M1"
    assert notes(rs[-1]) == ["RTM_NEWNEIGH N1 DELAY M1"]


def test_netevent_precedes_rtm_newneigh_in_6_18():
    """neigh_update_notify (6.18) calls the netevent chain, then __neigh_notify."""
    sys_ = kernel()
    _, rs = run(sys_, [Tx("N1"), ArpRx("N1", "reply", "unicast", "M1", "other", "P2")])
    kinds = [type(e).__name__ for e in rs[-1].emissions]
    assert kinds == ["NeteventCall", "RtmNotify"]


def test_tx_on_stale_is_silent_delay():
    """dev_seed1.jsonl lines 20-21: tx on STALE -> DELAY, no notification."""
    sys_ = kernel()
    s, rs = run(sys_, [ArpRx("N1", "request", "unicast", "M2", "local", "P2"), Tx("N1")])
    assert shown(sys_, s, "N1") == "DELAY M2" and notes(rs[-1]) == []


def test_delay_times_out_to_probe_then_failed():
    """dev_seed1.jsonl lines 85-90: DELAY -> PROBE (notify) -> FAILED (notify,
    lladdr hidden) after MCAST_REPROBES+UCAST_PROBES probes."""
    sys_ = kernel()
    s, rs = run(sys_, [ArpRx("N1", "request", "unicast", "M2", "local", "P2"), Tx("N1"),
                       TimerFires("N1", "probed"), TimerFires("N1"), TimerFires("N1")])
    assert [notes(r) for r in rs[2:]] == [["RTM_NEWNEIGH N1 PROBE M2"], [],
                                          ["RTM_NEWNEIGH N1 FAILED -"]]
    assert shown(sys_, s, "N1") == "FAILED"


def test_delay_cannot_become_reachable_without_a_fresh_confirmation():
    """The DELAY timer finds "now reachable" only if neigh->confirmed was set
    after DELAY was entered; tx on STALE gives no such confirmation."""
    sys_ = kernel()
    s, _ = run(sys_, [ArpRx("N1", "request", "unicast", "M2", "local", "P2"), Tx("N1")])
    assert not sys_.enabled(s, TimerFires("N1", "reachable"))
    assert sys_.enabled(s, TimerFires("N1", "probed"))


def test_admin_del_notifies_failed_then_delneigh():
    """dev_seed11.jsonl lines 78-80: `ip neigh del` on a valid entry gives
    RTM_NEWNEIGH FAILED, then RTM_DELNEIGH FAILED, and the entry is gone."""
    sys_ = kernel()
    s, rs = run(sys_, [ArpRx("N2", "request", "broadcast", "M1", "local", "P1"),
                       ArpRx("N2", "reply", "unicast", "M1", "local", "P1"), AdminDel("N2")])
    assert notes(rs[-1]) == ["RTM_NEWNEIGH N2 FAILED -", "RTM_DELNEIGH N2 FAILED -"]
    assert s.entry(sys_, "N2") is None


def test_admin_del_on_failed_entry_only_delneigh():
    """__neigh_update: notify = old & NUD_VALID, so deleting a FAILED entry
    sends only RTM_DELNEIGH (harness observation, and dev_seed1.jsonl 88-92)."""
    p = Parms()
    n, em, err = neigh_delete("N1", Neighbour(nud_state=NUD_FAILED), p)
    assert n is None and [str(e) for e in em if isinstance(e, RtmNotify)] == [
        "RTM_DELNEIGH N1 FAILED -"]


def test_flush_skips_noarp_and_deletes_the_rest():
    """dev_seed1.jsonl lines 51-56: `ip neigh flush` deletes STALE N1
    (NEW FAILED, DEL FAILED) and leaves NOARP N2."""
    sys_ = kernel()
    s, rs = run(sys_, [ArpRx("N1", "request", "unicast", "M1", "local", "P1"),
                       AdminAdd("N2", "NOARP", "M1", True), Flush(("N1", "N2"))])
    assert notes(rs[-1]) == ["RTM_NEWNEIGH N1 FAILED -", "RTM_DELNEIGH N1 FAILED -"]
    assert s.entry(sys_, "N1") is None and shown(sys_, s, "N2") == "NOARP M1"


def test_link_down_removes_every_entry_with_its_state():
    """dev_seed10.jsonl lines 73-75: link down gives one RTM_DELNEIGH per entry
    carrying the state it had (INCOMPLETE, STALE M2), newest entry first."""
    sys_ = kernel()
    s, rs = run(sys_, [ArpRx("N2", "request", "unicast", "M2", "local", "P1"), Tx("N1")])
    assert s.dev_list == ("N1", "N2")
    s2 = sys_.step(s, LinkDown(s.dev_list))
    assert notes(s2) == ["RTM_DELNEIGH N1 INCOMPLETE -", "RTM_DELNEIGH N2 STALE M2"]
    assert s2.state.neigh == (None, None) and not s2.state.link_up


def test_link_down_removes_noarp_too():
    """dev_seed1.jsonl lines 128-130: link down removes a NOARP entry with
    RTM_DELNEIGH NOARP M1 (neigh_ifdown does not skip permanent entries)."""
    sys_ = kernel()
    s, _ = run(sys_, [AdminAdd("N2", "NOARP", "M1", True)])
    r = sys_.step(s, LinkDown(s.dev_list))
    assert notes(r) == ["RTM_DELNEIGH N2 NOARP M1"]


def test_admin_add_without_replace_on_existing_entry_changes_nothing():
    """dev_seed1.jsonl lines 91-93: `ip neigh add` on a FAILED entry is
    refused (NLM_F_EXCL: -EEXIST) and nothing is notified."""
    sys_ = kernel()
    s, rs = run(sys_, [Tx("N1"), TimerFires("N1"), TimerFires("N1"),
                       AdminAdd("N1", "STALE", "M1", False)])
    assert shown(sys_, s, "N1") == "FAILED" and notes(rs[-1]) == []


def test_nothing_happens_while_link_is_down_except_admin():
    """dev_seed1.jsonl lines 131-140: after link down, admin_add works, tx to
    an absent neighbour creates nothing."""
    sys_ = kernel()
    s, rs = run(sys_, [LinkDown(()), AdminAdd("N2", "NOARP", "M2", True), Tx("N1")])
    assert shown(sys_, s, "N2") == "NOARP M2" and s.entry(sys_, "N1") is None
    assert notes(rs[1]) == ["RTM_NEWNEIGH N2 NOARP M2"]


def test_noarp_entry_ignores_arp():
    """dev_seed1.jsonl lines 99-101: a request from N2 (NOARP) changes nothing:
    non-admin updates never touch NOARP/PERMANENT entries."""
    sys_ = kernel()
    s, rs = run(sys_, [AdminAdd("N2", "NOARP", "M1", True),
                       ArpRx("N2", "request", "unicast", "M2", "local", "P1")])
    assert shown(sys_, s, "N2") == "NOARP M1" and notes(rs[-1]) == []


def test_locktime_choice_refuses_new_lladdr_when_not_overriding():
    """arp_process: without NEIGH_UPDATE_F_OVERRIDE (inside locktime) a valid
    entry keeps its lladdr; with it the new lladdr is taken."""
    sys_ = kernel()
    s, _ = run(sys_, [ArpRx("N1", "request", "unicast", "M1", "local", "P1")])
    keep = sys_.step(s, ArpRx("N1", "reply", "unicast", "M2", "other", "P1", override=False))
    take = sys_.step(s, ArpRx("N1", "reply", "unicast", "M2", "other", "P1", override=True))
    assert shown(sys_, keep.state, "N1") == "STALE M1" and notes(keep) == []
    assert shown(sys_, take.state, "N1") == "REACHABLE M2"
