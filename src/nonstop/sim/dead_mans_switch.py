"""OKX's cancel-all-after: a per-account countdown that cancels every open order when it runs out.

`trade/cancel-all-after` with `timeOut` seconds (10..120) arms or re-arms it; 0 disarms it. The
runtime calls `due` on its 100 ms loop and cancels each expired account's orders on every symbol.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog

from nonstop.sim.records import account_uid

log = structlog.get_logger("nonstop.sim.dead_mans_switch")


@dataclass
class CancelAllAfter:
    deadlines: dict[str, int] = field(default_factory=dict)  # account -> trigger time (ms)
    fired: list[tuple[str, int]] = field(default_factory=list)  # (account, when), for tests and logs

    def arm(self, account: str, seconds: int, now_ms: int) -> int | None:
        """Arm (or re-arm) the account's countdown; 0 disarms. The trigger time, or None when off."""
        if seconds == 0:
            self.deadlines.pop(account, None)
            return None
        self.deadlines[account] = now_ms + seconds * 1000
        return self.deadlines[account]

    def due(self, now_ms: int) -> list[str]:
        """Accounts whose countdown ran out (each disarmed as it fires)."""
        expired = [a for a, at in self.deadlines.items() if at <= now_ms]
        for account in expired:
            del self.deadlines[account]
            self.fired.append((account, now_ms))
            log.warning("cancel_all_after_fired", account=account_uid(account), at_ms=now_ms)
        return expired
