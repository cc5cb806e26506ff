"""The private key of one issuance: made (or kept) before the order, stored in its own Secret so that a
crash cannot lose it, and matched with the certificate the CA issued before anything is written.

A next-key Secret found although status names no order marks a run that may have ordered before it
could record the order (the issuance then looks for that order instead of placing another).
"""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any

from ..acme.client import AcmeClient
from ..domain.conditions import Reason
from ..domain.continuity import key_of
from ..domain.specs import CertificateSpec, IssuerSpec
from ..kube import builders
from ..kube.client import Conflict
from ..kube.context import Context
from ..pki import certificates as pki_certificates
from ..pki import keys as pki_keys
from .job import IssuanceFailed, Job

log = logging.getLogger(__name__)


class Keys(Job):
    """The key steps of one issuance; ``secret`` is the TLS Secret as the reconcile read it (or not)."""

    def __init__(
        self,
        context: Context,
        certificate: dict[str, Any],
        spec: CertificateSpec,
        issuer: IssuerSpec,
        client: AcmeClient,
        secret: object,
    ) -> None:
        super().__init__(context, certificate, spec, issuer, client)
        self.secret = secret

    async def next_key(self, status: dict[str, Any]) -> tuple[bytes, bool]:
        """The key for this issuance, stored before the order so that a crash cannot lose it; True when
        the key Secret was there although status names no order (an earlier run may have ordered)."""
        name = status.get("nextPrivateKeySecretName")
        if name:
            stored = await self.context.kube.get_secret(self.namespace, name)
            encoded = ((stored or {}).get("data") or {}).get("tls.key")
            if encoded:
                return base64.b64decode(encoded), False
            log.warning("%s/%s: Secret %s named in status is gone; a new key", self.namespace, self.name, name)
        key_pem = await self._reusable() or pki_keys.key_to_pem(
            await asyncio.to_thread(pki_keys.generate_key, self.spec.key)
        )
        name = builders.next_key_name(self.name)
        manifest = builders.build_key_secret(self.certificate, name, key_pem)
        leftover = False
        try:
            await self.context.kube.create_secret(self.namespace, manifest)
        except Conflict:  # left by a run that stopped before its order was recorded
            log.info("%s/%s: Secret %s was left by an earlier run", self.namespace, self.name, name)
            leftover = True
            kept = key_of(await self.context.kube.get_secret(self.namespace, name), self.spec)
            current = key_of(self.secret if isinstance(self.secret, dict) else None, self.spec)
            if kept is not None and (kept != current or not self.spec.rotate_key):  # never the key in use
                key_pem = kept
            else:
                await self.context.kube.replace_secret(self.namespace, manifest)
        status["nextPrivateKeySecretName"] = name
        return key_pem, leftover and not (status.get("order") or {}).get("url")

    async def matching(self, chain_pem: bytes, key_pem: bytes, order_url: str) -> bytes:
        """The private key of the certificate the CA issued: a Secret never holds a pair that does not
        match. A resumed order was finalized with the key of its run; should that not be the key this run
        loaded, it is looked for where it was kept, and the order is given up only when it is lost."""
        leaf = pki_certificates.parse_chain(chain_pem)[0]
        if pki_certificates.key_matches_certificate(pki_keys.key_from_pem(key_pem), leaf):
            return key_pem
        kube = self.context.kube
        for name in (builders.next_key_name(self.name), self.spec.secret_name):
            stored = key_of(await kube.get_secret(self.namespace, name), self.spec)
            if stored and pki_certificates.key_matches_certificate(pki_keys.key_from_pem(stored), leaf):
                log.warning(
                    "%s/%s: order %s was finalized with the key in %s", self.namespace, self.name, order_url, name
                )
                return stored
        raise IssuanceFailed(
            Reason.ORDER_FAILED,
            f"the certificate of order {order_url} matches no private key certwright kept; ordering again",
            order_spent=True,
        )

    async def _reusable(self) -> bytes | None:
        """With ``rotationPolicy: Never``, the current key is kept while it still fits the spec."""
        if self.spec.rotate_key:
            return None
        return key_of(await self.context.kube.get_secret(self.namespace, self.spec.secret_name), self.spec)
