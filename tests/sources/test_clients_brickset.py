"""The Brickset client against the sandbox, over a real socket; the oracle is the sandbox's catalogue."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from pipeline.sources.brickset import BricksetClient
from pipeline.sources.errors import AuthError, QuotaExceeded
from sandbox import SandboxServer, catalog
from sandbox.data import THEME_BY_ID
from tests.sources.clients_support import brickset_client, requests_to

CAT = catalog(42)


def brickset_theme(theme_id: int) -> str:
    return THEME_BY_ID[theme_id].brickset_theme


def test_check_key(sandbox: SandboxServer) -> None:
    brickset_client(sandbox).check_key()
    with pytest.raises(AuthError, match="brickset checkKey: Invalid API key"):
        brickset_client(sandbox, api_key="3-Nope").check_key()
    assert requests_to(sandbox, "brickset", "/checkKey") == 2  # one each: a refused key is not retried


def test_themes(sandbox: SandboxServer) -> None:
    themes = brickset_client(sandbox).get_themes()
    assert sorted(t.name for t in themes) == sorted({brickset_theme(s.theme_id) for s in CAT.sets})
    star_wars = next(t for t in themes if t.name == "Star Wars")
    assert star_wars.set_count == sum(1 for s in CAT.sets if brickset_theme(s.theme_id) == "Star Wars")


def test_sets_page_by_page_until_all_matches_are_read(sandbox: SandboxServer) -> None:
    expected = sorted(s.set_id for s in CAT.sets if brickset_theme(s.theme_id) == "Star Wars")
    sets = brickset_client(sandbox).get_sets(theme="Star Wars", page_size=7)
    assert sorted(s.set_id for s in sets) == expected and len(expected) > 7
    assert requests_to(sandbox, "brickset", "/getSets") == math.ceil(len(expected) / 7)
    lego_set = next(s for s in CAT.sets if s.set_id == sets[0].set_id)
    assert (sets[0].set_number, sets[0].year, sets[0].name) == (lego_set.set_num, lego_set.year, lego_set.name)


def test_sets_by_theme_and_year(sandbox: SandboxServer) -> None:
    sets = brickset_client(sandbox).get_sets(theme="Castle", year=2001)
    assert sorted(s.set_number for s in sets) == sorted(
        s.set_num for s in CAT.sets if brickset_theme(s.theme_id) == "Castle" and s.year == 2001)


def test_sets_need_a_filter(sandbox: SandboxServer) -> None:
    with pytest.raises(ValueError, match="needs a theme"):
        brickset_client(sandbox).get_sets()


def test_api_limit_is_a_quota_to_defer_not_retry(sandbox: SandboxServer) -> None:
    sandbox.inject("brickset", "api_limit", count=1)
    with pytest.raises(QuotaExceeded, match="brickset getSets: API limit exceeded"):
        brickset_client(sandbox).get_sets(theme="Castle")
    assert requests_to(sandbox, "brickset", "/getSets") == 1


def test_daily_quota_of_a_real_limit(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(brickset_daily_limit=2)
    client = brickset_client(server)
    client.get_sets(theme="Castle", year=2001)
    client.get_sets(theme="Castle", year=2002)
    with pytest.raises(QuotaExceeded):
        client.get_sets(theme="Castle", year=2003)


def test_login_once_for_many_collection_calls(sandbox: SandboxServer) -> None:
    client = brickset_client(sandbox)
    owned = client.get_minifig_collection()
    assert owned == client.get_minifig_collection(owned=True)
    assert owned and all(fig.owned_total > 0 for fig in owned)
    assert requests_to(sandbox, "brickset", "/login") == 1
    assert requests_to(sandbox, "brickset", "/getMinifigCollection") == 2


def test_bad_password_is_a_permanent_auth_error(sandbox: SandboxServer) -> None:
    with pytest.raises(AuthError, match="brickset login: Invalid username or password"):
        brickset_client(sandbox, password="wrong").get_minifig_collection()
    assert requests_to(sandbox, "brickset") == 1


def test_no_username_is_an_auth_error_before_any_request(sandbox: SandboxServer) -> None:
    with pytest.raises(AuthError, match="no Brickset username"):
        brickset_client(sandbox, username=None).login()
    assert requests_to(sandbox, "brickset") == 0


def test_refused_user_hash_logs_in_again_once(sandbox: SandboxServer) -> None:
    client = brickset_client(sandbox)
    client._user_hash = "stale-hash"  # as if Brickset had revoked it since
    number = CAT.minifigs[0].number
    figs = client.get_minifig_collection(query=number)
    assert number in [f.minifig_number for f in figs]
    assert requests_to(sandbox, "brickset", "/getMinifigCollection") == 2
    assert requests_to(sandbox, "brickset", "/login") == 1


def test_user_hash_refused_twice_is_permanent(sandbox: SandboxServer) -> None:
    class NeverValid(BricksetClient):
        def login(self) -> str:
            return "stale-hash"

    client = NeverValid(sandbox.base_urls()["brickset"], "3-SBox-Fig5-St0nk", timeout_s=1.0)
    with pytest.raises(AuthError, match="Invalid user hash"):
        client.get_minifig_collection(query="sw")
    assert requests_to(sandbox, "brickset", "/getMinifigCollection") == 2


def test_collection_search_by_number(sandbox: SandboxServer) -> None:
    fig = next(f for f in CAT.minifigs if f.subtheme)
    found = brickset_client(sandbox).get_minifig_collection(query=fig.number)
    record = next(f for f in found if f.minifig_number == fig.number)
    assert (record.name, record.theme) == (fig.name, brickset_theme(fig.theme_id))
    assert record.category == f"{brickset_theme(fig.theme_id)} / {fig.subtheme}"


@pytest.mark.parametrize(("theme", "queries"), [("Star Wars", None), ("Star Wars", ("sw",)), ("Castle", None)])
def test_catalog_by_theme_is_exactly_the_sandbox_figures(
    sandbox: SandboxServer, theme: str, queries: tuple[str, ...] | None
) -> None:
    client = brickset_client(sandbox)
    figs = client.minifigs_by_theme(theme, queries) if queries else client.minifigs_by_theme(theme)
    expected = sorted(f.number for f in CAT.minifigs if brickset_theme(f.theme_id) == theme)
    assert [f.minifig_number for f in figs] == expected and expected
    assert requests_to(sandbox, "brickset", "/getSets") == 0  # no quota spent
