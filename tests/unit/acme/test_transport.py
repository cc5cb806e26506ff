"""The network layer through a real requests.Session whose adapter is scripted (no sockets)."""

from __future__ import annotations

import datetime
from typing import Any

import josepy as jose
import pytest
import requests

from certwright.acme import jws
from certwright.acme.errors import (
    BadNonce,
    ConnectionFailed,
    Malformed,
    NotAnAcmeServer,
    RateLimited,
    ServerInternal,
    TLSVerificationError,
    TransportError,
)
from certwright.acme.messages import REQUIRED_DIRECTORY_KEYS
from certwright.acme.transport import JOSE_CONTENT_TYPE, Exchange, Transport, new_session

from .fakes import (
    ACCOUNT_URL,
    DIRECTORY_URL,
    NEW_NONCE,
    NEW_ORDER,
    NOW,
    FakeTime,
    ScriptedAdapter,
    account_key,
    directory_body,
    problem,
    reply,
    transport_for,
)

ORDER_URL = "https://acme.test/order/1"


def primed(*replies: requests.Response, **options: Any) -> tuple[Transport, ScriptedAdapter, FakeTime]:
    """A transport whose directory and first nonce are scripted, followed by ``replies``."""
    adapter = ScriptedAdapter(reply(body=directory_body()), reply(nonce="nonce0"), *replies)
    time = FakeTime()
    return transport_for(adapter, time, **options), adapter, time


# -- the directory ---------------------------------------------------------------------------------


def test_directory_is_fetched_once() -> None:
    adapter = ScriptedAdapter(reply(body=directory_body()))
    transport = transport_for(adapter)
    first = transport.directory()
    assert transport.directory() is first
    assert first["newOrder"] == NEW_ORDER
    assert [(sent.method, sent.url) for sent in adapter.sent] == [("GET", DIRECTORY_URL)]


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (reply(text="<html>Welcome to nginx</html>", content_type="text/html"), "HTTP 200 with text/html, not a JSON"),
        (reply(), "not a JSON directory"),
        (reply(body=["newNonce"]), "with application/json, not a JSON directory"),
        (reply(body={"meta": {}}), "lacks newNonce, newAccount, newOrder, revokeCert, keyChange"),
        (reply(body={**directory_body(), "newNonce": 42}), "lacks newNonce"),
    ],
    ids=["html", "empty", "json-array", "json-without-urls", "url-not-a-string"],
)
def test_a_directory_that_is_not_acme_is_named(answer: requests.Response, says: str) -> None:
    transport = transport_for(ScriptedAdapter(answer))
    with pytest.raises(NotAnAcmeServer, match=f"{DIRECTORY_URL} is not an ACME directory") as caught:
        transport.directory()
    assert says in str(caught.value)


@pytest.mark.parametrize("missing", REQUIRED_DIRECTORY_KEYS, ids=list(REQUIRED_DIRECTORY_KEYS))
def test_a_directory_without_a_required_url_is_not_acme(missing: str) -> None:
    body = directory_body()
    del body[missing]
    transport = transport_for(ScriptedAdapter(reply(body=body)))
    with pytest.raises(NotAnAcmeServer, match=f"{DIRECTORY_URL} is not an ACME directory: it lacks {missing}$"):
        transport.directory()


def test_a_directory_url_answering_404_html_is_not_acme() -> None:
    page = reply(404, text="<html>Not Found</html>", content_type="text/html")
    transport = transport_for(ScriptedAdapter(page))
    with pytest.raises(NotAnAcmeServer, match=DIRECTORY_URL):
        transport.directory()


# -- failures below HTTP ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raised", "kind", "says"),
    [
        (requests.exceptions.ConnectionError("Connection refused"), ConnectionFailed, "Connection refused"),
        (requests.exceptions.ConnectTimeout("timed out"), ConnectionFailed, "timed out"),
        (requests.exceptions.ReadTimeout("read timed out"), ConnectionFailed, "read timed out"),
        (requests.exceptions.SSLError("certificate verify failed"), TLSVerificationError, "CA bundle"),
    ],
    ids=["refused", "connect-timeout", "read-timeout", "tls"],
)
def test_network_failures_name_the_url(raised: Exception, kind: type[TransportError], says: str) -> None:
    transport = transport_for(ScriptedAdapter(raised))
    with pytest.raises(kind, match=DIRECTORY_URL) as caught:
        transport.directory()
    assert says in str(caught.value)
    assert caught.value.__cause__ is raised


def test_tls_failure_gives_the_root_cause() -> None:
    try:
        raise OSError("certificate verify failed: unable to get local issuer certificate")
    except OSError as cause:
        wrapped = requests.exceptions.SSLError(cause)
    transport = transport_for(ScriptedAdapter(wrapped))
    with pytest.raises(TLSVerificationError, match="unable to get local issuer certificate"):
        transport.directory()


# -- TLS verification and identity -----------------------------------------------------------------


def test_tls_verification_cannot_be_switched_off() -> None:
    session = new_session()
    session.verify = False
    with pytest.raises(ValueError, match="TLS verification must stay on"):
        Transport(DIRECTORY_URL, session=session)


@pytest.mark.parametrize(
    ("ca_bundle", "verify"),
    [(None, True), ("", True), ("/etc/certwright/ca.pem", "/etc/certwright/ca.pem")],
    ids=["public-roots", "empty-is-public-roots", "private-ca"],
)
def test_new_session_verifies(ca_bundle: str | None, verify: bool | str) -> None:
    assert new_session(ca_bundle).verify == verify


@pytest.mark.parametrize(
    "variable", [None, "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"], ids=["no-env", "requests-env", "curl-env"]
)
def test_the_ca_bundle_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch, variable: str | None) -> None:
    """requests lets these variables override a session's own bundle unless verify is given per request."""
    # The variables are the input under test (this machine sets both), so they are set or cleared here.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    if variable:
        monkeypatch.setenv(variable, "/etc/ssl/certs/ca-certificates.crt")
    adapter = ScriptedAdapter(reply(body=directory_body()), reply(nonce="nonce0"), reply(body={}))
    transport = transport_for(adapter, session=new_session("/etc/certwright/ca.pem"))
    transport.post(ORDER_URL, None, account_key(), kid=ACCOUNT_URL)
    assert [sent.verify for sent in adapter.sent] == ["/etc/certwright/ca.pem"] * 3


def test_a_plain_session_still_names_certwright() -> None:
    adapter = ScriptedAdapter(reply(body=directory_body()))
    transport_for(adapter, session=requests.Session()).directory()
    assert adapter.sent[0].headers["User-Agent"].startswith("certwright/")


# -- signed POSTs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            {"identifiers": [{"type": "dns", "value": "a.test"}]},
            b'{"identifiers": [{"type": "dns", "value": "a.test"}]}',
        ),
        ({}, b"{}"),
        (None, b""),
    ],
    ids=["payload", "empty-object", "post-as-get"],
)
def test_post_is_a_flattened_jws_with_nonce_url_and_kid(payload: dict[str, Any] | None, expected: bytes) -> None:
    transport, adapter, _ = primed(reply(body={"status": "pending"}, nonce="nonce1"))
    transport.post(ORDER_URL, payload, account_key(), kid=ACCOUNT_URL)
    sent = adapter.sent[-1]
    assert (sent.method, sent.url) == ("POST", ORDER_URL)
    assert sent.headers["Content-Type"] == JOSE_CONTENT_TYPE
    assert sent.headers["User-Agent"].startswith("certwright/")
    assert sent.protected == {"alg": "ES256", "nonce": "nonce0", "url": ORDER_URL, "kid": ACCOUNT_URL}
    assert sent.payload == expected
    assert sent.body is not None
    assert set(sent.body) == {"protected", "payload", "signature"}
    assert jws.JWS.from_json(sent.body).verify(account_key().public_key())


def test_post_without_kid_carries_the_jwk() -> None:
    transport, adapter, _ = primed(reply(201, body={"status": "valid"}, nonce="nonce1"))
    transport.post("https://acme.test/new-account", {"termsOfServiceAgreed": True}, account_key(), kid=None)
    protected = adapter.sent[-1].protected
    assert "kid" not in protected
    assert jose.JWK.from_json(protected["jwk"]) == account_key().public_key()
    assert (protected["nonce"], protected["url"]) == ("nonce0", "https://acme.test/new-account")


def test_nonces_come_from_earlier_answers_and_new_nonce_only_when_none_is_left() -> None:
    transport, adapter, _ = primed(
        reply(body={}, nonce="nonce1"),
        reply(body={}, nonce="nonce2"),
        reply(body={}),  # no nonce: the pool is empty afterwards
        reply(nonce="nonce3"),  # so the next POST asks newNonce
        reply(body={}),
    )
    for _ in range(4):
        transport.post(ORDER_URL, None, account_key(), kid=ACCOUNT_URL)
    assert [(sent.method, sent.url) for sent in adapter.sent if sent.method != "POST"] == [
        ("GET", DIRECTORY_URL),
        ("HEAD", NEW_NONCE),
        ("HEAD", NEW_NONCE),
    ]
    assert adapter.methods() == ["GET", "HEAD", "POST", "POST", "POST", "HEAD", "POST"]
    assert [sent.protected["nonce"] for sent in adapter.posts()] == ["nonce0", "nonce1", "nonce2", "nonce3"]


@pytest.mark.parametrize("header", ["not a nonce!", ""], ids=["not-base64url", "empty"])
def test_an_unusable_replay_nonce_is_not_pooled(header: str) -> None:
    transport, adapter, _ = primed(
        reply(body={}, headers={"Replay-Nonce": header}), reply(nonce="nonce2"), reply(body={})
    )
    transport.post(ORDER_URL, None, account_key(), kid=ACCOUNT_URL)
    transport.post(ORDER_URL, None, account_key(), kid=ACCOUNT_URL)
    assert adapter.methods() == ["GET", "HEAD", "POST", "HEAD", "POST"]
    assert adapter.posts()[-1].protected["nonce"] == "nonce2"


def test_new_nonce_without_replay_nonce_is_a_transport_error() -> None:
    adapter = ScriptedAdapter(reply(body=directory_body()), reply(200))
    transport = transport_for(adapter)
    with pytest.raises(TransportError, match=f"{NEW_NONCE} answered without a usable Replay-Nonce"):
        transport.post(ORDER_URL, None, account_key(), kid=ACCOUNT_URL)


# -- badNonce --------------------------------------------------------------------------------------


def bad_nonce(nonce: str) -> requests.Response:
    return problem("badNonce", 400, "JWS has an invalid anti-replay nonce", nonce=nonce)


def test_bad_nonce_is_retried_with_the_nonce_from_the_error() -> None:
    transport, adapter, time = primed(
        bad_nonce("retry1"), bad_nonce("retry2"), bad_nonce("retry3"), reply(body={"status": "valid"})
    )
    response = transport.post(ORDER_URL, None, account_key(), kid=ACCOUNT_URL)
    assert response.json() == {"status": "valid"}
    assert [sent.protected["nonce"] for sent in adapter.posts()] == ["nonce0", "retry1", "retry2", "retry3"]
    assert adapter.methods().count("HEAD") == 1
    assert time.sleeps == []


@pytest.mark.parametrize("nonce_retries", [0, 2, 5], ids=["no-retries", "two-retries", "default"])
def test_bad_nonce_after_every_retry_is_raised(nonce_retries: int) -> None:
    rejections = [bad_nonce(f"retry{n}") for n in range(nonce_retries + 1)]
    transport, adapter, _ = primed(*rejections, nonce_retries=nonce_retries)
    expected = (
        f"^badNonce: the CA rejected {nonce_retries + 1} nonces in a row; "
        f"the last time: JWS has an invalid anti-replay nonce \\(from {ORDER_URL}\\)$"
    )
    with pytest.raises(BadNonce, match=expected):
        transport.post(ORDER_URL, None, account_key(), kid=ACCOUNT_URL)
    assert len(adapter.posts()) == nonce_retries + 1
    assert not adapter.replies


def test_default_nonce_retries_survive_five_rejections() -> None:
    """Pebble rejects 5 % of good nonces; five in a row must still succeed."""
    rejections = [bad_nonce(f"retry{n}") for n in range(5)]
    transport, adapter, _ = primed(*rejections, reply(body={}))
    transport.post(ORDER_URL, None, account_key(), kid=ACCOUNT_URL)
    assert len(adapter.posts()) == 6


# -- rate limits and server failures ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("retry_after", "seconds"),
    [
        ("120", 120.0),
        ((NOW + datetime.timedelta(minutes=2)).strftime("%a, %d %b %Y %H:%M:%S GMT"), 120.0),
        ("2592000", 864000.0),
        (None, None),
    ],
    ids=["delta-seconds", "http-date", "thirty-days-capped-at-ten", "absent"],
)
def test_rate_limited_is_raised_with_retry_after_and_never_retried(
    retry_after: str | None, seconds: float | None
) -> None:
    headers = {"Retry-After": retry_after} if retry_after else {}
    limited = problem("rateLimited", 429, "too many new orders", nonce="nonce1", headers=headers)
    transport, adapter, time = primed(limited, reply(body={}))
    with pytest.raises(RateLimited) as caught:
        transport.post(NEW_ORDER, {}, account_key(), kid=ACCOUNT_URL)
    assert caught.value.retry_after == seconds
    assert caught.value.url == NEW_ORDER
    assert len(adapter.posts()) == 1
    assert time.sleeps == []


def test_http_429_without_a_problem_document_is_rate_limited() -> None:
    limited = reply(429, text="Too Many Requests", headers={"Retry-After": "30"})
    transport, _, _ = primed(limited)
    with pytest.raises(RateLimited):
        transport.post(NEW_ORDER, {}, account_key(), kid=ACCOUNT_URL)


def server_internal(nonce: str, **headers: str) -> requests.Response:
    return problem("serverInternal", 500, "the database is down", nonce=nonce, headers=headers)


def test_server_internal_is_retried_with_exponential_backoff() -> None:
    transport, adapter, time = primed(
        server_internal("retry1"), server_internal("retry2"), server_internal("retry3"), reply(body={"ok": True})
    )
    assert transport.post(ORDER_URL, None, account_key(), kid=ACCOUNT_URL).json() == {"ok": True}
    assert time.sleeps == [1.0, 2.0, 4.0]
    assert [sent.protected["nonce"] for sent in adapter.posts()] == ["nonce0", "retry1", "retry2", "retry3"]


def test_server_internal_after_every_retry_is_raised() -> None:
    transport, adapter, time = primed(
        *[server_internal(f"retry{n}") for n in range(4)], server_retries=3, server_backoff=0.5
    )
    with pytest.raises(ServerInternal, match="serverInternal: the database is down"):
        transport.post(ORDER_URL, None, account_key(), kid=ACCOUNT_URL)
    assert time.sleeps == [0.5, 1.0, 2.0]
    assert len(adapter.posts()) == 4


def test_a_failing_new_nonce_is_retried_server_retries_times() -> None:
    failures = [reply(500) for _ in range(16)]
    adapter = ScriptedAdapter(reply(body=directory_body()), *failures)
    time = FakeTime()
    transport = transport_for(adapter, time, server_retries=3, server_backoff=1.0)
    with pytest.raises(ServerInternal, match=NEW_NONCE):
        transport.post(ORDER_URL, None, account_key(), kid=ACCOUNT_URL)
    assert adapter.methods().count("HEAD") == 4
    assert time.sleeps == [1.0, 2.0, 4.0]


@pytest.mark.parametrize(
    ("retry_after", "delay"),
    [("3", 3.0), ("0", 0.0), ("600", 30.0), ("soon", 1.0)],
    ids=["shorter-than-cap", "zero", "capped-at-30", "unreadable-backoff"],
)
def test_server_retry_after_sets_the_delay_within_a_cap(retry_after: str, delay: float) -> None:
    unavailable = server_internal("retry1", **{"Retry-After": retry_after})
    transport, _, time = primed(unavailable, reply(body={}))
    transport.post(ORDER_URL, None, account_key(), kid=ACCOUNT_URL)
    assert time.sleeps == [delay]


@pytest.mark.parametrize(
    "failure",
    [reply(502, text="<html>Bad Gateway</html>", content_type="text/html"), reply(503), problem("somethingNew", 500)],
    ids=["html-502", "empty-503", "unknown-type-500"],
)
def test_any_5xx_is_retried_like_server_internal(failure: requests.Response) -> None:
    adapter = ScriptedAdapter(failure, reply(body=directory_body()))
    time = FakeTime()
    transport = transport_for(adapter, time)
    transport.directory()
    assert time.sleeps == [1.0]
    assert adapter.methods() == ["GET", "GET"]


def test_a_4xx_without_a_problem_document_is_malformed() -> None:
    transport, _, _ = primed(reply(403, text="Forbidden", nonce="nonce1"))
    with pytest.raises(Malformed, match="HTTP 403 without a problem document"):
        transport.post(ORDER_URL, None, account_key(), kid=ACCOUNT_URL)


# -- what metrics see: one Exchange per HTTP request -----------------------------------------------


class Ticks:
    """An injected timer that moves by a quarter second per reading."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.25
        return self.now


def observed(*replies: requests.Response | BaseException) -> tuple[Transport, list[Exchange]]:
    seen: list[Exchange] = []
    adapter = ScriptedAdapter(reply(body=directory_body()), reply(nonce="nonce0"), *replies)
    return transport_for(adapter, observe=seen.append, timer=Ticks()), seen


def test_each_request_is_told_with_its_action_status_and_duration() -> None:
    transport, seen = observed(reply(201, {"status": "pending"}, nonce="n1"))
    transport.post(NEW_ORDER, {"identifiers": []}, account_key(), ACCOUNT_URL)
    assert seen == [
        Exchange("GET", DIRECTORY_URL, "directory", 200, 0.25),
        Exchange("HEAD", NEW_NONCE, "new-nonce", 200, 0.25),
        Exchange("POST", NEW_ORDER, "new-order", 201, 0.25),
    ]


def test_retries_are_each_told_and_an_explicit_action_is_kept() -> None:
    transport, seen = observed(problem("badNonce", 400, nonce="n1"), reply(body={"status": "valid"}, nonce="n2"))
    transport.post(ORDER_URL, None, account_key(), ACCOUNT_URL, action="order")
    assert [(e.action, e.status) for e in seen[2:]] == [("order", 400), ("order", 200)]


def test_a_request_without_an_answer_is_told_without_status() -> None:
    transport, seen = observed(requests.exceptions.ConnectionError("refused"))
    with pytest.raises(ConnectionFailed):
        transport.post(ORDER_URL, None, account_key(), ACCOUNT_URL, action="order")
    assert (seen[-1].action, seen[-1].status) == ("order", None)


def test_a_failing_observer_never_fails_the_request(caplog: pytest.LogCaptureFixture) -> None:
    def broken(exchange: Exchange) -> None:
        raise RuntimeError("metrics are broken")

    adapter = ScriptedAdapter(reply(body=directory_body()))
    transport = transport_for(adapter, observe=broken)
    assert transport.directory()["newOrder"] == NEW_ORDER
    assert "observer failed" in caplog.text


@pytest.mark.parametrize(
    ("url", "action"),
    [
        (DIRECTORY_URL, "directory"),
        (NEW_NONCE, "new-nonce"),
        (NEW_ORDER, "new-order"),
        ("https://acme.test/renewal-info/abc.def", "renewal-info"),
        ("https://acme.test/revoke-cert", "revoke-cert"),
        (ORDER_URL, "other"),
    ],
    ids=["directory", "new-nonce", "new-order", "ari-under-its-endpoint", "revoke", "not-in-the-directory"],
)
def test_directory_endpoints_name_their_own_action(url: str, action: str) -> None:
    transport, _ = observed()
    transport.directory()
    assert transport.action_for(url) == action
