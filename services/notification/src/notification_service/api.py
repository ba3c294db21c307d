"""HTTP routes of the notification service."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from mentorship_shared.plumbing.deps import OperatorDep, ServiceDeps
from mentorship_shared.plumbing.http import ErrorBody
from mentorship_shared.plumbing.logs import mask_email
from mentorship_shared.plumbing.unit_of_work import UnitOfWork
from pydantic import BaseModel, Field

from .config import NotificationSettings
from .repository import NotificationRepository

router = APIRouter(prefix="/v1")

deps = ServiceDeps[NotificationSettings, NotificationRepository]()
UowDep = Annotated[UnitOfWork[NotificationRepository], Depends(deps.uow)]


class NotificationView(BaseModel):
    id: uuid.UUID = Field(description="Notification id.")
    source_event_id: uuid.UUID = Field(description="The event the notification is about.")
    source_event_type: str = Field(description="Its type, such as 'MatchProposed'.")
    recipient_id: uuid.UUID = Field(description="Profile id of the recipient.")
    recipient_role: Literal["mentee", "mentor"] = Field(description="Mentee or mentor.")
    recipient: str | None = Field(description="The recipient's address, masked.")
    channel: Literal["email"] = Field(description="Delivery channel.")
    status: Literal["pending", "sent", "failed", "cancelled"] = Field(description="Where it is.")
    subject: str | None = Field(description="Subject of the mail, once sent.")
    attempts: int = Field(description="Send attempts so far.")
    last_error: str | None = Field(description="The last send error, if any.")
    message_id: str = Field(description="Message-ID header of the mail.")
    created_at: datetime = Field(description="When the notification was queued.")
    sent_at: datetime | None = Field(description="When the mail server accepted it.")


class NotificationList(BaseModel):
    notifications: list[NotificationView] = Field(description="Newest first.")


@router.get(
    "/notifications",
    tags=["notifications"],
    summary="Latest notifications, newest first (operator)",
    responses={
        401: {"model": ErrorBody, "description": "No bearer token."},
        403: {"model": ErrorBody, "description": "Not the operator key, or none is configured."},
    },
)
async def list_notifications(
    _: OperatorDep,
    uow: UowDep,
    limit: int = Query(
        default=50,
        ge=1,
        description="Most notifications to return: at most 200, a larger value gives 200.",
    ),
) -> NotificationList:
    async with uow.reading() as repo:
        records = await repo.recent(min(limit, 200))
    return NotificationList(
        notifications=[
            NotificationView(
                id=r.id,
                source_event_id=r.source_event_id,
                source_event_type=r.source_event_type,
                recipient_id=r.recipient_id,
                recipient_role=r.recipient_role,
                recipient=mask_email(r.recipient_email) if r.recipient_email else None,
                channel=r.channel,
                status=r.status,
                subject=r.subject,
                attempts=r.attempts,
                last_error=r.last_error,
                message_id=r.message_id,
                created_at=r.created_at,
                sent_at=r.sent_at,
            )
            for r in records
        ]
    )
