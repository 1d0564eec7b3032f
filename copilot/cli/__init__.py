"""The `copilot` command: the top-level parser and the errors-to-exit-codes policy. Each command
module registers its own subcommands; heavy libraries are imported inside commands, never at
start-up, so `copilot --help` and `copilot lint` stay fast (no torch, chromadb or ragas)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from copilot.cli import (
    ask,
    eval as eval_,  # as `eval` it would shadow the builtin here
    index,
    lint,
    serve,
    store,
)
from copilot.cli.command import EXIT_FINDINGS, EXIT_USAGE, Parser
from copilot.errors import CopilotError, LintFailed

# Registration order is the order `copilot --help` lists the commands in.
COMMAND_MODULES = (lint, index, eval_, ask, store, serve)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="copilot",
        description="Support Copilot: answers from your knowledge base, handoffs to humans.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        code: int = args.run(args)
    except LintFailed as exc:  # the command ran and found a problem, like findings from lint
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FINDINGS
    except CopilotError as exc:  # each message says what to do next: one line, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return code
