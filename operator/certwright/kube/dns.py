"""DNS providers as the operator builds them: settings from the solver, Secrets from the issuer's
Secret namespace (the Issuer's own, or the cluster resource namespace for a ClusterIssuer)."""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from ..dns import registry
from ..dns.errors import PROVIDER_FAILED, SECRET_MISSING, DnsError
from ..dns.provider import DnsProvider, ProviderContext, Record
from ..domain.specs import Dns01, SpecError, parse_solver
from .client import Kube

log = logging.getLogger(__name__)


def secret_namespace(issuer_kind: str, namespace: str, cluster_resource_namespace: str) -> str:
    return cluster_resource_namespace if issuer_kind == "ClusterIssuer" else namespace


async def provider_for(kube: Kube, dns01: Dns01, *, namespace: str, nameservers: Sequence[str]) -> DnsProvider:
    """The provider a DNS-01 solver names, reading its Secrets in ``namespace``."""

    async def read_secret(name: str, key: str) -> bytes:
        secret = await kube.get_secret(namespace, name)
        encoded = ((secret or {}).get("data") or {}).get(key)
        if not encoded:
            missing = (
                f"Secret {namespace}/{name} does not exist"
                if secret is None
                else f"Secret {namespace}/{name} has no key {key!r}"
            )
            raise DnsError(SECRET_MISSING, f"{missing}; {dns01.field} needs it")
        return base64.b64decode(encoded)

    cls = registry.provider_class(dns01.provider)
    context = ProviderContext(field=dns01.field, read_secret=read_secret, nameservers=tuple(nameservers))
    try:
        return cls(dns01.config, context)
    except DnsError:
        raise
    except Exception as error:  # a plug-in's own failure to start: named, not a crash
        raise DnsError(PROVIDER_FAILED, f"DNS provider {dns01.provider!r} could not be set up: {error}") from error


def challenge_record(challenge: Mapping[str, Any]) -> tuple[Dns01, Record] | None:
    """The solver and TXT record a DNS-01 Challenge keeps; None when it keeps none (or not readable)."""
    spec = challenge.get("spec") or {}
    record, solver = spec.get("dns01") or {}, spec.get("solver") or {}
    if spec.get("type") != "dns-01" or not record.get("fqdn") or not record.get("value"):
        return None
    try:
        parsed = parse_solver(solver, int(spec.get("solverIndex") or 0))
    except SpecError as error:
        log.warning("Challenge %s keeps a solver that cannot be read: %s", challenge["metadata"]["name"], error)
        return None
    if parsed.dns01 is None:
        return None
    return parsed.dns01, Record(fqdn=record["fqdn"], zone=record.get("zone") or "", value=record["value"])


async def remove_record(
    kube: Kube, challenge: Mapping[str, Any], *, cluster_resource_namespace: str, nameservers: Sequence[str]
) -> None:
    """Remove the TXT record a DNS-01 Challenge presented (DnsError when the provider cannot)."""
    found = challenge_record(challenge)
    if found is None:
        return
    dns01, record = found
    spec = challenge["spec"]
    namespace = secret_namespace(
        (spec.get("issuerRef") or {}).get("kind", "Issuer"),
        challenge["metadata"]["namespace"],
        cluster_resource_namespace,
    )
    provider = await provider_for(kube, dns01, namespace=namespace, nameservers=nameservers)
    await provider.clean_up(record)
