"""DNS-01 errors: one class, a CamelCase ``reason`` a user sees on the Challenge and the Certificate,
and a message that names the cause and the next step.

    DnsError                   reason: TSIGRefused, DNSZoneNotServed, DNSUpdateRefused,
     └── DnsConfigError                DNSNameserverUnreachable, DNSProviderFailed, ...
                               a provider's settings are wrong; ``field`` names the spec path

Plug-ins raise these too (any reason they like; an unknown one shows as DNSProviderFailed on the
Certificate, with the plug-in's reason in the message).
"""

from __future__ import annotations

TSIG_REFUSED = "TSIGRefused"
ZONE_NOT_SERVED = "DNSZoneNotServed"
UPDATE_REFUSED = "DNSUpdateRefused"
NAMESERVER_UNREACHABLE = "DNSNameserverUnreachable"
PROVIDER_FAILED = "DNSProviderFailed"
PROVIDER_NOT_FOUND = "DNSProviderNotFound"
CONFIG_INVALID = "DNSConfigInvalid"
SECRET_MISSING = "DNSSecretMissing"  # noqa: S105 (a reason, not a secret)
PROPAGATION_TIMED_OUT = "DNSPropagationTimedOut"


class DnsError(Exception):
    """A DNS step failed; ``reason`` is the CamelCase word for it, the message says what to do."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class DnsConfigError(DnsError):
    """A provider's settings are wrong: ``field`` is the spec path, the message says how to fix it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(CONFIG_INVALID, f"{field}: {message}")
        self.field = field
