from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from copilot.cli import main
from copilot.kb.lint import RULES, LintOptions, lint_paths, stale_report
from tests.conftest import FIXTURES, ROOT, shared_eval

LINT = FIXTURES / "lint"
TODAY = date(2026, 11, 24)

# (fixture folder or file, expected code, file name, line): one broken fixture per rule.
CASES = [
    ("KB001/bad-yaml.md", "KB001", "bad-yaml.md", 5),
    ("KB001/no-front-matter.md", "KB001", "no-front-matter.md", 1),
    ("KB001/not-utf8.md", "KB001", "not-utf8.md", 14),
    ("KB001/binary.md", "KB001", "binary.md", 1),
    ("KB002", "KB002", "missing-owner.md", 1),
    ("KB003/Bad_Id.md", "KB003", "Bad_Id.md", 2),
    ("KB003/file-name.md", "KB003", "file-name.md", 2),
    ("KB004", "KB004", "missing-verify.md", 20),
    ("KB005", "KB005", "out-of-order.md", 13),
    ("KB006", "KB006", "empty-cause.md", 13),
    ("KB007", "KB007", "title-h1.md", 8),
    ("KB008/bad-date.md", "KB008", "bad-date.md", 5),
    ("KB008/future-date.md", "KB008", "future-date.md", 5),
    ("KB009", "KB009", "overdue.md", 5),
    ("KB010", "KB010", "released.md", 5),
    ("KB011", "KB011", "dup-b.md", 2),
    ("KB012", "KB012", "broken-link.md", 17),
    ("KB013", "KB013", "unknown-area.md", 6),
    ("KB014", "KB014", "bad-audience.md", 7),
    ("KB015", "KB015", "prose-fix.md", 16),
    ("KB016", "KB016", "hidden-comment.md", 15),
    ("KB017", "KB017", "script-tag.md", 21),
    ("KB018", "KB018", "offsite-image.md", 20),
    ("KB019", "KB019", "zero-width.md", 20),
    ("KB020", "KB020", "dup-symptoms-a.md", 10),
    ("KB021", "KB021", "unknown-field.md", 7),
    ("KB022", "KB022", "bad-owner.md", 4),
]


def lint(path: Path, **kw: object):  # type: ignore[no-untyped-def]
    return lint_paths([path], LintOptions(today=TODAY, **kw))  # type: ignore[arg-type]


def test_every_rule_has_a_broken_fixture() -> None:
    assert {c for _, c, _, _ in CASES} == set(RULES)


@pytest.mark.parametrize(("fixture", "code", "name", "line"), CASES, ids=[c[0] for c in CASES])
def test_rule_fires_at_the_right_line(fixture: str, code: str, name: str, line: int) -> None:
    select = frozenset({code}) if RULES[code].opt_in else None
    result = lint(LINT / fixture, select=select)
    hits = [(Path(f.path).name, f.line) for f in result.findings if f.code == code]
    assert (name, line) in hits
    assert all(f.severity == RULES[f.code].severity for f in result.findings)


def test_clean_fixture_has_no_findings() -> None:
    result = lint(LINT / "clean")
    assert result.findings == []


def test_sample_kb_lints_clean_and_is_realistic() -> None:
    result = lint(ROOT / "kb_articles")
    assert result.findings == [], [f"{f.path}:{f.line} {f.code}" for f in result.findings]
    assert len(result.articles) >= 40
    assert sum(a.audience == "internal" for a in result.articles) >= 3
    assert len({a.owner for a in result.articles}) >= 4
    assert result.releases, "the sample KB ships a releases.yaml"


@pytest.mark.parametrize("name", ["stackfaq", "mtrag-govt"])
def test_shared_dev_kbs_have_no_errors(name: str) -> None:
    result = lint(shared_eval(name) / "kb")
    assert result.errors == 0, [f"{f.path}:{f.line} {f.code}" for f in result.findings][:5]
    assert len(result.articles) >= 100


def test_select_ignore_and_strict() -> None:
    assert {f.code for f in lint(LINT / "KB009", ignore=frozenset({"KB009"})).findings} == set()
    assert lint(LINT / "KB009").errors == 0
    strict = lint(LINT / "KB009", strict=True)
    assert strict.errors == 1 and strict.findings[0].severity == "error"
    only = lint(LINT / "KB011", select=frozenset({"KB011"}))
    assert {f.code for f in only.findings} == {"KB011"}


def test_code_spans_are_not_scanned_for_html() -> None:
    text = (LINT / "clean" / "clean-article.md").read_text()
    text = text.replace("It works.", "Paste `<script src=x></script>` into the page header.")
    result = lint_paths([_write(text)], LintOptions(today=TODAY))
    assert result.findings == []


def _write(text: str) -> Path:
    import tempfile

    d = Path(tempfile.mkdtemp())
    p = d / "clean-article.md"
    p.write_text(text)
    return p


def test_stale_report_groups_by_owner_most_overdue_first(tmp_path: Path) -> None:
    src = (LINT / "clean" / "clean-article.md").read_text()
    for name, reviewed, owner in [
        ("a", "2025-01-01", "x-team"),
        ("b", "2024-01-01", "x-team"),
        ("c", "2026-11-01", "y-team"),
    ]:
        (tmp_path / f"{name}.md").write_text(
            src.replace("clean-article", name)
            .replace("2026-10-01", reviewed)
            .replace("docs-team", owner)
        )
    options = LintOptions(today=TODAY)
    report = stale_report(lint_paths([tmp_path], options), options)
    assert list(report) == ["x-team"]
    assert [r["article_id"] for r in report["x-team"]] == ["b", "a"]


# --- the command line ------------------------------------------------------------------------


def test_cli_text_format_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(LINT / "clean"), "--today", "2026-11-24"]) == 0
    assert main(["lint", str(LINT / "KB004"), "--today", "2026-11-24"]) == 1
    out = capsys.readouterr().out
    assert f'{LINT / "KB004" / "missing-verify.md"}:20:1: KB004 missing section "Verify"' in out
    assert "1 error(s), 0 warning(s) in 1 file(s)" in out
    assert main(["lint", str(LINT / "KB009"), "--today", "2026-11-24"]) == 0
    assert main(["lint", str(LINT / "KB009"), "--today", "2026-11-24", "--strict"]) == 1


def test_cli_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "no/such/folder"]) == 2
    assert main(["lint", str(LINT / "clean"), "--today", "yesterday"]) == 2
    assert main(["lint", str(LINT / "clean"), "--select", "XX999"]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["lint", "--format", "yaml"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--today" in err and "XX999" in err


def test_cli_json_and_github_formats(capsys: pytest.CaptureFixture[str]) -> None:
    main(["lint", str(LINT / "KB012"), "--format", "json", "--today", "2026-11-24"])
    rows = json.loads(capsys.readouterr().out)
    assert rows == [
        {
            "path": str(LINT / "KB012" / "broken-link.md"),
            "line": 17,
            "column": 25,
            "code": "KB012",
            "severity": "error",
            "message": "link to missing-article.md points to no file",
            "article_id": "broken-link",
        }
    ]
    main(["lint", str(LINT / "KB012"), "--format", "github", "--today", "2026-11-24"])
    out = capsys.readouterr().out
    path = LINT / "KB012" / "broken-link.md"
    assert out.startswith(f"::error file={path},line=17,col=25,title=KB012::")


def test_cli_explain(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "--explain", "kb004"]) == 0
    assert "Symptoms" in capsys.readouterr().out
    assert main(["lint", "--explain"]) == 0
    assert capsys.readouterr().out.count("\n") == len(RULES)
    assert main(["lint", "--explain", "KB999"]) == 2


def test_cli_stale_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(LINT / "KB009" / "overdue.md", tmp_path)
    assert main(["lint", str(tmp_path), "--stale-report", "--today", "2026-11-24"]) == 0
    out = capsys.readouterr().out
    assert "docs-team (1)" in out and "overdue" in out and "days overdue" in out


def test_help_and_lint_do_not_import_heavy_libraries() -> None:
    code = (
        "import sys\n"
        "from copilot.cli import main\n"
        "for argv in (['--help'], ['lint', 'kb_articles', '--today', '2026-11-24']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = [m for m in ('torch', 'transformers', 'chromadb', 'ragas', 'llama_index',"
        " 'sentence_transformers') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "HEAVY []" in out
