"""The operator's own Secrets, kept by one watch on the label it puts on them.

Certificates are checked against this cache, so a resync (or a restart) reads no Secret; a Secret
that is deleted, emptied or changed wakes its Certificate, which repairs it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial

from kubernetes import client

from ..domain import api
from .watch import LabelWatch, Obj, object_key

SELECTOR = f"{api.LABEL_MANAGED}=true"


class SecretCache:
    """TLS Secrets and next-key Secrets that carry ``certwright.dev/managed=true``."""

    def __init__(
        self,
        core: client.CoreV1Api,
        loop: asyncio.AbstractEventLoop,
        changed: Callable[[str], None],
        namespace: str | None = None,
    ) -> None:
        self.secrets: dict[str, Obj] = {}
        self.changed = changed  # called with the Certificate key (namespace/name) a Secret belongs to
        lister = partial(core.list_namespaced_secret, namespace) if namespace else core.list_secret_for_all_namespaces
        self.watch = LabelWatch("secrets", lister, SELECTOR, loop, self._update)

    def start(self) -> None:
        self.watch.start()

    @property
    def synced(self) -> asyncio.Event:
        return self.watch.synced

    def get(self, namespace: str, name: str) -> Obj | None:
        return self.secrets.get(f"{namespace}/{name}")

    def _update(self, kind: str, secret: Obj) -> None:
        key = object_key(secret)
        if kind == "DELETED":
            self.secrets.pop(key, None)
        else:
            self.secrets[key] = secret
        owner = (secret["metadata"].get("annotations") or {}).get(api.ANNOTATION_CERTIFICATE)
        if owner and kind != "ADDED":
            self.changed(f"{secret['metadata']['namespace']}/{owner}")
