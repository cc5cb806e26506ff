"""``make demo``: start the environment and show, with kubectl, that it works.

For now this shows the control plane ready and Pebble's directory; once the operator issues
certificates, the demo issues one end to end.
"""

from __future__ import annotations

import json
import sys
import urllib.request

from .environment import Environment


def main() -> int:
    print("certwright demo: starting the local control plane, Pebble and the cluster stand-in…", flush=True)
    with Environment() as env:
        print(f"certwright demo: environment ready in {env.timings['total']:.1f} s; logs in {env.log_dir}\n")
        _show(env, "get", "--raw", "/readyz")
        _show(env, "get", "nodes", "-o", "wide")
        _show(env, "get", "ingressclasses")
        print(f"$ curl --cacert {env.pebble_ca_bundle} {env.pebble_directory_url}")
        with urllib.request.urlopen(env.pebble_directory_url, context=env.ssl_context(), timeout=5) as response:  # noqa: S310
            print(json.dumps(json.load(response), indent=2))
        print("\ncertwright demo: done; everything it started is stopped. `make env` keeps it running for you.")
    return 0


def _show(env: Environment, *args: str) -> None:
    print(f"$ kubectl {' '.join(args)}")
    print(env.kubectl(*args).stdout.rstrip() + "\n", flush=True)


if __name__ == "__main__":
    sys.exit(main())
