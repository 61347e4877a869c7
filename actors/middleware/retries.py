"""The retry policy, written out instead of Dramatiq's defaults (20 retries, up to 7 days)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from dramatiq.middleware import Retries

from actors.arguments import arguments_refused
from pipeline.errors import Deferred, InvalidInput

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 5  # six attempts in all
    min_backoff_ms: int = 2_000  # 2 s, 4 s, 8 s, 16 s, 32 s: ~1 min of retrying, then dead letter
    max_backoff_ms: int = 300_000  # never wait more than 5 minutes between attempts
    max_deferral_ms: int = 6 * 3_600_000  # a quota deferral waits at most 6 h at a time


POLICY = RetryPolicy()


class PolicyRetries(Retries):
    """Dramatiq's Retries with the policy above, and deferrals that are not failures.

    A `Deferred` error (a quota that ran out) puts the message back with a delay
    without spending a retry; the AgeLimit middleware bounds how long that can go on.
    """

    def __init__(self, policy: RetryPolicy = POLICY) -> None:
        super().__init__(
            max_retries=policy.max_retries,
            min_backoff=policy.min_backoff_ms,
            max_backoff=policy.max_backoff_ms,
        )
        self.policy = policy

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: BaseException | None = None
    ) -> None:
        if isinstance(exception, InvalidInput) or arguments_refused(broker, message, exception):
            logger.info("message %s has bad input, not retrying: %s", message.message_id, exception)
            message.fail()
            return
        if isinstance(exception, Deferred):
            delay_ms = min(max(int(exception.delay_s * 1000), 1_000), self.policy.max_deferral_ms)
            message.options["deferrals"] = message.options.get("deferrals", 0) + 1
            logger.info("deferring message %s by %d ms: %s", message.message_id, delay_ms, exception)
            broker.enqueue(message, delay=delay_ms)
            return
        super().after_process_message(broker, message, result=result, exception=exception)  # type: ignore[no-untyped-call]

