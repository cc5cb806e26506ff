"""Thin adapters over the Kubernetes API: Secrets, Events, status patches, solver manifest builders."""
