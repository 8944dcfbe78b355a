"""Load prompt files from ``prompts/``, reject unknown or missing keys, render strictly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, StrictUndefined, TemplateError

from assistant.errors import ConfigError

SCHEMA: dict[str, set[str]] = {
    "templates": {
        "answer_lead_in", "no_information", "clarify", "out_of_scope", "out_of_scope_injury", "out_of_scope_animal",
        "out_of_scope_health", "chat", "injection_refused", "mixed_off_topic", "refuse_dosing", "dosing_facts_lead_in",
        "urgent_emergency", "urgent", "within_days", "clarify_lead_in", "clarify_general_lead_in",
        "urgent_general_info_lead_in", "diagnosis_caveat", "input_too_long", "empty_input", "unavailable",
        "not_covered",
    },
    "referral": {"routine", "emergency", "urgent", "within_days", "out_of_scope", "dosing"},
    "llm": {"system", "answer", "condense"},
    "judge": {"system", "item"},
}


class PromptBook:
    """All prompt files, validated at start-up so a typo fails fast instead of mid-conversation."""

    def __init__(self, directory: Path) -> None:
        self._env = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
        self._texts: dict[str, dict[str, str]] = {}
        for name, keys in SCHEMA.items():
            path = directory / f"{name}.yaml"
            if not path.exists():
                raise ConfigError(f"prompt file missing: {path}")
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            if not isinstance(data, dict):
                raise ConfigError(f"{path}: expected a mapping of keys to texts")
            unknown, missing = set(data) - keys, keys - set(data)
            if unknown or missing:
                raise ConfigError(f"{path}: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")
            self._texts[name] = {k: str(v) for k, v in data.items()}

    def render(self, name: str, key: str, **variables: Any) -> str:
        try:
            return self._env.from_string(self._texts[name][key]).render(**variables).strip()
        except KeyError as exc:
            raise ConfigError(f"no prompt '{name}.{key}'") from exc
        except TemplateError as exc:
            raise ConfigError(f"prompt '{name}.{key}': {exc}") from exc
