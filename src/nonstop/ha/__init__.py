"""High availability: journal ownership, the leader lease, standby and fencing (M13)."""
