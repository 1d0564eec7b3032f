"""The widget stays small: it loads on every page of a customer's site (docs/widget.md)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from tests.conftest import ROOT

BUDGET = 12_000  # bytes gzipped; 10.5 KB when suggestions, resume and the phone layout landed


def test_widget_js_gzipped_fits_the_budget() -> None:
    source = (ROOT / "api" / "widget" / "widget.js").read_bytes()
    size = len(gzip.compress(source, compresslevel=9))
    assert size <= BUDGET, f"widget.js is {size} bytes gzipped (budget {BUDGET})"


def test_widget_route_appends_add_ons_when_present(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/widget.js is widget.js then proactive.js (built on `_hooks`), skipping a missing one."""
    from api.routes import pages

    (tmp_path / "widget.js").write_text("/* widget */")
    monkeypatch.setattr(pages, "WIDGET", tmp_path)
    assert pages._static("widget.js", "text/javascript")().body == b"/* widget */"
    (tmp_path / "proactive.js").write_text("/* nudges */")
    served = pages._static("widget.js", "text/javascript")()
    assert served.body == b"/* widget */\n/* nudges */"
    assert served.headers["access-control-allow-origin"] == "*"
