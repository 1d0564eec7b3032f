"""The committed eval reports render in a real browser, offline, without script errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import chromium
from tests.conftest import ROOT

REPORTS = sorted((ROOT / "eval" / "reports").glob("*.html"))


@pytest.mark.slow
def test_eval_reports_render_in_chromium(tmp_path: Path) -> None:
    assert {p.stem for p in REPORTS} >= {"stackfaq", "mtrag-govt", "flowbench"}
    with chromium() as browser:
        for report in REPORTS:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            errors: list[str] = []
            requests: list[str] = []
            page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
            page.on("request", lambda r, requests=requests: requests.append(r.url))
            page.goto(report.as_uri())
            shot = tmp_path / f"{report.stem}.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 20_000, report  # a rendered page, not a blank one
            assert page.locator("svg").count() >= 2, report  # risk-coverage and reliability
            assert page.locator("table").first.inner_text().count("copilot") >= 1
            box = page.locator("svg").first.bounding_box()
            assert box is not None and box["width"] > 200 and box["height"] > 100
            assert errors == [], (report, errors)
            assert all(u.startswith(("file:", "data:")) for u in requests), requests
            page.close()
