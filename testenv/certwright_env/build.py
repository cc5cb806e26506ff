"""``python -m certwright_env.build`` (``make binaries``): find or build every binary (and fetch the Gateway API
CRDs), print where each is.

Where a real node can run (as root), also the node's binaries and images, so that no test waits for them.
"""

from __future__ import annotations

from . import gatewayapi, images, nodehost
from .binaries import HELM4_VERSION, ensure_all, ensure_helm, ensure_node, ensure_pause

if __name__ == "__main__":
    for name, path in vars(ensure_all()).items():
        print(f"{name}: {path}")
    print(f"helm: {ensure_helm()}")
    print(f"helm 4: {ensure_helm(HELM4_VERSION)}")
    print(f"gateway-api CRDs {gatewayapi.GATEWAY_API_VERSION}: {gatewayapi.ensure_crds()}")
    reason = nodehost.unavailable() or images.available()
    if reason is None:
        for name, path in ensure_node().items():
            print(f"{name}: {path}")
        for image in (images.pause_image(ensure_pause()), images.build(), images.build_echo()):
            print(f"image {image.reference}: {image.archive}")
    else:
        print(f"no real node here ({reason}): its binaries and images are not built")
