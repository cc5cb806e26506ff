"""Certificate and Issuer specs, parsed once at the boundary into frozen dataclasses.

The CRD schemas reject most malformed input at the API server; what reaches here is checked again so
that a handler never indexes raw dicts, and a ``SpecError`` names the field and how to fix it.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..dns.errors import DnsConfigError
from ..dns.rfc2136 import parse_config as parse_rfc2136
from ..pki.keys import KeySpec

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class SpecError(ValueError):
    """A spec field is wrong; ``field`` is its path, the message says how to fix it."""

    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(f"{field_path}: {message}")
        self.field = field_path


def parse_duration(text: str, field_path: str) -> datetime.timedelta:
    """A Go duration (``720h``, ``1h30m``, ``90s``), as cert-manager's renewBefore takes it."""
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise SpecError(field_path, f"{text!r} is not a duration such as 720h or 1h30m")
    return datetime.timedelta(seconds=sum(float(number) * _UNITS[unit] for number, unit in parts))


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class IssuerRef:
    name: str
    kind: str = "Issuer"

    @property
    def cluster_scoped(self) -> bool:
        return self.kind == "ClusterIssuer"


@dataclass(frozen=True)
class CertificateSpec:
    secret_name: str
    dns_names: tuple[str, ...]
    issuer_ref: IssuerRef
    key: KeySpec
    rotate_key: bool
    renew_before: datetime.timedelta | None
    renew_before_text: str | None = None  # as the user wrote it (2400h), for messages
    secret_labels: Mapping[str, str] = field(default_factory=dict)
    secret_annotations: Mapping[str, str] = field(default_factory=dict)


def parse_certificate(spec: Mapping[str, Any]) -> CertificateSpec:
    """A Certificate's spec, or SpecError naming the field."""
    secret_name = spec.get("secretName")
    if not isinstance(secret_name, str) or not secret_name:
        raise SpecError("spec.secretName", "is required: the name of the Secret to write")
    names = spec.get("dnsNames")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise SpecError("spec.dnsNames", "needs 1 to 100 DNS names")
    if len(names) > 100:
        raise SpecError("spec.dnsNames", f"has {len(names)} names; a certificate holds at most 100")
    addresses = [name for name in names if _is_ip(name)]
    if addresses:
        raise SpecError(
            "spec.dnsNames", f"{addresses[0]} is an IP address; certwright issues certificates for DNS names only"
        )
    ref = spec.get("issuerRef") or {}
    if not ref.get("name"):
        raise SpecError("spec.issuerRef.name", "is required: the Issuer or ClusterIssuer to use")
    kind = ref.get("kind") or "Issuer"
    if kind not in ("Issuer", "ClusterIssuer"):
        raise SpecError("spec.issuerRef.kind", f"{kind!r} must be Issuer or ClusterIssuer")
    key = spec.get("privateKey") or {}
    algorithm = key.get("algorithm") or "ECDSA"
    size = key.get("size") or (256 if algorithm == "ECDSA" else 2048)
    try:
        key_spec = KeySpec(algorithm=algorithm, size=int(size))
    except ValueError as error:
        raise SpecError("spec.privateKey", str(error)) from error
    renew_before = spec.get("renewBefore")
    template = spec.get("secretTemplate") or {}
    return CertificateSpec(
        secret_name=secret_name,
        dns_names=tuple(dict.fromkeys(name.lower() for name in names)),
        issuer_ref=IssuerRef(name=ref["name"], kind=kind),
        key=key_spec,
        rotate_key=(key.get("rotationPolicy") or "Always") == "Always",
        renew_before=parse_duration(renew_before, "spec.renewBefore") if renew_before else None,
        renew_before_text=renew_before or None,
        secret_labels=dict(template.get("labels") or {}),
        secret_annotations=dict(template.get("annotations") or {}),
    )


@dataclass(frozen=True)
class SecretRef:
    name: str
    key: str


@dataclass(frozen=True)
class ExternalAccount:
    key_id: str
    secret: SecretRef
    algorithm: str


@dataclass(frozen=True)
class SelfCheck:
    """``Check``: fetch the URL as the CA will; ``Wait``: for hairpin-NAT clusters, wait instead."""

    mode: str = "Check"
    wait_seconds: int = 10
    timeout_seconds: int = 60
    nameservers: str = "Authoritative"  # DNS-01: the zone's authoritative nameservers, or the solver's own


@dataclass(frozen=True)
class ParentRef:
    """A Gateway (or one of its listeners) the solver's HTTPRoute attaches to; ``namespace`` None:
    the Certificate's."""

    name: str
    namespace: str | None = None
    kind: str = "Gateway"
    group: str = "gateway.networking.k8s.io"
    section_name: str | None = None
    port: int | None = None

    def to_route(self) -> dict[str, Any]:
        """As an HTTPRoute's spec.parentRefs entry."""
        ref: dict[str, Any] = {"group": self.group, "kind": self.kind, "name": self.name}
        if self.namespace:
            ref["namespace"] = self.namespace
        if self.section_name:
            ref["sectionName"] = self.section_name
        if self.port:
            ref["port"] = self.port
        return ref


@dataclass(frozen=True)
class Dns01:
    """A DNS-01 solver: ``provider`` is rfc2136 or a plug-in's name, ``config`` its settings at ``field``."""

    provider: str
    config: Mapping[str, Any]
    field: str
    follow_cname: bool = False


@dataclass(frozen=True)
class Solver:
    ingress_class: str | None = None
    service_type: str = "ClusterIP"
    dns_names: tuple[str, ...] = ()
    dns_zones: tuple[str, ...] = ()
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    pod_annotations: Mapping[str, str] = field(default_factory=dict)
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Mapping[str, Any], ...] = ()
    priority_class: str | None = None
    ingress_labels: Mapping[str, str] = field(default_factory=dict)
    ingress_annotations: Mapping[str, str] = field(default_factory=dict)
    self_check: SelfCheck = field(default_factory=SelfCheck)
    parent_refs: tuple[ParentRef, ...] = ()  # HTTP-01 through a Gateway API HTTPRoute instead of an Ingress
    route_labels: Mapping[str, str] = field(default_factory=dict)
    dns01: Dns01 | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)  # as written, kept on its Challenges

    @property
    def challenge_type(self) -> str:
        return "dns-01" if self.dns01 is not None else "http-01"


@dataclass(frozen=True)
class IssuerSpec:
    server: str
    email: str | None
    account_key: SecretRef
    ca_bundle: bytes | None
    external_account: ExternalAccount | None
    profile: str | None
    preferred_chain: str | None
    solvers: tuple[Solver, ...]


def parse_issuer(spec: Mapping[str, Any]) -> IssuerSpec:
    """An Issuer's or ClusterIssuer's spec, or SpecError naming the field."""
    acme = spec.get("acme")
    if not isinstance(acme, Mapping):
        raise SpecError("spec.acme", "is required: the ACME server and account")
    server = acme.get("server")
    if not isinstance(server, str) or not server.startswith("https://"):
        raise SpecError("spec.acme.server", "must be the https:// URL of an ACME directory")
    key_ref = acme.get("privateKeySecretRef") or {}
    if not key_ref.get("name"):
        raise SpecError("spec.acme.privateKeySecretRef.name", "is required: the Secret that holds the account key")
    return IssuerSpec(
        server=server,
        email=acme.get("email") or None,
        account_key=SecretRef(key_ref["name"], key_ref.get("key") or "tls.key"),
        ca_bundle=_ca_bundle(acme.get("caBundle")),
        external_account=_external_account(acme.get("externalAccountBinding")),
        profile=acme.get("profile") or None,
        preferred_chain=acme.get("preferredChain") or None,
        solvers=tuple(parse_solver(solver, index) for index, solver in enumerate(acme.get("solvers") or [])),
    )


def _ca_bundle(value: Any) -> bytes | None:
    if not value:
        return None
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as error:
        raise SpecError("spec.acme.caBundle", "must be base64 of a PEM bundle (base64 -w0 ca.pem)") from error
    if b"-----BEGIN CERTIFICATE-----" not in decoded:
        raise SpecError("spec.acme.caBundle", "decodes to no PEM certificate; give base64 of the CA's PEM file")
    return decoded


def _external_account(value: Any) -> ExternalAccount | None:
    if not value:
        return None
    secret = value.get("keySecretRef") or {}
    if not value.get("keyID") or not secret.get("name"):
        raise SpecError("spec.acme.externalAccountBinding", "needs keyID and keySecretRef.name")
    return ExternalAccount(
        key_id=value["keyID"],
        secret=SecretRef(secret["name"], secret.get("key") or "secret"),
        algorithm=value.get("keyAlgorithm") or "HS256",
    )


def parse_solver(value: Mapping[str, Any], index: int) -> Solver:
    """One entry of ``spec.acme.solvers`` (also as a Challenge keeps it), or SpecError naming the field."""
    http01, dns01 = value.get("http01"), value.get("dns01")
    path = f"spec.acme.solvers[{index}]"
    if isinstance(http01, Mapping) == isinstance(dns01, Mapping):
        raise SpecError(path, "needs exactly one of http01 or dns01")
    selector = value.get("selector") or {}
    check = value.get("selfCheck") or {}
    common: dict[str, Any] = {
        "dns_names": tuple(n.lower() for n in selector.get("dnsNames") or []),
        "dns_zones": tuple(z.lower().strip(".") for z in selector.get("dnsZones") or []),
        "self_check": SelfCheck(
            mode=check.get("mode") or "Check",
            wait_seconds=int(check.get("waitSeconds") or 10),
            timeout_seconds=int(check.get("timeoutSeconds") or 60),
            nameservers=check.get("nameservers") or "Authoritative",
        ),
        "raw": dict(value),
    }
    if isinstance(dns01, Mapping):
        return Solver(dns01=_dns01(dns01, f"{path}.dns01"), **common)
    assert isinstance(http01, Mapping)
    ingress, route = http01.get("ingress"), http01.get("gatewayHTTPRoute")
    if isinstance(ingress, Mapping) == isinstance(route, Mapping):
        raise SpecError(f"{path}.http01", "needs exactly one of ingress or gatewayHTTPRoute")
    template = ingress if isinstance(ingress, Mapping) else route
    assert isinstance(template, Mapping)
    pod = template.get("podTemplate") or {}
    pod_meta, pod_spec = pod.get("metadata") or {}, pod.get("spec") or {}
    ingress_meta = ((ingress or {}).get("ingressTemplate") or {}).get("metadata") or {}
    return Solver(
        ingress_class=(ingress or {}).get("ingressClassName") or None,
        service_type=template.get("serviceType") or "ClusterIP",
        pod_labels=dict(pod_meta.get("labels") or {}),
        pod_annotations=dict(pod_meta.get("annotations") or {}),
        node_selector=dict(pod_spec.get("nodeSelector") or {}),
        tolerations=tuple(pod_spec.get("tolerations") or []),
        priority_class=pod_spec.get("priorityClassName") or None,
        ingress_labels=dict(ingress_meta.get("labels") or {}),
        ingress_annotations=dict(ingress_meta.get("annotations") or {}),
        parent_refs=_parent_refs((route or {}).get("parentRefs"), f"{path}.http01.gatewayHTTPRoute.parentRefs")
        if isinstance(route, Mapping)
        else (),
        route_labels=dict((route or {}).get("labels") or {}),
        **common,
    )


def _parent_refs(value: Any, path: str) -> tuple[ParentRef, ...]:
    if not isinstance(value, list) or not value:
        raise SpecError(path, "needs at least one Gateway to attach the solver's HTTPRoute to")
    refs = []
    for index, ref in enumerate(value):
        if not isinstance(ref, Mapping) or not ref.get("name"):
            raise SpecError(f"{path}[{index}].name", "is required: the Gateway's name")
        refs.append(
            ParentRef(
                name=str(ref["name"]),
                namespace=ref.get("namespace") or None,
                kind=ref.get("kind") or "Gateway",
                group=ref.get("group") or "gateway.networking.k8s.io",
                section_name=ref.get("sectionName") or None,
                port=int(ref["port"]) if ref.get("port") else None,
            )
        )
    return tuple(refs)


def _dns01(value: Mapping[str, Any], path: str) -> Dns01:
    """The provider of a dns01 solver: rfc2136 (checked here) or a plug-in (checked when it is built)."""
    rfc2136, plugin = value.get("rfc2136"), value.get("plugin")
    follow = (value.get("cnameStrategy") or "None") == "Follow"
    if isinstance(rfc2136, Mapping) == isinstance(plugin, Mapping):
        raise SpecError(path, "needs exactly one provider: rfc2136, or plugin{name, config}")
    if isinstance(rfc2136, Mapping):
        try:
            parse_rfc2136(rfc2136, f"{path}.rfc2136")
        except DnsConfigError as error:
            raise SpecError(error.field, str(error).split(": ", 1)[1]) from error
        return Dns01("rfc2136", dict(rfc2136), f"{path}.rfc2136", follow)
    assert isinstance(plugin, Mapping)
    if not plugin.get("name"):
        raise SpecError(f"{path}.plugin.name", "is required: the name of the installed DNS provider plug-in")
    return Dns01(str(plugin["name"]), dict(plugin.get("config") or {}), f"{path}.plugin.config", follow)


def solver_for(solvers: tuple[Solver, ...], dns_name: str) -> Solver | None:
    """The solver for a name, as cert-manager picks: an exact dnsNames match, then the longest
    dnsZones suffix, then a solver without a selector. HTTP-01 cannot validate a wildcard (RFC 8555
    §7.1.3: the CA offers only DNS-01 for it), so a wildcard's solver is a DNS-01 one."""
    if dns_name.startswith("*."):
        solvers = tuple(s for s in solvers if s.dns01 is not None)
    exact = [s for s in solvers if dns_name in s.dns_names]
    if exact:
        return exact[0]
    zoned = [
        (len(zone), s) for s in solvers for zone in s.dns_zones if dns_name == zone or dns_name.endswith("." + zone)
    ]
    if zoned:
        return max(zoned, key=lambda pair: pair[0])[1]
    return next((s for s in solvers if not s.dns_names and not s.dns_zones), None)
