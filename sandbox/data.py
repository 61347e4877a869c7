"""The sandbox's catalogue: themes, sets, minifigures and which set holds which figure.

Everything is grown from one integer seed with `random.Random` seeded by strings
(hashed with SHA-512 by the standard library), and no code here iterates a
`set`, so the same seed gives the same catalogue in every process, whatever
PYTHONHASHSEED says. A figure's year is the earliest year of a set holding it.
"""

from __future__ import annotations

import dataclasses
import functools
import random
from collections import defaultdict
from dataclasses import dataclass

from .themes import DESCRIPTORS, STAR_CHARACTERS, THEME_SPECS, ThemeSpec

Theme = ThemeSpec


@dataclass(frozen=True)
class LegoSet:
    set_num: str  # Rebrickable form, "7101-1"
    number: str  # Brickset `number`, "7101"
    variant: int  # Brickset `numberVariant`
    name: str
    year: int
    theme_id: int
    subtheme: str | None
    num_parts: int
    set_id: int  # Brickset `setID`
    last_modified: str


@dataclass(frozen=True)
class Minifig:
    number: str  # BrickLink (and Brickset) number, "sw0042a"
    fig_num: str  # Rebrickable id, "fig-001234"
    name: str
    character: str
    theme_id: int
    subtheme: str | None
    year: int
    num_parts: int
    price_cents: int  # typical asking price, new and complete, in US dollars
    listing_slots: int  # how many eBay listings the figure carries at most on a day
    has_image: bool
    last_modified: str


@dataclass(frozen=True)
class SetMinifig:
    inventory_id: int
    set_num: str
    fig_num: str
    quantity: int


@dataclass(frozen=True)
class Catalog:
    seed: int
    themes: tuple[Theme, ...]
    sets: tuple[LegoSet, ...]
    minifigs: tuple[Minifig, ...]
    set_minifigs: tuple[SetMinifig, ...]

    @functools.cached_property
    def theme_by_id(self) -> dict[int, Theme]:
        return {theme.id: theme for theme in self.themes}

    @functools.cached_property
    def set_by_num(self) -> dict[str, LegoSet]:
        return {lego_set.set_num: lego_set for lego_set in self.sets}

    @functools.cached_property
    def minifig_by_number(self) -> dict[str, Minifig]:
        """Keyed by the lower-cased BrickLink number: BrickLink ignores case."""
        return {fig.number.lower(): fig for fig in self.minifigs}

    @functools.cached_property
    def minifig_by_fig_num(self) -> dict[str, Minifig]:
        return {fig.fig_num: fig for fig in self.minifigs}

    @functools.cached_property
    def _inventories_by_set(self) -> dict[str, list[SetMinifig]]:
        grouped: dict[str, list[SetMinifig]] = defaultdict(list)
        for row in self.set_minifigs:
            grouped[row.set_num].append(row)
        return dict(grouped)

    @functools.cached_property
    def _sets_by_fig(self) -> dict[str, list[LegoSet]]:
        grouped: dict[str, list[LegoSet]] = defaultdict(list)
        for row in self.set_minifigs:
            grouped[row.fig_num].append(self.set_by_num[row.set_num])
        return {fig: sorted(sets, key=lambda s: s.set_num) for fig, sets in grouped.items()}

    def inventory_of(self, set_num: str) -> list[SetMinifig]:
        return self._inventories_by_set.get(set_num, [])

    def sets_of(self, fig_num: str) -> list[LegoSet]:
        return self._sets_by_fig.get(fig_num, [])

    def theme_ids_under(self, theme_id: int) -> tuple[int, ...]:
        """The theme and all of its descendants."""
        found = [theme_id]
        for theme in self.themes:
            if theme.parent_id is not None and theme.parent_id in found:
                found.append(theme.id)
        return tuple(found)

    def figures_in_theme(self, theme_id: int) -> list[Minifig]:
        """Figures appearing in any set of the theme or of its descendants."""
        theme_ids = self.theme_ids_under(theme_id)
        return [fig for fig in self.minifigs
                if any(s.theme_id in theme_ids for s in self.sets_of(fig.fig_num))]


@functools.lru_cache(maxsize=8)
def catalog(seed: int = 42) -> Catalog:
    """The whole catalogue for a seed; pure and cached."""
    sets = [s for spec in THEME_SPECS for s in _sets_of_theme(seed, spec)]
    assert len({s.set_num for s in sets}) == len(sets), "two themes' set numbers overlap"
    sets = _with_brickset_ids(seed, sets)
    drafts, appearances = _draft_figures(seed, sets)
    numbers = _bricklink_numbers(seed, drafts)
    fig_nums = random.Random(f"{seed}:fig-nums").sample(range(1, 15000), len(drafts))
    minifigs = [_finish_figure(seed, draft, numbers[i], f"fig-{fig_nums[i]:06d}") for i, draft in enumerate(drafts)]
    rows = []
    for i, fig in enumerate(minifigs):
        for set_num, quantity in appearances[i]:
            rows.append((set_num, fig.number, fig.fig_num, quantity))
    rows.sort()
    set_minifigs = [SetMinifig(40000 + 7 * k, set_num, fig_num, quantity)
                    for k, (set_num, _, fig_num, quantity) in enumerate(rows)]
    minifigs.sort(key=lambda fig: fig.number)
    return Catalog(seed, THEME_SPECS, tuple(sets), tuple(minifigs), tuple(set_minifigs))


def _sets_of_theme(seed: int, spec: ThemeSpec) -> list[LegoSet]:
    rng = random.Random(f"{seed}:sets:{spec.id}")
    found: list[LegoSet] = []
    number = spec.set_base
    for year in range(spec.years[0], spec.years[1] + 1):
        for _ in range(rng.randint(*spec.sets_per_year)):
            number += rng.randint(3, 12)
            if spec.subthemes:  # subthemes are listed in the order they ran
                era = (year - spec.years[0]) * len(spec.subthemes) // (spec.years[1] - spec.years[0] + 1)
                subtheme = rng.choice(spec.subthemes[era:era + 2]) if rng.random() < 0.85 else None
                name = rng.choice(spec.set_words)
            else:  # collectible figures come in numbered series
                subtheme = f"Series {len(found) + 1}"
                name = f"{spec.set_words[0]} {len(found) + 1}"
            parts = rng.randint(1000, 7500) if spec.parent_id else rng.randint(4, 900)
            modified = _timestamp(rng, min(year + rng.randint(0, 3), 2025))
            found.append(LegoSet(f"{number}-1", str(number), 1, name, year, spec.id, subtheme, parts, 0, modified))
    return found


def _with_brickset_ids(seed: int, sets: list[LegoSet]) -> list[LegoSet]:
    rng = random.Random(f"{seed}:set-ids")
    ordered = sorted(sets, key=lambda s: (s.year, s.set_num))
    next_id = 1000
    ids: dict[str, int] = {}
    for lego_set in ordered:
        next_id += rng.randint(1, 40)
        ids[lego_set.set_num] = next_id
    return [dataclasses.replace(s, set_id=ids[s.set_num]) for s in sets]


@dataclass(frozen=True)
class _Draft:
    spec: ThemeSpec
    character: str
    name: str
    primary: LegoSet


def _draft_figures(seed: int, sets: list[LegoSet]) -> tuple[list[_Draft], list[list[tuple[str, int]]]]:
    """Each figure's name and the sets it appears in, earliest (its own) first."""
    drafts: list[_Draft] = []
    appearances: list[list[tuple[str, int]]] = []
    used_names: dict[str, bool] = {}
    for spec in THEME_SPECS:
        rng = random.Random(f"{seed}:figures:{spec.id}")
        own_sets = [s for s in sets if s.theme_id == spec.id]
        family = [s for s in sets if THEME_BY_ID[s.theme_id].prefix == spec.prefix]
        for i in range(spec.figure_count):
            # every character once, then at random
            character = spec.characters[i] if i < len(spec.characters) else rng.choice(spec.characters)
            name = _unique_name(rng, character, used_names)
            primary = own_sets[i % len(own_sets)] if not spec.subthemes else rng.choice(own_sets)
            seen = [(primary.set_num, _quantity(rng))]
            if spec.subthemes:  # a collectible figure never reappears; others often do
                later = [s for s in family if s.year >= primary.year and s.set_num != primary.set_num]
                for _ in range(rng.choices((0, 1, 2), weights=(60, 30, 10))[0]):
                    extra = rng.choice(later) if later else None
                    if extra is not None and all(extra.set_num != num for num, _ in seen):
                        seen.append((extra.set_num, _quantity(rng)))
            drafts.append(_Draft(spec, character, name, primary))
            appearances.append(seen)
    return drafts, appearances


def _unique_name(rng: random.Random, character: str, used: dict[str, bool]) -> str:
    name = character
    while name in used:
        first, second = rng.sample(DESCRIPTORS, 2)
        name = f"{character} - {first}" if f"{character} - {first}" not in used else f"{character} - {first}, {second}"
    used[name] = True
    return name


def _quantity(rng: random.Random) -> int:
    return rng.choices((1, 2, 3, 4), weights=(85, 10, 3, 2))[0]


def _bricklink_numbers(seed: int, drafts: list[_Draft]) -> list[str]:
    """Numbers run in release order within a prefix; some Star Wars ones pair as a/b variants."""
    numbers = [""] * len(drafts)
    prefixes = sorted({d.spec.prefix for d in drafts})
    for prefix in prefixes:
        rng = random.Random(f"{seed}:numbers:{prefix}")
        order = sorted((i for i, d in enumerate(drafts) if d.spec.prefix == prefix),
                       key=lambda i: (drafts[i].primary.year, drafts[i].primary.set_num, drafts[i].name))
        counter, k = 0, 0
        while k < len(order):
            counter += rng.randint(1, 3) if counter else 1
            base = f"{prefix}{counter:0{drafts[order[k]].spec.digits}d}"
            if prefix == "sw" and k + 1 < len(order) and (k == 0 or rng.random() < 0.12):  # sw0001a, as on BrickLink
                numbers[order[k]], numbers[order[k + 1]] = base + "a", base + "b"
                k += 2
            else:
                numbers[order[k]] = base
                k += 1
    return numbers


def _finish_figure(seed: int, draft: _Draft, number: str, fig_num: str) -> Minifig:
    rng = random.Random(f"{seed}:figure:{number}")
    age = max(0, 2020 - draft.primary.year)
    price = draft.spec.median_price_cents * rng.lognormvariate(0.0, 0.5) * (1 + 0.06 * age)
    star = draft.character in STAR_CHARACTERS
    if star:
        price *= 1.5
    slots = min(60, 6 + int(46 * rng.random() ** 2) + (14 if star else 0))
    modified = _timestamp(rng, rng.randint(max(2019, draft.primary.year), 2025))
    return Minifig(number, fig_num, draft.name, draft.character, draft.spec.id, draft.primary.subtheme,
                   draft.primary.year, rng.randint(3, 8), max(100, min(50000, round(price))), slots,
                   rng.random() < 0.9, modified)


def _timestamp(rng: random.Random, year: int) -> str:
    """A moment in the year, as Rebrickable writes `last_modified_dt`."""
    return (f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:"
            f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{rng.randint(0, 999999):06d}Z")


THEME_BY_ID: dict[int, ThemeSpec] = {spec.id: spec for spec in THEME_SPECS}
