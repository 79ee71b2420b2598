"""Trace acceptance: every real Linux 6.18 trace is accepted, hand-made traces
for each kernel rule are accepted or rejected as the kernel dictates, the
mutation report stays tight, and the reader turns any broken input into a
one-line TraceError."""

import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from nudspec.checker.accept import accept_trace, format_verdict, mutation_report
from nudspec.checker.cli import main
from nudspec.checker.trace import TraceError, parse_lines, read_trace

ROOT = Path(__file__).resolve().parents[1]
TRACES = sorted((ROOT.parent / "shared" / "traces" / "linux-6.18").glob("*.jsonl"))
FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "accepted_mutants.json").read_text())

HEADER = {"v": 1, "kind": "header", "source": "hand-made", "keys": ["N1", "N2"],
          "macs": ["M1", "M2"], "ports": ["P1", "P2"]}


def mk(*records):
    lines = [json.dumps(HEADER)] + [json.dumps(r) for r in records]
    return parse_lines(lines, "hand.jsonl")


def ev(event, **kw):
    return {"kind": "event", "event": event, **kw}


def obs(neigh, nud=None, lladdr=None):
    if nud is None:
        return {"kind": "observe", "neigh": neigh, "present": False}
    return {"kind": "observe", "neigh": neigh, "present": True, "nud": nud, "lladdr": lladdr}


def note(msg, neigh, nud, lladdr=None):
    return {"kind": "notify", "msg": msg, "neigh": neigh, "nud": nud, "lladdr": lladdr}


def arp(neigh, op, dst, sha, target, port="P1"):
    return ev("arp_rx", neigh=neigh, op=op, dst=dst, sha=sha, target=target, port=port)


HARNESS = sorted((Path(__file__).parent / "fixtures" / "harness").glob("*.jsonl"))


@pytest.mark.parametrize("path", HARNESS, ids=lambda p: p.name)
def test_harness_trace_accepted(path):
    """Traces this project's harness recorded on the live kernel (check-spec
    record --seed 101/102 --steps 40) are accepted."""
    t = read_trace(path)
    assert t.header.source.startswith("linux 6.18")
    v = accept_trace(t)
    assert v.accepted, format_verdict(v)


def test_all_twelve_traces_present():
    """The shared directory holds the 12 recorded traces this suite pins."""
    assert len(TRACES) == 12


@pytest.mark.parametrize("path", TRACES, ids=lambda p: p.name)
def test_real_trace_accepted(path):
    """Every trace recorded on Linux 6.18.44 is explained by the linux-6.18 profile."""
    v = accept_trace(read_trace(path))
    assert v.accepted, format_verdict(v)


# --- hand-made traces, one kernel rule each ---------------------------------

def test_accept_request_creates_stale():
    """neigh_event_ns: a request for a local address creates STALE and notifies."""
    t = mk(arp("N1", "request", "broadcast", "M1", "local"),
           note("RTM_NEWNEIGH", "N1", "STALE", "M1"), obs("N1", "STALE", "M1"), obs("N2"))
    assert accept_trace(t).accepted


def test_reject_reply_creating_entry():
    """arp_accept=0: a reply from an unknown sender creates nothing; a trace
    claiming an entry appeared is rejected at that observe."""
    t = mk(arp("N1", "reply", "unicast", "M1", "other"), obs("N1", "REACHABLE", "M1"))
    v = accept_trace(t)
    assert not v.accepted and v.line == 3
    assert v.record == obs("N1", "REACHABLE", "M1")
    assert v.possible == ["link up; N1: -; N2: -"]


def test_reject_missing_notification():
    """A state change by an event must be notified: with no notify record to
    match its RTM_NEWNEIGH, the event itself is the unexplained record."""
    t = mk(arp("N1", "request", "broadcast", "M1", "local"), obs("N1", "STALE", "M1"))
    v = accept_trace(t)
    assert not v.accepted and v.line == 2
    assert "with the notifications that follow it" in format_verdict(v)


def test_reject_unexplained_notification():
    """A notification no run emits is rejected where it appears."""
    t = mk(ev("tx", neigh="N1"), note("RTM_NEWNEIGH", "N1", "REACHABLE", "M1"))
    v = accept_trace(t)
    assert not v.accepted and v.line == 3


def test_accept_silent_tx_and_timer_failure():
    """tx creates INCOMPLETE silently; its timer later fails it with a notification."""
    t = mk(ev("tx", neigh="N1"), obs("N1", "INCOMPLETE"), ev("sleep", ms=800),
           note("RTM_NEWNEIGH", "N1", "FAILED"), obs("N1", "FAILED"))
    assert accept_trace(t).accepted


def test_reject_noarp_changed_by_arp():
    """Non-admin updates never change a NOARP entry."""
    t = mk(ev("admin_add", neigh="N1", nud="NOARP", lladdr="M1", replace=True),
           note("RTM_NEWNEIGH", "N1", "NOARP", "M1"),
           arp("N1", "request", "unicast", "M2", "local"),
           note("RTM_NEWNEIGH", "N1", "STALE", "M2"))
    v = accept_trace(t)
    assert not v.accepted and v.line == 5


def test_accept_admin_del_sequence_and_reject_reversed():
    """ip neigh del: RTM_NEWNEIGH FAILED then RTM_DELNEIGH; reversed is rejected."""
    base = [arp("N1", "request", "broadcast", "M1", "local"),
            note("RTM_NEWNEIGH", "N1", "STALE", "M1"), ev("admin_del", neigh="N1")]
    ok = mk(*base, note("RTM_NEWNEIGH", "N1", "FAILED"), note("RTM_DELNEIGH", "N1", "FAILED"),
            obs("N1"))
    bad = mk(*base, note("RTM_DELNEIGH", "N1", "FAILED"), note("RTM_NEWNEIGH", "N1", "FAILED"),
             obs("N1"))
    assert accept_trace(ok).accepted
    assert not accept_trace(bad).accepted


def test_link_down_order_is_newest_first():
    """neigh_flush_dev walks dev->neighbours from the head (newest first)."""
    base = [arp("N1", "request", "broadcast", "M1", "local"),
            note("RTM_NEWNEIGH", "N1", "STALE", "M1"),
            arp("N2", "request", "broadcast", "M2", "local"),
            note("RTM_NEWNEIGH", "N2", "STALE", "M2"), ev("link_down")]
    newest_first = mk(*base, note("RTM_DELNEIGH", "N2", "STALE", "M2"),
                      note("RTM_DELNEIGH", "N1", "STALE", "M1"))
    oldest_first = mk(*base, note("RTM_DELNEIGH", "N1", "STALE", "M1"),
                      note("RTM_DELNEIGH", "N2", "STALE", "M2"))
    assert accept_trace(newest_first).accepted
    assert not accept_trace(oldest_first).accepted


def test_reject_diagnosis_lists_possible_states():
    """The REJECT text names file:line, the record, and one line per possible state."""
    t = mk(ev("tx", neigh="N1"), obs("N1", "STALE", "M1"))
    text = format_verdict(accept_trace(t))
    assert text.splitlines()[0].startswith('REJECT hand.jsonl:3: no run explains {"kind": "observe"')
    assert "    link up; N1: INCOMPLETE (timer, queued, probes=3); N2: -" in text


# --- CLI ---------------------------------------------------------------------

def test_cli_trace_accepts_all(capsys):
    """check-spec trace over the 12 files exits 0 and says 12/12."""
    assert main(["trace", *map(str, TRACES)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("12/12 accepted by linux-6.18")


def test_cli_trace_json_reject(tmp_path, capsys):
    """--json gives traces[] with file, accepted, line, record, possible_states; exit 1."""
    f = tmp_path / "t.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in [HEADER, ev("tx", neigh="N1"),
                                                    obs("N1", "STALE", "M1")]) + "\n")
    assert main(["trace", "--json", str(f)]) == 1
    out = json.loads(capsys.readouterr().out)["traces"][0]
    assert (out["accepted"], out["line"], out["record"]["nud"]) == (False, 3, "STALE")
    assert out["possible_states"] == ["link up; N1: INCOMPLETE (timer, queued, probes=3); N2: -",
                                      "link up; N1: INCOMPLETE (timer, queued, probes=4); N2: -"]


def test_cli_malformed_trace_is_one_line_exit_2(tmp_path, capsys):
    """A malformed trace: one line naming file and line, exit 2, no traceback."""
    f = tmp_path / "bad.jsonl"
    f.write_text(json.dumps(HEADER) + "\n" + '{"kind": "event", "event": "teleport"}\n')
    assert main(["trace", str(f)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{f}:2: unknown event 'teleport'" in err


# --- tightness -----------------------------------------------------------------

def test_mutation_report_is_tight_and_explained():
    """At least 98% of all mutants rejected, no kind below 90%, and every
    accepted mutant is one the fixture explains with a kernel reason."""
    report = mutation_report([str(p) for p in TRACES])
    assert report["total"]["rate"] >= 0.98
    for kind, k in report["kinds"].items():
        assert k["rate"] >= 0.90, kind
    got = {(Path(m["file"]).name, m["line"], m["kind"], m["change"]) for m in report["accepted"]}
    want = {(m["file"], m["line"], m["kind"], m["change"]) for m in FIXTURE["mutants"]}
    assert got == want
    assert all(m["reason"] for m in FIXTURE["mutants"])


# --- the reader ------------------------------------------------------------------

@pytest.mark.parametrize("lines,line,msg", [
    (['{"v": 2, "kind": "header", "source": "x", "keys": [], "macs": [], "ports": []}'], 1,
     "unsupported version"),
    (['{"kind": "event", "event": "tx", "neigh": "N1"}'], 1, "first record must be the header"),
    ([json.dumps(HEADER), json.dumps(HEADER)], 2, "a second header"),
    ([json.dumps(HEADER), "not json"], 2, "not JSON"),
    ([json.dumps(HEADER), '{"kind": "gossip"}'], 2, "unknown kind 'gossip'"),
    ([json.dumps(HEADER), '{"kind": "event", "event": "tx"}'], 2, "missing required key 'neigh'"),
    ([json.dumps(HEADER), '{"kind": "event", "event": "tx", "neigh": "N9"}'], 2,
     "expected a neighbour declared"),
    ([json.dumps(HEADER), '{"kind": "notify", "msg": "RTM_NEWNEIGH", "neigh": "N1", '
      '"nud": "STALE", "lladdr": "M7"}'], 2, "MAC declared"),
])
def test_reader_errors_name_line(lines, line, msg):
    """Each TRACE_FORMAT violation is a TraceError naming the file and line."""
    with pytest.raises(TraceError) as e:
        parse_lines(lines, "f.jsonl")
    assert e.value.line == line and msg in str(e.value)
    assert str(e.value).startswith(f"f.jsonl:{line}: ")


def test_reader_ignores_unknown_keys():
    """Unknown extra keys are ignored."""
    t = parse_lines([json.dumps({**HEADER, "colour": "red"}),
                     json.dumps({**ev("tx", neigh="N1"), "extra": 1})], "f")
    assert t.records[0].data["event"] == "tx"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=5),
    max_leaves=12)
record_keys = st.sampled_from(["kind", "event", "neigh", "msg", "nud", "lladdr", "present", "op",
                               "dst", "sha", "target", "port", "replace", "ms", "v", "keys"])
records = st.dictionaries(record_keys, json_values | st.sampled_from(
    ["event", "notify", "observe", "header", "tx", "arp_rx", "N1", "M1", "P1", "STALE"]),
    max_size=8)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=30), records.map(json.dumps)), max_size=6))
def test_reader_never_crashes(lines):
    """Random and broken input: a Trace or a TraceError, nothing else."""
    try:
        parse_lines([json.dumps(HEADER)] + lines, "fuzz.jsonl")
    except TraceError as e:
        assert str(e).startswith("fuzz.jsonl:") and "\n" not in str(e)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_read_trace_binary_garbage(tmp_path_factory, data):
    """Undecodable or garbage files give a TraceError too."""
    f = tmp_path_factory.mktemp("g") / "g.jsonl"
    f.write_bytes(data)
    try:
        read_trace(f)
    except TraceError as e:
        assert "\n" not in str(e)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([
    ev("tx", neigh="N1"), ev("tx", neigh="N2"), arp("N1", "reply", "unicast", "M1", "other"),
    arp("N2", "request", "broadcast", "M2", "local"), ev("flush"), ev("link_down"),
    ev("link_up"), ev("admin_del", neigh="N1"), obs("N1"), obs("N1", "STALE", "M1"),
    note("RTM_NEWNEIGH", "N1", "STALE", "M1")]), max_size=8))
def test_acceptance_never_crashes(recs):
    """Any well-formed trace gets a verdict; a reject names a record line."""
    v = accept_trace(mk(*recs))
    assert v.accepted or (v.line is not None and v.line >= 1)


# --- regressions from a bad-input review ------------------------------------------

@pytest.mark.parametrize("line,msg", [
    ('{"kind": "event", "event": ["tx"], "neigh": "N1"}', "unknown event ['tx']"),
    ('[' * 100000 + ']' * 100000, "not usable JSON (RecursionError"),
    ('{"kind": "event", "event": "sleep", "ms": ' + "9" * 5000 + '}', "not usable JSON (ValueError"),
    ('{"kind": 7}', "key 'kind' is 7"),
])
def test_reader_odd_json_is_a_trace_error(line, msg):
    """Unhashable event names, deep nesting and giant integers are TraceErrors."""
    with pytest.raises(TraceError) as e:
        parse_lines([json.dumps(HEADER), line], "odd.jsonl")
    assert str(e.value).startswith("odd.jsonl:2: ") and msg in str(e.value)


def test_reader_rejects_float_version():
    """v must be the integer 1 (1.0 is not)."""
    with pytest.raises(TraceError, match="unsupported version"):
        parse_lines([json.dumps({**HEADER, "v": 1.0})], "f")


def test_mutate_trace_ending_with_event_and_no_macs(tmp_path, capsys):
    """mutate handles a trace whose last record is an event, and a header
    without MACs, instead of crashing."""
    f = tmp_path / "t.jsonl"
    f.write_text(json.dumps({**HEADER, "macs": [], "ports": []}) + "\n"
                 + json.dumps(ev("tx", neigh="N1")) + "\n")
    assert main(["mutate", "--per-kind", "3", str(f)]) == 0
    assert "notify_insert" in capsys.readouterr().out


def test_header_with_too_many_neighbours_names_file_and_line(tmp_path, capsys):
    """A header the model cannot take (5 keys) is a one-line error at line 1."""
    f = tmp_path / "five.jsonl"
    f.write_text(json.dumps({**HEADER, "keys": ["N1", "N2", "N3", "N4", "N5"]}) + "\n")
    assert main(["trace", str(f)]) == 2
    err = capsys.readouterr().err
    assert f"{f}:1: header: 'keys' declares 5 neighbours" in err and err.count("\n") == 1


def test_traces_tell_the_profiles_apart():
    """The 7.0 profile (RTM_NEWNEIGH under neigh->lock, before the ARP queue
    is flushed) would report STALE where 6.18 reported DELAY: it rejects
    dev_seed1.jsonl at the broadcast reply of line 60."""
    v = accept_trace(read_trace(TRACES[0]), profile="linux-7.0-atomic-notify")
    assert TRACES[0].name == "dev_seed1.jsonl"
    assert not v.accepted and v.line == 60
    assert accept_trace(read_trace(TRACES[0]), profile="linux-6.18").accepted
