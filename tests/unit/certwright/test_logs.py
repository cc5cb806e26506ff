"""The operator's JSON log lines: one object per line, the object it is about, nothing else of the record."""

from __future__ import annotations

import json
import logging
import sys

from certwright.logs import JsonFormatter


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("certwright.test", logging.WARNING, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_a_line_is_one_json_object_with_time_level_logger_and_message() -> None:
    line = JsonFormatter().format(_record("order %s for %d names", "o-1", 2))
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed.keys() == {"time", "level", "logger", "message"}
    assert parsed["logger"] == "certwright.test"
    assert parsed["level"] == "WARNING"
    assert parsed["message"] == "order o-1 for 2 names"
    assert parsed["time"].endswith("+00:00")


def test_the_object_comes_from_kopfs_reference() -> None:
    kopf_line = json.loads(
        JsonFormatter().format(
            _record("x", k8s_ref={"kind": "Certificate", "namespace": "shop", "name": "web", "uid": "u"})
        )
    )
    assert (kopf_line["kind"], kopf_line["namespace"], kopf_line["name"]) == ("Certificate", "shop", "web")
    assert "uid" not in kopf_line
    assert kopf_line["logger"] == "certwright.test"


def test_other_record_attributes_stay_out_and_a_traceback_is_one_field() -> None:
    record = _record("failed", private_key="-----BEGIN PRIVATE KEY-----")
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    parsed = json.loads(line)
    assert "PRIVATE KEY" not in line
    assert "ValueError: boom" in parsed["exception"]
    assert "\n" not in line
