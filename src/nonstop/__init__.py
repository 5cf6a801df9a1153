"""nonstop: a fault-tolerant algorithmic trading engine for 24/7 crypto markets."""

__version__ = "0.1.0"
