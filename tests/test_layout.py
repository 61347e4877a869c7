"""The house rules, read from the source: where SQL lives, which way imports point, how long a module gets.

Pure: the modules are parsed, not imported, so lazy imports inside functions count too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pipeline", "actors", "schedules", "sandbox")
MAX_LINES = 400

# The homes of SQL: the statements, the table definitions, the migrations.
SQL_HOMES = ("pipeline/sql/", "pipeline/migrations/", "pipeline/models.py")
SQL_TEXT = re.compile(
    r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX|DATABASE)|"
    r"ALTER\s+TABLE|DROP\s+(TABLE|DATABASE)|ON\s+CONFLICT|COPY\s+\w+.*\s(FROM|TO)\s+STDIN)", re.I | re.S)
QUERY_BUILDERS = {"text", "select", "insert", "update", "delete", "func", "literal_column", "bindparam"}
SESSION_QUERIES = {"get", "query", "scalar", "scalars", "execute", "add", "add_all", "merge", "delete"}


def modules(*packages: str) -> list[tuple[str, ast.Module]]:
    found = []
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            found.append((path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(), str(path))))
    return found


def sql_outside_its_home(rel: str, tree: ast.Module) -> list[str]:
    """What in this module is SQL: a statement's text, a query builder, a query on a session."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            found += [f"{rel}:{node.lineno} imports {a.name}" for a in node.names if a.name in QUERY_BUILDERS]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL_TEXT.search(node.value):
            found.append(f"{rel}:{node.lineno} holds SQL {node.value.strip()[:40]!r}")
        elif (isinstance(node, ast.Attribute) and node.attr in SESSION_QUERIES and isinstance(node.value, ast.Name)
              and node.value.id == "session"):
            found.append(f"{rel}:{node.lineno} queries the session (session.{node.attr})")
    return found


def imported(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_sql_lives_in_pipeline_sql_and_the_migrations() -> None:
    code = [(rel, tree) for rel, tree in modules("pipeline", "actors", "schedules") if not rel.startswith(SQL_HOMES)]
    assert len(code) > 50
    assert [finding for rel, tree in code for finding in sql_outside_its_home(rel, tree)] == []


def test_the_sql_check_finds_each_kind_of_sql() -> None:
    source = '''
from sqlalchemy import select
_Q = "SELECT id FROM minifigures WHERE id = %s"
def f(session):
    return session.get(Run, "m")
'''
    found = sql_outside_its_home("x.py", ast.parse(source))
    assert [line.split(" ", 1)[1].split(" ")[0] for line in found] == ["imports", "holds", "queries"]


@pytest.mark.parametrize(("package", "never"), [
    ("pipeline", ("actors", "schedules", "sandbox", "dramatiq", "periodiq", "apscheduler")),
    ("actors", ("schedules",)),
    ("sandbox", ("pipeline", "actors", "schedules")),
])
def test_imports_point_one_way(package: str, never: tuple[str, ...]) -> None:
    wrong = sorted(f"{rel} imports {name}" for rel, tree in modules(package) for name in imported(tree)
                   if name.split(".")[0] in never)
    assert wrong == []


def test_no_module_is_longer_than_the_limit() -> None:
    lengths = {rel: len((ROOT / rel).read_text().splitlines()) for rel, _ in modules(*PACKAGES)}
    assert {rel: n for rel, n in lengths.items() if n > MAX_LINES} == {}
