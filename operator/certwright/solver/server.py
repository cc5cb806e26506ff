"""A tiny threaded HTTP server that serves key authorizations by token."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)
CHALLENGE_PREFIX = "/.well-known/acme-challenge/"


def response_for(path: str, answers: Mapping[str, str]) -> tuple[int, bytes]:
    """Status and body for a request path: the key authorization for a known token, else 404."""
    token = path.split("?", 1)[0].removeprefix(CHALLENGE_PREFIX) if path.startswith(CHALLENGE_PREFIX) else None
    if token is not None and token in answers:
        return 200, answers[token].encode()
    return 404, b"not found\n"


def make_server(address: str, port: int, answers: Mapping[str, str]) -> ThreadingHTTPServer:
    """The responder bound to ``address:port``; ``serve_forever`` runs it."""
    fixed = dict(answers)

    class Handler(BaseHTTPRequestHandler):
        server_version = "certwright-solver"
        sys_version = ""

        def do_GET(self) -> None:
            status, body = response_for(self.path, fixed)
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_HEAD = do_GET  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - inherited name
            # The path names the token, never the key authorization; the status says if it matched.
            log.info("%s %s", self.address_string(), format % args)

    server = ThreadingHTTPServer((address, port), Handler)
    server.daemon_threads = True
    return server
