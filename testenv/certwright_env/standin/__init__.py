"""The cluster stand-in: a kubelet and an ingress controller for solver Pods only.

A control plane built from Go modules has neither: no Pod ever runs and no Ingress routes anything.
The stand-in plays both, narrowly and honestly, so that what the operator creates (Pods, Services,
Ingresses) is exercised as a cluster would exercise it — a wrong Ingress host, path or class, Service
port or selector fails here as it would there. It is test infrastructure, never shipped.
"""
