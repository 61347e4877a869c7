"""JSON log lines on request, and secrets kept out of logs and run history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.worker import running_worker, wait_for

pytestmark = pytest.mark.usefixtures("services")

SECRET = "sEcReT-ebay-0123456789"


def test_worker_logs_json_lines_and_masks_secrets(broker, tmp_path: Path) -> None:
    import actors
    from tests.support.actors import echo
    from tests.test_worker_e2e import status_is

    log = tmp_path / "worker.log"
    env = {"LOG_JSON": "true", "EBAY_CLIENT_SECRET": SECRET}
    with running_worker("tests.support.actors", env=env, log=log):
        message = echo.send(f"token is {SECRET}")
        wait_for(status_is(message.message_id, "succeeded"), what="echo succeeded")
        actors.stack.writer.flush()
    lines = [line for line in log.read_text().splitlines() if line.startswith("{")]
    assert lines, "no JSON log lines"
    records = [json.loads(line) for line in lines]
    assert {"time", "level", "logger", "pid", "message"} <= set(records[0])
    assert SECRET not in log.read_text()


def test_redaction_masks_secret_keys_values_and_url_passwords() -> None:
    from pipeline.redaction import redact

    value = {
        "password": "hunter22", "nested": [{"api_key": "k-123"}, {"theme": "Star Wars"}],
        "dsn": "postgresql://stonks:pw123@db/stonks", "note": f"the secret is {SECRET}", "token": None,
    }
    assert redact(value, secrets=[SECRET]) == {
        "password": "***", "nested": [{"api_key": "***"}, {"theme": "Star Wars"}],
        "dsn": "postgresql://stonks:***@db/stonks", "note": "the secret is ***", "token": None,
    }
