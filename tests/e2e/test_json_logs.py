"""JSON logs stay JSON through websocket trouble (issue 18, item 7): a real `nonstop run` (JSON logs)
against a real `nonstop sim` whose websockets are dropped, closed with codes and refused on reconnect;
every line the engine writes — stdout and stderr, its clean stop included — must be a JSON object
(no plain asyncio "Future exception was never retrieved" / "Task exception was never retrieved")."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.e2e.crashkit import control, engine_config, start_engine, start_sim

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

# (kind, params, duration_s): drops, closes with codes, refused reconnects, maintenance
WS_TROUBLE = [
    ("ws_disconnect", {}, 1.5),
    ("ws_disconnect", {"mode": "close", "code": 1008}, 1.0),
    ("ws_disconnect", {"mode": "close", "code": 1001}, 0.3),
    ("maintenance", {}, 1.0),
    ("ws_disconnect", {"mode": "close", "code": 1006}, 2.0),
    ("ws_disconnect", {}, 0.3),
]


def test_engine_log_is_only_json_lines_through_websocket_drops(tmp_path: Path) -> None:
    sim = start_sim(tmp_path)
    try:
        config = engine_config(tmp_path, sim, journal='backend = "sqlite"')
        run = start_engine(tmp_path, config, 1, duration=30)
        deadline = time.monotonic() + 60  # a time box: a start on a loaded machine takes many seconds
        while not run.reached_trading():
            assert run.proc.poll() is None, "the engine exited:\n" + run.log()[-3000:]
            assert time.monotonic() < deadline, "the engine did not start trading:\n" + run.log()[-3000:]
            time.sleep(0.2)
        for kind, params, duration_s in WS_TROUBLE:
            control(sim, "POST", "/control/faults",
                    {"kind": kind, "venue": "binance-a", "params": params, "duration_s": duration_s})
            time.sleep(duration_s + 1.5)  # let reconnects fail while it lasts, then succeed
        assert run.proc.wait(timeout=40) == 0, run.log()[-3000:]
    finally:
        sim.stop()
    lines = [line for line in run.log().splitlines() if line.strip()]
    not_json = []
    for line in lines:
        try:
            ok = isinstance(json.loads(line), dict)
        except ValueError:
            ok = False
        if not ok:
            not_json.append(line)
    assert not not_json, f"{len(not_json)} of {len(lines)} log lines are not JSON:\n" + "\n".join(not_json[:40])
    records = [json.loads(line) for line in lines]
    events = [r["event"] for r in records]
    assert "trading" in events and "stopped" in events
    unretrieved = [r for r in records if r["event"] == "asyncio_error" and "never retrieved" in r.get("detail", "")]
    assert not unretrieved, f"futures left unretrieved (logged, but still leaked): {unretrieved[:3]}"
    assert events.count("feed_switched") >= 2, "the websockets never dropped: the test proved nothing"
