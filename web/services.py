"""What the web layer needs from the running center, handed to it by the composition root."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from prometheus_client.registry import Collector

from accounts.users import UserStore
from alerts.attachments import AttachmentStore
from alerts.catalogue import Catalogue
from alerts.intake import Intake
from alerts.panic import Panics
from alerts.related import Related
from cases.casebook import CaseBook
from core.feed import Feed
from core.tokens import TokenSigner
from dispatch.dispatcher import Dispatcher
from dispatch.lifecycle import Lifecycle
from dispatch.road_travel import RoadTravel
from realtime.hub import Hub
from realtime.snapshot import SharedSnapshot
from realtime.unit_socket import UnitDesk
from reports.shift_book import ShiftBook
from roads.streets import StreetLayer
from units.kinds import UnitKind
from units.live import LiveIndex
from units.positions import PositionService
from units.roster import Roster


@dataclass
class Services:
    pool: asyncpg.Pool
    redis: aioredis.Redis
    signer: TokenSigner
    catalogue: Catalogue
    kinds: Mapping[str, UnitKind]
    intake: Intake
    panics: Panics
    related: Related
    cases: CaseBook
    attachments: AttachmentStore
    roster: Roster
    live: LiveIndex
    positions: PositionService
    dispatcher: Dispatcher
    lifecycle: Lifecycle
    feed: Feed
    hub: Hub
    snapshots: SharedSnapshot
    readiness: Callable[[], Awaitable[dict[str, Any]]]
    # the gauges read from the stores for one /metrics scrape
    scrape: Callable[[], Awaitable[Collector]]
    users: UserStore
    shifts: ShiftBook
    # the jurisdiction's time zone: reports group by its hours and days
    timezone: str
    allowed_origins: frozenset[str] = field(default_factory=frozenset)
    max_body_bytes: int = 256 * 1024
    # who may read /metrics: "open", or a role whose token is required (admin always is)
    metrics_access: str = "admin"
    # travel by road when an extract is configured (routes for offers, streets for the pages)
    roads: RoadTravel | None = None
    streets: StreetLayer | None = None

    @property
    def unit_desk(self) -> UnitDesk:
        return UnitDesk(self.pool, self.roster, self.positions, self.lifecycle, self.hub, self.feed,
                        self.panics)  # fmt: skip
