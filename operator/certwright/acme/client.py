"""The ACME protocol verbs (RFC 8555, RFC 9773, profiles) over a ``Transport``.

One ``AcmeClient`` acts for one account key. Reads are POST-as-GET; polling follows the server's
Retry-After as a ceiling over a short backoff (Pebble answers in milliseconds, while a fixed one-second
poll is what makes other clients slow); sleeping and the clock are injected through the transport.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urljoin

import josepy as jose
import requests
from cryptography import x509

from . import ari, jws
from .errors import (
    AcmeError,
    AuthorizationFailed,
    ClientError,
    OrderFailed,
    OrderNotReady,
    PollTimeout,
    ProfileNotOffered,
)
from .messages import (
    AccountBody,
    AccountUpdate,
    AuthorizationBody,
    ChallengeBody,
    Directory,
    Finalize,
    Identifier,
    KeyChange,
    NewAccount,
    NewOrder,
    OrderBody,
    Revocation,
)
from .retry_after import clamp, parse_retry_after
from .transport import Transport

log = logging.getLogger(__name__)

FIRST_POLL = 0.05  # seconds; doubled each time, up to the server's Retry-After (or MAX_POLL)
MAX_POLL = 5.0


@dataclass(frozen=True)
class Account:
    url: str
    body: AccountBody


@dataclass(frozen=True)
class Order:
    url: str
    body: OrderBody


@dataclass(frozen=True)
class Authorization:
    url: str
    body: AuthorizationBody


@dataclass(frozen=True)
class ExternalAccountBinding:
    """EAB credentials (RFC 8555 §7.3.4): the key id and the base64url MAC key the CA handed out."""

    key_id: str
    hmac_key: str
    algorithm: str = "HS256"

    def __repr__(self) -> str:  # never show the MAC key
        return f"ExternalAccountBinding(key_id={self.key_id!r}, algorithm={self.algorithm!r})"


class AcmeClient:
    """The protocol verbs for one account key."""

    def __init__(self, transport: Transport, key: jose.JWK, account_url: str | None = None) -> None:
        self.transport = transport
        self.key = key
        self.account_url = account_url

    @property
    def directory(self) -> Directory:
        return self.transport.directory()

    # -- accounts (§7.3) ---------------------------------------------------------------------------

    def register(
        self, contact: Sequence[str] = (), *, agree_to_terms: bool = True, eab: ExternalAccountBinding | None = None
    ) -> Account:
        """Create the account for this key, or find the one it already has (200 with its Location)."""
        url = self.directory["newAccount"]
        binding = None
        if eab is not None:
            binding = jws.external_account_binding(
                self.key, key_id=eab.key_id, hmac_key=jose.decode_b64jose(eab.hmac_key), url=url, alg=eab.algorithm
            )
        payload = NewAccount(
            contact=tuple(contact),
            terms_of_service_agreed=True if agree_to_terms else None,
            external_account_binding=binding,
        )
        return self._account_from(self.transport.post(url, payload, self.key, kid=None))

    def find_account(self) -> Account:
        """The existing account of this key (``onlyReturnExisting``); AccountDoesNotExist if none."""
        payload = NewAccount(only_return_existing=True)
        return self._account_from(self.transport.post(self.directory["newAccount"], payload, self.key, kid=None))

    def update_contact(self, contact: Sequence[str]) -> Account:
        response = self.transport.post(
            self._kid(), AccountUpdate(contact=tuple(contact)), self.key, self._kid(), action="account"
        )
        return Account(self._kid(), AccountBody.from_json(response.json()))

    def deactivate_account(self) -> Account:
        """Irreversible (§7.3.6): afterwards every request from this key is unauthorized."""
        response = self.transport.post(
            self._kid(), AccountUpdate(status="deactivated"), self.key, self._kid(), action="account"
        )
        return Account(self._kid(), AccountBody.from_json(response.json()))

    def rollover(self, new_key: jose.JWK) -> None:
        """Replace the account key (§7.3.5); this client signs with ``new_key`` from then on."""
        url = self.directory["keyChange"]
        inner_payload = KeyChange(account=self._kid(), old_key=self.key.public_key()).json_dumps().encode()
        inner = jws.sign(inner_payload, new_key, url=url, nonce=None, kid=None)
        self.transport.post(url, inner, self.key, self._kid())
        self.key = new_key

    def _account_from(self, response: requests.Response) -> Account:
        location = response.headers.get("Location")
        if not location:
            raise ClientError(f"{response.url} answered {response.status_code} without the account's Location")
        self.account_url = location
        return Account(location, AccountBody.from_json(response.json()))

    def _kid(self) -> str:
        if self.account_url is None:
            raise ClientError("no account yet: register() or find_account() first")
        return self.account_url

    # -- orders (§7.4) -----------------------------------------------------------------------------

    def new_order(self, names: Iterable[str], *, profile: str | None = None, replaces: str | None = None) -> Order:
        """A new order for DNS names; ``profile`` must be one the directory advertises."""
        if profile is not None and profile not in self.directory.profiles:
            offered = ", ".join(sorted(self.directory.profiles)) or "none"
            raise ProfileNotOffered(
                f"profile {profile!r} is not offered by {self.directory.url} (it offers: {offered})"
            )
        if replaces is not None and self.directory.renewal_info is None:
            replaces = None  # RFC 9773 §5: only where the server has ARI
        payload = NewOrder(
            identifiers=tuple(Identifier(type="dns", value=name) for name in names), profile=profile, replaces=replaces
        )
        response = self.transport.post(self.directory["newOrder"], payload, self.key, self._kid())
        location = response.headers.get("Location")
        if not location:
            raise ClientError(f"newOrder answered {response.status_code} without the order's Location")
        return Order(location, OrderBody.from_json(response.json()))

    def order(self, url: str) -> Order:
        return Order(url, OrderBody.from_json(self._read(url, "order").json()))

    def order_urls(self, max_pages: int = 100) -> list[str] | None:
        """The account's orders list (§7.1.2.1), following ``Link: rel="next"`` for at most ``max_pages``
        pages; None when the CA keeps no such list (Let's Encrypt does not)."""
        account = AccountBody.from_json(self._read(self._kid(), "account").json())
        url = account.orders
        if not url:
            return None
        found: list[str] = []
        for _ in range(max_pages):
            response = self._read(url, "orders")
            found.extend(str(item) for item in response.json().get("orders") or [])
            following = _links(response, "next")
            if not following:
                break
            url = following[0]
        return found

    def find_order(self, names: Iterable[str], max_reads: int = 100) -> Order | None:
        """A pending or ready order for exactly ``names`` in the account's orders list, newest first:
        one placed by a run that stopped before it could record the URL. None where the CA keeps no
        list (Let's Encrypt, which instead answers newOrder with the same pending order) or on any error."""
        wanted = sorted(names)
        try:
            urls = self.order_urls() or []
            for url in reversed(urls[-max_reads:]):
                order = self.order(url)
                found = sorted(identifier.value for identifier in order.body.identifiers)
                if order.body.status in ("pending", "ready") and found == wanted:
                    return order
        except AcmeError as error:
            log.info("could not read the account's orders (%s)", error)
        return None

    def authorization(self, url: str) -> Authorization:
        return Authorization(url, AuthorizationBody.from_json(self._read(url, "authz").json()))

    def read_authorization(self, url: str) -> tuple[Authorization, float | None]:
        """The authorization and the server's Retry-After, for callers that poll on their own."""
        response = self._read(url, "authz")
        retry_after = parse_retry_after(response.headers.get("Retry-After"), self.transport.clock())
        return Authorization(url, AuthorizationBody.from_json(response.json())), retry_after

    def pending_authorizations(self, order: Order) -> list[Authorization]:
        """The order's authorizations that still need a challenge answered (valid ones are reused)."""
        found = [self.authorization(url) for url in order.body.authorizations]
        return [authz for authz in found if authz.body.status == "pending"]

    def key_authorization(self, challenge: ChallengeBody) -> str:
        """token "." thumbprint (§8.1): what the HTTP-01 responder serves. Secret-ish: never log it."""
        return f"{challenge.token}.{jws.thumbprint(self.key)}"

    def dns01_value(self, challenge: ChallengeBody) -> str:
        """The TXT value of a DNS-01 challenge: base64url of the key authorization's SHA-256 (§8.4).
        Published in DNS, so not a secret (the key authorization it is made from is)."""
        digest = hashlib.sha256(self.key_authorization(challenge).encode()).digest()
        return jose.b64.b64encode(digest).decode()

    def answer(self, challenge: ChallengeBody) -> ChallengeBody:
        """Tell the CA to validate (POST ``{}`` to the challenge URL, §7.5.1)."""
        response = self.transport.post(challenge.url, {}, self.key, self._kid(), action="challenge")
        return ChallengeBody.from_json(response.json())

    def deactivate_authorization(self, authorization: Authorization) -> Authorization:
        response = self.transport.post(
            authorization.url, {"status": "deactivated"}, self.key, self._kid(), action="authz"
        )
        return Authorization(authorization.url, AuthorizationBody.from_json(response.json()))

    def wait_authorization(self, url: str, timeout: float = 120.0) -> Authorization:
        """Poll until the authorization is final; AuthorizationFailed (with the challenge's error) if not valid."""
        deadline = self._deadline(timeout)
        delay = FIRST_POLL
        while True:
            response = self._read(url, "authz")
            authz = Authorization(url, AuthorizationBody.from_json(response.json()))
            status = authz.body.status
            if status == "valid":
                return authz
            if status != "pending":
                name = authz.body.identifier.value
                problem = authz.body.failure()
                raise AuthorizationFailed(
                    f"authorization for {name} is {status}: {problem or 'no reason given'}", name, problem
                )
            delay = self._pause(response, delay, deadline, f"authorization {url}")

    def finalize(self, order: Order, csr_der: bytes, timeout: float = 120.0) -> Order:
        """Finalize with the CSR (all names in its SAN) and wait until the order is valid.

        ``orderNotReady`` means the order lags behind its authorizations: wait until it is ready and
        finalize again (certbot #10239). Pebble always answers ``processing`` first.
        """
        deadline = self._deadline(timeout)
        delay = FIRST_POLL
        while True:
            try:
                response = self.transport.post(
                    order.body.finalize, Finalize(csr=csr_der), self.key, self._kid(), action="finalize"
                )
                break
            except OrderNotReady:
                current = self.order(order.url)
                if current.body.status in ("processing", "valid"):  # finalized already (by an earlier run)
                    return self.wait_order(current, deadline)
                if current.body.status not in ("pending", "ready"):
                    raise
                delay = self._sleep_within(delay, deadline, None, f"order {order.url} to be ready")
        return self.wait_order(Order(order.url, OrderBody.from_json(response.json())), deadline)

    def finish(self, order: Order, csr_der: bytes, timeout: float = 120.0) -> Order:
        """The order, valid: finalized when it is pending or ready, only waited for when the CA has it
        already (a resumed order is never finalized twice; nothing the CA issued is thrown away)."""
        if order.body.status in ("processing", "valid"):
            return self.wait_order(order, self._deadline(timeout))
        return self.finalize(order, csr_der, timeout)

    def wait_order(self, order: Order, deadline: datetime.datetime) -> Order:
        """Poll a finalized order until it is valid; OrderFailed with the CA's reason otherwise."""
        delay = FIRST_POLL
        while order.body.status == "processing":
            response = self._read(order.url, "order")
            order = Order(order.url, OrderBody.from_json(response.json()))
            if order.body.status == "processing":
                delay = self._pause(response, delay, deadline, f"order {order.url}")
        if order.body.status != "valid" or not order.body.certificate:
            raise OrderFailed(
                f"order {order.url} is {order.body.status}: {order.body.error or 'no reason given'}", order.body.error
            )
        return order

    # -- certificates (§7.4.2, §7.6) ---------------------------------------------------------------

    def download(self, order: Order, preferred_chain: str | None = None) -> str:
        """The PEM chain (leaf first); among alternates, the one whose root-most issuer is ``preferred_chain``."""
        if not order.body.certificate:
            raise ClientError(f"order {order.url} has no certificate yet (status {order.body.status})")
        response = self._read(order.body.certificate, "certificate")
        default = response.text
        if not preferred_chain:
            return default
        if _top_issuer(default) == preferred_chain:
            return default
        for link in _links(response, "alternate"):
            alternate = self._read(link, "certificate").text
            if _top_issuer(alternate) == preferred_chain:
                return alternate
        log.info("no chain whose top issuer is %r; using the default chain", preferred_chain)
        return default

    def revoke(
        self, certificate_der: bytes, reason: int | None = None, certificate_key: jose.JWK | None = None
    ) -> None:
        """Revoke as the account, or with the certificate's own key when ``certificate_key`` is given."""
        payload = Revocation(certificate=certificate_der, reason=reason)
        url = self.directory["revokeCert"]
        if certificate_key is not None:
            self.transport.post(url, payload, certificate_key, kid=None)
        else:
            self.transport.post(url, payload, self.key, self._kid())

    def renewal_info(self, certificate: x509.Certificate) -> ari.RenewalInfo:
        """The CA's suggested renewal window (RFC 9773 §4.2); ClientError if the CA has no ARI."""
        base = self.directory.renewal_info
        if base is None:
            raise ClientError(f"{self.directory.url} offers no renewalInfo (ARI)")
        response = self.transport.get(f"{base.rstrip('/')}/{ari.cert_id(certificate)}")
        retry_after = parse_retry_after(response.headers.get("Retry-After"), self.transport.clock())
        try:
            body = response.json()
        except ValueError as error:
            raise ari.InvalidRenewalInfo(f"the renewalInfo answer is not JSON: {error}") from error
        return ari.RenewalInfo.from_json(body, retry_after)

    # -- polling -----------------------------------------------------------------------------------

    def _read(self, url: str, action: str) -> requests.Response:
        """POST-as-GET (§6.3); ``action`` names what is read, for metrics."""
        return self.transport.post(url, None, self.key, self._kid(), action=action)

    def _deadline(self, timeout: float) -> datetime.datetime:
        return self.transport.clock() + datetime.timedelta(seconds=timeout)

    def _pause(self, response: requests.Response, delay: float, deadline: datetime.datetime, what: str) -> float:
        retry_after = parse_retry_after(response.headers.get("Retry-After"), self.transport.clock())
        return self._sleep_within(delay, deadline, retry_after, what)

    def _sleep_within(self, delay: float, deadline: datetime.datetime, retry_after: float | None, what: str) -> float:
        """Sleep ``delay`` (at most the server's Retry-After); fail at the deadline; return the next delay."""
        ceiling = clamp(retry_after, FIRST_POLL, MAX_POLL, MAX_POLL)
        pause = min(delay, ceiling)
        remaining = (deadline - self.transport.clock()).total_seconds()
        if remaining <= 0:
            raise PollTimeout(f"gave up waiting for {what}: still not final at the deadline")
        self.transport.sleep(min(pause, remaining))
        return min(delay * 2, ceiling)


def _links(response: requests.Response, rel: str) -> list[str]:
    header = response.headers.get("Link", "")
    links = requests.utils.parse_header_links(header)
    return [urljoin(response.url, link["url"]) for link in links if link.get("rel") == rel]


def _top_issuer(pem_chain: str) -> str | None:
    """The issuer CN of the chain's last certificate: the root the chain leads to."""
    certificates = x509.load_pem_x509_certificates(pem_chain.encode())
    names = certificates[-1].issuer.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    value = names[0].value if names else None
    return value if isinstance(value, str) else None
