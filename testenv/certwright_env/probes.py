"""What a test (or a person) does to look at the environment from outside: HTTP through the
stand-in's ingress, DNS through challtestsrv, waiting for a condition with a deadline."""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import dns.resolver

from .environment import Environment
from .standin.ingress import HOP_HEADER

T = TypeVar("T")


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    hop: str | None


def http_get(env: Environment, host: str, path: str = "/") -> Reply:
    """GET through the environment's ingress with the given Host, as the CA's validator does."""
    connection = http.client.HTTPConnection(env.address, env.http_port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host, "User-Agent": "certwright-tests"})
        response = connection.getresponse()
        return Reply(response.status, response.read(), response.getheader(HOP_HEADER))
    finally:
        connection.close()


def resolve(env: Environment, name: str) -> list[str]:
    """A records for ``name`` from the environment's DNS (challtestsrv)."""
    host, port = env.nameserver.rsplit(":", 1)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [host]
    resolver.port = int(port)
    return sorted(record.to_text() for record in resolver.resolve(name, "A", lifetime=5))


def eventually(probe: Callable[[], T], done: Callable[[T], bool], timeout: float = 30, what: str = "") -> T:
    """Call ``probe`` until ``done`` accepts its result; fail with the last result after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if done(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout:.0f} s: {what}; last seen: {result!r}")
        time.sleep(0.1)
