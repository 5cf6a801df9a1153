"""`verify`: walk a journal from the start and name the first record that is wrong, and why.

Checked, in order, for every record: its checksum and payload (`Journal.read` does that), that its
seq follows the previous one (read does that too), that its epoch never goes down and is not above
the recorded fencing epoch, and that the fold accepts it (the same `EngineState.apply` replay uses).
The newest snapshot that verifies is compared with the fold at its seq. Nothing is written.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from nonstop.errors import CorruptRecord, ModelError
from nonstop.journal.base import Journal
from nonstop.model.state import EngineState


@dataclass
class Problem:
    seq: int
    kind: str  # corrupt | epoch | fold | snapshot
    reason: str


@dataclass
class VerifyReport:
    backend: str
    location: str
    records: int = 0  # records that passed every check
    last_seq: int = 0  # the last seq stored
    epoch: int = 0  # the recorded fencing epoch
    holder: str | None = None
    snapshot_seq: int | None = None
    first_bad: Problem | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.first_bad is None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


async def verify(journal: Journal) -> VerifyReport:
    """Check `journal` (open) from seq 1; stops at the first bad record."""
    current = await journal.current_epoch()
    holder = await journal.holder()
    report = VerifyReport(backend=journal.backend, location=getattr(journal, "location", "?"),
                          last_seq=await journal.last_seq(), epoch=current,
                          holder=holder.describe() if holder is not None else None)
    snapshot = await journal.latest_snapshot()
    report.snapshot_seq = snapshot.seq if snapshot is not None else None
    state = EngineState()
    epoch = 0
    try:
        async for record in journal.read(1):
            if record.epoch < epoch:
                report.first_bad = Problem(record.seq, "epoch", f"epoch {record.epoch} is below the previous "
                                                                f"record's epoch {epoch}")
                return report
            if record.epoch > current:
                report.first_bad = Problem(record.seq, "epoch", f"epoch {record.epoch} is above the recorded "
                                                                f"fencing epoch {current}")
                return report
            epoch = record.epoch
            try:
                state.apply(record.event, seq=record.seq)
            except ModelError as err:
                report.first_bad = Problem(record.seq, "fold", f"{record.event_type} is refused by the fold: {err}")
                return report
            report.records += 1
            # the snapshot's state as read (re-encoded): a snapshot of an older format that loads compares too
            if (snapshot is not None and record.seq == snapshot.seq
                    and state.state_hash() != snapshot.state.state_hash()):
                report.first_bad = Problem(record.seq, "snapshot", "the snapshot at this seq differs from the fold "
                                                                   "of the records before it")
                return report
    except CorruptRecord as err:
        report.first_bad = Problem(err.seq, "corrupt", err.reason + (" (the last record: a torn write)"
                                                                     if err.torn else ""))
        return report
    if report.records != report.last_seq:
        report.notes.append(f"{report.records} records verified but the last seq is {report.last_seq}")
    return report
