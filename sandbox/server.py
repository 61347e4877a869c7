"""The sandbox server: its Starlette application on one socket, served by uvicorn in a thread or in the foreground."""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from .app import create_app
from .bricklink import BricklinkService
from .brickset import BricksetService
from .ebay import EbayService
from .rebrickable import RebrickableService
from .service import Service
from .switchboard import Switchboard

log = logging.getLogger(__name__)

SERVER_HEADER = f"MinifigStonksSandbox/1.0 Python/{sys.version.split()[0]}"
# A worker's threads connect together; a short backlog drops SYNs, and each waits a second to be sent again.
BACKLOG = 2048
# Kept-alive connections stay open while idle: a client then never reuses one just as the sandbox closes it.
KEEP_ALIVE_S = 3600
GRACE_S = 1  # what stop() leaves requests in flight (a slow fault) to finish
_STARTUP_S = 10.0


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
        self.board = Switchboard(seed, services)
        self.services = self.board.services
        self._socket = _listen(host, port)
        self._address: tuple[str, int] = self._socket.getsockname()[:2]
        # httptools, not h11: a fifth of the CPU per request less, and it reads a proxy's absolute-form
        # target (GET http://host/path) as its path.
        config = uvicorn.Config(create_app(self.board), http="httptools", loop="asyncio", ws="none", lifespan="on",
                                log_config=None, access_log=False, proxy_headers=False, server_header=False,
                                headers=[("Server", SERVER_HEADER)], backlog=BACKLOG, timeout_keep_alive=KEEP_ALIVE_S,
                                timeout_graceful_shutdown=GRACE_S)
        self._uvicorn = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._address
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}"

    def base_urls(self) -> dict[str, str]:
        """Where each service's base-URL setting should point."""
        return self.board.base_urls(self.url)

    def start(self) -> SandboxServer:
        """Serves in a daemon thread until `stop()`; returns once the server accepts connections."""
        self._thread = threading.Thread(target=self._uvicorn.run, kwargs={"sockets": [self._socket]}, name="sandbox",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + _STARTUP_S
        while not self._uvicorn.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the sandbox at {self.url} did not start; see its log")
            time.sleep(0.001)
        log.info("sandbox serving at %s", self.url)
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._uvicorn.should_exit = True
            self._thread.join()
            self._thread = None
        self._socket.close()

    def serve_forever(self) -> None:
        """Serves in this thread until interrupted (SIGINT or SIGTERM, re-raised once the server has stopped)."""
        try:
            self._uvicorn.run(sockets=[self._socket])
        finally:
            self._socket.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def inject(self, service: str, kind: str, count: int | None = 1, probability: float = 1.0,
               delay_s: float | None = None, path_contains: str | None = None) -> None:
        """Arms a fault; raises ValueError for an unknown service or kind."""
        self.board.inject(service, kind, count, probability, delay_s, path_contains)

    def clear_faults(self) -> None:
        self.board.clear_faults()

    def faults(self) -> list[dict[str, object]]:
        return self.board.faults()

    def stats(self) -> dict[str, dict[str, Any]]:
        """Requests per service and per path, and how many of them a fault answered."""
        return self.board.stats()

    def reset(self) -> None:
        """Clears faults, counters, quotas, throttles and issued tokens."""
        self.board.reset()


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # Named TCP, or asyncio leaves Nagle's algorithm on for the connections accepted: headers and body are
    # two writes, and the body then waits for the client's delayed ACK, about 40 ms on every request.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)  # connections made before start() wait here
    except OSError:
        sock.close()
        raise
    return sock
