"""A snapshot written before per-quote strategy books (carried format 1): used when its books lost nothing
(and `verify` agrees with it), skipped with a logged reason when they left a quote currency out, and the
state then rebuilt from the journal's records, the same as a full replay."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from structlog.testing import capture_logs
from tests.fillkit import carried_as_format_1
from tests.unit.model.test_carried import archived_journal

from nonstop.journal import SQLiteJournal, replay
from nonstop.journal.verify import verify
from nonstop.model.codec import canonical_json
from nonstop.status_figures import strategy_pnl


async def _journal_with_a_format_1_snapshot(path: Path, *, two_quotes: bool) -> SQLiteJournal:
    journal = SQLiteJournal(path)
    await journal.open()
    events = archived_journal(two_quotes=two_quotes)
    await journal.append(events, epoch=1)
    state = await replay(journal, use_snapshot=False)
    await journal.write_snapshot(state, state.last_seq)
    data = state.to_dict()
    data["carried"] = carried_as_format_1(data["carried"], {"mm": "USDT"})  # as an older engine wrote it
    text = canonical_json(data)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE snapshots SET state = ?, state_hash = ? WHERE seq = ?",
                     (text, hashlib.sha256(text.encode("ascii")).hexdigest(), state.last_seq))
    return journal


async def test_a_format_1_snapshot_that_lost_nothing_is_used_and_verifies(tmp_path: Path) -> None:
    journal = await _journal_with_a_format_1_snapshot(tmp_path / "j.sqlite", two_quotes=False)
    try:
        snapshot = await journal.latest_snapshot()
        assert snapshot is not None
        full = await replay(journal, use_snapshot=False)
        assert snapshot.state.canonical_json() == full.canonical_json()
        report = await verify(journal)
        assert report.ok and report.snapshot_seq == full.last_seq, report.to_dict()
    finally:
        await journal.close()


async def test_a_format_1_snapshot_that_left_a_quote_out_is_skipped_and_the_journal_rebuilds(
        tmp_path: Path) -> None:
    journal = await _journal_with_a_format_1_snapshot(tmp_path / "j.sqlite", two_quotes=True)
    try:
        with capture_logs() as logs:
            assert await journal.latest_snapshot() is None
        assert any(e["event"] == "journal_snapshot_corrupt_skipped" and "format 1" in e["reason"]
                   and "rebuilt from the journal" in e["reason"] for e in logs), logs
        rebuilt, full = await replay(journal), await replay(journal, use_snapshot=False)
        assert rebuilt.canonical_json() == full.canonical_json()
        assert set(strategy_pnl(rebuilt)["mm"]) == {"BTC", "USDT"}
    finally:
        await journal.close()
