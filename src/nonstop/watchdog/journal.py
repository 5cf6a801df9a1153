"""The watchdog's own journal: one JSON object per line (UTC timestamp, what happened), flushed and
fsynced per line. Hand-written because it is a dozen lines: the engine's journal belongs to the
engine (and may sit on another machine), and this record must not depend on it."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any


class WatchdogJournal:
    def __init__(self, path: Path) -> None:
        self.path = path

    async def write(self, at: datetime, what: str, **fields: Any) -> None:
        line = json.dumps({"ts": at.isoformat(), "event": what, **fields}, default=str, sort_keys=True)
        await asyncio.to_thread(self._append, line)

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(x) for x in self.path.read_text(encoding="utf-8").splitlines() if x.strip()]
