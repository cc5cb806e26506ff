"""One Secret, one Certificate (issue 10): which of several Certificates naming one Secret owns it.

Two Certificates writing one Secret would re-issue each other's certificate forever (cert-manager
#4846). Exactly one owns it, by a rule that every replica and every restart computes the same way
from what the API holds: the Certificate the Secret's annotation names if it is among them; else
one with an issuance under way (so that two applied at once never both order); else the oldest,
then by name. The others wait, write nothing and order nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Claimant:
    name: str
    created: str  # metadata.creationTimestamp: RFC 3339 in UTC, so text order is time order
    issuing: bool = False


def owner(claimants: Sequence[Claimant], named_by_secret: str | None) -> str:
    """The name of the Certificate that owns the Secret; ``claimants`` is never empty."""
    names = {claimant.name for claimant in claimants}
    if named_by_secret in names:
        assert named_by_secret is not None
        return named_by_secret
    issuing = [claimant for claimant in claimants if claimant.issuing]
    return min(issuing or claimants, key=lambda claimant: (claimant.created, claimant.name)).name
