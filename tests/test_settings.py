"""Settings come from defaults, a TOML file and KNEE_* variables; prompts are validated files."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import load_settings
from assistant.errors import ConfigError
from assistant.prompts import PromptBook

ROOT = Path(__file__).resolve().parent.parent


def test_toml_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "knee.toml"
    config.write_text('[retrieval]\ntop_k = 9\n[ui]\nport = 8000\n', encoding="utf-8")
    monkeypatch.setenv("KNEE_CONFIG", str(config))
    monkeypatch.setenv("KNEE_UI__PORT", "8123")
    monkeypatch.setenv("KNEE_DATA_DIR", str(tmp_path / "d"))
    settings = load_settings()
    assert settings.retrieval.top_k == 9
    assert settings.ui.port == 8123
    assert settings.paths.data_dir == tmp_path / "d"
    assert settings.ui.host == "127.0.0.1"
    assert settings.llm.provider == "extractive"


def test_bad_setting_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "knee.toml"
    config.write_text('[llm]\nprovider = "magic"\n', encoding="utf-8")
    monkeypatch.setenv("KNEE_CONFIG", str(config))
    with pytest.raises(ConfigError, match="provider"):
        load_settings()


def test_prompt_files_reject_unknown_keys_and_missing_variables(tmp_path: Path) -> None:
    book = PromptBook(ROOT / "prompts")
    assert "2000" in book.render("templates", "input_too_long", limit=2000)
    with pytest.raises(ConfigError):
        book.render("templates", "input_too_long")
    for name in ("templates", "referral", "llm"):
        (tmp_path / f"{name}.yaml").write_text((ROOT / "prompts" / f"{name}.yaml").read_text(), encoding="utf-8")
    with (tmp_path / "referral.yaml").open("a", encoding="utf-8") as fh:
        fh.write("surprise: hello\n")
    with pytest.raises(ConfigError, match="surprise"):
        PromptBook(tmp_path)
