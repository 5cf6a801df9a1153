"""High availability: journal ownership, the leader lease and fencing (M13)."""
