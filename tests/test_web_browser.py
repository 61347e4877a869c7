"""A real browser (headless Chromium) loads the dashboard served by `stonks dashboard`, with no internet.

Set UPDATE_SCREENSHOTS=1 to refresh docs/screenshots/ (dashboard.png, price-chart.png).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.support.web import insert_figure, running_dashboard
from tests.support.worker import ROOT, running_worker, wait_for

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Chromium is not installed: `apt-get install -y chromium chromium-driver` (./dev test does it)",
), pytest.mark.usefixtures("services")]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--enable-logging=stderr"]


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Uncaught" not in proc.stderr, proc.stderr[-2000:]  # no script error in the page
    return proc


def some_real_work() -> None:
    """Runs for the overview: health checks that succeed and a fetch that dead-letters."""
    import actors
    from tests.support.web_actors import fragile_fetch, set_fault

    set_fault("sw0778", True)
    sent = [actors.health_check.send() for _ in range(3)] + [fragile_fetch.send("sw0778")]
    for message in sent:
        wait_for(lambda m=message: _status(m.message_id) in ("succeeded", "dead_lettered"), timeout=30,
                 what=f"{message.actor_name} to finish")
    set_fault("sw0778", False)


def _status(message_id: str) -> str | None:
    import actors
    from pipeline.db import session_scope
    from pipeline.models import Run

    actors.stack.writer.flush()
    with session_scope() as session:
        run = session.get(Run, message_id)
        return run.status if run else None


def test_the_dashboard_and_a_price_chart_render_in_headless_chromium(broker: object, tmp_path: Path) -> None:
    figure = insert_figure("Luke Skywalker (Tatooine)", bricklink_id=f"sw{uuid.uuid4().hex[:4]}")
    profile = tmp_path / "profile"
    with running_worker("tests.support.web_actors", log=tmp_path / "worker.log"), \
            running_dashboard(env={"STONKS_SANDBOX": "1"}, log=open(tmp_path / "dashboard.log", "wb")) as url:
        some_real_work()
        dom = chromium(profile, "--dump-dom", f"{url}/prices/{figure}").stdout
        assert dom.count('<svg class="chart"') == 2 and 'class="median"' in dom and 'class="band"' in dom
        assert "asking prices, NEW" in dom and "Sandbox data" in dom
        overview = chromium(profile, "--dump-dom", f"{url}/").stdout
        assert "dead-lettered" in overview and "fragile_fetch" in overview
        shots = {"dashboard.png": "/", "price-chart.png": f"/prices/{figure}"}
        for name, path in shots.items():
            chromium(profile, f"--screenshot={tmp_path / name}", "--window-size=1280,900", f"{url}{path}")
            assert (tmp_path / name).stat().st_size > 30_000, f"{name} looks empty"
    if os.environ.get("UPDATE_SCREENSHOTS"):
        target = ROOT / "docs" / "screenshots"
        target.mkdir(parents=True, exist_ok=True)
        for name in shots:
            shutil.copyfile(tmp_path / name, target / name)
