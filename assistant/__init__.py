"""Runner's Knee Assistant: cited, guarded answers to runners' knee-pain questions, offline."""

from assistant.config import Settings, load_settings
from assistant.container import build_assistant
from assistant.errors import AssistantError
from assistant.rag.service import Assistant
from assistant.schema import Answer, AskOptions, Citation

__all__ = [
    "Answer",
    "AskOptions",
    "Assistant",
    "AssistantError",
    "Citation",
    "Settings",
    "build_assistant",
    "load_settings",
]
