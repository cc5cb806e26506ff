"""``python -m certwright`` reads its flags."""

from __future__ import annotations

import subprocess
import sys

from certwright import __version__
from certwright.__main__ import parse_args


def test_version_is_printed() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "certwright", "--version"], capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == f"certwright {__version__}"


def test_namespaces_repeat_and_default_to_all() -> None:
    assert parse_args([]).namespace == []
    assert parse_args(["--namespace", "a", "--namespace", "b"]).namespace == ["a", "b"]
