"""OAuth 1.0a HMAC-SHA1 signing of BrickLink requests: published worked examples, and the sandbox's verdicts."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import date
from email.message import Message
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pytest

from pipeline.sources.oauth1 import authorization_header
from sandbox.messages import Request
from sandbox.oauth1 import check_request

KEYS = {"consumer_key": "ck", "consumer_secret": "cs", "token": "tv", "token_secret": "ts"}
PRICE_GUIDE = "https://api.bricklink.com/api/store/v1/items/MINIFIG/sw0001a/price"


def sign(url: str, method: str = "GET", **keys: str) -> str:
    """The client's header for `url`, with the RFC's fixed timestamp and nonce."""
    return authorization_header(method, url, **{**KEYS, **keys}, timestamp="137131201", nonce="7d8f3e4a")


def header_fields(header: str) -> dict[str, str]:
    assert header.startswith("OAuth ")
    return dict(re.findall(r'(\w+)="([^"]*)"', header))


def signature_of(header: str) -> str:
    return unquote(header_fields(header)["oauth_signature"])


def test_authorization_header_signs_query_parameters() -> None:
    # OAuth Core 1.0 Appendix A.5: the photos request, which carries oauth_version=1.0.
    header = authorization_header(
        "GET", "http://photos.example.net/photos?file=vacation.jpg&size=original",
        consumer_key="dpf43f3p2l4k3l03", consumer_secret="kd94hf93k423kf44",
        token="nnch734d00sl2jdk", token_secret="pfkkdhi9sl3r4s00", timestamp="1191242096", nonce="kllo9940pd9333jh",
    )
    assert header_fields(header) == {
        "oauth_consumer_key": "dpf43f3p2l4k3l03", "oauth_token": "nnch734d00sl2jdk",
        "oauth_signature_method": "HMAC-SHA1", "oauth_timestamp": "1191242096", "oauth_nonce": "kllo9940pd9333jh",
        "oauth_version": "1.0", "oauth_signature": "tR3%2BTy81lMeYAr%2FFid0kMTYa%2FWM%3D",
    }


def test_twitter_example_with_reserved_characters_in_a_parameter() -> None:
    # The classic "creating a signature" example; its parameters go in the query here, which signs the same.
    status = quote("Hello Ladies + Gentlemen, a signed OAuth request!", safe="")
    header = authorization_header(
        "post", f"https://api.twitter.com/1.1/statuses/update.json?include_entities=true&status={status}",
        consumer_key="xvz1evFS4wEEPTGEFPHBog", consumer_secret="kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
        token="370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
        token_secret="LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
        timestamp="1318622958", nonce="kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg",
    )
    assert signature_of(header) == "hCtSmYh+iHYCEqBWrE7C7hYmtUk="


ENCODINGS = [  # RFC 5849 §3.6: unreserved characters stay, everything else is %XX of its UTF-8 bytes
    ("abcXYZ019-._~", "abcXYZ019-._~"),
    ("r b", "r%20b"),
    ("a+b", "a%2Bb"),
    ("=%3D", "%3D%253D"),
    ("c@", "c%40"),
    ("a/b:c,d!", "a%2Fb%3Ac%2Cd%21"),
    ("é☃", "%C3%A9%E2%98%83"),
    ("*'()", "%2A%27%28%29"),
]


@pytest.mark.parametrize(("raw", "encoded"), ENCODINGS)
def test_parameters_and_secrets_are_percent_encoded_into_the_base_string(raw: str, encoded: str) -> None:
    header = sign(f"{PRICE_GUIDE}?v={quote(raw, safe='')}", consumer_secret=f"c{raw}s")
    normalized = ("oauth_consumer_key=ck&oauth_nonce=7d8f3e4a&oauth_signature_method=HMAC-SHA1"
                  f"&oauth_timestamp=137131201&oauth_token=tv&oauth_version=1.0&v={encoded}")
    uri = "https://api.bricklink.com/api/store/v1/items/MINIFIG/sw0001a/price"
    outer = {"%": "%25", "=": "%3D", "&": "%26", ":": "%3A", "/": "%2F"}  # what the base string encodes again
    base = "&".join(("GET", "".join(outer.get(c, c) for c in uri), "".join(outer.get(c, c) for c in normalized)))
    key = f"c{encoded}s&ts".encode()
    assert signature_of(header) == base64.b64encode(hmac.new(key, base.encode(), hashlib.sha1).digest()).decode()


@pytest.mark.parametrize(
    ("url", "same_as"),
    [
        ("HTTP://EXAMPLE.COM:80/r%20v/X?id=123", "http://example.com/r%20v/X?id=123"),  # RFC 5849 §3.4.1.2
        ("https://API.BrickLink.com:443/api/store/v1/items/MINIFIG/sw0001a/price?guide_type=sold",
         f"{PRICE_GUIDE}?guide_type=sold"),
        ("http://example.com", "http://example.com/"),
        (f"{PRICE_GUIDE}?b=2&a=1", f"{PRICE_GUIDE}?a=1&b=2"),  # parameters are sorted
    ],
)
def test_the_base_string_uri_is_normalized(url: str, same_as: str) -> None:
    assert signature_of(sign(url)) == signature_of(sign(same_as))


@pytest.mark.parametrize(
    ("url", "other"),
    [
        ("https://www.example.net:8080/?q=1", "https://www.example.net/?q=1"),  # a port not the default is kept
        (f"{PRICE_GUIDE}?guide_type=sold", f"{PRICE_GUIDE}?guide_type=stock"),  # the query is signed
        (PRICE_GUIDE, PRICE_GUIDE.replace("https:", "http:")),
        (PRICE_GUIDE, PRICE_GUIDE.replace("sw0001a", "sw0001b")),
    ],
)
def test_the_signature_covers_port_query_scheme_and_path(url: str, other: str) -> None:
    assert signature_of(sign(url)) != signature_of(sign(other))


def test_each_signature_gets_a_fresh_nonce() -> None:
    first = authorization_header("GET", "https://api.bricklink.com/api/store/v1/items/MINIFIG/sw0001a", **KEYS)
    second = authorization_header("GET", "https://api.bricklink.com/api/store/v1/items/MINIFIG/sw0001a", **KEYS)
    nonce = re.compile(r'oauth_nonce="([^"]+)"')
    assert nonce.search(first).group(1) != nonce.search(second).group(1)  # type: ignore[union-attr]


# --- what the sandbox makes of it ---------------------------------------------------------------------------

SANDBOX = "http://127.0.0.1:54321/bricklink/api/store/v1/items/MINIFIG/sw0001a/price?guide_type=sold"


def received(url: str, header: str | None, method: str = "GET") -> Request:
    """The request as the sandbox's BrickLink service would get it at `url`."""
    parts = urlsplit(url)
    headers = Message()
    if header is not None:
        headers["Authorization"] = header
    return Request(method, parts.path, parts.path, parts.query, headers, b"", f"{parts.scheme}://{parts.netloc}",
                   date(2025, 6, 1))


def verdict(request: Request) -> str | None:
    return check_request(request, KEYS["consumer_key"], KEYS["consumer_secret"], KEYS["token"], KEYS["token_secret"])


@pytest.mark.parametrize("raw", [raw for raw, _ in ENCODINGS])
def test_the_sandbox_accepts_what_the_client_signs(raw: str) -> None:
    url = f"{SANDBOX}&v={quote(raw, safe='')}"
    assert verdict(received(url, authorization_header("GET", url, **KEYS))) is None


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ({"consumer_key": "other"}, "CONSUMER_KEY_UNKNOWN"),
        ({"token": "other"}, "TOKEN_VALUE_UNKNOWN"),
        ({"consumer_secret": "guess"}, "SIGNATURE_INVALID"),
        ({"token_secret": "guess"}, "SIGNATURE_INVALID"),
    ],
)
def test_the_sandbox_names_the_wrong_credential(keys: dict[str, str], problem: str) -> None:
    assert verdict(received(SANDBOX, authorization_header("GET", SANDBOX, **{**KEYS, **keys}))) == problem


def _edit(pattern: str, replacement: str) -> Any:
    return lambda header: re.sub(pattern, replacement, header)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda header: None, "PARAMETER_MISSING: Authorization header"),
        (lambda header: header.replace("OAuth ", "Bearer "), "PARAMETER_MISSING: Authorization header"),
        (_edit(r'oauth_nonce="[^"]*",?\s*', ""), "PARAMETER_MISSING: oauth_nonce"),
        (_edit(r'oauth_signature="[^"]*"', 'oauth_signature=""'), "PARAMETER_MISSING: oauth_signature"),
        (_edit("HMAC-SHA1", "PLAINTEXT"), "SIGNATURE_METHOD_UNSUPPORTED"),
        (_edit('oauth_version="1.0"', 'oauth_version="2.0"'), "VERSION_UNSUPPORTED"),
        (_edit(r'oauth_timestamp="\d+"', 'oauth_timestamp="1"'), "SIGNATURE_INVALID"),
        (lambda header: header.replace("OAuth ", 'OAuth realm="BrickLink", '), None),  # the realm is not signed
    ],
)
def test_the_sandbox_names_what_is_wrong_with_the_header(change: Any, problem: str | None) -> None:
    assert verdict(received(SANDBOX, change(authorization_header("GET", SANDBOX, **KEYS)))) == problem


def test_the_sandbox_refuses_a_changed_url_or_method() -> None:
    header = authorization_header("GET", SANDBOX, **KEYS)
    assert verdict(received(SANDBOX.replace("sold", "stock"), header)) == "SIGNATURE_INVALID"
    assert verdict(received(SANDBOX.replace("54321", "54322"), header)) == "SIGNATURE_INVALID"
    assert verdict(received(SANDBOX, header, method="POST")) == "SIGNATURE_INVALID"
