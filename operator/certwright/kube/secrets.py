"""The operator's own Secrets, kept by one watch on the label it puts on them.

Certificates are checked against this cache, so a resync (or a restart) reads no Secret; a Secret
that is deleted, emptied or changed wakes its Certificate, which repairs it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from ..domain import api
from .rest import Rest, path
from .store import CompactBodies
from .watch import LabelWatch, Obj, object_key

SELECTOR = f"{api.LABEL_MANAGED}=true"
SYNC_WAIT = 30.0  # seconds: longer, and the watch is failing; callers then read from the API server


class SecretCache:
    """TLS Secrets, next-key Secrets and generated account keys: those that carry ``certwright.dev/managed=true``."""

    def __init__(
        self,
        rest: Rest,
        loop: asyncio.AbstractEventLoop,
        changed: Callable[[str], None],
        namespace: str | None = None,
    ) -> None:
        self.secrets = CompactBodies()
        self.changed = changed  # called with the Certificate key (namespace/name) a Secret belongs to
        url_path = path("", "v1", "secrets", namespace)
        self.watch = LabelWatch("secrets", rest, url_path, SELECTOR, loop, self._update, known=self.secrets.keys)

    def start(self) -> None:
        self.watch.start()

    @property
    def synced(self) -> asyncio.Event:
        return self.watch.synced

    def get(self, namespace: str, name: str) -> Obj | None:
        return self.secrets.get(f"{namespace}/{name}")

    async def read(self, namespace: str, name: str) -> Obj | None:
        """The Secret as kept, once the first sync is done (waited for up to ``SYNC_WAIT``: a restart
        reads no Secret one by one); None when it is not kept — it may exist without the label, so a
        caller that must know asks the API server."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.synced.wait(), SYNC_WAIT)
        return self.get(namespace, name) if self.synced.is_set() else None

    def _update(self, kind: str, secret: Obj) -> None:
        """Keep the Secret and wake its Certificate when it changed or went; an ADDED of the initial
        state wakes nobody (every Certificate is judged at start-up anyway), unless it differs from the
        Secret kept (a re-fetch after a lost watch)."""
        key = object_key(secret)
        if kind == "DELETED":
            previous = self.secrets.pop(key, None)
        else:
            previous = self.secrets.get(key)
            if previous is not None and _version(previous) == _version(secret):
                return
            self.secrets.put(key, secret)
        if kind == "ADDED" and previous is None:
            return
        meta = (previous if kind == "DELETED" and previous is not None else secret)["metadata"]
        owner = (meta.get("annotations") or {}).get(api.ANNOTATION_CERTIFICATE)
        if owner:
            self.changed(f"{meta['namespace']}/{owner}")


def _version(obj: Obj) -> str | None:
    version: str | None = obj["metadata"].get("resourceVersion")
    return version
