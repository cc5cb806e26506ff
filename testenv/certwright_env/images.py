"""certwright's image, built on this machine without a container engine or a registry (issue 11).

A base from Debian packages — ``debootstrap --variant=minbase`` with python3 and python3-venv, its
docs, locales and apt lists trimmed — is imported with buildah as ``localhost/certwright-base:<key>``,
the key a hash of what goes into it, so it is made once. The certwright image is the repository's own
``Dockerfile`` (the one a user builds with ``docker build``) built by ``buildah bud`` with chroot
isolation and cached layers, its ``BASE`` that image: a code change rebuilds the last layers only. The
machine's CA bundle is lent to pip for the build (``PIP_CERT``), for TLS-inspecting proxies. The
image is exported as an OCI archive, which containerd imports. buildah's store lives in the cache
(``$XDG_CACHE_HOME/certwright/images``), never in the machine's own ``/var/lib/containers``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .binaries import _locked, cache_root
from .environment import REPO

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("python3", "python3-venv")
TRIMMED = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "var/lib/apt/lists", "var/cache")
IMAGE = "localhost/certwright:dev"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")


class ImageError(RuntimeError):
    """A step of the image build failed; the message has the command and the end of its output."""


@dataclass(frozen=True)
class Image:
    reference: str
    archive: Path  # OCI archive, for ``ctr images import``
    size: int  # bytes of the OCI archive (compressed layers)


def store() -> Path:
    return cache_root().parent / "images"


def available() -> str | None:
    """None when images can be built here; else the one-line reason."""
    missing = [tool for tool in ("buildah", "debootstrap") if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} not installed (Debian packages of those names)"
    return None


def base_key() -> str:
    recipe = json.dumps({"suite": SUITE, "packages": PACKAGES, "trimmed": TRIMMED, "variant": "minbase"})
    return hashlib.sha256(recipe.encode()).hexdigest()[:12]


def ensure_base() -> str:
    """The base image's reference, made from Debian packages the first time (about a minute)."""
    reference = f"localhost/certwright-base:{base_key()}"
    with _locked(store().parent / "images.lock"):
        if exists(reference):
            return reference
        _say(f"building the base image {reference} from Debian {SUITE} ({', '.join(PACKAGES)}) — first time only")
        with tempfile.TemporaryDirectory(prefix="certwright-rootfs-") as scratch:
            rootfs = Path(scratch) / "rootfs"
            _run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(PACKAGES)}",
                    SUITE,
                    str(rootfs),
                    MIRROR,
                ]
            )
            for path in TRIMMED:
                shutil.rmtree(rootfs / path, ignore_errors=True)
            container = _buildah("from", "--name", f"certwright-base-{base_key()}", "scratch").strip()
            try:
                _buildah("copy", container, f"{rootfs}/", "/")
                _buildah("commit", "--quiet", container, reference)
            finally:
                _buildah("rm", container, check=False)
    return reference


def build(tag: str = IMAGE) -> Image:
    """certwright's image from the Dockerfile at the repository root, and its OCI archive."""
    base = ensure_base()
    started = time.monotonic()
    with _locked(store().parent / "images.lock"):
        arguments = ["bud", "--isolation", "chroot", "--layers", "--build-arg", f"BASE={base}", "--tag", tag]
        if HOST_CA.exists():
            arguments += [
                "--volume",
                f"{HOST_CA}:/etc/ssl/build-ca.crt:ro",
                "--build-arg",
                "PIP_CERT=/etc/ssl/build-ca.crt",
            ]
        _buildah(*arguments, "--file", str(REPO / "Dockerfile"), str(REPO))
        archive = store() / f"{tag.rsplit('/', 1)[-1].replace(':', '-')}.oci.tar"
        archive.unlink(missing_ok=True)
        _buildah("push", "--quiet", tag, f"oci-archive:{archive}:{tag}")
        _buildah("rmi", "--prune", check=False)  # layers of earlier builds: the store would only grow
        size = archive.stat().st_size
    _say(f"image {tag} built in {time.monotonic() - started:.1f} s; its archive is {size / 2**20:.0f} MiB")
    return Image(tag, archive, size)


def exists(reference: str) -> bool:
    return subprocess.run(buildah_command("inspect", "--type", "image", reference), capture_output=True).returncode == 0


def buildah_command(*arguments: str) -> list[str]:
    root = store()
    return [
        "buildah",
        "--root",
        str(root / "storage"),
        "--runroot",
        str(root / "run"),
        "--storage-driver",
        "vfs",
        *arguments,
    ]


def _buildah(*arguments: str, check: bool = True) -> str:
    return _run(buildah_command(*arguments), check=check)


def _run(command: list[str], *, check: bool = True) -> str:
    result = subprocess.run(command, capture_output=True, text=True)
    if check and result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        raise ImageError(f"{' '.join(command[:6])} … failed ({result.returncode}):\n{tail}")
    return result.stdout


def _say(message: str) -> None:
    print(f"certwright-env: {message}", flush=True)
