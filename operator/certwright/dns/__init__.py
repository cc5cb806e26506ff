"""DNS-01: the DNS provider interface, RFC 2136, zone discovery and the propagation check (no Kubernetes)."""
