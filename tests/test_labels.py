"""Labels: fed by customers (a thumbs-down on an answer), agents (one click in the console, over
the API) and docs owners (`copilot calibrate --labels`), stored redacted, and read back by the
calibration, which says in words what they certify."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from copilot.answer.agent import Agent
from copilot.answer.confidence import ConfidenceModel
from copilot.record import db, labels
from copilot.service import Copilot
from copilot.settings import ApiKey, Settings

ALWAYS = ConfidenceModel(answer_threshold=0.0, clarify_threshold=0.0)
KEY = "agent-key-labels"
AGENT = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def service(sample: Any, tmp_path: Path) -> Iterator[tuple[TestClient, Copilot]]:
    keys = [ApiKey(name="ana", scope="agent", sha256=hashlib.sha256(KEY.encode()).hexdigest())]
    settings = Settings(kb_dir=sample[0].kb_dir, data_dir=tmp_path, api_keys=keys)
    engine = db.connect(None, tmp_path)
    copilot = Copilot(settings, engine=engine, agent=Agent(sample[2], ALWAYS))
    with TestClient(create_app(settings, copilot=copilot)) as client:
        yield client, copilot
    engine.dispose()


def chat(client: TestClient, message: str) -> dict[str, Any]:
    reply = client.post("/v1/chat", json={"message": message})
    assert reply.status_code == 200
    return reply.json()  # type: ignore[no-any-return]


def test_a_thumbs_down_on_an_answer_is_a_customer_label(
    service: tuple[TestClient, Copilot],
) -> None:
    client, copilot = service
    first = chat(client, "my card was declined, I'm ana@acme.io")
    assert first["type"] == "answer"
    token = {"X-Conversation-Token": first["conversation_token"]}
    url = f"/v1/conversations/{first['conversation_id']}/feedback"
    assert client.post(url, json={"kind": "wrong_answer"}, headers=token).status_code == 200
    [label] = labels.all_labels(copilot.engine)
    assert (label.verdict, label.source) == ("not_this", "customer")
    assert label.articles == (first["citations"][0]["article_id"],)
    assert label.question == "my card was declined, I'm [EMAIL]"  # redacted like every write
    # Helpful feedback is not a label; the same thumbs-down twice is one label.
    client.post(url, json={"kind": "helpful"}, headers=token)
    client.post(url, json={"kind": "wrong_answer"}, headers=token)
    assert len(labels.all_labels(copilot.engine)) == 1


def test_feedback_turn_ids_must_be_replies_of_that_conversation(
    service: tuple[TestClient, Copilot],
) -> None:
    client, _ = service
    one, other = chat(client, "invoice pdf"), chat(client, "sso loop")
    token = {"X-Conversation-Token": one["conversation_token"]}
    url = f"/v1/conversations/{one['conversation_id']}/feedback"
    theirs = client.post(url, json={"kind": "helpful", "turn_id": other["turn_id"]}, headers=token)
    assert (
        theirs.status_code == 404 and "not a reply in this conversation" in theirs.json()["error"]
    )
    huge = client.post(url, json={"kind": "helpful", "turn_id": 2**64}, headers=token)
    assert huge.status_code == 422
    assert (
        client.post(url, json={"kind": "helpful", "turn_id": 10**9}, headers=token).status_code
        == 404
    )


def test_agents_label_in_one_click_under_their_own_name(
    service: tuple[TestClient, Copilot],
) -> None:
    client, copilot = service
    reply = chat(client, "can guests be billed to the client")
    url = f"/v1/conversations/{reply['conversation_id']}/labels"
    assert client.post(url, json={"article_id": None}).status_code == 401
    done = client.post(url, json={"article_id": None}, headers=AGENT)
    assert done.status_code == 200 and done.json() == {
        "verdict": "not_in_kb",
        "articles": [],
        "by": "ana",
    }
    answers = client.post(url, json={"article_id": "guest-access-limits"}, headers=AGENT)
    assert answers.json()["verdict"] == "answers"
    unknown = client.post(url, json={"article_id": "no-such-article"}, headers=AGENT)
    assert unknown.status_code == 404 and "no-such-article" in unknown.json()["error"]
    stored = labels.all_labels(copilot.engine)
    assert [(x.verdict, x.source, x.author) for x in stored] == [
        ("not_in_kb", "agent", "ana"),
        ("answers", "agent", "ana"),
    ]
    assert stored[0].question == "can guests be billed to the client"


def test_cli_calibrate_imports_labels_and_says_what_they_certify(
    sample: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from copilot.cli import main

    data = tmp_path / "data"
    shutil.copytree(sample[0].data_dir, data)
    few = tmp_path / "few.jsonl"
    rows = [
        {"id": "a", "question": "my card was declined", "answerable": True,
         "expected_articles": ["payment-declined"]},
        {"id": "b", "question": "is there a dark mode", "answerable": False},
    ]  # fmt: skip
    few.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert main(["calibrate", "--data-dir", str(data), "--labels", str(few)]) == 0
    out = capsys.readouterr().out
    assert "answer when confidence >=" in out
    assert "labels: not certified yet: needs about 45 answered labelled questions" in out
    engine = db.connect(None, data)
    assert len(labels.all_labels(engine)) == 2  # kept for the next calibration
    assert main(["calibrate", "--data-dir", str(data), "--labels", str(few)]) == 0
    assert len(labels.all_labels(engine)) == 2  # the same file twice: the same labels
    engine.dispose()
