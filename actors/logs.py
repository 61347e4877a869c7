"""Applies the log settings inside every worker process once `dramatiq` has set up logging."""

from __future__ import annotations

from typing import Any

from dramatiq.middleware import Middleware

from pipeline.logs import configure


class LogSetup(Middleware):
    def __init__(self, json_lines: bool) -> None:
        self.json_lines = json_lines

    def after_process_boot(self, broker: Any) -> None:
        configure(self.json_lines)
