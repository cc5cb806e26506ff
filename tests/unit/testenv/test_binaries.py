"""Binaries come from KUBEBUILDER_ASSETS when it holds them."""

from __future__ import annotations

from pathlib import Path

from certwright_env.binaries import from_assets


def test_assets_supply_the_executables_they_hold(tmp_path: Path) -> None:
    for name in ("etcd", "kube-apiserver", "kubectl"):
        (tmp_path / name).write_text("#!/bin/sh\n")
        (tmp_path / name).chmod(0o755)
    (tmp_path / "kube-controller-manager").write_text("not executable")

    found = from_assets(str(tmp_path))

    assert found == {
        "etcd": tmp_path / "etcd",
        "kube-apiserver": tmp_path / "kube-apiserver",
        "kube-controller-manager": None,
        "kubectl": tmp_path / "kubectl",
    }


def test_no_assets_means_everything_is_built() -> None:
    assert set(from_assets(None).values()) == {None}
