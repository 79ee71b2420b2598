"""Tests of ``check-spec draw`` (checker/draw.py): the diagrams say what the
spec says, and the checked-in ``diagrams/`` are what the code generates.

The DOT text is parsed back here with a parser of its own (node pairs,
labels, clusters), so a diagram that drew something other than the
exploration found would fail.
"""

from __future__ import annotations

import argparse
import html
import re
from pathlib import Path

import pytest

from nudspec.checker import draw
from nudspec.checker.explore import replay
from nudspec.models.designs import DESIGNS
from nudspec.models.profiles import PROFILES
from nudspec.spec import nud
from nudspec.spec.nud import NUD_STATES, nud_name

REPO = Path(__file__).resolve().parent.parent
DIAGRAMS = REPO / "diagrams"
REGENERATE = "check-spec draw --out diagrams/ --png"

EDGE = re.compile(r"^\t+(\"[^\"]*\"|[\w.]+) -> (\"[^\"]*\"|[\w.]+) \[(.*)\]$")


def _unquote(ident: str) -> str:
    return ident[1:-1].replace('\\"', '"') if ident.startswith('"') else ident


def _html_label(attrs: str) -> str:
    """The HTML-like ``label=<...>`` of an attribute list (balanced <>)."""
    start = attrs.index("label=<") + len("label=")
    depth = 0
    for i in range(start, len(attrs)):
        depth += {"<": 1, ">": -1}.get(attrs[i], 0)
        if depth == 0:
            return attrs[start + 1:i]
    raise AssertionError(f"unbalanced HTML label in {attrs!r}")


def parse_edges(dot_text: str) -> list:
    """(tail, head, attribute text) of every edge statement of a DOT file."""
    out = []
    for line in dot_text.splitlines():
        m = EDGE.match(line)
        if m:
            out.append((_unquote(m.group(1)), _unquote(m.group(2)), m.group(3)))
    return out


def parse_state_machine(dot_text: str) -> set:
    """The (src, dst, cause, notifies) edge set a state-machine DOT file
    shows: one cause per table cell of the label; dashed = silent."""
    out = set()
    for tail, head, attrs in parse_edges(dot_text):
        cells = re.findall(r"<td[^>]*>([^<]+)</td>", _html_label(attrs))
        notifies = not re.search(r"\bstyle=\"?[^\" ]*dashed", attrs)
        assert cells, f"edge {tail} -> {head} has no cause"
        for cause in cells:
            out.add((tail, head, html.unescape(cause), notifies))
    return out


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_state_machine_dot_shows_the_explored_edges(profile):
    """The state machine drawn for each profile has exactly the edges
    (endpoints, causes, notify-ness) that exploring the kernel-only model
    gives (``state_machine_edges``)."""
    edges = draw.state_machine_edges(profile)
    assert edges, "exploration found no transition"
    parsed = parse_state_machine(draw.state_machine_graph(profile, edges).source)
    assert parsed == edges, (f"missing from DOT: {sorted(edges - parsed)}; "
                             f"extra in DOT: {sorted(parsed - edges)}")


def test_state_machine_edges_are_known_kernel_behaviour():
    """A few edges of the 6.18 machine everyone knows (net/core/neighbour.c:
    tx on a new entry resolves silently, a unicast reply confirms, the
    reachable timer expires to STALE with a notification, max probes fail)
    are found, and notifying self-loops such as a new lladdr on STALE are
    kept."""
    edges = draw.state_machine_edges("linux-6.18")
    assert ("absent", "INCOMPLETE", "tx", False) in edges
    assert ("INCOMPLETE", "REACHABLE", "reply unicast", True) in edges
    assert ("REACHABLE", "STALE", "timer: suspected", True) in edges
    assert ("INCOMPLETE", "FAILED", "timer", True) in edges
    assert any(src == dst == "STALE" and notifies for src, dst, _, notifies in edges)
    assert all(src != "NONE" and dst != "NONE" for src, dst, _, _ in edges)


def test_checked_in_diagrams_are_current(tmp_path):
    """Regenerating every diagram gives byte-identical DOT files to the
    checked-in ``diagrams/`` (and no file more or less)."""
    draw.write_diagrams(tmp_path, list(PROFILES), list(DESIGNS), render=False)
    fresh = {p.relative_to(tmp_path): p.read_bytes() for p in sorted(tmp_path.rglob("*.dot"))}
    stored = {p.relative_to(DIAGRAMS): p.read_bytes() for p in sorted(DIAGRAMS.rglob("*.dot"))}
    missing = sorted(str(p) for p in fresh.keys() - stored.keys())
    extra = sorted(str(p) for p in stored.keys() - fresh.keys())
    changed = sorted(str(p) for p in fresh.keys() & stored.keys() if fresh[p] != stored[p])
    assert not (missing or extra or changed), (
        f"diagrams/ is stale (missing {missing}, no longer generated {extra}, changed "
        f"{changed}): run `{REGENERATE}`")


def test_generation_is_deterministic(tmp_path):
    """Two generations in one process give the same DOT text (sorted
    iteration everywhere; the regeneration test compares across runs)."""
    a = [(stem, g.source) for stem, g, _ in draw.diagrams(["linux-6.18"], ["seed-scheme1"])]
    b = [(stem, g.source) for stem, g, _ in draw.diagrams(["linux-6.18"], ["seed-scheme1"])]
    assert a == b


def _lattice_groups_from_dot(dot_text: str) -> dict:
    """Mask -> states, read back from the lattice DOT: the nodes declared
    inside ``cluster_<mask>`` (nested clusters included), plus the states a
    ``mask_<mask>`` node points at."""
    groups: dict = {}
    stack: list = []
    for line in dot_text.splitlines():
        m = re.match(r"^\s*(?:subgraph (\w+) )?\{\s*$", line)
        if m:
            stack.append(m.group(1) or "")
            continue
        if re.match(r"^\s*\}\s*$", line):
            if stack:
                stack.pop()
            continue
        node = re.match(r"^\s*(\w+) \[", line)
        if node and "->" not in line:
            for sub in stack:
                if sub.startswith("cluster_"):
                    groups.setdefault(sub[len("cluster_"):], set()).add(node.group(1))
    for tail, head, attrs in parse_edges(dot_text):
        # state -> mask_X [dir=back] is drawn as an arrow from the mask
        mask, state = (tail, head) if tail.startswith("mask_") else (head, tail)
        groups.setdefault(mask[len("mask_"):], set()).add(state)
    return groups


def test_lattice_groups_are_the_kernel_masks():
    """The lattice diagram groups the states exactly as NUD_VALID,
    NUD_CONNECTED and NUD_IN_TIMER of include/net/neighbour.h (spec/nud.py)
    define them, and shows every single NUD state."""
    expected = {name: {nud_name(s) for s in NUD_STATES if s & getattr(nud, name)}
                for name in ("NUD_VALID", "NUD_CONNECTED", "NUD_IN_TIMER")}
    assert draw.lattice_groups() == expected
    text = draw.lattice_graph().source
    assert _lattice_groups_from_dot(text) == expected
    for s in NUD_STATES:
        assert re.search(rf"^\s*{nud_name(s)} \[", text, re.M), nud_name(s)


def test_sequence_chart_one_row_per_step_last_marked():
    """The chart of a counterexample (the seed design losing its bkn entry
    on FAILED, with timer steps in it) has one row per step, in order, and
    only the last row -- where the invariant breaks -- is drawn red."""
    system, cexs = draw.counterexamples("linux-6.18", "seed-scheme1")
    cex = next(c for c in cexs if c.invariant == "no_hw_after_failed")
    assert len(replay(system, cex.actions)) == len(cex.actions)
    text = draw.sequence_chart(system, cex).source
    rows = sorted({int(m) for m in re.findall(r"^\s*s(\d+)_lane0 \[", text, re.M)})
    assert rows == list(range(1, len(cex.actions) + 1))
    for i in rows:
        cells = re.findall(rf"^\s*s{i}_lane\d \[(.*)\]$", text, re.M)
        assert len(cells) == len(draw.LANES)
        red = [draw.BAD_LINE in c for c in cells]
        assert all(red) if i == len(cex.actions) else not any(red), f"row {i}"
    assert re.search(rf"^\s*violated \[.*broken after step {len(cex.actions)}", text, re.M)


def _args(**kw) -> argparse.Namespace:
    base = {"profile": None, "design": None, "out": "diagrams/", "png": False}
    base.update(kw)
    return argparse.Namespace(**base)


@pytest.mark.parametrize("kind,value", [("profile", "linux-2.4"), ("design", "nope")])
def test_unknown_names_are_one_line_errors(kind, value, capsys, tmp_path):
    """An unknown --profile or --design is one ``check-spec: error:`` line
    naming the known ones, exit status 2, and nothing written."""
    rc = draw.draw_main(_args(**{kind: value, "out": str(tmp_path / "d")}))
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1
    assert err.startswith(f"check-spec: error: unknown {kind} '{value}' (known: ")
    assert not (tmp_path / "d").exists()


def test_without_dot_only_dot_files(monkeypatch, capsys, tmp_path):
    """Without Graphviz's ``dot`` the command still writes the DOT files
    and says in one line how to get SVG."""
    monkeypatch.setattr(draw.shutil, "which", lambda name: None)
    rc = draw.draw_main(_args(profile="linux-6.18", design="seed-scheme1", out=str(tmp_path)))
    out = capsys.readouterr().out
    assert rc == 0
    assert (tmp_path / "nud_state_machine__linux-6.18.dot").is_file()
    assert not list(tmp_path.rglob("*.svg"))
    hint = [line for line in out.splitlines() if "apt-get install graphviz" in line]
    assert len(hint) == 1 and "make setup" in hint[0]


def test_add_parser_wires_draw():
    """``add_parser`` adds ``draw`` with its options and ``draw_main`` as
    the function the CLI calls."""
    parser = argparse.ArgumentParser(prog="check-spec")
    sub = parser.add_subparsers(dest="command")
    draw.add_parser(sub)
    args = parser.parse_args(["draw", "--profile", "linux-6.18", "--png"])
    assert args.func is draw.draw_main
    assert (args.profile, args.design, args.out, args.png) == ("linux-6.18", None, "diagrams/",
                                                               True)
