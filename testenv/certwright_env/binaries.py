"""Obtain the environment's binaries at pinned versions, building each from its Go module once.

etcd, kube-apiserver, kube-controller-manager and kubectl come from ``KUBEBUILDER_ASSETS`` when it
holds them (setup-envtest users already have etcd, kube-apiserver and kubectl there); anything else is
built with ``go build`` into ``$XDG_CACHE_HOME/certwright/bin/<component>-<version>/`` and reused from
then on. Pebble and pebble-challtestsrv are built the same way. Builds take a file lock, so two
environments starting at once build a component only once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

KUBERNETES_VERSION = os.environ.get("CERTWRIGHT_K8S_VERSION", "v1.35.4")
ETCD_VERSION = os.environ.get("CERTWRIGHT_ETCD_VERSION", "v3.6.16")
PEBBLE_VERSION = os.environ.get("CERTWRIGHT_PEBBLE_VERSION", "v2.10.3")
HELM_VERSION = os.environ.get("CERTWRIGHT_HELM_VERSION", "v3.22.0")
HELM4_VERSION = os.environ.get("CERTWRIGHT_HELM4_VERSION", "v4.3.1")  # the chart is also linted and rendered with it

KUBE_COMMANDS = ("kube-apiserver", "kube-controller-manager", "kubectl")
# What the real node adds (issue 11): built from the same module, cached apart so the control plane's
# cache stays valid.
NODE_COMMANDS = ("kubelet", "kube-proxy", "kube-scheduler")


@dataclass(frozen=True)
class Binaries:
    """Paths of every executable the environment runs."""

    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path
    kubectl: Path
    pebble: Path
    challtestsrv: Path


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "certwright" / "bin"


def ensure_all(assets: str | None = None) -> Binaries:
    """Return every binary, building what is neither in ``assets`` (default: KUBEBUILDER_ASSETS) nor cached."""
    found = from_assets(assets if assets is not None else os.environ.get("KUBEBUILDER_ASSETS"))
    kube = _kube_binaries(found)
    pebble_dir = ensure_pebble()
    return Binaries(
        etcd=found["etcd"] or _ensure_etcd(),
        kube_apiserver=kube["kube-apiserver"],
        kube_controller_manager=kube["kube-controller-manager"],
        kubectl=kube["kubectl"],
        pebble=pebble_dir / "pebble",
        challtestsrv=pebble_dir / "pebble-challtestsrv",
    )


def from_assets(assets: str | None) -> dict[str, Path | None]:
    """The executables that a setup-envtest folder holds (it usually lacks kube-controller-manager)."""
    found: dict[str, Path | None] = {}
    for name in ("etcd", *KUBE_COMMANDS):
        candidate = Path(assets) / name if assets else None
        found[name] = candidate if candidate and os.access(candidate, os.X_OK) else None
    return found


def _kube_binaries(found: dict[str, Path | None]) -> dict[str, Path]:
    missing = [name for name in KUBE_COMMANDS if found[name] is None]
    built: dict[str, Path] = {}
    if missing:
        directory = _ensure_built(
            f"kubernetes-{KUBERNETES_VERSION}",
            tuple(KUBE_COMMANDS),
            lambda out: _build_kubernetes(out),
            "≈10 minutes on 2 cores with a cold Go module cache",
        )
        built = {name: directory / name for name in KUBE_COMMANDS}
    return {name: found[name] or built[name] for name in KUBE_COMMANDS}


def ensure_node() -> dict[str, Path]:
    """kubelet, kube-proxy and kube-scheduler (≈1 minute once the control plane's modules are cached)."""
    directory = _ensure_built(
        f"kubernetes-node-{KUBERNETES_VERSION}",
        NODE_COMMANDS,
        lambda out: _build_kubernetes(out, NODE_COMMANDS),
        "≈1 minute with the control plane's Go modules cached",
    )
    return {name: directory / name for name in NODE_COMMANDS}


def ensure_helm(version: str = HELM_VERSION) -> Path:
    """helm, built from its Go module like the control plane (about a minute the first time)."""
    module = f"helm.sh/helm/v{version.removeprefix('v').split('.')[0]}"
    # Helm 3's release build stamps the Kubernetes version it assumes without a cluster (helm template,
    # helm lint); unset, it is 1.20, below the chart's kubeVersion. Ours is the environment's. (Helm 4
    # has no such variables; -X of a missing one is ignored.)
    major, minor = KUBERNETES_VERSION.removeprefix("v").split(".")[:2]
    stamps = " ".join(
        f"-X {module}/pkg/{package}.k8sVersion{part}={value}"
        for package in ("chartutil", "lint/rules")
        for part, value in (("Major", major), ("Minor", minor))
    )
    directory = _ensure_built(
        f"helm-{version}",
        ("helm",),
        lambda out: _go_build_module(
            out,
            requires={module: version},
            packages={"helm": f"{module}/cmd/helm"},
            ldflags=f"-X {module}/internal/version.version={version} {stamps} -s -w",
        ),
        "≈1 minute",
    )
    return directory / "helm"


PAUSE_SOURCE = """package main

// The sandbox's first process: holds the Pod's namespaces, reaps orphans, exits on SIGTERM/SIGINT.
import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for received := range signals {
		if received != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			if pid, _ := syscall.Wait4(-1, &status, syscall.WNOHANG, nil); pid <= 0 {
				break
			}
		}
	}
}
"""


def ensure_pause() -> Path:
    """A static pause program for the node's sandbox image (no image can be pulled here)."""
    key = hashlib.sha256(PAUSE_SOURCE.encode()).hexdigest()[:12]

    def build(out: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="certwright-pause.") as workdir:
            Path(workdir, "go.mod").write_text("module certwright.local/pause\n\ngo 1.24\n")
            Path(workdir, "main.go").write_text(PAUSE_SOURCE)
            env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false"}
            _run(["go", "build", "-trimpath", "-ldflags", "-s -w", "-o", str(out / "pause"), "."], workdir, env)

    return _ensure_built(f"pause-{key}", ("pause",), build, "a few seconds") / "pause"


def _ensure_etcd() -> Path:
    directory = _ensure_built(
        f"etcd-{ETCD_VERSION}",
        ("etcd",),
        lambda out: _go_build_module(
            out,
            requires={"go.etcd.io/etcd/server/v3": ETCD_VERSION},
            packages={"etcd": "go.etcd.io/etcd/server/v3"},
        ),
        "≈30 seconds",
    )
    return directory / "etcd"


def ensure_pebble() -> Path:
    """The folder that holds pebble and pebble-challtestsrv."""
    module = "github.com/letsencrypt/pebble/v2"
    return _ensure_built(
        f"pebble-{PEBBLE_VERSION}",
        ("pebble", "pebble-challtestsrv"),
        lambda out: _go_build_module(
            out,
            requires={module: PEBBLE_VERSION},
            packages={
                "pebble": f"{module}/cmd/pebble",
                "pebble-challtestsrv": f"{module}/cmd/pebble-challtestsrv",
            },
        ),
        "≈30 seconds",
    )


def _ensure_built(key: str, names: tuple[str, ...], build: object, estimate: str) -> Path:
    """Return the cache folder for ``key``, building it under a lock when any name is missing."""
    directory = cache_root() / key
    if _complete(directory, names):
        return directory
    directory.parent.mkdir(parents=True, exist_ok=True)
    with _locked(directory.parent / f"{key}.lock"):
        if _complete(directory, names):
            return directory
        staging = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=directory.parent))
        _say(f"building {', '.join(names)} ({key}) into {directory} — first time only, {estimate}")
        started = time.monotonic()
        try:
            assert callable(build)
            build(staging)
            if directory.exists():
                shutil.rmtree(directory)
            staging.rename(directory)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _say(f"built {key} in {time.monotonic() - started:.0f} s")
    return directory


def _complete(directory: Path, names: tuple[str, ...]) -> bool:
    return all(os.access(directory / name, os.X_OK) for name in names)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build_kubernetes(out: Path, commands: tuple[str, ...] = KUBE_COMMANDS) -> None:
    """Build ``commands`` (by default kube-apiserver, kube-controller-manager, kubectl) from k8s.io/kubernetes.

    Its go.mod requires the in-tree staging modules at exactly v0.0.0 and replaces them with
    local folders, which a dependent module does not see; each is replaced here with the
    published v0.<minor>.<patch> of the same release instead.
    """
    staging_version = "v0." + KUBERNETES_VERSION.removeprefix("v").split(".", 1)[1]
    gomod = _download_gomod("k8s.io/kubernetes", KUBERNETES_VERSION)
    replaces = {
        line.split()[0]: staging_version
        for line in gomod.read_text().splitlines()
        if line.startswith("\tk8s.io/") and line.split()[1:] == ["v0.0.0"]
    }
    major, minor = KUBERNETES_VERSION.removeprefix("v").split(".")[:2]
    ldflags = " ".join(
        [
            f"-X k8s.io/component-base/version.gitVersion={KUBERNETES_VERSION}",
            f"-X k8s.io/component-base/version.gitMajor={major}",
            f"-X k8s.io/component-base/version.gitMinor={minor}",
            "-s -w",
        ]
    )
    _go_build_module(
        out,
        requires={"k8s.io/kubernetes": KUBERNETES_VERSION},
        replaces=replaces,
        packages={name: f"k8s.io/kubernetes/cmd/{name}" for name in commands},
        ldflags=ldflags,
    )


def _download_gomod(module: str, version: str) -> Path:
    completed = subprocess.run(
        ["go", "mod", "download", "-json", f"{module}@{version}"],
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(json.loads(completed.stdout)["GoMod"])


def _go_build_module(
    out: Path,
    *,
    requires: dict[str, str],
    packages: dict[str, str],
    replaces: dict[str, str] | None = None,
    ldflags: str = "-s -w",
) -> None:
    """Build ``packages`` (output name → import path) in a throwaway module that requires ``requires``."""
    with tempfile.TemporaryDirectory(prefix="certwright-gobuild.") as workdir:
        lines = ["module certwright.local/build", "", "go 1.24", ""]
        lines += [f"require {module} {version}" for module, version in requires.items()]
        lines += [f"replace {module} => {module} {version}" for module, version in (replaces or {}).items()]
        Path(workdir, "go.mod").write_text("\n".join(lines) + "\n")
        tools = [f'\t_ "{path}"' for path in packages.values()]
        Path(workdir, "tools.go").write_text(
            "//go:build tools\n\npackage build\n\nimport (\n" + "\n".join(tools) + "\n)\n"
        )
        env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod -buildvcs=false"}
        _run(["go", "mod", "tidy"], workdir, env)
        for name, path in packages.items():
            _say(f"  go build {path}")
            _run(["go", "build", "-trimpath", "-ldflags", ldflags, "-o", str(out / name), path], workdir, env)


def _run(command: list[str], cwd: str, env: dict[str, str]) -> None:
    completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed in {cwd} (exit {completed.returncode}):\n{completed.stderr[-4000:]}"
        )


def _say(message: str) -> None:
    print(f"certwright-env: {message}", file=sys.stderr, flush=True)
