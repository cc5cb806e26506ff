"""``python -m certwright`` reads its flags."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from certwright import __version__
from certwright.__main__ import in_cluster_login, parse_args


def test_version_is_printed() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "certwright", "--version"], capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == f"certwright {__version__}"


def test_namespaces_repeat_and_default_to_all() -> None:
    assert parse_args([]).namespace == []
    assert parse_args(["--namespace", "a", "--namespace", "b"]).namespace == ["a", "b"]


def test_in_cluster_login_uses_the_service_variables_and_the_mounted_token(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("abc\n")
    (tmp_path / "namespace").write_text("certwright")
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    environ = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    info = in_cluster_login(environ, tmp_path)
    assert info is not None
    assert info.server == "https://10.0.0.1:443"  # an address: no cluster DNS needed
    assert (info.scheme, info.token, info.default_namespace) == ("Bearer", "abc", "certwright")
    assert info.ca_path == str(tmp_path / "ca.crt")
    v6 = in_cluster_login({"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}, tmp_path)
    assert v6 is not None
    assert v6.server == "https://[fd00::1]:443"
    assert in_cluster_login({}, tmp_path) is None, "outside a cluster"
    assert in_cluster_login(environ, tmp_path / "missing") is None
