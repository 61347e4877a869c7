"""Clients built from settings reach the services those settings name, with their credentials."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.settings import Settings
from pipeline.sources import (
    AuthError,
    make_bricklink_client,
    make_catalog_client,
    make_ebay_client,
)
from pipeline.sources.brickset import BricksetClient
from pipeline.sources.ebay import BrowseQuery
from pipeline.sources.rebrickable import RebrickableClient
from sandbox import SANDBOX_CREDENTIALS, SandboxServer, catalog


def sandbox_settings(sandbox: SandboxServer, **overrides: Any) -> Settings:
    bases = {f"{name}_api_base": url for name, url in sandbox.base_urls().items()}
    return Settings(**{**bases, **SANDBOX_CREDENTIALS, "http_timeout_s": 5.0, **overrides})


def test_every_client_from_settings_talks_to_its_service(sandbox: SandboxServer) -> None:
    fig = catalog(42).minifigs[0]
    rebrickable = make_catalog_client(sandbox_settings(sandbox))
    assert isinstance(rebrickable, RebrickableClient) and rebrickable.theme_id("Star Wars") == 158
    brickset = make_catalog_client(sandbox_settings(sandbox, catalog_source="brickset"))
    assert isinstance(brickset, BricksetClient) and fig.number in [
        f.minifig_number for f in brickset.get_minifig_collection(query=fig.number)]
    ebay = make_ebay_client(sandbox_settings(sandbox, ebay_marketplace_id="EBAY_DE"))
    assert {item.price.currency for item in ebay.search_page(BrowseQuery("lego", limit=3)).items} == {"EUR"}
    assert make_bricklink_client(sandbox_settings(sandbox)).item(fig.number).name == fig.name


@pytest.mark.parametrize(
    ("make", "missing", "setting"),
    [
        (make_catalog_client, "rebrickable_api_key", "REBRICKABLE_API_KEY"),
        (make_ebay_client, "ebay_client_secret", "EBAY_CLIENT_SECRET"),
        (make_bricklink_client, "bricklink_token_secret", "BRICKLINK_TOKEN_SECRET"),
    ],
)
def test_a_missing_credential_is_named(sandbox: SandboxServer, make: Any, missing: str, setting: str) -> None:
    with pytest.raises(AuthError, match=f"setting {setting} is not set"):
        make(sandbox_settings(sandbox, **{missing: None}))
    assert sum(stats["requests"] for stats in sandbox.stats().values()) == 0
