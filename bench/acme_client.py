"""The raw ACME client against the test Pebble: one issuance's time, and certificates per second.

    PYTHONPATH=operator:testenv:. .venv/bin/python bench/acme_client.py [--certificates 100] [--concurrency 1 10 30]

Pebble runs as the environment runs it (validation sleep off, default 5 % nonce rejection, Retry-After
on orders and authorizations); challtestsrv serves the HTTP-01 answers. Each issuance is one order
for one fresh name: new order, answer its authorization (or reuse it), finalize, download. This is the
ceiling the operator's throughput is compared with. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from tests.acme.flows import issue, names, new_client

from certwright_env import AcmeEnvironment


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--certificates", type=int, default=100)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 30])
    parser.add_argument("--single", type=int, default=20, help="sequential issuances timed one by one")
    options = parser.parse_args()

    with AcmeEnvironment() as pebble:
        client = new_client(pebble)
        client.register()
        issue(client, pebble, names(1))  # warm: directory, nonces, connections

        durations = []
        for _ in range(options.single):
            started = time.perf_counter()
            issue(client, pebble, names(1))
            durations.append(time.perf_counter() - started)
        durations.sort()
        print(
            f"one issuance: median {statistics.median(durations) * 1000:.0f} ms, "
            f"p90 {durations[int(len(durations) * 0.9) - 1] * 1000:.0f} ms over {options.single}",
            flush=True,
        )

        for workers in options.concurrency:
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(lambda _: issue(client, pebble, names(1)), range(options.certificates)))
            elapsed = time.perf_counter() - started
            print(
                f"{options.certificates} certificates, {workers} at a time: {elapsed:.1f} s, "
                f"{options.certificates / elapsed:.1f} certificates/s",
                flush=True,
            )


if __name__ == "__main__":
    main()
