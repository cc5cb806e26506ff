"""Every error the ACME client raises, in one tree.

    AcmeError
    ├── TransportError                 the CA could not be reached or did not speak ACME
    │   ├── TLSVerificationError       its certificate did not verify (pass the CA bundle of a private CA)
    │   ├── ConnectionFailed           refused, timed out, name did not resolve
    │   └── NotAnAcmeServer            the directory URL answered, but not with an ACME directory
    ├── ProblemError                   the CA answered with a problem document (RFC 8555 §6.7)
    │   ├── BadNonce                   …and kept rejecting nonces after every retry
    │   ├── RateLimited                carries retry_after; never retried before it
    │   ├── ServerInternal             serverInternal or another 5xx, after retries with backoff
    │   ├── Malformed, Unauthorized, OrderNotReady, BadCSR, AccountDoesNotExist,
    │   │   AlreadyRevoked, AlreadyReplaced, InvalidProfile, ExternalAccountRequired,
    │   │   UserActionRequired (instance), AgreementRequired, RejectedIdentifier,
    │   │   UnsupportedIdentifier, InvalidContact, UnsupportedContact, BadPublicKey,
    │   │   BadSignatureAlgorithm, BadRevocationReason, Caa, Dns, Connection, Tls,
    │   │   IncorrectResponse
    │   └── Compound                   several problems, each in subproblems with its identifier
    └── ClientError                    the request cannot be made as asked
        ├── ProfileNotOffered          the directory does not advertise that profile
        ├── OrderFailed                the order became invalid; carries the order's problem
        ├── AuthorizationFailed        an authorization became invalid; carries the challenge's problem
        └── PollTimeout                a resource stayed pending past the deadline

``problem_error`` maps a problem document to its class; unknown types become plain ``ProblemError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ACME_ERROR_PREFIX = "urn:ietf:params:acme:error:"


class AcmeError(Exception):
    """Base of everything the ACME client raises."""


class TransportError(AcmeError):
    """The CA could not be reached, or what answered is not an ACME server."""


class TLSVerificationError(TransportError):
    """The CA's TLS certificate did not verify against the trusted roots or the given CA bundle."""


class ConnectionFailed(TransportError):
    """Connecting to the CA failed (refused, timed out, name not resolved)."""


class NotAnAcmeServer(TransportError):
    """The directory URL answered with something that is not an ACME directory."""


@dataclass(frozen=True)
class Subproblem:
    """One part of a compound problem (RFC 8555 §6.7.1)."""

    type: str
    detail: str
    identifier: str | None


@dataclass(frozen=True)
class Problem:
    """A problem document as the CA sent it."""

    type: str
    detail: str = ""
    status: int = 0
    instance: str | None = None
    subproblems: tuple[Subproblem, ...] = field(default_factory=tuple)

    @property
    def short_type(self) -> str:
        return self.type.removeprefix(ACME_ERROR_PREFIX)

    @classmethod
    def from_json(cls, body: Mapping[str, Any], status: int = 0) -> Problem:
        subproblems = tuple(
            Subproblem(
                type=str(sub.get("type", "")),
                detail=str(sub.get("detail", "")),
                identifier=(sub.get("identifier") or {}).get("value"),
            )
            for sub in body.get("subproblems") or []
        )
        return cls(
            type=str(body.get("type", "about:blank")),
            detail=str(body.get("detail", "")),
            status=int(body.get("status", status) or status),
            instance=body.get("instance"),
            subproblems=subproblems,
        )

    def __str__(self) -> str:
        text = f"{self.short_type}: {self.detail}" if self.detail else self.short_type
        for sub in self.subproblems:
            text += f"; {sub.identifier or '?'}: {sub.type.removeprefix(ACME_ERROR_PREFIX)}: {sub.detail}"
        return text


class ProblemError(AcmeError):
    """The CA answered with a problem document; ``retry_after`` is its Retry-After in seconds, if any."""

    def __init__(self, problem: Problem, url: str = "", retry_after: float | None = None) -> None:
        self.problem = problem
        self.url = url
        self.retry_after = retry_after
        where = f" (from {url})" if url else ""
        super().__init__(f"{problem}{where}")


class BadNonce(ProblemError):
    """The CA rejected every nonce the client tried."""


class RateLimited(ProblemError):
    """The CA's rate limit was hit; ``retry_after`` is how many seconds it asks the client to wait."""


class ServerInternal(ProblemError):
    """The CA failed internally (serverInternal or HTTP 5xx) every time it was asked."""


class Malformed(ProblemError):
    pass


class Unauthorized(ProblemError):
    pass


class OrderNotReady(ProblemError):
    pass


class BadCSR(ProblemError):
    pass


class AccountDoesNotExist(ProblemError):
    pass


class AlreadyRevoked(ProblemError):
    pass


class AlreadyReplaced(ProblemError):
    """RFC 9773: the certificate named in ``replaces`` was already replaced; order again without it."""


class InvalidProfile(ProblemError):
    pass


class ExternalAccountRequired(ProblemError):
    """The CA requires external account binding (EAB) credentials to create an account."""


class UserActionRequired(ProblemError):
    """A person must act (for example, agree to new terms) at ``problem.instance``."""


class AgreementRequired(ProblemError):
    """The terms of service must be agreed to (Pebble's older name for it)."""


class RejectedIdentifier(ProblemError):
    pass


class UnsupportedIdentifier(ProblemError):
    pass


class InvalidContact(ProblemError):
    pass


class UnsupportedContact(ProblemError):
    pass


class BadPublicKey(ProblemError):
    pass


class BadSignatureAlgorithm(ProblemError):
    pass


class BadRevocationReason(ProblemError):
    pass


class Caa(ProblemError):
    pass


class Dns(ProblemError):
    pass


class Connection(ProblemError):
    pass


class Tls(ProblemError):
    pass


class IncorrectResponse(ProblemError):
    pass


class Compound(ProblemError):
    """Several problems at once; ``problem.subproblems`` names each identifier's."""


_BY_TYPE: dict[str, type[ProblemError]] = {
    "badNonce": BadNonce,
    "rateLimited": RateLimited,
    "serverInternal": ServerInternal,
    "malformed": Malformed,
    "unauthorized": Unauthorized,
    "orderNotReady": OrderNotReady,
    "badCSR": BadCSR,
    "accountDoesNotExist": AccountDoesNotExist,
    "alreadyRevoked": AlreadyRevoked,
    "alreadyReplaced": AlreadyReplaced,
    "invalidProfile": InvalidProfile,
    "externalAccountRequired": ExternalAccountRequired,
    "userActionRequired": UserActionRequired,
    "agreementRequired": AgreementRequired,
    "rejectedIdentifier": RejectedIdentifier,
    "unsupportedIdentifier": UnsupportedIdentifier,
    "invalidContact": InvalidContact,
    "unsupportedContact": UnsupportedContact,
    "badPublicKey": BadPublicKey,
    "badSignatureAlgorithm": BadSignatureAlgorithm,
    "badRevocationReason": BadRevocationReason,
    "caa": Caa,
    "dns": Dns,
    "connection": Connection,
    "tls": Tls,
    "incorrectResponse": IncorrectResponse,
    "compound": Compound,
}


def problem_error(problem: Problem, url: str = "", retry_after: float | None = None) -> ProblemError:
    """The exception for a problem document: its own class for known ACME types."""
    kind = _BY_TYPE.get(problem.short_type) if problem.type.startswith(ACME_ERROR_PREFIX) else None
    if kind is None and problem.status >= 500:
        kind = ServerInternal
    return (kind or ProblemError)(problem, url, retry_after)


class ClientError(AcmeError):
    """The request cannot be made as asked, or its outcome is final."""


class ProfileNotOffered(ClientError):
    """The requested profile is not among those the directory advertises."""


class OrderFailed(ClientError):
    """The order became invalid; ``problem`` is the CA's reason, when it gave one."""

    def __init__(self, message: str, problem: Problem | None = None) -> None:
        super().__init__(message)
        self.problem = problem


class AuthorizationFailed(ClientError):
    """An authorization became invalid; ``problem`` is the failed challenge's error."""

    def __init__(self, message: str, identifier: str, problem: Problem | None = None) -> None:
        super().__init__(message)
        self.identifier = identifier
        self.problem = problem


class PollTimeout(ClientError):
    """A resource was still not final when the deadline passed."""
