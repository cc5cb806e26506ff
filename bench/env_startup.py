"""How long the local environment takes to start and stop once its binaries are cached.

    PYTHONPATH=testenv .venv/bin/python bench/env_startup.py [RUNS]

Prints each run's per-component start-up times and the median; asserts nothing.
"""

from __future__ import annotations

import statistics
import sys
import time

from certwright_env import Environment
from certwright_env.binaries import ensure_all


def main(runs: int) -> None:
    binaries = ensure_all()
    totals, stops = [], []
    for run in range(1, runs + 1):
        env = Environment(binaries=binaries)
        with env:
            pass_timings = dict(env.timings)
            stopping = time.monotonic()
        stops.append(time.monotonic() - stopping)
        env.remove_run_dir()
        totals.append(pass_timings["total"])
        parts = ", ".join(f"{k} {v:.2f}" for k, v in pass_timings.items() if k != "total")
        print(f"run {run}: ready in {pass_timings['total']:.2f} s ({parts}); stopped in {stops[-1]:.2f} s", flush=True)
    start, stop = statistics.median(totals), statistics.median(stops)
    print(f"median start-up {start:.2f} s, median stop {stop:.2f} s over {runs} runs")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
