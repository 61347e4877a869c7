"""Brickset and Rebrickable replies: the reference's composed examples, error envelopes, malformed records."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from pipeline.sources import brickset, rebrickable
from pipeline.sources.errors import (
    AuthError,
    PermanentSourceError,
    QuotaExceeded,
    RateLimited,
    RecordNotFound,
    SourceError,
    TransientSourceError,
)
from tests.sources import reference_examples as ex
from tests.sources.clients_support import verdict


@pytest.mark.parametrize(
    ("body", "status", "kind"),
    [
        (ex.BRICKSET_INVALID_KEY, 200, AuthError),
        ('{"status":"error","message":"Invalid username or password"}', 200, AuthError),
        (ex.BRICKSET_INVALID_HASH, 200, brickset.InvalidUserHash),
        (ex.BRICKSET_LIMIT, 200, QuotaExceeded),
        ('{"status":"error","message":"Something else"}', 200, PermanentSourceError),
        ('{"status":"error","message":"Something else"}', 500, TransientSourceError),
        ('{"status":"pending"}', 200, PermanentSourceError),
    ],
)
def test_brickset_error_envelope(body: str, status: int, kind: type[SourceError]) -> None:
    with pytest.raises(kind) as caught:
        verdict(brickset.check_reply, body, status)
    assert type(caught.value) is kind


def test_brickset_quota_is_not_retried_at_once() -> None:
    with pytest.raises(QuotaExceeded) as caught:
        verdict(brickset.check_reply, ex.BRICKSET_LIMIT)
    assert caught.value.retry_after is None and "API limit exceeded" in str(caught.value)


def test_brickset_records_from_the_composed_examples() -> None:
    assert verdict(brickset.check_reply, ex.BRICKSET_CHECK_OK) == {"status": "success"}
    assert verdict(brickset.check_reply, ex.BRICKSET_LOGIN)["hash"] == "mK8rT2xQ9vLw4NcE"
    themes = [brickset.parse_theme(t) for t in verdict(brickset.check_reply, ex.BRICKSET_THEMES)["themes"]]
    assert themes[1] == brickset.BricksetTheme("Star Wars", 1100, 60, 1999, 2025)
    sets = [brickset.parse_set(s) for s in verdict(brickset.check_reply, ex.BRICKSET_SETS)["sets"]]
    assert sets[0] == brickset.BricksetSet(1001, "7101", 1, "Lightsaber Duel", 1999, "Star Wars", "Episode I", 52, 2)
    assert sets[0].set_number == "7101-1"
    figs = [brickset.parse_minifig(m) for m in verdict(brickset.check_reply, ex.BRICKSET_MINIFIGS)["minifigs"]]
    assert [(f.minifig_number, f.theme, f.owned_total, f.wanted) for f in figs] == [
        ("sw0001a", "Star Wars", 1, False), ("sw0001b", "Star Wars", 0, True)]


def test_brickset_minifig_without_name_or_category_is_tolerated() -> None:
    fig = brickset.parse_minifig({"minifigNumber": "col359", "ownedInSets": 0, "ownedLoose": 1, "ownedTotal": 1,
                                  "wanted": False})
    assert (fig.minifig_number, fig.name, fig.category, fig.theme, fig.owned_loose) == ("col359", None, None, None, 1)


@pytest.mark.parametrize(
    ("record", "words"),
    [({"number": "7101", "name": "x"}, "'setID' is missing"),
     ({"setID": 5, "number": "7101", "name": "x", "year": "soon"}, "set 5: field 'year' is not an integer"),
     ("7101-1", "not a JSON object")],
)
def test_brickset_malformed_set(record: Any, words: str) -> None:
    with pytest.raises(PermanentSourceError, match=words):
        brickset.parse_set(record)


# --- Rebrickable ------------------------------------------------------------------------------------------


def test_rebrickable_records_from_the_composed_examples() -> None:
    page = verdict(rebrickable.check_reply, ex.REBRICKABLE_MINIFIGS)
    figs = [rebrickable.parse_minifig(m) for m in page["results"]]
    assert [(f.fig_num, f.num_parts) for f in figs] == [("fig-000480", 4), ("fig-000481", 4)]
    assert figs[0].last_modified == datetime(2021, 3, 14, 9, 12, 45, 123456, tzinfo=UTC)
    themes = [rebrickable.parse_theme(t) for t in verdict(rebrickable.check_reply, ex.REBRICKABLE_THEMES)["results"]]
    assert themes == [rebrickable.RebrickableTheme(158, None, "Star Wars"),
                      rebrickable.RebrickableTheme(171, 158, "Ultimate Collector Series")]
    inventory = verdict(rebrickable.check_reply, ex.REBRICKABLE_SET_MINIFIGS)["results"]
    assert rebrickable.parse_set_minifig(inventory[0], "/lego/sets/7101-1/minifigs/") == rebrickable.SetMinifig(
        "fig-000510", "Darth Maul", 1, "https://cdn.rebrickable.com/media/sets/fig-000510/22222.jpg")


def test_theme_family_walks_every_descendant() -> None:
    themes = [rebrickable.RebrickableTheme(*t) for t in
              [(158, None, "Star Wars"), (171, 158, "UCS"), (172, 171, "UCS Minis"), (186, None, "Castle"),
               (190, 186, "Kingdoms")]]
    assert rebrickable.theme_family(themes, 158) == [158, 171, 172]
    assert rebrickable.theme_family(themes, 190) == [190]


@pytest.mark.parametrize(
    ("detail", "seconds"),
    [("Request was throttled. Expected available in 2 seconds.", 2.0),
     ("Request was throttled. Expected available in 1 second.", 1.0),
     ("Request was throttled. Expected available in 0.5 seconds.", 0.5), ("Request was throttled.", None),
     (None, None)],
)
def test_rebrickable_throttle_delay(detail: str | None, seconds: float | None) -> None:
    assert rebrickable.throttle_delay(detail) == seconds


@pytest.mark.parametrize(
    ("status", "body", "headers", "kind", "retry_after"),
    [
        (429, ex.REBRICKABLE_THROTTLED, {}, RateLimited, 2.0),
        (429, ex.REBRICKABLE_THROTTLED, {"Retry-After": "5"}, RateLimited, 5.0),
        (429, "{}", {}, RateLimited, None),
        (401, '{"detail":"Invalid token."}', {}, AuthError, None),
        (404, '{"detail":"Not found."}', {}, RecordNotFound, None),
        (400, '{"detail":"Bad request."}', {}, PermanentSourceError, None),
    ],
)
def test_rebrickable_errors(status: int, body: str, headers: dict[str, str], kind: type[SourceError],
                            retry_after: float | None) -> None:
    with pytest.raises(kind) as caught:
        verdict(rebrickable.check_reply, body, status, **headers)
    assert type(caught.value) is kind
    assert getattr(caught.value, "retry_after", None) == retry_after
