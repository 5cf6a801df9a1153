"""`nonstop journal ...`: verify, inspect and copy a journal. None of them ever writes to it.

- `verify`: checksums, sequence, epochs, the fold from the start; names the first bad seq and why
  (exit 1), or says how many records are good (exit 0).
- `inspect`: records by seq range, type and client order id, as a table or JSON lines.
- `copy --upto N --to NEW`: the way out of a journal the engine refuses to start from; see
  `nonstop.journal.repair`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from nonstop import logs
from nonstop.config import Settings, load_settings
from nonstop.errors import CorruptRecord, FoldRefused, NonstopError
from nonstop.journal import Journal, JournalRecord
from nonstop.journal.repair import copy_prefix
from nonstop.journal.verify import verify as verify_journal
from nonstop.journal_setup import journal_path, open_journal

T = TypeVar("T")
journal_app = typer.Typer(no_args_is_help=True, help="Verify, inspect and copy a journal (never edits it).")
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="TOML config file (defaults apply if omitted)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def way_out(err: CorruptRecord | FoldRefused, config: Path | None) -> str:
    """What to do when the engine cannot start from its journal: printed by `nonstop run`."""
    cfg = f" --config {config}" if config else ""
    upto = max(err.seq - 1, 0)
    return (f"the journal cannot be replayed past seq {err.seq}. It is left as it is. To look: "
            f"`nonstop journal verify{cfg}` and `nonstop journal inspect{cfg} --from-seq {max(err.seq - 5, 1)}`. "
            f"To trade again: `nonstop journal copy{cfg} --upto {upto} --to NEW.sqlite`, set "
            "[engine.journal] backend = \"sqlite\", path = \"NEW.sqlite\", and start; reconciliation brings in "
            "the venue's truth for everything after the copied records (README: Journal ownership and repair)")


def _settings(config: Path | None) -> Settings:
    try:
        settings = load_settings(config)
    except NonstopError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    logs.configure(settings.log.model_copy(update={"level": "warning"}))
    return settings


def _with_journal(settings: Settings, work: Callable[[Journal], Coroutine[Any, Any, T]]) -> T:
    if settings.engine.journal.backend == "sqlite" and not journal_path(settings).exists():
        typer.echo(f"error: no journal at {journal_path(settings)}", err=True)
        raise typer.Exit(1)

    async def main() -> T:
        journal = open_journal(settings, read_only=True)
        await journal.open()
        try:
            return await work(journal)
        finally:
            await journal.close()

    try:
        return asyncio.run(main())
    except NonstopError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from None


@journal_app.command()
def verify(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Check every record from seq 1: checksum, sequence, epoch, fold. Exit 1 at the first bad one."""
    report = _with_journal(_settings(config), verify_journal)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        typer.echo(f"journal   {report.backend} {report.location}: last seq {report.last_seq}, epoch {report.epoch}, "
                   f"snapshot at {report.snapshot_seq}")
        typer.echo(f"holder    {report.holder or 'none recorded'}")
        for note in report.notes:
            typer.echo(f"note      {note}")
        if report.first_bad is None:
            typer.echo(f"ok        {report.records} records verified: checksums, sequence, epochs and the fold")
        else:
            bad = report.first_bad
            typer.echo(f"BAD       seq {bad.seq} ({bad.kind}): {bad.reason}")
            typer.echo(f"          {report.records} records before it are good; the way out: "
                       f"`nonstop journal copy --upto {max(bad.seq - 1, 0)} --to NEW.sqlite` (README)")
    if not report.ok:
        raise typer.Exit(1)


def _row(record: JournalRecord) -> dict[str, Any]:
    cid = getattr(record.event, "client_order_id", None)
    return {"seq": record.seq, "ts": record.ts.isoformat(timespec="milliseconds"), "epoch": record.epoch,
            "type": record.event_type, "client_order_id": cid.value if cid is not None else None,
            "event": record.event.to_dict()}


def _summary(event: dict[str, Any]) -> str:
    skip = {"v", "type", "ts", "event_id", "client_order_id"}
    return " ".join(f"{k}={v}" for k, v in event.items() if k not in skip and v not in (None, "", [], False))


@journal_app.command()
def inspect(
    config: ConfigOpt = None,
    from_seq: Annotated[int, typer.Option("--from-seq", min=1, help="first seq shown")] = 1,
    to_seq: Annotated[int | None, typer.Option("--to-seq", min=1, help="last seq shown")] = None,
    event_type: Annotated[list[str] | None, typer.Option("--type", help="only this event type (repeatable)")] = None,
    client_order_id: Annotated[str | None, typer.Option("--client-order-id", help="only this order's events")] = None,
    limit: Annotated[int, typer.Option(min=1, help="at most this many records")] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per record (JSON lines)")] = False,
) -> None:
    """Show records by seq range, type and client order id; stops at a corrupt record, naming it."""
    types = set(event_type or [])

    async def work(journal: Journal) -> tuple[list[dict[str, Any]], CorruptRecord | None]:
        rows: list[dict[str, Any]] = []
        try:
            async for record in journal.read(from_seq):
                if to_seq is not None and record.seq > to_seq:
                    break
                row = _row(record)
                archived = getattr(record.event, "client_order_ids", ())  # OrdersArchived names many
                if (types and record.event_type not in types) or (
                        client_order_id and row["client_order_id"] != client_order_id
                        and client_order_id not in archived):
                    continue
                rows.append(row)
                if len(rows) >= limit:
                    break
        except CorruptRecord as err:
            return rows, err
        return rows, None

    rows, error = _with_journal(_settings(config), work)
    for row in rows:
        if as_json:
            typer.echo(json.dumps(row, sort_keys=True))
        else:
            typer.echo(f"{row['seq']:>8}  {row['ts']}  e{row['epoch']:<3} {row['type']:<20} "
                       f"{row['client_order_id'] or '-':<22} {_summary(row['event'])}")
    if error is not None:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1)


@journal_app.command()
def copy(
    to: Annotated[Path, typer.Option("--to", help="the NEW SQLite file (must not exist)")],
    upto: Annotated[int, typer.Option("--upto", min=0, help="copy records 1..N")],
    config: ConfigOpt = None,
) -> None:
    """Copy records 1..N into a new SQLite journal (the original is never touched)."""
    state = _with_journal(_settings(config), lambda journal: copy_prefix(journal, upto, to))
    typer.echo(f"copied records 1..{upto} to {to} (then a JournalCopied marker at seq {state.last_seq}); "
               f"open orders in the copy: {len(state.open_orders())}.")
    typer.echo(f'next: set [engine.journal] backend = "sqlite" and path = "{to}", then `nonstop run`; '
               "the start-up reconciliation brings in the venue's truth for everything after seq "
               f"{upto}.")
