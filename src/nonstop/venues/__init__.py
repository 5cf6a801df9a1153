"""Venues: the port the core talks to (`port`) and its adapters (ccxt Binance)."""
