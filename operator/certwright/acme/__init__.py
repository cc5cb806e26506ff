"""RFC 8555 client on josepy and requests (transport below, protocol verbs above). No Kubernetes imports."""
