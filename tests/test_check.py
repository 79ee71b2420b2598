"""The explicit engine and `check-spec check`: pinned state counts and
verdicts, non-vacuity of every invariant, counterexamples that replay, and the
CLI's output and errors."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from nudspec.checker.cli import main, run_check
from nudspec.checker.explore import explore, replay
from nudspec.checker.report import step_table, trace_records
from nudspec.checker.trace import parse_lines
from nudspec.models.expected import EXPECTED
from nudspec.models.system import DESIGN_INVARIANTS, INVARIANTS, build

STORED = Path(__file__).parent / "counterexamples"


@pytest.fixture(scope="module")
def seed_n1():
    system = build("linux-6.18", "seed-scheme1", 1, "large")
    return system, explore(system)


#: (profile, design, N, regime) -> reachable states; pinned so that a change of
#: the model's state space is a visible, reviewed change.
STATE_COUNTS = {
    ("linux-6.18", "seed-scheme1", 1, "large"): 801,
    ("linux-6.18", "seed-scheme1", 1, "small"): 801,
    ("linux-6.18", None, 1, "small"): 97,
    ("linux-6.18", None, 2, "small"): 867,
}


@pytest.mark.parametrize("cfg", sorted(STATE_COUNTS, key=str))
def test_state_counts_pinned(cfg):
    """The reachable state count of each small configuration is pinned."""
    res = explore(build(*cfg), keep_graph=False)
    assert res.states == STATE_COUNTS[cfg]


def test_symmetry_reduction_keeps_verdicts_and_lengths():
    """Exploring with and without the symmetry reduction (neighbour, MAC and
    port renamings) gives the same verdicts and shortest lengths."""
    system = build("linux-6.18", "seed-scheme1", 1, "small")
    full = explore(system, keep_graph=False, symmetry=False)
    reduced = explore(system, keep_graph=False, symmetry=True)
    assert reduced.states < full.states
    for name in INVARIANTS:
        a, b = full.counterexample(name), reduced.counterexample(name)
        assert (a is None) == (b is None)
        assert a is None or len(a) == len(b)


@pytest.mark.parametrize("exp", EXPECTED,
                         ids=lambda e: f"{e.profile}-{e.design}-n{e.neighbours}-{e.regime}")
def test_expected_verdicts(exp):
    """Each declared configuration reaches exactly the verdicts and
    counterexample lengths models/expected.py states."""
    results = run_check(exp.profile, exp.design, exp.neighbours, exp.regime,
                        list(exp.verdicts), out=None, quiet=True)
    got = {r["invariant"]: (r["holds"], r["counterexample"]["length"] if r["counterexample"]
                            else None) for r in results}
    assert got == exp.verdicts


def test_type_ok_holds_and_every_invariant_is_not_vacuous(seed_n1):
    """type_ok holds everywhere, and each invariant's "sometimes" companion is
    reached: the states an invariant talks about exist."""
    _, res = seed_n1
    assert res.violations["type_ok"] is None
    assert all(res.witnessed[name] for name in INVARIANTS)


def test_counterexamples_violate_only_at_their_last_step(seed_n1):
    """Replaying a counterexample: the invariant holds on every earlier state
    and fails on the last one."""
    system, res = seed_n1
    for name in DESIGN_INVARIANTS:
        cex = res.counterexample(name)
        results = replay(system, cex.actions)
        inv = INVARIANTS[name]
        assert all(inv.holds(system, r.state) for r in results[:-1])
        assert not inv.holds(system, results[-1].state)
        assert results[-1].state == cex.states[-1]


def test_reachable_in_hw_counterexample_is_the_silent_reachable_refresh(seed_n1):
    """The shortest reachable_in_hw violation: an admin REACHABLE entry, then a
    stamped reply with the same lladdr: neigh_update changes nothing, so no
    netevent fires and the stamped REACHABLE entry never reaches bkn_tbl."""
    system, res = seed_n1
    cex = res.counterexample("reachable_in_hw")
    assert [type(a).__name__ for a in cex.actions] == ["AdminAdd", "ArpRx"]
    last = replay(system, cex.actions)[-1]
    assert last.emissions == () and last.state.bkn_tbl == (None,)


def test_counterexample_trace_parses_and_step_table_has_a_row_per_step(seed_n1):
    """The TRACE_FORMAT rendering reads back with the project's reader; the
    step table has one row per step plus the initial state."""
    system, res = seed_n1
    cex = res.counterexample("no_hw_after_removal")
    results = replay(system, cex.actions)
    recs = trace_records(system, cex.actions, results, "model")
    t = parse_lines([json.dumps(r) for r in recs], "cex.jsonl")
    assert [r.data["event"] for r in t.records if r.kind == "event"] == [
        "arp_rx", "arp_rx", "link_down"]
    table = step_table(system, cex.actions, results).splitlines()
    assert len(table) == 2 + 1 + len(cex.actions)
    assert "RTM_DELNEIGH N1 REACHABLE M1; netevent N1 REACHABLE M1 dead" in table[-1]


def test_generated_pytest_files_pass(tmp_path):
    """`check-spec check --out DIR` writes a trace and a pytest file per
    violation; every generated test passes when run with pytest."""
    assert main(["check", "--neighbours", "1", "--out", str(tmp_path)]) == 0
    tests = sorted(tmp_path.glob("test_*.py"))
    assert len(tests) == len(DESIGN_INVARIANTS)
    assert len(sorted(tmp_path.glob("*.jsonl"))) == len(DESIGN_INVARIANTS)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(DESIGN_INVARIANTS)} passed" in proc.stdout


def _stored_actions(path):
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets[0].id == "ACTIONS":
            return ast.get_source_segment(path.read_text(), node.value)
    raise AssertionError(f"no ACTIONS in {path}")


def test_stored_regression_counterexamples_are_still_the_shortest(seed_n1):
    """tests/counterexamples holds the shortest seed-scheme1 counterexamples
    (from --neighbours 2); the engine still finds exactly those runs."""
    system, res = seed_n1
    stored = sorted(STORED.glob("test_seed_scheme1__*_n2_large.py"))
    assert len(stored) == len(DESIGN_INVARIANTS)
    for path in stored:
        name = path.name.split("__")[1]
        cex = res.counterexample(name)
        want = "[\n" + "".join(f"    {a!r},\n" for a in cex.actions) + "]"
        assert _stored_actions(path) == want, path.name


def test_cli_json_results(tmp_path, capsys):
    """check --json: one result per invariant with profile, design, neighbours,
    invariant, holds, states, seconds, counterexample."""
    assert main(["check", "--neighbours", "1", "--json", "--out", str(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["invariant"] for r in out["results"]] == list(DESIGN_INVARIANTS)
    for r in out["results"]:
        assert {"profile", "design", "neighbours", "invariant", "holds", "states", "seconds",
                "counterexample"} <= set(r)
        assert r["holds"] is False and Path(r["counterexample"]["test"]).exists()


@pytest.mark.parametrize("argv,needle", [
    (["check", "--profile", "linux-2.4"], "unknown profile 'linux-2.4' (known: linux-6.18"),
    (["check", "--design", "magic"], "unknown design 'magic' (known: seed-scheme1"),
    (["check", "--invariant", "nope"], "unknown invariant 'nope' (known: type_ok"),
])
def test_cli_unknown_names_exit_2(argv, needle, capsys):
    """Unknown profile, design or invariant: one line listing the known ones, exit 2."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1


def test_bare_check_spec_matches_expected(tmp_path, capsys):
    """Bare check-spec checks every declared pair and exits 0 when all agree."""
    assert main(["--out", str(tmp_path)]) == 0
    assert "all verdicts as expected" in capsys.readouterr().out


def test_unwritable_out_fails_before_searching(tmp_path, capsys):
    """--out that cannot be written is refused up front, one line, exit 2."""
    blocker = tmp_path / "file"
    blocker.write_text("user data")
    assert main(["check", "--neighbours", "1", "--out", str(blocker)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"check-spec: error: --out '{blocker}': cannot write there")
    assert blocker.read_text() == "user data"


@pytest.mark.parametrize("argv", [["check", "--neighbours", "7"], ["nosuch"],
                                  ["check", "--regime", "huge"]])
def test_usage_errors_are_one_line(argv, capsys):
    """argparse errors are one line `check-spec: error: ...`, exit 2."""
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("check-spec: error: ") and err.count("\n") == 1
