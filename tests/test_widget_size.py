"""The widget stays small: it loads on every page of a customer's site (docs/widget.md)."""

from __future__ import annotations

import gzip

from tests.conftest import ROOT

BUDGET = 12_000  # bytes gzipped; 10.2 KB when suggestions, resume and the phone layout landed


def test_widget_js_gzipped_fits_the_budget() -> None:
    source = (ROOT / "api" / "widget" / "widget.js").read_bytes()
    size = len(gzip.compress(source, compresslevel=9))
    assert size <= BUDGET, f"widget.js is {size} bytes gzipped (budget {BUDGET})"
