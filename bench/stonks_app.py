"""The system's full middleware stack (run history on) with the same no-op actor."""

import os as _os

import dramatiq

import actors

broker = actors.broker


@dramatiq.actor(queue_name="bench", max_retries=0, store_results=False)
def noop(i: int) -> None:
    return None


for _name in filter(None, _os.environ.get("BENCH_DROP", "").split(",")):
    broker.middleware[:] = [m for m in broker.middleware if type(m).__name__ != _name]
