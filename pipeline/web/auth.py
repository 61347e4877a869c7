"""Access: DASHBOARD_TOKEN guards every state-changing request, and reading too when set.

- No token configured: reading is open (the dashboard listens on 127.0.0.1
  only), every state-changing request is refused with how to set one.
- Token configured: every request but the login form and static assets needs
  it, as `Authorization: Bearer <token>` or the cookie the login form sets.
  Cookie-authenticated changes must also come from the dashboard's own pages
  (SameSite=Strict cookie, Origin checked).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import urllib.parse
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from pipeline.settings import Settings
from pipeline.web.deps import template

COOKIE = "stonks_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HOW_TO_SET = (
    "set DASHBOARD_TOKEN (e.g. `DASHBOARD_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')`) "
    "in the environment or .env"
)
router = APIRouter(include_in_schema=False)


class UnsafeBind(SystemExit):
    """Asked to listen beyond this machine without a token."""


def is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, settings: Settings) -> None:
    if is_local(host) or token_of(settings):
        return
    raise UnsafeBind(
        f"refusing to listen on {host} without a token: anyone who can reach that address could send, "
        f"requeue, cancel and purge messages. Either {HOW_TO_SET}, or listen on 127.0.0.1 (the default)."
    )


def token_of(settings: Settings) -> str | None:
    token = settings.dashboard_token
    return token.get_secret_value() if token is not None and token.get_secret_value() else None


def session_value(token: str) -> str:
    """What the cookie holds: derived from the token, never the token itself."""
    return hmac.new(token.encode(), b"minifig-stonks dashboard session", hashlib.sha256).hexdigest()


def bearer_ok(request: Request, token: str) -> bool:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


def cookie_ok(request: Request, token: str) -> bool:
    value = request.cookies.get(COOKIE)
    return value is not None and hmac.compare_digest(value, session_value(token))


def same_origin(request: Request) -> bool:
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None
    return urllib.parse.urlsplit(origin).netloc == request.headers.get("host")


def wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/v1/") or path == "/openapi.json" or path.endswith(".csv")


def refuse(request: Request, status: int, message: str) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if wants_json(request):
        return JSONResponse({"detail": message}, status_code=status, headers=headers)
    return template(request, "error.html", {"status": status, "message": message},
                                      status_code=status, headers=headers)


Handler = Callable[[Request], Awaitable[Response]]


def make_guard(settings: Settings) -> Callable[[Request, Handler], Awaitable[Response]]:
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = request.url.path
        if path == "/login" or path.startswith("/static/"):
            return await call_next(request)
        changing = request.method not in SAFE_METHODS
        token = token_of(settings)
        request.state.authenticated = False
        if token is None:
            if changing:
                return refuse(request, 403, f"actions are disabled because no DASHBOARD_TOKEN is set: {HOW_TO_SET}, "
                                            "then restart the dashboard")
            return await call_next(request)
        by_bearer = bearer_ok(request, token)
        if not (by_bearer or cookie_ok(request, token)):
            if changing or wants_json(request):
                return refuse(request, 401, "this needs the dashboard token: send 'Authorization: Bearer "
                                            "<DASHBOARD_TOKEN>', or log in at /login")
            return RedirectResponse(f"/login?next={urllib.parse.quote(str(request.url.path))}", status_code=303)
        if changing and not by_bearer and not same_origin(request):
            return refuse(request, 403,
                          "refused: a cookie-authenticated change must come from the dashboard's own pages")
        request.state.authenticated = True
        return await call_next(request)

    return guard


def safe_next(value: str | None) -> str:
    return value if value and value.startswith("/") and not value.startswith("//") else "/"


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    return template(
        request, "login.html", {"next": safe_next(next), "error": None})


@router.post("/login")
async def login(request: Request) -> Response:
    from pipeline.web.forms import read_form

    form = await read_form(request)
    token = token_of(request.app.state.settings)
    target = safe_next(form.get("next"))
    if token is None:
        error = f"This dashboard has no token, so nobody can log in: {HOW_TO_SET}."
    elif hmac.compare_digest(form.get("token", "").encode(), token.encode()):
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, session_value(token), httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", max_age=12 * 3600)
        return response
    else:
        await asyncio.sleep(0.5)  # slows guessing down
        error = "That is not the dashboard token."
    return template(
        request, "login.html", {"next": target, "error": error}, status_code=401)


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response
