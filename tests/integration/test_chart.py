"""The Helm chart and the plain manifests generated from it (issue 12, first part).

helm is built from its Go module like the control plane. What runs the chart on the real node
(`helm install`, upgrade, uninstall) comes with the in-cluster operator.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from certwright_env import Environment, chart
from certwright_env.base import REPO
from certwright_env.binaries import HELM4_VERSION, HELM_VERSION, ensure_helm


@pytest.fixture(scope="module", params=[HELM_VERSION, HELM4_VERSION])
def helm(request: pytest.FixtureRequest) -> Path:
    """Helm 3 and Helm 4: the chart works with both."""
    version: str = request.param
    return ensure_helm(version)


def _documents(rendered: str) -> list[dict[str, object]]:
    return [d for d in yaml.safe_load_all(rendered) if d]


def _kinds(rendered: str) -> list[str]:
    return sorted(f"{d['kind']}/{d['metadata']['name']}" for d in _documents(rendered))


def test_the_chart_lints_clean(helm: Path) -> None:
    completed = subprocess.run([str(helm), "lint", "--strict", str(chart.CHART)], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_the_chart_and_the_plain_manifests_do_not_drift() -> None:
    for source in sorted((REPO / "crds").glob("*.yaml")):
        copy = chart.CHART_CRDS / source.name
        assert copy.read_bytes() == source.read_bytes(), f"{copy} differs from {source}: run make generate"
    assert sorted(p.name for p in chart.CHART_CRDS.glob("*.yaml")) == sorted(
        p.name for p in (REPO / "crds").glob("*.yaml")
    )
    # Rendered by make generate's helm (Helm 4 lays out blank lines a little differently).
    assert chart.MANIFEST.read_text() == chart.plain_manifest(ensure_helm()), "manifests/ drifted: run make generate"


def test_the_defaults_render_what_a_user_installs(helm: Path) -> None:
    rendered = chart.render(helm=helm)
    assert _kinds(rendered) == [
        "ClusterRole/certwright",
        "ClusterRoleBinding/certwright",
        "CustomResourceDefinition/certificates.certwright.dev",
        "CustomResourceDefinition/challenges.certwright.dev",
        "CustomResourceDefinition/clusterissuers.certwright.dev",
        "CustomResourceDefinition/issuers.certwright.dev",
        "Deployment/certwright",
        "PodDisruptionBudget/certwright",
        "Role/certwright-leader-election",
        "RoleBinding/certwright-leader-election",
        "Service/certwright-metrics",
        "ServiceAccount/certwright",
    ]
    crds = [d for d in _documents(rendered) if d["kind"] == "CustomResourceDefinition"]
    assert all(d["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep" for d in crds)
    deployment = next(d for d in _documents(rendered) if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == "ghcr.io/certwright/certwright:0.1.0"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True

    without = chart.render("--set", "crds.enabled=false", "--set", "crds.keep=false", helm=helm)
    assert not [d for d in _documents(without) if d["kind"] == "CustomResourceDefinition"]
    monitored = chart.render("--set", "metrics.serviceMonitor.enabled=true", helm=helm)
    assert "ServiceMonitor/certwright" in _kinds(monitored)


def test_the_defaults_run_two_replicas_with_leader_election(helm: Path) -> None:
    documents = _documents(chart.render(helm=helm))
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    assert {
        "--leader-elect",
        "--leader-election-namespace=certwright",
        "--leader-election-lease-duration=15",
        "--leader-election-renew-deadline=10",
        "--leader-election-retry-period=2",
    } <= set(pod["containers"][0]["args"])
    selector = deployment["spec"]["selector"]["matchLabels"]
    budget = next(d for d in documents if d["kind"] == "PodDisruptionBudget")
    assert budget["apiVersion"] == "policy/v1"
    assert budget["spec"] == {"minAvailable": 1, "selector": {"matchLabels": selector}}
    assert pod["affinity"] == {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "topologyKey": "kubernetes.io/hostname",
                        "labelSelector": {"matchLabels": selector},
                    },
                }
            ]
        }
    }


def test_one_replica_without_leader_election_is_recreated_and_has_no_budget(helm: Path) -> None:
    rendered = chart.render("--set", "replicaCount=1", "--set", "leaderElection.enabled=false", helm=helm)
    documents = _documents(rendered)
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert not [arg for arg in args if arg.startswith("--leader-elect")]
    kinds = _kinds(rendered)
    assert "PodDisruptionBudget/certwright" not in kinds
    assert "Role/certwright-leader-election" not in kinds, "no Lease RBAC without leader election"
    assert "RoleBinding/certwright-leader-election" not in kinds


def test_leader_election_values_reach_the_flags_and_the_budget(helm: Path) -> None:
    rendered = chart.render(
        "--set", "replicaCount=3",
        "--set", "leaderElection.leaseDuration=30",
        "--set", "leaderElection.renewDeadline=20",
        "--set", "leaderElection.retryPeriod=5",
        "--set", "podDisruptionBudget.maxUnavailable=1",
        "--set-json", 'affinity={"nodeAffinity": {}}',
        helm=helm,
    )  # fmt: skip
    documents = _documents(rendered)
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] == 3
    assert {
        "--leader-election-lease-duration=30",
        "--leader-election-renew-deadline=20",
        "--leader-election-retry-period=5",
    } <= set(pod["containers"][0]["args"])
    assert pod["affinity"] == {"nodeAffinity": {}}, "a given affinity replaces the default"
    budget = next(d for d in documents if d["kind"] == "PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] == 1
    assert "minAvailable" not in budget["spec"], "the API server refuses both"
    disabled = chart.render("--set", "podDisruptionBudget.enabled=false", helm=helm)
    assert "PodDisruptionBudget/certwright" not in _kinds(disabled)


def test_values_change_what_they_name(helm: Path) -> None:
    digest = "sha256:" + "ab" * 32
    rendered = chart.render(
        "--set", f"image.digest={digest}",
        "--set", "logFormat=json",
        "--set", "defaultIssuer=ClusterIssuer/letsencrypt",
        "--set", "watchNamespace=shop",
        helm=helm,
    )  # fmt: skip
    documents = _documents(rendered)
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"ghcr.io/certwright/certwright@{digest}"
    assert f"--solver-image=ghcr.io/certwright/certwright@{digest}" in container["args"]
    assert {"--log-format=json", "--default-issuer=ClusterIssuer/letsencrypt", "--namespace=shop"} <= set(
        container["args"]
    )
    role = next(d for d in documents if d["kind"] == "Role" and d["metadata"]["name"] == "certwright")
    assert role["metadata"]["namespace"] == "shop"
    assert not [d for d in documents if d["kind"].startswith("Cluster") and d["kind"] != "CustomResourceDefinition"]
    assert "clusterissuers" not in yaml.safe_dump(role)


def test_the_dashboard_and_the_alerts_render_when_enabled(helm: Path) -> None:
    rendered = chart.render(
        "--set", "dashboard.enabled=true",
        "--set", "dashboard.namespace=monitoring",
        "--set", "prometheusRule.enabled=true",
        "--set", "prometheusRule.labels.release=kube-prometheus-stack",
        helm=helm,
    )  # fmt: skip
    documents = _documents(rendered)
    dashboard = next(d for d in documents if d["kind"] == "ConfigMap")
    assert dashboard["metadata"]["name"] == "certwright-dashboard"
    assert dashboard["metadata"]["namespace"] == "monitoring"
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = json.loads((chart.CHART / "dashboards" / "certwright.json").read_text())
    assert json.loads(dashboard["data"]["certwright.json"]) == shipped
    rule = next(d for d in documents if d["kind"] == "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert rule["spec"] == yaml.safe_load((chart.CHART / "rules" / "certwright.rules.yaml").read_text())
    assert "ConfigMap/certwright-dashboard" not in _kinds(chart.render(helm=helm))  # off by default


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("replicaCount=two", "replicaCount"),
        ("logFormat=xml", "logFormat"),
        ("image.pullPolicy=Sometimes", "pullPolicy"),
        ("dashboard.enable=true", "enable"),
        ("prometheusRule.enabled=yes", "enabled"),
        ("leaderElection.leaseDuration=-1", "leaderElection/leaseDuration"),
        ("leaderElection.retryPeriod=often", "leaderElection/retryPeriod"),
        ("leaderElection.leaseDuration=12", "leaderElection.leaseDuration (12)"),
        ("leaderElection.retryPeriod=10", "leaderElection.retryPeriod (10)"),
        ("replicaCount=2,leaderElection.enabled=false", "replicaCount is 2 but leaderElection.enabled is false"),
        ("podDisruptionBudget.minAvailable=half", "podDisruptionBudget/minAvailable"),
    ],
)
def test_a_wrong_value_is_refused_with_its_field_named(helm: Path, value: str, field: str) -> None:
    with pytest.raises(RuntimeError) as refused:
        chart.render("--set", value, helm=helm)
    assert field in str(refused.value)


def test_the_rendered_chart_passes_the_api_servers_validation(env: Environment, helm: Path, tmp_path: Path) -> None:
    rendered = tmp_path / "certwright.yaml"
    rendered.write_text(chart.render(helm=helm))
    env.kubectl("apply", "-f", str(REPO / "crds"))
    env.kubectl("create", "namespace", "certwright", check=False)
    completed = env.kubectl("apply", "--dry-run=server", "-f", str(rendered))  # raises on any refusal
    lines = completed.stdout.splitlines()
    assert len(lines) == len(_documents(rendered.read_text()))
    assert all(line.endswith("(server dry run)") for line in lines)
