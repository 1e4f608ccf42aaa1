"""Opaque, signed media URLs for set items.

Every item of a set, gold or not, gets a URL of the same form: a signed token of the item's
random public id. The media view looks the item up the same way for both, so neither the URL
nor the response tells gold apart.
"""
from __future__ import annotations

from django.core import signing
from django.urls import reverse

SALT = "mmit.media"
MEDIA_MAX_AGE = 24 * 3600


def media_token(item_public_id) -> str:
    return signing.dumps(str(item_public_id), salt=SALT)


def media_url(item_public_id) -> str:
    return reverse("work-media", args=[media_token(item_public_id)])


def item_id_from_token(token: str) -> str | None:
    try:
        return signing.loads(token, salt=SALT, max_age=MEDIA_MAX_AGE)
    except signing.BadSignature:
        return None
