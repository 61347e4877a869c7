"""A local HTTP server that answers whatever body a test sets: the real clients meet fuzzed replies over a socket."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Canned:
    body: bytes = b"{}"
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


class CannedServer:
    """Answers each request with the reply set for the longest path prefix matching it, else `default`.

        with CannedServer() as server:
            server.set("/identity/v1/oauth2/token", Canned(TOKEN))
            server.default = Canned(fuzzed_body)
            client = EbayClient(server.url, ...)
    """

    def __init__(self) -> None:
        self.default = Canned()
        self.by_path: dict[str, Canned] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                server.requests.append(self.path)
                reply = server.reply_for(self.path)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="canned-http", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def set(self, path: str, reply: Canned) -> None:
        self.by_path[path] = reply

    def reply_for(self, path: str) -> Canned:
        matches = [prefix for prefix in self.by_path if path.startswith(prefix)]
        return self.by_path[max(matches, key=len)] if matches else self.default

    def __enter__(self) -> CannedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
