"""Kernel harness: record TRACE_FORMAT v1 traces from the live Linux kernel.

``check-spec record`` drives the real neighbour (ARP) table of a throw-away
network namespace and writes what it did and saw as a trace
(``shared/TRACE_FORMAT.md``).  It runs as root and touches nothing but the
namespaces it creates itself.

Topology (``shared/traces/README.md``)
--------------------------------------
Every run makes its own namespaces, named ``nudh-<pid>-<random hex>-<role>``
so that two runs at once never collide::

    namespace nudh-<..>-dut                 namespace nudh-<..>-p1
    +------------------------------+        +-----------------------+
    | br0 10.77.0.1/24 (bridge)    |  veth  | peer1 (up, no IP)     |
    |   port p1 ------------------------------ AF_PACKET socket     |
    |   port p2 ------------+      |        +-----------------------+
    | UDP socket (tx)       |      |        namespace nudh-<..>-p2
    | RTNLGRP_NEIGH socket  +------------------ peer2 ... (same)
    +------------------------------+

* Neighbours ``N1..N4`` are 10.77.0.11 .. 10.77.0.14 (``N<i>`` is
  10.77.0.(10+i)); MACs ``M1``, ``M2`` are 02:00:00:00:00:01, ..:02
  (``M<j>`` is 02:00:00:00:00:<j>); ``target: other`` is 10.77.0.99; port
  ``P<k>`` is the bridge port ``p<k>``, whose veth peer ``peer<k>`` lives in
  its own namespace without an IP address, so the DUT never gets an answer
  the recorder did not craft.
* Neighbour sysctls of br0 are set exactly as the README lists
  (:data:`NEIGH_SYSCTLS`, :data:`CONF_SYSCTLS`) before br0 is brought up;
  everything else is the kernel default.

Events (what each TRACE_FORMAT event does on the kernel)
--------------------------------------------------------
* ``arp_rx``: an Ethernet+ARP frame built by :func:`arp_frame` is sent on an
  AF_PACKET socket bound to ``peer<k>`` (so it enters the DUT on ``p<k>``).
* ``tx``: one UDP datagram from a socket in the DUT to the neighbour, port 9.
* ``admin_add`` / ``admin_del``: RTM_NEWNEIGH with NLM_F_CREATE|NLM_F_EXCL
  (``ip neigh add``) or NLM_F_CREATE|NLM_F_REPLACE (``ip neigh replace``),
  RTM_DELNEIGH (``ip neigh del``).  A request the kernel refuses is recorded
  all the same (the error is ignored, as the trace format asks).
* ``flush``: like ``ip neigh flush dev br0``: dump, then RTM_DELNEIGH for
  every IPv4 entry of br0 that is not PERMANENT or NOARP (NONE included),
  repeated in rounds until a dump finds nothing to flush (at most 10 rounds,
  as iproute2 does).  Only IPv4 is flushed (iproute2 would flush IPv6
  entries of br0 too; they do not touch the ARP table).
* ``link_down`` / ``link_up``: br0 administratively down / up.
* ``sleep``: the recorder waits ``ms`` milliseconds (reading notifications).

Sockets inside a namespace are made by a short-lived child process that
enters the namespace (``setns``) and hands the socket back over a unix
socket (:func:`pyroute2.netns.create_socket`); a socket stays in the
namespace it was created in, so the recorder itself never changes namespace
and no long-lived child process exists.  Sysctls are written the same way
(a forked child that enters the DUT namespace and writes ``/proc/sys``).

How notifications are collected
-------------------------------
Before the first event a raw NETLINK_ROUTE socket in the DUT namespace joins
the RTNLGRP_NEIGH multicast group (``ip monitor neigh`` semantics) with an
8 MiB receive buffer.  The kernel appends every neighbour notification to
that one socket in the order it sends them, so reading it in order gives
kernel order; an overflow would be reported by the kernel as ENOBUFS, which
aborts the recording (nothing is ever silently lost).  Notifications that are
not IPv4 entries of br0 for a declared neighbour (IPv6 entries, the
224.0.0.22 multicast entry the IGMP code creates, 10.77.0.99) are skipped.

How the recorder knows the kernel has finished reacting
-------------------------------------------------------
Every action is synchronous up to a short softirq tail: netlink requests are
answered (ACK) after the kernel has queued their notifications; a frame sent
on the AF_PACKET socket crosses the veth and the bridge in the NET_RX softirq
that normally runs before ``send()`` returns (measured on Linux 6.18: the
notification of an ``arp_rx`` is already readable when ``send()`` returns);
a UDP ``send()`` performs the neighbour lookup (and entry creation) in the
calling context.  The quiet period covers the case where the softirq is
deferred to ksoftirqd under load.  The recorder
then reads notifications until a *quiet period* of :data:`QUIET_MS` ms passes
without a new one (for ``sleep`` events: the full sleep first, then the
quiet period).  After that it dumps the table for the observe records, and
reads the socket again for :data:`RECHECK_MS` ms: a notification arriving
there (a timer that fired during the dump) is appended and the dump is
repeated, so each observe reflects every notification recorded before it.
Timer-driven notifications (DELAY->PROBE, ->FAILED, REACHABLE->STALE, ...)
may still land after any event, which TRACE_FORMAT allows.

Safety
------
Namespaces are registered before they are created (with SIGINT/SIGTERM
blocked around the creation) and removed on every exit path: normal end,
exception, SIGINT and SIGTERM/SIGHUP (a handler raises
:class:`RecorderTerminated` so that ``finally`` blocks run; a forked helper
that receives one just exits).  Teardown deletes br0 and the veths, closes
every socket and unmounts/unlinks the namespace files, with the signals
blocked.

Entry points
------------
* ``check-spec record --seed S --steps K --out FILE [--neighbours N]``
* ``check-spec record --events TRACE --out FILE``
* ``python -m nudspec.checker.harness record ...`` (same options, for use
  before/without the main CLI).
"""

from __future__ import annotations

import argparse
import errno
import os
import random
import re
import secrets
import select
import signal
import socket
import struct
import sys
import time
from typing import Iterable, Sequence

from nudspec.checker.trace import (EVENT_KEYS, TraceError, header_record, read_trace,
                                   write_trace)

# --------------------------------------------------------------------------
# Topology and constants
# --------------------------------------------------------------------------

#: Prefix of every namespace name this module creates.
NETNS_PREFIX = "nudh"
BRIDGE = "br0"
DUT_IP = "10.77.0.1"
PREFIXLEN = 24
OTHER_IP = "10.77.0.99"
UDP_PORT = 9
BROADCAST_MAC = "ff:ff:ff:ff:ff:ff"
ZERO_MAC = "00:00:00:00:00:00"

#: net.ipv4.neigh.br0.* as the README of the stored traces lists them.
NEIGH_SYSCTLS = {
    "base_reachable_time_ms": "1000",
    "delay_first_probe_time": "1",
    "retrans_time_ms": "200",
    "gc_stale_time": "2",
    "locktime": "0",
    "ucast_solicit": "2",
    "mcast_solicit": "2",
    "app_solicit": "0",
}
#: net.ipv4.conf.br0.* (these are the kernel defaults, set explicitly).
CONF_SYSCTLS = {"arp_accept": "0", "arp_ignore": "0"}

#: Quiet period (ms) without a notification after which the kernel is taken
#: to have finished reacting to an event.
QUIET_MS = 120
#: How long (ms) the socket is read again after each table dump.
RECHECK_MS = 30
#: Upper bound (s) on the wait after an event, beyond its sleep; reached only
#: if notifications keep coming closer together than QUIET_MS.
SETTLE_CAP_S = 5.0
#: Receive buffer of the notification socket.
MONITOR_RCVBUF = 8 << 20

NUD_BY_VALUE = {0x00: "NONE", 0x01: "INCOMPLETE", 0x02: "REACHABLE",
                0x04: "STALE", 0x08: "DELAY", 0x10: "PROBE", 0x20: "FAILED",
                0x40: "NOARP", 0x80: "PERMANENT"}
NUD_BY_NAME = {v: k for k, v in NUD_BY_VALUE.items()}
#: States ``ip neigh flush`` leaves alone.
FLUSH_KEEP = NUD_BY_NAME["PERMANENT"] | NUD_BY_NAME["NOARP"]
FLUSH_MAX_ROUNDS = 10  # iproute2's MAX_ROUNDS

RTM_NEWNEIGH = 28
RTM_DELNEIGH = 29
RTMGRP_NEIGH = 0x4
NLMSG_ERROR = 0x2
NLMSG_OVERRUN = 0x4
ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
ARPOP_REQUEST = 1
ARPOP_REPLY = 2

#: Random scenario vocabulary: event kinds and their relative weights.
EVENT_WEIGHTS = {"arp_rx": 40, "tx": 18, "sleep": 11, "admin_add": 9,
                 "admin_del": 7, "flush": 5, "link_down": 5, "link_up": 5}
SLEEP_CHOICES_MS = (300, 800, 1500, 3000)
ADMIN_NUDS = ("PERMANENT", "REACHABLE", "STALE", "NOARP")
MAX_NEIGHBOURS = 4

EXIT_ERROR = 2          # environment / usage / bad input
EXIT_FAILED = 1         # the recording itself failed
EXIT_SIGINT = 128 + signal.SIGINT
EXIT_SIGTERM = 128 + signal.SIGTERM


class HarnessError(RuntimeError):
    """A recording that cannot be made; ``str()`` is a one-line reason and
    ``exit_code`` the exit status ``record`` returns for it."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED):
        super().__init__(message)
        self.exit_code = exit_code


class RecorderTerminated(BaseException):
    """Raised by the signal handler (SIGTERM, SIGINT, SIGHUP) so that every
    ``finally`` block runs.  A BaseException, so library code catching
    ``Exception`` does not swallow it."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


# --------------------------------------------------------------------------
# Symbols
# --------------------------------------------------------------------------

def neigh_ip(key: str) -> str:
    """IPv4 address of neighbour symbol ``N<i>`` (1 <= i <= 80): 10.77.0.(10+i)."""
    m = re.fullmatch(r"N([1-9][0-9]?)", key)
    if not m or not 1 <= int(m.group(1)) <= 80:
        raise HarnessError(f"neighbour symbol {key!r} is not N1..N80 "
                           "(the harness maps N<i> to 10.77.0.(10+i))", EXIT_ERROR)
    return f"10.77.0.{10 + int(m.group(1))}"


def mac_address(sym: str) -> str:
    """MAC address of symbol ``M<j>`` (1 <= j <= 255): 02:00:00:00:00:<j>."""
    m = re.fullmatch(r"M([1-9][0-9]{0,2})", sym)
    if not m or not 1 <= int(m.group(1)) <= 255:
        raise HarnessError(f"MAC symbol {sym!r} is not M1..M255 "
                           "(the harness maps M<j> to 02:00:00:00:00:<j>)", EXIT_ERROR)
    return "02:00:00:00:00:%02x" % int(m.group(1))


def port_index(sym: str) -> int:
    """Number ``k`` of port symbol ``P<k>`` (1 <= k <= 8): bridge port ``p<k>``."""
    m = re.fullmatch(r"P([1-8])", sym)
    if not m:
        raise HarnessError(f"port symbol {sym!r} is not P1..P8", EXIT_ERROR)
    return int(m.group(1))


def mac_bytes(mac: str) -> bytes:
    """``'aa:bb:..'`` -> 6 bytes."""
    return bytes(int(x, 16) for x in mac.split(":"))


def nud_name(state: int) -> str:
    """NUD state value -> the name ``ip neigh`` prints (``NONE`` for 0)."""
    try:
        return NUD_BY_VALUE[state]
    except KeyError:
        raise HarnessError(f"kernel reported NUD state 0x{state:x}, "
                           "which is not a single known state") from None


# --------------------------------------------------------------------------
# ARP frame builder
# --------------------------------------------------------------------------

def arp_frame(op: int, eth_dst: bytes, eth_src: bytes, sha: bytes, spa: str,
              tha: bytes, tpa: str) -> bytes:
    """An Ethernet II frame carrying an ARP packet (RFC 826, IPv4 over Ethernet).

    Layout (network byte order), padded with zeros to the 60-byte Ethernet
    minimum::

        eth:  dst(6) src(6) type(2)=0x0806
        arp:  htype(2)=1 ptype(2)=0x0800 hlen(1)=6 plen(1)=4 op(2)
              sha(6) spa(4) tha(6) tpa(4)

    ``op`` is 1 (request) or 2 (reply); MACs are 6-byte strings, protocol
    addresses dotted-quad strings.
    """
    eth = struct.pack("!6s6sH", eth_dst, eth_src, ETH_P_ARP)
    arp = struct.pack("!HHBBH6s4s6s4s", 1, ETH_P_IP, 6, 4, op,
                      sha, socket.inet_aton(spa), tha, socket.inet_aton(tpa))
    return (eth + arp).ljust(60, b"\0")


def arp_rx_frame(event: dict, br_mac: str) -> bytes:
    """The frame for an ``arp_rx`` event (README of the stored traces):
    sender = (neighbour IP, ``sha``), Ethernet source = ``sha``; Ethernet
    destination br0's MAC (unicast) or broadcast; target IP 10.77.0.1
    (local) or 10.77.0.99 (other); target MAC br0's MAC for replies, zeros
    for requests."""
    sha = mac_bytes(mac_address(event["sha"]))
    op = ARPOP_REPLY if event["op"] == "reply" else ARPOP_REQUEST
    eth_dst = mac_bytes(br_mac if event["dst"] == "unicast" else BROADCAST_MAC)
    tha = mac_bytes(br_mac if op == ARPOP_REPLY else ZERO_MAC)
    tpa = DUT_IP if event["target"] == "local" else OTHER_IP
    return arp_frame(op, eth_dst, sha, sha, neigh_ip(event["neigh"]), tha, tpa)


# --------------------------------------------------------------------------
# Random scenarios
# --------------------------------------------------------------------------

def random_event(rng: random.Random, keys: Sequence[str], macs: Sequence[str],
                 ports: Sequence[str]) -> dict:
    """Draw one event record of the TRACE_FORMAT vocabulary from ``rng``."""
    kind = rng.choices(list(EVENT_WEIGHTS), weights=list(EVENT_WEIGHTS.values()))[0]
    ev: dict = {"kind": "event", "event": kind}
    if kind == "arp_rx":
        ev.update(neigh=rng.choice(keys), op=rng.choice(("request", "reply")),
                  dst=rng.choice(("unicast", "broadcast")), sha=rng.choice(macs),
                  target=rng.choice(("local", "other")), port=rng.choice(ports))
    elif kind == "tx" or kind == "admin_del":
        ev.update(neigh=rng.choice(keys))
    elif kind == "admin_add":
        ev.update(neigh=rng.choice(keys), nud=rng.choice(ADMIN_NUDS),
                  lladdr=rng.choice(macs), replace=rng.choice((True, False)))
    elif kind == "sleep":
        ev.update(ms=rng.choice(SLEEP_CHOICES_MS))
    return ev


def random_events(seed: int, steps: int, keys: Sequence[str], macs: Sequence[str],
                  ports: Sequence[str]) -> list[dict]:
    """The ``steps`` events of scenario ``seed`` (drawn from ``random.Random(seed)``
    only, so the scenario does not depend on what the kernel does)."""
    rng = random.Random(seed)
    return [random_event(rng, keys, macs, ports) for _ in range(steps)]


# --------------------------------------------------------------------------
# Signals
# --------------------------------------------------------------------------

_HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_owner_pid = 0
_pending_signal = 0


def _on_signal(signum, _frame):
    global _pending_signal
    if os.getpid() != _owner_pid:
        # A forked helper (pyroute2 child) inherited this handler: never let
        # it unwind the recorder's stack (and run its clean-up) in the child.
        os._exit(128 + signum)
    # Remembered as well as raised: an exception raised where Python ignores
    # exceptions (e.g. inside os.fork()'s after-fork hooks) would otherwise
    # be lost; check_signal() raises it again at the next safe point.
    _pending_signal = signum
    raise RecorderTerminated(signum)


def check_signal() -> None:
    """Raise :class:`RecorderTerminated` if a handled signal has arrived."""
    if _pending_signal:
        raise RecorderTerminated(_pending_signal)


def _quiet_unraisable(unraisable) -> None:
    # The handler may fire inside a hook whose exceptions Python only prints
    # as "Exception ignored in ..."; check_signal() takes care of those.
    if not isinstance(unraisable.exc_value, RecorderTerminated):
        sys.__unraisablehook__(unraisable)


def _install_signal_handlers() -> dict:
    global _owner_pid, _pending_signal
    _owner_pid = os.getpid()
    _pending_signal = 0
    old = {"unraisablehook": sys.unraisablehook}
    sys.unraisablehook = _quiet_unraisable
    for sig in _HANDLED_SIGNALS:
        try:
            old[sig] = signal.signal(sig, _on_signal)
        except ValueError:  # not the main thread: leave signals alone
            break
    return old


def _restore_signal_handlers(old: dict) -> None:
    sys.unraisablehook = old.pop("unraisablehook")
    for sig, handler in old.items():
        signal.signal(sig, handler)


class _SignalsBlocked:
    """Context manager: SIGINT/SIGTERM/SIGHUP are held pending inside."""

    def __enter__(self):
        self._old = signal.pthread_sigmask(signal.SIG_BLOCK, _HANDLED_SIGNALS)
        return self

    def __exit__(self, *exc):
        signal.pthread_sigmask(signal.SIG_SETMASK, self._old)
        return False


# --------------------------------------------------------------------------
# Helpers running in a namespace
# --------------------------------------------------------------------------

def _sysctl_child(nsname: str, items: list) -> bytes:
    """Runs in a forked child: enter ``nsname`` and write ``/proc/sys`` there."""
    from pyroute2 import netns
    netns.setns(nsname, flags=0, fork=False)
    for rel, value in items:
        path = "/proc/sys/" + rel
        with open(path, "w") as fh:
            fh.write(value)
        with open(path) as fh:
            got = fh.read().strip()
        if got != value:
            raise OSError(errno.EIO, f"{path} reads {got!r} after writing {value!r}")
    return b""


def write_sysctls(nsname: str, items: dict) -> None:
    """Write sysctls (``{'net/ipv4/...': value}``) inside namespace ``nsname``
    through a forked helper, and check that they read back."""
    from pyroute2.process import ChildProcess
    with ChildProcess(target=_sysctl_child, args=[nsname, list(items.items())]) as proc:
        proc.communicate(timeout=10)


def ns_socket(nsname: str, family: int, kind: int, proto: int = 0) -> socket.socket:
    """A socket created inside namespace ``nsname`` (never creates the namespace)."""
    from pyroute2 import netns
    return netns.create_socket(nsname, family, kind, proto, flags=0)


# --------------------------------------------------------------------------
# Pre-flight
# --------------------------------------------------------------------------

def preflight() -> str | None:
    """Why ``record`` cannot run here (one line), or None if it can."""
    if os.geteuid() != 0:
        return ("record must run as root: it creates network namespaces, a bridge, "
                "veth links and raw sockets")
    if not os.path.exists("/proc/self/ns/net"):
        return "this kernel has no network namespace support (/proc/self/ns/net is missing)"
    if not hasattr(socket, "AF_PACKET"):
        return "this platform has no AF_PACKET sockets"
    try:
        import pyroute2  # noqa: F401
    except ImportError as exc:
        return f"pyroute2 is not installed ({exc})"
    return None


# --------------------------------------------------------------------------
# The lab: namespaces, links, sockets
# --------------------------------------------------------------------------

class Lab:
    """The namespaces, links and sockets of one recording run.

    Use as a context manager: ``__enter__`` builds the topology (see the
    module docstring), ``__exit__`` (always) tears down everything this
    object created and nothing else.
    """

    def __init__(self, keys: Sequence[str], macs: Sequence[str], ports: Sequence[str],
                 quiet_ms: int = QUIET_MS):
        self.keys = list(keys)
        self.macs = list(macs)
        self.ports = list(ports)
        self.quiet = quiet_ms / 1000.0
        self.ip_of = {k: neigh_ip(k) for k in self.keys}
        self.key_of_ip = {ip: k for k, ip in self.ip_of.items()}
        self.mac_of = {m: mac_address(m) for m in self.macs}
        self.sym_of_mac = {mac: m for m, mac in self.mac_of.items()}
        self.port_no = {p: port_index(p) for p in self.ports}
        if len(set(self.ip_of.values())) != len(self.keys):
            raise HarnessError("two neighbour symbols map to one address", EXIT_ERROR)
        self.tag = f"{NETNS_PREFIX}-{os.getpid()}-{secrets.token_hex(3)}"
        self.dut_ns = f"{self.tag}-dut"
        self.peer_ns = {p: f"{self.tag}-p{k}" for p, k in self.port_no.items()}
        self.created: list[str] = []   # namespaces we made (to remove)
        self.ipr = None                 # pyroute2 IPRoute in the DUT namespace
        self.br_index = 0
        self.br_mac = ""
        self.monitor: socket.socket | None = None
        self.udp: socket.socket | None = None
        self.pkt: dict[str, socket.socket] = {}
        self._pid = os.getpid()         # close() does nothing in a forked child

    # -- set-up ------------------------------------------------------------

    def __enter__(self) -> "Lab":
        try:
            self._setup()
            check_signal()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> bool:
        self.close()
        return False

    def _create_netns(self, name: str) -> None:
        from pyroute2 import netns
        path = os.path.join(netns.NETNS_RUN_DIR, name)
        if os.path.lexists(path):
            raise HarnessError(f"namespace {name} exists already; not touching it",
                               EXIT_ERROR)
        with _SignalsBlocked():
            self.created.append(name)
            try:
                netns.create(name)
            except Exception as exc:
                raise HarnessError(f"cannot create network namespace {name}: {exc}",
                                   EXIT_ERROR) from exc

    def _setup(self) -> None:
        from pyroute2 import IPRoute
        from pyroute2.netlink.exceptions import NetlinkError

        self._create_netns(self.dut_ns)
        for p in self.ports:
            self._create_netns(self.peer_ns[p])
        try:
            self.ipr = ipr = IPRoute(netns=self.dut_ns, flags=0, groups=0)
            ipr.link("add", ifname=BRIDGE, kind="bridge")
        except NetlinkError as exc:
            raise HarnessError(f"cannot create bridge {BRIDGE} ({exc}); "
                               "is the bridge module available?", EXIT_ERROR) from exc
        self.br_index = ipr.link_lookup(ifname=BRIDGE)[0]
        sysctls = {f"net/ipv4/neigh/{BRIDGE}/{k}": v for k, v in NEIGH_SYSCTLS.items()}
        sysctls.update({f"net/ipv4/conf/{BRIDGE}/{k}": v for k, v in CONF_SYSCTLS.items()})
        try:
            write_sysctls(self.dut_ns, sysctls)
        except Exception as exc:
            raise HarnessError(f"cannot set the sysctls of {BRIDGE}: {exc}", EXIT_ERROR) from exc

        for p, k in self.port_no.items():
            port, peer = f"p{k}", f"peer{k}"
            try:
                ipr.link("add", ifname=port, kind="veth", peer=peer)
            except NetlinkError as exc:
                raise HarnessError(f"cannot create veth {port} ({exc})", EXIT_ERROR) from exc
            ipr.link("set", index=ipr.link_lookup(ifname=peer)[0], net_ns_fd=self.peer_ns[p])
            ipr.link("set", index=ipr.link_lookup(ifname=port)[0], master=self.br_index,
                     state="up")
            with IPRoute(netns=self.peer_ns[p], flags=0, groups=0) as pipr:
                pipr.link("set", index=pipr.link_lookup(ifname=peer)[0], state="up")
            sock = ns_socket(self.peer_ns[p], socket.AF_PACKET, socket.SOCK_RAW, 0)
            self.pkt[p] = sock
            sock.bind((peer, 0))
        ipr.addr("add", index=self.br_index, address=DUT_IP, prefixlen=PREFIXLEN)
        ipr.link("set", index=self.br_index, state="up")
        self.br_mac = ipr.link("get", index=self.br_index)[0].get("IFLA_ADDRESS")
        if self.br_mac in self.sym_of_mac:
            raise HarnessError(f"{BRIDGE} got MAC {self.br_mac}, which is a trace symbol")

        self.udp = ns_socket(self.dut_ns, socket.AF_INET, socket.SOCK_DGRAM, 0)
        self.monitor = ns_socket(self.dut_ns, socket.AF_NETLINK, socket.SOCK_RAW, 0)
        try:
            self.monitor.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33),
                                    MONITOR_RCVBUF)
        except OSError:
            self.monitor.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, MONITOR_RCVBUF)
        self.monitor.bind((0, RTMGRP_NEIGH))

        # Wait until the bridge forwards (br0 has carrier), then discard what
        # set-up caused (e.g. the 224.0.0.22 entry IGMP makes).
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            link = ipr.link("get", index=self.br_index)[0]
            if link.get("IFLA_OPERSTATE") == "UP":
                break
            time.sleep(0.02)
        else:
            raise HarnessError(f"{BRIDGE} did not come up within 5 s", EXIT_ERROR)
        self.collect(0.0)
        leftovers = [k for k, v in self.snapshot().items() if v is not None]
        if leftovers:
            raise HarnessError(f"fresh namespace already has entries for {leftovers}")

    # -- tear-down ---------------------------------------------------------

    def close(self) -> None:
        """Remove everything this lab created; safe to call more than once,
        and on a half-built lab.  Signals are held pending meanwhile."""
        from pyroute2 import netns
        if os.getpid() != getattr(self, "_pid", os.getpid()):
            return
        with _SignalsBlocked():
            socks = [self.monitor, self.udp, *self.pkt.values()]
            self.monitor, self.udp, self.pkt = None, None, {}
            for sock in socks:
                if sock is not None:
                    sock.close()
            if self.ipr is not None:
                ipr, self.ipr = self.ipr, None
                # Deleting p<k> deletes its peer too; the bridge goes last.
                for name in [f"p{k}" for k in self.port_no.values()] + [BRIDGE]:
                    try:
                        for idx in ipr.link_lookup(ifname=name):
                            ipr.link("del", index=idx)
                    except Exception:
                        pass
                try:
                    ipr.close()
                except Exception:
                    pass
            while self.created:
                name = self.created.pop()
                try:
                    netns.remove(name)
                except FileNotFoundError:
                    pass
                except Exception as exc:  # keep going; report what is left
                    print(f"check-spec: warning: could not remove namespace {name}: {exc}",
                          file=sys.stderr)

    # -- notifications -----------------------------------------------------

    def _read_pending(self) -> list[dict]:
        """Read every datagram queued on the monitor socket (non-blocking) and
        return the notify records among them, in order."""
        out: list[dict] = []
        while True:
            try:
                data = self.monitor.recv(1 << 20, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return out
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    raise HarnessError("neighbour notifications were lost (ENOBUFS on the "
                                       "RTNLGRP_NEIGH socket)") from None
                raise
            out.extend(self._parse(data))

    def _parse(self, data: bytes) -> Iterable[dict]:
        from pyroute2.netlink.rtnl.ndmsg import ndmsg
        off = 0
        while off + 16 <= len(data):
            length, mtype = struct.unpack_from("=IH", data, off)
            if length < 16:
                break
            chunk = data[off:off + length]
            off += (length + 3) & ~3
            if mtype in (NLMSG_ERROR, NLMSG_OVERRUN):
                raise HarnessError("netlink error/overrun message on the notification socket")
            if mtype not in (RTM_NEWNEIGH, RTM_DELNEIGH):
                continue
            msg = ndmsg(chunk)
            msg.decode()
            rec = self._neigh_record(msg)
            if rec is None:
                continue
            key, nud, lladdr = rec
            yield {"kind": "notify",
                   "msg": "RTM_NEWNEIGH" if mtype == RTM_NEWNEIGH else "RTM_DELNEIGH",
                   "neigh": key, "nud": nud, "lladdr": lladdr}

    def _neigh_record(self, msg) -> tuple[str, str, str | None] | None:
        """(symbol, nud name, MAC symbol or None) of an ndmsg, or None if it is
        not an IPv4 entry of br0 for a declared neighbour."""
        if msg["family"] != socket.AF_INET or msg["ifindex"] != self.br_index:
            return None
        key = self.key_of_ip.get(msg.get_attr("NDA_DST"))
        if key is None:
            return None
        lladdr = msg.get_attr("NDA_LLADDR")
        if lladdr is not None:
            lladdr = lladdr.lower()
            if lladdr not in self.sym_of_mac:
                raise HarnessError(f"kernel reports {key} ({self.ip_of[key]}) with MAC "
                                   f"{lladdr}, which is not a declared MAC symbol "
                                   f"({', '.join(f'{s}={m}' for s, m in self.mac_of.items())})")
            lladdr = self.sym_of_mac[lladdr]
        return key, nud_name(msg["state"]), lladdr

    def collect(self, min_wait: float) -> list[dict]:
        """Notify records arriving from now until ``min_wait`` seconds have
        passed *and* the socket has been quiet for the quiet period (capped
        at SETTLE_CAP_S beyond ``min_wait``)."""
        start = time.monotonic()
        end_min = start + min_wait
        cap = end_min + SETTLE_CAP_S
        last = start
        out = self._read_pending()
        while True:
            check_signal()
            now = time.monotonic()
            until = min(max(end_min, last + self.quiet), cap)
            if now >= until:
                return out
            ready, _, _ = select.select([self.monitor], [], [], until - now)
            if ready:
                got = self._read_pending()
                if got:
                    out.extend(got)
                last = time.monotonic()

    # -- observation -------------------------------------------------------

    def snapshot(self) -> dict[str, tuple[str, str | None] | None]:
        """Dump br0's IPv4 neighbours (all NUD states): symbol -> (nud, MAC
        symbol) or None if absent."""
        snap: dict = {k: None for k in self.keys}
        for msg in self.ipr.neigh("dump", family=socket.AF_INET):
            rec = self._neigh_record(msg)
            if rec is not None:
                snap[rec[0]] = (rec[1], rec[2])
        return snap

    def observe(self) -> tuple[list[dict], list[dict]]:
        """(late notify records, observe records): dump the table, then read
        the socket for RECHECK_MS; if a notification came meanwhile, keep it
        and dump again, so that the observes follow every notification."""
        late: list[dict] = []
        for _ in range(20):
            snap = self.snapshot()
            time.sleep(RECHECK_MS / 1000.0)
            more = self._read_pending()
            if not more:
                break
            late.extend(more)
        else:
            raise HarnessError("the neighbour table did not settle for an observe")
        obs = []
        for k in self.keys:
            entry = snap[k]
            if entry is None:
                obs.append({"kind": "observe", "neigh": k, "present": False})
            else:
                obs.append({"kind": "observe", "neigh": k, "present": True,
                            "nud": entry[0], "lladdr": entry[1]})
        return late, obs

    # -- events --------------------------------------------------------------

    def apply(self, ev: dict) -> None:
        """Do event ``ev`` (a TRACE_FORMAT event record) on the kernel.
        Refusals by the kernel (netlink errors, unreachable sends) are ignored."""
        from pyroute2.netlink.exceptions import NetlinkError
        kind = ev["event"]
        if kind == "arp_rx":
            self.pkt[ev["port"]].send(arp_rx_frame(ev, self.br_mac))
        elif kind == "tx":
            try:
                self.udp.sendto(b"nudspec", socket.MSG_DONTWAIT,
                                (self.ip_of[ev["neigh"]], UDP_PORT))
            except OSError:
                pass  # e.g. ENETUNREACH while br0 is down
        elif kind == "admin_add":
            try:
                self.ipr.neigh("replace" if ev["replace"] else "add",
                               dst=self.ip_of[ev["neigh"]], ifindex=self.br_index,
                               lladdr=self.mac_of[ev["lladdr"]],
                               state=NUD_BY_NAME[ev["nud"]])
            except NetlinkError:
                pass
        elif kind == "admin_del":
            try:
                self.ipr.neigh("del", dst=self.ip_of[ev["neigh"]], ifindex=self.br_index)
            except NetlinkError:
                pass
        elif kind == "flush":
            self.flush()
        elif kind in ("link_down", "link_up"):
            self.ipr.link("set", index=self.br_index,
                          state="down" if kind == "link_down" else "up")
        elif kind == "sleep":
            pass  # the wait happens in collect()
        else:  # read_trace rejects unknown events before we get here
            raise HarnessError(f"unknown event {kind!r}")

    def flush(self) -> None:
        """``ip neigh flush dev br0`` (IPv4): rounds of dump + RTM_DELNEIGH for
        every entry not PERMANENT/NOARP, until a round finds nothing."""
        from pyroute2.netlink.exceptions import NetlinkError
        for _ in range(FLUSH_MAX_ROUNDS):
            victims = [m.get_attr("NDA_DST")
                       for m in self.ipr.neigh("dump", family=socket.AF_INET)
                       if m["ifindex"] == self.br_index and not m["state"] & FLUSH_KEEP]
            if not victims:
                return
            for dst in victims:
                try:
                    self.ipr.neigh("del", dst=dst, ifindex=self.br_index)
                except NetlinkError:
                    pass

    def step(self, ev: dict) -> list[dict]:
        """Apply ``ev`` and return its records: the event, the notifications,
        the observes of every neighbour."""
        check_signal()
        self.apply(ev)
        wait = ev["ms"] / 1000.0 if ev["event"] == "sleep" else 0.0
        notes = self.collect(wait)
        late, obs = self.observe()
        return [ev, *notes, *late, *obs]


# --------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------

def normalise_event(ev: dict) -> dict:
    """The event record as written: ``kind``, ``event``, then the event's keys
    in TRACE_FORMAT order (unknown extra keys of a replayed trace dropped)."""
    name = ev["event"]
    return {"kind": "event", "event": name, **{k: ev[k] for k in EVENT_KEYS[name]}}


def kernel_source() -> str:
    """The header's ``source``: ``"linux " + uname release``."""
    return "linux " + os.uname().release


def record(events: Sequence[dict], keys: Sequence[str], macs: Sequence[str],
           ports: Sequence[str], seed=None, quiet_ms: int = QUIET_MS,
           progress=None) -> list[dict]:
    """Build a fresh lab, apply ``events`` in order and return the trace
    records (header first).  ``progress(i, n)``, if given, is called before
    each event.  Everything the lab created is removed before returning."""
    records = [header_record(kernel_source(), keys, macs, ports, seed)]
    with Lab(keys, macs, ports, quiet_ms=quiet_ms) as lab:
        for i, ev in enumerate(events):
            if progress is not None:
                progress(i, len(events))
            ev = normalise_event(ev)
            records.extend(lab.step(ev))
    return records


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def _error(message: str) -> None:
    print(f"check-spec: error: {message}", file=sys.stderr)


MAX_SLEEP_MS = 600_000


def _unwritable(out: str) -> str | None:
    """Why the trace could not be written to ``out`` (checked before the
    lab is built, so no recording is lost), or None."""
    path = os.path.abspath(out)
    if os.path.isdir(path):
        return "is a directory"
    parent = os.path.dirname(path)
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        return f"cannot create {parent} ({exc.strerror})"
    if not os.access(parent, os.W_OK):
        return f"cannot write into {parent}"
    try:
        os.statvfs(parent)
        probe = os.path.join(parent, f".check-spec-{os.getpid()}.tmp")
        with open(probe, "w"):
            pass
        os.unlink(probe)
    except OSError as exc:
        return f"cannot write into {parent} ({exc.strerror})"
    return None


def record_main(args: argparse.Namespace) -> int:
    """``check-spec record``: returns the exit status (0 ok, 1 recording
    failed, 2 bad usage/input or no root/netns, 128+signal if interrupted)."""
    why = preflight()
    if why:
        _error(why)
        return EXIT_ERROR
    events_path = getattr(args, "events", None)
    if events_path is not None:
        if args.seed is not None or args.steps is not None:
            _error("--events replays a trace; do not combine it with --seed/--steps")
            return EXIT_ERROR
        if os.path.exists(args.out) and _same_file(args.out, events_path):
            _error(f"--out {args.out} is the --events input; refusing to overwrite it")
            return EXIT_ERROR
        try:
            trace = read_trace(events_path)
        except TraceError as exc:
            _error(str(exc))
            return EXIT_ERROR
        h = trace.header
        keys, macs, ports, seed = list(h.keys), list(h.macs), list(h.ports), h.seed
        events = [dict(r.data) for r in trace.records if r.kind == "event"]
    else:
        if args.seed is None or args.steps is None:
            _error("give --seed S --steps K (random scenario) or --events TRACE (replay)")
            return EXIT_ERROR
        if args.steps < 0:
            _error("--steps must be >= 0")
            return EXIT_ERROR
        keys = [f"N{i}" for i in range(1, args.neighbours + 1)]
        macs, ports, seed = ["M1", "M2"], ["P1", "P2"], args.seed
        events = random_events(args.seed, args.steps, keys, macs, ports)

    too_long = [e for e in events if e.get("event") == "sleep" and e.get("ms", 0) > MAX_SLEEP_MS]
    if too_long:
        _error(f"sleep of {too_long[0]['ms']} ms is longer than the harness allows "
               f"({MAX_SLEEP_MS} ms)")
        return EXIT_ERROR
    if not 1 <= len(keys) <= 80:
        _error(f"{len(keys)} neighbours declared; the harness takes 1 to 80")
        return EXIT_ERROR
    why = _unwritable(args.out)
    if why:
        _error(f"--out {args.out}: {why}")
        return EXIT_ERROR

    verbose = getattr(args, "verbose", False)

    def progress(i, n):
        if verbose:
            print(f"record: event {i + 1}/{n}", file=sys.stderr, flush=True)

    old = _install_signal_handlers()
    try:
        records = record(events, keys, macs, ports, seed=seed,
                         quiet_ms=getattr(args, "quiet_ms", QUIET_MS), progress=progress)
        check_signal()
        write_trace(args.out, records)
    except RecorderTerminated as exc:
        name = signal.Signals(exc.signum).name
        _error(f"interrupted by {name}; namespaces removed, no trace written")
        return 128 + exc.signum
    except HarnessError as exc:
        _error(str(exc))
        return exc.exit_code
    except TraceError as exc:  # write_trace validation: a harness bug
        _error(f"recorded trace does not validate: {exc}")
        return EXIT_FAILED
    except OSError as exc:
        _error(f"--out {args.out}: cannot write the trace ({exc.strerror or exc})")
        return EXIT_ERROR
    finally:
        _restore_signal_handlers(old)
    print(f"record: {len(events)} events, {len(records)} records -> {args.out}",
          file=sys.stderr)
    return 0


def add_parser(subparsers) -> None:
    """Add the ``record`` subcommand to an argparse ``subparsers`` object."""
    p = subparsers.add_parser(
        "record",
        help="record a neighbour trace from the live kernel (root, netns)",
        description="Record a TRACE_FORMAT v1 trace from the live Linux kernel in "
                    "network namespaces of its own: either a random scenario "
                    "(--seed/--steps) or a replay of the events of a trace (--events).")
    p.add_argument("--seed", type=int, help="scenario seed (random.Random(SEED))")
    p.add_argument("--steps", type=int, help="number of random events")
    p.add_argument("--neighbours", type=int, default=2, choices=range(1, MAX_NEIGHBOURS + 1),
                   metavar="N", help="neighbours N1..N<N> (1-4, default 2)")
    p.add_argument("--events", metavar="TRACE",
                   help="replay the event records of TRACE instead of a random scenario")
    p.add_argument("--out", required=True, metavar="FILE", help="trace file to write")
    p.add_argument("--quiet-ms", type=int, default=QUIET_MS, help=argparse.SUPPRESS)
    p.add_argument("-v", "--verbose", action="store_true", help="print progress on stderr")
    p.set_defaults(func=record_main)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nudspec.checker.harness record ...``"""
    parser = argparse.ArgumentParser(prog="check-spec")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
