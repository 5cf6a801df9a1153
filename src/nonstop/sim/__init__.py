"""A local exchange simulator that speaks Binance's spot wire protocol, with fault injection (B3, M14)."""
