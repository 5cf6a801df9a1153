"""`[engine.ha]`: active-passive high availability (M13): the role and the leader lease's timing."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from nonstop.config_section import Section


class HaSettings(Section):
    """Active-passive high availability (M13). `single`: this engine is the only one (the default);
    `auto`: stand by, lead when the lease of `engine.instance` is free (PostgreSQL journal only)."""

    role: Literal["single", "auto"] = "single"
    # the leader renews every TTL/3 and stops sending once its own deadline (TTL after the last
    # renewal was sent) passes; a standby takes over after the TTL: it bounds the takeover time
    lease_ttl_s: Annotated[float, Field(ge=0.5, le=60)] = 2.0
    poll_s: Annotated[float, Field(ge=0.05, le=60)] = 1.0  # standby: journal polling when no NOTIFY arrives
    holder: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,80}$")] | None = None  # default host:pid:random
