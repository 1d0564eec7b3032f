"""The customer's conversation in the widget, flow by flow, in headless Chromium against a real
server: suggestions to pick from, the bot around a handoff, a way to reach the customer, resume,
a new conversation, the greeting, next steps after a thumbs-down, phones, article pages."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from api.main import create_app
from copilot.answer.agent import Agent
from copilot.answer.confidence import ConfidenceModel
from copilot.record import db
from copilot.service import Copilot
from copilot.settings import ApiKey, Settings
from copilot.testing.live import serve
from tests.browser import chromium
from tests.test_widget import ARTIFACTS, ask, shot

pytestmark = pytest.mark.slow
KEY = "flows-agent-key-456"
AUTH = {"Authorization": f"Bearer {KEY}"}
# The uncalibrated model says 0.5 for everything: thresholds around it make the agent answer
# every relevant question, or offer articles to pick for every one.
ANSWERS = ConfidenceModel(answer_threshold=0.0, clarify_threshold=0.0)
SUGGESTS = ConfidenceModel(answer_threshold=0.9, clarify_threshold=0.0)
SHADOW = "document.querySelector('[data-support-copilot]').shadowRoot"


def _site(sample: Any, tmp: Any, model: ConfidenceModel, **extra: Any) -> Iterator[tuple[str, Any]]:
    settings = Settings(
        kb_dir=sample[0].kb_dir,
        data_dir=sample[0].data_dir,
        api_keys=[
            ApiKey(name="ana", scope="agent", sha256=hashlib.sha256(KEY.encode()).hexdigest())
        ],
        **extra,
    )
    engine = db.connect(None, tmp)
    agent = Agent(sample[2], model)
    with serve(create_app(settings, copilot=Copilot(settings, engine=engine, agent=agent))) as base:
        yield base, engine
    engine.dispose()


@pytest.fixture(scope="module")
def answering(sample: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    yield from _site(sample, tmp_path_factory.mktemp("answering"), ANSWERS)


@pytest.fixture(scope="module")
def suggesting(sample: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    yield from _site(
        sample,
        tmp_path_factory.mktemp("suggesting"),
        SUGGESTS,
        widget_suggested_questions=[
            "SSO keeps sending me back to the login page",
            "my card was declined",
            "how do I download an invoice?",
        ],
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as b:
        yield b


def opened(browser: Any, base: str, **context: Any) -> Any:
    ctx = browser.new_context(**({"viewport": {"width": 1100, "height": 820}} | context))
    page = ctx.new_page()
    page.goto(f"{base}/demo")
    page.locator(".launcher").click()
    return page


def stored(page: Any) -> dict[str, Any]:
    raw = page.evaluate(
        "() => { for (let i = 0; i < localStorage.length; i++) { const k = localStorage.key(i);"
        " if (k.startsWith('support-copilot:')) return localStorage.getItem(k); } return null; }"
    )
    return json.loads(raw) if raw else {}


def eventually(check: Callable[[], Any], seconds: float = 10) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := check()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert found, "condition not met in time"
    return found


def final(page: Any, n: int) -> None:
    """Wait until the n-th bot bubble is no longer streaming."""
    page.wait_for_function(
        f"n => {{ const m = {SHADOW}.querySelectorAll('.msg.bot')[n];"
        " return m && !m.hasAttribute('aria-busy'); }",
        arg=n,
    )


def test_greeting_suggested_question_suggest_pick_answer(
    suggesting: tuple[str, Any], browser: Any
) -> None:
    base, engine = suggesting
    page = opened(browser, base)
    greeting = page.locator(".msg.greeting")
    greeting.get_by_text("AI assistant").wait_for()
    questions = greeting.get_by_role("group", name="Suggested questions").get_by_role("button")
    assert questions.count() == 3
    shot(page, "widget-greeting")

    before = page.locator(".msg.bot").count()
    questions.first.click()  # asks it
    final(page, before)
    reply = page.locator(".msg.bot").nth(before)
    assert "pick one" in reply.inner_text()
    options = reply.get_by_role("group", name="Suggested articles").get_by_role("button")
    titles = options.all_inner_texts()
    assert "SSO sign-in loops back to the login page" in titles, titles
    assert titles[-1] == "None of these: talk to a person"
    assert len(titles) <= 4
    shot(page, "widget-suggest")

    picked = page.locator(".msg.bot").count()
    options.get_by_text("SSO sign-in loops back to the login page").click()
    final(page, picked)
    answer = page.locator(".msg.bot").nth(picked)
    assert "Picked: SSO sign-in loops back" in page.locator(".msg.user").last.inner_text()
    assert (
        answer.locator(".sources a")
        .first.get_attribute("href")
        .endswith("/articles/sso-login-loop")
    )
    assert answer.locator("ol li").count() >= 3  # the Fix steps
    assert options.first.is_disabled()  # one pick per suggestion
    shot(page, "widget-picked")

    conversation = stored(page)["conversationId"]
    with engine.connect() as conn:  # the pick is stored as a turn of the conversation
        texts = list(
            conn.execute(
                sa.select(db.turns.c.text).where(db.turns.c.conversation_id == conversation)
            ).scalars()
        )
    assert any(t.startswith("Picked: SSO sign-in loops back") for t in texts), texts


def test_handoff_contact_bot_while_waiting_quiet_when_claimed_back_after_resolve(
    answering: tuple[str, Any], browser: Any
) -> None:
    base, _ = answering
    page = opened(browser, base)
    ask(page, "my card was declined")
    page.get_by_role("button", name="Talk to a person").click()
    page.get_by_text("passing you to a person").wait_for()
    status = page.locator(".status")
    status.get_by_text("Waiting for a person").wait_for()
    assert page.get_by_role("button", name="Talk to a person").count() == 0  # no duplicate

    form = page.get_by_role("form", name="How to reach you")
    # An address the browser's own check takes and the server refuses (no domain dot).
    form.get_by_label("Email", exact=True).fill("dana@no-dot")
    form.get_by_label("Support may email me").check()
    form.get_by_role("button", name="Send my email").click()
    form.get_by_role("alert").filter(has_text="mail").wait_for()  # the server names the field
    form.get_by_label("Email", exact=True).fill("dana@example.com")
    shot(page, "widget-contact")
    form.get_by_role("button", name="Send my email").click()
    page.get_by_text("we'll reply here and at dana@example.com").wait_for()

    conversation = stored(page)["conversationId"]
    handoff_id = stored(page)["handoff"]["id"]
    with httpx.Client(base_url=base, headers=AUTH) as agent:
        packet = agent.get(f"/v1/handoffs/{handoff_id}").json()
        assert "dana@example.com" in json.dumps(packet)  # agents see how to reach them
        chat = agent.get(f"/v1/conversations/{conversation}").json()
        assert all("dana@example.com" not in t["text"] for t in chat["turns"])  # not chat text

        waiting = ask(page, "how do I download an invoice?")
        assert "while you wait for a person" in waiting.locator(".tag").inner_text()
        assert waiting.locator(".sources a").count() >= 1
        shot(page, "widget-while-waiting")

        assert agent.post(f"/v1/handoffs/{handoff_id}/claim").status_code == 200
        status.get_by_text("A person from support has your conversation").wait_for(timeout=10_000)
        quiet = ask(page, "and can I change the card on file?")
        assert quiet.locator(".sources").count() == 0  # the bot stays quiet
        assert quiet.locator(".actions").count() == 0
        page.keyboard.press("Escape")  # the customer closes the panel; the reply still arrives
        sent = agent.post(
            f"/v1/handoffs/{handoff_id}/messages", json={"text": "Hi, Ana here: refunded."}
        )
        assert sent.status_code == 200, sent.text
        page.get_by_role("button", name="Flowbench help · 1 new reply").click(timeout=10_000)
        page.locator(".msg.agent").get_by_text("Ana here").wait_for()
        shot(page, "widget-with-agent")

        assert agent.post(f"/v1/handoffs/{handoff_id}/resolve").status_code == 200
    page.get_by_text("Your request to support was closed").wait_for(timeout=10_000)
    page.get_by_role("button", name="Talk to a person").wait_for()
    again = ask(page, "how do I download an invoice?")
    assert again.locator(".tag").count() == 0
    assert again.locator(".sources a").count() >= 1  # the bot answers again


def test_resume_in_a_new_tab_then_expired_starts_fresh(
    answering: tuple[str, Any], browser: Any
) -> None:
    base, engine = answering
    page = opened(browser, base)
    ask(page, "my invoice PDF is missing")
    conversation = stored(page)["conversationId"]
    storage = page.context.storage_state()

    later = browser.new_context(storage_state=storage, viewport={"width": 1100, "height": 820})
    tab = later.new_page()  # a new tab on another day: sessionStorage would be empty here
    tab.goto(f"{base}/demo")
    tab.locator(".launcher").click()
    tab.locator(".msg.user").get_by_text("my invoice PDF is missing").wait_for()
    assert tab.locator(".msg.bot .sources a").count() >= 1
    assert tab.locator(".msg.greeting").count() == 0
    reply = ask(tab, "thanks!")
    assert reply.is_visible()
    assert stored(tab)["conversationId"] == conversation  # the same conversation goes on

    with engine.begin() as conn:  # 31 days without a message: the token has expired
        conn.execute(
            sa.update(db.conversations)
            .where(db.conversations.c.id == conversation)
            .values(updated_at=db.now() - timedelta(days=31))
        )
    tab.reload()
    tab.locator(".launcher").click()
    tab.get_by_text("Your earlier conversation has expired").wait_for()
    tab.locator(".msg.greeting").wait_for()
    assert tab.locator(".msg.user").count() == 0
    ask(tab, "my card was declined")
    assert stored(tab)["conversationId"] != conversation


def test_start_a_new_conversation(answering: tuple[str, Any], browser: Any) -> None:
    base, _ = answering
    page = opened(browser, base)
    ask(page, "my card was declined")
    first = stored(page)["conversationId"]
    page.get_by_role("button", name="Start a new conversation").click()
    page.locator(".msg.greeting").wait_for()
    assert page.locator(".msg.user").count() == 0 and not stored(page).get("conversationId")
    ask(page, "how do I download an invoice?")
    assert stored(page)["conversationId"] not in (None, first)


def test_thumbs_down_offers_next_steps(answering: tuple[str, Any], browser: Any) -> None:
    base, engine = answering
    page = opened(browser, base)
    reply = ask(page, "SSO keeps sending me back to the login page")
    reply.get_by_role("button", name="No").click()
    page.get_by_text("Sorry that didn't help.").wait_for()
    others = reply.get_by_role("group", name="Other articles").get_by_role("button")
    others.first.wait_for()
    steps = reply.get_by_role("group", name="Other next steps")
    assert steps.get_by_role("button", name="Rephrase my question").is_visible()
    assert steps.get_by_role("button", name="Talk to a person").is_visible()
    shot(page, "widget-next-steps")
    conversation = stored(page)["conversationId"]
    eventually(
        lambda: (
            "unhelpful"
            in engine.connect()
            .execute(
                sa.select(db.feedback.c.kind).where(db.feedback.c.conversation_id == conversation)
            )
            .scalars()
            .all()
        )
    )
    title = others.first.inner_text()
    picked = page.locator(".msg.bot").count()
    others.first.click()
    final(page, picked)
    assert title in page.locator(".msg.bot").nth(picked).locator(".sources").inner_text()

    steps.get_by_role("button", name="Rephrase my question").click()
    assert page.evaluate(f"() => {SHADOW}.activeElement.id") == "sc-input"


def test_phone_full_screen_panel_and_launcher_on_a_wide_page(
    answering: tuple[str, Any], browser: Any
) -> None:
    base, _ = answering
    ctx = browser.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )
    page = ctx.new_page()
    page.goto(f"{base}/demo")
    # The wide <pre> widens the layout viewport, which `position: fixed; right: 16px` follows:
    # only the visual viewport is what the phone shows.
    assert page.evaluate("window.innerWidth") > 390
    launcher = page.locator(".launcher")
    box = launcher.bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    assert box["y"] >= 0 and box["y"] + box["height"] <= 844, box
    shot(page, "widget-phone-launcher")
    launcher.tap()
    panel = page.locator(".panel").bounding_box()
    assert panel is not None
    assert abs(panel["x"]) <= 1 and abs(panel["y"]) <= 1, panel
    assert panel["width"] >= 388 and panel["height"] >= 840, panel
    ask(page, "my card was declined")
    shot(page, "widget-phone")
    page.get_by_role("button", name="Close help").tap()
    assert page.locator(".panel").is_hidden()


def test_article_page_renders_markdown_sections_and_a_way_back(
    answering: tuple[str, Any], browser: Any
) -> None:
    base, _ = answering
    page = browser.new_page(viewport={"width": 900, "height": 1100})
    page.goto(f"{base}/articles/sso-login-loop")
    text = page.locator("main").inner_text()
    assert "**" not in text and "`" not in text
    assert page.locator("section").filter(has_text="How to fix it").locator("ol > li").count() == 5
    assert page.locator("strong").filter(has_text="ACS URL").count() >= 1
    assert page.locator("code").filter(has_text="https://app.flowbench.io/login").count() == 1
    assert "send support the SAML trace" in page.locator("section.escalate").inner_text()
    assert page.title() == "SSO sign-in loops back to the login page · Help"
    description = page.locator('meta[name="description"]').get_attribute("content")
    assert description.startswith("After signing in with your identity provider")
    og = page.locator('meta[property="og:title"]').get_attribute("content")
    assert og == "SSO sign-in loops back to the login page"
    shot(page, "article-page")
    page.get_by_role("link", name="All help articles").click()
    page.get_by_role("heading", name="Help articles").wait_for()
    page.get_by_role("link", name="Payment failed", exact=False).first.click()
    page.locator("h1").filter(has_text="Payment").wait_for()

    # A KB link between articles goes to that article's page; internal articles have none.
    assert httpx.get(f"{base}/articles/agent-refund-policy").status_code == 404
    page.goto(f"{base}/articles/audit-log-export")
    href = page.get_by_role("link", name="Audit log is missing events").get_attribute("href")
    assert href == "/articles/audit-log-missing-events"


def test_hooks_for_add_ons(answering: tuple[str, Any], browser: Any) -> None:
    base, _ = answering
    page = browser.new_page()
    page.goto(f"{base}/demo")
    page.wait_for_function("() => window.SupportCopilot && window.SupportCopilot._hooks")
    assert page.evaluate("SupportCopilot._hooks.busy()") is False
    page.evaluate(
        "SupportCopilot.identify({userId: 'u1', name: 'Dana', email: 'dana@example.com'})"
    )
    who = page.evaluate("SupportCopilot._hooks.who()")
    assert who["email"] == "dana@example.com" and who["workspace"] == "acme"
    assert page.evaluate("SupportCopilot._hooks.api") == base
    page.evaluate(
        "window.__fb = []; SupportCopilot._hooks.showArticle({article_id: 'payment-declined',"
        " title: 'Payment failed', text: '1. **Update** the card\\n2. Retry',"
        " url: '/articles/payment-declined', source: 'Suggested',"
        " onFeedback: k => window.__fb.push(k)})"
    )
    shown = page.locator(".msg.bot").last
    assert shown.locator("ol li strong").inner_text() == "Update"
    assert page.evaluate("SupportCopilot._hooks.busy()") is True  # the panel is open
    shown.get_by_role("button", name="No").click()
    assert page.evaluate("window.__fb") == ["unhelpful"]


def test_an_identified_customer_is_not_asked_how_to_reach_them(
    answering: tuple[str, Any], browser: Any
) -> None:
    base, _ = answering
    page = opened(browser, base)
    page.evaluate(
        "SupportCopilot.identify({userId: 'u_77', name: 'Lee', email: 'lee@example.com',"
        " plan: 'enterprise'})"
    )
    ask(page, "my card was declined")
    page.get_by_role("button", name="Talk to a person").click()
    page.locator(".status").get_by_text("Waiting for a person").wait_for()
    assert page.get_by_role("form", name="How to reach you").count() == 0
    handoff_id = stored(page)["handoff"]["id"]
    packet = httpx.get(f"{base}/v1/handoffs/{handoff_id}", headers=AUTH).json()
    assert "lee@example.com" in json.dumps(packet)  # from identify(), as a contact field


def test_dark_mode_styles_the_new_controls(answering: tuple[str, Any], browser: Any) -> None:
    base, _ = answering
    page = opened(browser, base, color_scheme="dark")
    page.locator(".msg.greeting").wait_for()
    reply = ask(page, "my card was declined")
    panel = page.locator(".panel").evaluate("e => getComputedStyle(e).backgroundColor")
    assert panel == "rgb(30, 31, 36)"
    link = reply.locator(".sources a").first.evaluate("e => getComputedStyle(e).color")
    assert link == "rgb(157, 176, 255)"  # readable on the dark bubble
    shot(page, "widget-dark")
