"""Typed settings from the environment and an optional `.env` file."""

from __future__ import annotations

import functools
from typing import Literal

from pydantic import AnyUrl, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MAX_FIGURES_PER_MESSAGE = 100  # a price batch's message: all its figures are stored in one transaction


class SettingsError(SystemExit):
    """A setting is malformed; the message names it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Services
    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/stonks"
    broker_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_namespace: str = Field(default="stonks", pattern=r"^[A-Za-z0-9_.:-]+$")
    history_spool_dir: str = ".stonks/spool"
    rabbitmq_management_url: str = "http://guest:guest@127.0.0.1:15672"
    rabbitmq_consumer_timeout_ms: int = Field(default=1_800_000, gt=0)

    # Catalog and prices
    catalog_source: Literal["rebrickable", "brickset"] = "rebrickable"
    brickset_api_base: AnyUrl = AnyUrl("https://brickset.com/api/v3.asmx")
    brickset_api_key: SecretStr | None = None
    brickset_username: str | None = None
    brickset_password: SecretStr | None = None
    rebrickable_api_base: AnyUrl = AnyUrl("https://rebrickable.com/api/v3")
    rebrickable_api_key: SecretStr | None = None
    ebay_api_base: AnyUrl = AnyUrl("https://api.ebay.com")
    ebay_client_id: str | None = None
    ebay_client_secret: SecretStr | None = None
    # EBAY_US, EBAY_GB, EBAY_MOTORS_US...: a header, and stored with each listing (16 characters at most)
    ebay_marketplace_id: str = Field(default="EBAY_US", pattern=r"^EBAY_[A-Z_]{2,11}$")
    ebay_category_id: str = "19001"
    ebay_daily_quota: int = Field(default=5000, gt=0)
    # figures a price batch's message carries at most (as few messages as fit, evenly filled)
    fetch_figures_per_message: int = Field(default=25, ge=1, le=MAX_FIGURES_PER_MESSAGE)
    # threads of a worker process that run those searches, for all its messages together
    fetch_search_threads: int = Field(default=8, ge=1, le=64)
    bricklink_api_base: AnyUrl = AnyUrl("https://api.bricklink.com/api/store/v1")
    bricklink_consumer_key: str | None = None
    bricklink_consumer_secret: SecretStr | None = None
    bricklink_token_value: str | None = None
    bricklink_token_secret: SecretStr | None = None
    http_timeout_s: float = Field(default=10.0, gt=0)

    # Processes
    stonks_sandbox: bool = False  # set by `stonks up` when the sandbox stands in for the APIs
    sandbox_port: int = Field(default=8765, ge=0, le=65535)
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = Field(default=8000, ge=0, le=65535)
    dashboard_token: SecretStr | None = None
    schedule_file: str | None = None
    prometheus_enabled: bool = False
    log_json: bool = False
    result_ttl_ms: int = Field(default=86_400_000, gt=0)
    worker_max_messages: int = Field(default=0, ge=0)
    worker_max_memory_mb: int = Field(default=0, ge=0)

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
            raise ValueError("must be a postgresql:// URL")
        if value.startswith("postgres://"):
            value = "postgresql://" + value.removeprefix("postgres://")
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @field_validator("broker_url")
    @classmethod
    def _amqp_only(cls, value: str) -> str:
        if not value.startswith(("amqp://", "amqps://")):
            raise ValueError("must be an amqp:// or amqps:// URL")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_only(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis:// URL")
        return value

    @property
    def uses_sandbox(self) -> bool:
        """True when no external API key is set: the sandbox stands in."""
        return not any((self.ebay_client_id, self.rebrickable_api_key, self.brickset_api_key))


def describe_error(exc: ValidationError) -> str:
    from pipeline.redaction import SECRET_KEY, redact_text

    lines = []
    for error in exc.errors():
        name = "_".join(str(part) for part in error["loc"]).upper() or "settings"
        shown = "" if SECRET_KEY.search(name) else f" (got {redact_text(repr(error.get('input')), [])})"
        lines.append(f"setting {name} is invalid: {error['msg']}{shown}")
    return "\n".join(lines)


@functools.cache
def get_settings() -> Settings:
    """The process's settings; a malformed one stops the process with its name."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(describe_error(exc)) from None
