"""How the operator logs: text for a terminal, or JSON, one object per line, for a log stack.

A JSON line carries ``time`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``, and
``kind``/``namespace``/``name`` of the object the line is about where there is one: kopf's per-object
loggers carry it as ``k8s_ref``, and so can ``extra={"k8s_ref": {…}}``. A traceback goes in
``exception``. Nothing else of a record is copied, so no field a caller did not mean to log appears.
"""

from __future__ import annotations

import datetime
import json
import logging
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        reference = getattr(record, "k8s_ref", None)
        if isinstance(reference, dict):
            line.update({k: reference[k] for k in ("kind", "namespace", "name") if reference.get(k)})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, separators=(",", ":"))


def configure(level: str, log_format: str) -> None:
    """Send every record to stderr in ``log_format`` (``text`` or ``json``) at ``level``."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
