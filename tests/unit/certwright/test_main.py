"""``python -m certwright`` reads its flags."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubernetes import client

from certwright import __version__
from certwright.__main__ import build_registry, in_cluster_login, lean_insights, parse_args, serves_gateways
from certwright.kube.rest import Rest


def test_version_is_printed() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "certwright", "--version"], capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == f"certwright {__version__}"


def test_namespaces_repeat_and_default_to_all() -> None:
    assert parse_args([]).namespace == []
    assert parse_args(["--namespace", "a", "--namespace", "b"]).namespace == ["a", "b"]


@pytest.mark.parametrize(
    ("argv", "address"),
    [([], ":9402"), (["--metrics-address=127.0.0.1:9000"], "127.0.0.1:9000"), (["--metrics-address="], "")],
    ids=["cert-managers-port", "given", "off"],
)
def test_metrics_are_served_on_9402_unless_told_otherwise(argv: list[str], address: str) -> None:
    assert parse_args(argv).metrics_address == address


def test_in_cluster_login_uses_the_service_variables_and_the_mounted_token(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("abc\n")
    (tmp_path / "namespace").write_text("certwright")
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    environ = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    info = in_cluster_login(environ, tmp_path)
    assert info is not None
    assert info.server == "https://10.0.0.1:443"  # an address: no cluster DNS needed
    assert (info.scheme, info.token, info.default_namespace) == ("Bearer", "abc", "certwright")
    assert info.ca_path == str(tmp_path / "ca.crt")
    v6 = in_cluster_login({"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}, tmp_path)
    assert v6 is not None
    assert v6.server == "https://[fd00::1]:443"
    assert in_cluster_login({}, tmp_path) is None, "outside a cluster"
    assert in_cluster_login(environ, tmp_path / "missing") is None


class Discovery:
    """The API server's discovery answer, under the kubernetes client's REST layer (no network)."""

    def __init__(self, status: int, answer: dict[str, Any] | Exception) -> None:
        self.status, self.answer = status, answer
        self.asked: list[str] = []

    def request(self, method: str, url: str, **_: Any) -> urllib3.HTTPResponse:
        self.asked.append(f"{method} {url}")
        if isinstance(self.answer, Exception):
            raise self.answer
        body = json.dumps(self.answer).encode()
        headers = {"content-type": "application/json"}
        reason = HTTPStatus(self.status).phrase
        return urllib3.HTTPResponse(body, headers, self.status, reason=reason, preload_content=False)


def _resources(*names: str) -> dict[str, Any]:
    return {
        "kind": "APIResourceList",
        "groupVersion": "gateway.networking.k8s.io/v1",
        "resources": [
            {"name": name, "kind": name.title(), "namespaced": True, "singularName": "", "verbs": []} for name in names
        ],
    }


NOT_FOUND = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}
UNAVAILABLE = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 503}


@pytest.mark.parametrize(
    ("status", "answer", "says"),
    [
        (200, _resources("gatewayclasses", "gateways", "httproutes"), None),
        (200, _resources("gatewayclasses", "httproutes"), "(no gateway.networking.k8s.io/v1 gateways)"),
        (404, NOT_FOUND, "(no gateway.networking.k8s.io/v1 gateways)"),
        (503, UNAVAILABLE, "(discovery of gateway.networking.k8s.io/v1 gateways failed: 503 Service Unavailable)"),
        (
            0,
            urllib3.exceptions.MaxRetryError(urllib3.HTTPConnectionPool("api.test"), "/apis", None),
            "(discovery of gateway.networking.k8s.io/v1 gateways failed: MaxRetryError: ",
        ),
    ],
    ids=["served", "group-without-gateways", "not-installed", "discovery-fails", "unreachable"],
)
def test_gateways_are_watched_only_where_discovery_lists_them(
    status: int, answer: dict[str, Any] | Exception, says: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    api = client.ApiClient(client.Configuration(host="https://api.test"))
    fake = Discovery(status, answer)
    api.rest_client.pool_manager = fake
    caplog.set_level(logging.INFO, logger="certwright.__main__")

    served = serves_gateways(Rest(api))

    assert fake.asked == ["GET https://api.test/apis/gateway.networking.k8s.io/v1"]
    assert served is (says is None)
    lines = [record.getMessage() for record in caplog.records]
    if says is None:
        assert lines == []
    else:
        assert len(lines) == 1, lines
        assert lines[0].startswith("Gateway API not installed (")
        assert says in lines[0], lines[0]
        assert lines[0].endswith("): Gateway support is off; restart the operator after installing it")


@pytest.mark.parametrize("gateway_api", [True, False], ids=["installed", "absent"])
def test_the_gateway_handler_is_registered_only_with_the_gateway_api(gateway_api: bool) -> None:
    registry = build_registry(gateway_api=gateway_api)
    handlers = registry._watching.get_all_handlers()
    watched = {handler.selector.any_name for handler in handlers if handler.selector is not None}
    assert ("gateways" in watched) is gateway_api
    assert "ingresses" in watched


def test_kopf_discovers_only_the_backbone_resource_the_operator_needs() -> None:
    """If a kopf upgrade moves what ``lean_insights`` relies on, this says so (the operator then falls
    back to kopf's default and a restart costs two more requests)."""
    from kopf._cogs.structs import references

    insights = lean_insights()

    assert insights is not None
    assert insights.backbone.selectors == [references.NAMESPACES]
    assert {selector.group for selector in insights.backbone.selectors} == {""}
