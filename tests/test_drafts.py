"""Drafts that read like replies (issue 18), without an LLM, on the sample KB: greeting with the
name, the cause, numbered steps, how to check, a sign-off; internal procedures as guidance only;
what the ticket asks that no source covers, listed for the agent."""

from __future__ import annotations

from typing import Any

import pytest

from copilot.answer.agent import Agent
from copilot.answer.confidence import ConfidenceModel
from copilot.answer.draft import draft_reply, gist, not_covered, requests

MODEL = ConfidenceModel(answer_threshold=0.5, clarify_threshold=0.3)


@pytest.fixture
def agent(sample: Any) -> Agent:
    return Agent(sample[2], MODEL)


def test_a_draft_is_a_reply_not_a_pasted_article(agent: Agent) -> None:
    d = draft_reply(
        agent,
        "Our SAML login fails with a signature error. How do I fix it?",
        name="Ana",
        agent_name="bob",
    )
    paragraphs = d.text.split("\n\n")
    assert paragraphs[0] == "Hi Ana,"
    assert "likely cause" in d.text and "certificate" in d.text
    assert "\n1. " in d.text and "\n2. " in d.text
    assert "To check it worked:" in d.text
    assert paragraphs[-1] == "Best regards,\nbob"
    assert "**" not in d.text  # plain text for mail tools, not raw markdown
    assert d.citations[0].article_id == "saml-signature-invalid"
    assert d.not_covered == () and d.guidance == ()


def test_internal_procedures_are_guidance_never_customer_text(agent: Agent, sample: Any) -> None:
    d = draft_reply(agent, "I was charged twice this month. I want a refund for the duplicate.")
    assert [g.article_id for g in d.guidance] == ["agent-refund-policy"]
    fix = sample[2].catalog.sections("agent-refund-policy")["Fix"]
    assert "Billing console" in fix and "Billing console" in " ".join(d.guidance[0].steps)
    assert "Billing console" not in d.text and "refund the duplicate" not in d.text.lower()
    assert d.text.startswith("Hi there,")
    assert any("internal" in c for c in d.checks)


def test_a_multi_request_ticket_lists_what_is_not_covered(agent: Agent) -> None:
    ticket = (
        "Hello. I can't find where to download my invoice. "
        "Also, could you please reissue three past invoices with our new tax ID?"
    )
    d = draft_reply(agent, ticket)
    assert d.citations[0].article_id == "download-invoice"
    assert "Download PDF" in d.text  # the part the KB answers is answered
    assert d.not_covered == ("reissue three past invoices with our new tax ID",)
    assert any(c.startswith("Not covered by the sources: reissue") for c in d.checks)


def test_a_ticket_the_article_does_not_answer_gets_no_borrowed_steps(agent: Agent) -> None:
    """The issue's example: a ticket asking to reissue invoices got the download steps."""
    d = draft_reply(agent, "Could you please reissue three past invoices for March and April?")
    assert "Download PDF" not in d.text and "1. " not in d.text
    assert d.not_covered == ("reissue three past invoices for March and April",)


def test_request_sentences_and_support() -> None:
    ticket = "Hi Sam, thanks for the help last week. Please merge our two workspaces. Cheers"
    assert requests(ticket) == ["Please merge our two workspaces."]
    assert gist("Also, could you please merge our two workspaces?") == "merge our two workspaces"
    assert not_covered(ticket, ["To merge workspaces, open Settings and pick two."]) == []
    assert not_covered(ticket, ["Download an invoice from Billing."]) == [
        "merge our two workspaces"
    ]


def test_with_an_llm_the_checked_answer_sits_in_the_same_frame(sample: Any) -> None:
    """The LLM's answer (checked sentence by sentence against its sources, as replies are) goes
    between the greeting and the sign-off; a sentence its source does not support is never in
    the draft, and what the ticket asks beyond the sources is still listed."""
    from copilot.answer.grounding import Prompts
    from copilot.answer.llm import OpenAIChat
    from copilot.testing.fake_openai import fake_openai_server

    good = (
        "Read the raw request body as bytes, before any JSON parsing [1]. "
        "Then compute the HMAC with the signing secret and compare it to v1 [1]."
    )
    ticket = "My webhook signature verification fails. Please also add IP allowlisting for us."
    with fake_openai_server() as server:
        llm = OpenAIChat(server.base_url, "fake-model", "sk-test", 5.0)
        always = ConfidenceModel(answer_threshold=0.0, clarify_threshold=0.0)
        agent = Agent(sample[2], always, llm=llm, prompts=Prompts.load())
        server.chat = [good]
        d = draft_reply(agent, ticket, name="Sam", agent_name="ana")
        assert d.text.startswith("Hi Sam,\n\nThanks for getting in touch.\n\nRead the raw request")
        assert d.text.endswith("Best regards,\nana") and "[1]" in d.text
        assert d.citations[0].article_id == "webhook-signature-mismatch"
        assert d.not_covered == ("add IP allowlisting for us",)
        server.chat = [good + " Flowbench offers a refund of 40 percent for every outage [1]."]
        rejected = draft_reply(agent, ticket)
        assert "refund" not in rejected.text and "40 percent" not in rejected.text
