"""OAuth 1.0a request signing with HMAC-SHA1, per RFC 5849 §3.4 (BrickLink's scheme).

Written out by hand so that every step is visible and testable against the
RFC's own example: percent-encoding (§3.6), the base string URI (§3.4.1.2),
the normalised parameters, query parameters included (§3.4.1.3), the base
string (§3.4.1.1), and the key `consumer_secret&token_secret` (§3.4.2).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, urlsplit

import requests


def percent_encode(value: str) -> str:
    """RFC 3986 unreserved characters stay; everything else is %XX of its UTF-8 bytes."""
    return quote(value.encode("utf-8"), safe="-._~")


def base_string_uri(url: str) -> str:
    """Scheme and host in lower case, default port dropped, path kept, query dropped."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is not None and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    return f"{scheme}://{host}{parts.path or '/'}"


def normalized_parameters(params: Iterable[tuple[str, str]]) -> str:
    """Encode each name and value, sort by name then value, join as `n=v&n=v`."""
    encoded = sorted((percent_encode(name), percent_encode(value)) for name, value in params)
    return "&".join(f"{name}={value}" for name, value in encoded)


def signature_base_string(method: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """`METHOD&uri&params`; `params` are decoded pairs: query, form body and oauth_* alike."""
    return "&".join(
        (method.upper(), percent_encode(base_string_uri(url)), percent_encode(normalized_parameters(params)))
    )


def hmac_sha1_signature(base_string: str, consumer_secret: str, token_secret: str) -> str:
    key = f"{percent_encode(consumer_secret)}&{percent_encode(token_secret)}"
    digest = hmac.new(key.encode("utf-8"), base_string.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


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
    """The `Authorization: OAuth …` value signing `method url` (its query included)."""
    oauth = {
        "oauth_consumer_key": consumer_key,
        "oauth_token": token,
        "oauth_signature_method": "HMAC-SHA1",
        "oauth_timestamp": timestamp or str(int(time.time())),
        "oauth_nonce": nonce or secrets.token_hex(16),
        "oauth_version": "1.0",
    }
    query = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    base = signature_base_string(method, url, [*query, *oauth.items()])
    oauth["oauth_signature"] = hmac_sha1_signature(base, consumer_secret, token_secret)
    return "OAuth " + ", ".join(f'{name}="{percent_encode(value)}"' for name, value in oauth.items())


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
