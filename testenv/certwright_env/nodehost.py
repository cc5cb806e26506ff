"""What a real node changes on the machine, written down before it changes it, and undone afterwards.

The kubelet, kube-proxy and containerd reach outside their run folder: a bridge and its route,
sysctls, iptables chains in both IP families, nfacct counters, conntrack entries, ``/kubepods``
cgroups, mounts, container processes held by containerd's shims (which outlive containerd), and a
few fixed paths. One node runs per machine, under a lock beside the environments' address locks; before it
touches anything it writes ``/run/certwright-node.json`` (the sysctls as they were, which fixed paths
were absent, its folder). ``clear`` undoes all of it from that record. It runs when the node stops,
and when the next node starts and finds a record whose writer is gone (a test run killed with
SIGKILL), so the machine ends as it was found either way.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

LOCK = Path(tempfile.gettempdir()) / "certwright-env-locks" / "node.lock"  # beside the address locks
RECORD = Path("/run/certwright-node.json")
BRIDGE = "cw-node0"
SUBNET = "10.244.0.0/24"
GATEWAY = "10.244.0.1"
SERVICE_SUBNET = "10.0.0.0/24"
FORWARD_CHAIN = "CERTWRIGHT-NODE"
# Changed by the kubelet (its kernel defaults), by us (forwarding between Pods through Services) and,
# were its flags to change, by kube-proxy; recorded all the same.
SYSCTLS = (
    "vm.overcommit_memory",
    "kernel.panic",
    "kernel.panic_on_oops",
    "net.ipv4.ip_forward",
    "net.bridge.bridge-nf-call-iptables",
    "net.ipv4.conf.all.route_localnet",
    "net.netfilter.nf_conntrack_max",
    "net.netfilter.nf_conntrack_tcp_timeout_established",
    "net.netfilter.nf_conntrack_tcp_timeout_close_wait",
)
# Paths the kubelet, containerd's shims and the CNI library use whatever their configuration says.
FIXED_PATHS = (
    "/run/containerd",
    "/var/lib/cni",
    "/var/lib/kubelet",
    "/var/log/containers",
    "/var/log/pods",
    "/etc/cni",
    "/opt/cni",
)
NFACCT_COUNTERS = ("ct_state_invalid_dropped_pkts", "localhost_nps_accepted_pkts")
CGROUP_ROOTS = ("kubepods", "k8s.io")
TOOLS = ("containerd", "containerd-shim-runc-v2", "ctr", "runc", "ip", "iptables", "ip6tables", "conntrack", "nfacct")
CNI_PLUGINS = Path("/usr/lib/cni")
_MNT_DETACH = 2


@dataclass
class Record:
    """What the node found before it changed anything."""

    owner: int
    folder: str
    kube_proxy: str
    sysctls: dict[str, str] = field(default_factory=dict)
    absent_paths: list[str] = field(default_factory=list)

    def save(self) -> None:
        RECORD.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls) -> Record | None:
        try:
            return cls(**json.loads(RECORD.read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return None


def unavailable() -> str | None:
    """None when a real node can run here; else the reason, in a few words."""
    if os.environ.get("CERTWRIGHT_NODE", "1") == "0":
        return "turned off with CERTWRIGHT_NODE=0"
    if os.geteuid() != 0:
        return "not root (containers need namespaces, cgroups, mounts and iptables)"
    if not Path("/sys/fs/cgroup/memory").is_dir() and not Path("/sys/fs/cgroup/cgroup.controllers").exists():
        return "no memory cgroup at /sys/fs/cgroup"
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if not (CNI_PLUGINS / "bridge").exists():
        missing.append(f"{CNI_PLUGINS}/bridge")
    if missing:
        return f"{', '.join(missing)} missing (scripts/system-deps.sh installs them)"
    if not Path("/proc/sys/net/bridge").is_dir():
        return "no br_netfilter (net.bridge.* sysctls) in this kernel"
    return None


def claim() -> tuple[IO[str] | None, str | None]:
    """The machine's node lock, or why not: it is held by another environment."""
    LOCK.parent.mkdir(exist_ok=True)
    handle = LOCK.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        holder = Record.load()
        who = f" (pid {holder.owner}, {holder.folder})" if holder else ""
        return None, f"the machine's one real node is in use by another environment{who}"
    return handle, None


def conflicts() -> str | None:
    """Why this machine's network is not ours to change (checked after leftovers are cleared)."""
    for family in ("iptables", "ip6tables"):
        for table in ("filter", "nat", "mangle"):
            chains = [c for c in _chains(family, table) if c.startswith("KUBE-") or c == FORWARD_CHAIN]
            if chains:
                return f"{family} table {table} already has {', '.join(chains[:3])} (another Kubernetes node here?)"
    routes = subprocess.run(["ip", "-4", "-j", "route", "show"], capture_output=True, text=True, check=True).stdout
    ours = ipaddress.ip_network(SUBNET)
    services = ipaddress.ip_network(SERVICE_SUBNET)
    for route in json.loads(routes or "[]"):
        destination = route.get("dst", "")
        if destination == "default" or route.get("dev") == BRIDGE:
            continue
        network = ipaddress.ip_network(destination if "/" in destination else f"{destination}/32", strict=False)
        if network.overlaps(ours) or network.overlaps(services):
            device = route.get("dev")
            return f"{destination} (dev {device}) overlaps the node's {SUBNET} or the Services' {SERVICE_SUBNET}"
    return None


def record(folder: Path, kube_proxy: Path) -> Record:
    """Write down the machine as it is, before the node changes it."""
    entry = Record(
        owner=os.getpid(),
        folder=str(folder),
        kube_proxy=str(kube_proxy),
        sysctls={name: value for name in SYSCTLS if (value := read_sysctl(name)) is not None},
        absent_paths=absent_paths(),
    )
    entry.save()
    return entry


def prepare() -> None:
    """The bridge with the gateway address (the node IP), the Service route, forwarding, the fence."""
    _ip("link", "add", BRIDGE, "type", "bridge")
    _ip("addr", "add", f"{GATEWAY}/24", "dev", BRIDGE)
    _ip("link", "set", BRIDGE, "up")
    # An unsynced ClusterIP would otherwise follow the default route out of the machine.
    _ip("route", "add", SERVICE_SUBNET, "dev", BRIDGE, "src", GATEWAY)
    write_sysctl("net.ipv4.ip_forward", "1")  # Pod → Service → Pod is routed back out of the bridge
    write_sysctl("net.bridge.bridge-nf-call-iptables", "1")  # and its reply must pass conntrack
    # Forwarding is on, so fence the bridge: nothing forwarded into or out of it from elsewhere.
    _iptables("iptables", "-N", FORWARD_CHAIN)
    _iptables("iptables", "-A", FORWARD_CHAIN, "-i", BRIDGE, "!", "-o", BRIDGE, "-j", "DROP")
    _iptables("iptables", "-A", FORWARD_CHAIN, "-o", BRIDGE, "!", "-i", BRIDGE, "-j", "DROP")
    _iptables("iptables", "-I", "FORWARD", "1", "-j", FORWARD_CHAIN)


def clear(entry: Record) -> list[str]:
    """Undo everything the node did; return what could not be undone (empty when all is well)."""
    problems: list[str] = []
    folder = entry.folder
    _kill(lambda pid: folder in _cmdline(pid))  # containerd, its shims, kubelet, kube-proxy
    for _ in range(50):  # the containers: every process in the node's cgroups
        if not _kill(lambda pid: _in_node_cgroup(pid)):
            break
        time.sleep(0.1)
    if os.access(entry.kube_proxy, os.X_OK):
        subprocess.run([entry.kube_proxy, "--cleanup"], capture_output=True, check=False)
    for family in ("iptables", "ip6tables"):
        _drop_chains(family)
    for counter in NFACCT_COUNTERS:
        subprocess.run(["nfacct", "del", counter], capture_output=True, check=False)
    problems += _unmount_under(folder)
    for link in _links_on_bridge():
        subprocess.run(["ip", "link", "del", link], capture_output=True, check=False)
    subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True, check=False)
    for flags in (["-d", SERVICE_SUBNET], ["-s", SUBNET], ["-d", SUBNET]):
        subprocess.run(["conntrack", "-D", *flags], capture_output=True, check=False)
    problems += _remove_cgroups()
    for name, value in entry.sysctls.items():
        if read_sysctl(name) != value:
            write_sysctl(name, value)
    for path in entry.absent_paths:
        problems += _unmount_under(path)
        _remove(Path(path))
    if not _mounts_under(folder):
        shutil.rmtree(folder, ignore_errors=True)  # image snapshots: hundreds of megabytes
    if not problems:
        RECORD.unlink(missing_ok=True)
    return problems


def absent_paths() -> list[str]:
    return [path for path in FIXED_PATHS if not os.path.lexists(path)]


def leftovers(absent_before: list[str]) -> list[str]:
    """What of a node is still on this machine: the checks a test makes after a node stopped."""
    found = []
    if subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True).returncode == 0:
        found.append(f"bridge {BRIDGE}")
    found += [f"veth {link}" for link in _links_of_kind("veth")]
    for family in ("iptables", "ip6tables"):
        for table in ("filter", "nat", "mangle"):
            chains = [c for c in _chains(family, table) if c.startswith("KUBE-") or c == FORWARD_CHAIN]
            found += [f"{family} {table} {chain}" for chain in chains]
    for pid in _pids():
        command = _cmdline(pid)
        if any(name in command for name in ("kubelet", "kube-proxy", "containerd")) and "certwright-env-" in command:
            found.append(f"process {pid}: {command[:120]}")
    found += [f"mount {point}" for point in _all_mounts() if "/certwright-env-" in point]
    found += [f"cgroup {path}" for path in _node_cgroups()]
    found += [f"path {path}" for path in absent_before if os.path.lexists(path)]
    found += [f"netns {name}" for name in _netns()]
    if RECORD.exists():
        found.append(f"record {RECORD}")
    return found


def read_sysctl(name: str) -> str | None:
    try:
        return Path("/proc/sys", *name.split(".")).read_text().strip()
    except OSError:
        return None


def write_sysctl(name: str, value: str) -> None:
    Path("/proc/sys", *name.split(".")).write_text(value)


# -- the pieces ------------------------------------------------------------------------------


def _ip(*arguments: str) -> None:
    subprocess.run(["ip", *arguments], capture_output=True, text=True, check=True)


def _iptables(family: str, *arguments: str) -> None:
    subprocess.run([family, "-w", "5", *arguments], capture_output=True, text=True, check=True)


def _chains(family: str, table: str) -> list[str]:
    listing = subprocess.run([family, "-w", "5", "-t", table, "-S"], capture_output=True, text=True)
    return [line.split()[1] for line in listing.stdout.splitlines() if line.startswith("-N ")]


def _drop_chains(family: str) -> None:
    """Remove the jumps to KUBE-* (and our fence) from the built-in chains, then those chains."""
    for table in ("filter", "nat", "mangle"):
        ours = [c for c in _chains(family, table) if c.startswith("KUBE-") or c == FORWARD_CHAIN]
        if not ours:
            continue
        listing = subprocess.run([family, "-w", "5", "-t", table, "-S"], capture_output=True, text=True).stdout
        for line in listing.splitlines():
            words = line.split()
            if words[:1] == ["-A"] and words[1] not in ours and any(w in ours for w in words[2:]):
                subprocess.run([family, "-w", "5", "-t", table, "-D", *words[1:]], capture_output=True, check=False)
        for chain in ours:
            subprocess.run([family, "-w", "5", "-t", table, "-F", chain], capture_output=True, check=False)
        for chain in ours:
            subprocess.run([family, "-w", "5", "-t", table, "-X", chain], capture_output=True, check=False)


def _pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _in_node_cgroup(pid: int) -> bool:
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return False
    return any(line.split(":", 2)[-1].lstrip("/").split("/", 1)[0] in CGROUP_ROOTS for line in lines)


def _kill(chosen: object) -> bool:
    """SIGKILL every process ``chosen`` picks (never this one); True when there were any."""
    assert callable(chosen)
    victims = [pid for pid in _pids() if pid != os.getpid() and chosen(pid)]
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return bool(victims)


def _all_mounts() -> list[str]:
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        points.append(point)
    return points


def _mounts_under(folder: str) -> list[str]:
    prefix = folder.rstrip("/") + "/"
    return [point for point in _all_mounts() if point == folder or point.startswith(prefix)]


def _unmount_under(folder: str) -> list[str]:
    """Detach every mount at or below ``folder``, deepest first."""
    libc = ctypes.CDLL(None, use_errno=True)
    for point in sorted(set(_mounts_under(folder)), key=len, reverse=True):
        for _ in range(10):  # a path can carry several stacked mounts
            if point not in _all_mounts():
                break
            libc.umount2(point.encode(), _MNT_DETACH)
    return [f"mount {point} remains" for point in _mounts_under(folder)]


def _links_on_bridge() -> list[str]:
    listing = subprocess.run(["ip", "-j", "link", "show", "master", BRIDGE], capture_output=True, text=True)
    if listing.returncode != 0 or not listing.stdout.strip():
        return []
    return [link["ifname"] for link in json.loads(listing.stdout)]


def _links_of_kind(kind: str) -> list[str]:
    listing = subprocess.run(["ip", "-j", "link", "show", "type", kind], capture_output=True, text=True)
    if listing.returncode != 0 or not listing.stdout.strip():
        return []
    return [link["ifname"] for link in json.loads(listing.stdout)]


def _node_cgroups() -> list[Path]:
    found = []
    base = Path("/sys/fs/cgroup")
    hierarchies = [base, *[p for p in base.iterdir() if p.is_dir()]] if base.is_dir() else []
    for hierarchy in hierarchies:
        for root in CGROUP_ROOTS:
            if (hierarchy / root).is_dir():
                found.append(hierarchy / root)
    return found


def _remove_cgroups() -> list[str]:
    problems = []
    for top in _node_cgroups():
        for _ in range(30):
            folders = sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
            for folder in [*folders, top]:
                with contextlib.suppress(OSError):
                    folder.rmdir()
            if not top.exists():
                break
            time.sleep(0.1)
        if top.exists():
            problems.append(f"cgroup {top} remains")
    return problems


def _netns() -> list[str]:
    """Network namespaces other than the machine's own, as seen through processes and mounts."""
    mine = os.stat("/proc/self/ns/net").st_ino
    names = set()
    for pid in _pids():
        try:
            inode = os.stat(f"/proc/{pid}/ns/net").st_ino
        except OSError:
            continue
        if inode != mine:
            names.add(f"net:[{inode}] (pid {pid}: {_cmdline(pid)[:60]})")
    return sorted(names)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
