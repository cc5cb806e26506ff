"""Every error the plugin reports to its user, in one tree; each message says what to do.

PluginError                    exit status 1, the message on stderr
├── NoSuchObject               the named Certificate (or its Issuer, Secret) does not exist
├── Forbidden                  RBAC refused a verb on a resource in a namespace (403)
└── CrdsMissing                the API server does not serve certwright.dev/v1 (404 on the group)
"""

from __future__ import annotations


class PluginError(Exception):
    """Something the user can act on; the message says what."""


class NoSuchObject(PluginError):
    """The named object does not exist."""


class Forbidden(PluginError):
    """The user's RBAC does not allow a call."""

    def __init__(self, verb: str, resource: str, namespace: str | None, detail: str = "") -> None:
        where = f" in namespace {namespace}" if namespace else " cluster-wide"
        scope = f" -n {namespace}" if namespace else ""
        super().__init__(
            f"forbidden: you may not {verb} {resource}{where}"
            + (f" ({detail})" if detail else "")
            + f"; check with: kubectl auth can-i {verb} {resource}{scope}"
        )
        self.verb, self.resource, self.namespace = verb, resource, namespace


class CrdsMissing(PluginError):
    """certwright's CustomResourceDefinitions are not installed."""
