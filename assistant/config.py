"""Settings tree: defaults < TOML file (``knee.toml`` or ``KNEE_CONFIG``) < ``KNEE_*`` environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class PathSettings(BaseModel):
    data_dir: Path = Field(Path(".knee-data"), description="Everything the app writes lives here (index, logs).")
    corpus_dir: Path = Field(PROJECT_ROOT / "corpus", description="Default folder ingested by `ingest`.")
    prompts_dir: Path = Field(PROJECT_ROOT / "prompts", description="Prompt and template files.")

    @property
    def uploads_dir(self) -> Path:
        """Documents staff add in the console; ``index rebuild`` reads them with the corpus."""
        return self.data_dir / "uploads"


class EmbeddingSettings(BaseModel):
    model_path: Path | None = Field(
        None, description="Folder of a sentence-transformers model; default: the bundled all-MiniLM-L6-v2."
    )
    batch_size: int = Field(64, ge=1, description="Texts embedded per batch during ingestion.")


class IngestSettings(BaseModel):
    max_mb: float = Field(25.0, gt=0, description="Files larger than this are rejected.")
    max_chars: int = Field(2_000_000, ge=1000, description="Most extracted characters per file.")
    parse_timeout_s: float = Field(30.0, gt=0, description="Time limit for parsing one HTML or PDF file.")
    parse_memory_mb: int = Field(1024, ge=128, description="Memory cap of the child process that parses HTML/PDF.")
    chunk_tokens: int = Field(
        230, ge=32, le=512,
        description="Most word pieces (of the embedding model's tokenizer) in a chunk; lowered further so that "
        "title, section and chunk together fit the model's input limit (256 for MiniLM).",
    )
    overlap_tokens: int = Field(
        0, ge=0, le=128,
        description="A chunk split inside a section repeats its predecessor's last whole sentences up to this many "
        "word pieces (0: no overlap).",
    )


class StoreSettings(BaseModel):
    collection: str = Field("knee_corpus", description="Chroma collection holding the chunks.")
    url: str | None = Field(
        None, description="A Chroma server (http://host:port) instead of the local store; also KNEE_CHROMA_URL."
    )
    timeout_s: float = Field(
        20.0, gt=0, description="Seconds one call to a Chroma server may take; past it the question or ingestion "
        "fails with BackendUnavailable instead of waiting for a hung server."
    )


class RetrievalSettings(BaseModel):
    top_k: int = Field(6, ge=1, le=50, description="Chunks passed to the composer.")
    candidates: int = Field(20, ge=1, le=200, description="Chunks fetched from the store before re-ranking.")
    lexical_weight: float = Field(
        1.0, ge=0.0, le=2.0, description="Weight of the BM25 ranking against the dense ranking in rank fusion."
    )
    question_weight: float = Field(
        1.0, ge=0.0, le=2.0,
        description="Weight of the ranking by the sections' question variants (article front matter) in rank fusion.",
    )
    question_candidates: int = Field(5, ge=1, le=50, description="Sections ranked by their questions.")
    question_min_similarity: float = Field(
        0.6, ge=0.0, le=1.0, description="A section's best question must be at least this similar to count."
    )
    min_similarity: float = Field(
        0.25, description="Best chunk similarity below which the answer is 'no_information'."
    )


class AnswerSettings(BaseModel):
    max_sentences: int = Field(5, ge=1, le=7, description="Most sentences in an extractive answer.")
    min_sentences: int = Field(3, ge=1, le=7, description="Fewest sentences the composer aims for.")


class ModelServer(BaseModel):
    """Where a chat model is served: shared by the answer model (``llm``) and the eval judge (``eval.judge``)."""

    base_url: str | None = Field(None, description="Server URL for openai-compatible or ollama providers.")
    model: str = Field("", description="Model name on that server.")
    api_key: str = Field("not-needed", description="API key for openai-compatible servers.")
    timeout_s: float = Field(
        30.0, gt=0, description="Seconds one LLM answer may take (request and stream); then the extractive answer."
    )
    max_retries: int = Field(2, ge=0, le=2, description="Retries after a failed request.")


class LLMSettings(ModelServer):
    provider: Literal["extractive", "openai", "ollama"] = Field(
        "extractive", description="Who writes the answer: offline extractive composer, or an LLM server."
    )


class JudgeSettings(ModelServer):
    """The judge model that grades rubric items in ``knee-assistant eval`` (never used to answer runners)."""

    provider: Literal["none", "openai", "ollama"] = Field(
        "none", description="none: rubric items are graded by the offline checks; or an LLM server, as for llm."
    )
    timeout_s: float = Field(60.0, gt=0, description="Seconds one grading call may take.")
    max_retries: int = Field(1, ge=0, le=2, description="Retries after a failed request.")

    def as_llm(self) -> LLMSettings:
        """The same server described as ``llm`` settings, for the shared chat-model factory."""
        return LLMSettings(provider="extractive" if self.provider == "none" else self.provider,
                           **self.model_dump(exclude={"provider"}))


class EvalSettings(BaseModel):
    judge: JudgeSettings = Field(default_factory=JudgeSettings)


class SafetySettings(BaseModel):
    max_input_chars: int = Field(2000, ge=100, description="Longer questions are refused with a clear message.")


class UISettings(BaseModel):
    host: str = Field("127.0.0.1", description="Interface the chat binds to.")
    port: int = Field(7860, ge=1, le=65535, description="Port of the chat.")
    queue_size: int = Field(64, ge=1, description="Requests waiting before new ones are told the app is busy.")
    rate_limit_per_minute: int = Field(10, ge=1, description="Questions one chat session may ask per minute.")
    sessions_kept: int = Field(
        2000, ge=100, description="Sessions whose state Gradio keeps, least recently used dropped first; an API call "
        "without a session_hash opens one, about 40 KB each (Gradio's default, 10,000, lets that grow by 400 MB)."
    )
    torch_threads: int = Field(
        1, ge=0, description="torch threads of the served app; answers run two at a time, so one each keeps both "
        "cores busy without spinning (0: torch's default, one per core; benchmarks/README.md)."
    )
    staff_password: str | None = Field(
        None, description="Plain password of the staff account 'staff' (local testing only: it is hashed in memory "
        "at start; a public site sets staff_password_hash or staff_accounts). Unset everywhere: console disabled."
    )
    staff_password_hash: str | None = Field(
        None, description="bcrypt hash of the staff account 'staff' (`knee-assistant staff hash-password`)."
    )
    staff_accounts: dict[str, str] = Field(
        default_factory=dict, description="Named staff accounts: name -> bcrypt hash (`knee-assistant staff "
        "hash-password`); the name is shown in the log of who changed what."
    )
    staff_idle_minutes: int = Field(30, ge=1, le=24 * 60, description="A staff session ends after this idle time.")
    staff_session_hours: int = Field(12, ge=1, le=24 * 7, description="A staff session ends this long after login.")
    cookie_secure: bool = Field(
        False, description="Send the staff cookie over HTTPS only; set it when a TLS proxy serves the app."
    )
    allowed_hosts: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "localhost", "::1"],
        description="Host names the app answers to (DNS-rebinding guard); add the public name when deploying.",
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins (https://clinic.example) whose pages may call the API with fetch; "
        "empty: none (an iframe or the web component needs none)."
    )
    frame_ancestors: list[str] = Field(
        default_factory=list, description="Sites allowed to embed the runner chat in a frame (besides the app itself)."
    )
    trusted_proxies: list[str] = Field(
        default_factory=list, description="Addresses of reverse proxies whose X-Forwarded-For names the client; "
        "empty: the connecting address is the client."
    )
    root_path: str = Field(
        "", pattern=r"^(/[A-Za-z0-9._~-]+)*$", description="Sub-path of the public address (e.g. /knee) when a reverse "
        "proxy serves the app there and forwards requests with that prefix removed; empty: the app is at the root."
    )
    max_request_kb: int = Field(64, ge=4, description="Largest request body outside staff uploads; larger: 413.")
    rate_limit_per_address: int = Field(
        30, ge=1, description="Questions one client address may ask per minute, over all its sessions."
    )
    feedback_per_minute: int = Field(20, ge=1, description="Thumbs one client address may give per minute.")
    max_upload_files: int = Field(10, ge=1, description="Files one staff upload may carry.")


class PrivacySettings(BaseModel):
    log_chat_text: bool = Field(False, description="Log question text (off: health questions are sensitive).")
    store_transcripts: bool = Field(
        False, description="Keep redacted question/answer pairs in <data_dir>/transcripts.sqlite3 (staff opt-in)."
    )


class Settings(BaseSettings):
    """The whole configuration; pass it around, never import a global."""

    model_config = SettingsConfigDict(env_prefix="KNEE_", env_nested_delimiter="__", extra="forbid")

    paths: PathSettings = Field(default_factory=PathSettings)
    embeddings: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    eval: EvalSettings = Field(default_factory=EvalSettings)
    safety: SafetySettings = Field(default_factory=SafetySettings)
    ui: UISettings = Field(default_factory=UISettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get("KNEE_CONFIG", "knee.toml"))
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml_file))


def load_settings(**overrides: object) -> Settings:
    """Read settings from the TOML file and environment; keyword overrides win (e.g. ``paths={...}``).

    ``KNEE_DATA_DIR`` is accepted as a short form of ``KNEE_PATHS__DATA_DIR``. A settings file that is missing
    (when named by ``KNEE_CONFIG``), unreadable or not TOML, an unknown key, an empty path variable or an empty
    staff password is a ``ConfigError`` naming the file or variable; the data folder comes back absolute.
    """
    from pydantic import ValidationError

    from assistant import settings_file
    from assistant.errors import ConfigError

    toml_path, explicit = settings_file.config_file()
    toml = settings_file.read_toml(toml_path, explicit)
    settings_file.check_keys(Settings, toml, str(toml_path.expanduser().absolute()))
    settings_file.check_env(Settings)
    settings_file.check_keys(Settings, overrides, "load_settings()")
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(settings_file.describe(exc, toml, toml_path)) from exc
    chroma_url = os.environ.get("KNEE_CHROMA_URL")
    if chroma_url and "KNEE_STORE__URL" not in os.environ and "store" not in overrides:
        settings.store.url = chroma_url
    short = os.environ.get("KNEE_DATA_DIR")
    if short and "KNEE_PATHS__DATA_DIR" not in os.environ and "paths" not in overrides:
        settings.paths.data_dir = Path(short)
    settings.paths.data_dir = settings.paths.data_dir.expanduser().absolute()
    if settings.ui.staff_password is not None and not settings.ui.staff_password.strip():
        raise ConfigError("ui.staff_password is set but empty (KNEE_UI__STAFF_PASSWORD= or staff_password = \"\"); "
                          "set a real password, or remove the setting to keep the staff console disabled")
    return settings
