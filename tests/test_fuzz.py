"""Property tests on the parsers and serializers at the edges: nothing crashes, nothing leaks."""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from pipeline.history.events import RunEvent
from pipeline.redaction import redact
from pipeline.settings import Settings, describe_error
from tests.support.fuzz import json_values

SECRET = "Zq9-s3cr3t-Value"


@given(value=json_values, prefix=st.text(max_size=5), suffix=st.text(max_size=5))
@settings(max_examples=200)
def test_redaction_never_crashes_and_never_leaks_a_known_secret(value, prefix, suffix) -> None:
    planted = {"payload": value, "note": f"{prefix}{SECRET}{suffix}", "list": [SECRET]}
    cleaned = redact(planted, secrets=[SECRET])
    assert SECRET not in json.dumps(cleaned)


@given(
    message_id=st.text(min_size=1, max_size=40),
    error=st.none() | st.text(max_size=200),
    data=st.none() | st.dictionaries(st.text(max_size=10), st.integers() | st.text(max_size=10), max_size=3),
    at=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
)
def test_spooled_events_round_trip(message_id, error, data, at) -> None:
    event = RunEvent(message_id, "retrying", "retrying", at=at, error=error, data=data)
    assert RunEvent.from_json(event.to_json()) == event


# What orjson writes or reads differently from json: json writes those lines.
json_only = st.sampled_from([float("nan"), float("inf"), -float("inf"), 2**64, 2**70, -(2**63) - 1, {1: "a"},
                             {"k": float("nan")}, "\ud800", "a\x00b", "null", None])


@given(
    args=st.lists(json_values | json_only, max_size=3),
    result=json_values | json_only,
    data=st.none() | st.dictionaries(st.text(max_size=10), json_values | json_only, max_size=3),
    error=st.none() | st.text(max_size=50),
)
@settings(max_examples=300)
def test_a_journal_line_reads_back_as_json_would_read_it(args, result, data, error) -> None:
    event = RunEvent("m-1", "succeeded", "succeeded", args=args, result=result, data=data, error=error,
                     at=datetime(2026, 11, 22, 7, 30, 1, 5, tzinfo=UTC))
    line = event.to_line()
    assert line.endswith(b"\n") and line.count(b"\n") == 1 and b"\0" not in line  # the journals' framing
    as_json_reads_it = json.loads(json.dumps(vars(event), default=str))  # what json's own round trip gives
    as_json_reads_it["at"] = event.at
    # repr: NaN is not equal to itself.
    assert repr(RunEvent.from_json(line)) == repr(RunEvent(**as_json_reads_it))
    earlier = json.dumps({**vars(event), "at": event.at.isoformat()}, default=str)  # every field, as before orjson
    assert repr(RunEvent.from_json(earlier.encode())) == repr(RunEvent(**as_json_reads_it))


@given(port=st.text(alphabet=string.printable, max_size=8))
def test_a_malformed_port_setting_is_named_in_the_error(port: str) -> None:
    try:
        value = Settings(dashboard_port=port).dashboard_port
    except ValidationError as exc:
        assert "setting DASHBOARD_PORT is invalid" in describe_error(exc)
    else:
        assert 0 <= value <= 65535


@given(url=st.text(max_size=40))
def test_a_broker_url_is_amqp_or_refused_by_name(url: str) -> None:
    try:
        Settings(broker_url=url)
    except ValidationError as exc:
        assert "setting BROKER_URL is invalid" in describe_error(exc)
    else:
        assert url.startswith(("amqp://", "amqps://"))


@given(name=st.sampled_from(sorted(Settings.model_fields)), value=st.text(max_size=30))
@settings(max_examples=300)
def test_any_setting_of_any_text_is_read_or_refused_by_name(name: str, value: str) -> None:
    try:
        Settings(_env_file=None, **{name: value})
    except ValidationError as exc:
        assert describe_error(exc).startswith(f"setting {name.upper()} is invalid: "), describe_error(exc)


@given(marketplace=st.text(max_size=20) | st.sampled_from(["EBAY_US", "EBAY_MOTORS_US", "ebay_de", "EBAY_" + "X" * 12]))
def test_a_marketplace_setting_is_refused_by_name_unless_a_listing_can_store_it(marketplace: str) -> None:
    try:
        value = Settings(_env_file=None, ebay_marketplace_id=marketplace).ebay_marketplace_id
    except ValidationError as exc:
        assert "setting EBAY_MARKETPLACE_ID is invalid" in describe_error(exc)
    else:  # it is sent as a header and stored with every listing (price_observations.marketplace, 16 characters)
        assert value.isascii() and value.isprintable() and 0 < len(value) <= 16, value
