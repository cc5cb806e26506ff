"""ACME accounts of Issuers and ClusterIssuers: the key in its Secret, the registration, one client each.

The account key lives in the Secret that ``privateKeySecretRef`` names (generated, ES256, when missing);
the account is registered, or found again from its key, once per issuer spec; the client is kept in
memory for the Certificates that use the issuer. Keys and EAB secrets are never logged.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import josepy as jose
from cryptography.hazmat.primitives.asymmetric import ec

from ..acme.client import Account, AcmeClient, ExternalAccountBinding
from ..acme.transport import Observe, Transport, new_session
from ..domain import api
from ..domain.specs import IssuerSpec
from ..pki import keys as pki_keys
from .client import Kube
from .secrets import SecretCache

log = logging.getLogger(__name__)


class AccountSetupError(Exception):
    """The account cannot be set up for a reason the user must fix; the message says which."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class IssuerAccount:
    client: AcmeClient
    spec: IssuerSpec
    account: Account
    fingerprint: str


def issuer_key(kind: str, namespace: str | None, name: str) -> str:
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


class AccountRegistry:
    """One registered ACME client per issuer, refreshed when the issuer's spec changes."""

    def __init__(self, kube: Kube, cluster_resource_namespace: str, observe: Observe | None = None) -> None:
        self.kube = kube
        self.cluster_resource_namespace = cluster_resource_namespace
        self.observe = observe  # told of every ACME request (metrics)
        self.secrets: SecretCache | None = None  # generated account keys are read from it, not one GET each
        self.accounts: dict[str, IssuerAccount] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        # requests verifies against a file: one per distinct bundle, named by its content and shared
        # by every operator process on the host, so restarts (and kills) add nothing.
        self._bundles = Path(tempfile.gettempdir()) / "certwright-ca-bundles"

    def secret_namespace(self, issuer: dict[str, Any]) -> str:
        """Secrets of a ClusterIssuer live in the cluster resource namespace, as in cert-manager."""
        return issuer["metadata"].get("namespace") or self.cluster_resource_namespace

    def get(self, key: str) -> IssuerAccount | None:
        return self.accounts.get(key)

    async def ensure(self, key: str, issuer: dict[str, Any], spec: IssuerSpec, now: datetime.datetime) -> IssuerAccount:
        """The issuer's account, registering it (or updating its contact) when the spec changed."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            fingerprint = _fingerprint(spec)
            current = self.accounts.get(key)
            if current is not None and current.fingerprint == fingerprint:
                return current
            namespace = self.secret_namespace(issuer)
            account_key = await self._account_key(issuer, namespace, spec)
            session = new_session(self._bundle_file(spec))
            client = AcmeClient(Transport(spec.server, session=session, observe=self.observe), account_key)
            eab = await self._eab(namespace, spec) if spec.external_account else None
            contact = [f"mailto:{spec.email}"] if spec.email else []
            account = await asyncio.to_thread(client.register, contact, eab=eab)
            if tuple(account.body.contact) != tuple(contact):
                account = await asyncio.to_thread(client.update_contact, contact)
            registered = IssuerAccount(client, spec, account, fingerprint)
            self.accounts[key] = registered
            return registered

    def forget(self, key: str) -> None:
        self.accounts.pop(key, None)

    async def _account_key(self, issuer: dict[str, Any], namespace: str, spec: IssuerSpec) -> jose.JWK:
        ref = spec.account_key
        cached = await self.secrets.read(namespace, ref.name) if self.secrets is not None else None
        secret = cached or await self.kube.get_secret(namespace, ref.name)
        if secret is None:
            key = pki_keys.generate_key(pki_keys.KeySpec.default())
            body = {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "Opaque",
                "metadata": {"name": ref.name, "namespace": namespace, "labels": {api.LABEL_MANAGED: "true"}},
                "data": {ref.key: base64.b64encode(pki_keys.key_to_pem(key)).decode()},
            }
            await self.kube.create_secret(namespace, body)
            log.info("generated an ES256 account key in Secret %s/%s", namespace, ref.name)
            return jose.JWKEC(key=key)
        encoded = (secret.get("data") or {}).get(ref.key)
        if not encoded:
            raise AccountSetupError(
                "AccountKeyInvalid", f"Secret {namespace}/{ref.name} has no key {ref.key!r} for the account key"
            )
        try:
            key = pki_keys.key_from_pem(base64.b64decode(encoded))
        except ValueError as error:
            raise AccountSetupError(
                "AccountKeyInvalid", f"Secret {namespace}/{ref.name}[{ref.key}]: {error}"
            ) from error
        return jose.JWKEC(key=key) if isinstance(key, ec.EllipticCurvePrivateKey) else jose.JWKRSA(key=key)

    async def _eab(self, namespace: str, spec: IssuerSpec) -> ExternalAccountBinding:
        assert spec.external_account is not None
        ref = spec.external_account.secret
        secret = await self.kube.get_secret(namespace, ref.name)
        encoded = ((secret or {}).get("data") or {}).get(ref.key)
        if not encoded:
            raise AccountSetupError(
                "EABSecretMissing",
                f"the external account binding needs Secret {namespace}/{ref.name} with key {ref.key!r} "
                "holding the MAC key your CA gave you",
            )
        try:
            mac = base64.b64decode(encoded).decode("ascii").strip()
        except UnicodeDecodeError as error:
            raise AccountSetupError(
                "EABSecretInvalid",
                f"Secret {namespace}/{ref.name}[{ref.key}] is not the MAC key as text: put the base64url key your "
                "CA gave you there as it was given (kubectl create secret generic … --from-literal)",
            ) from error
        return ExternalAccountBinding(spec.external_account.key_id, mac, spec.external_account.algorithm)

    def _bundle_file(self, spec: IssuerSpec) -> str | None:
        if spec.ca_bundle is None:
            return None
        path = self._bundles / f"{hashlib.sha256(spec.ca_bundle).hexdigest()[:16]}.pem"
        if not path.exists():
            self._bundles.mkdir(mode=0o700, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.partial")
            partial.write_bytes(spec.ca_bundle)
            partial.replace(path)  # whole or absent, also for a process reading it at the same time
        return str(path)


def _fingerprint(spec: IssuerSpec) -> str:
    parts = [spec.server, spec.email or "", repr(spec.account_key), repr(spec.external_account), str(spec.ca_bundle)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()
