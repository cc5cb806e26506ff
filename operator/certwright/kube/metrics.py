"""Prometheus metrics (issue 15): state read from memory at scrape time, events counted as they happen.

Two halves:

- ``StateCollector`` reads the ``Context`` when Prometheus scrapes: each Certificate's dates and Ready
  condition from its latest body, each issuer's Ready, the Challenges in flight, the scheduler's
  queue. No API request per scrape, and a Certificate that is gone from memory (deleted) is gone
  from the next scrape: nothing needs removing.
- ``Metrics`` counts what happens: every HTTP request to an ACME server (told by the transport's
  ``observe`` seam, so ``acme/`` knows nothing of Prometheus) and every issuance's outcome and
  duration.

Names and label names follow cert-manager's (``certmanager_`` → ``certwright_``), so its dashboards
and alerts port with a prefix rename. The Ready condition's reason is a series of its own
(``certwright_certificate_ready_reason``), not a label of ``ready_status``: a reason that changes
would otherwise start a new ``ready_status`` series and reset an alert's ``for:``.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..acme.transport import Exchange
from ..domain import api
from ..domain.conditions import ConditionType, find_condition, parse_timestamp

if TYPE_CHECKING:
    from .context import Context

PREFIX = "certwright"
CERTIFICATE_LABELS = ("name", "namespace", "issuer_name", "issuer_kind", "issuer_group")
ACME_LABELS = ("scheme", "host", "action", "method", "status")
CONDITION_VALUES = ("True", "False", "Unknown")  # one series each, 1 for the condition's status, as cert-manager
ACME_REQUEST_COUNT = f"{PREFIX}_http_acme_client_request_count"
# Issuances take seconds (Pebble) to minutes (DNS propagation, a CA's queue).
ISSUANCE_BUCKETS = (1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
ACME_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(frozen=True)
class ChallengeState:
    """A Challenge an issuance in this process is answering, as the metrics show it."""

    certificate: str
    domain: str
    type: str
    state: str


class Metrics:
    """The counters and histograms of events, registered in ``registry`` (a private one by default)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._lock = threading.Lock()
        self._acme_counts: dict[tuple[str, ...], float] = {}
        self.acme_seconds = Histogram(
            f"{PREFIX}_http_acme_client_request_duration_seconds",
            "Duration of HTTP requests to ACME servers, by scheme, host, action, method and status.",
            ACME_LABELS,
            buckets=ACME_BUCKETS,
            registry=self.registry,
        )
        self.issuances = Counter(
            f"{PREFIX}_certificate_issuance",
            "Issuances that ended, by outcome (issued, failed, abandoned), what started them (trigger) "
            "and the reason they ended with.",
            ("outcome", "trigger", "reason"),
            registry=self.registry,
        )
        self.issuance_seconds = Histogram(
            f"{PREFIX}_certificate_issuance_duration_seconds",
            "Duration of issuances in this process, by outcome.",
            ("outcome",),
            buckets=ISSUANCE_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_AcmeRequestCount(self))

    def acme_exchange(self, exchange: Exchange) -> None:
        """The transport's observer: count and time one request (thread-safe: ACME calls run in threads)."""
        url = urlsplit(exchange.url)
        status = str(exchange.status) if exchange.status is not None else "error"
        labels = (url.scheme, url.netloc, exchange.action, exchange.method, status)
        with self._lock:
            self._acme_counts[labels] = self._acme_counts.get(labels, 0.0) + 1
        self.acme_seconds.labels(*labels).observe(exchange.seconds)

    def acme_counts(self) -> dict[tuple[str, ...], float]:
        with self._lock:
            return dict(self._acme_counts)

    def issuance(self, outcome: str, trigger: str, reason: str, seconds: float) -> None:
        self.issuances.labels(outcome, trigger, reason).inc()
        self.issuance_seconds.labels(outcome).observe(seconds)


class _AcmeRequestCount(Collector):
    """``certwright_http_acme_client_request_count`` under cert-manager's exact name.

    prometheus-client would expose a counter as ``…_count_total``; cert-manager's Go client exposes
    ``…_request_count`` itself, so this is untyped, which ``rate()`` takes all the same.
    """

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        family = Metric(ACME_REQUEST_COUNT, "Number of HTTP requests to ACME servers.", "unknown")
        for labels, value in sorted(self.metrics.acme_counts().items()):
            family.add_sample(ACME_REQUEST_COUNT, dict(zip(ACME_LABELS, labels, strict=True)), value)
        yield family


class StateCollector(Collector):
    """Series computed from the Context at scrape time (runs on the HTTP server's thread).

    It reads shallow copies of the Context's dicts (a copy of a dict is one step under the GIL) and
    the bodies in them, which are replaced, never changed in place, when a newer one arrives; the
    Certificates' are decoded one at a time from their compact form.
    """

    def __init__(self, context: Context) -> None:
        self.context = context

    def describe(self) -> Iterator[Metric]:
        """The families without their samples: registering asks for names only."""
        yield from _StateFamilies().all()

    def collect(self) -> Iterator[Metric]:
        families = _StateFamilies()
        for key, body in self.context.certificates.items():
            families.certificate(key, body)
        for body in dict(self.context.issuers).values():
            families.issuer(body)
        for key, challenge in dict(self.context.challenges).items():
            namespace, _, name = key.partition("/")
            families.challenge_status.add_metric(
                [name, namespace, challenge.certificate, challenge.domain, challenge.type, challenge.state], 1
            )
        scheduler = self.context.scheduler
        families.queue_length.add_metric([], len(scheduler.due) if scheduler is not None else 0)
        families.in_flight.add_metric([], len(self.context.issuing))
        yield from families.all()


class _StateFamilies:
    """One scrape's gauge families, filled object by object."""

    def __init__(self) -> None:
        def gauge(name: str, text: str, labels: tuple[str, ...] = ()) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"{PREFIX}_{name}", text, labels=list(labels))

        ready_labels = ("name", "namespace", "condition", "issuer_name", "issuer_kind", "issuer_group")
        self.expiration = gauge(
            "certificate_expiration_timestamp_seconds",
            "The date after which the certificate expires (status.notAfter), as a Unix time.",
            CERTIFICATE_LABELS,
        )
        self.not_before = gauge(
            "certificate_not_before_timestamp_seconds",
            "The date before which the certificate is not valid (status.notBefore), as a Unix time.",
            CERTIFICATE_LABELS,
        )
        self.renewal = gauge(
            "certificate_renewal_timestamp_seconds",
            "When the certificate will be renewed (status.renewalTime), as a Unix time.",
            CERTIFICATE_LABELS,
        )
        self.ready_status = gauge(
            "certificate_ready_status",
            "The Ready condition of the Certificate: 1 for its status (True, False or Unknown), 0 for the others.",
            ready_labels,
        )
        self.ready_reason = gauge(
            "certificate_ready_reason",
            "1 for the Ready condition's status and reason of each Certificate (kubectl get certificate's view).",
            ("name", "namespace", "condition", "reason"),
        )
        self.issuer_ready = gauge(
            "issuer_ready_status",
            "The Ready condition of the Issuer: 1 for its status, 0 for the others.",
            ("name", "namespace", "condition"),
        )
        self.cluster_issuer_ready = gauge(
            "clusterissuer_ready_status",
            "The Ready condition of the ClusterIssuer: 1 for its status, 0 for the others.",
            ("name", "condition"),
        )
        self.challenge_status = gauge(
            "certificate_challenge_status",
            "1 for each Challenge an issuance is answering, with its state (status label).",
            ("name", "namespace", "certificate", "domain", "type", "status"),
        )
        self.queue_length = gauge("scheduler_queue_length", "Certificates with a wake-up scheduled (renewal, retry).")
        self.in_flight = gauge("issuances_in_flight", "Issuances running in this process.")

    def all(self) -> list[Metric]:
        return [
            self.expiration,
            self.not_before,
            self.renewal,
            self.ready_status,
            self.ready_reason,
            self.issuer_ready,
            self.cluster_issuer_ready,
            self.challenge_status,
            self.queue_length,
            self.in_flight,
        ]

    def certificate(self, key: str, body: Mapping[str, Any]) -> None:
        namespace, _, name = key.partition("/")
        ref = (body.get("spec") or {}).get("issuerRef") or {}
        labels = [name, namespace, str(ref.get("name", "")), ref.get("kind") or "Issuer", ref.get("group") or api.GROUP]
        status = body.get("status") or {}
        dates = ((self.expiration, "notAfter"), (self.not_before, "notBefore"), (self.renewal, "renewalTime"))
        for family, field in dates:
            moment = _moment(status.get(field))
            if moment is not None:  # absent before the first issuance: no series rather than a 1970 date
                family.add_metric(labels, moment.timestamp())
        condition, reason = _ready(status)
        for value in CONDITION_VALUES:
            self.ready_status.add_metric([name, namespace, value, *labels[2:]], float(value == condition))
        self.ready_reason.add_metric([name, namespace, condition, reason], 1)

    def issuer(self, body: Mapping[str, Any]) -> None:
        meta = body.get("metadata") or {}
        condition, _ = _ready(body.get("status") or {})
        cluster = body.get("kind") == "ClusterIssuer"
        for value in CONDITION_VALUES:
            if cluster:
                self.cluster_issuer_ready.add_metric([meta.get("name", ""), value], float(value == condition))
            else:
                self.issuer_ready.add_metric(
                    [meta.get("name", ""), meta.get("namespace", ""), value], float(value == condition)
                )


def _ready(status: Mapping[str, Any]) -> tuple[str, str]:
    """The Ready condition's status (Unknown when there is none yet) and reason."""
    ready = find_condition(status.get("conditions") or [], ConditionType.READY) or {}
    value = ready.get("status")
    return (value if value in CONDITION_VALUES else "Unknown"), str(ready.get("reason") or "")


def _moment(value: object) -> datetime.datetime | None:
    try:
        return parse_timestamp(value) if isinstance(value, str) else None
    except ValueError:
        return None
