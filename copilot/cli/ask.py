"""`copilot ask` and `copilot chat`: one question and its reply, or a conversation in the
terminal that is stored like the widget's, follow-ups and handoffs included."""

from __future__ import annotations

import argparse
import json
from typing import Any

from copilot.cli.command import (
    EXIT_OK,
    Subparsers,
    add_command,
    audience_arg,
    kb_and_data_args,
    resolve_settings,
)


def register(subparsers: Subparsers[Any]) -> None:
    ask = add_command(
        subparsers,
        "ask",
        run_ask,
        help="ask one question and print the reply",
        description="One question, one reply: an answer with citations, articles to pick from, "
        "or a handoff to a person.",
    )
    ask.add_argument("question")
    kb_and_data_args(ask)
    audience_arg(ask)
    ask.add_argument("--json", action="store_true", help="print the reply JSON (CONTRACT.md)")

    chat = add_command(
        subparsers,
        "chat",
        run_chat,
        help="talk to the copilot in the terminal, keeping the conversation",
        description="An interactive conversation; follow-up questions are read in context. "
        "Ctrl-D or an empty line ends it.",
    )
    kb_and_data_args(chat)
    audience_arg(chat)


def run_ask(args: argparse.Namespace) -> int:
    from copilot.contract import reply_json
    from copilot.service import open_agent

    # One question needs no conversation store, so only the agent is opened.
    settings = resolve_settings(kb_dir=args.kb, data_dir=args.data_dir)
    agent, index = open_agent(settings)
    with index:
        reply = agent.reply(args.question, audience=args.audience)
    if args.json:
        print(json.dumps(reply_json(reply), indent=2))
    else:
        print(reply.text)
        for c in reply.citations:
            print(f"  [{c.article_id}] {c.title}")
        for n, c in enumerate(reply.suggestions, 1):
            print(f"  {n}. [{c.article_id}] {c.title}")
        print(f"({reply.type}, confidence {reply.confidence.value:.2f})")
    return EXIT_OK


def run_chat(args: argparse.Namespace) -> int:
    from copilot.service import Copilot, open_agent

    settings = resolve_settings(kb_dir=args.kb, data_dir=args.data_dir)
    service = Copilot(settings)
    conversation_id: str | None = None
    token: str | None = None
    try:
        # open_agent, not Copilot.start(): here a missing index must stop the command with what
        # to run (exit 2), where the server runs degraded instead.
        service.use(*open_agent(settings))
        while True:
            try:
                question = input("you> ").strip()
            except EOFError:
                break
            if not question:
                break
            result = service.conversations.chat(
                question, conversation_id, token, audience=args.audience
            )
            conversation_id, token = result.conversation_id, token or result.token
            reply = result.reply
            print(f"copilot> {reply.text}")
            for c in reply.citations:
                print(f"         [{c.article_id}] {c.title}")
            for n, c in enumerate(reply.suggestions, 1):
                print(f"         {n}. [{c.article_id}] {c.title}")
            print(f"         ({reply.type}, confidence {reply.confidence.value:.2f})")
            if reply.type == "handoff":
                print(
                    f"(handed off to a person as {result.handoff_id}: the conversation ends here)"
                )
                break
    finally:
        service.close()
    return EXIT_OK
