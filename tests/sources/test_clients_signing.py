"""OAuth 1.0a HMAC-SHA1 signing against published worked examples."""

from __future__ import annotations

import re

import pytest

from pipeline.sources.oauth1 import (
    authorization_header,
    base_string_uri,
    hmac_sha1_signature,
    normalized_parameters,
    percent_encode,
    signature_base_string,
)

# RFC 5849 §3.4.1: the request "POST /request?b5=%3D%253D&a3=a&c%40=&a2=r%20b" on example.com
# with the form body "c2&a3=2+q", as decoded name/value pairs.
RFC_PARAMS = [
    ("b5", "=%3D"), ("a3", "a"), ("c@", ""), ("a2", "r b"), ("c2", ""), ("a3", "2 q"),
    ("oauth_consumer_key", "9djdj82h48djs9d2"), ("oauth_token", "kkk9d7dh3k39sjv7"),
    ("oauth_signature_method", "HMAC-SHA1"), ("oauth_timestamp", "137131201"), ("oauth_nonce", "7d8f3e4a"),
]
RFC_NORMALIZED = (
    "a2=r%20b&a3=2%20q&a3=a&b5=%3D%253D&c%40=&c2=&oauth_consumer_key=9djdj82h48djs9d2"
    "&oauth_nonce=7d8f3e4a&oauth_signature_method=HMAC-SHA1&oauth_timestamp=137131201&oauth_token=kkk9d7dh3k39sjv7"
)
RFC_BASE_STRING = (
    "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D"
    "%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1"
    "%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
)

# The classic Twitter "creating a signature" example (status update with a body parameter).
TWITTER_PARAMS = [
    ("status", "Hello Ladies + Gentlemen, a signed OAuth request!"), ("include_entities", "true"),
    ("oauth_consumer_key", "xvz1evFS4wEEPTGEFPHBog"), ("oauth_nonce", "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"),
    ("oauth_signature_method", "HMAC-SHA1"), ("oauth_timestamp", "1318622958"),
    ("oauth_token", "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"), ("oauth_version", "1.0"),
]
TWITTER_BASE_STRING = (
    "POST&https%3A%2F%2Fapi.twitter.com%2F1.1%2Fstatuses%2Fupdate.json&include_entities%3Dtrue%26oauth_consumer_key"
    "%3Dxvz1evFS4wEEPTGEFPHBog%26oauth_nonce%3DkYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg%26oauth_signature_method"
    "%3DHMAC-SHA1%26oauth_timestamp%3D1318622958%26oauth_token%3D370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"
    "%26oauth_version%3D1.0%26status%3DHello%2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed%2520OAuth"
    "%2520request%2521"
)


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        ("abcXYZ019-._~", "abcXYZ019-._~"),
        ("r b", "r%20b"),
        ("a+b", "a%2Bb"),
        ("=%3D", "%3D%253D"),
        ("c@", "c%40"),
        ("a/b:c,d!", "a%2Fb%3Ac%2Cd%21"),
        ("é☃", "%C3%A9%E2%98%83"),
        ("*'()", "%2A%27%28%29"),
    ],
)
def test_percent_encoding_keeps_only_unreserved_characters(raw: str, encoded: str) -> None:
    assert percent_encode(raw) == encoded


@pytest.mark.parametrize(
    ("url", "uri"),
    [
        ("HTTP://EXAMPLE.COM:80/r%20v/X?id=123", "http://example.com/r%20v/X"),  # RFC 5849 §3.4.1.2
        ("https://www.example.net:8080/?q=1", "https://www.example.net:8080/"),  # RFC 5849 §3.4.1.2
        ("https://api.bricklink.com:443/api/store/v1/items/MINIFIG/sw0001a/price?guide_type=sold",
         "https://api.bricklink.com/api/store/v1/items/MINIFIG/sw0001a/price"),
        ("http://127.0.0.1:54321/bricklink/api/store/v1/items/MINIFIG/sw0001a",
         "http://127.0.0.1:54321/bricklink/api/store/v1/items/MINIFIG/sw0001a"),
        ("http://example.com", "http://example.com/"),
    ],
)
def test_base_string_uri(url: str, uri: str) -> None:
    assert base_string_uri(url) == uri


def test_rfc5849_normalized_parameters_and_base_string() -> None:
    assert normalized_parameters(RFC_PARAMS) == RFC_NORMALIZED
    url = "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b"
    assert signature_base_string("post", url, RFC_PARAMS) == RFC_BASE_STRING


@pytest.mark.parametrize(
    ("base_string", "consumer_secret", "token_secret", "signature"),
    [
        (TWITTER_BASE_STRING, "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
         "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE", "hCtSmYh+iHYCEqBWrE7C7hYmtUk="),
        # RFC 5849 §1.2: GET http://photos.example.net/photos?file=vacation.jpg&size=original (no oauth_version).
        ("GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03"
         "%26oauth_nonce%3DchapoH%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131202"
         "%26oauth_token%3Dnnch734d00sl2jdk%26size%3Doriginal",
         "kd94hf93k423kf44", "pfkkdhi9sl3r4s00", "MdpQcU8iPSUjWoN/UDMsK2sui9I="),
    ],
)
def test_hmac_sha1_signature(base_string: str, consumer_secret: str, token_secret: str, signature: str) -> None:
    assert hmac_sha1_signature(base_string, consumer_secret, token_secret) == signature


def test_twitter_example_end_to_end() -> None:
    base = signature_base_string("POST", "https://api.twitter.com/1.1/statuses/update.json", TWITTER_PARAMS)
    assert base == TWITTER_BASE_STRING


def test_authorization_header_signs_query_parameters() -> None:
    # OAuth Core 1.0 Appendix A.5: the photos request, which carries oauth_version=1.0.
    header = authorization_header(
        "GET", "http://photos.example.net/photos?file=vacation.jpg&size=original",
        consumer_key="dpf43f3p2l4k3l03", consumer_secret="kd94hf93k423kf44",
        token="nnch734d00sl2jdk", token_secret="pfkkdhi9sl3r4s00", timestamp="1191242096", nonce="kllo9940pd9333jh",
    )
    fields = dict(re.findall(r'(\w+)="([^"]*)"', header))
    assert header.startswith("OAuth ")
    assert fields == {
        "oauth_consumer_key": "dpf43f3p2l4k3l03", "oauth_token": "nnch734d00sl2jdk",
        "oauth_signature_method": "HMAC-SHA1", "oauth_timestamp": "1191242096", "oauth_nonce": "kllo9940pd9333jh",
        "oauth_version": "1.0", "oauth_signature": "tR3%2BTy81lMeYAr%2FFid0kMTYa%2FWM%3D",
    }


def test_each_signature_gets_a_fresh_nonce() -> None:
    keys = {"consumer_key": "ck", "consumer_secret": "cs", "token": "tv", "token_secret": "ts"}
    first = authorization_header("GET", "https://api.bricklink.com/api/store/v1/items/MINIFIG/sw0001a", **keys)
    second = authorization_header("GET", "https://api.bricklink.com/api/store/v1/items/MINIFIG/sw0001a", **keys)
    nonce = re.compile(r'oauth_nonce="([^"]+)"')
    assert nonce.search(first).group(1) != nonce.search(second).group(1)  # type: ignore[union-attr]
