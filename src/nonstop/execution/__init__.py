"""Execution: the write-ahead recorder, the order manager, reconciliation."""
