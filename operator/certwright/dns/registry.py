"""DNS providers by name: RFC 2136 built in, others from installed packages' entry points."""

from __future__ import annotations

import functools
from importlib.metadata import entry_points

from .errors import PROVIDER_NOT_FOUND, DnsError
from .provider import DnsProvider
from .rfc2136 import Rfc2136

GROUP = "certwright.dns_providers"
BUILT_IN: dict[str, type[DnsProvider]] = {"rfc2136": Rfc2136}


def installed() -> list[str]:
    """Names of the plug-ins installed next to certwright (entry points of ``GROUP``)."""
    return sorted(point.name for point in entry_points(group=GROUP))


@functools.cache
def provider_class(name: str) -> type[DnsProvider]:
    """The class of a built-in provider or of a plug-in; DnsError naming what is installed when absent.
    Read once per process (a plug-in installed later needs a restart anyway, to be imported)."""
    if name in BUILT_IN:
        return BUILT_IN[name]
    found = entry_points(group=GROUP, name=name)
    if not found:
        plugins = ", ".join(installed()) or "none"
        raise DnsError(
            PROVIDER_NOT_FOUND,
            f"no DNS provider plug-in named {name!r} is installed in the operator (plug-ins: {plugins}); "
            f"install its package in the operator's image, or use dns01.rfc2136",
        )
    loaded = next(iter(found)).load()
    if not (isinstance(loaded, type) and issubclass(loaded, DnsProvider)):
        raise DnsError(PROVIDER_NOT_FOUND, f"plug-in {name!r} does not name a DnsProvider subclass ({loaded!r})")
    return loaded
