"""Fetch an HTTP-01 challenge URL the way the CA will, and name the hop that fails.

Resolution goes through the configured nameservers when given (split-horizon clusters, where the
cluster's DNS differs from the world's) and otherwise the system resolver; then a plain HTTP GET to
port 80 with the name as Host, as RFC 8555 §8.3 describes. One passing check proves the route.
"""

from __future__ import annotations

import http.client
import socket
from collections.abc import Sequence
from dataclasses import dataclass

import dns.exception
import dns.resolver

HTTP_PORT = 80


@dataclass(frozen=True)
class SelfCheckResult:
    """``hop`` is where it failed: dns, connect, ingress (an HTTP status) or body; empty when it passed."""

    ok: bool
    hop: str = ""
    detail: str = ""

    def __str__(self) -> str:
        return "passed" if self.ok else f"{self.hop}: {self.detail}"


def check_http01(
    dns_name: str,
    token: str,
    key_authorization: str,
    *,
    nameservers: Sequence[str] = (),
    timeout: float = 5.0,
    port: int = HTTP_PORT,
) -> SelfCheckResult:
    """GET http://<dns_name>/.well-known/acme-challenge/<token> and compare the body."""
    path = f"/.well-known/acme-challenge/{token}"
    try:
        address = resolve(dns_name, nameservers, timeout)
    except LookupError as error:
        return SelfCheckResult(False, "dns", str(error))
    connection = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Host": dns_name, "User-Agent": "certwright-selfcheck"})
        response = connection.getresponse()
        body = response.read(4096)
    except ConnectionRefusedError:
        return SelfCheckResult(False, "connect", f"connection to {address}:{port} ({dns_name}) was refused")
    except TimeoutError:
        return SelfCheckResult(
            False, "connect", f"connection to {address}:{port} ({dns_name}) timed out after {timeout:.0f} s"
        )
    except OSError as error:
        return SelfCheckResult(False, "connect", f"connection to {address}:{port} ({dns_name}) failed: {error}")
    finally:
        connection.close()
    if response.status != 200:
        hint = " (no Ingress rule routes this path to the solver)" if response.status == 404 else ""
        return SelfCheckResult(
            False, "ingress", f"http://{dns_name}{path} answered {response.status} {response.reason}{hint}"
        )
    if body.strip() != key_authorization.encode():
        return SelfCheckResult(
            False,
            "body",
            f"http://{dns_name}{path} answered 200 with a body that is not this challenge's key authorization",
        )
    return SelfCheckResult(True)


def resolve(dns_name: str, nameservers: Sequence[str], timeout: float) -> str:
    """The first IPv4 address of a name; LookupError with a sentence when there is none."""
    if not nameservers:
        try:
            infos = socket.getaddrinfo(dns_name, HTTP_PORT, socket.AF_INET, socket.SOCK_STREAM)
        except socket.gaierror as error:
            raise LookupError(f"{dns_name} does not resolve: {error.strerror}") from error
        return str(infos[0][4][0])
    resolver = dns.resolver.Resolver(configure=False)
    hosts, ports = zip(*(_split(server) for server in nameservers), strict=True)
    resolver.nameservers = list(hosts)
    resolver.port = ports[0]
    asked = ", ".join(nameservers)
    try:
        answer = resolver.resolve(dns_name, "A", lifetime=timeout)
    except dns.resolver.NXDOMAIN as error:
        raise LookupError(f"{dns_name} does not exist (NXDOMAIN from {asked})") from error
    except (dns.resolver.NoAnswer, dns.resolver.NoNameservers) as error:
        raise LookupError(f"{dns_name} has no A record (asked {asked})") from error
    except dns.exception.Timeout as error:
        raise LookupError(f"no answer for {dns_name} from {asked} within {timeout:.0f} s") from error
    return str(next(iter(answer)).to_text())


def _split(server: str) -> tuple[str, int]:
    host, separator, port = server.rpartition(":")
    if not separator or not port.isdigit():
        return server, 53
    return host.strip("[]"), int(port)
