"""Names the operator and its users share: API group, kinds, labels, annotations, field manager."""

from __future__ import annotations

GROUP = "certwright.dev"
VERSION = "v1"
API_VERSION = f"{GROUP}/{VERSION}"
FIELD_MANAGER = "certwright"

CERTIFICATES = "certificates"
ISSUERS = "issuers"
CLUSTER_ISSUERS = "clusterissuers"
CHALLENGES = "challenges"

# On Secrets the operator writes: the server-side label selector it watches them by, and who they are for.
LABEL_MANAGED = f"{GROUP}/managed"  # value "true"
LABEL_CERTIFICATE = f"{GROUP}/certificate-name"
ANNOTATION_CERTIFICATE = f"{GROUP}/certificate-name"
ANNOTATION_ISSUER_NAME = f"{GROUP}/issuer-name"
ANNOTATION_ISSUER_KIND = f"{GROUP}/issuer-kind"
ANNOTATION_DNS_NAMES = f"{GROUP}/dns-names"

# On solver objects (Pod, Service, Ingress): what they serve.
LABEL_SOLVER = f"{GROUP}/solver"  # value "http01"
LABEL_CHALLENGE = f"{GROUP}/challenge"
# On DNS-01 Challenges: held until their TXT record is removed, also when their Certificate goes.
FINALIZER_DNS_RECORD = f"{GROUP}/dns-record"

# `kubectl annotate certificate NAME certwright.dev/renew=now` forces one renewal.
ANNOTATION_RENEW = f"{GROUP}/renew"
