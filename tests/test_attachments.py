"""Grid reports carry photos and videos: checked by type and size, stored by checksum, linked to the alert."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx

from core.roles import Role
from tests.conftest import Center

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01" + bytes(range(256)) * 40
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00" + b"\x00" * 4000
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 500


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
    worker: httpx.AsyncClient, alert_id: int, body: bytes, content_type: str, name: str = "photo.jpg"
) -> Any:
    return worker.post(
        f"/api/v1/alerts/{alert_id}/attachments", params={"filename": name}, content=body,
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

    folder: Path = center.settings.attachments_dir()
    on_disk = folder / stored["sha256"][:2] / stored["sha256"]
    assert on_disk.read_bytes() == JPEG
    async with center.client(Role.DISPATCHER) as dispatcher:
        timeline = (await dispatcher.get(f"/api/v1/incidents/{alert['incident_id']}")).json()["timeline"]
    assert [e["kind"] for e in timeline].count("alert.attachment_added") == 2


async def test_wrong_types_and_oversized_files_are_refused(center: Center) -> None:
    """An unaccepted type, content not what it claims, an empty or oversized file: refused, nothing kept."""
    async with center.client(Role.GRID_WORKER) as worker:
        alert = await report(center, worker)
        alert_id = alert["alert_id"]
        cases = [
            (EXE, "application/x-msdownload", 422, "Content-Type"),
            (EXE, "image/jpeg", 422, "body"),  # an executable renamed .jpg
            (JPEG, "video/mp4", 422, "body"),
            (b"", "image/jpeg", 422, "body"),
        ]
        for body, content_type, status, field in cases:
            reply = await upload(worker, alert_id, body, content_type)
            assert reply.status_code == status, (content_type, reply.text)
            assert reply.json()["field"] == field
        # past the 15 MiB limit for photos: 413, streamed, never held whole in memory
        big = JPEG + b"\x00" * (15 * 1024 * 1024)
        reply = await upload(worker, alert_id, big, "image/jpeg")
        assert reply.status_code == 413, reply.text
        assert (await worker.get(f"/api/v1/alerts/{alert_id}/attachments")).json() == []
        missing = await upload(worker, 999999, JPEG, "image/jpeg")
        assert missing.status_code == 404
    leftovers = [p for p in center.settings.attachments_dir().rglob("*") if p.is_file()]
    assert leftovers == [], "a refused upload left a file behind"


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
