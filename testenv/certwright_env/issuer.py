"""The Issuer a person applies in the local environment: Pebble, with its CA bundle, as for any private CA."""

from __future__ import annotations

import base64
from pathlib import Path


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
"""
