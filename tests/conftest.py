"""Root fixtures: a running simulator on free loopback ports."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from nonstop.sim.server import SimServer
from tests.simkit import running_sim


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with running_sim() as server:
        yield server
