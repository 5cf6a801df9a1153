"""Journal ownership: one writer per journal, always (invariant 11).

A start claims its journal in two steps, both before replay:

1. An exclusive lock that the operating system (or the database server) releases when the
   holder dies, so a second live engine is refused at once, naming the holder, and a crashed
   (SIGKILLed) one never blocks the next start:
   - SQLite: `fcntl.flock` on a sidecar file `<journal>.lock`. The file itself blocks nothing
     (its presence means nothing; only a live process's lock counts); it holds the holder's
     description for the refusal message. It is never deleted: deleting a lock file races with
     a process that has just opened it.
   - PostgreSQL: a session-level advisory lock on a connection of its own, released by the
     server when that connection ends.
2. `Journal.claim_next_epoch`: the recorded epoch + 1 and the holder, in one transaction. Every
   append carries that epoch, so a process that somehow kept writing after another claimed the
   journal (a lock lost with its connection, a copied file, another machine) is fenced on its
   next append (`nonstop.execution.recorder`), stops sending and exits naming the new holder.

Hand-written because it is two system calls and one SQL statement; the libraries that wrap
file locks add nothing the stdlib `fcntl` does not, and none knows about the epoch.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import asyncpg
import structlog

from nonstop.clock import Clock
from nonstop.config import Settings
from nonstop.errors import JournalError, JournalHeld
from nonstop.execution.recorder import Recorder
from nonstop.journal import Journal, PostgresJournal, SQLiteJournal
from nonstop.journal.base import JournalHolder, ms_to_ts, ts_to_ms
from nonstop.journal_setup import open_journal

log = structlog.get_logger("nonstop.ha")
HELD_READ_TRIES = 20  # the holder writes its description right after locking: wait that long for it


@dataclass
class Ownership:
    """This process's claim on a journal: the epoch it writes with, and how to let go."""

    holder: JournalHolder
    _release: Callable[[], Awaitable[None]] = field(repr=False)

    @property
    def epoch(self) -> int:
        return self.holder.epoch

    async def release(self) -> None:
        """Give the lock back (the epoch stays recorded; the next start claims a higher one)."""
        await self._release()


def lock_path(journal_path: Path) -> Path:
    """The sidecar lock file of a SQLite journal."""
    return journal_path.with_name(journal_path.name + ".lock")


def this_process(instance: str, clock: Clock) -> JournalHolder:
    return JournalHolder(host=socket.gethostname(), pid=os.getpid(), instance=instance, since=clock.now())


async def claim(journal: Journal, instance: str, clock: Clock) -> Ownership:
    """Lock `journal` for this process and claim a new, higher epoch; JournalHeld if it is taken."""
    holder = this_process(instance, clock)
    if isinstance(journal, SQLiteJournal):
        release, record = await _lock_file(journal.path, holder)
    elif isinstance(journal, PostgresJournal):
        release, record = await _lock_postgres(journal, holder)
    else:
        raise JournalError(f"no single-instance lock for journal backend {journal.backend!r}")
    try:
        epoch = await journal.claim_next_epoch(holder)
        holder = replace(holder, epoch=epoch)
        await record(holder)
    except BaseException:
        await release()
        raise
    log.info("journal_claimed", backend=journal.backend, epoch=epoch, host=holder.host, pid=holder.pid)
    return Ownership(holder, release)


async def exit_when_lost(recorder: Recorder) -> None:
    """A supervised task: never returns; raises the recorder's ownership error as soon as an append
    was fenced or the sequence jumped, which ends the task group and every loop that could send."""
    await recorder.lost_event.wait()
    assert recorder.lost is not None
    raise recorder.lost


# ------------------------------------------------------------------------------------- SQLite
def _describe_file(text: str) -> str | None:
    try:
        data = json.loads(text)
        holder = JournalHolder(host=data["host"], pid=int(data["pid"]), instance=data["instance"],
                               since=ms_to_ts(int(data["since_ms"])), epoch=int(data.get("epoch", 0)))
    except (ValueError, KeyError, TypeError):
        return None
    return holder.describe()


def _flock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _write_holder(fd: int, holder: JournalHolder) -> None:
    text = json.dumps({"host": holder.host, "pid": holder.pid, "instance": holder.instance,
                       "since_ms": ts_to_ms(holder.since), "epoch": holder.epoch,
                       "since": holder.since.isoformat()})
    os.ftruncate(fd, 0)
    os.pwrite(fd, text.encode(), 0)


def _unlock(fd: int) -> None:
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


async def _lock_file(
    journal_path: Path, holder: JournalHolder
) -> tuple[Callable[[], Awaitable[None]], Callable[[JournalHolder], Awaitable[None]]]:
    path = lock_path(journal_path)
    fd = await asyncio.to_thread(_flock, path)
    if fd is None:
        who = None
        for _ in range(HELD_READ_TRIES):
            who = _describe_file(await asyncio.to_thread(path.read_text, errors="replace"))
            if who is not None:
                break
            await asyncio.sleep(0.05)
        raise JournalHeld(
            f"sqlite journal {journal_path} is held by {who or 'another live process (it has not said who yet)'}; "
            f"refusing to start a second engine on it (lock {path}). Stop that process first; "
            "if it crashed, its lock is already gone")
    await asyncio.to_thread(_write_holder, fd, holder)
    released = False

    async def release() -> None:
        nonlocal released
        if not released:
            released = True
            await asyncio.to_thread(_unlock, fd)

    async def record(claimed: JournalHolder) -> None:
        await asyncio.to_thread(_write_holder, fd, claimed)

    return release, record


# --------------------------------------------------------------------------------- PostgreSQL
async def _lock_postgres(
    journal: PostgresJournal, holder: JournalHolder
) -> tuple[Callable[[], Awaitable[None]], Callable[[JournalHolder], Awaitable[None]]]:
    dsn, options = journal.dedicated_connection_args()
    key = f"nonstop-owner:{journal.schema}"
    try:
        conn = await asyncpg.connect(dsn, **options, server_settings={"application_name": "nonstop-owner"})
        try:
            got = await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", key)
        except BaseException:
            await conn.close()
            raise
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as err:
        raise JournalError(f"postgres journal {journal.schema}: cannot take the owner lock: "
                           f"{type(err).__name__}: {err}") from err
    if not got:
        await conn.close()
        current = await journal.holder()
        who = current.describe() if current is not None else "another live session"
        raise JournalHeld(
            f"postgres journal {journal.schema} is held by {who}; refusing to start a second engine on it "
            "(advisory lock). Stop that process first; if it crashed, the server released its lock")

    async def release() -> None:
        if not conn.is_closed():
            with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                await conn.close(timeout=5)

    async def record(claimed: JournalHolder) -> None:
        return None  # the holder row written by claim_next_epoch is what a refusal reads

    return release, record


async def open_owned(stack: contextlib.AsyncExitStack, settings: Settings, clock: Clock) -> tuple[Journal, Ownership]:
    """Open the configured journal and claim it (JournalHeld if another live engine has it).

    On `stack`: the lock is let go only after the journal is closed (its last appends flushed)."""
    journal = open_journal(settings)
    await journal.open()
    try:
        owner = await claim(journal, settings.engine.instance, clock)
    except BaseException:
        await journal.close()
        raise
    stack.push_async_callback(owner.release)
    stack.push_async_callback(journal.close)
    return journal, owner
