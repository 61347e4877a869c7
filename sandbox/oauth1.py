"""OAuth 1.0a HMAC-SHA1 signatures (RFC 5849 §3.4), to check what a BrickLink client signs, by oauthlib."""

from __future__ import annotations

from oauthlib.common import Request as SignedRequest
from oauthlib.oauth1.rfc5849 import signature, utils

from .messages import Request

_REQUIRED = ("oauth_consumer_key", "oauth_token", "oauth_signature_method", "oauth_timestamp", "oauth_nonce",
             "oauth_signature")


def header_params(header: str | None) -> dict[str, str] | None:
    """The parameters of an `Authorization: OAuth …` header, decoded; None when it is not one."""
    if not header:
        return None
    try:
        pairs = utils.parse_authorization_header(header.strip())
    except ValueError:
        return None
    return {name: utils.unescape(value) for name, value in pairs}


def check_request(request: Request, consumer_key: str, consumer_secret: str, token: str,
                  token_secret: str) -> str | None:
    """None when the request is signed with these credentials, else what is wrong with it."""
    header = request.header("Authorization")
    oauth = header_params(header)
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
    form = [(name, value) for name, values in request.form.items() for value in values]
    headers = {"Authorization": header or ""}
    try:
        # The URL the client addressed: its host and port, the service's prefix and the query as sent.
        signed = SignedRequest(request.url, request.method, body=form or None, headers=headers)
        signed.params = signature.collect_parameters(uri_query=request.query, body=form, headers=headers)
    except ValueError:  # a query that is not URL-encoded was not signed as sent
        return "SIGNATURE_INVALID"
    signed.signature = oauth["oauth_signature"]
    if not signature.verify_hmac_sha1(signed, consumer_secret, token_secret):
        return "SIGNATURE_INVALID"
    return None
