"""certwright: ACME certificates for Kubernetes, kept valid in Secrets.

The package is layered (DESIGN §5); imports point one way only, which import-linter checks:
``controllers → kube → domain → acme, pki``.
"""

from __future__ import annotations

__version__ = "0.1.0"
