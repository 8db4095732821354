"""Settings of the web application, and where its session secret lives.

The session secret signs the session cookies (HMAC, itsdangerous). It is
``$FORESTSINK_SECRET`` when that is set (the same value on every server
that shares a store), else a random secret kept in a file made once (mode
600): beside a GeoPackage store (``STORE.gpkg.web-secret``), or for a
PostGIS store ``$XDG_CONFIG_HOME/forestsink/web-secret``. Every worker
process reads the same secret; deleting the file logs everyone out.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, fields, replace
from pathlib import Path

from forestsink.errors import OptionError

__all__ = ["Settings", "load_secret"]

SECRET_ENV = "FORESTSINK_SECRET"


@dataclass(frozen=True)
class Settings:
    """Limits and places of the web application.

    Attributes
    ----------
    secret : str or None
        Session secret; None: see :func:`load_secret`.
    secret_file : Path or None
        Where the secret is kept when not given (default: see module).
    upload_dir : Path or None
        Folder of the uploaded files, one sub-folder per upload (default:
        ``STORE.gpkg.uploads`` beside a GeoPackage store, else
        ``./forestsink-uploads``).
    max_upload_bytes : int
        Largest request body accepted (default: 200 MB); larger gets 413.
    login_limit : int
        Failed logins for one account, or from one address, within
        ``login_window_s`` that trigger the lockout (default: 10).
    login_window_s, login_lockout_s : float
        The window and the lockout (default: 300 s each); locked-out logins
        get 429.
    session_max_age_s : int
        Lifetime of a session cookie (default: 8 hours).
    https_only : bool
        Mark the session cookie ``Secure`` (default: False; set it behind a
        TLS reverse proxy).
    progress_wait_s : float
        How long a progress request waits for the tables of a newer store
        state before it answers the last complete ones, marked not current
        with their as-of state (default: 0 s: at once; the page asks again).
    progress_interval_s : float
        Least time between two computations of the progress tables
        (default: 2 s): a stream of uploads costs one computation per
        interval, not one per upload.
    progress_process : bool
        Compute the progress tables in a helper process of each worker, at
        a lower priority, instead of a thread beside the requests (default:
        False for an application made in a script or test; ``serve`` sets
        it True unless given; see :mod:`forestsink.web.progress_cache`).
    """

    secret: str | None = None
    secret_file: Path | None = None
    upload_dir: Path | None = None
    max_upload_bytes: int = 200 * 1024 * 1024
    login_limit: int = 10
    login_window_s: float = 300.0
    login_lockout_s: float = 300.0
    session_max_age_s: int = 8 * 3600
    https_only: bool = False
    progress_wait_s: float = 0.0
    progress_interval_s: float = 2.0
    progress_process: bool = False

    @classmethod
    def of(cls, value: Settings | dict | None) -> Settings:
        """Return settings from a :class:`Settings`, a dict or None."""
        if value is None:
            return cls()
        if isinstance(value, Settings):
            return value
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise OptionError(
                f"web settings: unknown setting(s) {unknown}; known: {sorted(known)}."
            )
        settings = replace(cls(), **value)
        for name in ("upload_dir", "secret_file"):
            if getattr(settings, name) is not None:
                settings = replace(settings, **{name: Path(getattr(settings, name))})
        if settings.progress_wait_s < 0 or settings.progress_interval_s < 0:
            raise OptionError(
                "web 设置：progress_wait_s 和 progress_interval_s 不能为负数 / web "
                "settings: progress_wait_s and progress_interval_s must not be "
                f"negative (got {settings.progress_wait_s}, "
                f"{settings.progress_interval_s}); give 0 or more seconds."
            )
        if settings.max_upload_bytes < 1 or settings.login_limit < 1:
            raise OptionError(
                "web settings: max_upload_bytes and login_limit must be at least 1."
            )
        return settings


def _is_url(location) -> bool:
    return str(location).startswith(("postgresql://", "postgres://"))


def default_secret_file(location) -> Path:
    """Where the secret of the store at *location* is kept by default."""
    if _is_url(location):
        base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
        return Path(base) / "forestsink" / "web-secret"
    path = Path(location)
    return path.with_name(path.name + ".web-secret")


def default_upload_dir(location) -> Path:
    """Where uploads to the store at *location* are kept by default."""
    if _is_url(location):
        return Path.cwd() / "forestsink-uploads"
    path = Path(location)
    return path.with_name(path.name + ".uploads")


def load_secret(location, settings: Settings) -> str:
    """Return the session secret (env, settings, or the file, made once)."""
    if settings.secret:
        return settings.secret
    if os.environ.get(SECRET_ENV):
        return os.environ[SECRET_ENV]
    path = settings.secret_file or default_secret_file(location)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:  # first worker makes it; the others read it
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    text = path.read_text().strip()
    if len(text) < 32:
        raise OptionError(
            f"{path}: the session secret is shorter than 32 characters (or "
            "being written); delete the file to make a new one."
        )
    return text
