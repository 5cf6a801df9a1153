"""Writing the kill switch into the journal: through the running engine's recorder, or (the engine
not running) straight into its journal, as `nonstop halt` / `nonstop resume` do offline."""

from __future__ import annotations

import contextlib

import structlog

from nonstop.clock import Clock
from nonstop.config import Settings
from nonstop.execution.recorder import Recorder
from nonstop.ha import ownership
from nonstop.journal import replay
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
    """Claim the instance's journal like an engine start does (JournalHeld if a live engine holds
    it: then nothing is written behind its back), write the halt or the resume, and return the state
    after it (its positions are what a flatten would have to close)."""
    async with contextlib.AsyncExitStack() as stack:
        journal, owner = await ownership.open_owned(stack, settings, clock)
        recorder = Recorder(journal, await replay(journal), owner.epoch)
        if halt is not None:
            wrote = await record_halt(recorder, clock, halt, source)
        else:
            wrote = await record_resume(recorder, clock, resume or "resumed by an operator", source)
        log.warning("kill_switch_journaled_offline", halt=halt, resume=resume, written=wrote)
        return recorder.state
