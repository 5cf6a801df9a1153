"""Root fixtures: a running simulator on free loopback ports. And the suite's split over pytest-xdist
workers (`-n` in pyproject's addopts): the tests of a module that share a module-scoped fixture (one
drill run, one traded journal) go to one worker (`--dist loadgroup`), so that fixture runs once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from nonstop.sim.server import SimServer
from tests.simkit import running_sim

PER_WORKER_FIXTURES = {"postgres_server"}  # cheap to start once per worker: their modules may spread


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with running_sim() as server:
        yield server


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None:
            continue
        shared = [name for name, defs in info.name2fixturedefs.items()
                  if name not in PER_WORKER_FIXTURES and any(d.scope == "module" for d in defs)]
        if shared:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
