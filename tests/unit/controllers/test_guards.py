"""A Secret that cannot hold a TLS certificate is found before ordering (issue 10)."""

from __future__ import annotations

from typing import Any

import pytest

from certwright.controllers.guards import unwritable
from certwright.domain.conditions import Reason
from certwright.domain.specs import parse_certificate

SPEC = parse_certificate({"secretName": "pre-tls", "dnsNames": ["a.example"], "issuerRef": {"name": "le"}})


@pytest.mark.parametrize(
    ("secret", "reason", "says"),
    [
        (None, None, ""),
        ({"type": "kubernetes.io/tls"}, None, ""),
        ({"type": "Opaque"}, Reason.SECRET_TYPE_MISMATCH, "Secret pre-tls has type Opaque"),
        ({}, Reason.SECRET_TYPE_MISMATCH, "has type Opaque"),
        ({"type": "kubernetes.io/tls", "immutable": True}, Reason.SECRET_IMMUTABLE, "Secret pre-tls is immutable"),
    ],
    ids=["absent", "tls", "opaque", "no-type-is-opaque", "immutable"],
)
def test_unwritable(secret: dict[str, Any] | None, reason: Reason | None, says: str) -> None:
    found = unwritable(SPEC, secret)

    if reason is None:
        assert found is None
    else:
        assert found is not None
        assert found[0] == reason
        assert says in found[1]
        assert "delete it or pick another spec.secretName" in found[1]
