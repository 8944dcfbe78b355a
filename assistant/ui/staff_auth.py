"""Staff login: bcrypt-hashed accounts, cookie sessions with idle expiry, and a throttle on failed attempts.

Nothing here keeps a password: accounts hold bcrypt hashes (a plain ``ui.staff_password`` is hashed once at start),
sessions hold a random token and the account name, and the log records who failed from where, never what was typed.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import bcrypt

from assistant.config import UISettings
from assistant.errors import ConfigError

log = logging.getLogger(__name__)

COOKIE = "knee_staff"
# bcrypt reads at most 72 bytes; longer passwords are refused rather than silently cut.
MAX_PASSWORD_BYTES = 72
DEFAULT_ACCOUNT = "staff"
# A hash of nothing anyone can type, checked for unknown names so a login takes as long whoever is named.
_DUMMY_HASH = bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds=12))


def hash_password(password: str) -> str:
    """A bcrypt hash for ``ui.staff_password_hash`` or ``ui.staff_accounts``."""
    data = password.encode()
    if not password.strip():
        raise ConfigError("an empty password cannot protect the staff console")
    if len(data) > MAX_PASSWORD_BYTES:
        raise ConfigError(f"the password is {len(data)} bytes; bcrypt reads at most {MAX_PASSWORD_BYTES}")
    return bcrypt.hashpw(data, bcrypt.gensalt(rounds=12)).decode()


def staff_accounts(ui: UISettings) -> dict[str, bytes]:
    """Account name -> bcrypt hash from the settings; empty when the console is disabled.

    An empty password or hash is a configuration error (it must never mean "no password").
    """
    accounts: dict[str, bytes] = {}
    for name, hashed in ui.staff_accounts.items():
        accounts[_account_name(name)] = _checked_hash(hashed, f"ui.staff_accounts.{name}")
    if ui.staff_password_hash is not None:
        accounts[DEFAULT_ACCOUNT] = _checked_hash(ui.staff_password_hash, "ui.staff_password_hash")
    if ui.staff_password is not None:
        if not ui.staff_password.strip():
            raise ConfigError("ui.staff_password is set but empty: set a real password (or a hash with "
                              "`knee-assistant staff hash-password`), or unset it to disable the staff console")
        accounts.setdefault(DEFAULT_ACCOUNT, hash_password(ui.staff_password).encode())
    return accounts


def _account_name(name: str) -> str:
    if not name.isascii() or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise ConfigError(f"ui.staff_accounts: account name {name!r} may hold only letters, digits, '-', '_', '.'")
    return name


def _checked_hash(hashed: str, key: str) -> bytes:
    if not hashed.strip():
        raise ConfigError(f"{key} is set but empty: an empty hash would mean no password")
    if not hashed.startswith(("$2a$", "$2b$", "$2y$")) or len(hashed) != 60:
        raise ConfigError(f"{key} is not a bcrypt hash: make one with `knee-assistant staff hash-password`")
    return hashed.encode()


def verify_login(accounts: dict[str, bytes], name: str, password: str) -> str | None:
    """The account name when ``password`` is right for it, else None (same cost for unknown names)."""
    data = password.encode()
    hashed = accounts.get(name)
    if len(data) > MAX_PASSWORD_BYTES or not data:
        bcrypt.checkpw(b"-", _DUMMY_HASH)
        return None
    ok = bcrypt.checkpw(data, hashed if hashed is not None else _DUMMY_HASH)
    return name if ok and hashed is not None else None


class LoginThrottle:
    """Failed logins limited per client address (back-off that doubles) and over all addresses at once.

    Past ``per_address`` failures within ``window_s`` an address waits 2, 4, 8 ... seconds (at most ``window_s``)
    before it may try again; past ``overall`` failures a minute from everyone, every login waits a minute.
    """

    def __init__(self, per_address: int = 5, overall: int = 100, window_s: float = 900.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_address, self.overall, self.window_s = per_address, overall, window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()
        self._lock = threading.Lock()

    def wait(self, address: str) -> float:
        """Seconds before ``address`` may try again (0: now)."""
        now = self._clock()
        with self._lock:
            self._expire(now)
            if len(self._all) >= self.overall:
                return max(1.0, 60.0 - (now - self._all[-self.overall]))
            failures = self._failures.get(address)
            if not failures or len(failures) < self.per_address:
                return 0.0
            back_off = min(self.window_s, 2.0 ** (len(failures) - self.per_address + 1))
            return max(0.0, back_off - (now - failures[-1]))

    def failed(self, address: str) -> int:
        """Record a failure; returns the address's failures within the window."""
        now = self._clock()
        with self._lock:
            self._expire(now)
            self._all.append(now)
            failures = self._failures.setdefault(address, deque())
            failures.append(now)
            return len(failures)

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)

    def _expire(self, now: float) -> None:
        while self._all and now - self._all[0] >= 60.0:
            self._all.popleft()
        for address in list(self._failures):
            failures = self._failures[address]
            while failures and now - failures[0] >= self.window_s:
                failures.popleft()
            if not failures:
                del self._failures[address]


@dataclass
class StaffSession:
    account: str
    started: float
    last_seen: float


class StaffSessions:
    """Server-side sessions behind a random cookie token: idle and absolute expiry, logout, a bounded table."""

    def __init__(self, idle_s: float, max_age_s: float, clock: Callable[[], float] = time.monotonic,
                 capacity: int = 1000) -> None:
        self.idle_s, self.max_age_s, self.capacity = idle_s, max_age_s, capacity
        self._clock = clock
        self._sessions: dict[str, StaffSession] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, ui: UISettings) -> StaffSessions:
        return cls(ui.staff_idle_minutes * 60.0, ui.staff_session_hours * 3600.0)

    def start(self, account: str) -> str:
        token = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            if len(self._sessions) >= self.capacity:
                oldest = min(self._sessions, key=lambda t: self._sessions[t].last_seen)
                del self._sessions[oldest]
            self._sessions[token] = StaffSession(account, now, now)
        return token

    def account(self, token: str | None) -> str | None:
        """The account of a live session (and mark it used), or None."""
        if not token:
            return None
        now = self._clock()
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if now - session.last_seen > self.idle_s or now - session.started > self.max_age_s:
                del self._sessions[token]
                return None
            session.last_seen = now
            return session.account

    def end(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)
