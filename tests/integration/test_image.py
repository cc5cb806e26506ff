"""certwright's image, built here from the repository's Dockerfile with no engine and no registry (issue 11)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from certwright_env import images


@pytest.fixture(scope="module")
def image() -> images.Image:
    reason = images.available()
    if reason is not None:
        pytest.skip(f"cannot build images here: {reason}")
    return images.build()


@pytest.fixture
def container(image: images.Image) -> Iterator[str]:
    name = subprocess.run(
        images.buildah_command("from", "--quiet", image.reference), capture_output=True, text=True, check=True
    ).stdout.strip()
    yield name
    subprocess.run(images.buildah_command("rm", name), capture_output=True, check=False)


def _in(container: str, *command: str) -> str:
    result = subprocess.run(
        images.buildah_command("run", "--isolation", "chroot", container, "--", *command),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_image_runs_certwright_as_a_non_root_user(image: images.Image, container: str) -> None:
    assert _in(container, "id", "-u") == "65532"
    assert _in(container, "python", "-m", "certwright", "--version").startswith("certwright ")
    assert "--listen" in _in(container, "python", "-m", "certwright.solver", "--help"), "it is the solver image too"
    assert image.archive.stat().st_size > 0, "an OCI archive for containerd to import"


def test_the_base_is_made_once_and_kept(image: images.Image) -> None:
    reference = images.ensure_base()
    assert reference.endswith(images.base_key())
    assert images.exists(reference)
