"""The sandbox as a Starlette application: the control API under /_sandbox, every other path to its service.

The services' handlers are plain blocking functions (a broad eBay search of 200 items
takes 30 ms), so they run on a pool of threads and never hold up the event loop. The
pool is asyncio's executor rather than Starlette's threadpool: a hop there costs about
130 µs of CPU here against 220 µs, and most answers take less than that to make. A
slow fault's delay is waited out on the event loop and holds no thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect
from starlette.requests import Request as HttpRequest
from starlette.responses import Response as HttpResponse
from starlette.routing import Route
from starlette.types import Scope

from . import control
from .messages import Response, json_response
from .switchboard import Call, Switchboard

log = logging.getLogger(__name__)

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
HANDLER_THREADS = 8  # the handlers hold the GIL while they work: more threads would only wait for it
Endpoint = Callable[[HttpRequest], Awaitable[HttpResponse]]


def create_app(board: Switchboard) -> Starlette:
    handlers: ThreadPoolExecutor | None = None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal handlers
        with ThreadPoolExecutor(HANDLER_THREADS, thread_name_prefix="sandbox-handler") as handlers:
            yield

    @_guarded
    async def control_api(request: HttpRequest) -> HttpResponse:
        path = urlsplit(_target(request.scope)).path
        return _outgoing(control.answer(board, request.method, path, await request.body(), _origin(request)))

    @_guarded
    async def service(request: HttpRequest) -> HttpResponse:
        body = await request.body()
        answer = board.receive(request.method, _target(request.scope), request.headers, body, _origin(request))
        if isinstance(answer, Call):
            if answer.delay_s:
                await asyncio.sleep(answer.delay_s)
            answer = await asyncio.get_running_loop().run_in_executor(handlers, answer.answer)
        return _outgoing(answer)

    routes = [Route("/_sandbox", control_api, methods=METHODS),
              Route("/_sandbox/{rest:path}", control_api, methods=METHODS),
              Route("/{rest:path}", service, methods=METHODS)]
    return Starlette(routes=routes, lifespan=lifespan)


def _guarded(endpoint: Endpoint) -> Endpoint:
    @functools.wraps(endpoint)
    async def guarded(request: HttpRequest) -> HttpResponse:
        try:
            return await endpoint(request)
        except ClientDisconnect:  # gone before its body arrived: nobody to answer
            return HttpResponse(status_code=400)
        except Exception:  # a sandbox bug must still answer, or the client hangs until its timeout
            log.exception("sandbox failed on %s %s", request.method, _target(request.scope))
            return _outgoing(json_response(500, {"error": "the sandbox itself failed; see its log"}))

    return guarded


def _target(scope: Scope) -> str:
    """The request target as received: the raw path, percent-escapes kept, and the query."""
    raw: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
    query: bytes = scope.get("query_string", b"")
    return raw.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")


def _origin(request: HttpRequest) -> str:
    """The scheme and authority the client addressed: its Host header, else the socket it reached."""
    host = request.headers.get("Host")
    if host:
        return f"http://{host}"
    name, port = request.scope["server"]
    return f"http://[{name}]:{port}" if ":" in name else f"http://{name}:{port}"


def _outgoing(response: Response) -> HttpResponse:
    """A service's answer as sent: its own content type, byte for byte, with Content-Length added."""
    return HttpResponse(response.body, response.status, {"Content-Type": response.content_type, **response.headers})
