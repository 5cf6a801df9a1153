"""The local dead man's switch (`nonstop watchdog`), a separate small process: see `runner`
(the loop), `heartbeat`, `journal` (its own JSON-lines record), `venues`, `service` (the process)."""
