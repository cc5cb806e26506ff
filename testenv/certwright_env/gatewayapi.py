"""The Gateway API in the environment: its CRDs at a pinned version, the stand-in's GatewayClass, Gateways.

The CRDs are the standard channel's, from the Go module ``sigs.k8s.io/gateway-api`` (its
``config/crd/standard/`` folder), fetched with ``go mod download`` once and copied into
``$XDG_CACHE_HOME/certwright/gateway-api-<version>/``, as the binaries are cached (binaries.py).
The stand-in implements the GatewayClass ``certwright-stand-in`` (issue 14).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from .binaries import _locked, _say, cache_root

GATEWAY_API_VERSION = os.environ.get("CERTWRIGHT_GATEWAY_API_VERSION", "v1.6.3")
GATEWAY_API_MODULE = "sigs.k8s.io/gateway-api"
GROUP = "gateway.networking.k8s.io"
STANDIN_GATEWAY_CLASS = "certwright-stand-in"
STANDIN_CONTROLLER = "certwright.dev/stand-in"
_COMPLETE = ".complete"


def ensure_crds(version: str = GATEWAY_API_VERSION) -> Path:
    """The folder holding the standard channel's CRD files (and the upgrade guard policy) of ``version``."""
    directory = cache_root().parent / f"gateway-api-{version}"
    if (directory / _COMPLETE).exists():
        return directory
    directory.parent.mkdir(parents=True, exist_ok=True)
    with _locked(directory.parent / f"gateway-api-{version}.lock"):
        if (directory / _COMPLETE).exists():
            return directory
        _say(f"fetching the Gateway API CRDs {version} ({GATEWAY_API_MODULE}) into {directory}")
        source = _download_module(GATEWAY_API_MODULE, version) / "config" / "crd" / "standard"
        files = sorted(source.glob("*.yaml"))
        if not files:
            raise RuntimeError(f"{GATEWAY_API_MODULE}@{version} has no CRDs in {source}")
        staging = Path(tempfile.mkdtemp(prefix=f"gateway-api-{version}.", dir=directory.parent))
        try:
            for file in files:
                shutil.copyfile(file, staging / file.name)  # the module cache's copies are read-only
            (staging / _COMPLETE).write_text(version + "\n")
            if directory.exists():
                shutil.rmtree(directory)
            staging.rename(directory)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return directory


def crd_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.yaml"))


def crd_names(directory: Path) -> list[str]:
    """``<plural>.gateway.networking.k8s.io`` for each CRD file (its name is ``<group>_<plural>.yaml``)."""
    return [
        f"{file.stem.split('_', 1)[1]}.{GROUP}"
        for file in crd_files(directory)
        if file.stem.startswith(f"{GROUP}_") and not file.stem.endswith("_vap_safeupgrades")
    ]


def _download_module(module: str, version: str) -> Path:
    """``go mod download`` in a throwaway module (outside any module the command may refuse); its source folder."""
    with tempfile.TemporaryDirectory(prefix="certwright-gomod.") as workdir:
        Path(workdir, "go.mod").write_text("module certwright.local/fetch\n\ngo 1.24\n")
        completed = subprocess.run(
            ["go", "mod", "download", "-json", f"{module}@{version}"],
            cwd=workdir,
            check=False,
            capture_output=True,
            text=True,
        )
    if completed.returncode != 0:
        raise RuntimeError(f"go mod download {module}@{version} failed: {completed.stdout}{completed.stderr}")
    return Path(json.loads(completed.stdout)["Dir"])


def build_gateway_class(name: str = STANDIN_GATEWAY_CLASS) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "GatewayClass",
        "metadata": {"name": name},
        "spec": {
            "controllerName": STANDIN_CONTROLLER,
            "description": "certwright test environment stand-in (HTTP on port 80)",
        },
    }


def build_gateway(
    namespace: str,
    name: str,
    *,
    listeners: list[dict[str, Any]] | None = None,
    routes_from: str = "All",
    gateway_class: str = STANDIN_GATEWAY_CLASS,
) -> dict[str, Any]:
    """A Gateway of the stand-in's class; by default one listener ``http`` (HTTP, port 80, every hostname)."""
    default = {"name": "http", "protocol": "HTTP", "port": 80, "allowedRoutes": {"namespaces": {"from": routes_from}}}
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"gatewayClassName": gateway_class, "listeners": listeners or [default]},
    }
