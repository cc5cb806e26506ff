"""``check``'s solver objects: the operator's manifests, owned by no Challenge, labelled with the check's id."""

from __future__ import annotations

import base64
import re

from certwright.domain import api
from certwright.domain.specs import ParentRef, Solver
from certwright.kube.builders import CHALLENGE_PATH
from certwright.plugin.check import LABEL_CHECK, Line, _manifests, _probe
from certwright.plugin.dnsprobe import throwaway_value

IMAGE = "ghcr.io/certwright/certwright:1.0.0"


def test_the_solver_objects_carry_the_check_label_and_no_owner() -> None:
    probe = _probe("www", "web", "www.example.com", Solver(ingress_class="nginx"), "ab12cd34", 0)
    pod, service, ingress = _manifests(probe, IMAGE, "ab12cd34")

    assert [m["kind"] for m in (pod, service, ingress)] == ["Pod", "Service", "Ingress"]
    for manifest in (pod, service, ingress):
        assert "ownerReferences" not in manifest["metadata"]
        assert manifest["metadata"]["labels"][LABEL_CHECK] == "ab12cd34"
        assert manifest["metadata"]["name"] == probe.solver_name
        assert manifest["metadata"]["namespace"] == "web"
    pod_labels = pod["metadata"]["labels"]
    assert all(pod_labels[key] == value for key, value in service["spec"]["selector"].items())
    rule = ingress["spec"]["rules"][0]
    assert rule["host"] == "www.example.com"
    assert rule["http"]["paths"][0]["path"] == CHALLENGE_PATH + probe.token
    assert ingress["spec"]["ingressClassName"] == "nginx"
    served = pod["spec"]["containers"][0]["env"][1]["value"]
    assert served == f"{probe.token}={probe.key_authorization}"
    assert pod["spec"]["containers"][0]["image"] == IMAGE


def test_a_gateway_solver_gets_an_httproute() -> None:
    solver = Solver(parent_refs=(ParentRef("edge"),))
    probe = _probe("www", "web", "www.example.com", solver, "ab12cd34", 1)
    route = _manifests(probe, IMAGE, "ab12cd34")[2]
    assert route["kind"] == "HTTPRoute"
    assert route["spec"]["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "edge"}]


def test_each_probe_has_its_own_token_and_no_challenge_name_of_the_operator() -> None:
    solver = Solver()
    first, second = (_probe("www", "web", "www.example.com", solver, "ab12cd34", i) for i in (0, 1))
    assert first.token != second.token
    assert first.solver_name != second.solver_name
    assert first.key_authorization.startswith(first.token + ".")
    # The operator names Challenges <certificate>-<10 hex>; a check's stand-in name never has that shape.
    assert not re.fullmatch(r"www-[0-9a-f]{10}", first.challenge["metadata"]["name"])
    assert api.LABEL_CHALLENGE in _manifests(first, IMAGE, "ab12cd34")[0]["metadata"]["labels"]


def test_a_throwaway_txt_value_looks_like_a_real_one() -> None:
    value = throwaway_value()
    assert len(base64.urlsafe_b64decode(value + "=")) == 32
    assert value != throwaway_value()


def test_lines_say_ok_or_fail_first() -> None:
    assert str(Line("www.example.com", True, "passed")) == "ok    www.example.com: passed"
    assert str(Line("www.example.com", False, "at the ingress hop")).startswith("FAIL  www.example.com")
