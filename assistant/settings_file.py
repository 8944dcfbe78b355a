"""Checks of what the settings are read from, before pydantic sees it: the TOML file (found, readable, UTF-8,
valid TOML), every key in it and in ``KNEE_*`` variables (known, else a did-you-mean), empty values that would
silently mean something else. Each problem is one ``ConfigError`` line naming the file or variable and the fix."""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from assistant.errors import ConfigError

PREFIX = "KNEE_"
# Variables read by ``load_settings`` itself rather than by the settings tree.
SHORT_FORMS = {"KNEE_CONFIG", "KNEE_DATA_DIR", "KNEE_CHROMA_URL"}
NOT_EMPTY = ("KNEE_CONFIG", "KNEE_DATA_DIR", "KNEE_PATHS__DATA_DIR")


def config_file() -> tuple[Path, bool]:
    """The settings file and whether it was named explicitly (``KNEE_CONFIG``) rather than the default."""
    named = os.environ.get("KNEE_CONFIG")
    return (Path(named), True) if named is not None else (Path("knee.toml"), False)


def read_toml(path: Path, explicit: bool) -> dict[str, Any]:
    """The file's tables; {} when the default ``knee.toml`` is absent. A named file must exist."""
    shown = path.expanduser().absolute()
    if not path.exists():
        if explicit:
            raise ConfigError(f"KNEE_CONFIG names {shown}, which does not exist; fix the path or unset KNEE_CONFIG")
        return {}
    if path.is_dir():
        raise ConfigError(f"the settings file {shown} is a folder; point KNEE_CONFIG at a .toml file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the settings file {shown}: {exc.strerror or exc}; fix its permissions") \
            from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"the settings file {shown} is not UTF-8 text (byte 0x{raw[exc.start]:02x} on line "
                          f"{line}); save it as UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"the settings file {shown} is not valid TOML ({exc}); fix that line") from None


def check_env(model: type[BaseModel], environ: Mapping[str, str] | None = None) -> None:
    """Every ``KNEE_SECTION__FIELD`` variable names a real setting; the variables that take a path are not empty."""
    env = os.environ if environ is None else environ
    for name in NOT_EMPTY:
        if name in env and not env[name].strip():
            raise ConfigError(f"{name} is set but empty; set it to a real path or unset it")
    for name in sorted(env):
        if not name.startswith(PREFIX) or name in SHORT_FORMS or "__" not in name:
            continue
        section, _, rest = name[len(PREFIX):].lower().partition("__")
        problem = unknown_key(model, [section, rest.split("__")[0]])
        if problem:
            raise ConfigError(f"{name}: {problem}; fix or unset the variable")


def check_keys(model: type[BaseModel], data: Mapping[str, Any], where: str) -> None:
    """Every section and key in ``data`` (a TOML file's tables, or overrides) is a real setting."""
    for section, body in data.items():
        keys = list(body) if isinstance(body, Mapping) else []
        for key in keys or [None]:
            problem = unknown_key(model, [section] if key is None else [section, key])
            if problem:
                raise ConfigError(f"{where}: {problem}")


def unknown_key(model: type[BaseModel], path: list[str]) -> str | None:
    """Why ``path`` (section, field) is not a setting, with the nearest real name; None when it is one."""
    fields = model.model_fields
    head = path[0]
    if head not in fields:
        return f"unknown settings section '{head}'{_did_you_mean(head, fields)}"
    if len(path) < 2:
        return None
    section = fields[head].annotation
    if not (isinstance(section, type) and issubclass(section, BaseModel)):
        return None
    if path[1] not in section.model_fields:
        return f"unknown setting '{head}.{path[1]}'{_did_you_mean(path[1], section.model_fields, head + '.')}"
    return None


def describe(exc: ValidationError, toml: Mapping[str, Any], toml_path: Path) -> str:
    """One line for the first validation error, naming where the value came from."""
    err = exc.errors()[0]
    loc = [str(x) for x in err["loc"]]
    dotted = ".".join(loc)
    env_name = PREFIX + "__".join(x.upper() for x in loc[:2])
    if len(loc) >= 2 and env_name in os.environ:
        source = f" (from {env_name})"
    elif loc and _holds(toml, loc):
        source = f" (in {toml_path.expanduser().absolute()})"
    else:
        source = ""
    return f"invalid setting {dotted}{source}: {err['msg']}"


def _holds(data: Mapping[str, Any], loc: list[str]) -> bool:
    node: Any = data
    for part in loc:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def _did_you_mean(word: str, choices: Mapping[str, Any], prefix: str = "") -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{prefix}{close[0]}'?)" if close else ""
