"""Fakes at the ``requests`` seam: a scripted adapter, response builders, a directory, injected time.

The real ``Transport`` and ``AcmeClient`` run on a real ``requests.Session``; only the adapter that
would open sockets is replaced (``session.mount("https://", adapter)``).
"""

from __future__ import annotations

import datetime
import functools
import itertools
import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import josepy as jose
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from certwright.acme.errors import ACME_ERROR_PREFIX
from certwright.acme.transport import Transport, new_session

BASE = "https://acme.test"
DIRECTORY_URL = f"{BASE}/directory"
NEW_NONCE = f"{BASE}/new-nonce"
NEW_ACCOUNT = f"{BASE}/new-account"
NEW_ORDER = f"{BASE}/new-order"
RENEWAL_INFO = f"{BASE}/renewal-info"
ACCOUNT_URL = f"{BASE}/account/1"
NOW = datetime.datetime(2025, 1, 1, 12, 0, tzinfo=datetime.UTC)  # a Wednesday

Reply = requests.Response | BaseException


def directory_body(*, renewal_info: bool = True, profiles: Mapping[str, str] | None = None) -> dict[str, Any]:
    """An RFC 8555 §7.1.1 directory, with ARI and profiles unless told otherwise."""
    body: dict[str, Any] = {
        "newNonce": NEW_NONCE,
        "newAccount": NEW_ACCOUNT,
        "newOrder": NEW_ORDER,
        "revokeCert": f"{BASE}/revoke-cert",
        "keyChange": f"{BASE}/key-change",
        "meta": {"termsOfService": f"{BASE}/terms"},
    }
    if renewal_info:
        body["renewalInfo"] = RENEWAL_INFO
    if profiles is not None:
        body["meta"]["profiles"] = dict(profiles)
    return body


def reply(
    status: int = 200,
    body: Any = None,
    *,
    text: str | None = None,
    content_type: str | None = None,
    nonce: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> requests.Response:
    """A ``requests.Response`` as an adapter would return it: JSON ``body``, or raw ``text``, or empty."""
    response = requests.Response()
    response.status_code = status
    response.encoding = "utf-8"
    all_headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
    if body is not None:
        response._content = json.dumps(body).encode()
        all_headers["Content-Type"] = content_type or "application/json"
    elif text is not None:
        response._content = text.encode()
        all_headers["Content-Type"] = content_type or "text/plain"
    else:
        response._content = b""
    if nonce is not None:
        all_headers["Replay-Nonce"] = nonce
    all_headers.update(headers or {})
    response.headers = all_headers
    return response


def problem(
    short_type: str,
    status: int,
    detail: str = "",
    *,
    nonce: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> requests.Response:
    """A problem document (RFC 8555 §6.7) of type ``urn:ietf:params:acme:error:<short_type>``."""
    body = {"type": f"{ACME_ERROR_PREFIX}{short_type}", "detail": detail, "status": status, **extra}
    return reply(status, body, content_type="application/problem+json", nonce=nonce, headers=headers)


@dataclass(frozen=True)
class Sent:
    """One request as it reached the adapter."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: dict[str, Any] | None
    verify: Any

    @property
    def protected(self) -> dict[str, Any]:
        """The JWS protected header."""
        assert self.body is not None
        header: dict[str, Any] = json.loads(jose.decode_b64jose(self.body["protected"]))
        return header

    @property
    def payload(self) -> bytes:
        """The JWS payload, decoded (``b""`` for POST-as-GET)."""
        assert self.body is not None
        return jose.decode_b64jose(self.body["payload"])

    def payload_json(self) -> Any:
        return json.loads(self.payload)


class ScriptedAdapter(BaseAdapter):
    """Answers each request with the next scripted reply (an exception is raised instead) and records it.

    With ``fresh_nonces`` the adapter acts as a CA's newNonce on its own (every HEAD is answered with a
    nonce, unscripted) and every POST answer without a ``Replay-Nonce`` gets a new one.
    """

    def __init__(self, *replies: Reply, fresh_nonces: bool = False) -> None:
        super().__init__()
        self.replies: deque[Reply] = deque(replies)
        self.sent: list[Sent] = []
        self.fresh_nonces = fresh_nonces
        self._counter = itertools.count(1)

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        body = json.loads(request.body) if request.body else None
        self.sent.append(Sent(str(request.method), str(request.url), dict(request.headers), body, verify))
        if self.fresh_nonces and request.method == "HEAD":
            return self._answer(request, reply(nonce=f"nonce{next(self._counter)}"))
        if not self.replies:
            raise AssertionError(f"nothing scripted for {request.method} {request.url}")
        answer = self.replies.popleft()
        if isinstance(answer, BaseException):
            raise answer
        if self.fresh_nonces and request.method == "POST" and "Replay-Nonce" not in answer.headers:
            answer.headers["Replay-Nonce"] = f"nonce{next(self._counter)}"
        return self._answer(request, answer)

    @staticmethod
    def _answer(request: requests.PreparedRequest, answer: requests.Response) -> requests.Response:
        answer.url = str(request.url)
        answer.request = request
        return answer

    def close(self) -> None:
        pass

    def methods(self) -> list[str]:
        return [sent.method for sent in self.sent]

    def posts(self) -> list[Sent]:
        return [sent for sent in self.sent if sent.method == "POST"]


@dataclass
class FakeTime:
    """The injected clock and sleep. The clock stands still unless ``sleep_moves_clock``."""

    now: datetime.datetime = NOW
    sleep_moves_clock: bool = False
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> datetime.datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.sleep_moves_clock:
            self.now += datetime.timedelta(seconds=seconds)


def transport_for(
    adapter: ScriptedAdapter, time: FakeTime | None = None, *, session: requests.Session | None = None, **options: Any
) -> Transport:
    """A real ``Transport`` whose session sends through ``adapter``, with injected clock and sleep."""
    time = time or FakeTime()
    session = session or new_session()
    session.mount("https://", adapter)
    return Transport(DIRECTORY_URL, session=session, clock=time.clock, sleep=time.sleep, **options)


@functools.cache
def account_key() -> jose.JWKEC:
    """One P-256 account key for the whole run."""
    return jose.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))


# -- certificates ----------------------------------------------------------------------------------


@functools.cache
def _key(name: str) -> ec.EllipticCurvePrivateKey:
    """One P-256 key per name, for the run (any key will do for these certificates)."""
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def issue(
    subject: str,
    issuer: str,
    *,
    serial: int = 1,
    aki: bytes | x509.AuthorityKeyIdentifier | None = None,
    ca: bool = False,
) -> x509.Certificate:
    """A certificate for ``subject`` signed by ``issuer``'s key; ``aki`` bytes are its AKI keyIdentifier."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(_key(subject).public_key())
        .serial_number(serial)
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if isinstance(aki, bytes):
        aki = x509.AuthorityKeyIdentifier(aki, None, None)
    if aki is not None:
        builder = builder.add_extension(aki, critical=False)
    return builder.sign(_key(issuer), hashes.SHA256())


def pem(*certificates: x509.Certificate) -> str:
    return "".join(cert.public_bytes(serialization.Encoding.PEM).decode() for cert in certificates)
