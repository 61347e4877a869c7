"""OAuth 1.0a request signing with HMAC-SHA1, per RFC 5849 §3.4 (BrickLink's scheme), by oauthlib.

The signature covers the method, the base string URI (scheme and host in lower
case, the default port dropped, no query) and every query parameter; the key
is `consumer_secret&token_secret`. It travels in an `Authorization: OAuth …`
header with `oauth_version="1.0"`.
"""

from __future__ import annotations

import requests
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA1, SIGNATURE_TYPE_AUTH_HEADER, Client


def authorization_header(
    method: str,
    url: str,
    *,
    consumer_key: str,
    consumer_secret: str,
    token: str,
    token_secret: str,
    timestamp: str | None = None,
    nonce: str | None = None,
) -> str:
    """The `Authorization: OAuth …` value signing `method url` (its query included).

    A fresh timestamp and nonce unless given (the worked examples give them).
    """
    client = Client(
        consumer_key,
        client_secret=consumer_secret,
        resource_owner_key=token,
        resource_owner_secret=token_secret,
        signature_method=SIGNATURE_HMAC_SHA1,
        signature_type=SIGNATURE_TYPE_AUTH_HEADER,
        timestamp=timestamp,
        nonce=nonce,
    )
    _, headers, _ = client.sign(url, http_method=method.upper())
    header: str = headers["Authorization"]
    return header


class OAuth1(requests.auth.AuthBase):
    """Signs each request as sent, so every retry gets a fresh timestamp and nonce."""

    def __init__(self, consumer_key: str, consumer_secret: str, token: str, token_secret: str) -> None:
        self._keys = {
            "consumer_key": consumer_key,
            "consumer_secret": consumer_secret,
            "token": token,
            "token_secret": token_secret,
        }

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        assert request.method is not None and request.url is not None
        request.headers["Authorization"] = authorization_header(request.method, request.url, **self._keys)
        return request
