"""Settings: environment variables, the optional TOML file, database URLs, production secrets."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from depotflow.core.settings import Settings, to_async_url


def test_plain_database_urls_select_the_async_drivers() -> None:
    assert to_async_url("sqlite:///var/x.db") == "sqlite+aiosqlite:///var/x.db"
    assert to_async_url("postgresql://u:p@h:5432/db") == "postgresql+asyncpg://u:p@h:5432/db"
    assert to_async_url("postgres://u@h/db") == "postgresql+asyncpg://u@h/db"
    with pytest.raises(ValueError, match="unsupported database URL scheme: mysql"):
        to_async_url("mysql://u@h/db")


def test_default_database_is_sqlite_in_the_data_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DEPOTFLOW_DATABASE_URL", raising=False)
    monkeypatch.setenv("DEPOTFLOW_DATA_DIR", str(tmp_path / "data"))

    assert Settings().resolved_database_url == f"sqlite+aiosqlite:///{tmp_path}/data/depotflow.db"


def test_environment_variables_and_nested_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPOTFLOW_DATABASE_URL", "postgresql://a@b/c")
    monkeypatch.setenv("DEPOTFLOW_SECURITY__TOKEN_TTL_MINUTES", "30")
    monkeypatch.setenv("DEPOTFLOW_HTTP__CORS_ALLOW_ORIGINS", '["https://plant.example"]')

    settings = Settings()

    assert settings.resolved_database_url == "postgresql+asyncpg://a@b/c"
    assert settings.security.token_ttl_minutes == 30
    assert settings.http.cors_allow_origins == ["https://plant.example"]


def test_config_file_is_read_and_environment_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "depotflow.toml"
    config.write_text('log_level = "DEBUG"\n[security]\npassword_min_length = 16\ntoken_ttl_minutes = 60\n')
    monkeypatch.setenv("DEPOTFLOW_CONFIG_FILE", str(config))
    monkeypatch.setenv("DEPOTFLOW_SECURITY__TOKEN_TTL_MINUTES", "15")

    settings = Settings()

    assert settings.log_level == "DEBUG"
    assert settings.security.password_min_length == 16
    assert settings.security.token_ttl_minutes == 15


def test_production_refuses_a_missing_or_short_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPOTFLOW_ENV", "production")
    monkeypatch.delenv("DEPOTFLOW_SECRET_KEY", raising=False)
    with pytest.raises(ValidationError, match="DEPOTFLOW_SECRET_KEY must be set in production"):
        Settings()

    monkeypatch.setenv("DEPOTFLOW_SECRET_KEY", "short")
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings()

    monkeypatch.setenv("DEPOTFLOW_SECRET_KEY", "x" * 40)
    assert Settings().resolved_secret_key() == "x" * 40


def test_development_secret_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    settings = Settings(env="development", data_dir=tmp_path)

    first = settings.resolved_secret_key()
    second = Settings(env="development", data_dir=tmp_path).resolved_secret_key()

    assert first == second
    assert len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_inventree_mode_needs_a_url() -> None:
    with pytest.raises(ValidationError, match="inventree_url is required"):
        Settings(identity={"mode": "inventree"})
