"""Sessions, CSRF, the rights table, security headers and the upload limit.

A session (a signed, HttpOnly, SameSite=Strict cookie; Starlette's
``SessionMiddleware``) holds the account id ``uid``, its ``session_version``
``sv`` and a CSRF token ``csrf``. Each request reads the account from the
store: a disabled account, one whose password changed or one that logged
out (its ``session_version`` raised), has its cookie refused (401) at once,
also in the other worker processes.

Every state-changing request (POST) but the login carries the session's
CSRF token in the ``X-CSRF-Token`` header or the ``csrf_token`` form field.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from forestsink.errors import Denied, UploadTooLargeError
from forestsink.store.users import Account, get_user_by_id

__all__ = [
    "CSP",
    "RIGHTS",
    "Denied",
    "SecurityHeadersMiddleware",
    "UploadLimitMiddleware",
    "authorize",
    "new_csrf_token",
]

#: Who may call which endpoint: the rights table (README). ``own`` means
#: only for the editor's own districts (deliveries, history, withdraw, the
#: as-of and diff views, the Excel rows, the batch list: batches touching
#: them) or own batches (undo).
RIGHTS: dict[str, dict[str, str]] = {
    "logout": {"admin": "yes", "editor": "yes", "viewer": "yes"},
    "me": {"admin": "yes", "editor": "yes", "viewer": "yes"},
    "validate": {"admin": "yes", "editor": "own", "viewer": "no"},
    "land": {"admin": "yes", "editor": "own", "viewer": "no"},
    "batches": {"admin": "yes", "editor": "own", "viewer": "yes"},
    "history": {"admin": "yes", "editor": "own", "viewer": "yes"},
    "progress": {"admin": "yes", "editor": "yes", "viewer": "yes"},
    "withdraw": {"admin": "yes", "editor": "own", "viewer": "no"},
    "undo": {"admin": "yes", "editor": "own", "viewer": "no"},
    "users": {"admin": "yes", "editor": "no", "viewer": "no"},
    "asof": {"admin": "yes", "editor": "own", "viewer": "yes"},
    "diff": {"admin": "yes", "editor": "own", "viewer": "yes"},
    "download": {"admin": "yes", "editor": "own", "viewer": "yes"},
}

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
_STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def denied_response(err: Denied) -> JSONResponse:
    """Return the JSON answer of a refusal: ``error`` (zh / en), ``zh``, ``en``."""
    return JSONResponse(
        {
            "error": f"{err.zh} / {err.en}",
            "zh": err.zh,
            "en": err.en,
            **err.extra,
        },
        status_code=err.status,
    )


def new_csrf_token() -> str:
    """Return a fresh random CSRF token (256 bits)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Caller:
    """The account of a request and what its role may do."""

    account: Account

    @property
    def name(self) -> str:
        """The login name (recorded with every batch)."""
        return self.account.name

    def right(self, action: str) -> str:
        """``yes``, ``own`` or ``no`` for *action* (see :data:`RIGHTS`)."""
        return RIGHTS[action][self.account.role]

    def may_district(self, adcode: str) -> bool:
        """Return True if the account may act on district *adcode*."""
        if self.account.role == "editor":
            return adcode in self.account.districts
        return True


async def _csrf_sent(request: Request) -> str:
    sent = request.headers.get("x-csrf-token")
    if sent:
        return sent
    kind = request.headers.get("content-type", "")
    if kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get("csrf_token")
        return value if isinstance(value, str) else ""
    return ""


async def authorize(request: Request, action: str) -> Caller:
    """Return the caller of *request* if it may do *action*, else raise Denied.

    401 without a valid session (none, tampered, expired, a disabled account,
    an older session version: password changed or logged out); 403 without
    the CSRF token on a state-changing request, or when the role may not do
    *action* at all.
    """
    session = request.session
    uid, version = session.get("uid"), session.get("sv")
    if not isinstance(uid, int) or not isinstance(version, int):
        raise Denied(401, "未登录", "not logged in: POST /api/login first")
    store = request.app.state.store
    account = await run_in_threadpool(get_user_by_id, store, uid)
    if account is None or account.disabled or account.session_version != version:
        session.clear()
        raise Denied(
            401,
            "会话已失效（已退出、账户已停用或密码已更改），请重新登录",
            "the session is no longer valid (logged out, account disabled or "
            "password changed); log in again",
        )
    if request.method in _STATE_CHANGING:
        expected = session.get("csrf", "")
        sent = await _csrf_sent(request)
        if not expected or not sent or not hmac.compare_digest(sent, expected):
            raise Denied(
                403,
                "缺少或错误的CSRF令牌",
                "missing or wrong CSRF token: send the csrf_token from the "
                "login as the X-CSRF-Token header",
            )
    caller = Caller(account)
    if caller.right(action) == "no":
        raise Denied(
            403,
            f"角色“{account.role}”无权执行此操作",
            f"the role {account.role!r} may not do this ({action})",
        )
    return caller


class SecurityHeadersMiddleware:
    """Add the CSP and the other security headers to every response."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope.get("path", "").startswith("/api/")

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in {h for h, _ in _HEADERS}
                ]
                headers.extend(_HEADERS)
                if api:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class UploadLimitMiddleware:
    """Refuse request bodies larger than *limit* bytes with 413.

    A declared ``Content-Length`` over the limit is refused before anything
    is read; a body without one (chunked) is counted as it arrives.
    """

    def __init__(self, app, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    def _too_large(self) -> JSONResponse:
        mb = self.limit / 1024 / 1024
        return denied_response(
            Denied(
                413,
                f"上传文件过大（上限 {mb:g} MB）",
                f"the upload is larger than the limit of {mb:g} MB",
            )
        )

    async def __call__(self, scope, receive, send) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.limit + 1
                if declared > self.limit:
                    await self._too_large()(scope, receive, send)
                    return
        seen = 0
        started = False

        async def counting_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise UploadTooLargeError(f"body over {self.limit} bytes")
            return message

        async def tracking_send(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except UploadTooLargeError:
            if started:
                raise
            await self._too_large()(scope, receive, send)
