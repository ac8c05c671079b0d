"""One typed settings object, from ``DISPATCH_*`` environment variables."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.roles import Role
from reports.shifts import parse_starts

MIN_SECRET_LENGTH = 32
_KNOWN_UNSAFE = {"secret", "changeme", "change-me", "dev", "development", "password", "test"}


class UnsafeSettings(ValueError):
    """The settings would run the center insecurely outside demo mode."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DISPATCH_", extra="ignore")

    redis_url: str | None = None
    database_url: str | None = None
    secret_key: SecretStr | None = None
    data_dir: Path = Path(".data")
    demo: bool = False

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    token_ttl_s: int = Field(8 * 3600, gt=0)
    # login: a token lasts one shift; this many wrong passwords in a row lock the account this long
    login_token_ttl_s: int = Field(8 * 3600, gt=0)
    login_max_failures: int = Field(5, ge=1, le=100)
    login_lock_s: float = Field(15 * 60, gt=0)
    # browsers may open sockets only from these origins (besides the center's own pages)
    allowed_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(256 * 1024, gt=0)

    dispatcher_tasks: int = Field(2, ge=0, le=64)
    reconcile_every_s: float = Field(10.0, gt=0)
    # an alert not handled this long after acceptance is queued again by the reconciler
    requeue_after_s: float = Field(15.0, gt=0)
    # how often units whose status in Redis drifted from PostgreSQL are looked for (and written again
    # when seen twice in a row)
    live_repair_every_s: float = Field(15.0, gt=0)

    # a position fix is refused when its time is further ahead of the center's clock (a phone with a
    # wrong clock) or further behind it than this; a replay's accelerated clock widens the first
    fix_max_ahead_s: float = Field(300.0, gt=0, le=10 * 365 * 86400)
    fix_max_age_s: float = Field(86400.0, gt=0, le=365 * 86400)
    # position updates reach screens coalesced, once per tick
    screen_tick_s: float = Field(1.0, gt=0)
    # how often offer deadlines are checked, and waiting incidents swept for units together
    offer_check_every_s: float = Field(1.0, gt=0)
    pending_sweep_every_s: float = Field(3.0, gt=0)
    # grid-case deadlines: the jurisdiction's time zone (working days begin at its midnight), and how
    # often the deadline check runs
    timezone: str = "Asia/Shanghai"
    case_check_every_s: float = Field(60.0, gt=0)
    # an operator's working-day calendar (TOML, the shape of cases/workdays.toml): each year it holds
    # replaces or adds to the shipped data, e.g. the next year's holidays once they are published
    workdays_file: Path | None = None
    # shift reports: the local times (in `timezone`) the day's shifts start, each "HH:MM"; a report of
    # each shift is made when it ends (checked this often, and at start)
    shift_starts: list[str] = Field(default_factory=lambda: ["08:00", "16:00", "00:00"])
    shift_check_every_s: float = Field(60.0, gt=0)
    # position history older than this is deleted (checked hourly)
    positions_retention_days: float = Field(90.0, gt=0)
    # where grid-report photos and videos are kept (default: <data_dir>/attachments)
    attachments_path: Path | None = None
    # the pages' map: a tile server for production, e.g. "https://tiles.example/{z}/{x}/{y}.png"; none by
    # default, so that the wall works with no internet access (zones and a grid on a plain background)
    tile_url: str | None = None
    # an OpenStreetMap extract (.osm.pbf): units are ranked by road travel time on it; none: straight
    # line, as before. Its prepared form is kept beside it (or under <data_dir>/roads when read-only)
    roads_file: Path | None = None
    # a point farther than this from any road of the extract is estimated by the straight line
    roads_max_snap_m: float = Field(300.0, gt=0, le=5_000)
    # units of each needed kind a recommendation weighs by road at least (nearest by straight line)
    roads_candidates: int = Field(10, ge=1, le=2_000)
    tile_attribution: str = ""
    # `up --demo`: simulated calls and grid reports an hour at the busiest hours of the day
    demo_calls_per_hour: float = Field(120.0, ge=0)
    # the demo city: the generated Huangpu district, or Baltimore's real calls on its real streets
    demo_city: Literal["huangpu", "baltimore"] = "huangpu"
    # every category with a response plan is offered at once, nobody confirms (an unattended center;
    # `simulate --replay`, which has no dispatcher to confirm)
    auto_dispatch_all: bool = False
    # logs: "text" (readable, the default) or "json" (one object per line, for a log collector)
    log_format: Literal["text", "json"] = "text"
    # OpenTelemetry spans along each alert's way (needs the `tracing` extra), sent over OTLP/HTTP to
    # this traces URL, or where the standard OTEL_EXPORTER_OTLP_* variables say (docs/observability.md)
    tracing: bool = False
    tracing_endpoint: str | None = Field(None, max_length=2000)
    # who may read /metrics: a role whose token is required (admin is always admitted), or "open":
    # anyone who reaches the port, for a port only the monitoring network can reach
    metrics: str = Role.ADMIN.value

    @field_validator("metrics")
    @classmethod
    def _metrics_access(cls, value: str) -> str:
        if value != "open" and value not in {r.value for r in Role}:
            raise ValueError(f"must be 'open' or a role: {', '.join(r.value for r in Role)}")
        return value

    @field_validator("shift_starts")
    @classmethod
    def _shift_times(cls, value: list[str]) -> list[str]:
        parse_starts(value)  # refused at start, naming the value, not at the first shift end
        return value

    def attachments_dir(self) -> Path:
        return self.attachments_path or self.data_dir / "attachments"

    def secret(self) -> str:
        """The signing secret; in demo mode a random one is made once and kept in the data folder."""
        if self.secret_key is not None:
            value = self.secret_key.get_secret_value()
            if self.demo or is_safe_secret(value):
                return value
            raise UnsafeSettings(
                f"DISPATCH_SECRET_KEY is unsafe: use at least {MIN_SECRET_LENGTH} random characters"
            )
        if not self.demo:
            raise UnsafeSettings(
                "DISPATCH_SECRET_KEY is not set; set it (at least 32 random characters) or run with --demo"
            )
        path = self.data_dir / "demo-secret.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
            path.chmod(0o600)
        return path.read_text(encoding="utf-8").strip()


def is_safe_secret(value: str) -> bool:
    return len(value) >= MIN_SECRET_LENGTH and value.lower() not in _KNOWN_UNSAFE and len(set(value)) > 8
