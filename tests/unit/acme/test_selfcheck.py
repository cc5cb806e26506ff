"""The self-check names the hop that fails, against a real local HTTP server."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from certwright.acme.selfcheck import check_http01

TOKEN = "tok-123"
KEY_AUTHORIZATION = "tok-123.thumbprint"


class _Handler(BaseHTTPRequestHandler):
    answers: ClassVar[dict[str, tuple[int, bytes]]] = {}

    def do_GET(self) -> None:
        status, body = self.answers.get(self.path, (404, b"default backend - 404"))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - inherited name
        return


@pytest.fixture
def server() -> Iterator[tuple[int, dict[str, tuple[int, bytes]]]]:
    answers: ClassVar[dict[str, tuple[int, bytes]]] = {}
    handler = type("Handler", (_Handler,), {"answers": answers})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1], answers
    httpd.shutdown()
    httpd.server_close()


PATH = f"/.well-known/acme-challenge/{TOKEN}"


@pytest.mark.parametrize(
    ("answer", "ok", "hop", "says"),
    [
        ((200, b"tok-123.thumbprint\n"), True, "", ""),
        ((200, b"something else"), False, "body", "is not this challenge's key authorization"),
        (None, False, "ingress", "answered 404 Not Found (no Ingress rule routes this path to the solver)"),
        ((503, b"no endpoints"), False, "ingress", "answered 503"),
    ],
    ids=["passes-trailing-newline-ignored", "wrong-body", "404", "503"],
)
def test_each_http_outcome_is_named(
    server: tuple[int, dict[str, tuple[int, bytes]]], answer: tuple[int, bytes] | None, ok: bool, hop: str, says: str
) -> None:
    port, answers = server
    if answer is not None:
        answers[PATH] = answer

    result = check_http01("localhost", TOKEN, KEY_AUTHORIZATION, port=port)

    assert (result.ok, result.hop) == (ok, hop)
    assert says in result.detail


def test_a_closed_port_is_a_connect_failure() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: refused
        result = check_http01("localhost", TOKEN, KEY_AUTHORIZATION, port=port)
    assert result.hop == "connect"
    assert f"connection to 127.0.0.1:{port} (localhost) was refused" in result.detail


def test_a_nameserver_that_does_not_answer_is_a_dns_failure() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))  # receives queries, never answers
        server = f"127.0.0.1:{silent.getsockname()[1]}"
        result = check_http01("web.example.test", TOKEN, KEY_AUTHORIZATION, nameservers=[server], timeout=0.5)
    assert result.hop == "dns"
    assert f"no answer for web.example.test from {server}" in result.detail
