"""What a submit or cancel pays to outlive its caller: `RequestsInFlight.run` (an owned task awaited
through `asyncio.shield`, so a graceful stop can wait for its answer) against awaiting the same
request directly, the baseline, measured in the same run, interleaved.

The "request" is a coroutine that yields to the event loop once (what a venue call does at least
once), so the figure is the added scheduling and bookkeeping per request, not a network time. Put it
against the order path's own figures (`benchmarks/order_path.py`: milliseconds per order). Prints
JSON alone on stdout.

    .venv/bin/python benchmarks/requests_in_flight.py [--requests 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import time

from benchkit import emit, figure, logs_to_stderr, summary_ms

from nonstop.execution.requests_in_flight import RequestsInFlight

QUICK_ARGS = ["--requests", "2000"]
GOAL_US = 100.0  # a tenth of a millisecond: noise next to the order path's added milliseconds


async def _request() -> int:
    await asyncio.sleep(0)  # one trip through the event loop, as any venue call makes
    return 1


async def _measure(n: int) -> tuple[list[float], list[float]]:
    requests = RequestsInFlight()
    direct: list[float] = []
    owned: list[float] = []
    for i in range(n):  # interleaved: both share the noise of a busy machine
        t0 = time.perf_counter()
        await _request()
        t1 = time.perf_counter()
        await requests.run(f"submit-{i}", _request())
        t2 = time.perf_counter()
        direct.append((t1 - t0) * 1000)
        owned.append((t2 - t1) * 1000)
    assert len(requests) == 0
    return direct, owned


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args()
    logs_to_stderr()
    direct, owned = asyncio.run(_measure(args.requests))
    base, ours = summary_ms(direct), summary_ms(owned)
    added_us = round((ours["median_ms"] - base["median_ms"]) * 1000, 1)
    emit({
        "benchmark": "requests_in_flight", "python": platform.python_version(), "requests": args.requests,
        "direct_await": base, "owned_task_shielded": ours, "added_median_us": added_us,
        "figures": [figure("owned task per submit/cancel (`RequestsInFlight.run`), added (median)",
                           f"{added_us} µs", f"direct await {round(base['median_ms'] * 1000, 1)} µs",
                           f"< {GOAL_US:g} µs (the order path adds ms)",
                           "met" if added_us < GOAL_US else "not met")],
    })


if __name__ == "__main__":
    sys.exit(main())
