"""Per-run isolation on the real services: a database, a RabbitMQ vhost, a Redis namespace."""

from __future__ import annotations

import subprocess
import urllib.parse

import psycopg
import redis
import requests

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
RABBIT_API = "http://127.0.0.1:15672/api"
RABBIT_AUTH = ("guest", "guest")


def create_database(name: str) -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(name: str) -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def _management_api() -> bool:
    try:
        return requests.get(f"{RABBIT_API}/overview", auth=RABBIT_AUTH, timeout=3).ok
    except requests.RequestException:
        return False


def create_vhost(name: str) -> None:
    if _management_api():
        quoted = urllib.parse.quote(name, safe="")
        requests.put(f"{RABBIT_API}/vhosts/{quoted}", auth=RABBIT_AUTH, timeout=10).raise_for_status()
        requests.put(
            f"{RABBIT_API}/permissions/{quoted}/guest",
            json={"configure": ".*", "write": ".*", "read": ".*"},
            auth=RABBIT_AUTH,
            timeout=10,
        ).raise_for_status()
        return
    subprocess.run(["rabbitmqctl", "add_vhost", name], check=True, capture_output=True)
    subprocess.run(
        ["rabbitmqctl", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"], check=True, capture_output=True
    )


def delete_vhost(name: str) -> None:
    if _management_api():
        requests.delete(f"{RABBIT_API}/vhosts/{urllib.parse.quote(name, safe='')}", auth=RABBIT_AUTH, timeout=10)
        return
    subprocess.run(["rabbitmqctl", "delete_vhost", name], check=False, capture_output=True)


def delete_redis_namespace(url: str, namespace: str) -> None:
    client = redis.Redis.from_url(url)
    for pattern in (f"{namespace}*", f"*{namespace}*"):
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)
    client.close()
