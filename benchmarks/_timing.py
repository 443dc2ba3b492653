"""Round-robin best-of timing shared by the benchmark scripts (run them from anywhere:
each puts this folder on ``sys.path`` by being run as a script)."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_of(fns: dict[str, Callable[[], object]], rounds: int = 10) -> dict[str, float]:
    """Warm every function up once, then time them in turn ``rounds`` times; the best
    time of each, in seconds (round-robin, so load changes hit all of them alike)."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: min(v) for k, v in times.items()}
