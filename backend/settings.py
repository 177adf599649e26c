"""One settings object, read from the environment and ``.env``; every variable starts with STUDIO_."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(SystemExit):
    """A missing or invalid setting: exits with one line naming the variable."""


class Settings(BaseSettings):
    """Studio configuration. With nothing set the studio runs embedded on one machine."""

    model_config = SettingsConfigDict(env_prefix="STUDIO_", env_file=".env", extra="ignore")

    data_dir: Path = Path("./data")
    database_url: str | None = None  # default: SQLite file under data_dir
    broker_url: str = "embedded"  # or redis://host:port/db
    storage_url: str | None = None  # default: folder under data_dir; or s3://bucket
    s3_endpoint: str = "127.0.0.1:9000"
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_secure: bool = False
    s3_region: str = "us-east-1"
    presign_expiry_s: int = Field(3600, ge=60, le=7 * 24 * 3600)
    public_media_base_url: str | None = None
    port: int = Field(8501, ge=1, le=65535)
    secret_key: str | None = None  # cookie key; generated once under data_dir when empty
    cookie_name: str = "studio_auth"
    cookie_expiry_days: float = Field(7, gt=0)
    bcrypt_rounds: int = Field(12, ge=4, le=16)  # cost of password hashes (tests use 4)
    models_dir: Path = Path("./models")
    llm_base_url: str = "https://openrouter.ai/api/v1"
    llm_api_key: str | None = None
    llm_model: str = "openai/gpt-4o-mini"
    llm_timeout_s: float = Field(60, gt=0)
    llm_cache_ttl_s: int = Field(24 * 3600, ge=0)
    # Generation: LLM spending, retries and prices (USD per million tokens: [input, output]).
    llm_monthly_budget_usd: float = Field(20.0, ge=0)  # per workspace; admins can change theirs in the UI
    llm_max_attempts: int = Field(4, ge=1, le=10)  # per request inside one job attempt
    llm_backoff_s: float = Field(1.0, ge=0)
    llm_backoff_max_s: float = Field(30.0, ge=0)
    llm_prices: dict[str, list[float]] = {
        "openai/gpt-4o-mini": [0.15, 0.60], "openai/gpt-4o": [2.50, 10.0], "anthropic/claude-3.5-haiku": [0.80, 4.0],
        "anthropic/claude-sonnet-4": [3.0, 15.0], "google/gemini-2.0-flash-001": [0.10, 0.40], "*": [1.0, 3.0],
    }
    comfyui_timeout_s: float = Field(900, gt=0)
    generation_device: str | None = None  # cuda / cpu / mps; default: cuda when available
    generation_base_model: str = "demo-sd15"  # used when a request names none and has no LoRA
    webhook_timeout_s: float = Field(10, gt=0)
    webhook_backoff_s: float = Field(5, ge=0)  # first retry delay of a failed delivery; doubles
    comfyui_url: str | None = None
    generation_backend: Literal["builtin", "comfyui"] = "builtin"
    embedded_cpu_threads: int = Field(2, ge=1, le=64)
    # Jobs: how long a running job may go without a heartbeat, and a queued one without a send.
    heartbeat_interval_s: float = Field(5, gt=0)
    stale_after_s: float = Field(60, gt=0)
    resend_after_s: float = Field(60, gt=0)
    reconcile_every_s: float = Field(10, gt=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Dataset ingest limits.
    max_image_bytes: int = Field(50 * 1024 * 1024, gt=0)
    max_image_pixels: int = Field(40_000_000, gt=0)
    min_image_side: int = Field(256, gt=0)
    max_archive_bytes: int = Field(2 * 1024 * 1024 * 1024, gt=0)
    max_archive_entries: int = Field(5000, gt=0)
    # Calendar and publishing.
    encryption_key: str | None = None  # Fernet key for access tokens; generated once under data_dir when empty
    instagram_graph_url: str = "https://graph.facebook.com/v21.0"
    scheduler_interval_s: float = Field(5, gt=0)
    publish_missed_window_s: float = Field(6 * 3600, ge=0)  # older due posts fail "missed" instead of publishing
    post_min_gap_minutes: int = Field(120, ge=0)  # closer posts of one influencer get a warning
    publish_http_timeout_s: float = Field(30, gt=0)
    publish_poll_interval_s: float = Field(3, gt=0)  # Instagram container status polling
    publish_poll_timeout_s: float = Field(600, gt=0)

    @field_validator("broker_url")
    @classmethod
    def _broker(cls, v: str) -> str:
        if v != "embedded" and not v.startswith(("redis://", "rediss://")):
            raise ValueError("must be 'embedded' or a redis:// URL")
        return v

    @field_validator("storage_url")
    @classmethod
    def _storage(cls, v: str | None) -> str | None:
        if v and not (v.startswith("s3://") or v.startswith("file://") or v.startswith("/")):
            raise ValueError("must be s3://bucket, file:///path or an absolute path")
        return v

    @field_validator("database_url")
    @classmethod
    def _db(cls, v: str | None) -> str | None:
        if v and not v.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return v

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'studio.db').resolve()}"

    @property
    def is_embedded_broker(self) -> bool:
        return self.broker_url == "embedded"


def _one_line(err: ValidationError) -> str:
    first = err.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else "?"
    msg = str(first["msg"]).strip().splitlines()[0] if str(first["msg"]).strip() else "invalid value"
    return f"invalid setting STUDIO_{field.upper()}: {msg}"


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning a validation error into one line that names the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as err:
        raise SettingsError(_one_line(err)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests call ``get_settings.cache_clear()``)."""
    return load_settings()
