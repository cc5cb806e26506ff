"""The Issuers a person applies in the local environment: Pebble, with its CA bundle, as for any private CA;
answering HTTP-01 through the ingress (or the Gateway), or DNS-01 through the environment's BIND."""

from __future__ import annotations

import base64
from pathlib import Path

from .bind import Bind

BIND_TSIG_REF = "bind-tsig"  # the Secret that holds the TSIG secret, under the key `secret`


def pebble_issuer_yaml(directory_url: str, ca_bundle: Path, name: str = "pebble") -> str:
    bundle = base64.b64encode(ca_bundle.read_bytes()).decode()
    return f"""apiVersion: certwright.dev/v1
kind: Issuer
metadata:
  name: {name}
spec:
  acme:
    server: {directory_url}
    email: ops@example.test
    profile: default        # Pebble picks a random profile otherwise; Let's Encrypt's default is classic
    caBundle: {bundle}
    privateKeySecretRef:
      name: {name}-account
    solvers:
      - http01:
          ingress:
            ingressClassName: nginx
      # Or through the Gateway API: an HTTPRoute attached to the environment's Gateway.
      # - http01:
      #     gatewayHTTPRoute:
      #       parentRefs: [{{name: gateway, namespace: certwright-env, kind: Gateway}}]
"""


def pebble_dns01_issuer_yaml(
    directory_url: str,
    ca_bundle: Path,
    bind: Bind,
    *,
    namespace: str,
    name: str = "pebble-dns01",
) -> str:
    """A ClusterIssuer that answers DNS-01 through RFC 2136 updates to the environment's BIND, and its TSIG Secret.

    The Secret is in the operator's namespace, where a ClusterIssuer's Secrets are looked up.
    """
    bundle = base64.b64encode(ca_bundle.read_bytes()).decode()
    return f"""apiVersion: v1
kind: Secret
metadata:
  name: {BIND_TSIG_REF}
  namespace: {namespace}
stringData:
  secret: "{bind.tsig_secret}"
---
apiVersion: certwright.dev/v1
kind: ClusterIssuer
metadata:
  name: {name}
spec:
  acme:
    server: {directory_url}
    email: ops@example.test
    profile: default
    caBundle: {bundle}
    privateKeySecretRef:
      name: {name}-account
    solvers:
      - dns01:
          rfc2136:
            nameserver: {bind.nameserver}
            tsigKeyName: {bind.tsig_key_name}
            tsigAlgorithm: {bind.tsig_algorithm}
            tsigSecretSecretRef: {{name: {BIND_TSIG_REF}, key: secret}}
"""
