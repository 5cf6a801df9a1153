"""Bad input, as a user meets it through the real `nonstop` command: one clear line naming the path or
key and what to do, never a traceback. (Missing credentials: tests/unit/test_config_safety.py.)"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

NONSTOP = [sys.executable, "-m", "nonstop.cli"]
SIM = ('[sim]\ncontrol_port = 0\ntick_ms = 50\n[[sim.venues]]\nname = "binance-a"\nports = [0]\n'
       '[[sim.venues]]\nname = "binance-b"\nports = [0]\n')


def _nonstop(*args: str, user: int | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    command = [*NONSTOP, *args]
    if user is not None:  # root writes anywhere: run as an unprivileged user to meet a read-only folder
        command = [shutil.which("setpriv") or "setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups",
                   *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "nonstop.toml"
    path.write_text(text)
    return path


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr[-2000:]
    return errors[0]


def test_a_journal_in_a_read_only_folder_is_named_without_a_traceback() -> None:
    user = 65534 if os.geteuid() == 0 else None
    if user is not None and shutil.which("setpriv") is None:
        pytest.fail("running as root without setpriv (util-linux): a read-only folder cannot be met")
    with tempfile.TemporaryDirectory(prefix="nonstop-ro-") as top:  # readable by that user (pytest's is not)
        base = Path(top)
        base.chmod(0o755)
        folder = base / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        config = _config(base, f'data_dir = "{folder}"\n[monitor.api]\nport = 0\n' + SIM)
        config.chmod(0o644)
        result = _nonstop("run", "--config", str(config), "--duration", "5", user=user)
    assert result.returncode == 1
    line = _one_error_line(result)
    assert f"cannot open the journal {folder / 'journal.sqlite'}" in line
    assert f"the folder {folder} must exist and be writable" in line


def test_a_journal_folder_that_cannot_be_made_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    config = _config(tmp_path, f'data_dir = "{blocker / "var"}"\n[monitor.api]\nport = 0\n' + SIM)
    result = _nonstop("run", "--config", str(config), "--duration", "5")
    assert result.returncode == 1
    assert f"cannot create the journal's folder {blocker / 'var'}" in _one_error_line(result)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[engine]\nembedded_sim = "yes"\n', "engine.embedded_sim = 'yes': must be true or false (unquoted)"),
        ('[monitor.api]\nport = "22080"\n', "monitor.api.port = '22080': must be an integer (unquoted)"),
        ("[monitor.api]\nenabled = 1\n", "monitor.api.enabled = 1: must be true or false (unquoted)"),
        # not coercible either: pydantic's own error for the key is not repeated beside this one
        ('[monitor.api]\nenabled = "yes please"\n',
         "monitor.api.enabled = 'yes please': must be true or false (unquoted)"),
        ('[engine.strategy]\ninterval_s = "0.5"\n', "engine.strategy.interval_s = '0.5': must be a number"),
        ('[engine.strategy]\nszie = 0.002\n', "engine.strategy.szie: unknown key; did you mean 'size'?"),
        ("[monitr]\n", "monitr: unknown key; did you mean 'monitor'?"),
    ],
)
def test_config_types_are_strict_and_unknown_keys_get_a_suggestion(tmp_path: Path, text: str,
                                                                   expected: str) -> None:
    result = _nonstop("run", "--config", str(_config(tmp_path, text)))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert expected in result.stderr, result.stderr
    key = expected.split(" ", 1)[0].rstrip(":")
    assert result.stderr.count(f"  {key} ") + result.stderr.count(f"  {key}:") == 1, result.stderr  # named once


def test_a_quoted_decimal_is_kept_exactly(tmp_path: Path) -> None:
    from nonstop.config import load_settings

    settings = load_settings(_config(tmp_path, '[engine.strategy]\nsize = "0.00123"\n'))
    assert str(settings.engine.strategy.size) == "0.00123"


@pytest.mark.slow
def test_an_api_port_that_is_taken_stops_start_up_with_the_port_named(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = _config(tmp_path, f'data_dir = "{tmp_path}"\n[monitor.api]\nport = {port}\n' + SIM)
        result = _nonstop("run", "--config", str(config), "--duration", "20")
    assert result.returncode == 1
    line = _one_error_line(result)
    assert f"cannot listen on 127.0.0.1:{port}" in line and "monitor.api.required = false" in line
    assert "venue_connected" not in result.stderr  # stopped before connecting to any venue


@pytest.mark.slow
def test_an_optional_api_on_a_taken_port_warns_until_it_is_free(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    config = _config(tmp_path, f'data_dir = "{tmp_path}"\n[monitor.api]\nport = {port}\nrequired = false\n'
                     "retry_s = 0.5\n" + SIM)
    log = (tmp_path / "console.log").open("w+")
    # a time box, and a run that outlasts it: a start on a loaded machine takes many seconds (ends by SIGINT)
    proc = subprocess.Popen([*NONSTOP, "run", "--config", str(config), "--duration", "120"], stderr=log, text=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and (tmp_path / "console.log").read_text().count("api_unavailable") < 2:
            time.sleep(0.1)
        taken.close()  # the port is free: the engine takes it at its next try
        answer = None
        while time.monotonic() < deadline and answer is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                    answer = json.loads(resp.read())
            except OSError:
                time.sleep(0.2)
        assert answer is not None and answer["status"] == "alive", "the API never came up on the freed port"
    finally:
        taken.close()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    log.seek(0)
    console = log.read()
    warnings = [ln for ln in console.splitlines() if "api_unavailable" in ln]
    assert len(warnings) >= 2 and all("[warning" in ln for ln in warnings), console[-2000:]
    assert "Traceback" not in console


def test_run_help_names_the_market_maker() -> None:
    result = _nonstop("run", "--help")
    assert result.returncode == 0
    assert "market maker" in " ".join(result.stdout.split()) and "quoter" not in result.stdout


def test_chaos_control_works_before_the_subcommand() -> None:
    result = _nonstop("chaos", "--control", "http://127.0.0.1:9", "list")
    assert result.returncode == 1
    assert "cannot reach the simulator's control API at http://127.0.0.1:9/control/faults" in result.stderr
