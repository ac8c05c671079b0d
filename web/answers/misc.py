"""The small answers: liveness, attachments."""

from __future__ import annotations

from web.answers.common import Answer, IsoTime


class Alive(Answer):
    status: str


class AttachmentOut(Answer):
    id: int
    alert_id: int
    sha256: str
    content_type: str
    size_bytes: int
    filename: str | None
    uploaded_by: str
    uploaded_at: IsoTime
