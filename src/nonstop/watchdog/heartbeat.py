"""The engine's heartbeat as the watchdog sees it: its liveness endpoint answering 200 in time."""

from __future__ import annotations

import aiohttp


class HealthProbe:
    def __init__(self, url: str, timeout_s: float, token: str | None = None) -> None:
        self.url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._session: aiohttp.ClientSession | None = None
        self.last_error = ""

    async def alive(self) -> bool:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.get(self.url, headers=self._headers) as resp:
                await resp.read()
                self.last_error = "" if resp.status == 200 else f"HTTP {resp.status}"
                return resp.status == 200
        except (aiohttp.ClientError, TimeoutError) as err:
            self.last_error = repr(err)
            return False

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
