"""Strategies: the interface (`base`) and example strategies. Pure: no I/O, intents only."""
