"""What every command shares: exit codes, the parser class, `--kb`/`--data-dir` and the settings
they build, and a progress bar. Imports nothing heavy: `copilot --help` loads this."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from copilot.settings import Settings

# CONTRACT.md: 0 success, 1 ran and found a problem, 2 usage or configuration error.
EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2

# What `add_subparsers()` returns; argparse does not export the class under a public name.
Subparsers = argparse._SubParsersAction


class Parser(argparse.ArgumentParser):
    """Usage errors as one line that says where help is, instead of argparse's usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def add_command(
    subparsers: Subparsers[Any], name: str, run: Callable[[argparse.Namespace], int], **kwargs: Any
) -> argparse.ArgumentParser:
    """A subcommand whose parsed arguments carry the function that runs it (`args.run`)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(name, **kwargs)
    parser.set_defaults(run=run)
    return parser


def kb_and_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kb", type=Path, metavar="DIR", help="KB folder (COPILOT_KB_DIR)")
    p.add_argument("--data-dir", type=Path, metavar="DIR", help="data folder (COPILOT_DATA_DIR)")


def audience_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--audience", choices=["customer", "internal"], default="customer")


def resolve_settings(**overrides: object) -> Settings:
    """The one settings object, with the flags given on top (None: not given)."""
    from copilot.settings import load_settings

    return load_settings(**overrides)


@contextlib.contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on a terminal; nothing in CI or when output is piped."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
