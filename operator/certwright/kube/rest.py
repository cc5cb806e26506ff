"""The operator's HTTP calls to the API server: the kubernetes client's ``ApiClient`` (its kubeconfig and
in-cluster authentication, token refresh, TLS and connection pool) without its generated API classes.

Those classes cost memory for nothing here: importing ``CoreV1Api`` alone adds about 21 MiB (a
validated signature for each of its hundreds of methods), while the operator makes a score of calls,
always with plain dicts in and out. Calls block: run them in a thread (``Kube`` does).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from kubernetes import client

Obj = dict[str, Any]
JSON = "application/json"


def path(group: str, version: str, plural: str, namespace: str | None = None, name: str | None = None) -> str:
    """The URL path of a collection or an object: the core group is ``""``."""
    base = f"/api/{version}" if not group else f"/apis/{group}/{version}"
    if namespace is not None:
        base += f"/namespaces/{quote(namespace, safe='')}"
    base += f"/{plural}"
    return base + (f"/{quote(name, safe='')}" if name is not None else "")


class Rest:
    """``request`` returns the parsed JSON answer; ``stream`` the open response, for a watch."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self.api_client = api_client

    def request(
        self,
        method: str,
        url_path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Obj | None = None,
        content_type: str = JSON,
        timeout: float | None = None,
    ) -> Obj:
        response = self._send(method, url_path, query, body, content_type, timeout)
        data = response.read()
        answer: Obj = json.loads(data) if data else {}
        return answer

    def stream(self, url_path: str, *, query: Mapping[str, Any] | None = None, timeout: float | None = None) -> Any:
        """A GET whose answer is read line by line (a watch); the caller releases it."""
        return self._send("GET", url_path, query, None, JSON, timeout).response

    def _send(
        self,
        method: str,
        url_path: str,
        query: Mapping[str, Any] | None,
        body: Obj | None,
        content_type: str,
        timeout: float | None,
    ) -> Any:
        headers = {"Accept": JSON}
        if body is not None:
            headers["Content-Type"] = content_type
        serialized = self.api_client.param_serialize(
            method,
            url_path,
            query_params=[(key, value) for key, value in (query or {}).items() if value is not None],
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self.api_client.call_api(*serialized, _request_timeout=timeout)
        if not 200 <= response.status <= 299:
            response.read()  # type: ignore[no-untyped-call]
            raise client.ApiException.from_response(http_resp=response, body=None, data=None)
        return response
