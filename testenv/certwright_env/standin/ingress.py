"""The ingress-controller half of the stand-in: serves port 80 by the Ingresses of its class (and HTTPRoutes).

Each request is routed by Host and path through the cached Ingresses, Services and EndpointSlices
(with a real node) or Pods (with the stand-in's own kubelet; see ``routing``) and proxied to the
chosen Pod's own address; a request with no route gets what
ingress-nginx gives (404 from the default backend, 503 without endpoints, 502 when the Pod does not
answer). The failing hop is logged and named in the ``X-Stand-In-Hop`` response header, so a test (or
a person with curl) sees which of Ingress, Service, selector or Pod is wrong. The stand-in also
creates its IngressClass and, as ingress-nginx does, publishes its address in the status of every
Ingress it serves.

With the Gateway API installed, the same socket also serves the HTTP listeners (port 80) of the
stand-in's Gateways (see ``gateway``): a request whose Host an attached HTTPRoute names (exactly or by
a wildcard) goes by the HTTPRoutes, whatever its path, so a wrong route path fails as it would on its
own Gateway; otherwise the Ingress rules decide, and an HTTPRoute for every host (neither it nor its
listener names one) takes only what no Ingress rule serves, as a default backend would.
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from kubernetes import client

from . import httproutes, routing
from .gateway import GatewayController
from .watchcache import Obj, WatchCache

log = logging.getLogger(__name__)
HOP_HEADER = "X-Stand-In-Hop"
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}
_NO_INGRESS = "ingress: no Ingress of class"
_PAGES = {
    404: "404 Not Found",
    500: "500 Internal Server Error",
    502: "502 Bad Gateway",
    503: "503 Service Temporarily Unavailable",
}


class IngressController:
    """Routes port-80 traffic by Ingress rules to stand-in Pods."""

    def __init__(
        self,
        networking: client.NetworkingV1Api,
        ingresses: WatchCache,
        services: WatchCache,
        pods: WatchCache,
        config: dict[str, Any],
        slices: WatchCache | None = None,
        gateway: GatewayController | None = None,
    ) -> None:
        self.networking = networking
        self.ingresses = ingresses
        self.services = services
        self.pods = pods
        self.slices = slices
        self.gateway = gateway
        self.ingress_class = config["ingress_class"]
        self.address = config["address"]
        self.port = config["http_port"]
        self.hold_file = Path(config["log_dir"]).parent / "stand-in.hold-ca"
        ingresses.add_listener(self._publish_status)

    def ensure_ingress_class(self) -> None:
        body = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IngressClass",
            "metadata": {"name": self.ingress_class},
            "spec": {"controller": "k8s.io/ingress-nginx"},
        }
        try:
            self.networking.create_ingress_class(body, _preload_content=False)
        except client.ApiException as error:
            if error.status != 409:
                raise

    def route(
        self, host: str, path: str, method: str = "GET", headers: Mapping[str, str] | None = None
    ) -> routing.Endpoint | routing.Miss:
        """Gateway routes that name the host, else Ingress rules, else Gateway routes for every host."""
        backend = self._select(httproutes.Request(host, path, method, headers))
        if isinstance(backend, routing.Miss):
            return backend
        if self.slices is not None:  # a real node: Pod IPs from EndpointSlices, as ingress-nginx reads them
            services, slices, pods = self.services.by_key(), self.slices.items(), self.pods.items()
            return routing.select_slice_endpoint(backend, services, slices, pods)
        return routing.select_endpoint(backend, self.services.by_key(), self.pods.items())

    def _select(self, request: httproutes.Request) -> routing.Backend | routing.Miss:
        if self.gateway is not None:
            claimed = self.gateway.route(request, named_only=True)
            if claimed is not None:
                return claimed
        path = request.path.split("?", 1)[0]
        backend = routing.select_backend(self.ingresses.items(), self.ingress_class, request.host, path)
        if self.gateway is None or not isinstance(backend, routing.Miss) or not backend.hop.startswith(_NO_INGRESS):
            return backend
        fallback = self.gateway.route(request, named_only=False)
        if fallback is not None:
            return fallback
        return routing.Miss(404, f"{backend.hop}; and no HTTPRoute attached to a stand-in Gateway serves it")

    def serve(self) -> ThreadingHTTPServer:
        controller = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                controller.handle(self)

            do_HEAD = do_POST = do_PUT = do_DELETE = do_GET  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - inherited name
                return

        server = ThreadingHTTPServer((self.address, self.port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="ingress", daemon=True).start()
        return server

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        host = request.headers.get("Host", "")
        if "Pebble" in request.headers.get("User-Agent", ""):
            self._hold_while_asked()
        target = self.route(host, request.path, request.command, dict(request.headers.items()))
        if isinstance(target, routing.Miss):
            self._fail(request, target)
            return
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers["X-Forwarded-For"] = request.client_address[0]
        headers["X-Forwarded-Host"] = host
        try:
            upstream = http.client.HTTPConnection(target.address, target.port, timeout=10)
            upstream.request(request.command, request.path, body=body, headers=headers)
            response = upstream.getresponse()
            payload = response.read()
        except OSError as error:
            self._fail(request, routing.Miss(502, f"pod: {target.pod} at {target.address}:{target.port}: {error}"))
            return
        finally:
            upstream.close()
        log.info(
            "%s %s%s -> %s (%s:%d) %d",
            request.command,
            host,
            request.path,
            target.pod,
            target.address,
            target.port,
            response.status,
        )
        request.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                request.send_header(key, value)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(payload)

    def _hold_while_asked(self) -> None:
        """Tests hold the CA's validation requests (a slow network path) by creating this file."""
        deadline = time.monotonic() + 120
        while self.hold_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    def _fail(self, request: BaseHTTPRequestHandler, miss: routing.Miss) -> None:
        log.warning(
            "%s %s%s -> %d: %s", request.command, request.headers.get("Host", ""), request.path, miss.status, miss.hop
        )
        title = _PAGES.get(miss.status, str(miss.status))
        page = (
            f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
            "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        ).encode()
        request.send_response(miss.status)
        request.send_header("Content-Type", "text/html")
        request.send_header(HOP_HEADER, miss.hop)
        request.send_header("Content-Length", str(len(page)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(page)

    def _publish_status(self, kind: str, ingress: Obj) -> None:
        """Put our address into ``status.loadBalancer`` of the Ingresses we serve, once."""
        if kind == "DELETED" or routing.class_of(ingress) != self.ingress_class:
            return
        if routing.rejection(ingress) is not None:
            log.warning("ingress %s rejected: %s", routing.name_of(ingress), routing.rejection(ingress))
            return
        published = (ingress.get("status", {}).get("loadBalancer") or {}).get("ingress") or []
        if published == [{"ip": self.address}]:
            return
        meta = ingress["metadata"]
        try:
            self.networking.patch_namespaced_ingress_status(
                meta["name"],
                meta["namespace"],
                {"status": {"loadBalancer": {"ingress": [{"ip": self.address}]}}},
                _content_type="application/merge-patch+json",
                _preload_content=False,
            )
        except client.ApiException as error:
            if error.status != 404:
                raise
