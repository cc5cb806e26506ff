"""certwright's image, built on this machine without a container engine or a registry (issue 11).

A base from Debian packages — ``debootstrap --variant=minbase`` with python3 and python3-venv, its
docs, locales and apt lists trimmed — is imported with buildah as ``localhost/certwright-base:<key>``,
the key a hash of what goes into it, so it is made once. The certwright image is the repository's own
``Dockerfile`` (the one a user builds with ``docker build``) built by ``buildah bud`` with chroot
isolation and cached layers, its ``BASE`` that image: a code change rebuilds the last layers only. The
machine's CA bundle is lent to pip for the build (``PIP_CERT``), for TLS-inspecting proxies. The
image is exported as a docker-archive (once per image ID), which containerd imports. buildah's store lives in the cache
(``$XDG_CACHE_HOME/certwright/images``), never in the machine's own ``/var/lib/containers``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from .base import REPO, say
from .binaries import _locked, cache_root

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("python3", "python3-venv")
TRIMMED = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "var/lib/apt/lists", "var/cache")
IMAGE = "localhost/certwright:dev"
# The test image behind tests' Services: certwright_env/echo.py on the same base.
ECHO_IMAGE = "localhost/certwright-echo:dev"
ECHO_CONTAINERFILE = REPO / "testenv" / "images" / "echo.Containerfile"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
# overlay as root (layers shared, a cached step costs nothing); vfs, which copies every layer, otherwise.
STORAGE_DRIVER = "overlay" if os.geteuid() == 0 else "vfs"


class ImageError(RuntimeError):
    """A step of the image build failed; the message has the command and the end of its output."""


@dataclass(frozen=True)
class Image:
    reference: str
    archive: Path  # docker-archive (uncompressed layers), for ``ctr images import``
    size: int  # bytes of the image's layers, as containerd stores them unpacked


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
    with _store_locked():
        if exists(reference):
            return reference
        say(f"building the base image {reference} from Debian {SUITE} ({', '.join(PACKAGES)}) — first time only")
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
            _from_folder(reference, rootfs, [])
    return reference


def build(tag: str = IMAGE) -> Image:
    """certwright's image from the Dockerfile at the repository root, and its archive."""
    return _bud(tag, REPO / "Dockerfile", REPO, pip=True)


def build_echo() -> Image:
    """The echo test image: a web server answering with a fixed text (certwright_env/echo.py)."""
    return _bud(ECHO_IMAGE, ECHO_CONTAINERFILE, REPO / "testenv" / "certwright_env", pip=False)


def pause_image(program: Path) -> Image:
    """The node's sandbox image: the static pause program alone, named by its content."""
    digest = hashlib.sha256(program.read_bytes()).hexdigest()[:12]
    reference = f"localhost/certwright-pause:{digest}"
    with _store_locked():
        if not exists(reference):
            with tempfile.TemporaryDirectory(prefix="certwright-pause-") as scratch:
                shutil.copy2(program, Path(scratch) / "pause")
                _from_folder(reference, Path(scratch), ["--entrypoint", '["/pause"]', "--user", "65535:65535"])
        return _archive(reference)


def _bud(tag: str, containerfile: Path, context: Path, *, pip: bool) -> Image:
    base = ensure_base()
    started = time.monotonic()
    with _store_locked():
        arguments = ["bud", "--isolation", "chroot", "--network", "host", "--layers", "--quiet"]
        # RUN steps take a lock in the CNI configuration folder, by default /etc/cni/net.d: keep it here.
        arguments += ["--cni-config-dir", str(store() / "cni")]
        arguments += ["--build-arg", f"BASE={base}", "--tag", tag]
        if pip and HOST_CA.exists():
            arguments += [
                "--volume",
                f"{HOST_CA}:/etc/ssl/build-ca.crt:ro",
                "--build-arg",
                "PIP_CERT=/etc/ssl/build-ca.crt",
            ]
        _buildah(*arguments, "--file", str(containerfile), str(context))
        image = _archive(tag)
    say(f"image {tag} ready in {time.monotonic() - started:.1f} s ({image.size / 2**20:.0f} MiB)")
    return image


def _from_folder(reference: str, folder: Path, config: list[str]) -> None:
    container = _buildah("from", "--name", f"certwright-{uuid.uuid4().hex[:8]}", "scratch").strip()
    try:
        _buildah("copy", container, f"{folder}/", "/")
        if config:
            _buildah("config", *config, container)
        _buildah("commit", "--quiet", container, reference)
    finally:
        _buildah("rm", container, check=False)


def _archive(reference: str) -> Image:
    """The image as a docker-archive named by its ID: written once per build, imported by containerd as is."""
    image_id = _buildah("inspect", "--type", "image", "--format", "{{.FromImageID}}", reference).strip()
    name = reference.rsplit("/", 1)[-1].split(":", 1)[0]
    archive = store() / "archives" / name / f"{image_id[:16]}.tar"
    if not archive.exists():
        for old in archive.parent.glob("*.tar"):
            old.unlink()  # earlier builds of this image: the folder would only grow
        archive.parent.mkdir(parents=True, exist_ok=True)
        partial = archive.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        _buildah("push", "--quiet", reference, f"docker-archive:{partial}:{reference}")
        partial.rename(archive)
        _buildah("rmi", "--prune", check=False)  # layers of earlier builds
    return Image(reference, archive, archive.stat().st_size)


def _store_locked() -> AbstractContextManager[None]:
    """One build at a time in the store (two environments may start at once)."""
    store().mkdir(parents=True, exist_ok=True)
    return _locked(store().parent / "images.lock")


def exists(reference: str) -> bool:
    return subprocess.run(buildah_command("inspect", "--type", "image", reference), capture_output=True).returncode == 0


def buildah_command(*arguments: str) -> list[str]:
    root = store()
    driver = STORAGE_DRIVER
    return [
        "buildah",
        "--root",
        str(root / f"storage-{driver}"),
        "--runroot",
        str(root / f"run-{driver}"),
        "--storage-driver",
        driver,
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
