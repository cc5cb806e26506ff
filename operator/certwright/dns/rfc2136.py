"""RFC 2136 dynamic updates signed with TSIG (RFC 8945): the built-in DNS provider.

Settings as cert-manager's ``rfc2136`` solver names them, so ClusterIssuers translate line by line:
``nameserver`` (the primary that takes updates), ``tsigKeyName``, ``tsigAlgorithm`` and
``tsigSecretSecretRef``. Updates go over TCP; the zone is asked of that same nameserver (it is
authoritative for what it updates, also in split-horizon set-ups). The TSIG secret is read from its
Secret per issuance and appears in no message.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dns.asyncquery
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.tsig
import dns.tsigkeyring
import dns.update

from . import zones
from .errors import (
    NAMESERVER_UNREACHABLE,
    PROVIDER_FAILED,
    TSIG_REFUSED,
    UPDATE_REFUSED,
    ZONE_NOT_SERVED,
    DnsConfigError,
    DnsError,
)
from .provider import DnsProvider, ProviderContext, Record

ALGORITHMS = {
    "HMACSHA256": dns.tsig.HMAC_SHA256,
    "HMACSHA384": dns.tsig.HMAC_SHA384,
    "HMACSHA512": dns.tsig.HMAC_SHA512,
    "HMACSHA224": dns.tsig.HMAC_SHA224,
    "HMACSHA1": dns.tsig.HMAC_SHA1,
}
DEFAULT_ALGORITHM = "HMACSHA256"
TTL = 60
TIMEOUT = 10.0


@dataclass(frozen=True)
class Rfc2136Config:
    nameserver: str
    key_name: str | None = None
    algorithm: str = DEFAULT_ALGORITHM
    secret_name: str | None = None
    secret_key: str = "secret"  # noqa: S105 (the key in the Secret, as cert-manager defaults it)

    @property
    def algorithm_name(self) -> dns.name.Name:
        return ALGORITHMS[self.algorithm]


def parse_config(config: Mapping[str, Any], field: str) -> Rfc2136Config:
    """The ``rfc2136`` settings, or DnsConfigError naming the field (the CRD schema checks them first)."""
    nameserver = config.get("nameserver")
    if not isinstance(nameserver, str) or not nameserver:
        raise DnsConfigError(f"{field}.nameserver", "is required: the primary nameserver that accepts updates")
    algorithm = str(config.get("tsigAlgorithm") or DEFAULT_ALGORITHM).upper()
    if algorithm not in ALGORITHMS:
        raise DnsConfigError(
            f"{field}.tsigAlgorithm", f"{algorithm!r} is not accepted: use one of {', '.join(ALGORITHMS)}"
        )
    key_name = config.get("tsigKeyName") or None
    secret = config.get("tsigSecretSecretRef") or {}
    if bool(key_name) != bool(secret.get("name")):
        raise DnsConfigError(field, "tsigKeyName and tsigSecretSecretRef go together: give both, or neither")
    return Rfc2136Config(
        nameserver=nameserver,
        key_name=key_name,
        algorithm=algorithm,
        secret_name=secret.get("name") or None,
        secret_key=secret.get("key") or "secret",
    )


class Rfc2136(DnsProvider):
    """Adds and removes single TXT values with signed UPDATE messages."""

    def __init__(self, config: Mapping[str, Any], context: ProviderContext) -> None:
        super().__init__(config, context)
        self.settings = parse_config(config, context.field)
        self._keyring: dict[dns.name.Name, dns.tsig.Key] | None = None

    def own_nameservers(self) -> tuple[str, ...]:
        return (self.settings.nameserver,)

    async def find_zone(self, fqdn: str) -> str:
        return await zones.find_zone(fqdn, (self.settings.nameserver,))

    async def present(self, record: Record) -> None:
        update = await self._message(record.zone)
        update.add(record.fqdn, TTL, "TXT", _quoted(record.value))
        await self._send(update, record, "add")

    async def clean_up(self, record: Record) -> None:
        update = await self._message(record.zone)
        update.delete(record.fqdn, "TXT", _quoted(record.value))
        await self._send(update, record, "remove")

    async def _message(self, zone: str) -> dns.update.UpdateMessage:
        settings = self.settings
        if settings.key_name is None:
            return dns.update.UpdateMessage(zone)
        if self._keyring is None:
            assert settings.secret_name is not None
            field = f"{self.context.field}.tsigSecretSecretRef"
            text = (await self.context.read_secret(settings.secret_name, settings.secret_key)).decode().strip()
            try:
                self._keyring = dns.tsigkeyring.from_text(
                    {settings.key_name: (settings.algorithm_name.to_text(), text)}
                )
            except (binascii.Error, ValueError) as error:
                raise DnsConfigError(
                    field,
                    f"Secret {settings.secret_name}[{settings.secret_key}] does not hold a base64 TSIG secret "
                    "(the secret line of tsig-keygen's output)",
                ) from error
        name = dns.name.from_text(settings.key_name)
        return dns.update.UpdateMessage(zone, keyring=self._keyring, keyname=name, keyalgorithm=settings.algorithm_name)

    async def _send(self, update: dns.update.UpdateMessage, record: Record, verb: str) -> None:
        settings = self.settings
        host, port = zones.split_server(settings.nameserver)
        where = settings.nameserver
        try:
            response = await self._exchange(update, await zones.address_of(host), port)
        except dns.tsig.PeerBadKey as error:
            raise DnsError(
                TSIG_REFUSED,
                f"nameserver {where} does not know TSIG key {settings.key_name!r} with algorithm "
                f"{settings.algorithm} (BADKEY): check tsigKeyName and tsigAlgorithm against the key in the "
                "nameserver's configuration",
            ) from error
        except dns.tsig.PeerBadSignature as error:
            raise DnsError(
                TSIG_REFUSED,
                f"nameserver {where} refused the signature of key {settings.key_name!r} (BADSIG): the secret in "
                f"Secret {settings.secret_name}[{settings.secret_key}] or tsigAlgorithm ({settings.algorithm}) "
                "is not the key's",
            ) from error
        except dns.tsig.PeerBadTime as error:
            raise DnsError(
                TSIG_REFUSED,
                f"nameserver {where} refused the update's time (BADTIME): the clocks of the operator's node and "
                "the nameserver differ by more than 5 minutes; fix the clock (NTP)",
            ) from error
        except dns.tsig.PeerError as error:
            raise DnsError(TSIG_REFUSED, f"nameserver {where} refused the TSIG signature: {error}") from error
        except dns.exception.Timeout as error:
            raise DnsError(
                NAMESERVER_UNREACHABLE, f"nameserver {where} did not answer the update within {TIMEOUT:.0f} s"
            ) from error
        except OSError as error:
            raise DnsError(NAMESERVER_UNREACHABLE, f"nameserver {where} cannot be reached: {error}") from error
        rcode = response.rcode()
        if rcode == dns.rcode.NOERROR:
            return
        text = dns.rcode.to_text(rcode)
        if rcode in (dns.rcode.NOTAUTH, dns.rcode.NOTZONE):
            raise DnsError(
                ZONE_NOT_SERVED,
                f"nameserver {where} does not serve zone {record.zone} for {record.fqdn} ({text}): point "
                "nameserver at the zone's primary, or add the zone there",
            )
        if rcode == dns.rcode.REFUSED:
            who = f"key {settings.key_name!r}" if settings.key_name else "unsigned updates"
            raise DnsError(
                UPDATE_REFUSED,
                f"nameserver {where} refused to {verb} the TXT record {record.fqdn} in zone {record.zone} "
                f"(REFUSED): its update policy (allow-update or update-policy) must let {who} change it",
            )
        raise DnsError(PROVIDER_FAILED, f"nameserver {where} answered {text} to the update of {record.fqdn}")

    async def _exchange(self, update: dns.update.UpdateMessage, address: str, port: int) -> dns.message.Message:
        """One update over TCP and its answer (the seam unit tests replace with a scripted server)."""
        return await dns.asyncquery.tcp(update, address, timeout=TIMEOUT, port=port)


def _quoted(value: str) -> str:
    return f'"{value}"'
