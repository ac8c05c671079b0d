"""Attachments of grid reports (photos, short videos): checked by type and size, kept as files named by
their SHA-256 outside the database, and linked to their alert with an event.

The declared content type must match what the first bytes say, so a renamed executable is not stored
as a photo.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

from core import eventlog
from core.errors import Invalid, NotFound, TooLarge
from core.eventlog import Event

MiB = 1024 * 1024

# accepted types and their size limits
LIMITS: Mapping[str, int] = {
    "image/jpeg": 15 * MiB,
    "image/png": 15 * MiB,
    "image/webp": 15 * MiB,
    "video/mp4": 100 * MiB,
    "video/quicktime": 100 * MiB,
}


def sniff(head: bytes) -> str | None:
    """The content type the first bytes of a file show, among the accepted ones."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:10] == b"qt" else "video/mp4"
    return None


def check_declared(declared: str) -> None:
    if declared not in LIMITS:
        raise Invalid(
            f"type {declared or 'none'} is not accepted", field="Content-Type", accepted=sorted(LIMITS)
        )


def check_type(declared: str, head: bytes) -> None:
    check_declared(declared)
    seen = sniff(head)
    # an MP4 and a QuickTime file share their container, so either name is fine for either
    same_family = seen is not None and seen.split("/")[0] == declared.split("/")[0] == "video"
    if seen != declared and not same_family:
        raise Invalid(f"the file's content is not {declared}", field="body", found=seen)


@dataclass(frozen=True, slots=True)
class Attachment:
    id: int
    alert_id: int
    sha256: str
    content_type: str
    size_bytes: int
    filename: str | None
    uploaded_by: str
    uploaded_at: datetime

    @classmethod
    def from_row(cls, r: asyncpg.Record) -> Attachment:
        return cls(r["id"], r["alert_id"], r["sha256"], r["content_type"], r["size_bytes"], r["filename"],
                   r["uploaded_by"], r["uploaded_at"])  # fmt: skip

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "alert_id": self.alert_id, "sha256": self.sha256,
            "content_type": self.content_type, "size_bytes": self.size_bytes, "filename": self.filename,
            "uploaded_by": self.uploaded_by, "uploaded_at": self.uploaded_at.isoformat(),
        }  # fmt: skip


class AttachmentStore:
    def __init__(self, pool: asyncpg.Pool, folder: Path) -> None:
        self._pool = pool
        self._folder = folder

    def path_of(self, sha256: str) -> Path:
        return self._folder / sha256[:2] / sha256

    async def reporter_of(self, alert_id: int) -> str:
        reporter: str | None = await self._pool.fetchval(
            "select reported_by from alerts where id = $1", alert_id
        )
        if reporter is None:
            raise NotFound(f"no alert {alert_id}", alert_id=alert_id)
        return reporter

    async def add(
        self, alert_id: int, content_type: str, chunks: AsyncIterator[bytes], filename: str | None, actor: str
    ) -> tuple[Attachment, Event]:
        await self.reporter_of(alert_id)
        check_declared(content_type)
        sha256, size = await self._receive(content_type, chunks, LIMITS[content_type])
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """insert into attachments (alert_id, sha256, content_type, size_bytes, filename, uploaded_by)
                   values ($1, $2, $3, $4, $5, $6) returning *""",
                alert_id, sha256, content_type, size, filename, actor,
            )  # fmt: skip
            assert row is not None
            attachment = Attachment.from_row(row)
            incident_id = await conn.fetchval("select incident_id from alerts where id = $1", alert_id)
            event = await eventlog.append(
                conn, "alert.attachment_added", actor, incident_id=incident_id, alert_id=alert_id,
                data=attachment.as_json(),
            )  # fmt: skip
        return attachment, event

    async def _receive(self, content_type: str, chunks: AsyncIterator[bytes], limit: int) -> tuple[str, int]:
        """Stream the upload into a temporary file, checking type and size as it comes; then move it
        to its checksum's name (the same photo sent twice is stored once)."""
        self._folder.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        head = b""
        fd, tmp = tempfile.mkstemp(dir=self._folder, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in chunks:
                    if len(head) < 16:
                        head += chunk[: 16 - len(head)]
                        if len(head) >= 16:
                            check_type(content_type, head)
                    size += len(chunk)
                    if size > limit:
                        raise TooLarge(f"larger than {limit // MiB} MiB for {content_type}", field="body")
                    digest.update(chunk)
                    out.write(chunk)
            if size == 0:
                raise Invalid("the upload is empty", field="body")
            check_type(content_type, head)
            sha256 = digest.hexdigest()
            final = self.path_of(sha256)
            final.parent.mkdir(exist_ok=True)
            os.replace(tmp, final)
            return sha256, size
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    async def get(self, attachment_id: int) -> tuple[Attachment, str]:
        """One attachment and who reported its alert (for the ownership check)."""
        row = await self._pool.fetchrow(
            """select t.*, a.reported_by from attachments t join alerts a on a.id = t.alert_id
               where t.id = $1""",
            attachment_id,
        )
        if row is None:
            raise NotFound(f"no attachment {attachment_id}", attachment_id=attachment_id)
        return Attachment.from_row(row), row["reported_by"]

    async def of_alert(self, alert_id: int) -> list[Attachment]:
        rows = await self._pool.fetch("select * from attachments where alert_id = $1 order by id", alert_id)
        return [Attachment.from_row(r) for r in rows]
