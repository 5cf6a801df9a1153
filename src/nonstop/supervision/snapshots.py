"""Journal snapshots while the engine runs: one after every `engine.journal.snapshot_every` events,
so a restart replays from the latest snapshot instead of the whole journal; every round (5 s) first
records what the retention rule archives (`Recorder.archive_finished`), so the live state stays
bounded between snapshots."""

from __future__ import annotations

import structlog

from nonstop.clock import Clock
from nonstop.errors import JournalError
from nonstop.execution.recorder import Recorder

log = structlog.get_logger("nonstop.engine")
CHECK_EVERY_S = 5.0


async def write_snapshots(recorder: Recorder, every: int, clock: Clock) -> None:
    last = recorder.state.last_seq
    while True:
        await clock.sleep(CHECK_EVERY_S)
        try:  # what the retention rule lets go leaves the live state between snapshots too
            await recorder.archive_finished()
        except JournalError as err:  # the next round tries again
            log.warning("archive_failed", error=str(err))
        if recorder.state.last_seq - last >= every:
            try:
                last = await recorder.snapshot()
            except JournalError as err:  # replay just takes longer; the next round tries again
                log.warning("snapshot_failed", error=str(err))
                continue
            log.info("snapshot_written", seq=last)
