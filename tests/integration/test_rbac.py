"""The operator's ServiceAccount may do what the operator uses and nothing more (issue 12).

The list below is reviewed: each line is something the operator does (see the chart's rbac.yaml for
why). A new permission in the chart fails this test until it is reviewed here as well. The whole
integration tier runs the operator under exactly these rules, so a missing one fails a test too.
"""

from __future__ import annotations

from certwright_env import Environment
from certwright_env.operator import NAMESPACE, SERVICE_ACCOUNT, OperatorProcess

REVIEWED = {
    "certificates.certwright.dev": {"get", "list", "watch", "create", "patch", "delete"},
    "certificates.certwright.dev/status": {"patch"},
    "certificates.certwright.dev/finalizers": {"update"},
    "issuers.certwright.dev": {"get", "list", "watch"},
    "issuers.certwright.dev/status": {"patch"},
    "clusterissuers.certwright.dev": {"get", "list", "watch"},
    "clusterissuers.certwright.dev/status": {"patch"},
    "challenges.certwright.dev": {"get", "list", "watch", "create", "patch", "delete"},
    "challenges.certwright.dev/status": {"patch"},
    "challenges.certwright.dev/finalizers": {"update"},
    "secrets": {"get", "list", "watch", "create", "update", "patch", "delete"},
    "pods": {"list", "watch", "create", "delete"},
    "services": {"create", "delete"},
    "ingresses.networking.k8s.io": {"list", "watch", "create", "delete"},
    "ingresses.networking.k8s.io/finalizers": {"update"},
    "httproutes.gateway.networking.k8s.io": {"get", "create", "delete"},
    "gateways.gateway.networking.k8s.io": {"get", "list", "watch"},
    "events": {"create"},
}
# What every authenticated user may do (system:basic-user), not granted by certwright.
EVERYONE = {
    "selfsubjectreviews.authentication.k8s.io",
    "selfsubjectaccessreviews.authorization.k8s.io",
    "selfsubjectrulesreviews.authorization.k8s.io",
}


def test_the_service_account_may_do_exactly_the_reviewed_list(env: Environment, operator: OperatorProcess) -> None:
    listing = env.kubectl("auth", "can-i", "--list", f"--as=system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}")
    granted: dict[str, set[str]] = {}
    for line in listing.stdout.splitlines()[1:]:
        if line.startswith(" "):
            continue  # non-resource URLs (discovery, health), which every user may GET
        resource, verbs = line.split()[0], line[line.rindex("[") + 1 : line.rindex("]")].split()
        granted.setdefault(resource, set()).update(verbs)
    for resource in EVERYONE:
        granted.pop(resource, None)
    assert granted == REVIEWED
