"""Settings from DEPOTFLOW_* environment variables and an optional TOML config file."""

import os
import secrets
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class SecuritySettings(BaseModel):
    token_ttl_minutes: int = Field(default=12 * 60, ge=1, le=60 * 24 * 90)
    token_cache_seconds: float = Field(default=5.0, ge=0, le=300)
    password_min_length: int = Field(default=12, ge=8, le=128)
    # Login throttling: after `slowdown_after` failures within `window_seconds` each further
    # attempt waits `slowdown_step_seconds` more (capped); at `lock_after` the key is locked.
    login_window_seconds: int = Field(default=15 * 60, ge=1)
    login_slowdown_after: int = Field(default=3, ge=1)
    login_slowdown_step_seconds: float = Field(default=0.5, ge=0)
    login_slowdown_max_seconds: float = Field(default=3.0, ge=0)
    login_lock_after_user: int = Field(default=5, ge=1)
    login_lock_after_address: int = Field(default=20, ge=1)
    login_lock_seconds: int = Field(default=15 * 60, ge=1)


class HttpSettings(BaseModel):
    # At least `storage.max_upload_bytes` plus room for the multipart framing and form fields.
    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    cors_allow_origins: list[str] = Field(default_factory=list)
    forwarded_allow_ips: str = "127.0.0.1"


class ListingSettings(BaseModel):
    default_limit: int = Field(default=50, ge=1)
    max_limit: int = Field(default=500, ge=1)


DEFAULT_ALLOWED_TYPES = [
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "text/plain",
    "text/csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/zip",
]


class StorageSettings(BaseModel):
    """The shared file store (files live under `<data_dir>/files`)."""

    # A larger request body is refused earlier by `http.max_body_bytes`: keep that limit above this one.
    max_upload_bytes: int = Field(default=25 * 1024 * 1024, ge=1)
    # Content types accepted on upload, as sniffed from the bytes (the client's claim is ignored).
    allowed_types: list[str] = Field(default_factory=lambda: list(DEFAULT_ALLOWED_TYPES))


class ProcurementSettings(BaseModel):
    """Receiving rules. `over_receipt`: "reject" refuses any quantity above the line's remaining
    quantity; "tolerance" accepts up to `over_receipt_tolerance_percent` above the ordered quantity."""

    over_receipt: Literal["reject", "tolerance"] = "reject"
    over_receipt_tolerance_percent: Decimal = Field(default=Decimal(0), ge=0, le=100, decimal_places=2)


class WebSettings(BaseModel):
    """The browser UI at /web/: its session cookie, language and time zone."""

    # Plain-HTTP development and the browser tests on 127.0.0.1 only: drops `Secure` and the
    # `__Host-` cookie prefix. Refused in production.
    insecure_cookies: bool = False
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    session_absolute_minutes: int = Field(default=12 * 60, ge=5, le=7 * 24 * 60)
    default_locale: Literal["en", "ro"] = "en"
    # Times are stored in UTC and shown in the plant's time zone.
    timezone: str = "Europe/Bucharest"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone: {value}") from exc
        return value


class IdentitySettings(BaseModel):
    mode: Literal["local", "inventree"] = "local"
    inventree_url: str | None = None
    inventree_timeout_seconds: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _url_for_inventree(self) -> "IdentitySettings":
        if self.mode == "inventree" and not self.inventree_url:
            raise ValueError("identity.inventree_url is required when identity.mode is 'inventree'")
        return self


class Settings(BaseSettings):
    """The one settings tree; nested groups use `DEPOTFLOW_<GROUP>__<KEY>`."""

    model_config = SettingsConfigDict(
        env_prefix="DEPOTFLOW_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    env: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("./var")
    database_url: str | None = None
    secret_key: SecretStr | None = None
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"

    security: SecuritySettings = SecuritySettings()
    http: HttpSettings = HttpSettings()
    listing: ListingSettings = ListingSettings()
    identity: IdentitySettings = IdentitySettings()
    storage: StorageSettings = StorageSettings()
    procurement: ProcurementSettings = ProcurementSettings()
    web: WebSettings = WebSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("DEPOTFLOW_CONFIG_FILE")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    @field_validator("secret_key")
    @classmethod
    def _secret_strength(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("secret_key must be at least 32 characters")
        return value

    @model_validator(mode="after")
    def _production_needs_secrets(self) -> "Settings":
        if self.env == "production" and self.secret_key is None:
            raise ValueError("DEPOTFLOW_SECRET_KEY must be set in production (no default is used)")
        if self.env == "production" and self.web.insecure_cookies:
            raise ValueError("web.insecure_cookies is for plain-HTTP development only; it is refused in production")
        return self

    @property
    def resolved_database_url(self) -> str:
        """The SQLAlchemy async URL; defaults to SQLite in the data directory."""
        raw = self.database_url or f"sqlite:///{(self.data_dir / 'depotflow.db').as_posix()}"
        return to_async_url(raw)

    def resolved_secret_key(self) -> str:
        """The configured secret, or (outside production) one generated once into the data dir."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(48)
        path.write_text(value)
        path.chmod(0o600)
        return value


def to_async_url(raw: str) -> str:
    """Accept plain `sqlite:///` and `postgresql://` URLs and pick the async drivers."""
    for prefix, replacement in (
        ("sqlite:///", "sqlite+aiosqlite:///"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
    ):
        if raw.startswith(prefix):
            return replacement + raw[len(prefix) :]
    if raw.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        return raw
    raise ValueError(f"unsupported database URL scheme: {raw.split(':', 1)[0]}")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()


def build_settings(**overrides: Any) -> Settings:
    """Settings from the environment with explicit overrides (tests, CLI flags)."""
    return Settings(**overrides)
