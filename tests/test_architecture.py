"""The house rules, checked on the source (docs/architecture.md): the stages import downwards only,
the library knows nothing of HTTP, the API holds no storage, and no module outgrows a read."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

from tests.conftest import ROOT

MAX_LINES = 400
DATA_MODULES: set[str] = set()  # modules that are data rather than code may be longer
# The two places the library starts a web server: `copilot serve`, and the shipped test helper
# that runs an app on loopback for API and browser tests.
SERVES_HTTP = {"copilot.cli.serve", "copilot.testing.live"}


def _modules(*roots: str) -> dict[str, Path]:
    found = {}
    for root in roots:
        for path in (ROOT / root).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imports(path: Path, name: str) -> Iterator[str]:
    """Every module named by an import, lazy and type-only ones included."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            yield base
            yield from (f"{base}.{a.name}" for a in node.names)


def _graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    return {
        name: {m for m in _imports(path, name) if m in modules and m != name}
        for name, path in modules.items()
    }


def test_no_import_cycles() -> None:
    graph = _graph(_modules("copilot", "api"))
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def test_no_module_outgrows_a_read() -> None:
    long = [
        f"{path.relative_to(ROOT)} ({n} lines)"
        for name, path in _modules("copilot", "api", "eval", "bench").items()
        if name not in DATA_MODULES and (n := len(path.read_text().splitlines())) > MAX_LINES
    ]
    assert not long, f"modules over {MAX_LINES} lines: {long}"


@pytest.mark.parametrize(
    ("root", "forbidden"),
    [
        ("copilot", ("fastapi", "starlette", "uvicorn", "api")),
        ("api", ("sqlalchemy", "chromadb", "copilot.record.db")),
        ("bench", ("tests",)),
        ("eval", ("tests",)),
        ("copilot", ("tests",)),
    ],
)
def test_layers_import_only_what_they_may(root: str, forbidden: tuple[str, ...]) -> None:
    bad = []
    for name, path in _modules(root).items():
        if name in SERVES_HTTP:
            continue
        for imported in _imports(path, name):
            if any(imported == f or imported.startswith(f + ".") for f in forbidden):
                bad.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert not bad, "\n".join(sorted(set(bad)))
