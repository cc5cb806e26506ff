"""``check`` for a DNS-01 name: a throw-away TXT value through the solver's provider, the propagation check,
and the value removed again (also when interrupted). The CA is not asked anything."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import sys
from collections.abc import Callable, Sequence

from ..dns import propagation, registry, zones
from ..dns.errors import SECRET_MISSING, DnsError
from ..dns.provider import DnsProvider, ProviderContext, Record
from ..domain.specs import Solver
from .cluster import Obj
from .errors import PluginError

SecretGetter = Callable[[str, str], Obj | None]


def throwaway_value() -> str:
    """A TXT value shaped like a real one (base64url of a SHA-256, §8.4) that no CA ever asked for."""
    digest = hashlib.sha256(secrets.token_bytes(32)).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def build_provider(solver: Solver, get_secret: SecretGetter, namespace: str, nameservers: Sequence[str]) -> DnsProvider:
    """The solver's provider, reading its Secrets in ``namespace`` with the user's credentials."""
    assert solver.dns01 is not None
    dns01 = solver.dns01

    async def read_secret(name: str, key: str) -> bytes:
        try:
            secret = await asyncio.to_thread(get_secret, namespace, name)
        except PluginError as error:  # a 403 says which verb and namespace
            raise DnsError(SECRET_MISSING, str(error)) from error
        encoded = ((secret or {}).get("data") or {}).get(key)
        if not encoded:
            missing = "does not exist" if secret is None else f"has no key {key!r}"
            raise DnsError(SECRET_MISSING, f"Secret {namespace}/{name} {missing}; {dns01.field} needs it")
        return base64.b64decode(encoded)

    context = ProviderContext(field=dns01.field, read_secret=read_secret, nameservers=tuple(nameservers))
    return registry.provider_class(dns01.provider)(dns01.config, context)


async def probe(
    name: str, solver: Solver, provider: DnsProvider, nameservers: Sequence[str], timeout: float
) -> tuple[bool, str]:
    """Present a throw-away value for ``name``, wait until every nameserver the CA would ask serves it, remove it."""
    assert solver.dns01 is not None
    own = provider.own_nameservers()
    lookup = own if solver.self_check.nameservers == "Solver" and own else tuple(nameservers)
    try:
        fqdn = zones.challenge_fqdn(name)
        if solver.dns01.follow_cname:
            fqdn = await zones.follow_cnames(fqdn, lookup)
        record = Record(fqdn=fqdn, zone=await provider.find_zone(fqdn), value=throwaway_value())
    except DnsError as error:
        return False, f"dns-01 at the zone lookup: {error.reason}: {error}"
    try:
        await provider.present(record)
    except DnsError as error:
        return False, f"dns-01 at the update of zone {record.zone}: {error.reason}: {error}"
    try:
        return await _propagated(record, lookup, own if solver.self_check.nameservers == "Solver" else (), timeout)
    finally:
        try:
            await provider.clean_up(record)
        except DnsError as error:  # said, not raised: the other names still get their lines
            print(f"warning: the throw-away TXT value at {record.fqdn} could not be removed: {error}", file=sys.stderr)


async def _propagated(record: Record, lookup: Sequence[str], own: Sequence[str], timeout: float) -> tuple[bool, str]:
    loop = asyncio.get_running_loop()
    deadline, delay = loop.time() + timeout, 0.1
    try:
        servers = await propagation.configured(own) if own else await propagation.authoritative(record.zone, lookup)
    except DnsError as error:
        return False, f"dns-01 at the nameservers of {record.zone}: {error.reason}: {error}"
    while True:
        missing = [
            found
            for found in await asyncio.gather(*(propagation.serves(s, record.fqdn, record.value) for s in servers))
            if found is not None
        ]
        if not missing:
            where = ", ".join(str(s) for s in servers)
            return True, f"dns-01: a TXT value at {record.fqdn} (zone {record.zone}) was served by {where}"
        if loop.time() + delay > deadline:
            return False, f"dns-01 at the propagation check after {timeout:.0f} s: {missing[0]}"
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)
