"""Journal ownership: a second claim is refused naming the holder; a dead holder (SIGKILL) blocks
nothing; the lock file's mere presence blocks nothing; PostgreSQL's advisory lock does the same."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from nonstop.clock import LiveClock
from nonstop.errors import JournalHeld
from nonstop.ha import ownership
from nonstop.journal import PostgresJournal, SQLiteJournal
from tests.pg import PgServer

HOLD = textwrap.dedent("""
    import asyncio, sys
    from nonstop.clock import LiveClock
    from nonstop.ha import ownership
    from nonstop.journal import SQLiteJournal

    async def main():
        journal = SQLiteJournal(sys.argv[1])
        await journal.open()
        owner = await ownership.claim(journal, "a1", LiveClock())
        print("claimed", owner.epoch, flush=True)
        await asyncio.sleep(600)

    asyncio.run(main())
""")


async def test_ownership_second_claim_is_refused_naming_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    first, second = SQLiteJournal(path), SQLiteJournal(path)
    await first.open()
    await second.open()
    try:
        owner = await ownership.claim(first, "a1", LiveClock())
        assert owner.epoch == 1
        with pytest.raises(JournalHeld) as info:
            await ownership.claim(second, "a1", LiveClock())
        message = str(info.value)
        assert f"host {socket.gethostname()} pid {os.getpid()}" in message
        assert "since " + owner.holder.since.isoformat(timespec="seconds") in message and "epoch 1" in message
        assert await second.current_epoch() == 1  # the refused start claimed nothing
        await owner.release()
        again = await ownership.claim(second, "a1", LiveClock())
        assert again.epoch == 2  # every start: a new, higher epoch
        await again.release()
    finally:
        await first.close()
        await second.close()


async def test_ownership_lock_file_presence_blocks_nothing(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    ownership.lock_path(path).write_text('{"host": "gone", "pid": 1, "instance": "a1", "since_ms": 0}')
    journal = SQLiteJournal(path)
    await journal.open()
    try:
        owner = await ownership.claim(journal, "a1", LiveClock())
        assert owner.epoch == 1
        await owner.release()
    finally:
        await journal.close()


@pytest.mark.timeout(60)
def test_ownership_sigkilled_holder_does_not_block_the_next_claim(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        lines = iter(proc.stdout.readline, b"")
        assert next(line for line in lines if line.startswith(b"claimed")).split() == [b"claimed", b"1"]
        asyncio.run(_claim_after_sigkill(path, proc))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


async def _claim_after_sigkill(path: Path, proc: subprocess.Popen[bytes]) -> None:
    journal = SQLiteJournal(path)
    await journal.open()
    try:
        with pytest.raises(JournalHeld, match=f"pid {proc.pid} "):
            await ownership.claim(journal, "a1", LiveClock())
        proc.send_signal(signal.SIGKILL)
        await asyncio.to_thread(proc.wait, 10)
        deadline = time.monotonic() + 15  # a time box: at once, in practice
        owner = None
        while owner is None:  # the kernel drops the lock with the process: at once, in practice
            try:
                owner = await ownership.claim(journal, "a1", LiveClock())
            except JournalHeld:
                assert time.monotonic() < deadline, "the dead holder's lock was never released"
                await asyncio.sleep(0.05)
        assert owner.epoch == 2 and owner.holder.pid == os.getpid()
        await owner.release()
    finally:
        await journal.close()


@pytest.mark.postgres
async def test_ownership_postgres_advisory_lock_refuses_a_second_and_frees_with_the_session(
        postgres_server: PgServer) -> None:
    first = PostgresJournal(postgres_server.dsn, schema="own_a")
    second = PostgresJournal(postgres_server.dsn, schema="own_a")
    other = PostgresJournal(postgres_server.dsn, schema="own_b")
    for j in (first, second, other):
        await j.open()
    try:
        owner = await ownership.claim(first, "a1", LiveClock())
        with pytest.raises(JournalHeld) as info:
            await ownership.claim(second, "a1", LiveClock())
        assert f"pid {os.getpid()}" in str(info.value) and f"epoch {owner.epoch}" in str(info.value)
        elsewhere = await ownership.claim(other, "b1", LiveClock())  # another schema: another journal
        await elsewhere.release()
        await owner.release()  # the session ends: the server lets go
        again = await ownership.claim(second, "a1", LiveClock())
        assert again.epoch == owner.epoch + 1
        await again.release()
    finally:
        for j in (first, second, other):
            await j.close()
