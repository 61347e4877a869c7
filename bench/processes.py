"""The processes a benchmark starts (each in its own session, logging to a file), and what it asks RabbitMQ."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
from contextlib import closing, suppress
from pathlib import Path

import pika
import pika.exceptions

from tests.support.worker import stop_worker

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the benchmark dies, even by SIGKILL."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def consumers(broker_url: str, queue: str) -> int:
    """The queue's consumers right now (0 while it does not exist)."""
    with closing(pika.BlockingConnection(pika.URLParameters(broker_url))) as conn:
        try:
            return int(conn.channel().queue_declare(queue, passive=True).method.consumer_count)
        except pika.exceptions.ChannelClosedByBroker:
            return 0


def cpu_seconds(groups: set[int]) -> float:
    """User and system CPU so far of the live processes in these process groups."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[2]) in groups:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class Processes:
    """Started processes, each the leader of its own process group, stopped with everything it spawned."""

    def __init__(self, log_dir: Path, env: dict[str, str]) -> None:
        self.log_dir = log_dir
        self.env = env
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, cmd: list[str]) -> subprocess.Popen[bytes]:
        with open(self.log_dir / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(
                cmd, cwd=Path(__file__).resolve().parents[1], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509  (the child only calls prctl, via ctypes)
            )
        self.running[name] = proc
        return proc

    def check(self) -> None:
        """Raise, with the end of its log, if a started process has exited."""
        for name, proc in self.running.items():
            if proc.poll() is not None:
                tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail}")

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
        """SIGTERM to the process group (SIGKILL after `timeout`), then whatever outlived the leader."""
        stop_worker(proc, timeout=timeout)
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        self.running = {name: p for name, p in self.running.items() if p is not proc}

    def stop_all(self) -> None:
        for proc in list(self.running.values())[::-1]:
            self.stop(proc)
