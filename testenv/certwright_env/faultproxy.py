"""An HTTPS proxy in front of Pebble that can answer for it: rate limits, outages.

Pebble builds every URL it returns from the request's Host header, and checks each JWS ``url``
against it, so forwarding the Host unchanged keeps the client talking to the proxy with no rewriting.
Each request is recorded (time, method, path, what answered), so a test can show that nothing
reached the CA while it was supposed to wait.

A ``Hold`` lets a request reach Pebble and keeps its answer back until the test lets it go: the moment
between "the CA has done it" and "the client knows", where a test kills the client. When Pebble is not
running, the proxy drops the connection unanswered (as a refused connection looks to a client) and
records it as "refused", so a test can count the attempts made while the CA was down.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import processes
from .environment import Environment

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length"}


@dataclass
class Fault:
    """Answer requests whose method and path match with ``status`` instead of Pebble, ``times`` times."""

    method: str
    path_prefix: str
    status: int
    problem: str
    detail: str
    retry_after: int | None = None
    times: int = 1


@dataclass
class Canned:
    """Answer requests whose method and path match with this body instead of Pebble (for example, an
    ARI window of the test's choosing); ``body`` is called with the request path."""

    method: str
    path_prefix: str
    status: int
    body: Any
    content_type: str = "application/json"
    times: int = 1_000_000


@dataclass
class Hold:
    """Forward the first request whose method and path match to Pebble, then keep its answer back:
    ``reached`` is set once Pebble has answered, and the answer goes out when ``release`` is set."""

    method: str
    path_prefix: str
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    taken: bool = False


@dataclass(frozen=True)
class Seen:
    at: float
    method: str
    path: str
    answered_by: str


@dataclass
class FaultProxy:
    env: Environment
    faults: list[Fault] = field(default_factory=list)
    canned: list[Canned] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)
    upstream_url: str = ""  # the Pebble to forward to; the environment's by default

    def start(self) -> None:
        upstream = (self.upstream_url or self.env.pebble_directory_url).removeprefix("https://").split("/", 1)[0]
        self.upstream_host, port = upstream.rsplit(":", 1)
        self.upstream_port = int(port)
        pair = self.env.ca.serving("fault-proxy", [self.env.address])
        self.port = processes.free_port(self.env.address)
        self.directory_url = f"https://{self.env.address}:{self.port}/dir"
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                proxy.handle(self)

            do_POST = do_HEAD = do_GET  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - inherited name
                return

        self.server = ThreadingHTTPServer((self.env.address, self.port), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(pair.cert), str(pair.key))
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="fault-proxy", daemon=True).start()

    def stop(self) -> None:
        for hold in self.holds:
            hold.release.set()
        self.server.shutdown()
        self.server.server_close()

    def hold(self, method: str, path_prefix: str) -> Hold:
        """Keep back the answer to the next matching request (see ``Hold``)."""
        held = Hold(method, path_prefix)
        self.holds.append(held)
        return held

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else None
        answer = next(
            (
                c
                for c in self.canned
                if c.times > 0 and c.method == request.command and request.path.startswith(c.path_prefix)
            ),
            None,
        )
        if answer is not None:
            answer.times -= 1
            self.seen.append(Seen(time.time(), request.command, request.path, "proxy"))
            payload = answer.body(request.path).encode()
            request.send_response(answer.status)
            request.send_header("Content-Type", answer.content_type)
            request.send_header("Content-Length", str(len(payload)))
            request.end_headers()
            request.wfile.write(payload)
            return
        fault = self._fault_for(request.command, request.path)
        if fault is not None:
            self.seen.append(Seen(time.time(), request.command, request.path, "proxy"))
            payload = json.dumps(
                {"type": f"urn:ietf:params:acme:error:{fault.problem}", "detail": fault.detail, "status": fault.status}
            ).encode()
            request.send_response(fault.status)
            request.send_header("Content-Type", "application/problem+json")
            if fault.retry_after is not None:
                request.send_header("Retry-After", str(fault.retry_after))
            request.send_header("Content-Length", str(len(payload)))
            request.end_headers()
            request.wfile.write(payload)
            return
        upstream = http.client.HTTPSConnection(
            self.upstream_host, self.upstream_port, context=self.env.ssl_context(), timeout=30
        )
        try:
            headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
            upstream.request(request.command, request.path, body=body, headers=headers)  # Host kept: the proxy's
            response = upstream.getresponse()
            payload = response.read()
        except ConnectionRefusedError:
            self.seen.append(Seen(time.time(), request.command, request.path, "refused"))
            request.close_connection = True  # no answer at all: the client sees the connection drop
            return
        finally:
            upstream.close()
        self.seen.append(Seen(time.time(), request.command, request.path, "pebble"))
        hold = next(
            (
                h
                for h in self.holds
                if not h.taken and h.method == request.command and request.path.startswith(h.path_prefix)
            ),
            None,
        )
        if hold is not None:
            hold.taken = True
            hold.reached.set()
            hold.release.wait(120)
        try:
            request.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in _HOP_BY_HOP:
                    request.send_header(key, value)
            request.send_header("Content-Length", str(len(payload)))
            request.end_headers()
            if request.command != "HEAD":
                request.wfile.write(payload)
        except (OSError, ssl.SSLError):  # the client went away (killed while a hold kept its answer)
            request.close_connection = True

    def _fault_for(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.times > 0 and fault.method == method and path.startswith(fault.path_prefix):
                fault.times -= 1
                return fault
        return None
