"""The README, compose file, image entrypoint and systemd units stay true to the code."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import yaml

from pipeline.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
ENTRYPOINT = (ROOT / "docker/entrypoint.sh").read_text()


def test_readme_lists_every_setting_with_its_default() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in Settings.model_fields:
        assert re.search(rf"^\| `{name.upper()}` \|", readme, re.M), f"{name.upper()} missing from the README"


def test_readme_gives_exactly_the_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Two commands", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["./dev up", "./dev test"]
    assert "./dev test" in (ROOT / ".ci/run").read_text()


def entrypoint_commands() -> set[str]:
    return set(re.findall(r"^\s+([a-z]+)\)", ENTRYPOINT, re.M))


def test_compose_parses_and_every_app_service_runs_a_known_command() -> None:
    compose = yaml.safe_load((ROOT / "compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "rabbitmq", "redis", "migrate", "worker", "scheduler", "dashboard"} <= set(services)
    assert "management" in services["rabbitmq"]["image"]
    for name, service in services.items():
        if "build" not in service:
            assert "healthcheck" in service, f"{name} has no health check"
            continue
        command = service["command"][0]
        assert command in entrypoint_commands(), f"{name}: {command} is not an image command"
    assert services["worker"]["stop_grace_period"]
    assert services["worker"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_every_command_the_image_runs_exists() -> None:
    for exe in re.findall(r"exec ([a-z]+) ", ENTRYPOINT):
        if exe in ("python",):
            continue
        assert shutil.which(exe) or (ROOT / ".venv/bin" / exe).exists(), f"{exe} is not installed"
    assert (ROOT / "schedules/periodiq.py").exists() and (ROOT / "schedules/__main__.py").exists()


def test_systemd_units_run_installed_commands() -> None:
    for unit in (ROOT / "docker/systemd").glob("*.service"):
        text = unit.read_text()
        for line in re.findall(r"^Exec(?:Start|StartPre)=(\S+)", text, re.M):
            assert Path(line).name in {"stonks", "dramatiq", "periodiq"}, f"{unit.name}: {line}"
        assert "TimeoutStopSec" in text and "Restart=always" in text


def test_stonks_up_stops_everything_when_a_child_refuses_its_configuration_and_restarts_one_that_crashed(
        tmp_path: Path) -> None:
    """Exit 2 (a refused configuration) would only fail again; any other exit is a crash worth a restart."""
    import sys
    import time

    from actors.supervisor import REFUSED, Child, Supervisor

    starts = tmp_path / "starts"
    crasher = Child("crasher", [sys.executable, "-c", f"open({str(starts)!r}, 'a').write('x'); raise SystemExit(1)"])
    refuser = Child("refuser", [sys.executable, "-c", "import time; time.sleep(4); raise SystemExit(2)"])
    sleeper = Child("sleeper", [sys.executable, "-c", "import time; time.sleep(120)"])
    started = time.monotonic()
    assert Supervisor([crasher, refuser, sleeper], {}).run() == REFUSED
    assert time.monotonic() - started < 60
    assert starts.read_text() == "xx"  # again 2 s after its first crash (the next would be 4 s after the second)
    assert sleeper.proc is not None and sleeper.proc.returncode is not None  # stopped, not left behind
