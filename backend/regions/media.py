"""Opaque, signed media URLs for drawing items (same form for gold and real images)."""
from __future__ import annotations

from django.core import signing
from django.urls import reverse

SALT = "mmit.regions.media"
MEDIA_MAX_AGE = 24 * 3600
PREVIEW_PREFIX = "p:"


def media_token(item_public_id) -> str:
    return signing.dumps(str(item_public_id), salt=SALT)


def media_url(item_public_id) -> str:
    return reverse("regions-work-media", args=[media_token(item_public_id)])


def item_id_from_token(token: str) -> str | None:
    try:
        return signing.loads(token, salt=SALT, max_age=MEDIA_MAX_AGE)
    except signing.BadSignature:
        return None
