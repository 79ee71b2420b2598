"""The kernel constants, pinned to the values of Linux 6.18
include/uapi/linux/neighbour.h and include/net/neighbour.h."""

from nudspec.spec import nud
from nudspec.spec.nud import (
    NUD_CONNECTED, NUD_IN_TIMER, NUD_STATES, NUD_VALID, Nud, Ntf, UpdateFlag, nud_from_name,
    nud_name,
)


def test_nud_state_bits_match_uapi_header():
    """#define NUD_INCOMPLETE 0x01 ... NUD_PERMANENT 0x80, NUD_NONE 0x00."""
    assert {name: int(s) for name, s in Nud.__members__.items()} == {
        "NONE": 0x00, "INCOMPLETE": 0x01, "REACHABLE": 0x02, "STALE": 0x04, "DELAY": 0x08,
        "PROBE": 0x10, "FAILED": 0x20, "NOARP": 0x40, "PERMANENT": 0x80}


def test_masks_match_include_net_neighbour_h():
    """NUD_IN_TIMER, NUD_VALID, NUD_CONNECTED as include/net/neighbour.h defines them."""
    assert int(NUD_IN_TIMER) == 0x01 | 0x02 | 0x08 | 0x10 == 0x1B
    assert int(NUD_VALID) == 0x80 | 0x40 | 0x02 | 0x10 | 0x04 | 0x08 == 0xDE
    assert int(NUD_CONNECTED) == 0x80 | 0x40 | 0x02 == 0xC2


def test_update_flags_match_include_net_neighbour_h():
    """NEIGH_UPDATE_F_* are BIT(0)..BIT(8) in 6.18 (EXT_VALIDATED is BIT(8))."""
    assert [int(f) for f in (UpdateFlag.OVERRIDE, UpdateFlag.WEAK_OVERRIDE,
                             UpdateFlag.OVERRIDE_ISROUTER, UpdateFlag.USE, UpdateFlag.MANAGED,
                             UpdateFlag.EXT_LEARNED, UpdateFlag.ISROUTER, UpdateFlag.ADMIN,
                             UpdateFlag.EXT_VALIDATED)] == [1 << i for i in range(9)]


def test_ntf_flags_match_uapi_and_ext_shift():
    """NTF_ROUTER 0x80, NTF_EXT_LEARNED 0x10; NTF_MANAGED and NTF_EXT_VALIDATED
    are NTF_EXT_MANAGED (1<<0) and NTF_EXT_EXT_VALIDATED (1<<2) << NTF_EXT_SHIFT (8)."""
    assert int(Ntf.ROUTER) == 0x80 and int(Ntf.EXT_LEARNED) == 0x10 and int(Ntf.USE) == 0x01
    assert nud.NTF_EXT_SHIFT == 8
    assert int(Ntf.MANAGED) == 0x100 and int(Ntf.EXT_VALIDATED) == 0x400


def test_state_names_round_trip():
    """Names are what `ip neigh show nud all` prints (NONE for 0)."""
    for s in NUD_STATES:
        assert nud_from_name(nud_name(s)) == s
    assert nud_name(0) == "NONE"
