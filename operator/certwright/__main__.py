"""``python -m certwright``: run the operator."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from typing import Any

import kopf

from . import __version__


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="certwright", description="ACME certificates for Kubernetes.")
    parser.add_argument("--version", action="version", version=f"certwright {__version__}")
    parser.add_argument(
        "--namespace",
        action="append",
        default=[],
        help="watch only this namespace (repeatable); all namespaces when absent",
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser.parse_args(argv)


def build_registry() -> kopf.OperatorRegistry:
    """The operator's handlers; for now only how it logs in (kubeconfig, else in-cluster)."""
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return kopf.login_with_kubeconfig(**kwargs) or kopf.login_with_service_account(**kwargs)

    return registry


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    logging.basicConfig(level=options.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger(__name__).info("certwright %s starting", __version__)
    asyncio.run(
        kopf.operator(
            registry=build_registry(),
            standalone=True,
            clusterwide=not options.namespace,
            namespaces=options.namespace,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
