"""Eval datasets: JSON Lines questions (KB_FORMAT.md) read into `Question`s, grouped into
conversations, and split for calibration without putting one conversation on both sides."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from copilot.errors import DatasetError
from copilot.types import Question


def json_lines(path: Path, what: str = "dataset") -> Iterator[tuple[int, str, dict[str, Any]]]:
    """(line number, "path:line", object) for each non-blank line of a JSON Lines file; a missing
    file, bad JSON or a line that is not an object raises DatasetError naming file and line."""
    if not path.is_file():
        raise DatasetError(f"{what} {path} does not exist")
    with path.open(encoding="utf-8") as fh:
        for n, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            where = f"{path}:{n}"
            try:
                row = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{where}: not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise DatasetError(f"{where}: each line must be a JSON object")
            yield n, where, row


def load_dataset(path: Path) -> list[Question]:
    """Read a JSON Lines dataset; any bad line raises DatasetError naming the file and line."""
    questions, seen = [], set()
    for n, where, row in json_lines(path):
        for key, kind in (("id", str), ("question", str), ("answerable", bool)):
            if not isinstance(row.get(key), kind):
                raise DatasetError(f'{where}: field "{key}" is required ({kind.__name__})')
        if row["id"] in seen:
            raise DatasetError(f'{where}: duplicate id "{row["id"]}"')
        seen.add(row["id"])
        expected = row.get("expected_articles") or []
        if not isinstance(expected, list) or not all(isinstance(e, str) for e in expected):
            raise DatasetError(f'{where}: "expected_articles" must be a list of article ids')
        if row["answerable"] and not expected:
            raise DatasetError(f'{where}: answerable question needs "expected_articles"')
        history = row.get("history") or []
        if not isinstance(history, list) or not all(
            isinstance(t, dict) and isinstance(t.get("content"), str) for t in history
        ):
            raise DatasetError(f'{where}: "history" must be a list of {{role, content}}')
        questions.append(
            Question(
                id=row["id"],
                question=row["question"],
                answerable=row["answerable"],
                expected=tuple(expected),
                reference_answer=row.get("reference_answer"),
                history=tuple((str(t.get("role", "user")), t["content"]) for t in history),
                source=str(row.get("source", "")),
                line=n,
                conversation=str(row.get("conversation_id") or ""),
            )
        )
    if not questions:
        raise DatasetError(f"{path}: no questions")
    return questions


TURN_SUFFIX = re.compile(r"[-_:.]t\d+$")


def conversations(questions: Sequence[Question]) -> list[list[Question]]:
    """Questions grouped by conversation, so a split never puts turns of one conversation on both
    sides. Two questions share a conversation when they share a `conversation_id`, an id up to a
    turn suffix ("-t02"), or an opening message (a follow-up's first history turn is the opening
    question of its conversation)."""
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    keys_of = []
    for q in questions:
        opening = q.history[0][1] if q.history else q.question
        keys = [f"id:{TURN_SUFFIX.sub('', q.id)}", f"open:{opening.strip().lower()}"]
        if q.conversation:
            keys.append(f"conv:{q.conversation}")
        for k in keys[1:]:
            parent[root(k)] = root(keys[0])
        keys_of.append(keys[0])
    groups: dict[str, list[Question]] = {}
    for q, key in zip(questions, keys_of, strict=True):
        groups.setdefault(root(key), []).append(q)
    return list(groups.values())


def calibration_split(
    questions: Sequence[Question], share: float = 0.5
) -> tuple[list[Question], list[Question]]:
    """(calibration, evaluation): whole conversations, assigned by a hash of their first id so
    the split is stable across runs and machines, and never depends on the file's order."""
    calibrate: list[Question] = []
    evaluate: list[Question] = []
    for group in conversations(questions):
        digest = hashlib.sha256(min(q.id for q in group).encode()).digest()
        side = calibrate if int.from_bytes(digest[:4], "big") / 2**32 < share else evaluate
        side.extend(group)
    order = {q.id: i for i, q in enumerate(questions)}
    return sorted(calibrate, key=lambda q: order[q.id]), sorted(evaluate, key=lambda q: order[q.id])
