"""The solver answers exactly its tokens, over real HTTP."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator

import pytest

from certwright.solver.__main__ import parse_answers
from certwright.solver.server import make_server, response_for

ANSWERS = {"tok-1": "tok-1.thumb", "tok_2": "tok_2.thumb"}


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        ("/.well-known/acme-challenge/tok-1", 200, b"tok-1.thumb"),
        ("/.well-known/acme-challenge/tok_2?x=1", 200, b"tok_2.thumb"),
        ("/.well-known/acme-challenge/tok-1/", 404, b"not found\n"),
        ("/.well-known/acme-challenge/tok", 404, b"not found\n"),
        ("/.well-known/acme-challenge/", 404, b"not found\n"),
        ("/tok-1", 404, b"not found\n"),
        ("/", 404, b"not found\n"),
    ],
    ids=["token", "query-ignored", "trailing-slash", "prefix-of-token", "no-token", "bare-token", "root"],
)
def test_only_exact_tokens_are_answered(path: str, status: int, body: bytes) -> None:
    assert response_for(path, ANSWERS) == (status, body)


@pytest.fixture
def served() -> Iterator[int]:
    server = make_server("127.0.0.1", 0, ANSWERS)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_the_server_answers_over_http(served: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", served, timeout=5)
    connection.request("GET", "/.well-known/acme-challenge/tok-1", headers={"Host": "a.example.test"})
    response = connection.getresponse()
    assert (response.status, response.read()) == (200, b"tok-1.thumb")
    connection.request("GET", "/.well-known/acme-challenge/other")
    other = connection.getresponse()
    assert (other.status, other.read()) == (404, b"not found\n")
    connection.close()


@pytest.mark.parametrize(
    "pair", ["tok", "tok=", "=tok.thumb", "tok=other.thumb"], ids=["no-separator", "empty", "no-token", "mismatch"]
)
def test_malformed_answers_are_refused(pair: str) -> None:
    with pytest.raises(ValueError, match=r"expected TOKEN=TOKEN\.THUMBPRINT"):
        parse_answers([pair])


def test_answers_parse() -> None:
    assert parse_answers(["a=a.x", "b=b.y"]) == {"a": "a.x", "b": "b.y"}
