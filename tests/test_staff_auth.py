"""Staff accounts, sessions and the login throttle; output and display neutralisation (security review, item 5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import Assistant
from assistant.config import UISettings
from assistant.errors import ConfigError
from assistant.safety.output import filter_output
from assistant.ui.render import footnote_markers, plain_markdown, user_bubble
from assistant.ui.staff_auth import LoginThrottle, StaffSessions, hash_password, staff_accounts, verify_login
from assistant.ui.staff_documents import upload_files


def test_accounts_hold_hashes_and_check_passwords() -> None:
    ui = UISettings(staff_accounts={"physio": hash_password("a long secret")}, staff_password="local only")
    accounts = staff_accounts(ui)
    assert set(accounts) == {"physio", "staff"} and all(h.startswith(b"$2b$") for h in accounts.values())
    assert verify_login(accounts, "physio", "a long secret") == "physio"
    assert verify_login(accounts, "staff", "local only") == "staff"
    assert verify_login(accounts, "physio", "local only") is None
    assert verify_login(accounts, "nobody", "a long secret") is None
    assert verify_login(accounts, "physio", "x" * 100) is None


@pytest.mark.parametrize("settings", [
    {"staff_password": ""}, {"staff_password": "   "}, {"staff_password_hash": ""},
    {"staff_password_hash": "plain text"}, {"staff_accounts": {"bad name!": hash_password("secret one")}},
])
def test_an_empty_password_or_a_bad_hash_stops_start_up(settings: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        staff_accounts(UISettings(**settings))  # type: ignore[arg-type]


def test_no_account_means_no_console() -> None:
    assert staff_accounts(UISettings()) == {}


def test_throttle_backs_off_per_address_and_overall() -> None:
    now = [0.0]
    throttle = LoginThrottle(per_address=3, overall=10, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.wait("a") == 0
        throttle.failed("a")
    assert throttle.wait("a") == pytest.approx(2.0) and throttle.wait("b") == 0
    now[0] = 2.5
    assert throttle.wait("a") == 0
    throttle.failed("a")
    assert throttle.wait("a") == pytest.approx(4.0)  # doubles
    for i in range(6):
        throttle.failed(f"x{i}")
    assert throttle.wait("fresh") > 0  # ten failures a minute from anywhere: everyone waits
    now[0] = 1000.0
    assert throttle.wait("a") == 0 and throttle.wait("fresh") == 0


def test_sessions_expire_when_idle_and_at_their_age_and_end_at_logout() -> None:
    now = [0.0]
    sessions = StaffSessions(idle_s=60, max_age_s=300, clock=lambda: now[0])
    token = sessions.start("physio")
    now[0] = 50
    assert sessions.account(token) == "physio"
    now[0] = 111
    assert sessions.account(token) is None  # idle for 61 s
    token = sessions.start("physio")
    for t in range(150, 451, 50):
        now[0] = t
        alive = sessions.account(token)
    assert alive is None  # used every 50 s, still over its five minutes
    token = sessions.start("physio")
    sessions.end(token)
    assert sessions.account(token) is None and sessions.account("made-up") is None


def test_output_filter_drops_every_link_and_image_form() -> None:
    text = ("See [this][r] and ![img][r] or [here]( http://evil.example/x ) or https://evil.example/p "
            "and www.evil.example, cited [1][2].\n[r]: http://evil.example/ref")
    out, removed = filter_output(text)
    assert "evil" not in out and "[1][2]" in out
    assert {"link definition", "reference link", "markdown image", "bare link"} <= set(removed)


def test_rendered_text_keeps_only_our_markup() -> None:
    assert footnote_markers("a [1] and [x](y)", {1}) == ("a <a class='fn' href='#sources' title='Open source 1'>[1]</a>"
                                                         " and \\[x\\](y)")
    shown = plain_markdown("<b>hi</b> ![t](http://e/x.png) **bold** a@b.example")
    assert "<b>" not in shown and "![" not in shown and "**" not in shown and "](" not in shown
    assert len(user_bubble("x" * 5000, limit=2000)) < 400


def test_upload_names_with_control_or_direction_characters_are_refused(assistant: Assistant, tmp_path: Path) -> None:
    spoof = tmp_path / "report\u202egpj.md"
    spoof.write_text("# A\n\nText.\n")
    plain = tmp_path / "handout.md"
    plain.write_text("# Handout\n\nKnee exercises for runners with kneecap pain.\n")
    result = upload_files(assistant, [spoof, plain])
    assert "control or text-direction" in result.refused[spoof.name]
    assert result.report is not None and result.report.added


def test_too_many_files_in_one_upload_are_refused(assistant: Assistant, tmp_path: Path) -> None:
    assistant.settings.ui.max_upload_files = 2
    paths = []
    for i in range(3):
        path = tmp_path / f"note{i}.md"
        path.write_text(f"# Note {i}\n\nText.\n")
        paths.append(path)
    result = upload_files(assistant, paths)
    assert len(result.refused) == 3 and result.report is None


def test_long_input_is_refused_before_normalisation(assistant: Assistant, monkeypatch: pytest.MonkeyPatch) -> None:
    import assistant.rag.service as service

    seen: list[int] = []
    real = service.clean_text
    monkeypatch.setattr(service, "clean_text", lambda text: seen.append(len(text)) or real(text))
    answer = assistant.ask("ﬁ" * 3_000_000)
    assert answer.behavior == "clarify" and "longer than" in answer.text
    assert all(n <= assistant.settings.safety.max_input_chars for n in seen)
