"""``python -m certwright.solver --listen ADDRESS:PORT --token TOKEN=KEYAUTH [...]``.

Key authorizations may also come from the environment variable ``CERTWRIGHT_SOLVER_ANSWERS``
(``token=keyauth`` pairs separated by commas), which the operator uses so that they do not show in
the process list. They are public by design (the CA fetches them over plain HTTP), but not logged.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence

from .server import make_server


def parse_answers(pairs: Sequence[str]) -> dict[str, str]:
    answers = {}
    for pair in pairs:
        token, separator, key_authorization = pair.partition("=")
        if not separator or not token or not key_authorization.startswith(f"{token}."):
            raise ValueError(f"expected TOKEN=TOKEN.THUMBPRINT, got an entry for token {token!r}")
        answers[token] = key_authorization
    return answers


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m certwright.solver", description=__doc__)
    parser.add_argument("--listen", default="0.0.0.0:8089", help="address:port to serve on")
    parser.add_argument("--token", action="append", default=[], help="TOKEN=KEYAUTH (repeatable)")
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    from_env = [p for p in os.environ.get("CERTWRIGHT_SOLVER_ANSWERS", "").split(",") if p]
    try:
        answers = parse_answers([*options.token, *from_env])
    except ValueError as error:
        parser.error(str(error))
    if not answers:
        parser.error("no token to serve: give --token or CERTWRIGHT_SOLVER_ANSWERS")
    address, _, port = options.listen.rpartition(":")
    server = make_server(address.strip("[]"), int(port), answers)
    signal.signal(signal.SIGTERM, _exit)
    logging.getLogger(__name__).info("serving %d token(s) on %s", len(answers), options.listen)
    server.serve_forever()
    return 0


def _exit(*_: object) -> None:
    """SIGTERM (the Pod being deleted) ends the process at once; there is no state to save."""
    sys.exit(0)


if __name__ == "__main__":
    sys.exit(main())
