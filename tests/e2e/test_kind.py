"""The kind tier: the chart, ingress-nginx and Pebble in a kind cluster, where a container engine runs."""

from __future__ import annotations

import shutil
import subprocess

import pytest


def _container_engine() -> str | None:
    """Why there is no usable container engine here, or None when there is one."""
    if shutil.which("kind") is None:
        return "kind is not installed"
    if shutil.which("docker") is None:
        return "no docker client"
    if subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode != 0:
        return "the docker client finds no running engine"
    return None


_MISSING = _container_engine()
pytestmark = pytest.mark.skipif(_MISSING is not None, reason=f"e2e needs a container engine: {_MISSING}")


def test_kind_cluster_answers() -> None:
    """The first e2e check: a kind cluster can be created and answers kubectl (the chart arrives later)."""
    name = "certwright-e2e"
    subprocess.run(["kind", "create", "cluster", "--name", name, "--wait", "120s"], check=True, timeout=600)
    try:
        nodes = subprocess.run(
            ["kubectl", "--context", f"kind-{name}", "get", "nodes"], check=True, capture_output=True, text=True
        )
        assert "Ready" in nodes.stdout
    finally:
        subprocess.run(["kind", "delete", "cluster", "--name", name], check=False, timeout=300)
