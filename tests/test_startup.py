"""Start-up refuses what it cannot serve: bad settings files and keys, empty values, a missing or empty index, a
data folder that is a file - each one line naming the file, key or folder and the fix."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from assistant import build_assistant
from assistant.config import load_settings
from assistant.errors import ConfigError
from assistant.providers.embeddings import LocalEmbeddings
from tests.conftest import make_settings


def _config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes) -> Path:
    path = tmp_path / "knee.toml"
    path.write_bytes(content)
    monkeypatch.setenv("KNEE_CONFIG", str(path))
    return path


@pytest.mark.parametrize(("content", "expected"), [
    (b'[ui]\nstaff_pasword = "x"\n', "unknown setting 'ui.staff_pasword' (did you mean 'ui.staff_password'?)"),
    (b"[retreival]\ntop_k = 3\n", "unknown settings section 'retreival' (did you mean 'retrieval'?)"),
    (b"[ui\nport = 1\n", "is not valid TOML"),
    (b'[ui]\nhost = "caf\xe9"\n', "is not UTF-8 text (byte 0xe9 on line 2)"),
    (b'[ui]\nport = "high"\n', "invalid setting ui.port (in "),
])
def test_a_bad_settings_file_is_one_line_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes,
                                                   expected: str) -> None:
    path = _config(tmp_path, monkeypatch, content)
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = str(err.value)
    assert expected in message and str(path) in message and "\n" not in message, message


def test_a_wrong_knee_config_path_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KNEE_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match=r"KNEE_CONFIG names .*nope\.toml, which does not exist"):
        load_settings()
    monkeypatch.setenv("KNEE_CONFIG", str(tmp_path))
    with pytest.raises(ConfigError, match="is a folder"):
        load_settings()


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("KNEE_UI__STAFF_PASWORD", "x", "KNEE_UI__STAFF_PASWORD: unknown setting 'ui.staff_pasword' (did you mean"),
    ("KNEE_UI__STAFF_PASSWORD", "", "ui.staff_password is set but empty"),
    ("KNEE_UI__STAFF_PASSWORD", "   ", "ui.staff_password is set but empty"),
    ("KNEE_DATA_DIR", "", "KNEE_DATA_DIR is set but empty"),
    ("KNEE_PATHS__DATA_DIR", "", "KNEE_PATHS__DATA_DIR is set but empty"),
    ("KNEE_UI__PORT", "high", "invalid setting ui.port (from KNEE_UI__PORT)"),
])
def test_bad_environment_variables_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str,
                                               value: str, expected: str) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert expected in str(err.value), str(err.value)


def test_the_data_folder_is_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KNEE_DATA_DIR", "some/where")
    assert load_settings().paths.data_dir == tmp_path / "some" / "where"
    monkeypatch.delenv("KNEE_DATA_DIR")
    assert load_settings().paths.data_dir == tmp_path / ".knee-data"


def _cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    from assistant.cli import main

    monkeypatch.setattr(sys, "argv", ["knee-assistant", *argv])
    with pytest.raises(SystemExit) as done:
        main()
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out, err


@pytest.fixture
def shared_model(monkeypatch: pytest.MonkeyPatch, embeddings: LocalEmbeddings) -> None:
    """The CLI builds its assistant with the session's model instead of loading another."""
    monkeypatch.setattr("assistant.container.LocalEmbeddings", lambda _settings: embeddings)


@pytest.mark.parametrize("command", [["serve"], ["ask", "What is runner's knee?"], ["index", "verify"]])
def test_a_missing_data_folder_is_refused_and_not_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str],
                                                          command: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "typo-data"
    code, out, err = _cli(monkeypatch, capsys, *command, "--data-dir", "typo-data")
    assert code == 2 and out == ""
    assert err.strip() == (f"error: the data folder {missing} does not exist, so there is no index; run "
                           "`knee-assistant ingest` to build it, or point KNEE_DATA_DIR (or --data-dir) at the folder "
                           "that holds it")
    assert not missing.exists()


def test_a_data_folder_that_is_a_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "data").write_text("not a folder", encoding="utf-8")
    for command in (["ingest", str(tmp_path)], ["serve"]):
        code, _out, err = _cli(monkeypatch, capsys, *command, "--data-dir", str(tmp_path / "data"))
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert f"the data folder {tmp_path / 'data'} is a file" in err


@pytest.mark.usefixtures("shared_model")
def test_an_empty_index_is_refused_by_serve_and_ask_and_fails_verify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], embeddings: LocalEmbeddings
) -> None:
    data = tmp_path / "data"
    build_assistant(make_settings(data), embeddings=embeddings)  # creates the store, ingests nothing
    for command in (["serve"], ["ask", "What is runner's knee?"]):
        code, out, err = _cli(monkeypatch, capsys, *command, "--data-dir", str(data))
        assert code == 2 and out == "", (out, err)
        if command == ["serve"]:  # serve says it is loading before it can see the index is empty
            progress, err = err.split("\n", 1)
            assert progress.startswith("starting: loading"), progress
        assert err.strip() == (f"error: the index in {data} is empty; run `knee-assistant ingest` to build it, or "
                               "point KNEE_DATA_DIR (or --data-dir) at the folder that holds it")
    code, out, err = _cli(monkeypatch, capsys, "index", "verify", "--data-dir", str(data))
    assert code == 1 and "index OK" not in out and "holds no documents: run `knee-assistant ingest`" in err
