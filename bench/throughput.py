"""Throughput of the full middleware stack against plain Dramatiq, and worker memory over time.

    .venv/bin/python -m bench.throughput [--messages 20000] [--memory-messages 100000] [--rounds 5]

Both runs use the same RabbitMQ, a fresh vhost each, the same worker shape
(1 process, 8 threads) and a no-op actor. The queue is filled first; the clock
runs from the first message taken to the last one acknowledged. For the system,
a second figure waits until the run history has recorded every message too.
Rounds alternate the order of the sides. Two ratios are printed: the best run of
each side, and the median over rounds of each round's own ratio (the two runs of a
round are back to back, so they share the machine's load of the moment).
Prints figures; asserts nothing (targets: ratio >= 0.7, memory flat).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import requests

from tests.support import services

ROOT = Path(__file__).resolve().parents[1]
API = "http://127.0.0.1:15672/api"


def queue_state(vhost: str, queue: str) -> tuple[int, int]:
    r = requests.get(f"{API}/queues/{vhost}/{queue}", auth=("guest", "guest"), timeout=5)
    if r.status_code == 404:
        return 0, 0
    data = r.json()
    return data.get("messages_ready", 0), data.get("messages_unacknowledged", 0)


def fill(module: str, env: dict[str, str], n: int) -> None:
    code = (
        f"import {module} as app\n"
        "from dramatiq import Message\n"
        f"for i in range({n}):\n"
        "    app.broker.enqueue(app.noop.message(i))\n"
        "app.broker.close()\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)


def wait_ready(vhost: str, n: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # The management API refreshes its counts every few seconds.
        if queue_state(vhost, "bench")[0] >= n:
            return
        time.sleep(0.5)
    raise RuntimeError("queue never reached the expected depth")


def drain(module: str, env: dict[str, str], vhost: str, n: int, history_dsn: str | None) -> dict[str, float]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "dramatiq", module, "--processes", "1", "--threads", "8", "--queues", "bench"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    # A direct AMQP passive declare is exact and immediate, unlike the management API.
    try:
        return _measure(proc, env, n, history_dsn)
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


def _measure(proc: subprocess.Popen[bytes], env: dict[str, str], n: int, history_dsn: str | None) -> dict[str, float]:
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(env["BENCH_BROKER_URL"]))
    ch = conn.channel()
    started = finished = None
    while True:
        ready = ch.queue_declare("bench", passive=True, durable=True).method.message_count
        now = time.monotonic()
        if started is None and ready < n:
            started = now
        if started is not None and ready == 0:
            # At most `prefetch` messages (a few per thread) are still in flight here.
            finished = now
            break
        time.sleep(0.02)
    figures = {"seconds": finished - started, "rate": n / (finished - started)}
    if history_dsn:
        with psycopg.connect(history_dsn) as db:
            while db.execute("SELECT count(*) FROM runs WHERE status = 'succeeded'").fetchone()[0] < n:
                time.sleep(0.05)
        done = time.monotonic()
        figures["history_seconds"] = done - started
        figures["history_rate"] = n / (done - started)
    conn.close()
    return figures


def memory_run(env: dict[str, str], vhost: str, n: int) -> list[tuple[int, int]]:
    """RSS of the worker process as messages go through (samples of processed, MB)."""
    fill("bench.stonks_app", env, n)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dramatiq", "bench.stonks_app",
         "--processes", "1", "--threads", "8", "--queues", "bench"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(env["BENCH_BROKER_URL"]))
    ch = conn.channel()
    samples: list[tuple[int, int]] = []
    children: list[int] = []
    try:
        _sample(proc, ch, n, samples, children)
    finally:
        stop(proc)
        conn.close()
    return samples


def _sample(proc: subprocess.Popen[bytes], ch: object, n: int, samples: list[tuple[int, int]],
            children: list[int]) -> None:
    while True:
        if not children:
            out = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
            children = [int(p) for p in out]
        ready = ch.queue_declare("bench", passive=True, durable=True).method.message_count
        if children:
            pages = int(Path(f"/proc/{children[0]}/statm").read_text().split()[1])
            samples.append((n - ready, pages * os.sysconf("SC_PAGE_SIZE") // 2**20))
        if ready == 0:
            break
        time.sleep(1.0)


def run_plain(env: dict[str, str], run_id: str, n: int) -> dict[str, float]:
    fill("bench.plain_app", env, n)
    wait_ready(run_id, n)
    return drain("bench.plain_app", env, run_id, n, None)


def run_stonks(env: dict[str, str], run_id: str, n: int, history: str | None) -> dict[str, float]:
    fill("bench.stonks_app", env, n)
    wait_ready(run_id, n)
    with psycopg.connect(env["DATABASE_URL"].replace("+psycopg", "")) as db:
        db.execute("DELETE FROM runs")
    return drain("bench.stonks_app", env, run_id, n, history)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--memory-messages", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5, help="runs of each side, in alternating order")
    args = parser.parse_args()
    run_id = f"stonks_bench_{uuid.uuid4().hex[:8]}"
    services.create_database(run_id)
    services.create_vhost(run_id)
    dsn = f"postgresql+psycopg://postgres@127.0.0.1:5432/{run_id}"
    broker_url = f"amqp://guest:guest@127.0.0.1:5672/{run_id}"
    spool = tempfile.mkdtemp(prefix=f"{run_id}-spool-")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": dsn, "BROKER_URL": broker_url,
           "BENCH_BROKER_URL": broker_url, "REDIS_NAMESPACE": run_id, "HISTORY_SPOOL_DIR": spool}
    try:
        subprocess.run([sys.executable, "-c", "from pipeline import db; db.upgrade()"], cwd=ROOT, env=env, check=True)
        n = args.messages
        history = None if "RunHistory" in os.environ.get("BENCH_DROP", "") else dsn.replace("+psycopg", "")
        plains, stonkses = [], []
        for r in range(args.rounds):  # alternating, as the machine's load drifts
            if r % 2 == 0:
                plains.append(run_plain(env, run_id, n))
                stonkses.append(run_stonks(env, run_id, n, history))
            else:
                stonkses.append(run_stonks(env, run_id, n, history))
                plains.append(run_plain(env, run_id, n))
        key = "history_rate" if history else "rate"
        plain, stonks = max(plains, key=lambda f: f["rate"]), max(stonkses, key=lambda f: f[key])
        paired = sorted(s[key] / p["rate"] for p, s in zip(plains, stonkses, strict=True))
        print(f"messages: {n}, worker: 1 process x 8 threads, no-op actor, best of {args.rounds} runs each")
        print("plain Dramatiq, every run (msg/s):   " + ", ".join(f"{f['rate']:.0f}" for f in plains))
        print("full stack, every run (msg/s):       " + ", ".join(f"{f[key]:.0f}" for f in stonkses))
        print(f"plain Dramatiq (default middleware): {plain['rate']:8.0f} msg/s ({plain['seconds']:.1f} s)")
        print(f"full stack, queue drained:           {stonks['rate']:8.0f} msg/s ({stonks['seconds']:.1f} s)"
              f"  ratio {stonks['rate'] / plain['rate']:.2f}x (target >= 0.7x)")
        if history:
            print(f"full stack, history written too:     {stonks['history_rate']:8.0f} msg/s"
                  f" ({stonks['history_seconds']:.1f} s)  ratio {stonks['history_rate'] / plain['rate']:.2f}x")
        print(f"each round's ratio ({'history written' if history else 'queue drained'}): "
              + ", ".join(f"{r:.2f}x" for r in paired)
              + f"; median {statistics.median(paired):.2f}x (target >= 0.7x)")
        if args.memory_messages:
            samples = memory_run(env, run_id, args.memory_messages)
            first = next((mb for done, mb in samples if done >= args.memory_messages // 10), samples[0][1])
            print(f"worker RSS over {args.memory_messages} messages (processed: MB): "
                  + ", ".join(f"{d}: {mb}" for d, mb in samples[:: max(len(samples) // 10, 1)]))
            print(f"RSS after 10%: {first} MB, at the end: {samples[-1][1]} MB, growth {samples[-1][1] - first} MB")
    finally:
        shutil.rmtree(spool, ignore_errors=True)
        services.drop_database(run_id)
        services.delete_vhost(run_id)
        services.delete_redis_namespace(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), run_id)


if __name__ == "__main__":
    main()
