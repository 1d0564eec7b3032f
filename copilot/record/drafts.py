"""Drafts agents asked for, kept with their ticket for review: redacted like every other write."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any

from sqlalchemy import Engine

from copilot.answer.draft import Draft
from copilot.record import db
from copilot.safety.redact import redact_json


@db.unavailable_when_down()
def store(engine: Engine, ticket: dict[str, Any], draft: Draft) -> str:
    draft_id = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            db.drafts.insert().values(
                id=draft_id, ticket=redact_json(ticket), reply=redact_json(asdict(draft))
            )
        )
    return draft_id
