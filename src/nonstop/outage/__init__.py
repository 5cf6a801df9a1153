"""What the engine does when a part it cannot trade without goes away (the journal today)."""

from nonstop.outage.journal import JournalOutageGuard

__all__ = ["JournalOutageGuard"]
