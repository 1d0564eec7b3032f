"""`copilot serve` (the HTTP API, the widget and the agent console) and `copilot keys`. Settings
reach the app as an object: built here for one worker, or, for `--workers N`, read by each worker
from the private file named by `COPILOT_SETTINGS_FILE` (see `_serve_workers`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from copilot.cli.command import EXIT_OK, Subparsers, add_command, kb_and_data_args, resolve_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from copilot.settings import Settings

SETTINGS_FILE_ENV = "COPILOT_SETTINGS_FILE"
WORKER_APP = "copilot.cli.serve:worker_app"


def register(subparsers: Subparsers[Any]) -> None:
    serve = add_command(
        subparsers,
        "serve",
        run_serve,
        help="serve the API, the widget and the agent console",
        description="The HTTP API (docs/api.md) on HOST:PORT; indexes the KB first if needed.",
    )
    kb_and_data_args(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="worker processes")

    keys = add_command(
        subparsers,
        "keys",
        run_keys,
        help="create an API key for agents or admins",
        description="Prints a new key (give it to the agent) and the settings entry that stores "
        "only its SHA-256 hash (add it to COPILOT_API_KEYS or api_keys in copilot.toml).",
    )
    keys.add_argument("action", choices=["new"])
    keys.add_argument("--name", required=True, help="who the key is for")
    keys.add_argument("--scope", choices=["agent", "admin"], default="agent")


def run_serve(args: argparse.Namespace) -> int:
    settings = resolve_settings(kb_dir=args.kb, data_dir=args.data_dir)
    _index_if_missing(settings)
    where = f"http://{args.host}:{args.port}"
    print(f"Support Copilot on {where}: open {where}/demo for the widget, {where}/console for")
    print(f"agents, {where}/docs for the API. Ctrl-C stops it.")
    if args.workers > 1:
        return _serve_workers(settings, args.host, args.port, args.workers)
    import uvicorn

    app = _create_app(settings)
    uvicorn.run(
        app, host=args.host, port=args.port, log_level="warning", **uvicorn_options(settings)
    )
    return EXIT_OK


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What `copilot serve` asks of uvicorn (docs/api.md, "Deployment"): the h11 parser, whose
    cap on the request line and headers holds (httptools has none: a 32 MB header was read);
    a cap on open connections (beyond it, 503); idle keep-alive connections closed; and
    X-Forwarded-For believed only from `trusted_proxies` (by default from no one, so a client
    cannot choose its own rate-limit bucket). uvicorn has no timeout for reading headers: a
    reverse proxy in front covers it (nginx `client_header_timeout`)."""
    return {
        "http": "h11",
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        "limit_concurrency": settings.max_connections,
        "timeout_keep_alive": settings.keep_alive_seconds,
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": list(settings.trusted_proxies),
    }


def _uvicorn_flags(settings: Settings) -> list[str]:
    """`uvicorn_options` as uvicorn's command line, for `--workers N`."""
    options = uvicorn_options(settings)
    flags = ["--http", options["http"]]
    flags += ["--h11-max-incomplete-event-size", str(options["h11_max_incomplete_event_size"])]
    flags += ["--limit-concurrency", str(options["limit_concurrency"])]
    flags += ["--timeout-keep-alive", str(options["timeout_keep_alive"])]
    if options["proxy_headers"]:
        flags += ["--proxy-headers", "--forwarded-allow-ips", ",".join(settings.trusted_proxies)]
    else:
        flags += ["--no-proxy-headers"]
    return flags


def _index_if_missing(settings: Settings) -> None:
    from copilot.errors import IndexMissing
    from copilot.index.chroma import open_current

    try:
        open_current(settings.index_dir, settings.chroma_url).close()
    except IndexMissing:
        from copilot.index.build import build_index
        from copilot.index.embed import load_embedder

        print(build_index(settings, load_embedder(settings)).summary())


def _serve_workers(settings: Settings, host: str, port: int, workers: int) -> int:
    """uvicorn's supervisor in a child process whose environment (only) names the settings file.

    uvicorn starts workers with multiprocessing's spawn, which copies this process's environment:
    naming the file there would mean changing our own `os.environ`. A child process takes its
    environment as an argument instead, and uvicorn's command line is its stable interface.
    """
    import signal
    import subprocess
    import tempfile
    import threading

    from copilot.service import Copilot

    # N workers starting on a new database would all migrate it at the same moment, and on SQLite
    # a half-applied migration makes the others fail; migrated once here, they find it current.
    Copilot(settings).close()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # The settings hold secrets (LLM key, webhook secret, database URL): mkstemp makes the file
    # readable by this user only, and it is removed when the server stops.
    fd, name = tempfile.mkstemp(prefix="serve-settings-", suffix=".json", dir=settings.data_dir)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(settings.model_dump_json())
    command = [sys.executable, "-m", "uvicorn", WORKER_APP, "--factory"]
    command += ["--host", host, "--port", str(port), "--workers", str(workers)]
    command += ["--log-level", "warning", *_uvicorn_flags(settings)]
    # SIGTERM (a service manager, `kill`) reaches only us: pass it on so uvicorn shuts its
    # workers down instead of being orphaned. Signal handlers can only be set on the main thread.
    forward = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM)
    try:
        child = subprocess.Popen(command, env={**os.environ, SETTINGS_FILE_ENV: name})
        if forward:
            signal.signal(signal.SIGTERM, lambda *_: child.terminate())
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:
                # From a terminal uvicorn got the Ctrl-C too; from `kill -INT` only we did. A
                # second SIGINT is harmless to uvicorn, so pass it on and wait for the shutdown.
                child.send_signal(signal.SIGINT)
    finally:
        if forward:
            signal.signal(signal.SIGTERM, previous)
        Path(name).unlink(missing_ok=True)


def worker_app() -> FastAPI:
    """The app in one of `--workers N` processes, from the settings `copilot serve` resolved."""
    from copilot.settings import Settings

    path = Path(os.environ[SETTINGS_FILE_ENV])
    # model_validate_json reads only the file: the environment and copilot.toml were already
    # applied, with the flags on top, when the parent resolved these settings.
    return _create_app(Settings.model_validate_json(path.read_text(encoding="utf-8")))


def _create_app(settings: Settings) -> FastAPI:
    from api.main import create_app

    return create_app(settings)


def run_keys(args: argparse.Namespace) -> int:
    import hashlib
    import secrets

    key = "scp_" + secrets.token_urlsafe(32)
    entry = {
        "name": args.name,
        "scope": args.scope,
        "sha256": hashlib.sha256(key.encode()).hexdigest(),
    }
    print(f"key (give it to {args.name}; it is not stored anywhere): {key}")
    print(f"settings entry (COPILOT_API_KEYS is a JSON list of these): {json.dumps(entry)}")
    return EXIT_OK
