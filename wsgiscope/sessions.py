"""``trace --session NAME``: cookies, headers and auth kept between traces.

As HTTPie's sessions: ``wsgiscope trace app POST /login --form user=ada
password=... --session ada`` then ``wsgiscope trace app /account --session
ada`` traces the logged-in page. A session is a JSON file:

- ``NAME`` (letters, digits, ``_``, ``-``, ``.``) is stored under the user's
  config directory, per host, as HTTPie stores its own:
  ``$XDG_CONFIG_HOME/wsgiscope/sessions/<host>/<NAME>.json``
  (``~/.config/...`` by default; ``WSGISCOPE_CONFIG_DIR`` overrides the
  ``wsgiscope`` directory); a ``NAME`` with a ``/`` is a file path;
- the file holds secrets (cookies, the Authorization header), so it is
  written with mode 0600 (its directory 0700), replaced atomically;
- cookies the app sets (``Set-Cookie``) are kept, deleted ones (``Max-Age=0``
  or an ``Expires`` in the past) removed; request headers given on the
  command line are kept too, except ``Content-*``, ``If-*`` and ``Cookie``
  (as HTTPie); later commands' headers win over stored ones.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
import typing as t
from email.utils import parsedate_to_datetime
from http.cookies import CookieError, SimpleCookie
from pathlib import Path

from wsgiscope.errors import UsageError

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_NOT_KEPT = ("content-", "if-")


def config_dir() -> Path:
    """wsgiscope's directory under the user's config directory."""
    override = os.environ.get("WSGISCOPE_CONFIG_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "wsgiscope"


def session_path(name: str, host: str) -> Path:
    """Where session ``name`` for ``host`` lives.

    :raises UsageError: for a name that is neither a plain name nor a path.
    """
    if "/" in name or os.sep in name:
        return Path(name).expanduser()
    if not _NAME.match(name) or name in (".", ".."):
        raise UsageError(
            f"invalid session name {name!r}",
            hint="use letters, digits, '_', '-' and '.', or a file path with a '/'",
        )
    safe_host = re.sub(r"[^A-Za-z0-9_.-]", "_", host) or "localhost"
    return config_dir() / "sessions" / safe_host / f"{name}.json"


class Session:
    """One session file's content: cookies, headers and auth."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cookies: dict[str, dict[str, t.Any]] = {}
        self.headers: dict[str, str] = {}

    @classmethod
    def load(cls, path: Path) -> Session:
        """The session at ``path`` (empty when the file does not exist yet).

        :raises UsageError: a file that is not a session.
        """
        session = cls(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return session
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise UsageError(
                f"cannot read the session file {path}: {exc}",
                hint="delete it to start a new session",
            ) from None
        if not isinstance(data, dict):
            raise UsageError(f"{path} is not a wsgiscope session (not a JSON object)")
        cookies = data.get("cookies") or {}
        headers = data.get("headers") or {}
        if isinstance(cookies, dict):
            session.cookies = {
                str(k): v for k, v in cookies.items() if isinstance(v, dict) and "value" in v
            }
        if isinstance(headers, dict):
            session.headers = {str(k): str(v) for k, v in headers.items()}
        session._expire()
        return session

    def _expire(self) -> None:
        now = time.time()
        for name in [n for n, c in self.cookies.items() if (c.get("expires") or now + 1) <= now]:
            del self.cookies[name]

    def request_headers(self, path: str) -> list[tuple[str, str]]:
        """Headers the next request gets from the session (before the command's own)."""
        headers = list(self.headers.items())
        jar = [
            f"{name}={cookie['value']}"
            for name, cookie in self.cookies.items()
            if path.startswith(str(cookie.get("path") or "/"))
        ]
        if jar:
            headers.append(("Cookie", "; ".join(jar)))
        return headers

    def remember_headers(self, headers: t.Iterable[tuple[str, str | None]]) -> None:
        """Keep the command line's request headers (not Content-*, If-*, Cookie)."""
        for name, value in headers:
            lower = name.lower()
            if lower.startswith(_NOT_KEPT) or lower == "cookie":
                continue
            for stored in [k for k in self.headers if k.lower() == lower]:
                del self.headers[stored]
            if value is not None:  # Header: removes it from the session too
                self.headers[name] = value

    def remember_cookies(self, response_headers: t.Iterable[tuple[str, str]]) -> None:
        """Apply the response's ``Set-Cookie`` headers."""
        now = time.time()
        for name, value in response_headers:
            if name.lower() != "set-cookie":
                continue
            parsed: SimpleCookie = SimpleCookie()
            try:
                parsed.load(value)
            except CookieError:
                continue
            for key, morsel in parsed.items():
                expires = _expiry(morsel, now)
                if expires is not None and expires <= now:
                    self.cookies.pop(key, None)
                    continue
                self.cookies[key] = {
                    "value": morsel.value,
                    "path": morsel["path"] or "/",
                    "expires": expires,
                }

    def save(self) -> None:
        """Write the session, readable by the user only (0600)."""
        directory = self.path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(
                    {
                        "__meta__": {"about": "wsgiscope session (trace --session)"},
                        "cookies": self.cookies,
                        "headers": self.headers,
                    },
                    file,
                    indent=2,
                )
                file.write("\n")
            os.chmod(temporary, 0o600)
            os.replace(temporary, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(temporary)
            raise UsageError(
                f"cannot write the session file {self.path}: {exc.strerror or exc}"
            ) from None


def _expiry(morsel: t.Any, now: float) -> float | None:
    max_age = morsel["max-age"]
    if max_age:
        try:
            return now + int(max_age)
        except ValueError:
            return None
    expires = morsel["expires"]
    if expires:
        try:
            return parsedate_to_datetime(expires).timestamp()
        except (TypeError, ValueError):
            return None
    return None
