"""The cluster stand-in: a kubelet, an ingress controller and a Gateway API implementation.

A control plane built from Go modules has none: no Pod ever runs and no Ingress or HTTPRoute routes
anything. The stand-in plays them, narrowly and honestly, so that what the operator creates (Pods,
Services, Ingresses, HTTPRoutes) is exercised as a cluster would exercise it — a wrong Ingress host,
path or class, HTTPRoute parentRef or hostname, Service port or selector fails here as it would
there. It is test infrastructure, never shipped.
"""
