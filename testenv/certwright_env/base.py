"""What every local stack shares: a run folder, a loopback address of its own, children, clean stop."""

from __future__ import annotations

import fcntl
import os
import random
import shutil
import ssl
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from . import processes
from .binaries import Binaries
from .processes import Child
from .tlsfiles import RunCA

_LOCKS = Path(tempfile.gettempdir()) / "certwright-env-locks"
REPO = Path(__file__).resolve().parents[2]


class Stack:
    """A group of local processes started together and always stopped together.

    Subclasses implement ``_start_components``; leaving the context manager, normally or through an
    exception, stops every child newest first.
    """

    run_prefix = "certwright-env-"

    def __init__(self, run_dir: Path | None = None, *, binaries: Binaries | None = None) -> None:
        self.binaries = binaries
        self.run_dir = run_dir or Path(tempfile.mkdtemp(prefix=self.run_prefix))
        self.log_dir = self.run_dir / "logs"
        self.children: list[Child] = []
        self.timings: dict[str, float] = {}
        # Where the stack's services answer (Pebble, its DNS, HTTP on port 80); ``loopback`` is the
        # 127.A.0.1 it claimed, for what only this machine needs to reach.
        self.address = ""
        self.loopback = ""
        self.http_port = 0
        self._lock: IO[str] | None = None

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        started = time.monotonic()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.address = self.loopback = self._claim_address()
        self.http_port = 80 if os.geteuid() == 0 else processes.free_port(self.address)
        if self.http_port != 80:
            say(f"not root: port 80 cannot be bound, so HTTP-01 goes to port {self.http_port} (Pebble's httpPort)")
        self.ca = RunCA(self.run_dir / "pki", self.run_dir.name)
        self._start_components()
        self.timings["total"] = time.monotonic() - started

    def _start_components(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        """Stop what was started, newest first; safe to call twice."""
        for child in reversed(self.children):
            child.stop()
        self.children.clear()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def timed(self, name: str, step: Callable[[], Any]) -> None:
        began = time.monotonic()
        step()
        self.timings[name] = time.monotonic() - began

    def spawn(self, name: str, argv: Sequence[Any], env: dict[str, str] | None = None) -> Child:
        child = processes.spawn(name, argv, self.log_dir, env=env)
        self.children.append(child)
        return child

    def _claim_address(self) -> str:
        """A 127.A.0.1 address whose 127.A/16 no other stack on this machine holds (a file lock)."""
        _LOCKS.mkdir(exist_ok=True)
        chooser = random.SystemRandom()
        for _ in range(200):
            address = f"127.{chooser.randint(100, 254)}.0.1"
            handle = (_LOCKS / f"{address}.lock").open("w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            self._lock = handle
            return address
        raise processes.StartupError("no free loopback address for a new environment")

    def ssl_context(self) -> ssl.SSLContext:
        """Verifies the run's CA (never switched off)."""
        return ssl.create_default_context(cafile=str(self.ca.cert_file))

    def log_tails(self, lines: int = 60) -> str:
        """The end of every component's log, for a failing test's report."""
        parts = []
        for log in sorted(self.log_dir.glob("*.log")):
            if log.name == "audit.log":
                continue
            text = log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"----- {log.name} -----\n" + "\n".join(text))
        return "\n".join(parts)

    def remove_run_dir(self) -> None:
        shutil.rmtree(self.run_dir, ignore_errors=True)


def say(message: str) -> None:
    print(f"certwright-env: {message}", file=sys.stderr, flush=True)
