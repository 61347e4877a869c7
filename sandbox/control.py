"""The sandbox's own HTTP API under /_sandbox: faults, statistics, reset."""

from __future__ import annotations

import json
from typing import Any

from .messages import Response, json_response
from .switchboard import Switchboard

_FAULT_FIELDS = ("service", "kind", "count", "probability", "delay_s", "path_contains")


def answer(sandbox: Switchboard, method: str, path: str, body: bytes, origin: str) -> Response:
    route = path.rstrip("/")
    if route == "/_sandbox" and method == "GET":
        return json_response(200, {"seed": sandbox.seed, "services": sandbox.base_urls(origin)})
    if route == "/_sandbox/faults":
        if method == "POST":
            return _arm(sandbox, body)
        if method == "DELETE":
            sandbox.clear_faults()
            return json_response(200, {"faults": []})
        if method == "GET":
            return json_response(200, {"faults": sandbox.faults()})
    if route == "/_sandbox/stats" and method == "GET":
        return json_response(200, sandbox.stats())
    if route == "/_sandbox/reset" and method == "POST":
        sandbox.reset()
        return json_response(200, {"reset": True})
    return json_response(404, {"error": f"no control route {method} {path}"})


def _arm(sandbox: Switchboard, body: bytes) -> Response:
    try:
        spec: Any = json.loads(body or b"{}")
        if not isinstance(spec, dict):
            raise ValueError("the body must be a JSON object")
        unknown = sorted(set(spec) - set(_FAULT_FIELDS))
        if unknown:
            raise ValueError(f"unknown fields {unknown}; use {list(_FAULT_FIELDS)}")
        if "service" not in spec or "kind" not in spec:
            raise ValueError("service and kind are required")
        count = spec.get("count", 1)
        sandbox.inject(str(spec["service"]), str(spec["kind"]), count=None if count is None else int(count),
                       probability=float(spec.get("probability", 1.0)), delay_s=spec.get("delay_s"),
                       path_contains=spec.get("path_contains"))
    except (ValueError, TypeError) as exc:
        return json_response(400, {"error": str(exc)})
    return json_response(201, {"faults": sandbox.faults()})
