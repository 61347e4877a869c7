"""Clients pointed at the sandbox (short timeouts, retry waits recorded, not slept), and replies made by hand."""

from __future__ import annotations

from typing import Any

from pipeline.sources.bricklink import BricklinkClient
from pipeline.sources.brickset import BricksetClient
from pipeline.sources.ebay import EbayClient
from pipeline.sources.http import Check, Reply, RetryPolicy, judge, make_reply
from pipeline.sources.rebrickable import RebrickableClient
from sandbox import SANDBOX_CREDENTIALS, SandboxServer

TIMEOUT_S = 0.4
ATTEMPTS = 4
CREDENTIALS = SANDBOX_CREDENTIALS


class Sleeps(list[float]):
    """Stands in for `time.sleep` in a retry policy: remembers each wait and returns at once."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def fast_retry(sleeps: Sleeps | None = None, **overrides: Any) -> RetryPolicy:
    settings: dict[str, Any] = {"attempts": ATTEMPTS, "initial_s": 0.01, "max_wait_s": 0.05, "jitter_s": 0.0,
                                "sleep": sleeps if sleeps is not None else Sleeps()}
    return RetryPolicy(**{**settings, **overrides})


def _common(overrides: dict[str, Any]) -> dict[str, Any]:
    return {"timeout_s": TIMEOUT_S, "retry": fast_retry(), **overrides}


def brickset_client(sandbox: SandboxServer, **overrides: Any) -> BricksetClient:
    keys = {"api_key": CREDENTIALS["brickset_api_key"], "username": CREDENTIALS["brickset_username"],
            "password": CREDENTIALS["brickset_password"]}
    picked = {name: overrides.pop(name, value) for name, value in keys.items()}
    return BricksetClient(sandbox.base_urls()["brickset"], **picked, **_common(overrides))


def rebrickable_client(sandbox: SandboxServer, **overrides: Any) -> RebrickableClient:
    api_key = overrides.pop("api_key", CREDENTIALS["rebrickable_api_key"])
    return RebrickableClient(sandbox.base_urls()["rebrickable"], api_key, **_common(overrides))


def ebay_client(sandbox: SandboxServer, **overrides: Any) -> EbayClient:
    client_id = overrides.pop("client_id", CREDENTIALS["ebay_client_id"])
    client_secret = overrides.pop("client_secret", CREDENTIALS["ebay_client_secret"])
    return EbayClient(sandbox.base_urls()["ebay"], client_id, client_secret, **_common(overrides))


def bricklink_client(sandbox: SandboxServer, **overrides: Any) -> BricklinkClient:
    names = ("consumer_key", "consumer_secret", "token_value", "token_secret")
    keys = [overrides.pop(name, CREDENTIALS[f"bricklink_{name}"]) for name in names]
    return BricklinkClient(sandbox.base_urls()["bricklink"], *keys, **_common(overrides))


def requests_to(sandbox: SandboxServer, service: str, path_end: str = "") -> int:
    """How many requests the sandbox has seen for `service` on paths ending with `path_end`."""
    paths: dict[str, int] = sandbox.stats()[service]["paths"]
    return sum(count for path, count in paths.items() if path.endswith(path_end))


JSON = {"Content-Type": "application/json"}


def reply(body: str | bytes, status: int = 200, headers: dict[str, str] | None = None, service: str = "svc") -> Reply:
    """A reply as if `service` had answered `body` (no socket: for the pure verdict tests)."""
    raw = body.encode() if isinstance(body, str) else body
    return make_reply(service, "/endpoint", status, headers or JSON, raw)


def verdict(check: Check | None, body: str | bytes, status: int = 200, **headers: str) -> Any:
    """The payload a client would get for this answer, or the error it would raise."""
    return judge(reply(body, status, {**JSON, **headers}), check)
