"""Child processes of the environment: started with a log file each, waited for, always stopped.

Every child runs in its own session (so a terminal's Ctrl-C reaches only the supervisor, which then
stops the children in order) and is asked by the kernel to die with its parent, so that even a
supervisor killed with SIGKILL leaves nothing running behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_PR_SET_PDEATHSIG = 1


class StartupError(RuntimeError):
    """A component did not become ready; the message names it and quotes its log."""


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def ask_for_sigterm_when_parent_dies() -> None:
    """Have the kernel send this process SIGTERM when its parent exits, so it can stop in order."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    """One running component."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    stop_signal: int = signal.SIGTERM
    _closed: bool = field(default=False, repr=False)

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace: float = 10.0) -> None:
        """Stop the process group: the stop signal first, SIGKILL after ``grace`` seconds."""
        if self._closed:
            return
        self._closed = True
        if self.process.poll() is None:
            _signal_group(self.process.pid, self.stop_signal)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait()
        # Reap anything the component itself started and left behind.
        _signal_group(self.process.pid, signal.SIGKILL)

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def spawn(
    name: str,
    argv: Sequence[str | os.PathLike[str]],
    log_dir: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stop_signal: int = signal.SIGTERM,
) -> Child:
    """Start ``argv`` with stdout and stderr going to ``log_dir/<name>.log``."""
    log = log_dir / f"{name}.log"
    with log.open("ab") as handle:
        handle.write(f"$ {' '.join(str(a) for a in argv)}\n".encode())
        handle.flush()
        process = subprocess.Popen(
            [str(a) for a in argv],
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    return Child(name=name, process=process, log=log, stop_signal=stop_signal)


def wait_until(child: Child, ready: Callable[[], bool], timeout: float) -> None:
    """Poll ``ready`` until it holds; fail early, quoting the log, if the child exits."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    last_error = "not ready"
    while True:
        if not child.running():
            raise StartupError(
                f"{child.name} exited with code {child.process.returncode} before it was ready; "
                f"its log ({child.log}) ends with:\n{child.tail()}"
            )
        try:
            if ready():
                return
        except Exception as error:  # noqa: BLE001 - any failure means "not ready yet"
            last_error = f"{type(error).__name__}: {error}"
        if time.monotonic() > deadline:
            raise StartupError(
                f"{child.name} was not ready after {timeout:.0f} s (last check: {last_error}); "
                f"its log ({child.log}) ends with:\n{child.tail()}"
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)


def free_port(address: str) -> int:
    """A TCP port that is free on ``address`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((address, port)) == 0
