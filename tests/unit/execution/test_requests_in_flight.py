"""`RequestsInFlight` alone: a request outlives its cancelled caller, what it raises then is logged
(never lost silently), a request cut short before it started still runs its `if_cancelled`, and the
stop's wait is bounded by events: requests that end, or a bound that passes on a request that never
will (an event nobody sets)."""

from __future__ import annotations

import asyncio

from structlog.testing import capture_logs

from nonstop.errors import JournalUnwritable
from nonstop.execution.requests_in_flight import RequestsInFlight


async def test_cancelling_the_caller_leaves_the_request_running_to_its_end() -> None:
    requests, started, release, ended = RequestsInFlight(), asyncio.Event(), asyncio.Event(), []

    async def request() -> None:
        started.set()
        await release.wait()
        ended.append(True)

    caller = asyncio.create_task(requests.run("submit-x", request()))
    await started.wait()
    caller.cancel()
    await asyncio.wait([caller])
    assert caller.cancelled() and requests.names() == ("submit-x",)
    release.set()
    drained = await requests.drain(60)
    assert ended == [True] and (drained.in_flight, drained.unanswered, drained.interrupted) == (1, (), False)


async def test_what_an_orphaned_request_raises_is_logged() -> None:
    requests, started, release = RequestsInFlight(), asyncio.Event(), asyncio.Event()

    async def request() -> None:
        started.set()
        await release.wait()
        raise JournalUnwritable("disk full")

    caller = asyncio.create_task(requests.run("submit-y", request()))
    await started.wait()
    caller.cancel()
    await asyncio.wait([caller])
    with capture_logs() as logs:
        release.set()
        await requests.wait()
        await asyncio.sleep(0)  # done callbacks run on the next loop step
    assert [(e["event"], e["request"], e["error_type"]) for e in logs] == [
        ("request_outcome_not_recorded", "submit-y", "JournalUnwritable")]


async def test_a_request_never_answered_is_cut_short_at_the_bound_and_its_if_cancelled_runs() -> None:
    requests, never, cut = RequestsInFlight(), asyncio.Event(), []
    caller = asyncio.create_task(requests.run("submit-z", never.wait(), if_cancelled=lambda: cut.append(True)))
    await asyncio.sleep(0)
    caller.cancel()
    drained = await requests.drain(0.05)  # `never` is never set: the bound is what ends the wait
    assert (drained.unanswered, drained.interrupted) == (("submit-z",), False)
    await asyncio.sleep(0)
    assert cut == [True] and requests.names() == ()


async def test_a_request_cut_short_before_it_started_still_runs_if_cancelled() -> None:
    requests, cut = RequestsInFlight(), []

    async def request() -> None:  # pragma: no cover - never started
        raise AssertionError("must not run")

    caller = asyncio.create_task(requests.run("cancel-w", request(), if_cancelled=lambda: cut.append(True)))
    await asyncio.sleep(0)  # the caller created the task, which has not run a step yet
    await requests.abandon()
    await asyncio.wait([caller])
    assert cut == [True] and requests.names() == ()
