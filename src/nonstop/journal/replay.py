"""Replay: rebuild EngineState from a journal (invariant 4).

Start from the newest snapshot that verifies (if any), then fold every later record. A
snapshot only bounds replay time; the state it gives is the same as a full replay, which
`replay(journal, use_snapshot=False)` computes (and the conformance tests compare by hash).
"""

from __future__ import annotations

import structlog

from nonstop.errors import FoldRefused, ModelError
from nonstop.journal.base import Journal
from nonstop.model.state import EngineState

log = structlog.get_logger("nonstop.journal")


async def replay(
    journal: Journal, *, use_snapshot: bool = True, truncate_torn_tail: bool = False, history: bool = False
) -> EngineState:
    """The fold of `journal`; raises CorruptRecord (after nothing is lost) on a bad record, and
    FoldRefused (naming the seq) on a record the fold refuses.

    `truncate_torn_tail=True` drops a corrupt LAST record with a warning instead of raising.
    `history=True` folds every record into a state that keeps archived orders (`OrdersArchived` removes
    nothing), for exports and audits; it never starts from a snapshot (snapshots are of the live state).
    """
    snapshot = await journal.latest_snapshot() if use_snapshot and not history else None
    state = snapshot.state if snapshot is not None else EngineState(history=history)
    applied = 0
    async for record in journal.read(state.last_seq + 1, truncate_torn_tail=truncate_torn_tail):
        try:
            state.apply(record.event, seq=record.seq)
        except ModelError as err:
            raise FoldRefused(backend=journal.backend, location=getattr(journal, "location", "?"), seq=record.seq,
                              event_type=record.event_type, reason=str(err)) from None
        applied += 1
    log.info("journal_replayed", backend=journal.backend, snapshot_seq=snapshot.seq if snapshot else None,
             records_applied=applied, last_seq=state.last_seq)
    return state
