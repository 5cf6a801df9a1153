"""The kill switch (B2): one halt path for the CLI, the dashboard and the risk rules, journaled
(`TradingHalted` / `TradingResumed`) so a restarted engine stays halted until resumed; `--flatten`
closes positions with reduce-only orders inside the price collar."""

from nonstop.killswitch.flatten import FLATTEN_STRATEGY, FlattenReport, flatten
from nonstop.killswitch.journal import record_halt, record_resume

__all__ = ["FLATTEN_STRATEGY", "FlattenReport", "flatten", "record_halt", "record_resume"]
