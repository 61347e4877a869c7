"""The sandbox server: one socket, one path prefix per stand-in service, a control API under /_sandbox."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from datetime import UTC, date, datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from . import control
from .bricklink import BricklinkService
from .brickset import BricksetService
from .ebay import EbayService
from .faults import Fault, FaultBoard, answer_with_fault, check_fault
from .messages import Request, Response, json_response
from .rebrickable import RebrickableService
from .service import Service

log = logging.getLogger(__name__)

DATE_HEADER = "X-Sandbox-Date"
_POLL_S = 0.05  # how soon serve_forever notices stop(); tests start and stop many servers


class _Stats:
    def __init__(self, names: list[str]) -> None:
        self._names = names
        self._lock = threading.Lock()
        self._requests: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._faults: dict[str, int] = defaultdict(int)

    def record(self, service: str, path: str, faulted: bool) -> None:
        with self._lock:
            self._requests[service][path] += 1
            self._faults[service] += faulted

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {name: {"requests": sum(self._requests[name].values()), "faults": self._faults[name],
                           "paths": dict(sorted(self._requests[name].items()))} for name in self._names}

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._faults.clear()


class SandboxServer:
    """Brickset, Rebrickable, eBay and BrickLink on one local socket, with sample data and faults on demand.

    Binding happens here, so `url` is known (a free port when `port` is 0) before `start()`.
    `rebrickable_rate` is (requests per second, burst) for each key's bucket, or None for no throttling.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, seed: int = 42, *, brickset_daily_limit: int = 100,
                 ebay_daily_limit: int = 5000, rebrickable_rate: tuple[float, int] | None = (1.0, 60)) -> None:
        self.seed = seed
        services: list[Service] = [BricksetService(seed, brickset_daily_limit),
                                   RebrickableService(seed, rebrickable_rate), EbayService(seed, ebay_daily_limit),
                                   BricklinkService(seed)]
        self.services: dict[str, Service] = {service.name: service for service in services}
        self._faults = FaultBoard(seed)
        self._stats = _Stats(list(self.services))
        self._httpd = _HTTPServer((host, port), self)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        address, port = self._httpd.server_address[:2]
        host = address.decode() if isinstance(address, bytes) else str(address)
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def base_urls(self) -> dict[str, str]:
        """Where each service's base-URL setting should point."""
        return {name: self.url + service.prefix for name, service in self.services.items()}

    def start(self) -> SandboxServer:
        """Serves in a daemon thread until `stop()`."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(_POLL_S,), name="sandbox", daemon=True)
        self._thread.start()
        log.info("sandbox serving at %s", self.url)
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def serve_forever(self) -> None:
        """Serves in this thread until interrupted."""
        try:
            self._httpd.serve_forever(_POLL_S)
        finally:
            self._httpd.server_close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def inject(self, service: str, kind: str, count: int | None = 1, probability: float = 1.0,
               delay_s: float | None = None, path_contains: str | None = None) -> None:
        """Arms a fault; raises ValueError for an unknown service or kind."""
        fault = Fault(service, kind, count, probability, delay_s, path_contains)
        check_fault(fault, self.services)
        self._faults.add(fault)

    def clear_faults(self) -> None:
        self._faults.clear()

    def faults(self) -> list[dict[str, object]]:
        return self._faults.armed()

    def stats(self) -> dict[str, dict[str, Any]]:
        """Requests per service and per path, and how many of them a fault answered."""
        return self._stats.snapshot()

    def reset(self) -> None:
        """Clears faults, counters, quotas, throttles and issued tokens."""
        self._faults.reset()
        self._stats.clear()
        for service in self.services.values():
            service.reset()

    def respond(self, method: str, target: str, headers: Message, body: bytes) -> Response:
        parts = urlsplit(target)
        origin = f"http://{headers.get('Host')}" if headers.get("Host") else self.url
        if parts.path == "/_sandbox" or parts.path.startswith("/_sandbox/"):
            return control.answer(self, method, parts.path, body, origin)
        service = next((s for s in self.services.values()
                        if parts.path == s.prefix or parts.path.startswith(s.prefix + "/")), None)
        if service is None:
            return json_response(404, {"error": f"no sandbox service at {parts.path}",
                                       "services": {name: origin + s.prefix for name, s in self.services.items()}})
        try:
            day = _listing_day(headers.get(DATE_HEADER))
        except ValueError:
            return json_response(400, {"error": f"{DATE_HEADER} must be a date, YYYY-MM-DD"})
        request = Request(method, parts.path[len(service.prefix):] or "/", parts.path, parts.query, headers, body,
                          origin, day)
        fault = self._faults.draw(service, target)
        self._stats.record(service.name, parts.path, fault is not None)
        return answer_with_fault(fault, service, request) if fault else service.handle(request)


def _listing_day(header: str | None) -> date:
    if header:
        return date.fromisoformat(header.strip())
    return datetime.now(UTC).date()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's backlog is 5: a burst of new connections (a worker's threads starting
    # together) overflowed it, and each SYN dropped waited a second for its retransmission.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sandbox: SandboxServer) -> None:
        self.sandbox = sandbox
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real services offer
    # Headers and body are two writes: without TCP_NODELAY the body waits for the client's
    # delayed ACK, about 40 ms on every request of a kept-alive connection.
    disable_nagle_algorithm = True
    server_version = "MinifigStonksSandbox/1.0"
    server: _HTTPServer

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            response = self.server.sandbox.respond(self.command, self.path, self.headers, body)
        except Exception:  # a sandbox bug must still answer, or the client hangs until its timeout
            log.exception("sandbox failed on %s %s", self.command, self.path)
            response = json_response(500, {"error": "the sandbox itself failed; see its log"})
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up first, e.g. on a slow fault
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _answer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)
