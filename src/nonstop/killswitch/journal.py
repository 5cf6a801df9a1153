"""Writing the kill switch into the journal: through the running engine's recorder, or (the engine
not running) straight into its journal, as `nonstop halt` / `nonstop resume` do offline."""

from __future__ import annotations

import structlog

from nonstop.clock import Clock
from nonstop.config import Settings
from nonstop.execution.recorder import Recorder
from nonstop.journal import replay
from nonstop.journal_setup import open_journal
from nonstop.model import EngineState, TradingHalted, TradingResumed

log = structlog.get_logger("nonstop.killswitch")


async def record_halt(recorder: Recorder, clock: Clock, reason: str, source: str) -> bool:
    """Journal a halt unless one is already in force; True if written."""
    if recorder.state.halt is not None:
        return False
    await recorder.record(TradingHalted(ts=clock.now(), reason=reason, source=source))
    return True


async def record_resume(recorder: Recorder, clock: Clock, reason: str, source: str) -> bool:
    """Journal the end of a halt if one is in force; True if written."""
    if recorder.state.halt is None:
        return False
    await recorder.record(TradingResumed(ts=clock.now(), reason=reason, source=source))
    return True


async def record_offline(settings: Settings, clock: Clock, *, halt: str | None = None,
                         resume: str | None = None, source: str = "cli") -> EngineState:
    """Open the instance's journal (the engine is not running), write the halt or the resume, and
    return the state after it (its positions are what a flatten would have to close)."""
    journal = open_journal(settings)
    await journal.open()
    try:
        state = await replay(journal)
        epoch = max(await journal.current_epoch(), 1)
        recorder = Recorder(journal, state, epoch)
        if halt is not None:
            wrote = await record_halt(recorder, clock, halt, source)
        else:
            wrote = await record_resume(recorder, clock, resume or "resumed by an operator", source)
        log.warning("kill_switch_journaled_offline", halt=halt, resume=resume, written=wrote)
        return recorder.state
    finally:
        await journal.close()
