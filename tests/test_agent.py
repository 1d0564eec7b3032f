from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from copilot.answer.agent import (
    CLARIFY_MARGIN,
    MAX_SUGGESTIONS,
    Agent,
    area_for_page,
    unhelpful_streak,
)
from copilot.answer.calibrate import ensure_calibrated, params_path
from copilot.answer.compose import SUGGEST_TEXT, extractive_answer, steps
from copilot.answer.confidence import SIGNALS, ConfidenceModel, threshold_for
from copilot.answer.retrieve import Retriever
from copilot.index.chroma import OpenIndex
from copilot.settings import Settings
from copilot.types import CustomerContext, Hit, Turn

ALWAYS = ConfidenceModel(answer_threshold=0.0, clarify_threshold=0.0)
NEVER = ConfidenceModel(answer_threshold=1.01, clarify_threshold=1.01)


def test_answers_with_the_articles_own_steps(sample: tuple[Settings, OpenIndex, Retriever]) -> None:
    _, _, retriever = sample
    reply = Agent(retriever, ALWAYS).reply("my webhook signature verification fails")
    assert reply.type == "answer"
    assert reply.citations[0].article_id == "webhook-signature-mismatch"
    assert "1. Read the raw request body as bytes" in reply.text
    assert "Send test event" in reply.text  # the Verify section
    assert set(reply.confidence.signals) == set(SIGNALS)


def test_customers_are_never_answered_from_internal_articles(
    sample: tuple[Settings, OpenIndex, Retriever],
) -> None:
    _, _, retriever = sample
    question = "Agent procedure: refunds and credits for duplicate charges"
    customer = Agent(retriever, ALWAYS).reply(question)
    assert all(h.audience == "customer" for h in customer.hits)
    assert customer.citations[0].article_id != "agent-refund-policy"
    agent_side = Agent(retriever, ALWAYS).reply(question, audience="internal")
    assert agent_side.citations[0].article_id == "agent-refund-policy"


def test_handoff_reasons(sample: tuple[Settings, OpenIndex, Retriever]) -> None:
    _, _, retriever = sample
    context = CustomerContext(page="/settings/billing", plan="business")
    asked = Agent(retriever, ALWAYS).reply("can I talk to a human please", context=context)
    assert asked.type == "handoff" and asked.handoff and asked.handoff.reason == "customer_asked"
    nothing = Agent(retriever, ALWAYS).reply("the of and")
    assert nothing.handoff and nothing.handoff.reason == "no_results"
    history = (Turn("user", "invoices"), Turn("assistant", "See Invoices."))
    low = Agent(retriever, NEVER).reply("my card was declined", history, context=context)
    assert low.type == "handoff" and low.handoff is not None
    packet = low.handoff
    assert packet.reason == "low_confidence"
    assert [t.content for t in packet.transcript] == [
        "invoices",
        "See Invoices.",
        "my card was declined",
    ]
    assert packet.context.plan == "business"
    assert packet.articles_tried[0][0] == "payment-declined"
    assert "invoice number" in packet.suggested_next_step  # the Escalate section
    assert packet.product_area == "billing"


def test_below_the_answer_threshold_the_customer_picks_from_suggestions(
    sample: tuple[Settings, OpenIndex, Retriever],
) -> None:
    _, _, retriever = sample
    model = ConfidenceModel(answer_threshold=1.01, clarify_threshold=0.0)
    reply = Agent(retriever, model).reply("invoice")
    assert reply.type == "suggest" and reply.text == SUGGEST_TEXT and not reply.citations
    assert 1 <= len(reply.suggestions) <= MAX_SUGGESTIONS
    ranked = [h.article_id for h in retriever.rank("invoice").hits]
    assert [s.article_id for s in reply.suggestions] == ranked[: len(reply.suggestions)]
    internal = {e.id for e in retriever.catalog if e.audience != "customer"}
    assert not internal & {s.article_id for s in reply.suggestions}
    # Below the relevance floor nothing relevant was found: a person takes it.
    floor = ConfidenceModel(answer_threshold=1.01, clarify_threshold=1.0)
    assert Agent(retriever, floor).reply("invoice").type == "handoff"


def test_low_confidence_handoff_keeps_the_close_pair_only(
    sample: tuple[Settings, OpenIndex, Retriever],
) -> None:
    _, _, retriever = sample
    model = ConfidenceModel(answer_threshold=1.01, clarify_threshold=0.0)
    close = retriever.rank("invite").hits  # two invite articles, fused scores ~0.2 apart
    assert close[0].score - close[1].score < CLARIFY_MARGIN
    reply = Agent(retriever, model, low_confidence="handoff").reply("invite")
    assert reply.type == "suggest"
    assert [s.article_id for s in reply.suggestions] == [h.article_id for h in close[:2]]
    # One clear winner is not a choice to offer: below the threshold it is a handoff.
    clear = retriever.rank("invoice").hits
    assert clear[0].score - clear[1].score > CLARIFY_MARGIN
    assert Agent(retriever, model, low_confidence="handoff").reply("invoice").type == "handoff"


def test_stale_articles_carry_a_caveat() -> None:
    hit = Hit("a", "Title", 1.0, 0.9, 1.0, "Fix", "", "customer", "sso", stale=True)
    text, cites = extractive_answer(
        hit, {"Fix": "1. Do this. 2. Then that.", "Verify": "It works."}
    )
    assert "1. Do this." in text and "2. Then that." in text and "due for review" in text
    assert cites[0].article_id == "a"
    fresh, _ = extractive_answer(replace(hit, stale=False), {"Fix": "Just restart."})
    assert "due for review" not in fresh and "Just restart." in fresh


def test_steps_parsing() -> None:
    assert steps("1. Open Settings. Expected: it opens. 2. Click Save.") == [
        "Open Settings. Expected: it opens.",
        "Click Save.",
    ]
    assert steps("Prose only.") == ["Prose only."]
    assert steps("") == []


def test_threshold_for_meets_the_target() -> None:
    probs = [0.9, 0.8, 0.7, 0.6, 0.5]
    right = [True, True, True, False, False]
    assert threshold_for(probs, right, 0.0) == 0.7
    assert threshold_for(probs, right, 0.25) == 0.6
    assert threshold_for([0.9], [False], 0.05) == 1.0  # never answer


def test_self_calibration_is_saved_and_refitted_when_the_index_changes(
    sample: tuple[Settings, OpenIndex, Retriever], tmp_path: Path
) -> None:
    _, index, retriever = sample
    model = ensure_calibrated(retriever, tmp_path)
    assert f"{len(retriever.catalog)} articles" in model.fitted_on
    assert 0.0 < model.answer_threshold <= 1.0
    saved = json.loads(params_path(tmp_path).read_text())
    assert saved["notes"]["index_built_at"] == index.manifest.built_at
    again = ensure_calibrated(retriever, tmp_path)
    assert again == model  # loaded, not refitted
    # As if the KB was re-indexed: the same chunks under a newer manifest (the shared index
    # itself is left alone).
    newer = replace(index, manifest=replace(index.manifest, built_at=index.manifest.built_at + 1))
    refit = ensure_calibrated(Retriever(newer, retriever.embedder), tmp_path)
    assert refit.notes["index_built_at"] == newer.manifest.built_at


def test_cli_ask_json_follows_the_contract(
    sample: tuple[Settings, OpenIndex, Retriever],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    from copilot.cli import main

    settings, _, _ = sample
    data = tmp_path / "data"
    shutil.copytree(settings.data_dir, data)
    question = "SSO sign-in keeps looping back to the login page"

    def ask() -> dict[str, object]:
        assert main(["ask", "--data-dir", str(data), "--json", question]) == 0
        return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]

    # A threshold that answers: the answer and its citation, in the contract's shape.
    notes = {"labelled": 1.0, "index_built_at": sample[1].manifest.built_at}
    ConfidenceModel(answer_threshold=0.0, notes=notes).save(params_path(data))
    answered = ask()
    assert set(answered) >= {"type", "text", "confidence", "citations", "handoff"}
    assert answered["type"] == "answer" and answered["handoff"] is None
    assert answered["citations"][0]["article_id"] == "sso-login-loop"  # type: ignore[index]
    # One that never does: a handoff whose packet names what was tried.
    ConfidenceModel(answer_threshold=1.01, clarify_threshold=1.01, notes=notes).save(
        params_path(data)
    )
    handed = ask()
    assert handed["type"] == "handoff" and handed["citations"] == []
    assert handed["handoff"]["articles_tried"][0][0] == "sso-login-loop"  # type: ignore[index]
    assert 0 <= handed["confidence"] <= 1  # type: ignore[operator]


def test_cli_ask_without_index_says_what_to_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from copilot.cli import main

    assert main(["ask", "--data-dir", str(tmp_path), "hello"]) == 2
    assert "run `copilot index`" in capsys.readouterr().err


def test_cli_chat_keeps_the_conversation(
    sample: tuple[Settings, OpenIndex, Retriever],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    from copilot.cli import main

    settings, index, _ = sample
    data = tmp_path / "data"
    shutil.copytree(settings.data_dir, data)  # chat writes a database: into a copy
    notes = {"labelled": 1.0, "index_built_at": index.manifest.built_at}
    ConfidenceModel(answer_threshold=0.0, notes=notes).save(params_path(data))
    lines = iter(["my invoice PDF", "can I talk to a human please"])
    monkeypatch.setattr("builtins.input", lambda _prompt: next(lines))
    assert main(["chat", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert out.count("copilot> ") == 2
    assert "handed off to a person" in out


def test_torn_calibration_file_is_refitted_and_cli_calibrate(
    sample: tuple[Settings, OpenIndex, Retriever],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    from copilot.cli import main

    settings, _, retriever = sample
    data = tmp_path / "data"
    shutil.copytree(settings.data_dir, data)  # torn files go into a copy, not the shared index
    params_path(data).write_text('{"weights": [0.1, ')  # killed mid-write
    model = ensure_calibrated(retriever, data)
    assert model.fitted_on.startswith("the shipped model")
    assert main(["calibrate", "--data-dir", str(data)]) == 0
    assert "answer when confidence >=" in capsys.readouterr().out


def test_two_unhelpful_answers_in_a_row_hand_off(
    sample: tuple[Settings, OpenIndex, Retriever],
) -> None:
    _, _, retriever = sample
    bot = Agent(retriever, ALWAYS)
    first = bot.reply("my card was declined")
    history = [Turn("user", "my card was declined"), Turn("assistant", first.text)]
    second = bot.reply("that didn't help, it still fails", history)
    assert second.type == "answer"  # one miss: try again
    history += [Turn("user", "that didn't help, it still fails"), Turn("assistant", second.text)]
    third = bot.reply("still not working", history)
    assert third.type == "handoff" and third.handoff
    assert third.handoff.reason == "repeated_unhelpful"
    assert len(third.handoff.transcript) == 5
    # Thumbs-down feedback on two replies counts the same; a helpful verdict breaks the streak.
    voted = [
        Turn("user", "card declined"),
        Turn("assistant", "...", feedback="unhelpful"),
        Turn("user", "my card"),
        Turn("assistant", "...", feedback="unhelpful"),
    ]
    assert unhelpful_streak(voted) == 2
    assert unhelpful_streak([*voted[:3], Turn("assistant", "...", feedback="helpful")]) == 0


def test_the_customers_page_boosts_its_product_area(
    sample: tuple[Settings, OpenIndex, Retriever],
) -> None:
    _, _, retriever = sample
    question = "limit"  # seat limit or API rate limit?
    plain = retriever.rank(question).hits
    other = next(h for h in plain[1:] if h.product_area != plain[0].product_area)
    assert plain[0].score - other.score < retriever.weights.area_boost  # close enough to flip
    pages = {"*/app/*/settings/billing*": other.product_area}
    assert area_for_page("https://x.io/app/acme/settings/billing/invoices", pages)
    bot = Agent(retriever, ALWAYS, page_areas=pages)
    on_page = bot.reply(
        question, context=CustomerContext(page="https://x.io/app/acme/settings/billing")
    )
    assert on_page.hits[0].product_area == other.product_area
    elsewhere = bot.reply(question, context=CustomerContext(page="https://x.io/app/acme/home"))
    assert elsewhere.hits[0].article_id == plain[0].article_id


def test_threshold_for_never_splits_a_tie() -> None:
    # Three answers at the same score: a threshold answers all three or none of them.
    assert threshold_for([0.9, 0.9, 0.9, 0.1], [True, False, False, True], 0.05) == 1.0


def test_a_follow_up_stays_on_the_article_in_play_when_it_covers_it(
    sample: tuple[Settings, OpenIndex, Retriever],
) -> None:
    """The issue's two follow-ups: the step that covers them, not a handoff nor the same answer
    again; a question the article does not speak to is not forced onto it."""
    _, _, retriever = sample
    agent = Agent(retriever, ConfidenceModel(answer_threshold=1.01, clarify_threshold=0.0))

    def after(first: str, article: str, follow: str) -> Any:
        return agent.reply(follow, [Turn("user", first), Turn("assistant", "…", article=article)])

    private = after("slack stopped posting", "slack-not-posting", "it's a private channel tho")
    assert private.type == "answer" and private.citations[0].article_id == "slack-not-posting"
    assert "(Fix, step 2)" in private.text and "/invite @Flowbench" in private.text
    seat = after("remove someone who left", "remove-member", "do we still pay for their seat?")
    assert seat.type == "answer" and "free seat" in seat.text
    assert (
        seat.text != extractive_answer(seat.hits[0], retriever.catalog.sections("remove-member"))[0]
    )
    elsewhere = after("slack stopped posting", "slack-not-posting", "my card was declined")
    assert not elsewhere.citations or elsewhere.citations[0].article_id != "slack-not-posting"
    assert after("slack stopped posting", "slack-not-posting", "that didn't work").type != "answer"


def test_passage_answer_picks_the_step_sharing_the_words() -> None:
    from copilot.answer.compose import passage_answer

    hit = Hit("a", "Title", 1.0, 0.9, 1.0, "Symptoms", "Title\nchunk", "customer", "x", False)
    sections = {"Symptoms": "It fails.", "Fix": "1. Open Settings. 2. Rotate the secret key."}
    text, cites = passage_answer(hit, sections, "where is the secret?")
    assert (
        text == "From **Title** (Fix, step 2):\nRotate the secret key."
        and cites[0].section == "Fix"
    )
    fallback, _ = passage_answer(hit, sections, "ok?")
    assert fallback == "From **Title** (Symptoms):\nchunk"
