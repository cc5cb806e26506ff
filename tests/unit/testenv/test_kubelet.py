"""The stand-in's kubelet reads images and command lines as a kubelet does."""

from __future__ import annotations

import pytest

from certwright_env.standin.kubelet import expand, image_repository


@pytest.mark.parametrize(
    ("image", "repository"),
    [
        ("ghcr.io/certwright/certwright:0.1.0", "ghcr.io/certwright/certwright"),
        ("ghcr.io/certwright/certwright@sha256:abc", "ghcr.io/certwright/certwright"),
        ("localhost:5000/solver:dev", "localhost:5000/solver"),
        ("certwright", "certwright"),
    ],
)
def test_image_repository_drops_tag_and_digest(image: str, repository: str) -> None:
    assert image_repository(image) == repository


@pytest.mark.parametrize(
    ("text", "expanded"),
    [
        ("--address=$(POD_IP)", "--address=127.1.1.1"),
        ("$(MISSING)", "$(MISSING)"),
        ("$$(POD_IP)", "$(POD_IP)"),
        ("plain", "plain"),
    ],
)
def test_command_arguments_expand_like_kubernetes(text: str, expanded: str) -> None:
    assert expand(text, {"POD_IP": "127.1.1.1"}) == expanded
