"""Keep secrets out of logs, run history and the dashboard."""

from __future__ import annotations

import functools
import re
from typing import Any

REDACTED = "***"
SECRET_KEY = re.compile(r"(secret|passw|token|api[_-]?key|apikey|authorization|credential|hash|cookie)", re.I)
URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]+):(?P<pw>[^@/\s]+)@", re.I)


@functools.cache
def known_secrets() -> list[str]:
    """Values of secret settings, so they are masked wherever they appear."""
    from pipeline.settings import get_settings

    settings = get_settings()
    values = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if hasattr(value, "get_secret_value") and value.get_secret_value():
            values.append(value.get_secret_value())
    return [v for v in values if len(v) >= 4]


def redact_text(text: str, secrets: list[str] | None = None) -> str:
    text = URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", text)
    for secret in secrets if secrets is not None else known_secrets():
        text = text.replace(secret, REDACTED)
    return text


def redact(value: Any, secrets: list[str] | None = None) -> Any:
    """A copy of a JSON-like value with secret-looking keys and known secret values masked."""
    secrets = known_secrets() if secrets is None else secrets
    if isinstance(value, dict):
        return {
            k: (REDACTED if isinstance(k, str) and SECRET_KEY.search(k) and v not in (None, "") else redact(v, secrets))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact(v, secrets) for v in value]
    if isinstance(value, str):
        return redact_text(value, secrets)
    return value
