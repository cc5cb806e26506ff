"""``python -m certwright_env.build`` (``make binaries``): find or build every binary, print where each is."""

from __future__ import annotations

from .binaries import ensure_all

if __name__ == "__main__":
    for name, path in vars(ensure_all()).items():
        print(f"{name}: {path}")
