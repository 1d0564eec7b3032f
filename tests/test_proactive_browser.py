"""Proactive help in headless Chromium against a real server (docs/proactive.md): the demo
settings page revisited, the demo's error banner, a dismissed nudge staying away, and nothing on
the wire while tracking is off."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.main import create_app
from copilot.answer.agent import Agent
from copilot.answer.confidence import ConfidenceModel
from copilot.record import db
from copilot.service import Copilot
from copilot.settings import ApiKey, Settings
from copilot.testing.live import serve
from tests.browser import chromium
from tests.conftest import ROOT

pytestmark = pytest.mark.slow
ALWAYS = ConfidenceModel(answer_threshold=0.0, clarify_threshold=0.0)
ARTIFACTS = ROOT / "test-artifacts"
KEY = "proactive-agent-key"
AREAS = {"*/demo-settings*": "sso", "*/demo": "billing"}


@pytest.fixture(scope="module")
def base(sample: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("proactive")
    settings = Settings(
        kb_dir=sample[0].kb_dir,
        data_dir=sample[0].data_dir,
        page_areas=AREAS,
        api_keys=[
            ApiKey(name="ana", scope="agent", sha256=hashlib.sha256(KEY.encode()).hexdigest())
        ],
    )
    engine = db.connect(None, tmp)
    agent = Agent(sample[2], ALWAYS, page_areas=AREAS)
    with serve(create_app(settings, copilot=Copilot(settings, engine=engine, agent=agent))) as url:
        yield url
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as b:
        yield b


def visit(page: Any, url: str) -> dict[str, Any]:
    """Open `url` and return the reply to the signals its page view sent."""
    with page.expect_response(lambda r: "/v1/signals" in r.url, timeout=15_000) as reply:
        page.goto(url)
    assert reply.value.status == 200
    return dict(reply.value.json())


def test_revisits_nudge_the_right_article_and_a_dismissed_one_stays_away(
    base: str, browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    assert visit(page, f"{base}/demo-settings")["nudge"] is None
    assert visit(page, f"{base}/demo-settings")["nudge"] is None
    third = visit(page, f"{base}/demo-settings")["nudge"]
    assert third is not None and third["article_id"] == "sso-login-loop"
    nudge = page.locator(".nudge")
    nudge.wait_for()
    assert nudge.get_attribute("data-article") == "sso-login-loop"
    assert "You've opened this page a few times." in nudge.inner_text()
    assert "SSO sign-in loops back to the login page" in nudge.inner_text()
    box, launcher = nudge.bounding_box(), page.locator(".launcher").bounding_box()
    assert box["width"] <= 300 and box["y"] + box["height"] <= launcher["y"]  # by the launcher
    page.screenshot(path=str(ARTIFACTS / "proactive-nudge.png"))
    with page.expect_response(lambda r: "/dismiss" in r.url) as dismissed:
        page.locator(".nudge .dismiss").click()
    assert dismissed.value.status == 200 and nudge.count() == 0

    # A fourth and fifth visit would fire the rule again: the snooze and the caps keep it away.
    for _ in range(2):
        assert visit(page, f"{base}/demo-settings")["nudge"] is None
        page.wait_for_timeout(300)
        assert page.locator(".nudge").count() == 0
    context.close()


def test_the_error_banner_nudges_the_article_whose_symptoms_have_its_code(
    base: str, browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    visit(page, f"{base}/demo")
    nudge = page.locator(".nudge")
    nudge.wait_for()
    assert nudge.get_attribute("data-article") == "saml-signature-invalid"
    assert "SSO-102" in nudge.inner_text()
    with page.expect_response(lambda r: "/open" in r.url) as opened:
        page.locator(".nudge .go").click()
    assert opened.value.status == 200
    answer = page.locator(".msg.bot").last
    answer.wait_for()
    assert "SAML error: signature validation failed" in answer.inner_text()
    assert page.locator(".panel").is_visible() and page.locator(".human").is_visible()
    page.screenshot(path=str(ARTIFACTS / "proactive-article.png"))
    with page.expect_response(lambda r: "/feedback" in r.url) as verdict:
        answer.locator(".actions button", has_text="Yes").click()
    assert verdict.value.status == 200
    context.close()


HOST = """<!doctype html><html><head><title>Host</title></head><body><p>host page</p>
<script src="/widget.js" {attrs} defer></script></body></html>"""


def host_page(browser: Any, base: str, attrs: str, init: str = "") -> tuple[Any, Any, list[str]]:
    """A customer's page on the server's origin with the widget embedded with `attrs`; the list
    collects every signals request the browser sends."""
    context = browser.new_context()
    if init:
        context.add_init_script(init)
    page = context.new_page()
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "/v1/signals" in r.url else None)
    page.route(
        f"{base}/host",
        lambda route: route.fulfill(content_type="text/html", body=HOST.format(attrs=attrs)),
    )
    page.goto(f"{base}/host")
    page.wait_for_function("() => window.SupportCopilot && window.SupportCopilot.track")
    return context, page, sent


TRACK = "() => { SupportCopilot.track('error_shown', {code: 'SSO-102'}); " \
    "SupportCopilot.track('feature_used', {feature: 'sso'}); }"  # fmt: skip


@pytest.mark.parametrize(
    ("attrs", "init", "identify"),
    [
        ("", "", None),  # tracking never enabled
        (
            'data-track="on"',
            "Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'})",
            None,
        ),
        ('data-track="on"', "", "{consent: false}"),  # the user said no
    ],
)
def test_with_tracking_off_nothing_is_sent(
    base: str, browser: Any, attrs: str, init: str, identify: str | None
) -> None:
    context, page, sent = host_page(browser, base, attrs, init)
    if identify:
        page.evaluate(f"() => SupportCopilot.identify({identify})")
    page.evaluate(TRACK)
    page.wait_for_timeout(2500)  # past the batching delay
    page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")
    assert sent == []
    assert page.evaluate("() => Object.keys(localStorage).length") == 0  # no anonymous id either
    context.close()


def test_consent_from_identify_starts_sending(base: str, browser: Any) -> None:
    """The control for the test above: the same page does send once the user agrees."""
    context, page, sent = host_page(browser, base, "")
    with page.expect_request(lambda r: "/v1/signals" in r.url) as first:
        page.evaluate("() => SupportCopilot.identify({userId: 'u-42', consent: true})")
        page.evaluate(TRACK)
    body = first.value.post_data_json
    assert body["subject"] == "user:u-42"
    assert [e["name"] for e in body["events"]] == ["page_view", "error_shown", "feature_used"]
    assert all("?" not in e["page"] for e in body["events"])
    assert len(sent) == 1
    context.close()


def test_the_console_marks_a_struggling_account_on_its_next_conversation(
    base: str, browser: Any
) -> None:
    account = "struggling-co"
    flag = {
        "subject": "user:u-77-struggling",
        "account": account,
        "account_age_days": 40,
        "events": [{"name": "page_view", "page": f"{base}/demo-settings"}],
    }
    assert httpx.post(f"{base}/v1/signals", json=flag).json()["nudge"] is None  # quiet
    chat = {"message": "I'd like to talk to a person", "context": {"workspace": account}}
    assert httpx.post(f"{base}/v1/chat", json=chat, timeout=30).json()["type"] == "handoff"
    console = browser.new_page(viewport={"width": 1200, "height": 900})
    console.goto(f"{base}/console")
    console.fill("#key", KEY)  # the key says who the agent is
    console.keyboard.press("Enter")
    console.locator("#handoffs button.row").first.click()
    mark = console.locator(".struggling")
    mark.wait_for()
    assert "You haven't tried sso yet. (sso-unused, sso)" in mark.inner_text()
    console.close()


def test_dont_show_tips_sticks_across_pages(base: str, browser: Any) -> None:
    context = browser.new_context()
    page = context.new_page()
    visit(page, f"{base}/demo")
    page.locator(".nudge").wait_for()
    with page.expect_response(lambda r: "/dismiss" in r.url):
        page.locator(".nudge .off").click()
    for url in (f"{base}/demo", f"{base}/demo-settings"):
        with page.expect_request(lambda r: "/v1/signals" in r.url) as sent:
            page.goto(url)
        assert sent.value.post_data_json["tips"] is False  # the server is told: no nudge
        page.wait_for_timeout(500)
        assert page.locator(".nudge").count() == 0
    context.close()


def test_no_nudge_while_the_customer_is_typing(base: str, browser: Any) -> None:
    context = browser.new_context()
    page = context.new_page()
    with page.expect_request(lambda r: "/v1/signals" in r.url) as sent:
        page.goto(f"{base}/demo")
        page.locator(".launcher").click()  # before the batch leaves (it waits a second)
        page.locator("#sc-input").fill("how do I")
    assert sent.value.post_data_json["tips"] is False
    reply = sent.value.response()
    assert reply is not None and reply.json()["nudge"] is None
    assert page.locator(".nudge").count() == 0
    context.close()
