"""Photos and short videos of a report: upload (streamed, checked by type and size) and download."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse

from alerts.attachments import LIMITS
from core.bounds import LINE, PathId
from core.roles import Role
from core.tokens import Principal
from web.answers.misc import AttachmentOut
from web.auth import ServicesDep, allow

router = APIRouter(prefix="/api/v1", tags=["attachments"])
UPLOAD_PATH_SUFFIX = "/attachments"  # the body limit leaves these uploads to their own limits
# a stored file is only ever data: no sniffing another type, no scripts, no frames, private to caches
DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-transform",
}


async def _may_touch(svc: Any, who: Principal, alert_id: int) -> None:
    """A grid worker handles the attachments of their own reports only."""
    if who.role is Role.GRID_WORKER and await svc.attachments.reporter_of(alert_id) != who.actor:
        raise HTTPException(403, "a grid worker may only attach to their own reports")


@router.post("/alerts/{alert_id}/attachments", status_code=201, response_model=AttachmentOut)
async def add_attachment(
    alert_id: PathId, request: Request, svc: ServicesDep,
    who: Annotated[Principal, Depends(allow(Role.GRID_WORKER, Role.INTEGRATION, Role.DISPATCHER,
                                            Role.CALL_TAKER))],
    filename: Annotated[str | None, Query(max_length=200), LINE] = None,
) -> dict[str, Any]:  # fmt: skip
    """Attach a photo (JPEG, PNG, WebP, HEIC/HEIF up to 15 MiB and 64 megapixels) or video (MP4,
    QuickTime up to 100 MiB); the raw file is the body, its type the Content-Type header. The file must
    decode as that type; the file name is kept as a safe base name only."""
    await _may_touch(svc, who, alert_id)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    attachment, event = await svc.attachments.add(
        alert_id, content_type, request.stream(), filename, who.actor
    )
    await svc.feed.publish([event])
    return attachment.as_json()


@router.get("/alerts/{alert_id}/attachments", response_model=list[AttachmentOut])
async def list_attachments(
    alert_id: PathId, svc: ServicesDep,
    who: Annotated[Principal, Depends(allow(Role.GRID_WORKER, Role.DISPATCHER, Role.CALL_TAKER))],
) -> list[dict[str, Any]]:  # fmt: skip
    """What was attached to one alert."""
    await _may_touch(svc, who, alert_id)
    return [a.as_json() for a in await svc.attachments.of_alert(alert_id)]


BINARY = {"schema": {"type": "string", "format": "binary"}}
THE_FILE: dict[int | str, dict[str, Any]] = {
    200: {"description": "the file, as it was uploaded", "content": dict.fromkeys(LIMITS, BINARY)}
}


@router.get("/attachments/{attachment_id}", response_class=FileResponse, responses=THE_FILE)
async def get_attachment(
    attachment_id: PathId, svc: ServicesDep,
    who: Annotated[Principal, Depends(allow(Role.GRID_WORKER, Role.DISPATCHER, Role.CALL_TAKER))],
) -> FileResponse:  # fmt: skip
    """The file itself, with its checksum as the ETag, as a download under a safe name; the browser is
    told never to guess another type from the content, nor run anything in it."""
    attachment, reporter = await svc.attachments.get(attachment_id)
    if who.role is Role.GRID_WORKER and reporter != who.actor:
        raise HTTPException(403, "a grid worker may only read their own reports")
    return FileResponse(
        svc.attachments.path_of(attachment.sha256), media_type=attachment.content_type,
        filename=attachment.download_name(), content_disposition_type="attachment",
        headers={"ETag": f'"{attachment.sha256}"', **DOWNLOAD_HEADERS},
    )  # fmt: skip
