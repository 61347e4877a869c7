"""`stonks up`: migrations, then the sandbox, worker, scheduler and dashboard as child processes.

Ctrl-C (or SIGTERM) stops every child cleanly: SIGTERM to each process group, a
grace period for in-flight messages, then SIGKILL. A child that dies is started
again with a growing delay, so one crash does not take the system down. A child
that exits with REFUSED (its configuration is wrong: a worker whose actors' time
limits exceed RabbitMQ's consumer timeout, a schema behind the code, a bad
argument) is not: everything stops, and `stonks up` exits with that code.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.settings import Settings

logger = logging.getLogger("stonks.up")
GRACE_S = 30.0
REFUSED = 2  # dramatiq's and click's exit code for a bad argument: starting again cannot help


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    env: dict[str, str] = field(default_factory=dict)


def sandbox_env(settings: Settings) -> dict[str, str]:
    """Point every source at the local sandbox, with its test credentials."""
    from sandbox import SANDBOX_CREDENTIALS

    url = f"http://127.0.0.1:{settings.sandbox_port}"
    env = {
        "BRICKSET_API_BASE": f"{url}/brickset/api/v3.asmx",
        "REBRICKABLE_API_BASE": f"{url}/rebrickable/api/v3",
        "EBAY_API_BASE": f"{url}/ebay",
        "BRICKLINK_API_BASE": f"{url}/bricklink/api/store/v1",
        "STONKS_SANDBOX": "1",
    }
    env.update({key.upper(): str(value) for key, value in SANDBOX_CREDENTIALS.items()})
    return env


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def plan(settings: Settings, processes: int, threads: int) -> list[Child]:
    py = sys.executable
    children = []
    if settings.uses_sandbox:
        children.append(Child("sandbox", [py, "-m", "sandbox", "--port", str(settings.sandbox_port)]))
    children.append(
        Child("worker", [py, "-m", "dramatiq", "actors", "--processes", str(processes), "--threads", str(threads)])
    )
    if _has_module("schedules.periodiq"):
        # periodiq ships only a console script, installed beside this interpreter.
        children.append(Child("scheduler", [str(Path(py).with_name("periodiq")), "schedules.periodiq"]))
    if settings.prometheus_enabled:
        children.append(Child("metrics", [py, "-m", "actors.cli", "metrics"]))
    if _has_module("pipeline.web.app"):
        children.append(Child("dashboard", [py, "-m", "actors.cli", "dashboard"]))
    return children


class Supervisor:
    def __init__(self, children: list[Child], env: dict[str, str]) -> None:
        self.children = children
        self.env = {**os.environ, **env}
        self.stopping = False

    def _start(self, child: Child) -> None:
        logger.info("starting %s: %s", child.name, " ".join(child.argv))
        child.proc = subprocess.Popen(child.argv, env=self.env, start_new_session=True)

    def _on_signal(self, signum: int, _frame: object) -> None:
        logger.info("received %s, stopping everything", signal.Signals(signum).name)
        self.stopping = True

    def run(self) -> int:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        for child in self.children:
            self._start(child)
            if child.name == "sandbox":
                time.sleep(1.0)  # let it bind before the others call it
        refused = 0
        while not self.stopping:
            now = time.monotonic()
            for child in self.children:
                if child.proc is not None and child.proc.poll() == REFUSED:
                    logger.error("%s refused its configuration (exit %d; its log says why): stopping everything",
                                 child.name, REFUSED)
                    self.stopping, refused = True, REFUSED
                    break
                if child.proc is not None and child.proc.poll() is not None:
                    child.restarts += 1
                    delay = min(2 ** child.restarts, 60)
                    logger.warning("%s exited with %s; restarting in %d s", child.name, child.proc.returncode, delay)
                    child.proc, child.next_start = None, now + delay
                if child.proc is None and now >= child.next_start:
                    self._start(child)
            time.sleep(0.5)
        return self.stop() or refused

    def stop(self) -> int:
        # Stop the producers first (scheduler, dashboard), the worker last.
        for child in reversed(self.children):
            if child.proc is not None and child.proc.poll() is None:
                # To the leader only: dramatiq's main process forwards it to its workers,
                # and a second SIGTERM would make them kill in-flight messages.
                child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + GRACE_S
        for child in self.children:
            if child.proc is None:
                continue
            try:
                child.proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop within %d s; killing it", child.name, GRACE_S)
                os.killpg(child.proc.pid, signal.SIGKILL)
                child.proc.wait()
        logger.info("all stopped")
        return 0
