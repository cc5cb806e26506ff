"""A DNS provider as a separate package would write one: RFC 2136 updates of its own, signed with TSIG.

Settings (``dns01.plugin.config``): ``server`` (host:port), ``keyName``, ``secretRef{name, key}``.
It relies on certwright's default ``find_zone`` (the SOA walk through the operator's nameservers).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dns.asyncquery
import dns.rcode
import dns.tsig
import dns.update

from certwright.dns.errors import DnsConfigError, DnsError
from certwright.dns.provider import DnsProvider, ProviderContext, Record


class TestProvider(DnsProvider):
    """Adds and removes one TXT value per call."""

    def __init__(self, config: Mapping[str, Any], context: ProviderContext) -> None:
        super().__init__(config, context)
        for required in ("server", "keyName", "secretRef"):
            if not config.get(required):
                raise DnsConfigError(f"{context.field}.{required}", "is required by the testprovider plug-in")
        host, _, port = str(config["server"]).rpartition(":")
        self.host, self.port = host, int(port)

    async def present(self, record: Record) -> None:
        update = await self._update(record.zone)
        update.add(record.fqdn, 30, "TXT", f'"{record.value}"')
        await self._send(update)

    async def clean_up(self, record: Record) -> None:
        update = await self._update(record.zone)
        update.delete(record.fqdn, "TXT", f'"{record.value}"')
        await self._send(update)

    async def _update(self, zone: str) -> dns.update.UpdateMessage:
        ref = self.config["secretRef"]
        secret = (await self.context.read_secret(ref["name"], ref.get("key", "secret"))).decode().strip()
        key = dns.tsig.Key(self.config["keyName"], secret, dns.tsig.HMAC_SHA256)
        return dns.update.UpdateMessage(zone, keyring=key)

    async def _send(self, update: dns.update.UpdateMessage) -> None:
        response = await dns.asyncquery.tcp(update, self.host, timeout=10, port=self.port)
        if response.rcode() != dns.rcode.NOERROR:
            raise DnsError(
                "TestProviderRefused", f"{self.host}:{self.port} answered {dns.rcode.to_text(response.rcode())}"
            )
