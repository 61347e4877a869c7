"""Clients built from `Settings`: base URLs, credentials and the HTTP timeout.

`thread_ebay_client` and `thread_catalog_client` keep one client per thread (each
keeps its own HTTP session); a process's eBay clients share one application token.

A credential the chosen service needs but the settings lack is an `AuthError`
naming the setting, raised when the client is built: no request is made.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from pydantic import SecretStr

from pipeline.settings import Settings
from pipeline.sources.bricklink import BricklinkClient
from pipeline.sources.brickset import BricksetClient
from pipeline.sources.ebay import ApplicationToken, EbayClient
from pipeline.sources.errors import AuthError
from pipeline.sources.http import BeforeRequest, RetryPolicy, Throttled
from pipeline.sources.rebrickable import RebrickableClient

CatalogClient = BricksetClient | RebrickableClient


def _required(service: str, name: str, value: str | SecretStr | None) -> str:
    secret = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not secret:
        raise AuthError(service, "settings", f"setting {name.upper()} is not set")
    return secret


def _optional(value: str | SecretStr | None) -> str | None:
    return (value.get_secret_value() if isinstance(value, SecretStr) else value) or None


def make_catalog_client(
    settings: Settings, *, before_request: BeforeRequest | None = None, retry: RetryPolicy | None = None,
    on_throttled: Throttled | None = None,
) -> CatalogClient:
    """The client of `settings.catalog_source`: Rebrickable (the default) or Brickset."""
    if settings.catalog_source == "brickset":
        return BricksetClient(
            str(settings.brickset_api_base),
            _required("brickset", "brickset_api_key", settings.brickset_api_key),
            _optional(settings.brickset_username),
            _optional(settings.brickset_password),
            timeout_s=settings.http_timeout_s,
            before_request=before_request,
            retry=retry,
        )
    return RebrickableClient(
        str(settings.rebrickable_api_base),
        _required("rebrickable", "rebrickable_api_key", settings.rebrickable_api_key),
        timeout_s=settings.http_timeout_s,
        before_request=before_request,
        on_throttled=on_throttled,
        retry=retry,
    )


def make_ebay_client(
    settings: Settings, *, before_request: BeforeRequest | None = None, retry: RetryPolicy | None = None,
    token: ApplicationToken | None = None, on_throttled: Throttled | None = None,
) -> EbayClient:
    """`token`: an application token to share with other clients of the same credentials (one mint for all)."""
    return EbayClient(
        str(settings.ebay_api_base),
        _required("ebay", "ebay_client_id", settings.ebay_client_id),
        _required("ebay", "ebay_client_secret", settings.ebay_client_secret),
        settings.ebay_marketplace_id,
        timeout_s=settings.http_timeout_s,
        before_request=before_request,
        on_throttled=on_throttled,
        retry=retry,
        token=token,
    )


def make_bricklink_client(
    settings: Settings, *, before_request: BeforeRequest | None = None, retry: RetryPolicy | None = None
) -> BricklinkClient:
    return BricklinkClient(
        str(settings.bricklink_api_base),
        _required("bricklink", "bricklink_consumer_key", settings.bricklink_consumer_key),
        _required("bricklink", "bricklink_consumer_secret", settings.bricklink_consumer_secret),
        _required("bricklink", "bricklink_token_value", settings.bricklink_token_value),
        _required("bricklink", "bricklink_token_secret", settings.bricklink_token_secret),
        timeout_s=settings.http_timeout_s,
        before_request=before_request,
        retry=retry,
    )


_clients = threading.local()
_tokens: dict[tuple[Any, ...], ApplicationToken] = {}  # by process, API and credentials: one mint for all threads
_tokens_lock = threading.Lock()


def thread_ebay_client(settings: Settings, before_request: BeforeRequest | None,
                       on_throttled: Throttled | None = None) -> EbayClient:
    client: EbayClient | None = getattr(_clients, "ebay", None)
    if client is None:
        client = _clients.ebay = make_ebay_client(settings, before_request=before_request,
                                                  token=shared_token(settings), on_throttled=on_throttled)
    return client


def thread_catalog_client(settings: Settings, before_request: BeforeRequest | None,
                          on_throttled: Throttled | None = None) -> CatalogClient:
    client: CatalogClient | None = getattr(_clients, "catalog", None)
    if client is None:
        client = _clients.catalog = make_catalog_client(settings, before_request=before_request,
                                                        on_throttled=on_throttled)
    return client


def shared_token(settings: Settings) -> ApplicationToken:
    """The token this process's eBay clients share: a forked process mints its own."""
    secret = settings.ebay_client_secret
    key = (os.getpid(), str(settings.ebay_api_base), settings.ebay_client_id, secret and secret.get_secret_value())
    with _tokens_lock:
        return _tokens.setdefault(key, ApplicationToken())
