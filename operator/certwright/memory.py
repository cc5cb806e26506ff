"""Giving memory back to the system after a burst (start-up with 10,000 Certificates, a bulk run).

CPython frees objects into its own arenas and glibc's heaps; after a burst of short-lived objects
(kopf's event bodies, parsed certificates) most of that memory is free but still counted in the
process's RSS. Two glibc calls bound it: at most two malloc arenas (each thread that allocates would
otherwise get a heap of its own, 32 threads here), and ``malloc_trim`` once a burst is over. Both are
no-ops on a libc without them (musl).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging

log = logging.getLogger(__name__)
M_ARENA_MAX = -8  # mallopt parameter, glibc's malloc.h


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def limit_arenas(arenas: int = 2) -> None:
    """At most ``arenas`` malloc arenas; call before any thread starts."""
    libc = _libc()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(M_ARENA_MAX, arenas)


def trim() -> None:
    """Collect cyclic garbage and return free heap pages to the system."""
    collected = gc.collect()
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)
    log.debug("memory trimmed after a burst (%d objects collected)", collected)
