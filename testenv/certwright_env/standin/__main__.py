"""``python -m certwright_env.standin CONFIG``: run the stand-in until SIGTERM."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from pathlib import Path

from kubernetes import client, config

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
    kubelet = Kubelet(core, pods, settings) if run_pods else None
    controller = IngressController(networking, ingresses, services, pods, settings, slices)

    if kubelet is not None:
        kubelet.register_node()
    controller.ensure_ingress_class()
    for cache in caches:
        cache.start()
    for cache in caches:
        cache.synced.wait(30)
    if kubelet is not None:
        kubelet.start()
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


if __name__ == "__main__":
    main(sys.argv[1])
