"""Pre-trade risk (B1): limits per strategy and global, checked before an order is journaled as
submitted. `rules` is pure; `nonstop.risk.gate.PreTradeRisk` measures the context and journals refusals."""

from nonstop.risk.rules import OrderProposal, Refusal, RiskContext, check, crosses_own, shrinks_exposure
from nonstop.risk.settings import RiskLimits, RiskSettings

__all__ = [
    "OrderProposal",
    "Refusal",
    "RiskContext",
    "RiskLimits",
    "RiskSettings",
    "check",
    "crosses_own",
    "shrinks_exposure",
]
