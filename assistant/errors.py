"""The project's error tree; every failure a user can see is one of these.

    AssistantError
    ├── ConfigError              bad settings, bad prompt file, missing optional dependency
    ├── InputError               a question, history or file the caller must fix
    ├── IndexNotReady            no index yet, a damaged one, or one built by other versions (says what to run)
    ├── IndexBusy                another process is writing to the index
    ├── IngestError              a document could not be read or stored
    ├── DiskFull                 not enough free space to write the index (nothing was changed)
    └── BackendUnavailable       a chat-model server or Chroma server did not answer
"""

from __future__ import annotations


class AssistantError(Exception):
    """Base of every error the project raises on purpose."""


class ConfigError(AssistantError):
    """Settings, prompt files or installed extras are wrong; fix the configuration."""


class InputError(AssistantError):
    """The caller's input (question, history, path) cannot be used as given."""


class IndexNotReady(AssistantError):
    """The vector index is missing or incompatible; the message names the command to run."""


class IndexBusy(AssistantError):
    """Another writer holds the index lock; the message says so instead of hanging."""


class IngestError(AssistantError):
    """A document could not be parsed, validated or stored."""


class DiskFull(AssistantError):
    """Too little free space for a write to the index; the index is left as it was before the write."""


class BackendUnavailable(AssistantError):
    """A remote backend (chat model, Chroma server) failed or timed out."""
