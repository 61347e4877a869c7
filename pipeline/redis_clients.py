"""Redis clients, made one way.

redis-py names itself to the server on every new connection (CLIENT SETINFO). When
a client comes from a URL without `driver_info`, each connection works that name
out again by reading redis-py's own package metadata (importlib.metadata parses
its METADATA file). A worker opens a connection for each thread that talks to
Redis: in the seed workload that was 4% of the workers' CPU. The name is worked
out once here, and every client the project makes takes it.
"""

from __future__ import annotations

from typing import Any

import redis
from redis.driver_info import DriverInfo

DRIVER = DriverInfo()  # "redis-py" and its version, read once


def redis_client(url: str, **options: Any) -> redis.Redis:
    return redis.Redis.from_url(url, driver_info=DRIVER, **options)
