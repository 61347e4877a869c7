"""Log output: JSON lines when LOG_JSON asks for them, and secrets masked either way."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from pipeline.redaction import known_secrets, redact_text

# Set on a record by a filter of the task layer (actors.middleware.logs.MessageContext): the message being processed.
CONTEXT_FIELDS = ("message_id", "actor")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, process, thread, message, and the message
    being processed (`message_id`, `actor`) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "thread": record.threadName,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            if (value := getattr(record, name, None)) is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class RedactSecrets(logging.Filter):
    """Masks configured secret values and URL passwords in every record."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets = known_secrets()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_text(message, self.secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info), self.secrets)
        elif record.exc_text:
            record.exc_text = redact_text(record.exc_text, self.secrets)
        return True


def configure(json_lines: bool, context: logging.Filter | None = None) -> None:
    """Apply to the root logger's handlers (the ones `dramatiq` and `periodiq` set up).

    `context`, a filter that sets `CONTEXT_FIELDS` on a record, goes on every handler too.
    """
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO)
    redactor = RedactSecrets()
    for handler in root.handlers:
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(redactor)
        if context is not None and not any(isinstance(f, type(context)) for f in handler.filters):
            handler.addFilter(context)
        if json_lines:
            handler.setFormatter(JsonFormatter())
