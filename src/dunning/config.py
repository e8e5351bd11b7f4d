"""Typed settings. Built by :func:`get_settings` (never at import time).

Sources, strongest first: constructor arguments, environment (``DUNNING_`` prefix, ``__`` nesting, e.g.
``DUNNING_DATABASE_URL``, ``DUNNING_CHANNELS__SMPP1__RATE``), the TOML settings file (``dunning.toml`` in the
working directory or ``DUNNING_SETTINGS_FILE``), then defaults. Secrets are ``SecretStr`` and never logged.
"""

from __future__ import annotations

import os
import secrets
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class ChannelSettings(BaseModel):
    """One configured channel instance (``[channels.NAME]`` in ``dunning.toml``)."""

    kind: str = "sandbox"
    rate: float = 1000.0
    # What ``rate`` counts: "parts" (PDUs, what carriers contract; default for SMPP and HTTP gateways) or
    # "messages" (default for the template APIs, which bill and throttle per request). Progress counts messages.
    rate_unit: Literal["parts", "messages"] | None = None
    priority: int = 100
    fallback: str | None = None
    enabled: bool = True
    options: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, SecretStr] = Field(default_factory=dict)


    @property
    def effective_rate_unit(self) -> str:
        if self.rate_unit is not None:
            return self.rate_unit
        return "parts" if self.kind in PARTS_RATE_KINDS else "messages"


PARTS_RATE_KINDS = frozenset({"smpp", "http"})


class IdentitySettings(BaseModel):
    """The institution's published sender identity (used by templates, policy overlay and the verification page)."""

    institution: str = "阳光消费金融"
    signatures: list[str] = Field(default_factory=lambda: ["阳光消费金融"])
    hotlines: list[str] = Field(default_factory=lambda: ["95000"])
    app_name: str = "阳光消费金融App"
    domain: str = "sunshine-cfc.example.cn"
    sender_ports: list[str] = Field(default_factory=lambda: ["1069012345"])
    agencies: list[str] = Field(default_factory=list)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DUNNING_", env_nested_delimiter="__", extra="ignore", toml_file="dunning.toml"
    )

    data_dir: Path = Path(".dunning")
    database_url: str | None = None
    timezone: str = "Asia/Shanghai"
    policy_profile: str = "CN"
    policy_overlay: Path | None = None
    secret_key: SecretStr | None = None
    # Business time for drills, backfills and tests: when set, the clock starts at this instant and advances
    # with real time. Never needed in production.
    business_time: datetime | None = None
    verify_code_ttl_days: int = 30
    verify_window_minutes: int = 10  # fixed window for verification rate limits
    verify_max_per_ip: int = 20
    verify_max_per_phone: int = 5  # failed checks of one phone per window (a genuine check is never counted)
    # Staff hotline lookups per window: per user and per client address; past them the lookup is refused and
    # an alert (audit ``verify.hotline_limited``, a warning in the log) is raised.
    hotline_max_per_user: int = 20
    hotline_max_per_ip: int = 40
    # Behind a reverse proxy the client address comes from X-Forwarded-For, but only from these proxies
    # (``dunning serve --forwarded-allow-ips``); without it every public visitor shares the proxy's address.
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    channels: dict[str, ChannelSettings] = Field(
        default_factory=lambda: {"sandbox": ChannelSettings(kind="sandbox", rate=50000.0, priority=100)}
    )
    default_channel: str = "sandbox"
    dispatch_batch_size: int = 500
    dlr_timeout_hours: float = 72.0
    # Dispatch scale-out: limiter state in Redis when redis_url is set (else in the database); the Celery broker
    # (redis:// or amqp://) used when dispatch_mode is "celery"; failed send calls in a row that pause a campaign.
    redis_url: str | None = None
    broker_url: str | None = None
    dispatch_mode: str = "inline"  # inline | celery
    # The broker queue of the dispatch task: installations sharing one broker need different queues, or one's
    # worker would send the other's campaigns against its own (wrong) database.
    dispatch_queue: str = "dunning.dispatch"
    # Redis broker: an unacknowledged task (its worker died) is redelivered after this many seconds.
    broker_visibility_timeout: float = 3600.0
    # How often each worker looks for campaigns whose sender died (dead or expired lease) and enqueues them again.
    worker_rescue_seconds: float = 30.0
    breaker_threshold: int = 20
    log_level: str = "INFO"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = os.environ.get("DUNNING_SETTINGS_FILE", "dunning.toml")
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_path),
            file_secret_settings,
        )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'dunning.db').resolve()}"

    def private_dir(self) -> Path:
        """``data_dir``, created owner-only (0700): it holds the database, keys, reports and uploads."""
        return ensure_private_dir(self.data_dir)

    def install_key(self, name: str) -> bytes:
        """A random key of this installation kept in ``data_dir/<name>.key`` (0600), created on first use."""
        path = self.private_dir() / f"{name}.key"
        if not path.exists():
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process created it first
                return path.read_text().strip().encode()
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        return path.read_text().strip().encode()

    def secret(self) -> bytes:
        """The server secret (HMAC for verification codes, session signing).

        Taken from settings; when unset (the embedded default) a random key is created once under ``data_dir``
        with owner-only permissions, so a demo needs no manual step and no secret lives in code.
        """
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        return self.install_key("secret")


def private_umask() -> None:
    """Files this process creates are owner-only from now on (0600 files, 0700 folders): the database, its
    journal, reports, uploads and keys hold names, phones, debts and codes. Entry points call it first."""
    os.umask(0o077)


def tighten(path: Path) -> None:
    """Make an existing data directory owner-only, files and folders alike (an install from before)."""
    if not path.is_dir():
        return
    ensure_private_dir(path)
    for root, dirs, files in os.walk(path):
        for d in dirs:
            p = Path(root, d)
            if p.stat().st_mode & 0o077:
                p.chmod(0o700)
        for f in files:
            p = Path(root, f)
            if not p.is_symlink() and p.stat().st_mode & 0o077:
                p.chmod(0o600)


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) owner-only; tighten it when it exists with wider modes."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built on first call."""
    return Settings()
