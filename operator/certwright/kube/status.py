"""The Ready condition of our own objects, written only when it is news, with one Event."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from ..domain.conditions import ConditionType, Reason, find_condition, set_condition
from .client import Kube


async def record_ready(
    kube: Kube,
    obj: Mapping[str, Any],
    plural: str,
    ready: bool,
    reason: Reason,
    message: str,
    *,
    now: datetime.datetime,
    extra: Mapping[str, Any] | None = None,
    event: bool = True,
) -> bool:
    """Set Ready (and ``extra`` status fields); no write when nothing changed. True when it wrote."""
    status = obj.get("status") or {}
    previous = find_condition(status.get("conditions") or [], ConditionType.READY) or {}
    unchanged = (previous.get("status"), previous.get("reason"), previous.get("message")) == (
        "True" if ready else "False",
        str(reason),
        message,
    )
    if unchanged and all(status.get(key) == value for key, value in (extra or {}).items()):
        return False
    meta = obj["metadata"]
    conditions = set_condition(
        status.get("conditions") or [],
        ConditionType.READY,
        ready,
        reason,
        message,
        now=now,
        generation=meta.get("generation"),
    )
    await kube.patch_status(plural, meta.get("namespace"), meta["name"], {"conditions": conditions, **(extra or {})})
    if event:
        await kube.event(obj, "Normal" if ready else "Warning", str(reason), message, now)
    return True
