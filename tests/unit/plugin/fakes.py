"""A fake of the plugin's ``Cluster`` seam: objects in dicts, every write recorded."""

from __future__ import annotations

from typing import Any

from certwright.domain import api
from certwright.plugin.errors import Forbidden

Obj = dict[str, Any]


class FakeCluster:
    """Certificates, Issuers, Secrets and Events kept in memory; ``forbidden`` names resources RBAC refuses."""

    def __init__(self, *objects: Obj, forbidden: tuple[str, ...] = ()) -> None:
        self.objects: dict[tuple[str, str | None, str], Obj] = {}
        self.events_by_name: dict[str, list[Obj]] = {}
        self.annotated: list[tuple[str, str, dict[str, str]]] = []
        self.forbidden = forbidden
        for obj in objects:
            self.add(obj)

    def add(self, obj: Obj) -> None:
        plural = {"Certificate": api.CERTIFICATES, "Issuer": api.ISSUERS, "Secret": "secrets"}.get(
            obj["kind"], obj["kind"]
        )
        meta = obj["metadata"]
        self.objects[(plural, meta.get("namespace"), meta["name"])] = obj

    def _guard(self, verb: str, plural: str, namespace: str | None) -> None:
        if plural in self.forbidden:
            raise Forbidden(verb, plural, namespace, "from the fake")

    def list_custom(self, plural: str, namespace: str | None, selector: str = "") -> list[Obj]:
        self._guard("list", plural, namespace)
        wanted = dict(part.split("=", 1) for part in selector.split(",") if part)
        return [
            obj
            for (kind, ns, _), obj in sorted(self.objects.items(), key=lambda item: str(item[0]))
            if kind == plural
            and namespace in (None, ns)
            and all((obj["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items())
        ]

    def get_custom(self, plural: str, namespace: str | None, name: str) -> Obj | None:
        self._guard("get", plural, namespace)
        return self.objects.get((plural, namespace, name))

    def get_secret(self, namespace: str, name: str) -> Obj | None:
        self._guard("get", "secrets", namespace)
        return self.objects.get(("secrets", namespace, name))

    def events(self, namespace: str | None, kind: str, name: str) -> list[Obj]:
        return self.events_by_name.get(name, [])

    def annotate(self, plural: str, namespace: str, name: str, annotations: dict[str, str]) -> None:
        self._guard("patch", plural, namespace)
        self.annotated.append((namespace, name, annotations))
