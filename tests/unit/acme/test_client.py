"""The protocol verbs over a real Transport whose session's adapter is scripted."""

from __future__ import annotations

import datetime
import json
from typing import Any

import josepy as jose
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from certwright.acme import jws
from certwright.acme.ari import cert_id
from certwright.acme.client import AcmeClient, ExternalAccountBinding, Order
from certwright.acme.errors import (
    AuthorizationFailed,
    ClientError,
    OrderFailed,
    OrderNotReady,
    PollTimeout,
    ProfileNotOffered,
)
from certwright.acme.messages import ChallengeBody, OrderBody
from certwright.acme.transport import Exchange

from .fakes import (
    ACCOUNT_URL,
    BASE,
    DIRECTORY_URL,
    NEW_ACCOUNT,
    NEW_ORDER,
    NOW,
    RENEWAL_INFO,
    FakeTime,
    ScriptedAdapter,
    account_key,
    directory_body,
    issue,
    pem,
    problem,
    reply,
    transport_for,
)

PROFILES = {"classic": "90 days", "shortlived": "6 days"}
ORDER_URL = f"{BASE}/order/1"
AUTHZ_URL = f"{BASE}/authz/1"
FINALIZE_URL = f"{BASE}/order/1/finalize"
CERT_URL = f"{BASE}/cert/1"
CSR_DER = b"0\x82 not really a CSR"


def client_for(
    *replies: requests.Response,
    directory: dict[str, Any] | None = None,
    time: FakeTime | None = None,
    account_url: str | None = ACCOUNT_URL,
) -> tuple[AcmeClient, ScriptedAdapter, FakeTime]:
    """A client for an existing account: the directory is scripted before ``replies``, nonces are not."""
    body = directory if directory is not None else directory_body(profiles=PROFILES)
    adapter = ScriptedAdapter(reply(body=body), *replies, fresh_nonces=True)
    time = time or FakeTime()
    return AcmeClient(transport_for(adapter, time), account_key(), account_url), adapter, time


def order_body(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "status": status,
        "identifiers": [{"type": "dns", "value": "a.test"}],
        "authorizations": [AUTHZ_URL],
        "finalize": FINALIZE_URL,
        **extra,
    }


def authz_body(status: str, error: dict[str, Any] | None = None) -> dict[str, Any]:
    challenge: dict[str, Any] = {"type": "http-01", "url": f"{BASE}/chall/1", "token": "tok", "status": status}
    if error:
        challenge["error"] = error
    return {"identifier": {"type": "dns", "value": "a.test"}, "status": status, "challenges": [challenge]}


def an_order(status: str = "ready", **extra: Any) -> Order:
    return Order(ORDER_URL, OrderBody.from_json(order_body(status, **extra)))


# -- accounts --------------------------------------------------------------------------------------


def test_register_signs_with_the_jwk_and_keeps_the_account_url() -> None:
    created = reply(201, body={"status": "valid"}, headers={"Location": ACCOUNT_URL})
    client, adapter, _ = client_for(created, account_url=None)
    account = client.register(["mailto:admin@example.test"])
    assert (account.url, client.account_url, account.body.status) == (ACCOUNT_URL, ACCOUNT_URL, "valid")
    sent = adapter.posts()[0]
    assert sent.url == NEW_ACCOUNT
    assert "jwk" in sent.protected
    assert "kid" not in sent.protected
    assert sent.payload_json() == {"contact": ["mailto:admin@example.test"], "termsOfServiceAgreed": True}


def test_register_without_location_is_a_client_error() -> None:
    client, _, _ = client_for(reply(201, body={"status": "valid"}))
    with pytest.raises(ClientError, match=f"{NEW_ACCOUNT} answered 201 without the account's Location"):
        client.register()


def test_register_with_eab_binds_the_account_key_for_the_new_account_url() -> None:
    hmac_key = b"m" * 32
    eab = ExternalAccountBinding(key_id="kid-7", hmac_key=jose.encode_b64jose(hmac_key))
    client, adapter, _ = client_for(reply(201, body={"status": "valid"}, headers={"Location": ACCOUNT_URL}))
    client.register(eab=eab)
    binding = adapter.posts()[0].payload_json()["externalAccountBinding"]
    inner = json.loads(jose.decode_b64jose(binding["protected"]))
    assert inner == {"alg": "HS256", "kid": "kid-7", "url": NEW_ACCOUNT}
    assert jws.JWS.from_json(binding).verify(jose.JWKOct(key=hmac_key))
    assert eab.hmac_key not in repr(eab)


def test_verbs_that_need_an_account_say_so() -> None:
    client, adapter, _ = client_for(account_url=None)
    with pytest.raises(ClientError, match=r"register\(\) or find_account\(\) first"):
        client.order(ORDER_URL)
    assert adapter.posts() == []


def test_rollover_wraps_the_old_key_in_a_jws_of_the_new_one() -> None:
    new_key = jose.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    client, adapter, _ = client_for(reply(200, body={}))
    client.rollover(new_key)
    outer = adapter.posts()[0]
    assert outer.protected["kid"] == ACCOUNT_URL
    inner = outer.payload_json()
    inner_header = json.loads(jose.decode_b64jose(inner["protected"]))
    assert set(inner_header) == {"alg", "jwk", "url"}
    assert inner_header["url"] == outer.url == f"{BASE}/key-change"
    assert jws.JWS.from_json(inner).verify(new_key.public_key())
    assert json.loads(jose.decode_b64jose(inner["payload"]))["account"] == ACCOUNT_URL
    assert client.key is new_key


# -- orders ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profiles", "offered"),
    [(PROFILES, "classic, shortlived"), (None, "none")],
    ids=["other-profiles", "no-profiles"],
)
def test_a_profile_not_offered_is_refused_before_ordering(profiles: dict[str, str] | None, offered: str) -> None:
    client, adapter, _ = client_for(directory=directory_body(profiles=profiles))
    client.directory  # noqa: B018 - fetched first, so that only the order would be a request
    with pytest.raises(ProfileNotOffered) as caught:
        client.new_order(["a.test"], profile="tlsserver")
    assert str(caught.value) == f"profile 'tlsserver' is not offered by {DIRECTORY_URL} (it offers: {offered})"
    assert adapter.methods() == ["GET"]


@pytest.mark.parametrize(
    ("renewal_info", "sent_replaces"),
    [(True, True), (False, False)],
    ids=["ari-keeps-replaces", "no-ari-drops-replaces"],
)
def test_new_order_sends_names_profile_and_replaces_where_ari_is(renewal_info: bool, sent_replaces: bool) -> None:
    directory = directory_body(renewal_info=renewal_info, profiles=PROFILES)
    client, adapter, _ = client_for(
        reply(201, body=order_body("pending", profile="shortlived"), headers={"Location": ORDER_URL}),
        directory=directory,
    )
    order = client.new_order(["a.test", "b.test"], profile="shortlived", replaces="aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE")
    expected: dict[str, Any] = {
        "identifiers": [{"type": "dns", "value": "a.test"}, {"type": "dns", "value": "b.test"}],
        "profile": "shortlived",
    }
    if sent_replaces:
        expected["replaces"] = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
    sent = adapter.posts()[0]
    assert (sent.url, sent.protected["kid"]) == (NEW_ORDER, ACCOUNT_URL)
    assert sent.payload_json() == expected
    assert (order.url, order.body.status, order.body.authorizations) == (ORDER_URL, "pending", (AUTHZ_URL,))


def test_new_order_without_location_is_a_client_error() -> None:
    client, _, _ = client_for(reply(201, body=order_body("pending")))
    with pytest.raises(ClientError, match="newOrder answered 201 without the order's Location"):
        client.new_order(["a.test"])


# -- authorizations --------------------------------------------------------------------------------

FIRST_SEVEN = [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2]


@pytest.mark.parametrize(
    ("retry_after", "sleeps"),
    [
        ("1", [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0]),
        ("0", [0.05] * 7),
        ((NOW + datetime.timedelta(seconds=2)).strftime("%a, %d %b %Y %H:%M:%S GMT"), [*FIRST_SEVEN[:6], 2.0]),
        ("3600", FIRST_SEVEN),  # a ceiling, not a floor: never more than MAX_POLL
        (None, FIRST_SEVEN),
    ],
    ids=["one-second", "zero", "http-date", "an-hour", "absent"],
)
def test_wait_authorization_polls_quickly_and_never_beyond_retry_after(
    retry_after: str | None, sleeps: list[float]
) -> None:
    headers = {"Retry-After": retry_after} if retry_after else {}
    pending = [reply(body=authz_body("pending"), headers=headers) for _ in range(7)]
    client, adapter, time = client_for(*pending, reply(body=authz_body("valid")))
    authz = client.wait_authorization(AUTHZ_URL)
    assert authz.body.status == "valid"
    assert time.sleeps == pytest.approx(sleeps)
    assert all(pause <= 5.0 for pause in time.sleeps)
    assert [(sent.url, sent.payload) for sent in adapter.posts()] == [(AUTHZ_URL, b"")] * 8  # POST-as-GET


@pytest.mark.parametrize(
    ("status", "error", "says"),
    [
        (
            "invalid",
            {"type": "urn:ietf:params:acme:error:connection", "detail": "Connection refused", "status": 400},
            "authorization for a.test is invalid: connection: Connection refused",
        ),
        ("expired", None, "authorization for a.test is expired: no reason given"),
        ("deactivated", None, "authorization for a.test is deactivated: no reason given"),
    ],
    ids=["invalid-with-challenge-error", "expired", "deactivated"],
)
def test_wait_authorization_fails_with_the_challenges_error(
    status: str, error: dict[str, Any] | None, says: str
) -> None:
    client, _, time = client_for(reply(body=authz_body("pending")), reply(body=authz_body(status, error)))
    with pytest.raises(AuthorizationFailed) as caught:
        client.wait_authorization(AUTHZ_URL)
    assert str(caught.value) == says
    assert caught.value.identifier == "a.test"
    if error:
        assert caught.value.problem is not None
        assert (caught.value.problem.type, caught.value.problem.detail) == (error["type"], error["detail"])
    else:
        assert caught.value.problem is None
    assert time.sleeps == [0.05]


def test_wait_authorization_gives_up_at_the_deadline() -> None:
    time = FakeTime(sleep_moves_clock=True)
    client, adapter, _ = client_for(*[reply(body=authz_body("pending")) for _ in range(6)], time=time)
    with pytest.raises(PollTimeout, match=f"authorization {AUTHZ_URL}"):
        client.wait_authorization(AUTHZ_URL, timeout=1.0)
    assert sum(time.sleeps) == pytest.approx(1.0)
    assert time.sleeps[-1] == pytest.approx(0.25)  # cut short by the deadline
    assert not adapter.replies


def test_answer_posts_an_empty_object_and_key_authorization_uses_the_thumbprint() -> None:
    challenge = ChallengeBody.from_json({"type": "http-01", "url": f"{BASE}/chall/1", "token": "tok"})
    client, adapter, _ = client_for(reply(body={"type": "http-01", "url": f"{BASE}/chall/1", "status": "processing"}))
    assert client.answer(challenge).status == "processing"
    assert adapter.posts()[0].payload == b"{}"
    assert client.key_authorization(challenge) == f"tok.{jws.thumbprint(account_key())}"


def test_pending_authorizations_skips_valid_ones() -> None:
    order = an_order("pending", authorizations=[AUTHZ_URL, f"{BASE}/authz/2"])
    client, _, _ = client_for(reply(body=authz_body("valid")), reply(body=authz_body("pending")))
    assert [authz.url for authz in client.pending_authorizations(order)] == [f"{BASE}/authz/2"]


# -- finalize --------------------------------------------------------------------------------------


def test_finalize_after_order_not_ready_rereads_the_order_and_finalizes_again() -> None:
    client, adapter, time = client_for(
        problem("orderNotReady", 403, 'Order\'s status ("pending") is not acceptable for finalization'),
        reply(body=order_body("ready")),
        reply(body=order_body("processing"), headers={"Retry-After": "1"}),
        reply(body=order_body("valid", certificate=CERT_URL)),
    )
    done = client.finalize(an_order("ready"), CSR_DER)
    assert (done.body.status, done.body.certificate) == ("valid", CERT_URL)
    assert [sent.url for sent in adapter.posts()] == [FINALIZE_URL, ORDER_URL, FINALIZE_URL, ORDER_URL]
    finalizes = [sent for sent in adapter.posts() if sent.url == FINALIZE_URL]
    assert all(sent.payload_json() == {"csr": jose.encode_b64jose(CSR_DER)} for sent in finalizes)
    assert time.sleeps == [0.05]


def test_order_not_ready_for_an_invalid_order_is_raised() -> None:
    client, adapter, _ = client_for(problem("orderNotReady", 403, "not ready"), reply(body=order_body("invalid")))
    with pytest.raises(OrderNotReady):
        client.finalize(an_order("ready"), CSR_DER)
    assert [sent.url for sent in adapter.posts()] == [FINALIZE_URL, ORDER_URL]


def test_finalize_polls_a_processing_order_until_it_fails() -> None:
    error = {"type": "urn:ietf:params:acme:error:badCSR", "detail": "key too small"}
    client, _, time = client_for(
        reply(body=order_body("processing")),
        reply(body=order_body("processing")),
        reply(body=order_body("invalid", error=error)),
    )
    with pytest.raises(OrderFailed, match=f"order {ORDER_URL} is invalid: badCSR: key too small") as caught:
        client.finalize(an_order("ready"), CSR_DER)
    assert caught.value.problem is not None
    assert caught.value.problem.detail == "key too small"
    assert time.sleeps == [0.05]


@pytest.mark.parametrize("status", ["processing", "valid"])
def test_finish_never_finalizes_an_order_the_ca_has_already_finalized(status: str) -> None:
    """Issue 10: a resumed order that is valid is downloaded, never finalized again (orderNotReady)."""
    replies = [reply(body=order_body("valid", certificate=CERT_URL))] if status == "processing" else []
    client, adapter, _ = client_for(*replies)

    extra = {"certificate": CERT_URL} if status == "valid" else {}
    done = client.finish(an_order(status, **extra), CSR_DER)

    assert (done.body.status, done.body.certificate) == ("valid", CERT_URL)
    assert FINALIZE_URL not in [sent.url for sent in adapter.posts()]


def test_finalize_that_finds_the_order_already_valid_waits_instead_of_failing() -> None:
    client, adapter, _ = client_for(
        problem("orderNotReady", 403, 'Order\'s status ("valid") was not ready'),
        reply(body=order_body("valid", certificate=CERT_URL)),
    )
    done = client.finalize(an_order("ready"), CSR_DER)
    assert (done.body.status, done.body.certificate) == ("valid", CERT_URL)
    assert [sent.url for sent in adapter.posts()] == [FINALIZE_URL, ORDER_URL]


def test_find_order_walks_the_orders_list_newest_first_for_a_pending_order_of_these_names() -> None:
    orders_url = f"{BASE}/orders/1"
    page2 = f"{orders_url}/page/2"
    client, adapter, _ = client_for(
        reply(body={"status": "valid", "orders": orders_url}),
        reply(body={"orders": [f"{BASE}/order/1", f"{BASE}/order/2"]}, headers={"Link": f'<{page2}>;rel="next"'}),
        reply(body={"orders": [f"{BASE}/order/3"]}),
        reply(body=order_body("pending", identifiers=[{"type": "dns", "value": "other.example"}])),
        reply(
            body=order_body("pending", identifiers=[{"type": "dns", "value": n} for n in ("b.example", "a.example")])
        ),
    )

    found = client.find_order(["a.example", "b.example"])

    assert found is not None
    assert found.url == f"{BASE}/order/2"
    assert [sent.url for sent in adapter.posts()][-2:] == [f"{BASE}/order/3", f"{BASE}/order/2"]


def test_find_order_is_none_where_the_ca_keeps_no_orders_list() -> None:
    client, _, _ = client_for(reply(body={"status": "valid"}))
    assert client.find_order(["a.example"]) is None


# -- certificates ----------------------------------------------------------------------------------

ROOT_A = issue("Root A", "Root A", ca=True)
INTERMEDIATE_BY_A = issue("Intermediate", "Root A", ca=True)
INTERMEDIATE_BY_B = issue("Intermediate", "Root B", ca=True)
ROOT_B_BY_C = issue("Root B", "Root C", ca=True)
LEAF = issue("leaf.test", "Intermediate", serial=0x87654321, aki=b"\x01" * 20)
DEFAULT_CHAIN = pem(LEAF, INTERMEDIATE_BY_A, ROOT_A)  # leaf ← intermediate ← Root A (self-signed)
TO_ROOT_B = pem(LEAF, INTERMEDIATE_BY_B)  # leaf ← intermediate ← Root B
TO_ROOT_C = pem(LEAF, INTERMEDIATE_BY_B, ROOT_B_BY_C)  # leaf ← intermediate ← Root B ← Root C
ALTERNATES = [(f"{CERT_URL}/1", TO_ROOT_B), (f"{CERT_URL}/2", TO_ROOT_C)]
LINKS = ", ".join(f'<{url}>;rel="alternate"' for url, _ in ALTERNATES) + f', <{DIRECTORY_URL}>;rel="index"'


@pytest.mark.parametrize(
    ("preferred", "fetched", "chain"),
    [
        (None, 0, DEFAULT_CHAIN),
        ("Root A", 0, DEFAULT_CHAIN),
        ("Root B", 1, TO_ROOT_B),
        ("Root C", 2, TO_ROOT_C),
        ("Root Z", 2, DEFAULT_CHAIN),
        ("Intermediate", 2, DEFAULT_CHAIN),  # not the root-most issuer of any chain
    ],
    ids=["no-preference", "default-matches", "first-alternate", "second-alternate", "no-match", "intermediate"],
)
def test_download_picks_the_chain_whose_root_most_issuer_is_preferred(
    preferred: str | None, fetched: int, chain: str
) -> None:
    default = reply(text=DEFAULT_CHAIN, content_type="application/pem-certificate-chain", headers={"Link": LINKS})
    alternates = [reply(text=text, content_type="application/pem-certificate-chain") for _, text in ALTERNATES]
    client, adapter, _ = client_for(default, *alternates[:fetched])
    assert client.download(an_order("valid", certificate=CERT_URL), preferred_chain=preferred) == chain
    assert [sent.url for sent in adapter.posts()] == [CERT_URL] + [url for url, _ in ALTERNATES[:fetched]]


def test_download_before_the_certificate_is_a_client_error() -> None:
    client, adapter, _ = client_for()
    with pytest.raises(ClientError, match="has no certificate yet"):
        client.download(an_order("processing"))
    assert adapter.posts() == []


# -- renewal information ---------------------------------------------------------------------------


def test_renewal_info_is_a_plain_get_of_the_cert_id() -> None:
    window = {"suggestedWindow": {"start": "2025-02-01T00:00:00Z", "end": "2025-02-02T00:00:00Z"}}
    client, adapter, _ = client_for(reply(body=window, headers={"Retry-After": "7200"}))
    info = client.renewal_info(LEAF)
    assert info.start == datetime.datetime(2025, 2, 1, tzinfo=datetime.UTC)
    assert info.retry_after == 7200.0
    assert (adapter.sent[-1].method, adapter.sent[-1].url) == ("GET", f"{RENEWAL_INFO}/{cert_id(LEAF)}")


def test_renewal_info_without_ari_is_a_client_error() -> None:
    client, adapter, _ = client_for(directory=directory_body(renewal_info=False))
    with pytest.raises(ClientError, match="offers no renewalInfo"):
        client.renewal_info(LEAF)
    assert adapter.methods() == ["GET"]


# -- the action each verb names for metrics --------------------------------------------------------


def test_each_verb_names_its_acme_action() -> None:
    seen: list[Exchange] = []
    adapter = ScriptedAdapter(
        reply(body=directory_body()),
        reply(201, order_body("pending"), headers={"Location": ORDER_URL}),
        reply(body=order_body("pending")),
        reply(body=authz_body("pending")),
        reply(body=authz_body("pending")["challenges"][0]),
        reply(body=order_body("valid", certificate=CERT_URL)),
        reply(text=pem(issue("a.test", "Root")), content_type="application/pem-certificate-chain"),
        fresh_nonces=True,
    )
    client = AcmeClient(transport_for(adapter, observe=seen.append), account_key(), ACCOUNT_URL)
    client.new_order(["a.test"])
    client.order(ORDER_URL)
    client.answer(client.authorization(AUTHZ_URL).body.challenges[0])
    client.download(client.finalize(an_order("ready"), CSR_DER))
    assert [(e.method, e.action) for e in seen] == [
        ("GET", "directory"),
        ("HEAD", "new-nonce"),
        ("POST", "new-order"),
        ("POST", "order"),
        ("POST", "authz"),
        ("POST", "challenge"),
        ("POST", "finalize"),
        ("POST", "certificate"),
    ]
