"""Graphviz diagrams for design review, generated from the spec.

``check-spec draw`` writes, under ``--out`` (default ``diagrams/``):

* ``nud_state_machine__<profile>.dot``: the NUD state machine of each kernel
  profile, *explored* rather than drawn: every transition of the kernel-only
  model (``build(profile, design=None, neighbours=1, regime="large")``),
  projected onto (nud state of N1 before, after), "absent" standing for no
  entry.  Edges that emit RTM_NEWNEIGH/RTM_DELNEIGH are solid, silent ones
  dashed (:func:`state_machine_edges`, :func:`state_machine_graph`).
* ``nud_lattice.dot``: the NUD states grouped by the kernel masks
  NUD_VALID, NUD_CONNECTED, NUD_IN_TIMER, computed from the masks
  (:func:`lattice_groups`).
* ``datapath__<design>.dot``: a design's data path from the ingress port to
  ``bkn_tbl``, its rules on the edges, taken from the docstrings of the
  spec functions the design is made of (:func:`datapath_graph`).
* ``counterexamples/<design>__<invariant>__<profile>__n1_large.dot``: the
  shortest counterexample of each invariant a design violates (one
  neighbour, large GC regime) as a sequence chart, one lane per actor and
  one row per step, the breaking step in red (:func:`sequence_chart`).

Each DOT file is rendered to SVG by the ``dot`` program; ``--png`` adds PNG
previews of the headline diagrams (each profile's state machine, each
design's shortest counterexample), for READMEs.  Without ``dot`` only the
DOT files are written.  Everything is iterated in sorted or declared order,
so the DOT text is byte-identical from run to run (``tests/test_draw.py``
compares the checked-in diagrams with a fresh run).

Layout choices (why the state machine looks as it does): top to bottom,
so that dot reserves room for self-loop labels; labels are HTML tables on
a white background, so a line drawn earlier passes under the text; the
admin and removal fans (``replace`` into PERMANENT/NOARP, removals into
"absent") are thin and meet their target at one point (``samehead``).
"""

from __future__ import annotations

import argparse
import functools
import inspect
import re
import shutil
import subprocess
import sys
import textwrap
from collections import defaultdict
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

import graphviz

from nudspec.models.designs import DESIGNS, Design
from nudspec.models.profiles import PROFILES
from nudspec.models.system import (
    INVARIANTS, AdminAdd, AdminDel, ArpRx, Flush, GcRuns, LinkDown, LinkUp, Sleep, System,
    TimerFires, Tx, build,
)
from nudspec.spec import nud as nud_module
from nudspec.spec.neighbour import NeteventCall, RtmNotify
from nudspec.spec.nud import NUD_STATES, nud_name

from .explore import Counterexample, explore, replay

DEFAULT_OUT = "diagrams/"
ABSENT = "absent"
#: The masks of include/net/neighbour.h the lattice groups by, by name.
LATTICE_MASKS = ("NUD_VALID", "NUD_CONNECTED", "NUD_IN_TIMER")
#: Lanes of a sequence chart, left to right.
LANES = ("environment", "kernel neighbour entry", "netlink / netevent", "driver callback",
         "bkn_tbl")
#: The configuration every state machine and counterexample is drawn for.
NEIGHBOURS = 1
REGIME = "large"

FONT = "Helvetica"
BAD_FILL = "#ffd9d9"
BAD_LINE = "#c00000"


# --- 1. the NUD state machine, from exploration ------------------------------

def _state_name(n) -> str:
    return ABSENT if n is None else nud_name(n.nud_state)


def _base_cause(action) -> tuple[str, str]:
    """(cause, qualifier) of a transition as its edge label says it.  The
    qualifier of an ARP frame is the one parameter ``arp_process`` reads for
    the branch it takes (a request's target, a reply's dst); a kernel-only
    model reads no port.  Admin commands drop the ``ip neigh`` prefix."""
    if isinstance(action, ArpRx):
        return (action.op, action.target if action.op == "request" else action.dst)
    if isinstance(action, Tx):
        return ("tx", "")
    if isinstance(action, AdminAdd):
        return ("replace" if action.replace else "add", "")
    if isinstance(action, AdminDel):
        return ("del", "")
    if isinstance(action, Flush):
        return ("flush", "")
    if isinstance(action, LinkDown):
        return ("link down", "")
    if isinstance(action, LinkUp):
        return ("link up", "")
    if isinstance(action, Sleep):
        return ("sleep", "")
    if isinstance(action, TimerFires):
        return ("timer" + (f": {action.expired}" if action.expired else ""), "")
    if isinstance(action, GcRuns):
        return (f"gc {action.kind}", "")
    raise TypeError(f"no cause for {action!r}")


#: Every qualifier a cause can have; a cause seen with all of them on one
#: edge is labelled without (``request`` = a request for any target).
QUALIFIERS = {"request": ("local", "other"), "reply": ("unicast", "broadcast")}


def _offered_mac(action) -> Optional[str]:
    if isinstance(action, ArpRx):
        return action.sha
    if isinstance(action, AdminAdd):
        return action.lladdr
    return None


def _cause(action, before, after) -> tuple:
    """(cause, qualifier, MAC variant, override) of one transition of N1.
    An admin command names the state it requested only when the entry ends
    in another one.  The MAC variant is "new" or "same" when the action
    offers a MAC to a valid entry (another one, or the one it has), None
    otherwise; ``override`` is an ARP frame's locktime choice, else None."""
    cause, qual = _base_cause(action)
    if isinstance(action, AdminAdd) and _state_name(after) != action.nud:
        cause += f" {action.nud}"
    mac = _offered_mac(action)
    variant = None
    if mac is not None and before is not None and before.lladdr is not None:
        variant = "same" if mac == before.lladdr else "new"
    override = action.override if isinstance(action, ArpRx) else None
    return cause, qual, variant, override


def _note(variants: set) -> str:
    """The note of a (cause, qualifier) on one edge, from the (MAC variant,
    override) pairs that take it: "new MAC" / "same MAC" when only that MAC
    does, "within locktime" when only frames inside LOCKTIME do."""
    macs = {m for m, _ in variants}
    notes = []
    if macs == {"new"}:
        notes.append("new MAC")
    elif macs == {"same"}:
        notes.append("same MAC")
    if {o for _, o in variants} == {False}:
        notes.append("within locktime")
    return f" ({', '.join(notes)})" if notes else ""


def _merge_causes(causes: Iterable[tuple]) -> set:
    """The label lines of one edge: one per (cause, qualifier) with its
    :func:`_note`; then a cause seen with every qualifier and the same note
    loses its qualifier (``request`` = a request for any target)."""
    seen: dict = defaultdict(set)
    for cause, qual, variant, override in causes:
        seen[(cause, qual)].add((variant, override))
    noted = {key: _note(variants) for key, variants in seen.items()}
    out = set()
    for (cause, qual), note in noted.items():
        quals = QUALIFIERS.get(cause, ())
        if qual and all(noted.get((cause, q)) == note for q in quals):
            out.add(f"{cause}{note}")
        else:
            out.add(" ".join(x for x in (cause, qual) if x) + note)
    return out


def kernel_system(profile: str) -> System:
    """The kernel-only model a state machine is explored on."""
    return build(profile=profile, design=None, neighbours=NEIGHBOURS, regime=REGIME)


def _transitions(profile: str):
    """Every transition of the kernel-only model of ``profile`` from every
    reachable state: yields (state before, action, StepResult), states in
    sorted ``repr`` order, actions in the model's order."""
    system = kernel_system(profile)
    states = sorted(explore(system).graph.nodes, key=repr)
    for s in states:
        for action in system.actions(s):
            yield s, action, system.step(s, action)


def state_machine_edges(profile: str) -> set:
    """The NUD state machine of ``profile`` as a set of edges ``(src, dst,
    cause, notifies)``, computed by exploring the kernel-only model.

    ``src``/``dst`` are NUD state names of N1 (``"absent"``: no entry);
    ``notifies`` is True when the step emitted RTM_NEWNEIGH or RTM_DELNEIGH.
    A step that leaves N1's entry exactly as it was and emits nothing is not
    an edge (link up, a refused update, a re-armed timer...).  Causes of one
    (src, dst, notifies) are merged per :func:`_merge_causes`."""
    raw: dict = defaultdict(list)
    for s, action, r in _transitions(profile):
        before, after = s.neigh[0], r.state.neigh[0]
        if before == after and not r.emissions:
            continue
        notifies = any(isinstance(e, RtmNotify) for e in r.emissions)
        raw[(_state_name(before), _state_name(after), notifies)].append(
            _cause(action, before, after))
    return {(src, dst, cause, notifies)
            for (src, dst, notifies), causes in raw.items()
            for cause in _merge_causes(causes)}


def _edge_groups(edges: set) -> list:
    """Edges grouped by (src, dst, notifies), causes sorted; sorted list of
    ((src, dst, notifies), [causes])."""
    groups: dict = defaultdict(list)
    for src, dst, cause, notifies in edges:
        groups[(src, dst, notifies)].append(cause)
    return sorted((k, sorted(v)) for k, v in groups.items())


def _cause_kind(cause: str) -> str:
    word = cause.split(" ")[0].rstrip(":")
    return {"request": "packet", "reply": "packet", "tx": "packet", "timer": "timer",
            "add": "admin", "replace": "admin", "del": "removal", "flush": "removal",
            "link": "removal", "gc": "removal"}.get(word, "other")


#: Edge colour by the kinds of cause an edge carries (a mixed edge is black).
KIND_COLOUR = {"packet": "#1f4e9c", "timer": "#1b7a3a", "admin": "#8a5a00",
               "removal": "#666666", "other": "#000000"}


def _edge_colour(causes: Sequence[str]) -> str:
    kinds = {_cause_kind(c) for c in causes}
    return KIND_COLOUR[kinds.pop()] if len(kinds) == 1 else "#000000"


def _nud_states_by_mask() -> dict:
    """Mask name -> set of single-state names it contains, from spec.nud."""
    out = {}
    for mask in LATTICE_MASKS:
        value = int(getattr(nud_module, mask))
        out[mask] = {nud_name(s) for s in NUD_STATES if int(s) & value}
    return out


def _edge_label(causes: Sequence[str], loop: bool) -> str:
    """An HTML edge label: one row per cause on a white background, so that
    lines drawn earlier pass under the text.  A self-loop's label gets an
    empty first column: dot places loop labels over the loop's far side."""
    spacer = '<td width="16"></td>' if loop else ""
    rows = "".join(f'<tr>{spacer}<td align="left" bgcolor="white">{_html(c)}</td></tr>'
                   for c in causes)
    return (f'<<table border="0" cellborder="0" cellspacing="0" cellpadding="1">'
            f'{rows}</table>>')


def state_machine_graph(profile: str, edges: Optional[set] = None) -> graphviz.Digraph:
    """The state machine of ``profile`` as a Digraph: one node per NUD state
    (plus "absent"), one edge per (src, dst, notify-ness) labelled with its
    causes one per line (an HTML table, one row each); solid for edges that
    emit RTM_NEWNEIGH/RTM_DELNEIGH, dashed for silent ones; colour by kind
    of cause; a legend next to "absent"."""
    if edges is None:
        edges = state_machine_edges(profile)
    system = kernel_system(profile)
    g = graphviz.Digraph(f"nud_state_machine__{profile}")
    g.attr(label=_html_title(
        f"NUD state machine of {profile}",
        f"explored: build(profile={profile!r}, design=None, neighbours={NEIGHBOURS}, "
        f"regime={REGIME!r}); one node per nud_state of {system.keys[0]}; "
        f"every transition of every reachable state"),
        labelloc="t", fontname=FONT, rankdir="TB", nodesep="0.45", ranksep="0.8",
        newrank="true", splines="spline", outputorder="edgesfirst", pad="0.3")
    g.attr("node", fontname=FONT, fontsize="14", shape="box", style="rounded,filled",
           fillcolor="#f2f2f2", margin="0.15,0.06")
    g.attr("edge", fontname=FONT, fontsize="11", arrowsize="0.8")

    used = {e[0] for e in edges} | {e[1] for e in edges}
    masks = _nud_states_by_mask()
    with g.subgraph() as top:
        top.attr(rank="same")
        top.node(ABSENT, label="absent\\n(no entry)", shape="ellipse", style="dashed")
        top.node("legend", label=_state_machine_legend(), shape="plaintext", style="")
    for s in NUD_STATES:
        name = nud_name(s)
        attrs = {}
        if name in masks["NUD_CONNECTED"]:
            attrs = {"fillcolor": "#d9ead3"}
        elif name in masks["NUD_VALID"]:
            attrs = {"fillcolor": "#fff2cc"}
        if name not in used:
            attrs = {"style": "rounded,dotted", "fontcolor": "#888888",
                     "label": f"{name}\\n(not reached)"}
        g.node(name, **attrs)

    for (src, dst, notifies), causes in _edge_groups(edges):
        kinds = {_cause_kind(c) for c in causes}
        fan = kinds <= {"admin", "removal"}
        colour = _edge_colour(causes)
        attrs = {"color": colour, "fontcolor": colour,
                 "style": "solid" if notifies else "dashed",
                 "penwidth": ("1.2" if fan else "2.0") if notifies else "1.4"}
        if fan and src != dst:
            # fans meet their target at one point instead of all around it
            attrs["samehead"] = kinds.pop() if len(kinds) == 1 else "fan"
        g.edge(src, dst, label=_edge_label(causes, src == dst), **attrs)
    return g


def _state_machine_legend() -> str:
    """The legend, as an HTML label (no edges: the layout stays the
    machine's)."""
    rows = [
        ('<font point-size="14">&#9473;&#9473;&#9473;&#9473;</font>',
         "emits RTM_NEWNEIGH / RTM_DELNEIGH (thin: admin or removal only)"),
        ("- - - - -", "silent: no netlink message"),
    ]
    rows += [(f'<font color="{KIND_COLOUR[k]}">&#9632;&#9632;</font>', text) for k, text in (
        ("packet", "ARP frame received (request/reply), datagram sent (tx)"),
        ("timer", "neigh_timer_handler outcome"),
        ("admin", "ip neigh add / replace, to the state requested"),
        ("removal", "ip neigh del / flush, link down, garbage collection"),
        ("other", "mixed causes"))]
    rows += [("", "request / reply without qualifier: any target / any destination"),
             ("", "(new MAC): only with a MAC other than the entry's"),
             ("", "(within locktime): only for a frame inside LOCKTIME of the last update"),
             ("", "steps that change nothing and emit nothing are not drawn")]
    body = "".join(f'<tr><td align="right">{a}</td><td align="left">{_html(b)}</td></tr>'
                   for a, b in rows)
    return (f'<<table border="1" color="#999999" cellborder="0" cellspacing="2" '
            f'cellpadding="1"><tr><td colspan="2"><b>legend</b></td></tr>{body}</table>>')


def _html_title(title: str, subtitle: str) -> str:
    return (f'<<font point-size="18"><b>{_html(title)}</b></font><br/>'
            f'<font point-size="11">{_html(subtitle)}</font>>')


def _html(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


# --- 2. the NUD lattice ----------------------------------------------------------

def lattice_groups() -> dict:
    """Mask name -> set of NUD state names, computed from spec.nud's masks."""
    return _nud_states_by_mask()


def lattice_graph() -> graphviz.Digraph:
    """The NUD states grouped by NUD_VALID, NUD_CONNECTED and NUD_IN_TIMER.

    A mask whose states nest in, or are disjoint from, every mask drawn as a
    cluster before it is drawn as a cluster (NUD_VALID contains
    NUD_CONNECTED); a mask that cuts across the clusters (NUD_IN_TIMER holds
    INCOMPLETE, outside NUD_VALID, and REACHABLE, inside NUD_CONNECTED) is
    drawn as a mask node below the states with an edge from it to each of
    them (written ``state -> mask [dir=back]``).  Node ids are
    the state names; cluster and mask-node names carry the mask name, so the
    groups can be read back from the DOT text."""
    groups = lattice_groups()
    order = sorted(groups, key=lambda m: (-len(groups[m]), LATTICE_MASKS.index(m)))
    clusters: list = []
    hubs: list = []
    for mask in order:
        members = groups[mask]
        if all(members <= groups[c] or members >= groups[c] or not members & groups[c]
               for c in clusters):
            clusters.append(mask)
        else:
            hubs.append(mask)

    g = graphviz.Digraph("nud_lattice")
    g.attr(label=_html_title("NUD states grouped by the kernel's masks",
                             "include/net/neighbour.h, values from spec/nud.py"),
           labelloc="t", fontname=FONT, rankdir="TB", nodesep="0.3", ranksep="0.9",
           newrank="true", pad="0.3")
    g.attr("node", fontname=FONT, fontsize="12", shape="box", style="rounded,filled",
           fillcolor="#f2f2f2")
    g.attr("edge", color="#3465a4", arrowsize="0.7")

    def expr(mask: str) -> str:
        value = int(getattr(nud_module, mask))
        parts = [nud_name(s) for s in NUD_STATES if int(s) & value]
        return f"{mask} = {value:#04x}\\n" + " | ".join(parts)

    placed: set = set()

    def emit(container, mask: str, depth: int) -> None:
        members = groups[mask]
        inner = [c for c in clusters if c != mask and groups[c] < members
                 and not any(groups[c] < groups[d] < members for d in clusters)]
        with container.subgraph(name=f"cluster_{mask}") as cg:
            cg.attr(label=expr(mask), fontname=FONT, fontsize="12", style="rounded,filled",
                    fillcolor=("#fff2cc", "#d9ead3", "#cfe2f3")[min(depth, 2)], color="#555555")
            for c in inner:
                emit(cg, c, depth + 1)
            for s in NUD_STATES:
                name = nud_name(s)
                if name in members and name not in placed:
                    placed.add(name)
                    cg.node(name, label=f"{name}\\n{int(s):#04x}", fillcolor="#ffffff")

    for mask in clusters:
        if not any(groups[mask] < groups[c] for c in clusters):
            emit(g, mask, 0)
    for s in NUD_STATES:
        name = nud_name(s)
        if name not in placed:
            g.node(name, label=f"{name}\\n{int(s):#04x}", fillcolor="#ffffff")
    # every state on one row; the masks that are not clusters below it, so
    # their edges do not cross the cluster labels (edges point up: dir=back)
    with g.subgraph() as row:
        row.attr(rank="same")
        for s in NUD_STATES:
            row.node(nud_name(s))
    for mask in hubs:
        g.node(f"mask_{mask}", label=expr(mask), shape="box", style="filled,dashed",
               fillcolor="#cfe2f3", color="#3465a4")
        for s in NUD_STATES:
            name = nud_name(s)
            if name in groups[mask]:
                g.edge(name, f"mask_{mask}", dir="back")
    return g


# --- 3. a design's data path -------------------------------------------------------

def _spec_function(fn: Callable) -> Optional[Callable]:
    """The spec function a design's callable is (or calls, by global name or
    through a closure: the designs wrap spec functions in lambdas that bind
    the driver's ports)."""
    if fn is None:
        return None
    if getattr(fn, "__module__", "").startswith("nudspec.spec"):
        return fn
    code = getattr(fn, "__code__", None)
    candidates = [getattr(fn, "__globals__", {}).get(name)
                  for name in (code.co_names if code is not None else ())]
    candidates += [cell.cell_contents for cell in (getattr(fn, "__closure__", None) or ())]
    for obj in candidates:
        if callable(obj) and getattr(obj, "__module__", "").startswith("nudspec.spec"):
            return obj
    return None


def _rule_text(fn: Callable, width: int = 44) -> str:
    """The rule a spec function states in its docstring, as a DOT label:
    its bullet items if it has any, else its first paragraph; RST markup
    removed, wrapped to ``width``."""
    spec = _spec_function(fn)
    doc = inspect.getdoc(spec) if spec is not None else None
    if not doc:
        return "(no rule documented)"
    doc = doc.replace("``", "")
    paras = [p.strip() for p in doc.split("\n\n")]
    bullets = []
    for p in paras:
        for item in re.split(r"\n(?=\* )", p):
            if item.startswith("* "):
                bullets.append(" ".join(item[2:].split()))
    if bullets:
        lines = []
        for b in bullets:
            wrapped = textwrap.wrap(b, width - 2)
            lines.append("- " + wrapped[0])
            lines.extend("  " + w for w in wrapped[1:])
    else:
        lines = textwrap.wrap(" ".join(paras[0].split()), width)
    return "".join(_dot_escape(line) + "\\l" for line in lines)


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def datapath_graph(design_name: str) -> graphviz.Digraph:
    """The data path of a design, ingress port to bkn_tbl, with the design's
    rules (from its spec functions' docstrings) on the edges where they act."""
    design: Design = DESIGNS[design_name]
    g = graphviz.Digraph(f"datapath__{design_name}")
    g.attr(label=_html_title(f"data path of design {design_name}", design.description),
           labelloc="t", fontname=FONT, rankdir="TB", nodesep="0.6", ranksep="0.55",
           pad="0.3")
    g.attr("node", fontname=FONT, fontsize="12", shape="box", style="rounded,filled",
           fillcolor="#f2f2f2")
    g.attr("edge", fontname=FONT, fontsize="10")
    driver = {"fillcolor": "#fce5cd", "color": "#b45f06"}
    kernel = {"fillcolor": "#dde7f5", "color": "#3465a4"}

    g.node("port", "ARP frame arrives\\non a driver port", shape="cds", **driver)
    if design.non_driver_source:
        g.node("other_src", "ARP frame from a\\nnon-driver source", shape="cds",
               fillcolor="#eeeeee")
    g.node("rx", "driver rx\\nskb->cb = struct bkn_fdb_skb", **driver)
    g.node("arp_process", "arp_process\\nnet/ipv4/arp.c", **kernel)
    g.node("stamp", "neigh->bkn_fdb_skb\\n(the neighbour's copy of the stamp)",
           shape="note", **driver)
    g.node("neigh_update", "neigh_update\\n(__neigh_update, net/core/neighbour.c)", **kernel)
    g.node("notify", "neigh_update_notify", **kernel)
    g.node("rtnl", "RTM_NEWNEIGH / RTM_DELNEIGH\\nto user space (RTNLGRP_NEIGH)",
           shape="box", style="rounded", color="#888888", fontcolor="#555555")
    g.node("others", "neigh_timer_handler (timer)\\nneigh_add / neigh_delete (ip neigh)",
           **kernel)
    g.node("cleanup", "neigh_cleanup_and_release\\n(ip neigh del/flush, link down, gc)",
           **kernel)
    g.node("netevent", "netevent callback\\nNETEVENT_NEIGH_UPDATE", **driver)
    g.node("bkn_tbl", "bkn_tbl\\n(ASIC host table)", shape="cylinder", **driver)

    g.edge("port", "rx", label=_rule_text(design.rx_stamp), color="#b45f06")
    if design.non_driver_source:
        g.edge("other_src", "arp_process", label="no stamp (skb->cb not written)\\l",
               style="dashed")
    g.edge("rx", "arp_process", label="arp_rcv\\l")
    g.edge("arp_process", "stamp", label=(_rule_text(design.arp_hook)
                                          if design.arp_hook else "(no hook)"),
           color="#b45f06")
    g.edge("arp_process", "neigh_update",
           label="state = REACHABLE for a unicast reply, else STALE\\l"
                 "(a local request: neigh_event_ns)\\l")
    g.edge("stamp", "netevent", style="dotted", constraint="false",
           label="read by the callback\\n(call->entry->bkn_fdb_skb)")
    g.edge("neigh_update", "notify", label="if state, lladdr or flags changed\\l")
    g.edge("others", "notify")
    g.edge("notify", "netevent", label="1. call_netevent_notifiers\\l")
    g.edge("notify", "rtnl", label="2. __neigh_notify\\l", color="#888888")
    g.edge("cleanup", "rtnl", label="1. RTM_DELNEIGH\\l", color="#888888")
    g.edge("cleanup", "netevent", label="2. netevent (dead = 1)\\l")
    g.edge("netevent", "bkn_tbl", label=_rule_text(design.netevent), color="#b45f06")
    with g.subgraph() as sg:
        sg.attr(rank="same")
        sg.node("neigh_update")
        sg.node("others")
        sg.node("cleanup")
    return g


# --- 4. counterexamples as sequence charts -------------------------------------------

def _wrap_repr(action, width: int = 34) -> list:
    """``repr(action)`` (a valid constructor call) broken at commas."""
    text = repr(action)
    lines, line = [], ""
    for part in re.split(r"(?<=,) ", text):
        if line and len(line) + 1 + len(part) > width:
            lines.append(line)
            line = "  " + part
        else:
            line = f"{line} {part}" if line else part
    lines.append(line)
    return lines


def _entry_lines(system: System, state) -> list:
    out = []
    for key, n in zip(system.keys, state.neigh):
        text = f"{key}: {system.describe_entry(n)}"
        if n is not None:
            extra = []
            if n.bkn_fdb_skb is not None:
                extra.append(f"stamp {getattr(n.bkn_fdb_skb, 'interface', n.bkn_fdb_skb)}")
            if n.timer:
                extra.append("timer")
            if n.arp_queue:
                extra.append("queued")
            if extra:
                text += " [" + ", ".join(extra) + "]"
        out.append(text)
    if not state.link_up:
        out.append("(br0 down)")
    return out


def _bkn_lines(system: System, state) -> list:
    lines = [f"{k}: {hw.mac}@{hw.port}" for k, hw in zip(system.keys, state.bkn_tbl)
             if hw is not None]
    return lines or ["(empty)"]


def _driver_lines(system: System, before, result) -> list:
    """What the driver's callback did with each netevent call of the step,
    recomputed with the design's callback from the bkn_tbl before the step
    (and checked against the step's recorded driver actions)."""
    if system.design is None:
        return ["(no driver)"]
    bkn = dict(zip(system.keys, before.bkn_tbl))
    lines, acts = [], []
    for em in result.emissions:
        if not isinstance(em, NeteventCall):
            continue
        e = em.entry
        stamp = getattr(e.bkn_fdb_skb, "interface", None)
        seen = (f"{em.neigh} {nud_name(e.nud_state)}"
                f"{' dead' if e.dead else ''}, {'stamp ' + stamp if stamp else 'no magic'}")
        new, what = system.design.netevent(bkn[em.neigh], em)
        bkn[em.neigh] = new
        if what:
            acts.append((em.neigh, what, new))
            detail = f" {new.mac}@{new.port}" if new is not None else ""
            lines.append(f"sees {seen}: {what}{detail}")
        else:
            lines.append(f"sees {seen}: no-op")
    if tuple(acts) != tuple(result.driver):  # pragma: no cover - a model change
        lines = [f"{k} {w}" for k, w, _ in result.driver] or ["-"]
    return lines or ["-"]


def _cell(lines: Sequence[str], bold_first: bool = False) -> str:
    rows = []
    for i, line in enumerate(lines):
        text = _html(line)
        if bold_first and i == 0:
            text = f"<b>{text}</b>"
        rows.append(f'<tr><td align="left">{text}</td></tr>')
    return f'<<table border="0" cellborder="0" cellspacing="0">{"".join(rows)}</table>>'


def sequence_chart(system: System, counterexample: Counterexample) -> graphviz.Digraph:
    """A counterexample as a sequence chart: one lane (column) per actor --
    environment, kernel neighbour entry, netlink/netevent, driver callback,
    bkn_tbl -- and one row per step (node ids ``s<i>_<lane>``), obtained by
    replaying the actions; the last row, where the invariant breaks, is
    red.  Arrows follow what flowed in that step."""
    actions = list(counterexample.actions)
    results = replay(system, actions)
    inv = INVARIANTS[counterexample.invariant]
    design = system.design.name if system.design else "kernel only"
    g = graphviz.Digraph(f"cex__{design}__{counterexample.invariant}")
    g.attr(label=_html_title(
        f"{design} violates {counterexample.invariant} in {len(actions)} step(s)",
        f"{inv.statement} -- profile {system.profile.name}, {len(system.keys)} neighbour(s), "
        f"{system.config.regime} GC regime; from the initial state (empty table, br0 up, "
        f"empty bkn_tbl)"),
        labelloc="t", fontname=FONT, rankdir="TB", nodesep="0.35", ranksep="0.25",
        newrank="true", pad="0.3")
    g.attr("node", fontname=FONT, fontsize="11", shape="box", style="filled",
           fillcolor="#ffffff", color="#999999", width="3.2")
    g.attr("edge", arrowsize="0.7", color="#3465a4")

    lane_ids = [f"lane{j}" for j in range(len(LANES))]
    with g.subgraph() as hdr:
        hdr.attr(rank="same")
        for lid, title in zip(lane_ids, LANES):
            hdr.node(f"head_{lid}", label=_html(title), shape="box", style="filled,bold",
                     fillcolor="#dde7f5", color="#3465a4", fontsize="12")
    prev = [f"head_{lid}" for lid in lane_ids]
    before = system.init()
    for i, (action, r) in enumerate(zip(actions, results), start=1):
        last = i == len(actions)
        internal = isinstance(action, (TimerFires, GcRuns))
        env = [f"step {i}" + ("  (kernel-internal)" if internal else "")] + _wrap_repr(action)
        notes = [str(e) for e in r.emissions] or ["-"]
        cells = [env, _entry_lines(system, r.state), notes,
                 _driver_lines(system, before, r), _bkn_lines(system, r.state)]
        ids = [f"s{i}_{lid}" for lid in lane_ids]
        row_attrs = {"fillcolor": BAD_FILL, "color": BAD_LINE, "penwidth": "2"} if last else {}
        with g.subgraph() as row:
            row.attr(rank="same")
            for j, (nid, lines) in enumerate(zip(ids, cells)):
                attrs = dict(row_attrs)
                if j == 0 and internal and not last:
                    attrs["fillcolor"] = "#eeeeee"
                row.node(nid, label=_cell(lines, bold_first=(j == 0)), **attrs)
        # lanes stay straight: heavy invisible edges down each column
        for a, b in zip(prev, ids):
            g.edge(a, b, style="invis", weight="100")
        # env -> kernel, kernel -> notifications, -> callback, -> bkn_tbl
        calls = any(isinstance(e, NeteventCall) for e in r.emissions)
        flows = [not internal, bool(r.emissions), calls and system.design is not None,
                 bool(r.driver)]
        for j, flowing in enumerate(flows):
            if flowing:
                g.edge(ids[j], ids[j + 1], color=BAD_LINE if last else "#3465a4")
            else:
                g.edge(ids[j], ids[j + 1], style="invis")
        prev = ids
        before = r.state
    with g.subgraph() as foot:
        foot.attr(rank="same")
        foot.node("violated", label=_html(f"invariant {counterexample.invariant} broken "
                                          f"after step {len(actions)}"),
                  shape="box", style="filled,bold", fillcolor=BAD_FILL, color=BAD_LINE,
                  fontcolor=BAD_LINE, width="0")
    g.edge(prev[-1], "violated", color=BAD_LINE, style="bold")
    return g


def cex_stem(system: System, cex: Counterexample) -> str:
    """File stem of a counterexample chart: the stem ``checker/report.py``
    gives the same counterexample's trace and pytest files."""
    design = system.design.name if system.design else "kernel"
    return (f"{design}__{cex.invariant}__{system.profile.name}__n{len(system.keys)}"
            f"_{system.config.regime}").replace("-", "_").replace(".", "_")


@functools.lru_cache(maxsize=None)
def counterexamples(profile: str, design: str) -> tuple:
    """(system, tuple of the shortest counterexample of each invariant it
    violates, in INVARIANTS order) for ``design`` on ``profile``, one
    neighbour, large regime.  Cached: exploring takes seconds."""
    system = build(profile=profile, design=design, neighbours=NEIGHBOURS, regime=REGIME)
    res = explore(system, keep_graph=False)
    return system, tuple(c for c in (res.counterexample(n) for n in INVARIANTS) if c is not None)


# --- writing ----------------------------------------------------------------------

def diagrams(profiles: Sequence[str], designs: Sequence[str]) -> list:
    """Every diagram for the selection, as (relative path stem, Digraph,
    headline), in a fixed order: lattice, state machines, data paths,
    counterexamples.  The headlines -- each profile's state machine and the
    shortest counterexample of each design on each profile -- are the ones
    ``--png`` renders for READMEs."""
    out = [("nud_lattice", lattice_graph(), False)]
    for p in profiles:
        out.append((f"nud_state_machine__{p}", state_machine_graph(p), True))
    for d in designs:
        out.append((f"datapath__{d}", datapath_graph(d), False))
    for d in designs:
        for p in profiles:
            system, cexs = counterexamples(p, d)
            shortest = min(cexs, key=len) if cexs else None
            for cex in cexs:
                out.append((f"counterexamples/{cex_stem(system, cex)}",
                            sequence_chart(system, cex), cex is shortest))
    return out


def _owned_cex_glob(design: str, profile: str, invariant: str) -> str:
    """Glob of the chart files of one (design, profile, invariant) that
    ``draw`` writes (the stem of :func:`cex_stem`); nothing else in the
    output folder is ever removed."""
    norm = lambda s: s.replace("-", "_").replace(".", "_")  # noqa: E731
    return f"{norm(design)}__{invariant}__{norm(profile)}__n{NEIGHBOURS}_{REGIME}.*"


def write_diagrams(out: Path, profiles: Sequence[str], designs: Sequence[str],
                   render: bool = True, png: bool = False) -> list:
    """Write the DOT files of the selection under ``out`` and, with
    ``render``, their SVG, and with ``png`` the PNG of the headline diagrams
    (see :func:`diagrams`); returns the DOT paths written.  Charts of the
    selected (design, profile) pairs that this run did not write (an
    invariant that now holds) are removed; no other file is touched."""
    out = Path(out)
    written, headlines = [], set()
    for stem, graph, headline in diagrams(profiles, designs):
        path = out / f"{stem}.dot"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(graph.source, encoding="utf-8")
        written.append(path)
        if headline:
            headlines.add(path)
    cex_dir = out / "counterexamples"
    if cex_dir.is_dir():
        keep = {p.stem for p in written if p.parent == cex_dir}
        for d in designs:
            for p in profiles:
                for inv in INVARIANTS:
                    for old in sorted(cex_dir.glob(_owned_cex_glob(d, p, inv))):
                        if old.stem not in keep and old.suffix in (".dot", ".svg", ".png"):
                            old.unlink()
    if render:
        for path in written:
            _render(path, "svg")
            if png and path in headlines:
                _render(path, "png")
    return written


def _render(dot_file: Path, fmt: str) -> None:
    target = dot_file.with_suffix(f".{fmt}")
    args = ["dot", f"-T{fmt}", "-o", str(target), str(dot_file)]
    if fmt == "png":
        args.insert(1, "-Gdpi=96")
    subprocess.run(args, check=True)


def _error(message: str) -> int:
    print(f"check-spec: error: {message}", file=sys.stderr)
    return 2


def draw_main(args: argparse.Namespace) -> int:
    """``check-spec draw``: returns the exit status (0 written, 2 bad usage)."""
    profile = getattr(args, "profile", None)
    design = getattr(args, "design", None)
    if profile is not None and profile not in PROFILES:
        return _error(f"unknown profile {profile!r} (known: {', '.join(PROFILES)})")
    if design is not None and design not in DESIGNS:
        return _error(f"unknown design {design!r} (known: {', '.join(DESIGNS)})")
    profiles = [profile] if profile else list(PROFILES)
    designs = [design] if design else list(DESIGNS)
    out = Path(getattr(args, "out", None) or DEFAULT_OUT)
    have_dot = shutil.which("dot") is not None
    try:
        written = write_diagrams(out, profiles, designs, render=have_dot,
                                 png=bool(getattr(args, "png", False)))
    except OSError as exc:
        return _error(f"cannot write diagrams to {out}: {exc}")
    except subprocess.CalledProcessError as exc:
        return _error(f"dot failed: {exc}")
    kinds = "DOT" + (" + SVG" if have_dot else "") + (
        " + PNG of the headlines" if have_dot and getattr(args, "png", False) else "")
    print(f"draw: {len(written)} diagram(s) ({kinds}) written to {out}")
    if not have_dot:
        print("draw: Graphviz `dot` not found, DOT files only; for SVG: "
              "apt-get install graphviz (or run `make setup`)")
    return 0


def add_parser(subparsers) -> None:
    """Add the ``draw`` subcommand to an argparse ``subparsers`` object."""
    p = subparsers.add_parser(
        "draw", help="write Graphviz diagrams (state machines, lattice, data paths, "
                     "counterexamples)",
        description="Write Graphviz diagrams generated from the spec: the NUD state machine "
                    "of each profile (explored), the NUD mask lattice, each design's data "
                    "path, and the shortest counterexample of each invariant each design "
                    "violates (1 neighbour, large GC regime) as a sequence chart.  DOT and "
                    "SVG (SVG needs Graphviz's dot); --png adds PNG previews.")
    p.add_argument("--profile", help="only this kernel profile (default: all)")
    p.add_argument("--design", help="only this design (default: all)")
    p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                   help=f"output directory (default {DEFAULT_OUT})")
    p.add_argument("--png", action="store_true",
                   help="also render PNG previews of the headline diagrams: each profile's "
                        "state machine and each design's shortest counterexample")
    p.set_defaults(func=draw_main)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m nudspec.checker.draw ...`` (same as ``check-spec draw``)."""
    parser = argparse.ArgumentParser(prog="check-spec")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(["draw", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
