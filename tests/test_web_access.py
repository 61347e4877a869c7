"""Access to the dashboard: the token guards every state-changing route, and reading when set."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid

import pytest
from fastapi.testclient import TestClient

from pipeline.web.app import create_app
from pipeline.web.auth import COOKIE, UnsafeBind, check_bind
from tests.support.web import BEARER, TOKEN, RecordingDispatcher, settings_with
from tests.support.worker import ROOT

pytestmark = pytest.mark.usefixtures("services")

# The one state-changing route open without a token: the form that takes the token.
OPEN_TO_ALL = {("POST", "/login")}
PATH_VALUES = {"name": "default", "actor": "health_check"}


def every_route(routes: list) -> list:
    """Routes with their full paths, however this FastAPI version nests included routers."""
    try:
        from fastapi.routing import (
            iter_route_contexts,  # FastAPI >= 0.13x wraps included routers
        )
    except ImportError:
        return list(routes)
    return list(iter_route_contexts(routes))


def state_changing_routes() -> list[tuple[str, str]]:
    app = create_app(settings_with(dashboard_token=None), RecordingDispatcher())
    found = []
    for route in every_route(app.routes):
        for method in sorted((getattr(route, "methods", None) or set()) - {"GET", "HEAD", "OPTIONS"}):
            if (method, route.path) not in OPEN_TO_ALL:
                found.append((method, route.path))
    return found


ROUTES = state_changing_routes()


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES.get(m.group(1), str(uuid.uuid4())), path)


def client(token: str | None) -> tuple[TestClient, RecordingDispatcher]:
    dispatcher = RecordingDispatcher()
    return TestClient(create_app(settings_with(dashboard_token=token), dispatcher), follow_redirects=False), dispatcher


def test_the_route_list_covers_the_api_and_the_pages() -> None:
    paths = {p for _, p in ROUTES}
    assert len(ROUTES) >= 20
    assert {"/v1/admin/sync-catalog", "/v1/tasks/{message_id}", "/v1/queues/{name}/dead-letters",
            "/queues/{name}/dead-letters/{message_id}/requeue", "/runs/{message_id}/retry", "/logout"} <= paths


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_without_a_configured_token_every_state_changing_route_refuses(method: str, path: str) -> None:
    http, dispatcher = client(None)
    response = http.request(method, concrete(path), json={}, headers=BEARER)  # a token the app does not have
    assert response.status_code == 403, response.text
    assert "DASHBOARD_TOKEN" in response.text
    assert dispatcher.sent == [] and dispatcher.cancelled == []


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_with_a_token_every_state_changing_route_refuses_a_request_without_it(method: str, path: str) -> None:
    http, dispatcher = client(TOKEN)
    for headers, cookies in (({}, {}), ({"Authorization": "Bearer wrong"}, {}), ({}, {COOKIE: "forged"})):
        http.cookies.clear()
        http.cookies.update(cookies)
        response = http.request(method, concrete(path), json={}, headers=headers)
        assert response.status_code == 401, (headers, cookies, response.text)
    assert dispatcher.sent == [] and dispatcher.cancelled == []


def test_reading_is_open_on_localhost_without_a_token_and_guarded_with_one() -> None:
    open_http, _ = client(None)
    assert open_http.get("/v1/actors").status_code == 200
    assert "read-only: no DASHBOARD_TOKEN" in open_http.get("/prices").text
    guarded, _ = client(TOKEN)
    assert guarded.get("/v1/actors").status_code == 401
    assert guarded.get("/openapi.json").status_code == 401
    page = guarded.get("/runs")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/runs"
    assert guarded.get("/v1/actors", headers=BEARER).status_code == 200
    assert guarded.get("/static/style.css").status_code == 200  # assets carry no data


def test_login_form_sets_a_cookie_that_is_not_the_token_and_works_for_pages_and_forms() -> None:
    http, dispatcher = client(TOKEN)
    wrong = http.post("/login", data={"token": "guess", "next": "/runs"})
    assert wrong.status_code == 401 and "not the dashboard token" in wrong.text
    ok = http.post("/login", data={"token": TOKEN, "next": "/runs"})
    assert ok.status_code == 303 and ok.headers["location"] == "/runs"
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and TOKEN not in cookie
    assert http.get("/runs").status_code == 200
    # A form post from the dashboard's own page goes through; one from another site does not.
    run_id = str(uuid.uuid4())
    same = http.post(f"/runs/{run_id}/cancel", headers={"Origin": "http://testserver"})
    assert same.status_code == 404  # reached the handler: no such run
    foreign = http.post(f"/runs/{run_id}/cancel", headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403
    assert http.post("/logout").status_code == 303
    assert dispatcher.cancelled == []


def test_login_redirects_only_within_the_dashboard() -> None:
    http, _ = client(TOKEN)
    response = http.post("/login", data={"token": TOKEN, "next": "//evil.example/x"})
    assert response.headers["location"] == "/"


@pytest.mark.parametrize(
    ("host", "token", "allowed"),
    [("127.0.0.1", None, True), ("127.0.0.2", None, True), ("::1", None, True), ("localhost", None, True),
     ("0.0.0.0", None, False), ("::", None, False), ("192.168.1.20", None, False), ("dashboard.example", None, False),
     ("0.0.0.0", TOKEN, True), ("192.168.1.20", TOKEN, True)],
)
def test_listening_beyond_this_machine_needs_a_token(host: str, token: str | None, allowed: bool) -> None:
    settings = settings_with(dashboard_token=token)
    if allowed:
        check_bind(host, settings)
    else:
        with pytest.raises(UnsafeBind, match="without a token"):
            check_bind(host, settings)


@pytest.mark.parametrize(("args", "env"), [(["--host", "0.0.0.0"], {}), ([], {"DASHBOARD_HOST": "0.0.0.0"})])
def test_the_dashboard_refuses_to_start_on_a_public_address_without_a_token(
    args: list[str], env: dict[str, str]
) -> None:
    import os

    proc = subprocess.run([sys.executable, "-m", "actors.cli", "dashboard", "--port", "0", *args], cwd=ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "refusing to listen on 0.0.0.0 without a token" in proc.stderr
    assert "DASHBOARD_TOKEN" in proc.stderr


def test_admin_endpoints_send_the_seed_actors_by_name_with_validated_arguments() -> None:
    http, dispatcher = client(TOKEN)
    ok = http.post("/v1/admin/sync-catalog", json={"theme": "Star Wars", "year": 2023, "limit": 10}, headers=BEARER)
    assert ok.status_code == 202
    assert ok.json()["status_url"] == f"/v1/tasks/{ok.json()['message_id']}"
    assert http.post("/v1/admin/sync-catalog", headers=BEARER).status_code == 202  # no body: the defaults
    aggregate = http.post("/v1/admin/aggregate-snapshots", json={"target_date": "2025-01-15"}, headers=BEARER)
    assert aggregate.status_code == 202
    assert [(a, k) for a, k, _, _ in dispatcher.sent] == [
        ("sync_catalog_from_brickset", {"theme": "Star Wars", "year": 2023, "limit": 10}),
        ("sync_catalog_from_brickset", {"limit": 500}),
        ("aggregate_daily_snapshots", {"target_date": "2025-01-15"}),
    ]
    bad = {
        "/v1/admin/sync-catalog": {"limit": 0},
        "/v1/admin/aggregate-snapshots": {"target_date": "2025-02-30"},
        "/v1/admin/fetch-prices/not-a-uuid": {},
        f"/v1/admin/fetch-prices/{uuid.uuid4()}": {"condition": "MINT"},
    }
    for path, body in bad.items():
        response = http.post(path, json=body, headers=BEARER)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["detail"]
    unknown = http.post("/v1/actors/no_such_actor/messages", json={}, headers=BEARER)
    assert unknown.status_code == 404 and "registered actors: aggregate_daily_snapshots" in unknown.json()["detail"]
    wrong_args = http.post("/v1/actors/health_check/messages", json={"kwargs": {"x": 1}}, headers=BEARER)
    assert wrong_args.status_code == 422
    assert len(dispatcher.sent) == 3


def test_openapi_is_served_and_docs_need_no_cdn() -> None:
    http, _ = client(None)
    spec = http.get("/openapi.json").json()
    for path in ("/v1/admin/sync-catalog", "/v1/admin/fetch-prices/{minifigure_id}", "/v1/admin/aggregate-snapshots",
                 "/v1/tasks/{message_id}", "/v1/workers", "/v1/health-check", "/v1/queues",
                 "/v1/queues/{name}/dead-letters", "/v1/runs"):
        assert path in spec["paths"], path
    assert http.get("/docs").status_code == 404
    reference = http.get("/api").text
    assert "/v1/tasks/{message_id}" in reference and "sync_catalog_from_brickset" in reference
    for page in ("/api", "/", "/prices"):
        html = http.get(page).text
        assert re.findall(r'(?:src|href)="(?:https?:)?//', html) == [], page  # every asset is local
