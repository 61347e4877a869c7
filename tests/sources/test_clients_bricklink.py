"""The BrickLink client against the sandbox, which checks every OAuth 1.0a signature."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from pipeline.sources.errors import AuthError, RecordNotFound
from sandbox import SandboxServer, catalog
from sandbox.bricklink import price_guide
from sandbox.data import THEME_BY_ID
from tests.sources.clients_support import bricklink_client, requests_to

CAT = catalog(42)
FIG = next(f for f in CAT.minifigs if f.number.startswith("sw"))


def test_catalog_item_gives_name_category_and_year(sandbox: SandboxServer) -> None:
    item = bricklink_client(sandbox).item(FIG.number)
    assert (item.no, item.name, item.type, item.year_released) == (FIG.number, FIG.name, "MINIFIG", FIG.year)
    assert item.category_id == THEME_BY_ID[FIG.theme_id].bricklink_category_id


@pytest.mark.parametrize(("guide_type", "new_or_used"), [("sold", "N"), ("sold", "U"), ("stock", "N"), ("stock", "U")])
def test_price_guide(sandbox: SandboxServer, guide_type: str, new_or_used: str) -> None:
    guide = bricklink_client(sandbox).price_guide(FIG.number, guide_type, new_or_used, "GBP")  # type: ignore[arg-type]
    assert (guide.item_no, guide.guide_type, guide.new_or_used, guide.currency_code) == (
        FIG.number, guide_type, new_or_used, "GBP")
    assert guide.total_quantity == sum(detail.quantity for detail in guide.details)
    if guide.has_data:
        assert guide.min_price is not None and guide.max_price is not None
        assert guide.min_price <= guide.qty_avg_price <= guide.max_price  # type: ignore[operator]
        assert guide.min_price.as_tuple().exponent == -4  # four decimal places, kept exactly
        assert all(isinstance(detail.unit_price, Decimal) for detail in guide.details)
    else:
        assert guide.avg_price is None and guide.details == ()
    if guide_type == "sold":
        assert all(detail.date_ordered is not None and detail.buyer_country_code for detail in guide.details)
    else:
        assert all(detail.shipping_available is not None for detail in guide.details)


def test_price_guide_options_are_signed_with_the_query(sandbox: SandboxServer) -> None:
    guide = bricklink_client(sandbox).price_guide(FIG.number, "stock", "N", "EUR", region="europe", vat="Y")
    assert guide.currency_code == "EUR"


def test_a_figure_with_no_sales_has_no_data(sandbox: SandboxServer) -> None:
    today = datetime.now(UTC).date()
    rows = {fig.number: price_guide(42, fig, "stock", "U", today, ("JP",)) for fig in CAT.minifigs[:40]}
    picked = [number for number, found in rows.items() if not found][:3] + [
        number for number, found in rows.items() if found][:1]
    client = bricklink_client(sandbox)
    guides = [client.price_guide(number, "stock", "U", country_code="JP") for number in picked]
    assert [guide.has_data for guide in guides] == [bool(rows[number]) for number in picked] == [False] * 3 + [True]
    assert all(g.min_price is None and g.avg_price is None and g.total_quantity == 0 for g in guides[:3])


def test_unknown_item_is_not_found_without_retries(sandbox: SandboxServer) -> None:
    with pytest.raises(RecordNotFound, match="RESOURCE_NOT_FOUND"):
        bricklink_client(sandbox).price_guide("zz9999z")
    assert requests_to(sandbox, "bricklink") == 1


@pytest.mark.parametrize("wrong", ["consumer_secret", "token_secret", "token_value"])
def test_bad_credentials_are_a_permanent_auth_error_without_retries(sandbox: SandboxServer, wrong: str) -> None:
    with pytest.raises(AuthError, match="BAD_OAUTH_REQUEST"):
        bricklink_client(sandbox, **{wrong: "WRONG"}).item(FIG.number)
    assert requests_to(sandbox, "bricklink") == 1
