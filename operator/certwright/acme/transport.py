"""The network layer under the ACME verbs: directory, nonces, signed POSTs, problems, retries.

- Every URL comes from the directory or from the server's answers; none is built here.
- A pool of nonces from ``Replay-Nonce`` headers; ``newNonce`` is asked (HEAD) only when it is empty.
- ``badNonce`` is retried up to ``nonce_retries`` times, each time with the nonce from the error
  (RFC 8555 §6.5); Pebble rejects 5 % of good nonces, so one retry is not enough.
- ``serverInternal`` and 5xx answers are retried with exponential backoff (or the server's
  Retry-After when shorter than the cap); ``rateLimited`` is never retried here: it is raised with
  the server's Retry-After, for the caller to schedule.
- The ``requests.Session``, clock and sleep are injected; TLS verification is never switched off.
- Every HTTP request, retries and nonce fetches included, is told to the injected ``observe`` as an
  ``Exchange`` (method, URL, ACME action, status, seconds): how metrics see ACME traffic without
  this layer knowing of Prometheus (issue 15).
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import josepy as jose
import requests

from .. import __version__
from . import jws
from .errors import (
    BadNonce,
    ConnectionFailed,
    NotAnAcmeServer,
    Problem,
    ProblemError,
    RateLimited,
    ServerInternal,
    TLSVerificationError,
    TransportError,
    problem_error,
)
from .messages import Directory
from .retry_after import clamp, parse_retry_after

log = logging.getLogger(__name__)

USER_AGENT = f"certwright/{__version__} python-requests/{requests.__version__}"
JOSE_CONTENT_TYPE = "application/jose+json"
PROBLEM_CONTENT_TYPE = "application/problem+json"
# A Retry-After beyond this is treated as this; Let's Encrypt's longest limit refills in days.
MAX_RETRY_AFTER = 10 * 86400.0

Clock = Callable[[], datetime.datetime]
Sleep = Callable[[float], None]

# The directory's endpoints by the action name cert-manager's ACME metrics use for them.
DIRECTORY_ACTIONS = {
    "newNonce": "new-nonce",
    "newAccount": "new-account",
    "newOrder": "new-order",
    "revokeCert": "revoke-cert",
    "keyChange": "key-change",
    "renewalInfo": "renewal-info",
}


@dataclass(frozen=True)
class Exchange:
    """One HTTP request to the CA as it ended: ``status`` None when no answer came (connection, TLS)."""

    method: str
    url: str
    action: str
    status: int | None
    seconds: float


Observe = Callable[[Exchange], None]


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def new_session(ca_bundle: str | None = None) -> requests.Session:
    """A session that verifies the CA's TLS: against ``ca_bundle`` (a PEM file) when given."""
    session = requests.Session()
    session.verify = ca_bundle if ca_bundle else True
    return session


class Transport:
    """Talks to one ACME server; safe to share between threads."""

    def __init__(
        self,
        directory_url: str,
        *,
        session: requests.Session,
        clock: Clock = utc_now,
        sleep: Sleep = time.sleep,
        nonce_retries: int = 5,
        server_retries: int = 3,
        server_backoff: float = 1.0,
        timeout: float = 30.0,
        observe: Observe | None = None,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        if session.verify is False:
            raise ValueError("TLS verification must stay on; pass the private CA's bundle instead")
        self.directory_url = directory_url
        self.session = session
        self.clock = clock
        self.sleep = sleep
        self.nonce_retries = nonce_retries
        self.server_retries = server_retries
        self.server_backoff = server_backoff
        self.timeout = timeout
        self.observe = observe
        self.timer = timer
        self._directory: Directory | None = None
        self._nonces: list[str] = []
        self._lock = threading.Lock()
        self.nonce_rejections = 0  # badNonce answers retried so far; for metrics and tests

    # -- plain GETs: the directory and ARI (RFC 9773 §4.1) ----------------------------------------

    def directory(self) -> Directory:
        """The directory, fetched once and kept."""
        if self._directory is None:
            self._with_server_retries(self.directory_url, self._fetch_directory)
        assert self._directory is not None
        return self._directory

    def _fetch_directory(self) -> requests.Response:
        """One GET of the directory; anything but an ACME directory (or a 5xx, retried) is named as such."""
        url = self.directory_url
        response = self._send("GET", url, "directory", raise_problems=False)
        if response.status_code >= 500:
            raise self._problem(url, response)
        content_type = response.headers.get("Content-Type", "no content type")
        try:
            body = response.json() if response.status_code < 400 else None
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise NotAnAcmeServer(
                f"{url} is not an ACME directory: it answered HTTP {response.status_code} with {content_type}, "
                "not a JSON directory; check the server URL"
            )
        self._directory = Directory(url, body)
        return response

    def get(self, url: str, *, action: str = "") -> requests.Response:
        """An unauthenticated GET, retried on 5xx; problems become exceptions."""
        return self._with_server_retries(url, lambda: self._send("GET", url, action or self.action_for(url)))

    # -- signed requests --------------------------------------------------------------------------

    def post(
        self,
        url: str,
        payload: jose.JSONDeSerializable | dict[str, Any] | None,
        key: jose.JWK,
        kid: str | None,
        *,
        action: str = "",
    ) -> requests.Response:
        """A signed POST (``payload=None`` is POST-as-GET); ``kid`` None signs with the ``jwk`` instead.

        ``action`` names the verb for metrics (``order``, ``authz``, …); a directory endpoint names itself.
        """
        body = jws.encode_payload(payload)
        return self._with_server_retries(url, lambda: self._post_with_nonce_retries(url, action, body, key, kid))

    def action_for(self, url: str) -> str:
        """The directory endpoint ``url`` is (an ARI URL is under ``renewalInfo``), else ``other``."""
        if url == self.directory_url:
            return "directory"
        if self._directory is not None:
            for field, action in DIRECTORY_ACTIONS.items():
                endpoint = self._directory.get(field)
                if endpoint and (url == endpoint or (field == "renewalInfo" and url.startswith(endpoint))):
                    return action
        return "other"

    def _post_with_nonce_retries(
        self, url: str, action: str, body: bytes, key: jose.JWK, kid: str | None
    ) -> requests.Response:
        rejected = 0
        while True:
            signed = jws.sign(body, key, url=url, nonce=self._nonce(), kid=kid)
            try:  # named after _nonce(), which fetched the directory when this is the first request
                return self._send("POST", url, action or self.action_for(url), json_body=signed)
            except BadNonce as error:
                rejected += 1
                with self._lock:
                    self.nonce_rejections += 1
                if rejected > self.nonce_retries:
                    raise BadNonce(
                        Problem(
                            type=error.problem.type,
                            detail=f"the CA rejected {rejected} nonces in a row; the last time: {error.problem.detail}",
                            status=error.problem.status,
                        ),
                        url,
                    ) from error
                log.debug("badNonce from %s; retrying with the nonce from the error (%d)", url, rejected)

    def _nonce(self) -> str:
        with self._lock:
            if self._nonces:
                return self._nonces.pop()
        if self._directory is None:
            self._fetch_directory()  # no retries of its own: the caller's POST retries as a whole
        assert self._directory is not None
        url = self._directory["newNonce"]
        self._send("HEAD", url, "new-nonce")  # _send pools its Replay-Nonce
        with self._lock:
            if self._nonces:
                return self._nonces.pop()
        raise TransportError(f"{url} answered without a usable Replay-Nonce header")

    def _keep_nonce(self, response: requests.Response) -> None:
        nonce = response.headers.get("Replay-Nonce")
        if nonce and _is_base64url(nonce):
            with self._lock:
                self._nonces.append(nonce)

    # -- the wire ---------------------------------------------------------------------------------

    def _with_server_retries(self, url: str, attempt: Callable[[], requests.Response]) -> requests.Response:
        failures = 0
        while True:
            try:
                return attempt()
            except ServerInternal as error:
                failures += 1
                if failures > self.server_retries:
                    raise
                delay = clamp(error.retry_after, 0, 30, self.server_backoff * 2 ** (failures - 1))
                log.info("%s failed (%s); retry %d in %.1f s", url, error.problem, failures, delay)
                self.sleep(delay)

    def _send(
        self,
        method: str,
        url: str,
        action: str,
        json_body: dict[str, Any] | None = None,
        *,
        raise_problems: bool = True,
    ) -> requests.Response:
        headers = {"User-Agent": USER_AGENT}  # per request: a plain Session carries python-requests' own
        if json_body is not None:
            headers["Content-Type"] = JOSE_CONTENT_TYPE
        started, status = self.timer(), None
        try:
            # verify per request: requests lets REQUESTS_CA_BUNDLE override the session's own bundle.
            response = self.session.request(
                method, url, json=json_body, headers=headers, timeout=self.timeout, verify=self.session.verify
            )
            status = response.status_code
        except requests.exceptions.SSLError as error:
            raise TLSVerificationError(
                f"TLS verification of {url} failed ({_root_cause(error)}); for a private ACME CA, "
                "give its CA bundle (caBundle) instead"
            ) from error
        except requests.exceptions.RequestException as error:
            raise ConnectionFailed(f"cannot reach the ACME server at {url}: {_root_cause(error)}") from error
        finally:
            if self.observe is not None:
                self._tell(Exchange(method, url, action, status, self.timer() - started))
        self._keep_nonce(response)
        if response.status_code < 400 or not raise_problems:
            return response
        raise self._problem(url, response)

    def _tell(self, exchange: Exchange) -> None:
        """Hand ``exchange`` to the observer; its failure is logged, never the request's."""
        assert self.observe is not None
        try:
            self.observe(exchange)
        except Exception:
            log.exception("the ACME request observer failed")

    def _problem(self, url: str, response: requests.Response) -> ProblemError:
        retry_after = parse_retry_after(response.headers.get("Retry-After"), self.clock())
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "type" in body:
            problem = Problem.from_json(body, response.status_code)
        else:
            kind = {429: "rateLimited"}.get(
                response.status_code, "serverInternal" if response.status_code >= 500 else "malformed"
            )
            problem = Problem(
                type=f"urn:ietf:params:acme:error:{kind}",
                detail=f"HTTP {response.status_code} without a problem document",
                status=response.status_code,
            )
        if retry_after is not None:
            retry_after = min(retry_after, MAX_RETRY_AFTER)
        error = problem_error(problem, url, retry_after)
        if isinstance(error, RateLimited):
            log.warning("rate limited by %s: %s (retry after %s s)", url, problem.detail, retry_after)
        return error


def _is_base64url(text: str) -> bool:
    return bool(text) and all(c.isalnum() or c in "-_" for c in text)


def _root_cause(error: BaseException) -> str:
    while error.__cause__ is not None or error.__context__ is not None:
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    if error.args and isinstance(error.args[0], BaseException):
        return _root_cause(error.args[0])
    return str(error)
