"""BIND (named), the environment's authoritative DNS, started inside a ``Stack``.

Every name answers with the stack's address, as challtestsrv's did (a wildcard in the root zone), so
HTTP-01 works for any host. A few zones of their own take RFC 2136 updates signed with the run's
TSIG key (RFC 8945), so that DNS-01 is tested against a real server: ``example.test`` and
``delegated.test`` (a zone that ``_acme-challenge`` CNAMEs point into) accept them, ``readonly.test``
refuses them by policy. named runs in the foreground as the current user, with every file it writes
(journals, pid and lock files, the session key) in ``<run_dir>/bind``.

named listens only on addresses that an interface carries, and a stand-in environment's 127.A.0.1 is
merely routed to ``lo``. As root, the environment therefore puts its address on ``lo`` (labelled
``lo:certwright``) while it runs; an alias left by an environment killed with SIGKILL is removed by
the next one to start, once that address's lock shows no environment holds it. Without root, named
listens on 127.0.0.1 instead.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import secrets
import shutil
import socket
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.update

from . import processes
from .base import _LOCKS, Stack

NAMED = Path("/usr/sbin/named")
UPDATABLE_ZONES = ("example.test", "delegated.test")
READONLY_ZONES = ("readonly.test",)
TSIG_KEY_NAME = "certwright-env."
TSIG_ALGORITHM = "hmac-sha256"  # as BIND and dnspython name it
TSIG_ALGORITHM_CRD = "HMACSHA256"  # as an Issuer's rfc2136 solver names it
TTL = 10
ALIAS_LABEL = "lo:certwright"
# dnspython raises these for a response whose TSIG carries an error; named's names for those errors.
_TSIG_ERRORS = {
    dns.tsig.PeerBadKey: "BADKEY",
    dns.tsig.PeerBadSignature: "BADSIG",
    dns.tsig.PeerBadTime: "BADTIME",
    dns.tsig.PeerBadTruncation: "BADTRUNC",
}

Record = tuple[str, int, str, str]  # name, TTL, type, value in presentation format
Removal = tuple[str, str] | tuple[str, str, str]  # name and type (the whole set), or one value of it


class UpdateRefused(RuntimeError):
    """named answered an update with an error; ``rcode`` is its name (REFUSED, NOTAUTH, BADSIG, …)."""

    def __init__(self, zone: str, rcode: str) -> None:
        super().__init__(f"update of {zone} answered {rcode}")
        self.zone = zone
        self.rcode = rcode


@dataclass(frozen=True)
class TsigKey:
    name: str
    algorithm: str
    secret: str  # base64

    @classmethod
    def generate(cls) -> TsigKey:
        return cls(TSIG_KEY_NAME, TSIG_ALGORITHM, base64.b64encode(secrets.token_bytes(32)).decode())


def named_conf(folder: Path, address: str, port: int, key: TsigKey) -> str:
    """named's configuration: authoritative for every zone (the root too), on one address, writing
    nowhere but ``folder``."""
    stanzas = "".join(
        f'zone "{zone}" {{ type primary; file "{zone_file_name(zone)}"; allow-update {{ {allowed} }}; }};\n'
        for zone, allowed in [
            *((zone, "none;") for zone in (".", *READONLY_ZONES)),
            *((zone, f'key "{key.name}";') for zone in UPDATABLE_ZONES),
        ]
    )
    return f"""options {{
    directory "{folder}";
    pid-file "{folder}/named.pid";
    lock-file "{folder}/named.lock";
    session-keyfile "{folder}/session.key";
    managed-keys-directory "{folder}";
    dump-file "{folder}/named_dump.db";
    statistics-file "{folder}/named.stats";
    memstatistics-file "{folder}/named.memstats";
    recursing-file "{folder}/named.recursing";
    secroots-file "{folder}/named.secroots";
    listen-on port {port} {{ {address}; }};
    listen-on-v6 {{ none; }};
    // Recursion as a CA's resolver does it (Pebble asks here): a CNAME at _acme-challenge is
    // chased into the zone it points to. Every name is in a zone served here (the root too), so
    // recursion never leaves this process.
    recursion yes;
    allow-recursion {{ any; }};
    dnssec-validation no;
    notify no;
    allow-query {{ any; }};
    empty-zones-enable no;
}};
controls {{ }};
key "{key.name}" {{ algorithm {key.algorithm}; secret "{key.secret}"; }};
{stanzas}"""


def zone_file_name(zone: str) -> str:
    return "root.zone" if zone == "." else f"{zone}.zone"


def zone_file(zone: str, address: str, nameserver_address: str) -> str:
    """A zone whose every name answers ``address``: SOA, NS (at ``nameserver_address``), apex A and a wildcard.

    The root zone delegates nothing: named answers for the other zones itself, and a delegation to
    ``example.test`` would make ``test.`` an existing name, hiding the root's wildcard from ``a.test``.
    """
    apex = "." if zone == "." else f"{zone}."
    home = "certwright-env." if zone == "." else apex  # where the nameserver's name and the mailbox live
    return f"""$ORIGIN {apex}
$TTL {TTL}
@ IN SOA ns.{home} hostmaster.{home} 1 3600 600 86400 5
@ IN NS ns.{home}
ns.{home} IN A {nameserver_address}
@ IN A {address}
* IN A {address}
"""


class Bind:
    """Starts named for a stack, and asks and updates it as a test or a DNS-01 solver would."""

    def __init__(self, stack: Stack, key: TsigKey | None = None) -> None:
        self.stack = stack
        self.key = key or TsigKey.generate()
        self.folder = stack.run_dir / "bind"
        self.address = ""  # where named listens: the stack's address, or 127.0.0.1 without root
        self.port = 0
        self._alias = ""

    def start(self) -> None:
        """Write the configuration and zones, start named in the stack, and wait until it answers."""
        self.address = self._listen_address()
        self.port = _port(self.address)
        self.folder.mkdir(exist_ok=True)
        for zone in (".", *READONLY_ZONES, *UPDATABLE_ZONES):
            (self.folder / zone_file_name(zone)).write_text(zone_file(zone, self.stack.address, self.address))
        conf = self.folder / "named.conf"
        conf.write_text(named_conf(self.folder, self.address, self.port, self.key))
        conf.chmod(0o600)  # it holds the TSIG secret
        child = self.stack.spawn("named", [NAMED, "-g", "-4", "-n", "2", "-c", conf])
        processes.wait_until(child, lambda: bool(self.query(UPDATABLE_ZONES[0], "SOA", timeout=0.5)), 30)

    def release(self) -> None:
        """Take the loopback alias off ``lo`` again; call it while the stack still holds its address."""
        if self._alias:
            _ip("addr", "del", f"{self._alias}/32", "dev", "lo", check=False)
            self._alias = ""

    def _listen_address(self) -> str:
        """The stack's address, put on ``lo`` first when no interface carries it (root only)."""
        address = self.stack.address
        labels = _interface_addresses()
        if labels.get(address) == ALIAS_LABEL:
            self._alias = address  # left by a killed environment that held this address before us
        if address in labels:
            return address  # the node's bridge, or that alias
        if os.geteuid() != 0 or shutil.which("ip") is None:
            return "127.0.0.1"
        _remove_stale_aliases(labels)
        _ip("addr", "add", f"{address}/32", "dev", "lo", "label", ALIAS_LABEL)
        self._alias = address
        return address

    @property
    def nameserver(self) -> str:
        """``address:port``, as Pebble's -dnsserver and certwright's --selfcheck-nameservers take it."""
        return f"{self.address}:{self.port}"

    @property
    def tsig_key_name(self) -> str:
        return self.key.name

    @property
    def tsig_algorithm(self) -> str:
        """The algorithm as an Issuer's rfc2136 solver spells it (HMACSHA256)."""
        return TSIG_ALGORITHM_CRD

    @property
    def tsig_algorithm_dns(self) -> str:
        """The algorithm as BIND and dnspython spell it (hmac-sha256)."""
        return self.key.algorithm

    @property
    def tsig_secret(self) -> str:
        """The key's secret, base64."""
        return self.key.secret

    @property
    def zones(self) -> tuple[str, ...]:
        """The zones that accept updates signed with the run's key."""
        return UPDATABLE_ZONES

    def query(self, name: str, rdtype: str, *, timeout: float = 5) -> list[str]:
        """The records of ``rdtype`` named answers for ``name``, sorted, in presentation format (TXT quoted).

        Empty for NXDOMAIN and NODATA; a CNAME on the way is followed as far as named follows it.
        """
        request = dns.message.make_query(name, rdtype)
        response, _ = dns.query.udp_with_fallback(request, self.address, timeout=timeout, port=self.port)
        rcode = response.rcode()
        if rcode == dns.rcode.NXDOMAIN:
            return []
        if rcode != dns.rcode.NOERROR:
            raise LookupError(f"{name} {rdtype}: {dns.rcode.to_text(rcode)} from {self.nameserver}")
        wanted = dns.rdatatype.from_text(rdtype)
        return sorted(rdata.to_text() for rrset in response.answer if rrset.rdtype == wanted for rdata in rrset)

    def update(
        self,
        zone: str,
        *,
        add: Iterable[Record] = (),
        delete: Iterable[Removal] = (),
        key_name: str | None = None,
        secret: str | None = None,
    ) -> None:
        """Send one RFC 2136 update signed with the run's key (or the given one); UpdateRefused unless NOERROR.

        Names are relative to ``zone`` unless they end with a dot.
        """
        key = dns.tsig.Key(key_name or self.key.name, secret or self.key.secret, self.key.algorithm)
        origin = dns.name.from_text(zone)
        message = dns.update.UpdateMessage(origin, keyring=key)
        for name, ttl, rdtype, value in add:
            message.add(dns.name.from_text(name, origin), ttl, rdtype, value)
        for removal in delete:
            message.delete(dns.name.from_text(removal[0], origin), *removal[1:])
        try:
            response = dns.query.tcp(message, self.address, timeout=5, port=self.port)
        except tuple(_TSIG_ERRORS) as error:
            raise UpdateRefused(zone, _TSIG_ERRORS[type(error)]) from error
        if response.rcode() != dns.rcode.NOERROR:
            raise UpdateRefused(zone, dns.rcode.to_text(response.rcode()))


def _port(address: str) -> int:
    """53 when we may bind it and it is free on ``address``, as a propagation check asks there; else any.

    The address is this environment's alone (127.A.0.1, or the node's bridge), so 53 is usually free.
    """
    if os.geteuid() == 0 and _bindable(address, 53):
        return 53
    while not _bindable(address, port := processes.free_port(address)):
        pass
    return port


def _bindable(address: str, port: int) -> bool:
    """Whether both TCP and UDP ``port`` are free on ``address`` (named takes both)."""
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as named does: TIME_WAIT is no obstacle
            try:
                sock.bind((address, port))
            except OSError:
                return False
    return True


def _interface_addresses() -> dict[str, str]:
    """The IPv4 addresses interfaces carry, each with its label."""
    if shutil.which("ip") is None:
        return {}
    listing = subprocess.run(["ip", "-j", "-4", "addr", "show"], capture_output=True, text=True, check=True)
    return {
        entry["local"]: entry.get("label", "")
        for interface in json.loads(listing.stdout or "[]")
        for entry in interface.get("addr_info", [])
    }


def _remove_stale_aliases(labels: dict[str, str]) -> None:
    """Remove the aliases of environments that are gone: no one holds their address's lock."""
    for address in (address for address, label in labels.items() if label == ALIAS_LABEL):
        with (_LOCKS / f"{address}.lock").open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a running environment's
            _ip("addr", "del", f"{address}/32", "dev", "lo", check=False)  # another start may be removing it too


def _ip(*arguments: str, check: bool = True) -> None:
    subprocess.run(["ip", *arguments], capture_output=True, text=True, check=check)
