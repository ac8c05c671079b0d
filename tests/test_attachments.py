"""Grid reports carry photos and videos: checked by type, size and content (a photo must decode, a video's
boxes must hold together), stored by checksum, linked to the alert, and served as downloads under a safe
name. Every file here is made in the test: Pillow writes the photos (HEIC through pillow-heif), the
video is an ISO base media file built box by box."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from pathlib import Path
from typing import Any

import httpx
import pillow_heif
from PIL import Image

from core.roles import Role
from tests.conftest import Center

pillow_heif.register_heif_opener()


def photo(fmt: str, size: tuple[int, int] = (96, 64)) -> bytes:
    """A real photo of a colour gradient, in the given Pillow format."""
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def movie(brand: bytes = b"mp42") -> bytes:
    """An MP4 (or QuickTime, brand ``qt  ``) container: ftyp, moov with its movie header, media data."""
    mvhd = box(b"mvhd", bytes(4) + bytes(8) + struct.pack(">II", 600, 600) + bytes(80))
    return box(b"ftyp", brand + bytes(4) + b"isom" + brand) + box(b"moov", mvhd) + box(b"mdat", bytes(4000))


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims a size in its header, with almost no pixel data: a decompression bomb's shape."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(bytes(64)))
        + chunk(b"IEND", b"")
    )


JPEG = photo("JPEG")
HEIC = photo("HEIF")
MP4 = movie()
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 500
NO_MOVIE_HEADER = box(b"ftyp", b"mp42" + bytes(4)) + box(b"moov", bytes(8)) + box(b"mdat", b"")
HTML = b"<html><body><script>alert(document.cookie)</script></body></html>" * 4


async def report(center: Center, worker: httpx.AsyncClient) -> dict[str, Any]:
    reply = await worker.post(
        "/api/v1/grid/events",
        json={"category": "safety_hazard", "location": {"lat": 31.2350, "lon": 121.4750},
              "description": "a loose manhole cover"},
    )  # fmt: skip
    assert reply.status_code == 202, reply.text
    answer: dict[str, Any] = reply.json()
    return answer


def upload(
    worker: httpx.AsyncClient, alert_id: int, body: bytes, content_type: str, name: str | None = "photo.jpg"
) -> Any:
    return worker.post(
        f"/api/v1/alerts/{alert_id}/attachments", params={"filename": name} if name else {}, content=body,
        headers={"Content-Type": content_type},
    )  # fmt: skip


async def test_photo_is_stored_by_checksum_and_linked(center: Center) -> None:
    """A photo is kept outside the database under its SHA-256, listed on the alert, and downloadable."""
    async with center.client(Role.GRID_WORKER) as worker:
        alert = await report(center, worker)
        reply = await upload(worker, alert["alert_id"], JPEG, "image/jpeg")
        assert reply.status_code == 201, reply.text
        stored = reply.json()
        assert stored["sha256"] == hashlib.sha256(JPEG).hexdigest()
        assert stored["size_bytes"] == len(JPEG) and stored["filename"] == "photo.jpg"
        video = await upload(worker, alert["alert_id"], MP4, "video/mp4", "clip.mp4")
        assert video.status_code == 201, video.text

        listed = (await worker.get(f"/api/v1/alerts/{alert['alert_id']}/attachments")).json()
        assert [a["content_type"] for a in listed] == ["image/jpeg", "video/mp4"]
        download = await worker.get(f"/api/v1/attachments/{stored['id']}")
        assert download.status_code == 200 and download.content == JPEG
        assert download.headers["content-type"] == "image/jpeg"
        assert download.headers["x-content-type-options"] == "nosniff"
        assert download.headers["content-disposition"] == 'attachment; filename="photo.jpg"'
        assert "sandbox" in download.headers["content-security-policy"]

    folder: Path = center.settings.attachments_dir()
    on_disk = folder / stored["sha256"][:2] / stored["sha256"]
    assert on_disk.read_bytes() == JPEG
    async with center.client(Role.DISPATCHER) as dispatcher:
        timeline = (await dispatcher.get(f"/api/v1/incidents/{alert['incident_id']}")).json()["timeline"]
    assert [e["kind"] for e in timeline].count("alert.attachment_added") == 2


async def test_every_accepted_type_is_taken_when_it_decodes(center: Center) -> None:
    """iPhones' HEIC (as image/heic or image/heif), PNG, WebP, and QuickTime: each a real file."""
    files = [
        (HEIC, "image/heic", "IMG_0001.HEIC"), (HEIC, "image/heif", "IMG_0002.heif"),
        (photo("PNG"), "image/png", "map.png"), (photo("WEBP"), "image/webp", "scene.webp"),
        (movie(b"qt  "), "video/quicktime", "IMG_0003.MOV"),
        (movie(b"qt  "), "video/mp4", "same-container.mp4"),  # MP4 and QuickTime share their boxes
    ]  # fmt: skip
    async with center.client(Role.GRID_WORKER) as worker:
        alert = await report(center, worker)
        for body, content_type, name in files:
            reply = await upload(worker, alert["alert_id"], body, content_type, name)
            assert reply.status_code == 201, (content_type, reply.text)
            assert reply.json()["content_type"] == content_type and reply.json()["filename"] == name
        heic = (await worker.get(f"/api/v1/alerts/{alert['alert_id']}/attachments")).json()[0]
        download = await worker.get(f"/api/v1/attachments/{heic['id']}")
    assert download.content == HEIC and download.headers["content-type"] == "image/heic"
    with Image.open(io.BytesIO(download.content)) as back:
        assert back.size == (96, 64)


async def test_wrong_types_and_oversized_files_are_refused(center: Center) -> None:
    """An unaccepted type, content not what it claims, a file that does not decode, an empty, tiny or
    oversized file, a photo of too many pixels: refused, nothing kept."""
    async with center.client(Role.GRID_WORKER) as worker:
        alert = await report(center, worker)
        alert_id = alert["alert_id"]
        cases = [
            (EXE, "application/x-msdownload", "Content-Type"),
            (EXE, "image/jpeg", "body"),  # an executable renamed .jpg
            (JPEG, "video/mp4", "body"),
            (HEIC, "image/jpeg", "body"),
            (b"", "image/jpeg", "body"),
            (b"\xff\xd8\xff", "image/jpeg", "body"),  # three bytes of JPEG magic
            (b"\xff\xd8\xff\xe0" + HTML, "image/jpeg", "body"),  # JPEG magic, then a web page
            (JPEG[:16] + HTML, "image/jpeg", "body"),  # a real JPEG header, then a web page
            (JPEG[: len(JPEG) // 2], "image/jpeg", "body"),  # cut off halfway
            (HEIC[: len(HEIC) // 2], "image/heic", "body"),
            (png_header(100_000, 100_000), "image/png", "body"),  # ten billion pixels claimed
            (png_header(9_000, 8_000), "image/png", "body"),  # 72 megapixels: over the limit
            (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(4000), "video/mp4", "body"),
            (NO_MOVIE_HEADER, "video/mp4", "body"),
            (MP4[:-100], "video/mp4", "body"),  # the media data cut short
            (box(b"ftyp", b"mp42" + bytes(4)) + HTML, "video/mp4", "body"),
        ]
        for body, content_type, field in cases:
            reply = await upload(worker, alert_id, body, content_type)
            assert reply.status_code == 422, (content_type, body[:24], reply.text)
            assert reply.json()["field"] == field, reply.text
        # past the 15 MiB limit for photos: 413, streamed, never held whole in memory
        big = JPEG + b"\x00" * (15 * 1024 * 1024)
        reply = await upload(worker, alert_id, big, "image/jpeg")
        assert reply.status_code == 413, reply.text
        assert (await worker.get(f"/api/v1/alerts/{alert_id}/attachments")).json() == []
        missing = await upload(worker, 999999, JPEG, "image/jpeg")
        assert missing.status_code == 404
    leftovers = [p for p in center.settings.attachments_dir().rglob("*") if p.is_file()]
    assert leftovers == [], "a refused upload left a file behind"


async def test_a_clients_file_name_is_never_echoed_back(center: Center) -> None:
    """A path, quotes or line breaks in the name are kept as a safe base name only, in the answer, the
    list and the download's Content-Disposition; a name with nothing safe left gets one of ours."""
    names = {
        "../../etc/passwd": "passwd",
        '..\\..\\boot.ini"; x=1.jpg': "boot.ini_x_1.jpg",
        'photo"; filename=evil.html': "photo_filename_evil.html",
        "现场照片 1.jpg": "现场照片_1.jpg",
        "../..": None,
    }
    async with center.client(Role.GRID_WORKER) as worker:
        alert = await report(center, worker)
        for i, (sent, kept) in enumerate(names.items()):
            body = photo("JPEG", (64 + i, 48))  # a photo of its own each time
            reply = await upload(worker, alert["alert_id"], body, "image/jpeg", sent)
            assert reply.status_code == 201, reply.text
            stored = reply.json()
            assert stored["filename"] == kept, (sent, stored)
            download = await worker.get(f"/api/v1/attachments/{stored['id']}")
            disposition = download.headers["content-disposition"]
            assert disposition.startswith("attachment;") and ".." not in disposition, disposition
            assert "/" not in disposition.split("''")[-1] and "\\" not in disposition, disposition
            # the saved file ends in its type's extension, whatever the name said
            offered = {
                "passwd": "passwd.jpg", None: f"attachment-{stored['id']}.jpg",
                "photo_filename_evil.html": "photo_filename_evil.html.jpg",
            }.get(kept, kept)  # fmt: skip
            if offered and offered.isascii():
                assert disposition == f'attachment; filename="{offered}"', disposition
        listed = (await worker.get(f"/api/v1/alerts/{alert['alert_id']}/attachments")).json()
        assert [a["filename"] for a in listed] == list(names.values())
        # a line break never reaches a header: refused with the query's field named, or made safe
        reply = await upload(worker, alert["alert_id"], JPEG, "image/jpeg", "photo\r\nSet-Cookie: a=b.jpg")
        assert reply.status_code in (201, 422), reply.text
        assert reply.json()["field" if reply.status_code == 422 else "filename"] in (
            "filename", "photo_Set-Cookie_a_b.jpg",
        )  # fmt: skip


async def test_grid_workers_touch_only_their_own_reports(center: Center) -> None:
    """Another grid worker can neither attach to nor read someone else's report; a dispatcher can read it."""
    async with center.client(Role.GRID_WORKER) as worker:
        alert = await report(center, worker)
        stored = (await upload(worker, alert["alert_id"], JPEG, "image/jpeg")).json()
    stranger_token = center.signer.issue(Role.GRID_WORKER, "someone-else")
    async with httpx.AsyncClient(
        base_url=center.url, headers={"Authorization": f"Bearer {stranger_token}"}
    ) as stranger:
        assert (await upload(stranger, alert["alert_id"], JPEG, "image/jpeg")).status_code == 403
        assert (await stranger.get(f"/api/v1/attachments/{stored['id']}")).status_code == 403
    async with center.client(Role.DISPLAY) as display:
        assert (await display.get(f"/api/v1/attachments/{stored['id']}")).status_code == 403
    async with center.client(Role.DISPATCHER) as dispatcher:
        assert (await dispatcher.get(f"/api/v1/attachments/{stored['id']}")).status_code == 200
