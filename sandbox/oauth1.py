"""OAuth 1.0a HMAC-SHA1 signatures (RFC 5849 §3.4), to check what a BrickLink client signs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from .messages import Request

_HEADER_PAIR = re.compile(r'([A-Za-z0-9_]+)\s*=\s*"([^"]*)"')
_REQUIRED = ("oauth_consumer_key", "oauth_token", "oauth_signature_method", "oauth_timestamp", "oauth_nonce",
             "oauth_signature")


def percent_encode(text: str) -> str:
    """RFC 5849 §3.6: everything but the unreserved characters, in upper-case hex."""
    return quote(text, safe="-._~")


def base_uri(origin: str, path: str) -> str:
    """§3.4.1.2: lower-case scheme and host, the default port left out, no query."""
    parts = urlsplit(origin)
    host = (parts.hostname or "").lower()
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    authority = host if parts.port in (None, default) else f"{host}:{parts.port}"
    return f"{parts.scheme.lower()}://{authority}{path}"


def base_string(method: str, uri: str, params: list[tuple[str, str]]) -> str:
    """§3.4.1: the method, the base URI and the sorted, encoded parameters, each encoded and joined by &."""
    encoded = sorted((percent_encode(k), percent_encode(v)) for k, v in params)
    normalized = "&".join(f"{k}={v}" for k, v in encoded)
    return "&".join((method.upper(), percent_encode(uri), percent_encode(normalized)))


def sign(text: str, consumer_secret: str, token_secret: str) -> str:
    key = f"{percent_encode(consumer_secret)}&{percent_encode(token_secret)}"
    return base64.b64encode(hmac.new(key.encode(), text.encode(), hashlib.sha1).digest()).decode()


def header_params(header: str | None) -> dict[str, str] | None:
    """The parameters of an `Authorization: OAuth …` header, decoded; None when it is not one."""
    if not header or not header.strip().lower().startswith("oauth "):
        return None
    return {name: unquote(value) for name, value in _HEADER_PAIR.findall(header.strip()[6:])}


def check_request(request: Request, consumer_key: str, consumer_secret: str, token: str,
                  token_secret: str) -> str | None:
    """None when the request is signed with these credentials, else what is wrong with it."""
    oauth = header_params(request.header("Authorization"))
    if oauth is None:
        return "PARAMETER_MISSING: Authorization header"
    missing = [name for name in _REQUIRED if not oauth.get(name)]
    if missing:
        return f"PARAMETER_MISSING: {missing[0]}"
    if oauth["oauth_signature_method"] != "HMAC-SHA1":
        return "SIGNATURE_METHOD_UNSUPPORTED"
    if oauth.get("oauth_version", "1.0") != "1.0":
        return "VERSION_UNSUPPORTED"
    if oauth["oauth_consumer_key"] != consumer_key:
        return "CONSUMER_KEY_UNKNOWN"
    if oauth["oauth_token"] != token:
        return "TOKEN_VALUE_UNKNOWN"
    params = [(k, v) for k, v in oauth.items() if k not in ("oauth_signature", "realm")]
    params += parse_qsl(request.query, keep_blank_values=True)
    params += [(k, v) for k, values in request.form.items() for v in values]
    text = base_string(request.method, base_uri(request.origin, request.full_path), params)
    if not hmac.compare_digest(sign(text, consumer_secret, token_secret), oauth["oauth_signature"]):
        return "SIGNATURE_INVALID"
    return None
