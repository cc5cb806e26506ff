"""Problem documents (RFC 8555 §6.7) become one exception class each, keeping what the CA said."""

from __future__ import annotations

import builtins

import pytest

from certwright.acme import errors
from certwright.acme.errors import (
    ACME_ERROR_PREFIX,
    Compound,
    Problem,
    ProblemError,
    RateLimited,
    ServerInternal,
    Subproblem,
    UserActionRequired,
    problem_error,
)

# Every registered ACME error type (RFC 8555 §6.7, RFC 9773 §7.4, the profiles draft, Pebble's older name).
BY_TYPE: dict[str, type[ProblemError]] = {
    "accountDoesNotExist": errors.AccountDoesNotExist,
    "agreementRequired": errors.AgreementRequired,
    "alreadyReplaced": errors.AlreadyReplaced,
    "alreadyRevoked": errors.AlreadyRevoked,
    "badCSR": errors.BadCSR,
    "badNonce": errors.BadNonce,
    "badPublicKey": errors.BadPublicKey,
    "badRevocationReason": errors.BadRevocationReason,
    "badSignatureAlgorithm": errors.BadSignatureAlgorithm,
    "caa": errors.Caa,
    "compound": errors.Compound,
    "connection": errors.Connection,
    "dns": errors.Dns,
    "externalAccountRequired": errors.ExternalAccountRequired,
    "incorrectResponse": errors.IncorrectResponse,
    "invalidContact": errors.InvalidContact,
    "invalidProfile": errors.InvalidProfile,
    "malformed": errors.Malformed,
    "orderNotReady": errors.OrderNotReady,
    "rateLimited": errors.RateLimited,
    "rejectedIdentifier": errors.RejectedIdentifier,
    "serverInternal": errors.ServerInternal,
    "tls": errors.Tls,
    "unauthorized": errors.Unauthorized,
    "unsupportedContact": errors.UnsupportedContact,
    "unsupportedIdentifier": errors.UnsupportedIdentifier,
    "userActionRequired": errors.UserActionRequired,
}


@pytest.mark.parametrize(("short_type", "kind"), BY_TYPE.items(), ids=list(BY_TYPE))
def test_each_acme_problem_type_has_its_class(short_type: str, kind: type[ProblemError]) -> None:
    problem = Problem(type=f"{ACME_ERROR_PREFIX}{short_type}", detail="what the CA said", status=400)
    error = problem_error(problem, "https://acme.test/x")
    assert type(error) is kind
    assert error.problem is problem
    assert error.url == "https://acme.test/x"
    assert str(error) == f"{short_type}: what the CA said (from https://acme.test/x)"


def test_every_problem_class_is_in_the_table() -> None:
    """A class added to errors.py without a row here would go untested."""
    assert set(ProblemError.__subclasses__()) == set(BY_TYPE.values())


@pytest.mark.parametrize(
    ("type_", "status", "kind"),
    [
        (f"{ACME_ERROR_PREFIX}somethingNew", 500, ServerInternal),
        (f"{ACME_ERROR_PREFIX}somethingNew", 503, ServerInternal),
        ("about:blank", 502, ServerInternal),
        (f"{ACME_ERROR_PREFIX}somethingNew", 400, ProblemError),
        ("about:blank", 404, ProblemError),
        ("urn:example:badNonce", 400, ProblemError),  # a known short name outside the ACME namespace
        ("badNonce", 400, ProblemError),
    ],
    ids=["unknown-500", "unknown-503", "blank-502", "unknown-400", "blank-404", "foreign-namespace", "no-prefix"],
)
def test_unknown_types_map_by_status(type_: str, status: int, kind: type[ProblemError]) -> None:
    assert type(problem_error(Problem(type=type_, status=status))) is kind


def test_compound_problem_keeps_each_subproblem_with_its_identifier() -> None:
    body = {
        "type": f"{ACME_ERROR_PREFIX}compound",
        "detail": "Errors during validation",
        "status": 403,
        "subproblems": [
            {
                "type": f"{ACME_ERROR_PREFIX}caa",
                "detail": "CAA forbids issuance",
                "identifier": {"type": "dns", "value": "a.example.test"},
            },
            {
                "type": f"{ACME_ERROR_PREFIX}dns",
                "detail": "NXDOMAIN",
                "identifier": {"type": "dns", "value": "b.example.test"},
            },
            {"type": f"{ACME_ERROR_PREFIX}malformed", "detail": "no identifier"},
        ],
    }
    error = problem_error(Problem.from_json(body))
    assert isinstance(error, Compound)
    assert error.problem.subproblems == (
        Subproblem(f"{ACME_ERROR_PREFIX}caa", "CAA forbids issuance", "a.example.test"),
        Subproblem(f"{ACME_ERROR_PREFIX}dns", "NXDOMAIN", "b.example.test"),
        Subproblem(f"{ACME_ERROR_PREFIX}malformed", "no identifier", None),
    )
    assert str(error) == (
        "compound: Errors during validation; a.example.test: caa: CAA forbids issuance; "
        "b.example.test: dns: NXDOMAIN; ?: malformed: no identifier"
    )


def test_user_action_required_keeps_the_instance_to_visit() -> None:
    body = {
        "type": f"{ACME_ERROR_PREFIX}userActionRequired",
        "detail": "Terms of service have changed",
        "instance": "https://acme.test/agreement/v2",
    }
    error = problem_error(Problem.from_json(body, status=403))
    assert isinstance(error, UserActionRequired)
    assert error.problem.instance == "https://acme.test/agreement/v2"
    assert error.problem.status == 403


def test_rate_limited_keeps_retry_after() -> None:
    problem = Problem(type=f"{ACME_ERROR_PREFIX}rateLimited", detail="too many certificates", status=429)
    error = problem_error(problem, "https://acme.test/new-order", retry_after=120.0)
    assert isinstance(error, RateLimited)
    assert error.retry_after == 120.0


@pytest.mark.parametrize(
    ("body", "http_status", "expected"),
    [
        ({"type": "about:blank"}, 404, Problem(type="about:blank", status=404)),
        ({"type": "about:blank", "status": 400}, 500, Problem(type="about:blank", status=400)),
        ({}, 418, Problem(type="about:blank", status=418)),
        ({"type": "about:blank", "detail": 7}, 400, Problem(type="about:blank", detail="7", status=400)),
    ],
    ids=["status-from-http", "status-from-body", "no-type", "detail-not-a-string"],
)
def test_problem_from_json_is_lenient(body: dict[str, object], http_status: int, expected: Problem) -> None:
    assert Problem.from_json(body, http_status) == expected


def test_problem_str_without_detail_is_the_short_type() -> None:
    assert str(Problem(type=f"{ACME_ERROR_PREFIX}badCSR")) == "badCSR"


@pytest.mark.parametrize(
    ("kind", "base"),
    [
        (errors.TLSVerificationError, errors.TransportError),
        (errors.ConnectionFailed, errors.TransportError),
        (errors.NotAnAcmeServer, errors.TransportError),
        (errors.TransportError, errors.AcmeError),
        (errors.ProblemError, errors.AcmeError),
        (errors.ProfileNotOffered, errors.ClientError),
        (errors.OrderFailed, errors.ClientError),
        (errors.AuthorizationFailed, errors.ClientError),
        (errors.PollTimeout, errors.ClientError),
        (errors.ClientError, errors.AcmeError),
    ],
    ids=lambda value: value.__name__,
)
def test_the_tree_is_as_drawn(kind: type[Exception], base: type[Exception]) -> None:
    assert issubclass(kind, base)


def test_no_error_shadows_a_builtin() -> None:
    """certbot's acme.errors.TimeoutError hid the builtin; none of ours may."""
    ours = {name for name, value in vars(errors).items() if isinstance(value, type) and issubclass(value, Exception)}
    assert ours.isdisjoint(vars(builtins))
