"""The operator's Prometheus endpoint, scraped as Prometheus would and checked against the cluster (issue 15)."""

from __future__ import annotations

import datetime
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from prometheus_client.parser import text_string_to_metric_families

from certwright_env import Environment
from certwright_env.operator import OperatorProcess
from certwright_env.probes import eventually

from .certwright import apply, certificate, condition, issuer, names, namespace, wait_condition, wait_ready

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(operator: OperatorProcess) -> Series:
    """Every sample of one scrape, by name and labels (waiting for an operator that is starting to listen)."""
    text = eventually(lambda: _get(operator.metrics_url), lambda body: body is not None, what="metrics are served")
    assert text is not None
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return str(response.read().decode())
    except ConnectionRefusedError:
        return None
    except urllib.error.URLError as error:
        if isinstance(error.reason, ConnectionRefusedError):
            return None
        raise


def value(series: Series, metric: str, /, **labels: str) -> float | None:
    return series.get((metric, frozenset(labels.items())))


def total(series: Series, metric: str, /, **labels: str) -> float:
    """The sum of ``metric`` over the series that have ``labels`` (and any others)."""
    wanted = set(labels.items())
    return sum(v for (name, have), v in series.items() if name == metric and wanted <= have)


def of(series: Series, namespace: str, name: str) -> Series:
    """The series that name this object."""
    return {key: v for key, v in series.items() if {("namespace", namespace), ("name", name)} <= key[1]}


def epoch(rfc3339: str) -> float:
    return datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


def test_a_ready_certificate_shows_its_dates_and_its_issuance_in_acme_traffic(
    env: Environment, operator: OperatorProcess
) -> None:
    host = urlsplit(env.pebble_directory_url).netloc
    before = scrape(operator)
    ns = namespace(env)
    apply(env, issuer(env, "pebble", ns), certificate("web", ns, names(1), "pebble"))

    status = wait_ready(env, "web", ns)["status"]

    labels = {"name": "web", "namespace": ns, "issuer_name": "pebble", "issuer_kind": "Issuer"}
    labels["issuer_group"] = "certwright.dev"
    after = eventually(
        lambda: scrape(operator),
        lambda s: value(s, "certwright_certificate_ready_status", **labels, condition="True") == 1,
        what="the scrape shows the Certificate Ready",
    )
    assert value(after, "certwright_certificate_expiration_timestamp_seconds", **labels) == epoch(status["notAfter"])
    assert value(after, "certwright_certificate_not_before_timestamp_seconds", **labels) == epoch(status["notBefore"])
    assert value(after, "certwright_certificate_renewal_timestamp_seconds", **labels) == epoch(status["renewalTime"])
    assert value(after, "certwright_certificate_ready_status", **labels, condition="False") == 0
    assert value(after, "certwright_issuer_ready_status", name="pebble", namespace=ns, condition="True") == 1
    requests = "certwright_http_acme_client_request_count"
    for action in ("new-account", "new-order", "authz", "challenge", "finalize", "certificate"):
        rose = total(after, requests, host=host, action=action) - total(before, requests, host=host, action=action)
        assert rose >= 1, f"no {action} request counted"
    issued = "certwright_certificate_issuance_total"
    assert total(after, issued, outcome="issued", trigger="SecretMissing") > total(
        before, issued, outcome="issued", trigger="SecretMissing"
    )
    assert total(after, "certwright_http_acme_client_request_duration_seconds_count", host=host) == total(
        after, requests, host=host
    )


def test_a_not_ready_certificate_shows_false_with_its_conditions_reason(
    env: Environment, operator: OperatorProcess
) -> None:
    ns = namespace(env)
    apply(env, certificate("orphan", ns, names(1), "no-such-issuer"))

    ready = condition(wait_condition(env, "orphan", ns, "Ready", "IssuerNotFound"), "Ready")

    assert ready["status"] == "False"
    reason = {"name": "orphan", "namespace": ns, "condition": "False", "reason": ready["reason"]}
    series = eventually(
        lambda: scrape(operator),
        lambda s: value(s, "certwright_certificate_ready_reason", **reason) == 1,
        what="the scrape shows the Certificate's reason",
    )
    labels = {"name": "orphan", "namespace": ns, "issuer_name": "no-such-issuer", "issuer_kind": "Issuer"}
    labels["issuer_group"] = "certwright.dev"
    assert value(series, "certwright_certificate_ready_status", **labels, condition="False") == 1
    assert value(series, "certwright_certificate_ready_status", **labels, condition="True") == 0
    assert value(series, "certwright_certificate_expiration_timestamp_seconds", **labels) is None  # never issued


def test_a_deleted_certificates_series_are_gone(env: Environment, operator: OperatorProcess) -> None:
    ns = namespace(env)
    apply(env, issuer(env, "pebble", ns), certificate("brief", ns, names(1), "pebble"))
    wait_ready(env, "brief", ns)
    eventually(
        lambda: of(scrape(operator), ns, "brief"),
        lambda mine: any(name == "certwright_certificate_expiration_timestamp_seconds" for name, _ in mine),
        what="the Certificate's series appear",
    )

    env.kubectl("delete", "certificate", "brief", "-n", ns)

    eventually(lambda: of(scrape(operator), ns, "brief"), lambda mine: mine == {}, what="its series are gone")
