"""``python -m certwright_env.standin CONFIG``: run the stand-in until SIGTERM."""

from __future__ import annotations

import functools
import json
import logging
import signal
import sys
import threading
from pathlib import Path

from kubernetes import client, config

from ..gatewayapi import GROUP
from .gateway import GatewayCaches, GatewayController
from .ingress import IngressController
from .kubelet import Kubelet
from .watchcache import WatchCache


def main(config_file: str) -> None:
    settings = json.loads(Path(config_file).read_text())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    api_client = config.new_client_from_config(config_file=settings["kubeconfig"])
    core = client.CoreV1Api(api_client)
    networking = client.NetworkingV1Api(api_client)

    run_pods = settings.get("run_pods", True)
    pods = WatchCache("pods", core.list_pod_for_all_namespaces, settings["pod_selector"] if run_pods else None)
    services = WatchCache("services", core.list_service_for_all_namespaces)
    ingresses = WatchCache("ingresses", networking.list_ingress_for_all_namespaces)
    caches = [pods, services, ingresses]
    slices = None
    if not run_pods:  # a real node runs the Pods; route to them through their EndpointSlices
        discovery = client.DiscoveryV1Api(api_client)
        slices = WatchCache("endpointslices", discovery.list_endpoint_slice_for_all_namespaces)
        caches.append(slices)
    gateway = None
    if settings.get("gateway_api"):  # only where the environment installed the CRDs
        gateway = _gateway_controller(api_client, core, services, settings["address"])
        caches += gateway.caches.all()
    kubelet = Kubelet(core, pods, settings) if run_pods else None
    controller = IngressController(networking, ingresses, services, pods, settings, slices, gateway)

    if kubelet is not None:
        kubelet.register_node()
    controller.ensure_ingress_class()
    if gateway is not None:
        gateway.ensure_gateway_class(settings["gateway_class"])
    for cache in caches:
        cache.start()
    for cache in caches:
        cache.synced.wait(30)
    if kubelet is not None:
        kubelet.start()
    if gateway is not None:
        gateway.start()
    server = controller.serve()
    logging.getLogger(__name__).info(
        "serving Ingresses of class %r on %s:%d; %s",
        settings["ingress_class"],
        settings["address"],
        settings["http_port"],
        f"running Pods labelled {settings['pod_selector']!r} on node {settings['node_name']}"
        if run_pods
        else "the real node runs the Pods",
    )
    Path(settings["ready_file"]).write_text("ready\n")

    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
    server.shutdown()
    if kubelet is not None:
        kubelet.stop_all()


def _gateway_controller(
    api_client: client.ApiClient, core: client.CoreV1Api, services: WatchCache, address: str
) -> GatewayController:
    custom = client.CustomObjectsApi(api_client)
    caches = GatewayCaches(
        classes=WatchCache(
            "gatewayclasses", functools.partial(custom.list_cluster_custom_object, GROUP, "v1", "gatewayclasses")
        ),
        gateways=WatchCache("gateways", functools.partial(custom.list_cluster_custom_object, GROUP, "v1", "gateways")),
        routes=WatchCache(
            "httproutes", functools.partial(custom.list_cluster_custom_object, GROUP, "v1", "httproutes")
        ),
        namespaces=WatchCache("namespaces", core.list_namespace),
        tls_secrets=WatchCache(
            "tls-secrets",
            functools.partial(core.list_secret_for_all_namespaces, field_selector="type=kubernetes.io/tls"),
        ),
    )
    return GatewayController(custom, caches, services, address)


if __name__ == "__main__":
    main(sys.argv[1])
