"""The metrics: series read from a Context of fake bodies at scrape time, and the event counters."""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest

from certwright.acme.transport import Exchange
from certwright.kube.context import Context, Settings
from certwright.kube.metrics import ChallengeState, Metrics, StateCollector
from certwright.kube.scheduler import Scheduler

NOW = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)


def context() -> Context:
    settings = Settings(solver_image="img", selfcheck_nameservers=(), cluster_resource_namespace="certwright")
    return Context(kube=None, accounts=None, pods=None, settings=settings, clock=lambda: NOW)  # type: ignore[arg-type]


def scraped(kept: Context) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(StateCollector(kept))
    return registry


def certificate(
    name: str, *, ready: str | None, reason: str = "", issuer_kind: str = "", **status: Any
) -> dict[str, Any]:
    conditions = [] if ready is None else [{"type": "Ready", "status": ready, "reason": reason, "message": "…"}]
    ref = {"name": "pebble", **({"kind": issuer_kind} if issuer_kind else {})}
    return {
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"secretName": f"{name}-tls", "issuerRef": ref},
        "status": {"conditions": conditions, **status},
    }


def test_a_ready_certificate_has_its_dates_and_ready_true() -> None:
    kept = context()
    kept.remember_certificate(
        "ns/web",
        certificate(
            "web",
            ready="True",
            reason="Issued",
            issuer_kind="ClusterIssuer",
            notBefore="2025-01-01T00:00:00Z",
            notAfter="2025-04-01T00:00:00Z",
            renewalTime="2025-03-02T00:00:00Z",
        ),
    )
    registry = scraped(kept)
    labels = {
        "name": "web",
        "namespace": "ns",
        "issuer_name": "pebble",
        "issuer_kind": "ClusterIssuer",
        "issuer_group": "certwright.dev",
    }
    dates = {
        "certwright_certificate_expiration_timestamp_seconds": "2025-04-01T00:00:00+00:00",
        "certwright_certificate_not_before_timestamp_seconds": "2025-01-01T00:00:00+00:00",
        "certwright_certificate_renewal_timestamp_seconds": "2025-03-02T00:00:00+00:00",
    }
    for metric, moment in dates.items():
        assert registry.get_sample_value(metric, labels) == datetime.datetime.fromisoformat(moment).timestamp()
    ready = {
        value: registry.get_sample_value("certwright_certificate_ready_status", {**labels, "condition": value})
        for value in ("True", "False", "Unknown")
    }
    assert ready == {"True": 1.0, "False": 0.0, "Unknown": 0.0}
    reason = {"name": "web", "namespace": "ns", "condition": "True", "reason": "Issued"}
    assert registry.get_sample_value("certwright_certificate_ready_reason", reason) == 1.0


@pytest.mark.parametrize(
    ("ready", "reason", "condition"),
    [("False", "SelfCheckFailed", "False"), (None, "", "Unknown"), ("Unknown", "Pending", "Unknown")],
    ids=["not-ready", "no-condition-yet", "unknown"],
)
def test_a_certificate_not_ready_shows_its_condition_and_reason_and_no_dates(
    ready: str | None, reason: str, condition: str
) -> None:
    kept = context()
    kept.remember_certificate("ns/web", certificate("web", ready=ready, reason=reason))
    registry = scraped(kept)
    labels = {"name": "web", "namespace": "ns", "issuer_name": "pebble", "issuer_kind": "Issuer"}
    labels["issuer_group"] = "certwright.dev"
    assert registry.get_sample_value("certwright_certificate_ready_status", {**labels, "condition": condition}) == 1
    assert registry.get_sample_value("certwright_certificate_expiration_timestamp_seconds", labels) is None
    reason_labels = {"name": "web", "namespace": "ns", "condition": condition, "reason": reason}
    assert registry.get_sample_value("certwright_certificate_ready_reason", reason_labels) == 1


def test_a_deleted_certificate_has_no_series_at_the_next_scrape() -> None:
    kept = context()
    kept.remember_certificate("ns/web", certificate("web", ready="True", notAfter="2025-04-01T00:00:00Z"))
    kept.remember_certificate("ns/api", certificate("api", ready="True", notAfter="2025-04-01T00:00:00Z"))
    registry = scraped(kept)
    assert b'name="web"' in generate_latest(registry)
    kept.remember_certificate("ns/web", None)
    text = generate_latest(registry)
    assert b'name="web"' not in text
    assert b'name="api"' in text


def test_issuers_challenges_queue_and_issuances_in_flight() -> None:
    kept = context()
    issuer = {"kind": "Issuer", "metadata": {"name": "le", "namespace": "ns"}, "status": {"conditions": []}}
    cluster = {
        "kind": "ClusterIssuer",
        "metadata": {"name": "pebble"},
        "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "AccountFailed"}]},
    }
    kept.issuers = {"Issuer/ns/le": issuer, "ClusterIssuer/pebble": cluster}
    kept.challenges["ns/web-1234"] = ChallengeState("web", "web.test", "http-01", "processing")
    kept.scheduler = Scheduler(lambda key: None, kept.clock)
    kept.scheduler.schedule("ns/web", NOW + datetime.timedelta(days=1))
    kept.scheduler.schedule("ns/api", NOW + datetime.timedelta(days=2))
    kept.issuing.add("ns/web")
    registry = scraped(kept)
    value = registry.get_sample_value
    assert value("certwright_issuer_ready_status", {"name": "le", "namespace": "ns", "condition": "Unknown"}) == 1
    assert value("certwright_clusterissuer_ready_status", {"name": "pebble", "condition": "False"}) == 1
    assert value("certwright_clusterissuer_ready_status", {"name": "pebble", "condition": "True"}) == 0
    challenge = {"name": "web-1234", "namespace": "ns", "certificate": "web", "domain": "web.test"}
    assert value("certwright_certificate_challenge_status", {**challenge, "type": "http-01", "status": "processing"})
    assert value("certwright_scheduler_queue_length") == 2
    assert value("certwright_issuances_in_flight") == 1


def test_acme_requests_are_counted_under_cert_managers_names() -> None:
    metrics = Metrics()
    metrics.acme_exchange(Exchange("POST", "https://acme.test:14000/order/1", "order", 200, 0.3))
    metrics.acme_exchange(Exchange("POST", "https://acme.test:14000/order/1", "order", 200, 0.1))
    metrics.acme_exchange(Exchange("HEAD", "https://acme.test:14000/nonce", "new-nonce", None, 5.0))
    labels = {"scheme": "https", "host": "acme.test:14000", "action": "order", "method": "POST", "status": "200"}
    value = metrics.registry.get_sample_value
    assert value("certwright_http_acme_client_request_count", labels) == 2
    assert value("certwright_http_acme_client_request_duration_seconds_count", labels) == 2
    assert value("certwright_http_acme_client_request_duration_seconds_sum", labels) == pytest.approx(0.4)
    failed = {**labels, "action": "new-nonce", "method": "HEAD", "status": "error"}
    assert value("certwright_http_acme_client_request_count", failed) == 1
    text = generate_latest(metrics.registry).decode()
    assert "certwright_http_acme_client_request_count{" in text
    assert "certwright_http_acme_client_request_count_total" not in text


def test_issuance_outcomes_are_counted_and_timed() -> None:
    metrics = Metrics()
    metrics.issuance("issued", "RenewalDue", "Issued", 12.0)
    metrics.issuance("failed", "SecretMissing", "SelfCheckFailed", 130.0)
    value = metrics.registry.get_sample_value
    issued = {"outcome": "issued", "trigger": "RenewalDue", "reason": "Issued"}
    assert value("certwright_certificate_issuance_total", issued) == 1
    assert value("certwright_certificate_issuance_duration_seconds_sum", {"outcome": "failed"}) == 130.0


# -- the chart's dashboard and alerts name only what the operator exports ----------------------------

CHART = Path(__file__).parents[3] / "charts" / "certwright"
METRIC = re.compile(r"\bcertwright_[a-z0-9_]+")


def exported() -> set[str]:
    """Every sample name the operator's registry can serve (a histogram's _bucket, _sum and _count)."""
    registry = CollectorRegistry()
    Metrics(registry)
    registry.register(StateCollector(context()))
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    return {family.name + suffix for family in registry.collect() for suffix in suffixes.get(family.type, ("",))}


def test_the_registry_declares_every_family_of_the_issue() -> None:
    assert {
        "certwright_certificate_expiration_timestamp_seconds",
        "certwright_certificate_not_before_timestamp_seconds",
        "certwright_certificate_renewal_timestamp_seconds",
        "certwright_certificate_ready_status",
        "certwright_issuer_ready_status",
        "certwright_clusterissuer_ready_status",
        "certwright_certificate_challenge_status",
        "certwright_http_acme_client_request_count",
        "certwright_http_acme_client_request_duration_seconds_bucket",
        "certwright_certificate_issuance_total",
        "certwright_certificate_issuance_duration_seconds_bucket",
        "certwright_scheduler_queue_length",
    } <= exported()


def test_every_dashboard_panel_queries_metrics_the_operator_exports() -> None:
    dashboard = json.loads((CHART / "dashboards" / "certwright.json").read_text())
    panels = dashboard["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    names = exported()
    for panel in panels:
        used = {name for target in panel["targets"] for name in METRIC.findall(target["expr"])}
        assert used, f"panel {panel['title']!r} queries no certwright metric"
        assert used <= names, f"panel {panel['title']!r} names {sorted(used - names)}, which nothing exports"
    variables = json.dumps(dashboard["templating"])
    assert set(METRIC.findall(variables)) <= names


def test_every_alert_names_metrics_the_operator_exports() -> None:
    rules = yaml.safe_load((CHART / "rules" / "certwright.rules.yaml").read_text())["groups"][0]["rules"]
    assert [rule["alert"] for rule in rules] == [
        "CertwrightCertificateExpiringSoon",
        "CertwrightCertificateNotReady",
        "CertwrightIssuerNotReady",
    ]
    names = exported()
    for rule in rules:
        used = set(METRIC.findall(rule["expr"]))
        assert used, f"{rule['alert']} names no certwright metric"
        assert used | set(METRIC.findall(json.dumps(rule["annotations"]))) <= names, rule["alert"]
