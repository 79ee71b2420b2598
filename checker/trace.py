"""Kernel traces: read and write TRACE_FORMAT v1 (``shared/TRACE_FORMAT.md``).

A trace is JSON Lines: a ``header`` record first and exactly once, then
``event``, ``notify`` and ``observe`` records.  Unknown extra keys are
ignored; everything else that is off (an unknown ``kind`` or ``event``, a
missing required key, a symbol the header does not declare, a bad ``v``, a
header that is not first or appears twice, a line that is not JSON) raises
:class:`TraceError`, whose message names the file and the line number.

Records are kept as plain dicts (after validation) together with their line
number, so a diagnosis can quote exactly what the user wrote.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

#: The state names ``ip neigh show nud all`` prints, as TRACE_FORMAT uses them.
NUD_NAMES = ("NONE", "INCOMPLETE", "REACHABLE", "STALE", "DELAY", "PROBE",
             "FAILED", "NOARP", "PERMANENT")

#: event name -> {key: validator kind}; validator kinds are resolved in _check_value.
EVENT_KEYS: dict[str, dict[str, str]] = {
    "arp_rx": {"neigh": "neigh", "op": "op", "dst": "dst", "sha": "mac",
               "target": "target", "port": "port"},
    "tx": {"neigh": "neigh"},
    "admin_add": {"neigh": "neigh", "nud": "nud", "lladdr": "mac", "replace": "bool"},
    "admin_del": {"neigh": "neigh"},
    "flush": {},
    "link_down": {},
    "link_up": {},
    "sleep": {"ms": "ms"},
}

NOTIFY_MSGS = ("RTM_NEWNEIGH", "RTM_DELNEIGH")


class TraceError(ValueError):
    """A trace that does not follow TRACE_FORMAT v1.

    ``str(err)`` is one line: ``FILE:LINE: what is wrong`` (``FILE: ...``
    when the problem is the whole file, ``line`` 0).
    """

    def __init__(self, path: str, line: int, message: str):
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Header:
    """The header record: declared symbols, source text and optional seed."""

    source: str
    keys: tuple[str, ...]
    macs: tuple[str, ...]
    ports: tuple[str, ...]
    seed: Any = None


@dataclass(frozen=True)
class Record:
    """One validated non-header record: ``data`` is the JSON object as read,
    ``line`` its 1-based line number in ``path``."""

    line: int
    data: dict = field(hash=False, compare=False)

    @property
    def kind(self) -> str:
        return self.data["kind"]

    def text(self) -> str:
        """The record as one compact JSON line (keys in the order read)."""
        return json.dumps(self.data)


@dataclass(frozen=True)
class Trace:
    """A whole trace: ``path`` (for messages), ``header``, ``records`` in file order."""

    path: str
    header: Header
    records: tuple[Record, ...]


def _check_value(path: str, lineno: int, header: Header, key: str, kind: str,
                 value: Any, what: str) -> None:
    def bad(expect: str) -> TraceError:
        return TraceError(path, lineno, f"{what}: key {key!r} is {value!r}, expected {expect}")

    if kind == "neigh":
        if value not in header.keys:
            raise bad(f"a neighbour declared in the header {list(header.keys)}")
    elif kind == "mac":
        if value not in header.macs:
            raise bad(f"a MAC declared in the header {list(header.macs)}")
    elif kind == "mac_or_null":
        if value is not None and value not in header.macs:
            raise bad(f"null or a MAC declared in the header {list(header.macs)}")
    elif kind == "port":
        if value not in header.ports:
            raise bad(f"a port declared in the header {list(header.ports)}")
    elif kind == "op":
        if value not in ("request", "reply"):
            raise bad("'request' or 'reply'")
    elif kind == "dst":
        if value not in ("unicast", "broadcast"):
            raise bad("'unicast' or 'broadcast'")
    elif kind == "target":
        if value not in ("local", "other"):
            raise bad("'local' or 'other'")
    elif kind == "nud":
        if value not in NUD_NAMES:
            raise bad(f"one of {list(NUD_NAMES)}")
    elif kind == "bool":
        if not isinstance(value, bool):
            raise bad("true or false")
    elif kind == "ms":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise bad("a non-negative integer")
    elif kind == "msg":
        if value not in NOTIFY_MSGS:
            raise bad(f"one of {list(NOTIFY_MSGS)}")
    else:  # pragma: no cover - table above is closed
        raise AssertionError(kind)


def _require(path: str, lineno: int, obj: dict, keys: Iterable[str], what: str) -> None:
    for key in keys:
        if key not in obj:
            raise TraceError(path, lineno, f"{what}: missing required key {key!r}")


def _symbols(path: str, lineno: int, obj: dict, key: str) -> tuple[str, ...]:
    value = obj[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TraceError(path, lineno, f"header: key {key!r} must be a list of strings")
    if len(set(value)) != len(value):
        raise TraceError(path, lineno, f"header: key {key!r} declares a symbol twice")
    return tuple(value)


def parse_lines(lines: Sequence[str], path: str = "<trace>") -> Trace:
    """Validate the lines of a trace and return it.

    ``lines`` are the file's lines (without or with trailing newlines); blank
    lines are skipped.  Raises :class:`TraceError` naming ``path`` and the
    1-based line number of the first problem.
    """
    header: Header | None = None
    records: list[Record] = []
    for lineno, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise TraceError(path, lineno, f"not JSON ({exc.msg})") from None
        except (ValueError, RecursionError) as exc:  # huge integers, deep nesting
            raise TraceError(path, lineno, f"not usable JSON ({type(exc).__name__}: "
                                           f"{str(exc).splitlines()[0][:80]})") from None
        if not isinstance(obj, dict):
            raise TraceError(path, lineno, "not a JSON object")
        if "kind" not in obj:
            raise TraceError(path, lineno, "missing required key 'kind'")
        kind = obj["kind"]
        if not isinstance(kind, str):
            raise TraceError(path, lineno, f"key 'kind' is {kind!r}, expected a string")
        if kind == "header":
            if header is not None:
                raise TraceError(path, lineno, "a second header (the header must appear exactly once)")
            if records:
                raise TraceError(path, lineno, "header is not the first record")
            _require(path, lineno, obj, ("v", "source", "keys", "macs", "ports"), "header")
            if type(obj["v"]) is not int or obj["v"] != 1:
                raise TraceError(path, lineno, f"header: unsupported version v={obj['v']!r} (only v=1 is known)")
            if not isinstance(obj["source"], str):
                raise TraceError(path, lineno, "header: key 'source' must be a string")
            header = Header(source=obj["source"],
                            keys=_symbols(path, lineno, obj, "keys"),
                            macs=_symbols(path, lineno, obj, "macs"),
                            ports=_symbols(path, lineno, obj, "ports"),
                            seed=obj.get("seed"))
            continue
        if header is None:
            raise TraceError(path, lineno, "the first record must be the header")
        if kind == "event":
            _require(path, lineno, obj, ("event",), "event")
            name = obj["event"]
            if not isinstance(name, str) or name not in EVENT_KEYS:
                raise TraceError(path, lineno,
                                 f"unknown event {name!r} (known: {', '.join(EVENT_KEYS)})")
            spec = EVENT_KEYS[name]
            _require(path, lineno, obj, spec, f"event {name}")
            for key, vkind in spec.items():
                _check_value(path, lineno, header, key, vkind, obj[key], f"event {name}")
        elif kind == "notify":
            _require(path, lineno, obj, ("msg", "neigh", "nud", "lladdr"), "notify")
            for key, vkind in (("msg", "msg"), ("neigh", "neigh"), ("nud", "nud"),
                               ("lladdr", "mac_or_null")):
                _check_value(path, lineno, header, key, vkind, obj[key], "notify")
        elif kind == "observe":
            _require(path, lineno, obj, ("neigh", "present"), "observe")
            _check_value(path, lineno, header, "neigh", "neigh", obj["neigh"], "observe")
            _check_value(path, lineno, header, "present", "bool", obj["present"], "observe")
            if obj["present"]:
                _require(path, lineno, obj, ("nud", "lladdr"), "observe")
                _check_value(path, lineno, header, "nud", "nud", obj["nud"], "observe")
                _check_value(path, lineno, header, "lladdr", "mac_or_null", obj["lladdr"], "observe")
        else:
            raise TraceError(path, lineno,
                             f"unknown kind {kind!r} (known: header, event, notify, observe)")
        records.append(Record(lineno, obj))
    if header is None:
        raise TraceError(path, 1, "empty trace: no header")
    return Trace(path=path, header=header, records=tuple(records))


def read_trace(path: str | Path) -> Trace:
    """Read and validate the trace file at ``path``.

    Raises :class:`TraceError` for a malformed trace, and for a file that
    cannot be read or is not UTF-8 (line 0 then stands for the whole file).
    """
    p = str(path)
    try:
        with open(p, encoding="utf-8") as fh:
            lines = fh.read().split("\n")
    except UnicodeDecodeError as exc:
        raise TraceError(p, 0, f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise TraceError(p, 0, f"cannot read: {exc.strerror}") from None
    return parse_lines(lines, p)


def header_record(source: str, keys: Sequence[str], macs: Sequence[str],
                  ports: Sequence[str], seed: Any = None) -> dict:
    """A header record as a dict, in the key order TRACE_FORMAT shows."""
    rec = {"v": 1, "kind": "header", "source": source, "keys": list(keys),
           "macs": list(macs), "ports": list(ports)}
    if seed is not None:
        rec["seed"] = seed
    return rec


def write_trace(path: str | Path, records: Iterable[dict]) -> Path:
    """Write ``records`` (header first) as JSON Lines to ``path``; returns the path.

    The written file is read back with :func:`parse_lines`, so a writer bug
    surfaces as :class:`TraceError` instead of a file the reader rejects later.
    """
    lines = [json.dumps(r) for r in records]
    parse_lines(lines, str(path))
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p
