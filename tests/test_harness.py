"""Tests of the kernel harness (checker/harness.py).

The recording tests need root and network namespaces; they skip with the
reason otherwise.  The unit tests (frame builder, scenario generator,
non-root refusal, bad input) run anywhere.  The whole file takes ~10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nudspec.checker import harness
from nudspec.checker.trace import read_trace

REPO = Path(__file__).resolve().parents[1]


def _netns_usable(tmp: Path) -> str | None:
    """None if this process can record, else why not (the skip reason): the
    pre-flight check, then a zero-step recording (builds and removes the
    whole topology) in a subprocess."""
    why = harness.preflight()
    if why:
        return why
    probe = subprocess.run(
        [sys.executable, "-m", "nudspec.checker.harness", "record", "--seed", "0",
         "--steps", "0", "--out", str(tmp / "probe.jsonl")],
        capture_output=True, text=True, cwd=REPO)
    if probe.returncode != 0:
        return (probe.stderr.strip().splitlines() or ["zero-step recording failed"])[-1]
    return None


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    why = _netns_usable(tmp_path_factory.mktemp("probe"))
    if why:
        pytest.skip(f"kernel harness needs root and network namespaces: {why}")


def _our_netns(prefix: str) -> list[str]:
    """Namespaces whose name starts with ``prefix`` (via ``ip netns list``
    when iproute2 is installed, else /var/run/netns)."""
    if shutil.which("ip"):
        out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        names = [line.split()[0] for line in out.splitlines() if line.strip()]
    else:
        from pyroute2 import netns
        names = netns.listnetns()
    return [n for n in names if n.startswith(prefix)]


def _events(path) -> list[dict]:
    return [r.data for r in read_trace(path).records if r.kind == "event"]


def _check_shape(path, keys) -> None:
    """Header, then per event: the event, notifies, one observe per key in order."""
    trace = read_trace(path)  # validates symbols against the header
    assert list(trace.header.keys) == keys
    assert trace.header.source == "linux " + os.uname().release
    recs = [r.data for r in trace.records]
    i = 0
    while i < len(recs):
        assert recs[i]["kind"] == "event", recs[i]
        i += 1
        while i < len(recs) and recs[i]["kind"] == "notify":
            i += 1
        obs = [r["neigh"] for r in recs[i:i + len(keys)] if r["kind"] == "observe"]
        assert obs == keys, recs[i:i + len(keys)]
        i += len(keys)


# ---------------------------------------------------------------- unit tests

def test_arp_frame_layout():
    br = "aa:bb:cc:dd:ee:ff"
    ev = {"event": "arp_rx", "neigh": "N2", "op": "reply", "dst": "unicast",
          "sha": "M1", "target": "other", "port": "P1"}
    f = harness.arp_rx_frame(ev, br)
    assert len(f) == 60
    dst, src, etype = struct.unpack_from("!6s6sH", f, 0)
    assert (dst, src, etype) == (bytes.fromhex("aabbccddeeff"),
                                 bytes.fromhex("020000000001"), 0x0806)
    htype, ptype, hlen, plen, op, sha, spa, tha, tpa = struct.unpack_from(
        "!HHBBH6s4s6s4s", f, 14)
    assert (htype, ptype, hlen, plen, op) == (1, 0x0800, 6, 4, 2)
    assert sha == bytes.fromhex("020000000001")
    assert spa == bytes([10, 77, 0, 12]) and tpa == bytes([10, 77, 0, 99])
    assert tha == bytes.fromhex("aabbccddeeff")
    req = harness.arp_rx_frame(dict(ev, op="request", dst="broadcast", target="local"), br)
    assert req[:6] == b"\xff" * 6
    assert struct.unpack_from("!H", req, 20)[0] == 1
    assert req[32:38] == b"\0" * 6 and req[38:42] == bytes([10, 77, 0, 1])


def test_random_events_deterministic_and_declared():
    keys, macs, ports = ["N1", "N2", "N3"], ["M1", "M2"], ["P1", "P2"]
    a = harness.random_events(42, 200, keys, macs, ports)
    assert a == harness.random_events(42, 200, keys, macs, ports)
    assert a != harness.random_events(43, 200, keys, macs, ports)
    assert {e["event"] for e in a} == set(harness.EVENT_WEIGHTS)
    for e in a:
        assert e.get("neigh", "N1") in keys and e.get("sha", "M1") in macs
        assert e.get("lladdr", "M1") in macs and e.get("port", "P1") in ports
        if e["event"] == "sleep":
            assert e["ms"] in harness.SLEEP_CHOICES_MS
        if e["event"] == "admin_add":
            assert e["nud"] in harness.ADMIN_NUDS and isinstance(e["replace"], bool)


def _args(**kw) -> argparse.Namespace:
    base = dict(seed=None, steps=None, neighbours=2, events=None, out="x.jsonl",
                quiet_ms=harness.QUIET_MS, verbose=False)
    base.update(kw)
    return argparse.Namespace(**base)


def test_not_root_refused(monkeypatch, capsys):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    rc = harness.record_main(_args(seed=1, steps=1))
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("check-spec: error: ")
    assert "root" in err


def test_bad_input_trace(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(harness, "preflight", lambda: None)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"v": 1, "kind": "header", "source": "x", "keys": ["N1"], '
                   '"macs": ["M1"], "ports": ["P1"]}\n{"kind": "event", "event": "nope"}\n')
    rc = harness.record_main(_args(events=str(bad), out=str(tmp_path / "o.jsonl")))
    assert rc == 2
    assert capsys.readouterr().err.startswith(f"check-spec: error: {bad}:2: unknown event")
    # --out naming the input is refused before anything runs
    good = tmp_path / "good.jsonl"
    good.write_text(bad.read_text().splitlines()[0] + "\n")
    before = good.read_text()
    assert harness.record_main(_args(events=str(good), out=str(good))) == 2
    assert good.read_text() == before


def test_add_parser_wires_record():
    parser = argparse.ArgumentParser(prog="check-spec")
    harness.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["record", "--seed", "3", "--steps", "4", "--out", "f"])
    assert args.func is harness.record_main and args.neighbours == 2
    assert (args.seed, args.steps, args.out) == (3, 4, "f")


# ------------------------------------------------------ tests on the kernel

def test_record_two_seeds(kernel, tmp_path):
    for seed in (6, 24):
        out = tmp_path / f"s{seed}.jsonl"
        assert harness.main(["record", "--seed", str(seed), "--steps", "5",
                             "--out", str(out)]) == 0
        _check_shape(out, ["N1", "N2"])
        trace = read_trace(out)
        assert trace.header.seed == seed
        assert _events(out) == harness.random_events(seed, 5, ["N1", "N2"],
                                                     ["M1", "M2"], ["P1", "P2"])
    assert _events(tmp_path / "s6.jsonl") != _events(tmp_path / "s24.jsonl")


def test_replay_hand_written(kernel, tmp_path):
    header = {"v": 1, "kind": "header", "source": "hand", "keys": ["N1", "N2"],
              "macs": ["M1", "M2"], "ports": ["P1", "P2"], "seed": 77}
    events = [
        {"kind": "event", "event": "tx", "neigh": "N1"},
        {"kind": "event", "event": "arp_rx", "neigh": "N1", "op": "reply",
         "dst": "unicast", "sha": "M1", "target": "local", "port": "P1"},
        {"kind": "event", "event": "admin_add", "neigh": "N2", "nud": "PERMANENT",
         "lladdr": "M2", "replace": False},
        {"kind": "event", "event": "admin_add", "neigh": "N2", "nud": "STALE",
         "lladdr": "M1", "replace": False},  # refused: exists; recorded anyway
        {"kind": "event", "event": "flush"},
        {"kind": "event", "event": "admin_del", "neigh": "N1"},
        {"kind": "event", "event": "link_down"},
        {"kind": "event", "event": "link_up"},
        {"kind": "event", "event": "sleep", "ms": 300},
    ]
    # A notify and an observe in the input are ignored (only events replay).
    src = tmp_path / "hand.jsonl"
    lines = [header, events[0],
             {"kind": "observe", "neigh": "N1", "present": False},
             {"kind": "notify", "msg": "RTM_NEWNEIGH", "neigh": "N2", "nud": "STALE",
              "lladdr": "M1"}, *events[1:]]
    src.write_text("".join(json.dumps(x) + "\n" for x in lines))
    before = src.read_text()
    out = tmp_path / "out.jsonl"
    assert harness.main(["record", "--events", str(src), "--out", str(out)]) == 0
    assert src.read_text() == before
    assert _events(out) == events
    _check_shape(out, ["N1", "N2"])
    h = read_trace(out).header
    assert (list(h.keys), list(h.macs), list(h.ports), h.seed) == (
        ["N1", "N2"], ["M1", "M2"], ["P1", "P2"], 77)

    # A few facts about the kernel that do not depend on timer timing.
    recs = [r.data for r in read_trace(out).records]
    def block(n):  # the records after the n-th event, up to the next event
        idx = [i for i, r in enumerate(recs) if r["kind"] == "event"]
        end = idx[n + 1] if n + 1 < len(idx) else len(recs)
        return recs[idx[n] + 1:end]
    obs = lambda n, k: next(r for r in block(n) if r["kind"] == "observe" and r["neigh"] == k)
    assert obs(0, "N1")["nud"] == "INCOMPLETE"
    assert {"kind": "notify", "msg": "RTM_NEWNEIGH", "neigh": "N1", "nud": "REACHABLE",
            "lladdr": "M1"} in block(1)
    assert obs(3, "N2") == {"kind": "observe", "neigh": "N2", "present": True,
                            "nud": "PERMANENT", "lladdr": "M2"}
    assert obs(4, "N2")["present"] and not obs(4, "N1")["present"]  # flush keeps PERMANENT
    assert not obs(6, "N1")["present"] and not obs(6, "N2")["present"]  # down flushes all


def test_sigterm_halfway_leaves_nothing(kernel, tmp_path):
    out = tmp_path / "killed.jsonl"
    code = "import sys; from nudspec.checker import harness; sys.exit(harness.main())"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "record", "--seed", "5", "--steps", "200",
         "--out", str(out)],
        stderr=subprocess.PIPE, text=True, cwd=REPO)
    prefix = f"{harness.NETNS_PREFIX}-{proc.pid}-"
    try:
        deadline = time.monotonic() + 20
        while not _our_netns(prefix):
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "recorder never created its namespaces"
            time.sleep(0.05)
        time.sleep(1.0)  # well into the events
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = proc.stderr.read()
    assert rc == 128 + signal.SIGTERM, err
    assert "interrupted by SIGTERM" in err
    assert _our_netns(prefix) == []
    assert not out.exists()
