"""Where a DNS-01 record goes: ``_acme-challenge.<name>`` (RFC 8555 §8.4), a CNAME there followed on
request, and the zone that holds it (the SOA walk), asked of given nameservers or the system's."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

from .errors import NAMESERVER_UNREACHABLE, ZONE_NOT_SERVED, DnsError

TIMEOUT = 5.0
MAX_CNAMES = 8


def challenge_fqdn(dns_name: str) -> str:
    """``_acme-challenge.<name>.``; a wildcard's record sits at its base name (§8.4)."""
    base = dns_name[2:] if dns_name.startswith("*.") else dns_name
    return f"_acme-challenge.{base.rstrip('.')}."


def split_server(server: str) -> tuple[str, int]:
    """``host``, ``host:port``, ``v4:port`` or ``[v6]:port`` → (host, port); port 53 by default."""
    if server.startswith("["):
        host, _, rest = server[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else 53
    if server.count(":") == 1:
        host, port = server.split(":")
        if port.isdigit():
            return host, int(port)
    return server, 53


async def address_of(host: str) -> str:
    """An IP address for a nameserver's host name (an address is returned as it is)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return host
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, 53, type=socket.SOCK_DGRAM)
    except socket.gaierror as error:
        raise DnsError(NAMESERVER_UNREACHABLE, f"nameserver {host} does not resolve: {error.strerror}") from error
    return str(infos[0][4][0])


async def resolver(nameservers: Sequence[str]) -> dns.asyncresolver.Resolver:
    """A resolver that asks ``nameservers`` (``host:port``), or the system's when there are none."""
    if not nameservers:
        return dns.asyncresolver.Resolver()
    made = dns.asyncresolver.Resolver(configure=False)
    servers: list[str | dns.nameserver.Nameserver] = []
    for server in nameservers:
        host, port = split_server(server)
        servers.append(dns.nameserver.Do53Nameserver(await address_of(host), port))
    made.nameservers = servers
    return made


async def find_zone(fqdn: str, nameservers: Sequence[str]) -> str:
    """The zone that holds ``fqdn``, from its nearest SOA; DnsError when none below the root does."""
    asked = ", ".join(nameservers) or "the system's nameservers"
    try:
        zone = await dns.asyncresolver.zone_for_name(fqdn, resolver=await resolver(nameservers), lifetime=TIMEOUT)
    except dns.resolver.NoRootSOA as error:
        raise DnsError(ZONE_NOT_SERVED, f"no zone holds {fqdn} ({asked} know no SOA for it)") from error
    except dns.resolver.NoNameservers as error:
        raise DnsError(
            ZONE_NOT_SERVED, f"{asked} served no zone for {fqdn} (every nameserver refused or failed)"
        ) from error
    except dns.exception.Timeout as error:
        raise DnsError(NAMESERVER_UNREACHABLE, f"{asked} did not answer within {TIMEOUT:.0f} s") from error
    if zone == dns.name.root:
        raise DnsError(
            ZONE_NOT_SERVED,
            f"no zone below the root holds {fqdn} (asked {asked}: only the root zone answers for it); "
            "create the domain's zone on your DNS server, or check the name's spelling",
        )
    return zone.to_text()


async def follow_cnames(fqdn: str, nameservers: Sequence[str]) -> str:
    """Where a chain of CNAMEs at ``fqdn`` ends (``fqdn`` itself when there is none)."""
    asking = await resolver(nameservers)
    name = fqdn
    for _ in range(MAX_CNAMES):
        try:
            answer = await asking.resolve(name, "CNAME", lifetime=TIMEOUT, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return name
        except dns.resolver.NoNameservers as error:
            raise DnsError(ZONE_NOT_SERVED, f"no nameserver answered for {name}: {error}") from error
        except dns.exception.Timeout as error:
            asked = ", ".join(nameservers) or "the system's nameservers"
            raise DnsError(NAMESERVER_UNREACHABLE, f"{asked} did not answer within {TIMEOUT:.0f} s") from error
        if answer.rrset is None or answer.rrset.rdtype != dns.rdatatype.CNAME:
            return name
        name = next(iter(answer.rrset)).target.to_text()
    raise DnsError(
        ZONE_NOT_SERVED, f"{fqdn} is a chain of more than {MAX_CNAMES} CNAMEs; point it at the record's zone"
    )
