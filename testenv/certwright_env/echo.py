"""A tiny web server that stands for a test image: answers every GET with a fixed text.

``python -m certwright_env.echo --address IP --port N --text T`` (the address usually comes from the
downward API, ``status.podIP``, as the solver's does).
"""

from __future__ import annotations

import argparse
import signal
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--text", default="hello")
    options = parser.parse_args()
    body = options.text.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - inherited name
            return

    # As a container's first process it gets no default SIGTERM action: stop when the kubelet asks.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    HTTPServer((options.address, options.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
