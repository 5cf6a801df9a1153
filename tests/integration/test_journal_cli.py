"""`nonstop journal verify | inspect | copy` and the way out of a journal the fold refuses, as a user
runs them (real processes, real SQLite files). The original journal's records are never edited."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from nonstop.journal import SQLiteJournal
from nonstop.journal.base import encode_payload, record_checksum
from nonstop.model import OrderCanceled
from nonstop.model.testing import random_valid_events

NONSTOP = [sys.executable, "-m", "nonstop.cli"]


def nonstop(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NONSTOP, *args], capture_output=True, text=True, timeout=60, check=False)


def make_journal(tmp_path: Path, n: int = 60) -> tuple[Path, Path]:
    path = tmp_path / "journal.sqlite"

    async def fill() -> None:
        journal = SQLiteJournal(path)
        await journal.open()
        try:
            events = random_valid_events(random.Random(5), n, instance="a1")
            await journal.append(events[: n // 2], epoch=1)
            await journal.append(events[n // 2:], epoch=2)
        finally:
            await journal.close()

    asyncio.run(fill())
    config = tmp_path / "engine.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n[log]\nformat = "json"\n[monitor.api]\nport = 0\n'
                      '[sim]\ncontrol_port = 0\n[[sim.venues]]\nname = "binance-a"\nports = [0]\n'
                      '[[sim.venues]]\nname = "binance-b"\nports = [0]\n'
                      f'[engine.journal]\npath = "{path}"\n')
    return path, config


def rows(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT seq, ts_ms, epoch, type, payload, checksum FROM journal ORDER BY seq").fetchall()


def test_journal_verify_passes_a_good_journal_and_names_a_flipped_checksum(tmp_path: Path) -> None:
    path, config = make_journal(tmp_path)
    good = nonstop("journal", "verify", "--config", str(config))
    assert good.returncode == 0, good.stderr
    assert "ok        60 records verified" in good.stdout
    with sqlite3.connect(path) as db:  # one flipped byte in the stored checksum of seq 17
        (checksum,) = db.execute("SELECT checksum FROM journal WHERE seq = 17").fetchone()
        flipped = ("1" if checksum[0] != "1" else "2") + checksum[1:]
        db.execute("UPDATE journal SET checksum = ? WHERE seq = 17", (flipped,))
    before = rows(path)
    bad = nonstop("journal", "verify", "--config", str(config))
    assert bad.returncode == 1
    assert "BAD       seq 17 (corrupt): checksum mismatch" in bad.stdout and "16 records before it" in bad.stdout
    report = json.loads(nonstop("journal", "verify", "--config", str(config), "--json").stdout)
    assert report["ok"] is False and report["first_bad"]["seq"] == 17 and report["records"] == 16
    assert rows(path) == before  # verify never writes


def test_journal_inspect_filters_by_seq_type_and_client_order_id(tmp_path: Path) -> None:
    _, config = make_journal(tmp_path)
    lines = nonstop("journal", "inspect", "--config", str(config), "--from-seq", "10", "--to-seq", "19",
                    "--json").stdout.splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["seq"] for r in records] == list(range(10, 20))
    assert records[0]["event"]["type"] == records[0]["type"]
    intents = [json.loads(line) for line in nonstop("journal", "inspect", "--config", str(config), "--type",
                                                    "OrderIntent", "--json").stdout.splitlines()]
    assert intents and {r["type"] for r in intents} == {"OrderIntent"}
    cid = intents[0]["client_order_id"]
    table = nonstop("journal", "inspect", "--config", str(config), "--client-order-id", cid)
    assert table.returncode == 0
    shown = table.stdout.splitlines()
    assert shown and all(cid in line for line in shown) and "OrderIntent" in shown[0]


def test_journal_the_fold_refuses_gives_the_way_out_and_the_way_out_works(tmp_path: Path) -> None:
    path, config = make_journal(tmp_path)
    with sqlite3.connect(path) as db:  # a record that verifies but contradicts the state: a second cancel
        payloads = db.execute("SELECT payload FROM journal WHERE type = 'OrderCanceled'")
        canceled = next(json.loads(p) for (p,) in payloads)
        event = OrderCanceled(ts=datetime.now(UTC), client_order_id=_cid(canceled["client_order_id"]))
        payload, seq, ts_ms = encode_payload(event), 61, 1_764_400_000_000
        db.execute("INSERT INTO journal VALUES (?, ?, ?, ?, ?, ?)",
                   (seq, ts_ms, 2, "OrderCanceled", payload, record_checksum(seq, ts_ms, 2, "OrderCanceled", payload)))
    before = rows(path)
    verify = nonstop("journal", "verify", "--config", str(config))
    assert verify.returncode == 1 and "BAD       seq 61 (fold): OrderCanceled is refused by the fold" in verify.stdout
    start = nonstop("run", "--config", str(config), "--duration", "20")
    assert start.returncode == 1
    assert "record seq=61 (OrderCanceled) is refused by the fold" in start.stderr
    assert "event OrderCanceled is not allowed in state" in start.stderr
    assert f"nonstop journal copy --config {config} --upto 60 --to NEW.sqlite" in start.stderr
    new = tmp_path / "new" / "journal.sqlite"
    copied = nonstop("journal", "copy", "--config", str(config), "--upto", "60", "--to", str(new))
    assert copied.returncode == 0, copied.stderr
    assert f'path = "{new}"' in copied.stdout
    assert rows(path) == before  # the original's records are untouched
    new_config = tmp_path / "new.toml"
    new_config.write_text(config.read_text().replace(f'path = "{path}"', f'path = "{new}"'))
    checked = nonstop("journal", "verify", "--config", str(new_config), "--json")
    report = json.loads(checked.stdout)
    assert checked.returncode == 0 and report["records"] == 61 and report["last_seq"] == 61  # 60 + the marker
    same = [(seq, epoch, kind, payload) for seq, _, epoch, kind, payload, _ in rows(new)[:60]]
    assert same == [(seq, epoch, kind, payload) for seq, _, epoch, kind, payload, _ in before[:60]]
    again = nonstop("journal", "copy", "--config", str(config), "--upto", "60", "--to", str(new))
    assert again.returncode == 1 and "already exists" in again.stderr


def _cid(text: str):  # type: ignore[no-untyped-def]
    from nonstop.model import ClientOrderId

    return ClientOrderId.parse(text)
