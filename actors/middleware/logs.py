"""Applies the log settings inside every worker process once `dramatiq` has set up logging."""

from __future__ import annotations

import logging
from typing import Any

from dramatiq.middleware import CurrentMessage, Middleware

from pipeline.logs import configure


class MessageContext(logging.Filter):
    """Names the message being processed on each record (`message_id`, `actor`): JSON lines carry them.

    The current message is a context variable, so the threads that work for a message
    see it only if they run in a copy of its context (see `actors.scraping.search_figures`).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = CurrentMessage.get_current_message()
        if message is not None:
            record.message_id, record.actor = message.message_id, message.actor_name
        return True


class LogSetup(Middleware):
    def __init__(self, json_lines: bool) -> None:
        self.json_lines = json_lines

    def after_process_boot(self, broker: Any) -> None:
        configure(self.json_lines, MessageContext())
