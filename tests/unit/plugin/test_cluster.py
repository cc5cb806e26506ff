"""How ``Cluster`` turns the API server's refusals into errors a user can act on (its API objects are swapped
for fakes that raise what the API server answers)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client

from certwright.plugin.cluster import Cluster
from certwright.plugin.errors import CrdsMissing, Forbidden

FORBIDDEN = 'secrets "www-tls" is forbidden: User "jane" cannot get resource "secrets" in the namespace "web"'


def refusal(status: int, message: str = "") -> client.ApiException:
    error = client.ApiException(status=status, reason="Forbidden" if status == 403 else "Not Found")
    error.body = json.dumps(
        {"kind": "Status", "message": message or "the server could not find the requested resource"}
    )
    return error


class Refusing:
    """Any API method raises ``error``; discovery of certwright.dev/v1 answers as ``serves_group`` says."""

    def __init__(self, error: client.ApiException, *, serves_group: bool = True) -> None:
        self.error, self.serves_group = error, serves_group

    def get_api_resources(self, group: str, version: str) -> dict[str, Any]:
        if not self.serves_group:
            raise refusal(404)
        return {"resources": []}

    def __getattr__(self, name: str) -> Any:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise self.error

        return refuse


def cluster(core: object = None, custom: object = None) -> Cluster:
    found = Cluster(client.ApiClient())
    if core is not None:
        found.core = core  # type: ignore[assignment]
    if custom is not None:
        found.custom = custom  # type: ignore[assignment]
    return found


def test_a_403_names_verb_resource_and_namespace() -> None:
    with pytest.raises(Forbidden) as refused:
        cluster(core=Refusing(refusal(403, FORBIDDEN))).get_secret("web", "www-tls")
    assert str(refused.value).startswith("forbidden: you may not get secrets in namespace web")
    assert "kubectl auth can-i get secrets -n web" in str(refused.value)


def test_a_404_on_an_unserved_group_says_the_crds_are_missing() -> None:
    with pytest.raises(CrdsMissing, match="CRDs are not installed"):
        cluster(custom=Refusing(refusal(404), serves_group=False)).list_custom("certificates", "web")


def test_a_404_on_a_served_group_is_a_missing_object() -> None:
    assert cluster(custom=Refusing(refusal(404))).get_custom("certificates", "web", "www") is None


def test_listing_all_namespaces_without_rbac_says_cluster_wide() -> None:
    with pytest.raises(Forbidden, match=r"list certificates\.certwright\.dev cluster-wide"):
        cluster(custom=Refusing(refusal(403))).list_custom("certificates", None)
