"""The help widget and the agent console in headless Chromium against a real server."""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa

from api.main import create_app
from copilot.answer.agent import Agent
from copilot.answer.confidence import ConfidenceModel
from copilot.answer.retrieve import Retriever
from copilot.index.build import build_index
from copilot.index.chroma import open_current
from copilot.record import db
from copilot.service import Copilot
from copilot.settings import ApiKey, Settings
from copilot.testing.live import serve
from tests.browser import chromium
from tests.conftest import ROOT

pytestmark = pytest.mark.slow
ALWAYS = ConfidenceModel(answer_threshold=0.0, clarify_threshold=0.0)
KEY = "console-key-789"
ARTIFACTS = ROOT / "test-artifacts"
HOSTILE_CSS = """
* { all: unset !important; font-size: 40px !important; color: red !important; }
div, section, button { display: none !important; position: static !important; }
body::before { content: "hostile page"; }
"""
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


@pytest.fixture(scope="module")
def site(sample: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    tmp = tmp_path_factory.mktemp("widget")
    settings = Settings(
        kb_dir=sample[0].kb_dir,
        data_dir=sample[0].data_dir,
        api_keys=[
            ApiKey(name="ana", scope="agent", sha256=hashlib.sha256(KEY.encode()).hexdigest())
        ],
    )
    engine = db.connect(None, tmp)
    with serve(
        create_app(
            settings, copilot=Copilot(settings, engine=engine, agent=Agent(sample[2], ALWAYS))
        )
    ) as base:
        yield base, engine
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as b:
        yield b


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def ask(page: Any, text: str) -> Any:
    """Type a question, send it, and return the bot's reply bubble once it is final."""
    before = page.locator(".msg.bot").count()
    page.locator("#sc-input").fill(text)
    page.locator("#sc-input").press("Enter")
    reply = page.locator(".msg.bot").nth(before)
    reply.wait_for()
    page.wait_for_function(
        "n => { const r = document.querySelector('[data-support-copilot]').shadowRoot;"
        " const m = r.querySelectorAll('.msg.bot')[n]; return m && !m.hasAttribute('aria-busy'); }",
        arg=before,
    )
    return reply


def test_ask_feedback_handoff_console_and_agent_reply(site: tuple[str, Any], browser: Any) -> None:
    base, engine = site
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    page.goto(f"{base}/demo")
    page.locator(".launcher").click()
    shot(page, "widget-open")
    reply = ask(page, "my card was declined")
    link = reply.locator(".sources a").first
    assert "Payment failed" in link.inner_text()
    assert link.get_attribute("href").endswith("/articles/payment-declined")
    assert "<ol><li>" in reply.inner_html()  # the Fix steps, as a list
    shot(page, "widget-answer")

    reply.get_by_role("button", name="No").click()
    page.get_by_text("Sorry that didn't help.").wait_for()
    deadline = time.monotonic() + 5
    kinds: list[str] = []
    while "unhelpful" not in kinds and time.monotonic() < deadline:
        with engine.connect() as conn:
            kinds = list(conn.execute(sa.select(db.feedback.c.kind)).scalars())
        time.sleep(0.1)
    assert "unhelpful" in kinds

    page.get_by_role("button", name="Talk to a person").first.click()
    page.get_by_text("passing you to a person").wait_for()
    page.get_by_role("button", name="No thanks").click()  # no email this time
    shot(page, "widget-handoff")

    console = browser.new_page(viewport={"width": 1200, "height": 900})
    console.goto(f"{base}/console")
    console.get_by_label("API key").fill(KEY)
    console.get_by_role("button", name="Sign in").click()
    console.locator("#handoffs button").first.click()
    console.locator("#detail .turn.user").get_by_text("my card was declined").wait_for()
    assert "payment-declined" in console.locator("#detail").inner_text()  # articles tried
    console.locator("#detail").get_by_role("button", name="Claim").click()
    console.get_by_label("Reply to the customer").fill("Hello from Ana: I refunded the charge.")
    console.get_by_role("button", name="Send reply").click()
    console.locator("#detail .turn.agent").get_by_text("Hello from Ana").wait_for()
    shot(console, "console-handoff")

    page.locator(".msg.agent").get_by_text("Hello from Ana").wait_for(timeout=10_000)
    after = ask(page, "thanks, and what about my invoice?")
    assert after.locator(".sources").count() == 0  # claimed: the bot stays silent
    assert "has your conversation" in page.locator(".status").inner_text()
    shot(page, "widget-with-agent")

    page.reload()  # the conversation survives a reload (resumed from the server)
    page.locator(".launcher").click()
    page.locator(".msg.agent").wait_for()
    assert page.locator(".msg.agent").count() == 1 and page.locator(".msg.user").count() == 2


def test_xss_in_a_question_and_in_an_agent_reply_renders_inert(
    site: tuple[str, Any], browser: Any
) -> None:
    base, _ = site
    page = browser.new_page()
    page.goto(f"{base}/demo")
    page.locator(".launcher").click()
    ask(page, XSS)
    assert page.evaluate("window.__xss") is None
    assert "<img src=x" in page.locator(".msg.user").last.inner_text()
    assert page.locator(".msg img, .msg script").count() == 0


@pytest.fixture(scope="module")
def hostile_kb(
    sample: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Any, str]]:
    """A KB with an article whose title carries markup and whose steps carry an XSS payload (in a
    code span: the linter already refuses active handlers in article HTML, KB017), served to a
    host page whose CSS tries to wreck everything."""
    tmp = tmp_path_factory.mktemp("hostile")
    kb = tmp / "kb"
    kb.mkdir()
    shutil.copy(next((ROOT / "kb_articles").rglob("payment-declined.md")), kb)
    (kb / "evil-export.md").write_text(
        "---\nid: evil-export\ntitle: 'Export <i>stuck</i>'\n"
        "owner: docs-team\nlast_reviewed: 2026-11-01\nproduct_area: export\n---\n"
        "# Export <i>stuck</i>\n\n"
        "## Symptoms\nThe export is stuck.\n\n## Cause\nA large workspace.\n\n"
        "## Fix\n1. Open `<img src=x onerror=window.__xss=4>` Export.\n"
        "2. Click Retry.\n\n## Verify\nThe export finishes.\n\n## Escalate\nSend the export id.\n"
    )
    page_html: dict[str, bytes] = {}

    class HostPage(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page_html["/"])

        def log_message(self, *args: object) -> None:
            pass

    shop = ThreadingHTTPServer(("127.0.0.1", 0), HostPage)  # another origin than the API
    threading.Thread(target=shop.serve_forever, daemon=True).start()
    shop_url = f"http://127.0.0.1:{shop.server_address[1]}"
    settings = Settings(kb_dir=kb, data_dir=tmp / "data", cors_origins=[shop_url])
    embedder = sample[2].embedder
    report = build_index(settings, embedder, today=date(2026, 11, 24))
    assert not report.skipped, report.skipped
    with open_current(settings.index_dir, None) as index:
        agent = Agent(Retriever(index, embedder), ALWAYS)
        engine = db.connect(None, tmp)
        with serve(
            create_app(settings, copilot=Copilot(settings, engine=engine, agent=agent))
        ) as base:
            page_html["/"] = (
                f"<html><head><style>{HOSTILE_CSS}</style></head><body><p>shop</p>"
                f'<script src="{base}/widget.js" data-title="Shop help"></script></body></html>'
            ).encode()
            yield shop_url, engine, base
        engine.dispose()
    shop.shutdown()
    shop.server_close()


def test_kb_payloads_are_inert_and_hostile_css_cannot_break_the_widget(
    hostile_kb: tuple[str, Any, str], browser: Any
) -> None:
    shop_url, _, _ = hostile_kb
    page = browser.new_page(viewport={"width": 1000, "height": 700})
    page.goto(shop_url)
    launcher = page.locator(".launcher")
    box = launcher.bounding_box()
    assert box is not None and box["x"] > 700 and box["y"] > 550  # still bottom right
    assert launcher.evaluate("e => getComputedStyle(e).fontSize") != "40px"
    launcher.click()
    panel = page.locator(".panel").bounding_box()
    assert panel is not None and panel["width"] > 300 and panel["height"] > 300
    reply = ask(page, "the export is stuck")
    reply.hover()
    assert page.evaluate("window.__xss") is None
    assert "<img src=x onerror=window.__xss=4>" in reply.inner_text()
    assert "Export <i>stuck</i>" in reply.locator(".sources").inner_text()
    assert page.locator(".msg img, .msg i").count() == 0
    shot(page, "widget-hostile-page")


def test_keyboard_only_reaches_every_control(site: tuple[str, Any], browser: Any) -> None:
    base, _ = site
    page = browser.new_page(viewport={"width": 320, "height": 640})  # the narrowest phone
    page.goto(f"{base}/demo")

    def focused() -> str:
        return str(
            page.evaluate(
                "() => { const r = document.querySelector('[data-support-copilot]').shadowRoot;"
                " const e = r.activeElement; return e ? (e.getAttribute('aria-label') ||"
                " e.textContent || e.id).trim() : ''; }"
            )
        )

    for _ in range(10):  # tab from the page into the widget's launcher
        page.keyboard.press("Tab")
        if focused() == "Flowbench help":
            break
    assert focused() == "Flowbench help"
    page.keyboard.press("Enter")
    assert focused() == "sc-input"
    panel = page.locator(".panel").bounding_box()
    assert panel is not None and panel["x"] >= 0 and panel["x"] + panel["width"] <= 320
    page.keyboard.type("my invoice PDF is missing")
    page.keyboard.press("Enter")
    page.locator(".msg.bot .actions").wait_for()
    seen = []
    for _ in range(24):
        page.keyboard.press("Tab")
        seen.append(focused())
    for control in (
        "Close help",
        "Yes",
        "No",
        "Wrong answer",
        "Send",
        "Talk to a person",
        "Start a new conversation",
        "Rate 5 out of 5: Very good",
        "sc-input",
    ):
        assert control in seen, (control, seen)
    assert "" not in seen  # focus never left the dialog

    # Thumbs-down by keyboard: focus moves to the next steps, each reachable and named.
    while focused() != "No":
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.get_by_role("group", name="Other next steps").wait_for()
    assert focused() not in ("", "No")
    seen = []
    for _ in range(12):
        page.keyboard.press("Tab")
        seen.append(focused())
    assert "Rephrase my question" in seen and "Talk to a person" in seen, seen
    page.keyboard.press("Escape")
    assert focused() == "Flowbench help" and page.locator(".panel").is_hidden()


def test_screen_reader_names_for_the_new_controls(site: tuple[str, Any], browser: Any) -> None:
    """Every control of the greeting, suggestions, handoff and contact form has a name, and
    status changes are announced (a live region or role=status)."""
    base, _ = site
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    page.goto(f"{base}/demo")
    page.locator(".launcher").click()
    page.get_by_role("dialog", name="Flowbench help").wait_for()
    page.get_by_role("group", name="Suggested questions").wait_for()
    assert page.get_by_role("log").get_attribute("aria-live") == "polite"
    ask(page, "my card was declined")
    page.get_by_role("group", name="Was this helpful?").first.wait_for()
    page.get_by_role("group", name="Rate this chat:").wait_for()
    assert page.get_by_role("button", name="Rate 1 out of 5: Very poor").is_visible()
    page.get_by_role("button", name="Talk to a person").click()
    page.get_by_role("status").filter(has_text="Waiting for a person").wait_for()
    form = page.get_by_role("form", name="How to reach you")
    assert form.get_by_role("textbox", name="Email").is_visible()
    assert form.get_by_role("checkbox", name="Support may email me about this request").is_visible()
    nameless = page.evaluate(
        "() => [...document.querySelector('[data-support-copilot]').shadowRoot"
        ".querySelectorAll('button, input, textarea')].filter(e => e.offsetParent !== null"
        " && !(e.getAttribute('aria-label') || e.textContent.trim() || e.labels?.length))"
        ".map(e => e.outerHTML)"
    )
    assert nameless == []


def test_kb_payloads_are_inert_on_the_article_page(
    hostile_kb: tuple[str, Any, str], browser: Any
) -> None:
    _, _, base = hostile_kb
    page = browser.new_page()
    page.goto(f"{base}/articles/evil-export")
    assert page.locator("h1").inner_text() == "Export <i>stuck</i>"
    step = page.locator("ol > li").first
    assert "<img src=x onerror=window.__xss=4>" in step.locator("code").inner_text()
    assert page.locator("main img, main i").count() == 0
    assert page.evaluate("window.__xss") is None
    assert "Send the export id." in page.locator("section.escalate").inner_text()
