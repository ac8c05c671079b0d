"""Attachments of grid reports (photos, short videos): checked by type, size and content, kept as files
named by their SHA-256 outside the database, and linked to their alert with an event.

The declared content type must match what the first bytes say, and the whole file must then really be
what it claims: a photo is decoded by Pillow (HEIC and HEIF too, through pillow-heif), its dimensions
checked from its header before any pixel is decoded; a video's ISO base media boxes (MP4, QuickTime) are
walked from the ``ftyp`` box to the end of the file. So a renamed executable, or JPEG magic bytes in front
of an HTML page, is refused rather than stored as a photo. The check runs in a worker thread, a few at a
time, so that decoding never holds up the event loop.

A client's file name is kept only as a safe base name (letters, digits, ``.``, ``-``, ``_``): no folder,
no ``..``, nothing a download header or a browser could read as more than a name.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import struct
import tempfile
import unicodedata
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import asyncpg
import pillow_heif
from PIL import Image, UnidentifiedImageError

from core import eventlog
from core.errors import Invalid, NotFound, TooLarge
from core.eventlog import Event

pillow_heif.register_heif_opener()

MiB = 1024 * 1024

# accepted types and their size limits
LIMITS: Mapping[str, int] = {
    "image/jpeg": 15 * MiB,
    "image/png": 15 * MiB,
    "image/webp": 15 * MiB,
    "image/heic": 15 * MiB,  # iPhones' photos
    "image/heif": 15 * MiB,
    "video/mp4": 100 * MiB,
    "video/quicktime": 100 * MiB,
}
# the file name a download gets when the upload had none, by type
EXTENSIONS: Mapping[str, str] = {
    "image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/heic": ".heic",
    "image/heif": ".heif", "video/mp4": ".mp4", "video/quicktime": ".mov",
}  # fmt: skip
# the extensions a download's name may keep for each type (any other gets the type's own added)
SUFFIXES: Mapping[str, tuple[str, ...]] = {
    "image/jpeg": (".jpg", ".jpeg", ".jfif"), "image/png": (".png",), "image/webp": (".webp",),
    "image/heic": (".heic", ".heif"), "image/heif": (".heif", ".heic"), "video/mp4": (".mp4", ".m4v"),
    "video/quicktime": (".mov", ".qt"),
}  # fmt: skip
# the Pillow decoder each image type is opened with (and only that one)
PIL_FORMATS: Mapping[str, str] = {
    "image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP",
    "image/heic": "HEIF", "image/heif": "HEIF",
}  # fmt: skip
# types that share a container, so that either name is fine for either
FAMILIES: Mapping[str, str] = {
    "image/heic": "heif",
    "image/heif": "heif",
    "video/mp4": "isom",
    "video/quicktime": "isom",
}
MIN_BYTES = 32  # no real photo or video is smaller
# a photo of more pixels is refused before it is decoded (a 48-megapixel phone photo is 48.8 million;
# Pillow's own decompression-bomb limit, about 89 million, stays the last word above this)
MAX_PIXELS = 64_000_000
MAX_BOXES = 10_000  # top-level boxes of a video, and children of its moov box, walked at most
DECODERS = 2  # uploads checked at once; the others wait their turn
HEIF_BRANDS = {
    b"heic": "image/heic", b"heix": "image/heic", b"heim": "image/heic", b"heis": "image/heic",
    b"hevc": "image/heic", b"hevx": "image/heic", b"hevm": "image/heic", b"hevs": "image/heic",
    b"mif1": "image/heif", b"msf1": "image/heif",
}  # fmt: skip
_BOX_TYPE = re.compile(rb"[A-Za-z0-9 _\-\xa9]{4}")  # box types are four printable characters (or ©xyz)
_UNSAFE_NAME = re.compile(r"[^\w.\-]+")
MAX_NAME = 120


def sniff(head: bytes) -> str | None:
    """The content type the first bytes of a file show, among the accepted ones."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in HEIF_BRANDS:
            return HEIF_BRANDS[brand]
        if brand in (b"avif", b"avis"):
            return None  # AV1 images: not accepted
        return "video/quicktime" if brand[:2] == b"qt" else "video/mp4"
    return None


def check_declared(declared: str) -> None:
    if declared not in LIMITS:
        raise Invalid(
            f"type {declared or 'none'} is not accepted", field="Content-Type", accepted=sorted(LIMITS)
        )


def _same(a: str | None, b: str) -> bool:
    return a == b or (a is not None and a in FAMILIES and FAMILIES[a] == FAMILIES.get(b))


def check_type(declared: str, head: bytes) -> None:
    check_declared(declared)
    seen = sniff(head)
    if not _same(seen, declared):
        raise Invalid(f"the file's content is not {declared}", field="body", found=seen)


def safe_filename(name: str | None) -> str | None:
    """A client's file name as a base name of safe characters, or None when nothing of it is left:
    ``../../etc/passwd`` becomes ``passwd``, ``a"b;c.jpg`` becomes ``a_b_c.jpg``."""
    if not name:
        return None
    base = unicodedata.normalize("NFC", re.split(r"[/\\]", name)[-1])
    base = _UNSAFE_NAME.sub("_", base).strip("._-")
    if len(base) > MAX_NAME:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: MAX_NAME - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 else base[:MAX_NAME]
    return base or None


def _refuse(declared: str, why: str) -> Invalid:
    return Invalid(f"the file does not decode as {declared}: {why}", field="body")


def check_image(path: Path, declared: str) -> None:
    """Decode the photo with the one Pillow decoder of its type; its size is read from the header and
    checked before any pixel is decoded (a JPEG is decoded at an eighth of its size: every byte of it
    is still read and checked, at a fraction of the work)."""
    try:
        with Image.open(path, formats=[PIL_FORMATS[declared]]) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise Invalid(
                    f"a photo of {width}x{height} pixels: at most {MAX_PIXELS:,} pixels", field="body",
                    width=width, height=height,
                )  # fmt: skip
            if image.format == "JPEG":
                image.draft(None, (max(1, width // 8), max(1, height // 8)))
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Invalid(f"a photo of too many pixels: {exc}", field="body") from None
    except UnidentifiedImageError:
        raise _refuse(declared, "not an image of that type") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, RuntimeError) as exc:
        raise _refuse(declared, str(exc) or type(exc).__name__) from None


def _boxes(f: BinaryIO, start: int, end: int, what: str) -> Iterator[tuple[bytes, int, int, int]]:
    """The (type, offset, header length, size) of each box from ``start`` to ``end``; the boxes must
    tile that range exactly."""
    offset, count = start, 0
    while offset < end:
        count += 1
        if count > MAX_BOXES:
            raise Invalid(f"more than {MAX_BOXES} boxes in {what}", field="body")
        f.seek(offset)
        header = f.read(16)
        if len(header) < 8 or offset + 8 > end:
            raise Invalid(f"a truncated box header in {what}", field="body")
        size, kind = struct.unpack(">I4s", header[:8])
        header_len = 8
        if size == 1:
            if len(header) < 16:
                raise Invalid(f"a truncated box header in {what}", field="body")
            (size,) = struct.unpack(">Q", header[8:16])
            header_len = 16
        elif size == 0:  # the last box runs to the end
            size = end - offset
        if not _BOX_TYPE.fullmatch(kind):
            raise Invalid(f"a box of type {kind!r} in {what}: not a video container", field="body")
        if size < header_len or offset + size > end:
            raise Invalid(f"box {kind.decode('latin-1')} runs past the end of {what}", field="body")
        yield kind, offset, header_len, size
        offset += size


def check_video(path: Path, declared: str) -> None:
    """Walk an MP4 or QuickTime file's boxes: an ``ftyp`` box first, boxes that tile the whole file, a
    ``moov`` box with its ``mvhd`` header, and media data (``mdat``)."""
    end = path.stat().st_size
    kinds: list[bytes] = []
    with path.open("rb") as f:
        for kind, offset, header_len, size in _boxes(f, 0, end, "the file"):
            if not kinds and kind != b"ftyp":
                raise _refuse(declared, "it does not begin with an ftyp box")
            if kind == b"ftyp" and (size - header_len < 8 or (size - header_len - 8) % 4):
                raise _refuse(declared, "a malformed ftyp box")
            if kind == b"moov":
                children = {
                    k: s - h for k, _, h, s in _boxes(f, offset + header_len, offset + size, "the moov box")
                }
                if children.get(b"mvhd", 0) < 100:
                    raise _refuse(declared, "the moov box has no movie header (mvhd)")
            kinds.append(kind)
    if b"moov" not in kinds:
        raise _refuse(declared, "no moov box")
    if b"mdat" not in kinds:
        raise _refuse(declared, "no media data (mdat box)")


def check_content(path: Path, declared: str) -> None:
    """Whether the received file really is what it claims (blocking: run it in a thread)."""
    if declared.startswith("image/"):
        check_image(path, declared)
    else:
        check_video(path, declared)


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
            "content_type": self.content_type, "size_bytes": self.size_bytes,
            "filename": safe_filename(self.filename),
            "uploaded_by": self.uploaded_by, "uploaded_at": self.uploaded_at.isoformat(),
        }  # fmt: skip

    def download_name(self) -> str:
        """The name a download is offered under: the safe name (or one made from the id), ending in an
        extension of its type, so that a saved file never opens as something else (``x.html.jpg``)."""
        name = safe_filename(self.filename) or f"attachment-{self.id}"
        if not name.lower().endswith(SUFFIXES.get(self.content_type, ())):
            name += EXTENSIONS.get(self.content_type, "")
        return name


class AttachmentStore:
    def __init__(self, pool: asyncpg.Pool, folder: Path) -> None:
        self._pool = pool
        self._folder = folder
        self._decoders = asyncio.Semaphore(DECODERS)

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
        filename = safe_filename(filename)
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
        """Stream the upload into a temporary file, checking type and size as it comes, then its whole
        content (in a thread); then move it to its checksum's name (the same photo sent twice is stored
        once)."""
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
            if size < MIN_BYTES:
                raise Invalid(f"{size} bytes is too small to be a photo or a video", field="body")
            check_type(content_type, head)
            async with self._decoders:
                await asyncio.to_thread(check_content, Path(tmp), content_type)
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
