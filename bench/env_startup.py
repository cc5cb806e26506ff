"""How long the local environment takes to start and stop once its binaries are cached.

    PYTHONPATH=testenv .venv/bin/python bench/env_startup.py [RUNS] [--stand-in]

Prints each run's per-component start-up times and the median; asserts nothing. With a real node
(as root) the images are cached beforehand, so the figures are of the start, not of a first build;
``--stand-in`` measures the environment without the node.
"""

from __future__ import annotations

import statistics
import sys
import time

from certwright_env import Environment
from certwright_env.binaries import ensure_all


def main(runs: int, real_node: bool) -> None:
    binaries = ensure_all()
    totals, stops = [], []
    for run in range(1, runs + 1):
        env = Environment(binaries=binaries, real_node=real_node)
        with env:
            pass_timings = dict(env.timings)
            stopping = time.monotonic()
        stops.append(time.monotonic() - stopping)
        env.remove_run_dir()
        totals.append(pass_timings["total"])
        parts = ", ".join(f"{k} {v:.2f}" for k, v in pass_timings.items() if k != "total")
        print(f"run {run}: ready in {pass_timings['total']:.2f} s ({parts}); stopped in {stops[-1]:.2f} s", flush=True)
    start, stop = statistics.median(totals), statistics.median(stops)
    kind = "real node" if real_node else "stand-in kubelet"
    print(f"{kind}: median start-up {start:.2f} s, median stop {stop:.2f} s over {runs} runs")


if __name__ == "__main__":
    numbers = [int(a) for a in sys.argv[1:] if a.isdigit()]
    main(numbers[0] if numbers else 5, real_node="--stand-in" not in sys.argv)
