"""Opaque, signed media URLs for set items, of every kind.

Every item of a set, gold or not, gets a URL of the same form: a signed token of the item's
random public id. The kind's media view looks the item up the same way for both, so neither the
URL nor the response tells gold apart. Each kind signs with its own salt, so a token of one kind
opens nothing of another.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.core import signing
from django.urls import reverse

MEDIA_MAX_AGE = 24 * 3600
PREVIEW_PREFIX = "p:"  # preview items name a work unit, not a set item


@dataclass(frozen=True)
class ItemMedia:
    salt: str
    url_name: str  # the kind's media view, which takes the token

    def token(self, item_public_id) -> str:
        return signing.dumps(str(item_public_id), salt=self.salt)

    def url(self, item_public_id) -> str:
        return reverse(self.url_name, args=[self.token(item_public_id)])

    def item_id(self, token: str) -> str | None:
        try:
            return signing.loads(token, salt=self.salt, max_age=MEDIA_MAX_AGE)
        except signing.BadSignature:
            return None
