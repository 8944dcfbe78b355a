"""A running assistant follows an index swapped in by another process (`index rebuild`), without a restart."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from assistant import Assistant
from tests.conftest import ROOT

NEW_ARTICLE = """# Knee pain after cycling

Cleats that twist the foot inward on the pedal can strain the outer side of the knee.
Setting the cleats so the feet point straight ahead often eases that strain in riders who also run.
"""


def _cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KNEE_DATA_DIR": str(data_dir)}
    command = [str(Path(sys.executable).parent / "knee-assistant"), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, cwd=ROOT, check=False)


def test_served_assistant_follows_a_rebuild_by_the_cli(assistant: Assistant, articles: Path) -> None:
    data_dir = assistant.settings.paths.data_dir
    before = {d["doc_id"] for d in assistant.documents()}
    assert assistant.ask("Why does my kneecap hurt on stairs?").behavior == "answer"

    (articles / "cycling-knee.md").write_text(NEW_ARTICLE, encoding="utf-8")
    (articles / "outer-knee.md").unlink()
    done = _cli("index", "rebuild", str(articles), data_dir=data_dir)
    assert done.returncode == 0, done.stderr

    answer = assistant.ask("Can my cycling cleats cause knee pain?")
    assert assistant.follow_index_swap() is False  # already reopened by that ask
    after = {d["doc_id"] for d in assistant.documents()}
    assert after == before - {"outer-knee"} | {"cycling-knee"}
    assert "cycling-knee" in {c.doc_id for c in answer.citations}  # the new document is searched and quoted
    assert assistant.verify_index() == []
