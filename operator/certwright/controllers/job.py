"""What the steps of one issuance share: the Certificate, its issuer and ACME client, and how a step fails."""

from __future__ import annotations

from typing import Any

from ..acme.client import AcmeClient
from ..domain.conditions import Reason
from ..domain.specs import CertificateSpec, IssuerSpec
from ..kube.context import Context


class Job:
    """One Certificate's issuance as its steps see it."""

    def __init__(
        self,
        context: Context,
        certificate: dict[str, Any],
        spec: CertificateSpec,
        issuer: IssuerSpec,
        client: AcmeClient,
    ) -> None:
        self.context = context
        self.certificate = certificate
        self.spec = spec
        self.issuer = issuer
        self.client = client
        self.namespace: str = certificate["metadata"]["namespace"]
        self.name: str = certificate["metadata"]["name"]


class IssuanceFailed(Exception):
    """An issuance step failed; ``reason`` goes on the conditions and the Event, ``order_spent`` says
    whether the order is unusable (a new one is needed next time)."""

    def __init__(
        self,
        reason: Reason,
        message: str,
        *,
        order_spent: bool = False,
        retry_after: float | None = None,
        at_once: bool = False,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.order_spent = order_spent
        self.retry_after = retry_after
        self.at_once = at_once  # the cause is already dealt with: try again now, without back-off
