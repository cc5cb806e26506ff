"""Bodies kept for every object the operator follows, compact: compressed JSON, decoded on each read.

At 10,000 Certificates and their Secrets the parsed JSON trees would be the operator's largest cost
(a Certificate's tree is about 15 KB of Python objects, a TLS Secret's about 6 KB); compressed, the
pair is about 2 KB, and a read costs about 20 µs. A read returns a fresh dict each time, so no
caller can change what is kept by accident; a change is a new ``put``.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from typing import Any, overload

Obj = dict[str, Any]


def _encode(body: Obj) -> bytes:
    return zlib.compress(json.dumps(body, separators=(",", ":")).encode(), 1)


def _decode(blob: bytes) -> Obj:
    body: Obj = json.loads(zlib.decompress(blob))
    return body


class CompactBodies:
    """A mapping of key to JSON object, each kept compressed (``managedFields`` dropped on the way in)."""

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}

    def put(self, key: str, body: Obj) -> None:
        meta = body.get("metadata")
        if isinstance(meta, dict) and "managedFields" in meta:
            body = {**body, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
        self._blobs[key] = _encode(body)

    @overload
    def get(self, key: str) -> Obj | None: ...
    @overload
    def get(self, key: str, default: Obj) -> Obj: ...
    def get(self, key: str, default: Obj | None = None) -> Obj | None:
        blob = self._blobs.get(key)
        return default if blob is None else _decode(blob)

    def __getitem__(self, key: str) -> Obj:
        return _decode(self._blobs[key])

    def __setitem__(self, key: str, body: Obj) -> None:
        self.put(key, body)

    def pop(self, key: str, default: Obj | None = None) -> Obj | None:
        blob = self._blobs.pop(key, None)
        return default if blob is None else _decode(blob)

    def __contains__(self, key: object) -> bool:
        return key in self._blobs

    def __len__(self) -> int:
        return len(self._blobs)

    def keys(self) -> list[str]:
        """A copy: safe to iterate while the mapping changes (or from another thread)."""
        return list(self._blobs)

    def items(self) -> Iterator[tuple[str, Obj]]:
        """Every (key, body), decoded one at a time over a copy of the keys (it never holds them all)."""
        for key, blob in list(self._blobs.items()):
            yield key, _decode(blob)

    def size(self) -> int:
        """Bytes of the compressed bodies (for the benchmark's accounting)."""
        return sum(len(blob) for blob in self._blobs.values())
