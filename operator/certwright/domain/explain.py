"""ACME errors in words a user can act on: the CA's problem verbatim, then the next step."""

from __future__ import annotations

from ..acme.errors import (
    AccountDoesNotExist,
    AcmeError,
    ConnectionFailed,
    ExternalAccountRequired,
    RateLimited,
    UserActionRequired,
)
from .conditions import Reason


def explain(error: AcmeError) -> str:
    if isinstance(error, ExternalAccountRequired):
        return f"{error}; the CA requires external account binding: set spec.acme.externalAccountBinding"
    if isinstance(error, UserActionRequired):
        return f"{error}; a person must act at {error.problem.instance or 'the CA'} (for example, agree to new terms)"
    if isinstance(error, RateLimited):
        wait = f"{error.retry_after:.0f} s" if error.retry_after else "the time the CA names"
        return f"{error}; the CA's rate limit was hit: certwright waits {wait} before asking again"
    if isinstance(error, AccountDoesNotExist):
        return (
            f"{error}; the CA no longer knows the issuer's account (the CA was reset, or the account removed): "
            "certwright registers it again from its key and tries again"
        )
    if isinstance(error, ConnectionFailed):
        return f"{error}; check that the operator can reach the ACME server (egress, proxy, DNS)"
    return str(error)


def reason_for(error: AcmeError) -> Reason:
    if isinstance(error, RateLimited):
        return Reason.RATE_LIMITED
    if isinstance(error, AccountDoesNotExist):
        return Reason.ACCOUNT_NOT_FOUND
    return Reason.ACME_ERROR
