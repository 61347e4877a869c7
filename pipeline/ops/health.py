"""Checks that the services the system stands on answer."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pika

from pipeline import db
from pipeline.redaction import redact_text
from pipeline.redis_clients import redis_client
from pipeline.settings import Settings


def _timed(check: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    started = time.monotonic()
    try:
        outcome = {"ok": True, **check()}
    except Exception as exc:  # a health check reports every failure, whatever its kind  # noqa: BLE001
        outcome = {"ok": False, "error": redact_text(f"{type(exc).__name__}: {exc}")}
    outcome["ms"] = round((time.monotonic() - started) * 1000, 1)
    return outcome


def check_database(settings: Settings) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        revision = db.current_revision(settings.database_url)
        head = db.head_revision()
        if revision != head:
            raise RuntimeError(f"schema at {revision}, code expects {head}: run `stonks db upgrade`")
        return {"revision": revision}

    return _timed(run)


def check_redis(settings: Settings) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        client = redis_client(settings.redis_url, socket_connect_timeout=3, socket_timeout=3)
        try:
            client.ping()
            return {"version": client.info("server").get("redis_version")}
        finally:
            client.close()

    return _timed(run)


def check_broker(settings: Settings) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        params = pika.URLParameters(settings.broker_url)
        params.socket_timeout = 3
        params.blocked_connection_timeout = 3
        connection = pika.BlockingConnection(params)
        try:
            server = connection._impl.server_properties
            version = server.get("version", b"")
            return {"version": version.decode() if isinstance(version, bytes) else str(version)}
        finally:
            connection.close()

    return _timed(run)


def check_all(settings: Settings) -> dict[str, Any]:
    checks = {
        "broker": check_broker(settings),
        "database": check_database(settings),
        "redis": check_redis(settings),
    }
    return {"ok": all(c["ok"] for c in checks.values()), "checks": checks}
