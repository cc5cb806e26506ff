"""RFC 8555, RFC 9773 and profiles objects as typed josepy objects with explicit wire names.

Server objects are read leniently (fields a server may omit default to empty); request payloads
are written exactly (empty fields are left out).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import josepy as jose

from .errors import NotAnAcmeServer, Problem

REQUIRED_DIRECTORY_KEYS = ("newNonce", "newAccount", "newOrder", "revokeCert", "keyChange")


def _identifiers(value: Any) -> tuple[Identifier, ...]:
    return tuple(Identifier.from_json(item) for item in value)


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in value)


def _problem(value: Any) -> Problem | None:
    return Problem.from_json(value) if value else None


class Directory:
    """The directory (RFC 8555 §7.1.1): every URL the client uses comes from here."""

    def __init__(self, url: str, body: Mapping[str, Any]) -> None:
        missing = [key for key in REQUIRED_DIRECTORY_KEYS if not isinstance(body.get(key), str)]
        if missing:
            raise NotAnAcmeServer(f"{url} is not an ACME directory: it lacks {', '.join(missing)}")
        self.url = url
        self._body = dict(body)
        self.meta: Mapping[str, Any] = body.get("meta") or {}

    def __getitem__(self, key: str) -> str:
        value: str = self._body[key]
        return value

    def get(self, key: str) -> str | None:
        value = self._body.get(key)
        return value if isinstance(value, str) else None

    @property
    def renewal_info(self) -> str | None:
        """The ARI endpoint (RFC 9773), when the CA offers one."""
        return self.get("renewalInfo")

    @property
    def profiles(self) -> Mapping[str, str]:
        """Profile names and their descriptions (draft-ietf-acme-profiles)."""
        profiles = self.meta.get("profiles") or {}
        return {str(name): str(text) for name, text in profiles.items()}

    @property
    def terms_of_service(self) -> str | None:
        value = self.meta.get("termsOfService")
        return str(value) if value else None

    @property
    def external_account_required(self) -> bool:
        return bool(self.meta.get("externalAccountRequired"))


class Identifier(jose.JSONObjectWithFields):
    type: str = jose.field("type", default="dns")
    value: str = jose.field("value")


class AccountBody(jose.JSONObjectWithFields):
    """An account object as the CA returns it (§7.1.2)."""

    status: str = jose.field("status", omitempty=True, default="")
    contact: tuple[str, ...] = jose.field("contact", omitempty=True, default=(), decoder=_strings)
    orders: str | None = jose.field("orders", omitempty=True)


class NewAccount(jose.JSONObjectWithFields):
    """newAccount payload (§7.3)."""

    contact: tuple[str, ...] = jose.field("contact", omitempty=True, default=())
    terms_of_service_agreed: bool | None = jose.field("termsOfServiceAgreed", omitempty=True)
    only_return_existing: bool | None = jose.field("onlyReturnExisting", omitempty=True)
    external_account_binding: dict[str, Any] | None = jose.field("externalAccountBinding", omitempty=True)


class AccountUpdate(jose.JSONObjectWithFields):
    """Account update payload (§7.3.2, §7.3.6)."""

    contact: tuple[str, ...] | None = jose.field("contact", omitempty=True)
    status: str | None = jose.field("status", omitempty=True)


class NewOrder(jose.JSONObjectWithFields):
    """newOrder payload (§7.4), with RFC 9773 ``replaces`` and the profiles draft's ``profile``."""

    identifiers: tuple[Identifier, ...] = jose.field("identifiers")
    profile: str | None = jose.field("profile", omitempty=True)
    replaces: str | None = jose.field("replaces", omitempty=True)


class OrderBody(jose.JSONObjectWithFields):
    """An order object (§7.1.3)."""

    status: str = jose.field("status")
    expires: str | None = jose.field("expires", omitempty=True)
    identifiers: tuple[Identifier, ...] = jose.field("identifiers", omitempty=True, default=(), decoder=_identifiers)
    authorizations: tuple[str, ...] = jose.field("authorizations", omitempty=True, default=(), decoder=_strings)
    finalize: str = jose.field("finalize", omitempty=True, default="")
    certificate: str | None = jose.field("certificate", omitempty=True)
    error: Problem | None = jose.field("error", omitempty=True, decoder=_problem)
    profile: str | None = jose.field("profile", omitempty=True)
    replaces: str | None = jose.field("replaces", omitempty=True)


class ChallengeBody(jose.JSONObjectWithFields):
    """A challenge object (§7.1.5, §8)."""

    type: str = jose.field("type")
    url: str = jose.field("url")
    status: str = jose.field("status", omitempty=True, default="pending")
    token: str = jose.field("token", omitempty=True, default="")
    validated: str | None = jose.field("validated", omitempty=True)
    error: Problem | None = jose.field("error", omitempty=True, decoder=_problem)


def _challenges(value: Any) -> tuple[ChallengeBody, ...]:
    return tuple(ChallengeBody.from_json(item) for item in value)


class AuthorizationBody(jose.JSONObjectWithFields):
    """An authorization object (§7.1.4)."""

    identifier: Identifier = jose.field("identifier", decoder=Identifier.from_json)
    status: str = jose.field("status")
    expires: str | None = jose.field("expires", omitempty=True)
    challenges: tuple[ChallengeBody, ...] = jose.field("challenges", omitempty=True, default=(), decoder=_challenges)
    wildcard: bool = jose.field("wildcard", omitempty=True, default=False)

    def challenge(self, kind: str) -> ChallengeBody | None:
        return next((challenge for challenge in self.challenges if challenge.type == kind), None)

    def failure(self) -> Problem | None:
        """The error of the challenge that failed, if any."""
        return next((challenge.error for challenge in self.challenges if challenge.error), None)


class Finalize(jose.JSONObjectWithFields):
    """finalize payload (§7.4): the CSR in DER, base64url."""

    csr: bytes = jose.field("csr", encoder=jose.encode_b64jose)


class Revocation(jose.JSONObjectWithFields):
    """revokeCert payload (§7.6)."""

    certificate: bytes = jose.field("certificate", encoder=jose.encode_b64jose)
    reason: int | None = jose.field("reason", omitempty=True)


class KeyChange(jose.JSONObjectWithFields):
    """The inner payload of a key rollover (§7.3.5)."""

    account: str = jose.field("account")
    old_key: jose.JWK = jose.field("oldKey")
