from __future__ import annotations

from pathlib import Path

import pytest

from copilot.errors import ConfigError
from copilot.settings import load_settings


def test_env_file_and_flags_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "copilot.toml").write_text('kb_dir = "from-toml"\nreview_every_days = 90\n')
    assert load_settings().kb_dir == Path("from-toml")
    assert load_settings().review_every_days == 90
    monkeypatch.setenv("COPILOT_KB_DIR", "from-env")
    assert load_settings().kb_dir == Path("from-env")
    assert load_settings(kb_dir=Path("from-flag")).kb_dir == Path("from-flag")
    assert load_settings(kb_dir=None).kb_dir == Path("from-env")  # unset flags override nothing


def test_api_key_falls_back_to_openai_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    assert load_settings().llm_api_key == "sk-openai"
    monkeypatch.setenv("COPILOT_LLM_API_KEY", "sk-copilot")
    assert load_settings().llm_api_key == "sk-copilot"
    assert load_settings(llm_api_key="sk-flag").llm_api_key == "sk-flag"


def test_invalid_setting_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COPILOT_REVIEW_EVERY_DAYS", "-5")
    with pytest.raises(ConfigError, match="review_every_days"):
        load_settings()


def test_invalid_toml_setting_names_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "copilot.toml").write_text(
        'kb_dir = "kb"\n\n[[api_keys]]\nname = "ana"\nscope = "agent"\nsha256 = "'
        + "a" * 64
        + '"\n\n[[api_keys]]\nname = "bo"\nscope = "boss"\nsha256 = "'
        + "b" * 64
        + '"\n'
    )
    with pytest.raises(ConfigError, match=r"copilot\.toml:10: api_keys\.1\.scope"):
        load_settings()


def test_each_api_key_is_one_agent() -> None:
    import hashlib

    import pytest

    from copilot.errors import ConfigError
    from copilot.settings import load_settings

    def key(name: str) -> dict[str, str]:
        digest = hashlib.sha256(name.encode() + b"x").hexdigest()
        return {"name": name, "scope": "agent", "sha256": digest}

    with pytest.raises(ConfigError, match="used twice: ana"):
        load_settings(api_keys=[key("ana"), key("ana")])
    with pytest.raises(ConfigError, match="copilot are reserved"):
        load_settings(api_keys=[key("copilot")])
