"""The `copilot` command as scripts see it: the command list, `--help` for each command, usage
errors as one line with exit 2, and settings reaching `serve --workers N` in a file."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from copilot.cli import main, serve
from copilot.settings import Settings

ROOT = Path(__file__).resolve().parents[1]

# The command list is a contract (CONTRACT.md): scripts and people call these names. Change this
# snapshot only together with CONTRACT.md and the CHANGELOG.
HELP = """\
usage: copilot [-h] COMMAND ...

Support Copilot: answers from your knowledge base, handoffs to humans.

positional arguments:
  COMMAND
    lint      check KB articles: format, owners, staleness, unsafe content
    index     build or update the search index of the KB
    calibrate
              fit when to answer to this KB, and certify it with labels when there are enough
    eval      score retrieval on a question set, beside BM25 and llama-index baselines
    ask       ask one question and print the reply
    chat      talk to the copilot in the terminal, keeping the conversation
    report    live metrics from stored conversations
    gaps      what customers asked that the KB could not answer, clustered
    purge     delete old conversations (their counts stay in the metrics)
    serve     serve the API, the widget and the agent console
    keys      create an API key for agents or admins

options:
  -h, --help  show this help message and exit
"""
COMMANDS = [
    "lint",
    "index",
    "calibrate",
    "eval",
    "ask",
    "chat",
    "report",
    "gaps",
    "purge",
    "serve",
    "keys",
]


@pytest.fixture(autouse=True)
def _fixed_width(monkeypatch: pytest.MonkeyPatch) -> None:
    """argparse wraps help to the terminal width; the snapshot is taken at 100 columns."""
    monkeypatch.setenv("COLUMNS", "100")


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == HELP


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert capsys.readouterr().out == HELP


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: copilot {command} ")


@pytest.mark.parametrize(
    "argv",
    [["--bogus"], ["lint", "--bogus"], ["ask", "hello", "--bogus"], ["nonsense"]],
)
def test_usage_error_is_one_line_and_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("copilot: error: ") and "see `copilot --help`" in captured.err


def test_keys_prints_a_key_and_its_hash(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "new", "--name", "ana", "--scope", "admin"]) == 0
    key_line, entry_line = capsys.readouterr().out.splitlines()
    assert key_line.startswith("key (give it to ana; it is not stored anywhere): scp_")
    assert '"scope": "admin"' in entry_line


def test_worker_app_reads_the_settings_file_not_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = Settings.model_validate(
        {"kb_dir": tmp_path / "kb", "data_dir": tmp_path / "data", "llm_api_key": "sk-secret"}
    )
    path = tmp_path / "settings.json"
    path.write_text(given.model_dump_json())
    monkeypatch.setenv(serve.SETTINGS_FILE_ENV, str(path))
    monkeypatch.setenv("COPILOT_DATA_DIR", str(tmp_path / "elsewhere"))  # must not win
    built: list[Settings] = []
    monkeypatch.setattr(serve, "_create_app", built.append)
    serve.worker_app()
    assert built == [given]  # secrets included: the file is the workers' only source


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_serve_with_workers_passes_settings_by_file(tmp_path: Path) -> None:
    """Flags reach every worker with no COPILOT_* variable set, the file is private while the
    server runs, and SIGTERM stops the workers and removes it."""
    kb, data = tmp_path / "kb", tmp_path / "data"
    kb.mkdir()
    for article in sorted((ROOT / "kb_articles" / "billing").glob("*.md"))[:3]:
        shutil.copy(article, kb)
    port = _free_port()
    log = (tmp_path / "serve.log").open("wb")
    argv = ["serve", "--kb", str(kb), "--data-dir", str(data), "--port", str(port)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "copilot.cli", *argv, "--workers", "2"],
        cwd=tmp_path,  # no copilot.toml or .env here: only the flags name the folders
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                output = (tmp_path / "serve.log").read_text()[-2000:]
                pytest.fail(f"the server did not become ready:\n{output}")
            time.sleep(0.5)
        files = list(data.glob("serve-settings-*.json"))
        assert len(files) == 1 and files[0].stat().st_mode & 0o077 == 0
        assert Settings.model_validate_json(files[0].read_text()).kb_dir == kb
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        assert not list(data.glob("serve-settings-*.json"))
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
