"""The dashboard links the latest drill scorecard: served as it was written, 404 before a drill."""

from __future__ import annotations

from pathlib import Path

from nonstop.api import create_app
from tests.unit.api.fakes import FakeControls, FakeSource
from tests.unit.api.test_auth import client


async def test_drill_report_served_with_a_csp_that_allows_only_its_own_content(tmp_path: Path) -> None:
    report = tmp_path / "drill" / "report.html"
    app = create_app(FakeSource(), FakeControls(), token=None, drill_report=report)
    async with client(app) as c:
        missing = await c.get("/drill/report")
        assert missing.status_code == 404 and "run `nonstop drill`" in missing.text
        report.parent.mkdir()
        report.write_text("<html><body><table id='summary'></table></body></html>")
        found = await c.get("/drill/report")
        index = await c.get("/")
    assert found.status_code == 200 and "id='summary'" in found.text
    assert found.headers["content-security-policy"].startswith("default-src 'none'; img-src data:")
    assert 'href="/drill/report"' in index.text
