"""Invitations: annotator links a curator makes, lists and revokes one by one from the dashboard.

Each invitation makes an in-house annotator of its own (named after its label) and a signed link
that names the invitation (``crowd.links``): revoking it, or its expiry, refuses the link at once,
and a revocation releases the annotator's open sets of every kind back to the pool.
"""
from __future__ import annotations

import re
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backend.common.errors import DomainError
from backend.crowd.links import worker_link_token
from backend.crowd.models import Worker, WorkerLink
from backend.crowd.sets.assign import set_release
from backend.crowd.sets.kinds import CANCELLED, OPEN, kinds
from backend.videos.models import Dataset

MAX_DAYS = 365
LABEL_REQUIRED = "Say whom the link is for (a name, an e-mail or a team)."
BAD_DAYS = f"The link must expire in 1 to {MAX_DAYS} days."
ALREADY_REVOKED = "This link was already revoked."


def link_url(*, link: WorkerLink) -> str:
    token = worker_link_token(worker=link.worker, link=link)
    return f"{settings.SITE_URL.rstrip('/')}/annotate/{link.dataset.name}/?w={token}"


@transaction.atomic
def worker_invite(*, dataset: Dataset, label: str, days: int | str, user=None) -> WorkerLink:
    """A new annotator and their link, valid for ``days`` days."""
    label = (label or "").strip()
    if not label:
        raise DomainError(LABEL_REQUIRED, field="label")
    try:
        days = int(days)
    except (TypeError, ValueError):
        days = 0
    if not 1 <= days <= MAX_DAYS:
        raise DomainError(BAD_DAYS, field="days")
    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:40] or "annotator"
    worker = Worker.objects.create(provider="inhouse", external_id=f"{slug}-{secrets.token_hex(3)}", group="invited")
    return WorkerLink.objects.create(worker=worker, dataset=dataset, label=label[:128], created_by=user,
                                     expires_at=timezone.now() + timedelta(days=days))


@transaction.atomic
def link_revoke(*, link: WorkerLink, user=None) -> int:
    """Refuse the link from now on and release its annotator's open sets; the number released."""
    link = WorkerLink.objects.select_for_update().get(pk=link.pk)
    if link.revoked_at is not None:
        raise DomainError(ALREADY_REVOKED)
    link.revoked_at, link.revoked_by = timezone.now(), user
    link.save(update_fields=["revoked_at", "revoked_by"])
    released = 0
    for kind in kinds():
        for record in kind.set_model.objects.select_for_update().filter(worker=link.worker, status=OPEN):
            set_release(kind=kind, record=record, status=CANCELLED)
            released += 1
    return released


def link_list(*, dataset: Dataset):
    return WorkerLink.objects.filter(dataset=dataset).select_related("worker", "created_by", "dataset")
