"""Is the TXT record there yet? Ask each of the zone's authoritative nameservers directly (no cache
in between), as the CA's resolver will reach them, before the CA is asked to validate.

cert-manager waits fixed intervals around its check; here the check is one query per nameserver,
repeated with a short back-off, so a record that is served at once is accepted at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.resolver

from .errors import NAMESERVER_UNREACHABLE, ZONE_NOT_SERVED, DnsError
from .zones import TIMEOUT, address_of, resolver, split_server


@dataclass(frozen=True)
class Server:
    """A nameserver to ask: ``name`` for messages (an NS host name, or what was configured)."""

    name: str
    address: str
    port: int

    def __str__(self) -> str:
        where = f"{self.address}:{self.port}"
        return where if self.name in (self.address, where) else f"{self.name} ({where})"


async def configured(servers: Sequence[str]) -> list[Server]:
    """``host:port`` strings as servers to ask."""
    found = []
    for server in servers:
        host, port = split_server(server)
        found.append(Server(server, await address_of(host), port))
    return found


async def authoritative(zone: str, nameservers: Sequence[str]) -> list[Server]:
    """The zone's nameservers from its NS records, with their IPv4 addresses, found through
    ``nameservers``. Port 53, except at the address of a configured nameserver that names its own
    port (a test DNS server, or one behind a port mapping): that port."""
    asking = await resolver(nameservers)
    ports = {}
    for server in await configured(nameservers):
        ports[server.address] = server.port
    try:
        answer = await asking.resolve(zone, "NS", lifetime=TIMEOUT)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers) as error:
        raise DnsError(ZONE_NOT_SERVED, f"zone {zone} has no NS records ({error})") from error
    except dns.exception.Timeout as error:
        raise DnsError(NAMESERVER_UNREACHABLE, f"no answer for the NS records of {zone}: {error}") from error
    found = []
    for host in sorted(rdata.target.to_text() for rdata in answer):
        try:
            addresses = await asking.resolve(host, "A", lifetime=TIMEOUT)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers, dns.exception.Timeout):
            continue  # an NS without an IPv4 address is not asked; the others must serve the record
        for rdata in addresses:
            address = rdata.to_text()
            found.append(Server(host, address, ports.get(address, 53)))
    if not found:
        raise DnsError(ZONE_NOT_SERVED, f"none of the nameservers of {zone} has an IPv4 address")
    return found


async def serves(server: Server, fqdn: str, value: str) -> str | None:
    """None when ``server`` answers ``value`` among the TXT values at ``fqdn``; else what it answered."""
    query = dns.message.make_query(fqdn, dns.rdatatype.TXT)
    query.flags &= ~dns.flags.RD  # the server's own data, not something it looked up
    try:
        response, _ = await dns.asyncquery.udp_with_fallback(query, server.address, timeout=TIMEOUT, port=server.port)
    except (dns.exception.Timeout, OSError) as error:
        return f"{server} did not answer ({error or 'timed out'})"
    rcode = response.rcode()
    if rcode != dns.rcode.NOERROR:
        return f"{server} answered {dns.rcode.to_text(rcode)} for {fqdn}"
    aliases = [
        rdata.target.to_text() for rrset in response.answer if rrset.rdtype == dns.rdatatype.CNAME for rdata in rrset
    ]
    if aliases:
        return (
            f"{server} answers a CNAME at {fqdn} (to {aliases[0]}), which hides a TXT record there: set "
            "dns01.cnameStrategy: Follow to write the record where it points, or remove the CNAME"
        )
    values = [
        b"".join(rdata.strings).decode(errors="replace")
        for rrset in response.answer
        if rrset.rdtype == dns.rdatatype.TXT
        for rdata in rrset
    ]
    if value in values:
        return None
    if not values:
        return f"{server} has no TXT record at {fqdn} yet"
    return f"{server} serves {len(values)} other TXT value(s) at {fqdn}, not this challenge's"
