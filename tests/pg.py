"""A throwaway PostgreSQL server on 127.0.0.1 from Debian's `postgresql` package (`make test`
installs it when absent): initdb into a temp folder, start, yield a URL, stop, delete."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


_running: dict[str, list[str]] = {}  # url -> the pg_ctl command line for its data folder


def stop_postgres(url: str) -> None:
    """Stop a server started here the way a crash would (immediate shutdown), mid-test."""
    subprocess.run([*_running[url], "stop"], check=True, capture_output=True)


@contextmanager
def postgres_server() -> Iterator[str]:
    bindir = _bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed: run `make test`, which installs it")
    root = Path(tempfile.mkdtemp(prefix="copilot-pg-"))
    # initdb refuses to run as root; Debian's package creates a `postgres` user for this.
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(root, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = root / "data"
    run = lambda *args: subprocess.run([*as_user, *args], check=True, capture_output=True)  # noqa: E731
    try:
        run(
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(root / "log"),
            "-w",
            "start",
        )
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        _running[url] = [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate"]
        yield url
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
            )
        shutil.rmtree(root, ignore_errors=True)
