"""Pebble (a real ACME server) and pebble-challtestsrv (its DNS), started inside a ``Stack``.

``AcmeEnvironment`` runs just these two, for the acme tier: challtestsrv then also answers HTTP-01
on the stack's address, and tests provision key authorizations through its management API.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

from . import processes
from .base import Stack
from .binaries import ensure_pebble
from .processes import Child

# Profiles like Let's Encrypt's, plus one short enough to watch a renewal happen in a test.
PEBBLE_PROFILES = {
    "default": {"description": "90-day certificates", "validityPeriod": 90 * 86400},
    "shortlived": {"description": "6-day certificates, as Let's Encrypt's", "validityPeriod": 6 * 86400},
    "tenminutes": {"description": "600-second certificates for renewal tests", "validityPeriod": 600},
    "ninetyseconds": {"description": "90-second certificates for quick renewal tests", "validityPeriod": 90},
}


class PebbleParts:
    """Starts challtestsrv and Pebble for a stack, and remembers where they listen."""

    def __init__(
        self,
        stack: Stack,
        folder: Path,
        *,
        serve_http01: bool,
        pebble_env: dict[str, str] | None = None,
        pebble_config: dict[str, Any] | None = None,
        name: str = "pebble",
    ) -> None:
        self.name = name  # of its log and config files: a second Pebble in one stack needs its own
        self.child: Child | None = None
        self.stack = stack
        self.folder = folder
        self.serve_http01 = serve_http01
        self.pebble_env = pebble_env or {}
        self.pebble_config = pebble_config or {}

    def start_dns(self) -> None:
        address = self.stack.address
        dns_port = processes.free_port(address)
        management_port = processes.free_port(address)
        self.nameserver = f"{address}:{dns_port}"
        self.dns_management_url = f"http://{address}:{management_port}"
        http01 = f"{address}:{self.stack.http_port}" if self.serve_http01 else ""
        binary = self.folder / "pebble-challtestsrv"
        flags = _flags(binary)
        dns_flag = "-dnsserver" if "-dnsserver" in flags else "-dns01"  # renamed after 2.4.0
        argv = [
            binary,
            f"-defaultIPv4={address}",
            "-defaultIPv6=",
            f"{dns_flag}={self.nameserver}",
            f"-http01={http01}",
            "-https01=",
            "-tlsalpn01=",
            f"-management={address}:{management_port}",
        ]
        if "-doh" in flags:
            argv.append("-doh=")
        child = self.stack.spawn("challtestsrv", argv)
        processes.wait_until(
            child,
            lambda: processes.port_open(address, management_port) and processes.port_open(address, dns_port),
            30,
        )

    def start_pebble(self) -> None:
        stack = self.stack
        address = stack.address
        acme_port = processes.free_port(address)
        management_port = processes.free_port(address)
        serving = stack.ca.serving(self.name, [address, "localhost", "127.0.0.1"])
        config: dict[str, Any] = {
            "listenAddress": f"{address}:{acme_port}",
            "managementListenAddress": f"{address}:{management_port}",
            "certificate": str(serving.cert),
            "privateKey": str(serving.key),
            "httpPort": stack.http_port,
            "tlsPort": processes.free_port(address),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
            "retryAfter": {"authz": 3, "order": 5},
            "profiles": PEBBLE_PROFILES,
        }
        config.update(self.pebble_config)
        self.config_file = stack.run_dir / f"{self.name}-config.json"
        self.config_file.write_text(json.dumps({"pebble": config}, indent=2))
        self.directory_url = f"https://{address}:{acme_port}/dir"
        self.management_url = f"https://{address}:{management_port}"
        self.ca_bundle = stack.ca.cert_file
        self.resume()

    def resume(self) -> None:
        """Start Pebble on the ports it had (after ``halt``): it remembers no account, order or CA."""
        env = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", **self.pebble_env}
        argv = [self.folder / "pebble", "-config", self.config_file, "-dnsserver", self.nameserver]
        self.child = child = self.stack.spawn(self.name, argv, env=env)
        context = self.stack.ssl_context()

        def directory_served() -> bool:
            with urllib.request.urlopen(self.directory_url, timeout=2, context=context) as response:  # noqa: S310
                return b'"newOrder"' in response.read()

        processes.wait_until(child, directory_served, 30)

    def halt(self) -> None:
        """Stop Pebble (its ports then refuse connections) until ``resume``."""
        if self.child is not None:
            self.child.stop()
            self.stack.children.remove(self.child)
            self.child = None


def _flags(binary: Path) -> set[str]:
    """The flags a Go program lists in its -h output (versions differ)."""
    completed = subprocess.run([binary, "-h"], capture_output=True, text=True, timeout=10)
    return {line.split()[0] for line in (completed.stdout + completed.stderr).splitlines() if line.startswith("  -")}


class AcmeEnvironment(Stack):
    """Pebble and challtestsrv on an address of their own, no Kubernetes: the acme tier's server."""

    run_prefix = "certwright-acme-"

    def __init__(
        self,
        run_dir: Path | None = None,
        *,
        pebble_env: dict[str, str] | None = None,
        pebble_config: dict[str, Any] | None = None,
        pebble_folder: Path | None = None,
    ) -> None:
        super().__init__(run_dir)
        self.pebble_env = pebble_env
        self.pebble_config = pebble_config
        self.pebble_folder = pebble_folder

    def _start_components(self) -> None:
        """``pebble_folder`` picks another Pebble build (Debian's 2.4.0 is in /usr/bin); default: ours."""
        self.parts = PebbleParts(
            self,
            self.pebble_folder or ensure_pebble(),
            serve_http01=True,
            pebble_env=self.pebble_env,
            pebble_config=self.pebble_config,
        )
        self.timed("dns", self.parts.start_dns)
        self.timed("pebble", self.parts.start_pebble)

    @property
    def directory_url(self) -> str:
        return self.parts.directory_url

    @property
    def ca_bundle(self) -> Path:
        return self.parts.ca_bundle

    def add_http01(self, token: str, key_authorization: str) -> None:
        self._dns_call("add-http01", {"token": token, "content": key_authorization})

    def remove_http01(self, token: str) -> None:
        self._dns_call("del-http01", {"token": token})

    def http_requests(self, host: str) -> list[dict[str, Any]]:
        """The HTTP-01 requests challtestsrv received for ``host`` (proof that the CA fetched)."""
        history: list[dict[str, Any]] = json.loads(self._dns_call("http-request-history", {"host": host}) or b"[]")
        return history

    def management(self, path: str, body: dict[str, Any] | None = None) -> bytes:
        """GET (or, with a body, POST) Pebble's management API over HTTPS with the run's CA."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.parts.management_url}{path}", data=data)  # noqa: S310
        with urllib.request.urlopen(request, timeout=10, context=self.ssl_context()) as response:  # noqa: S310
            payload: bytes = response.read()
            return payload

    def _dns_call(self, path: str, body: dict[str, Any]) -> bytes:
        request = urllib.request.Request(f"{self.parts.dns_management_url}/{path}", data=json.dumps(body).encode())  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            payload: bytes = response.read()
            return payload
