"""The Rebrickable client against the sandbox, over a real socket; the oracle is the sandbox's catalogue."""

from __future__ import annotations

import math
from collections import defaultdict

import pytest

from pipeline.sources.errors import AuthError, PermanentSourceError, RecordNotFound
from pipeline.sources.rebrickable import CatalogFigure, RebrickableClient
from sandbox import SandboxServer, catalog
from tests.sources.clients_support import rebrickable_client, requests_to

CAT = catalog(42)
STAR_WARS, UCS, CASTLE = 158, 171, 186


def expected_by_theme_and_year(theme_id: int, year: int) -> list[CatalogFigure]:
    family = CAT.theme_ids_under(theme_id)
    in_sets: dict[str, set[str]] = defaultdict(set)
    for lego_set in CAT.sets:
        if lego_set.theme_id in family and lego_set.year == year:
            for row in CAT.inventory_of(lego_set.set_num):
                in_sets[row.fig_num].add(lego_set.set_num)
    return [CatalogFigure(fig, CAT.minifig_by_fig_num[fig].name, tuple(sorted(sets)), None)
            for fig, sets in sorted(in_sets.items())]


def busiest_year(theme_id: int) -> int:
    years = [s.year for s in CAT.sets if s.theme_id in CAT.theme_ids_under(theme_id)]
    return max(set(years), key=lambda year: (years.count(year), year))


def test_themes_and_theme_ids(sandbox: SandboxServer) -> None:
    client = rebrickable_client(sandbox)
    themes = client.get_themes()
    assert {(t.id, t.parent_id, t.name) for t in themes} == {(t.id, t.parent_id, t.name) for t in CAT.themes}
    assert client.theme_id("star wars") == STAR_WARS and client.theme_id("Ultimate Collector Series") == UCS
    with pytest.raises(RecordNotFound, match="no theme is called 'Space Pirates'"):
        client.theme_id("Space Pirates")
    assert requests_to(sandbox, "rebrickable") == 1  # the themes are read once


def test_sets_by_theme_and_year_follow_next_to_the_end(sandbox: SandboxServer) -> None:
    client = rebrickable_client(sandbox, page_size=3)
    expected = sorted(s.set_num for s in CAT.sets if s.theme_id in CAT.theme_ids_under(STAR_WARS)
                      and 2005 <= s.year <= 2012)
    found = client.get_sets(STAR_WARS, min_year=2005, max_year=2012)
    assert sorted(s.set_num for s in found) == expected and len(expected) > 6
    assert requests_to(sandbox, "rebrickable", "/lego/sets/") == math.ceil(len(expected) / 3)


def test_set_minifigs_and_minifig_detail(sandbox: SandboxServer) -> None:
    client = rebrickable_client(sandbox)
    lego_set = next(s for s in CAT.sets if len(CAT.inventory_of(s.set_num)) >= 2)
    inventory = client.get_set_minifigs(lego_set.set_num)
    assert [(f.fig_num, f.quantity) for f in inventory] == [
        (row.fig_num, row.quantity) for row in CAT.inventory_of(lego_set.set_num)]
    fig = CAT.minifig_by_fig_num[inventory[0].fig_num]
    detail = client.get_minifig(fig.fig_num)
    assert (detail.fig_num, detail.name, detail.num_parts) == (fig.fig_num, fig.name, fig.num_parts)
    assert detail.last_modified is not None and detail.last_modified.tzinfo is not None


def test_minifigs_by_theme_id_page_to_the_end(sandbox: SandboxServer) -> None:
    client = rebrickable_client(sandbox, page_size=7)
    found = client.get_minifigs(theme_id=CASTLE)
    expected = sorted(f.fig_num for f in CAT.figures_in_theme(CASTLE))
    assert sorted(f.fig_num for f in found) == expected
    assert requests_to(sandbox, "rebrickable", "/lego/minifigs/") == math.ceil(len(expected) / 7)


@pytest.mark.parametrize("theme", ["Star Wars", "Ultimate Collector Series", "Castle"])
def test_catalog_by_theme_and_year_is_exactly_the_sandbox_figures(sandbox: SandboxServer, theme: str) -> None:
    theme_id = next(t.id for t in CAT.themes if t.name == theme)
    year = busiest_year(theme_id)
    figures = rebrickable_client(sandbox).minifigs_by_theme_and_year(theme, year)
    expected = expected_by_theme_and_year(theme_id, year)
    assert [(f.fig_num, f.name, f.set_nums) for f in figures] == [(f.fig_num, f.name, f.set_nums) for f in expected]
    assert figures and all(f.fig_num.startswith("fig-") for f in figures)


@pytest.mark.parametrize("theme", ["Star Wars", "Castle"])
def test_catalog_by_theme_is_exactly_the_sandbox_figures(sandbox: SandboxServer, theme: str) -> None:
    theme_id = next(t.id for t in CAT.themes if t.name == theme)
    figures = rebrickable_client(sandbox).minifigs_by_theme(theme)
    assert [f.fig_num for f in figures] == sorted(f.fig_num for f in CAT.figures_in_theme(theme_id))


def test_child_themes_can_be_left_out(sandbox: SandboxServer) -> None:
    client = rebrickable_client(sandbox)
    with_children = client.minifigs_by_theme("Star Wars")
    alone = client.minifigs_by_theme("Star Wars", include_subthemes=False)
    assert requests_to(sandbox, "rebrickable", "/lego/minifigs/") == 3  # 158 and 171, then 158 alone
    assert {f.fig_num for f in alone} <= {f.fig_num for f in with_children}


def test_bad_key_is_a_permanent_auth_error_without_retries(sandbox: SandboxServer) -> None:
    client = rebrickable_client(sandbox, api_key="not-the-key")
    with pytest.raises(AuthError, match=r"rebrickable /lego/themes/: Invalid token\. \(HTTP 401\)"):
        client.get_themes()
    assert requests_to(sandbox, "rebrickable") == 1


def test_unknown_minifig_is_not_found_without_retries(sandbox: SandboxServer) -> None:
    with pytest.raises(RecordNotFound, match="fig-999999"):
        rebrickable_client(sandbox).get_minifig("fig-999999")
    assert requests_to(sandbox, "rebrickable") == 1


def test_next_page_on_another_host_is_not_followed() -> None:
    client = RebrickableClient("https://rebrickable.com/api/v3", "key")
    with pytest.raises(PermanentSourceError, match="not on the API's host"):
        client._check_next("https://evil.example/api/v3/lego/sets/?page=2", "/lego/sets/", set())
    with pytest.raises(PermanentSourceError, match="already read"):
        client._check_next("https://rebrickable.com/api/v3/lego/sets/?page=2", "/lego/sets/",
                           {"https://rebrickable.com/api/v3/lego/sets/?page=2"})
