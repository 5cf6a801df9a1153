"""The `nonstop` command as a user runs it: a real simulator process driven by `nonstop chaos`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

NONSTOP = [sys.executable, "-m", "nonstop.cli"]


def _chaos(control: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*NONSTOP, "chaos", *args, "--control", control], capture_output=True, text=True, timeout=30, check=False
    )


@pytest.mark.slow
@pytest.mark.timeout(300)  # a dozen CLI processes on a loaded machine
def test_sim_process_takes_faults_from_the_chaos_cli_and_stops_by_itself(tmp_path: Path) -> None:
    config = tmp_path / "sim.toml"
    config.write_text('[sim]\ncontrol_port = 0\n[[sim.venues]]\nname = "v1"\nports = [0, 0]\n')
    proc = subprocess.Popen(
        # a run that outlasts the test's dozen CLI calls, each a Python start that a loaded machine makes
        # take seconds (it was 60 s); the test ends it
        [*NONSTOP, "sim", "--config", str(config), "--duration", "300"], stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 60  # a time box for the process start (was 15 s)
        urls = None
        while time.monotonic() < deadline and urls is None:
            line = proc.stderr.readline()
            if line.startswith("{"):
                urls = json.loads(line)
        assert urls is not None, "the simulator did not print its URLs"
        control = urls["control"]
        made = _chaos(control, "set", "latency", "--venue", "v1", "--endpoint", "1", "--param", "ms=50")
        assert made.returncode == 0, made.stderr
        fault = json.loads(made.stdout)
        assert fault["kind"] == "latency" and fault["endpoint"] == 1 and fault["params"] == {"ms": 50}
        listed = json.loads(_chaos(control, "list").stdout)
        assert [f["id"] for f in listed] == [fault["id"]]
        bad = _chaos(control, "set", "latency", "--venue", "nope")
        assert bad.returncode == 1 and "venue 'nope' is unknown" in bad.stderr
        assert _chaos(control, "clear", str(fault["id"])).returncode == 0
        log = [json.loads(line) for line in _chaos(control, "log").stdout.splitlines()]
        assert [e["event"] for e in log] == ["set", "cleared"]
        closing = _chaos(control, "set", "ws_disconnect", "--venue", "v1", "--param", "mode=close",
                         "--param", "code=1008", "--duration", "1")
        assert closing.returncode == 0 and json.loads(closing.stdout)["params"] == {"mode": "close", "code": 1008}
        late = _chaos(control, "set", "error_after_execute", "--venue", "v1", "--param", "status=504")
        assert late.returncode == 0 and json.loads(late.stdout)["params"] == {"status": 504}
        assert json.loads(_chaos(control, "counters", "--venue", "v1").stdout) == {"http_429": 0, "http_418": 0}
        trades = _chaos(control, "trades", "--venue", "v1", "--symbol", "BTCUSDT")
        assert trades.returncode == 0 and trades.stdout == ""  # the account has not traded
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_bad_config_exits_with_a_message_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[sim]\nseed = "abc"\n')
    result = subprocess.run(
        [*NONSTOP, "sim", "--config", str(config)], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 2
    assert "sim.seed = 'abc'" in result.stderr


def test_chaos_cli_reports_an_unreachable_simulator() -> None:
    result = _chaos("http://127.0.0.1:9", "list")
    assert result.returncode == 1 and "cannot reach the simulator's control API" in result.stderr


@pytest.mark.slow
def test_run_trades_on_the_embedded_simulator_and_status_reports_it(tmp_path: Path) -> None:
    config = tmp_path / "nonstop.toml"
    config.write_text(
        f'data_dir = "{tmp_path}"\n[sim]\ncontrol_port = 0\ntick_ms = 50\n'
        '[[sim.venues]]\nname = "binance-a"\nports = [0, 0]\n'
        '[[sim.venues]]\nname = "binance-b"\nports = [0]\n'
        '[engine.strategy]\ninterval_s = 0.2\n[monitor.api]\nport = 0\n'
    )
    run = subprocess.run([*NONSTOP, "run", "--config", str(config), "--duration", "12"], capture_output=True,
                         text=True, timeout=90, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "trading" in run.stderr
    status = subprocess.run([*NONSTOP, "status", "--config", str(config), "--json"], capture_output=True, text=True,
                            timeout=60, check=False)
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["journal"]["last_seq"] > 10 and data["orders"]["by_state"]
    assert data["orders"]["open"] == []  # canceled on the clean stop
    assert "binance-a" in data["balances"]
    text = subprocess.run([*NONSTOP, "status", "--config", str(config)], capture_output=True, text=True,
                          timeout=60, check=False).stdout
    assert "journal   sqlite" in text and "orders" in text


def test_status_without_a_journal_says_so(tmp_path: Path) -> None:
    config = tmp_path / "nonstop.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n')
    result = subprocess.run([*NONSTOP, "status", "--config", str(config)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 1 and "no journal at" in result.stderr
