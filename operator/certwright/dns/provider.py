"""The interface a DNS provider implements, for RFC 2136 here and for plug-in packages elsewhere.

A provider writes and removes the TXT record of one DNS-01 challenge. certwright works out where the
record goes (``_acme-challenge.<name>``, a CNAME followed when the solver says so), in which zone (the
provider's ``find_zone``; by default the SOA walk of ``zones.find_zone``), and what it holds; then it
calls ``present`` before the CA validates and ``clean_up`` once the authorization is final (also
after a restart, from the Challenge object). A wildcard and its apex share one name with two values,
so ``present`` adds its value next to any others and ``clean_up`` removes only its own.

A plug-in is a separately installed package that names its class in the ``certwright.dns_providers``
entry point group; an issuer uses it with ``dns01.plugin{name, config}``::

    [project.entry-points."certwright.dns_providers"]
    example = "certwright_dns_example:ExampleProvider"

Every method is a coroutine: a provider must not block the event loop (run blocking SDK calls with
``asyncio.to_thread``). Raise ``DnsError`` (or ``DnsConfigError`` for settings) with a message that
says what to fix; never put a credential in it.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import zones

SecretReader = Callable[[str, str], Awaitable[bytes]]


@dataclass(frozen=True)
class Record:
    """One challenge's TXT record: ``fqdn`` and ``zone`` are absolute (with the trailing dot)."""

    fqdn: str
    zone: str
    value: str


@dataclass(frozen=True)
class ProviderContext:
    """What certwright gives a provider.

    ``field`` is the spec path of its settings (for error messages); ``read_secret(name, key)`` reads
    one key of a Secret in the issuer's Secret namespace (the Issuer's own namespace, or the cluster
    resource namespace for a ClusterIssuer) and raises ``DnsError`` when it is missing;
    ``nameservers`` are the operator's recursive nameservers (``host:port``; empty: the system's).
    """

    field: str
    read_secret: SecretReader
    nameservers: tuple[str, ...] = ()


class DnsProvider(abc.ABC):
    """One DNS provider configured for one solver; built per issuance, so it may keep what it read."""

    def __init__(self, config: Mapping[str, Any], context: ProviderContext) -> None:
        self.config = config
        self.context = context

    async def find_zone(self, fqdn: str) -> str:
        """The zone that holds ``fqdn`` (absolute). By default: the SOA walk through the recursive nameservers."""
        return await zones.find_zone(fqdn, self.context.nameservers)

    @abc.abstractmethod
    async def present(self, record: Record) -> None:
        """Add ``record.value`` at ``record.fqdn``, keeping any other values there. Adding it twice is fine."""

    @abc.abstractmethod
    async def clean_up(self, record: Record) -> None:
        """Remove ``record.value`` from ``record.fqdn`` and nothing else. Removing a missing value is fine."""

    def own_nameservers(self) -> tuple[str, ...]:
        """Nameservers (``host:port``) the propagation check asks with ``selfCheck.nameservers: Solver``;
        empty when the provider has none of its own (then the zone's authoritative ones are asked)."""
        return ()
