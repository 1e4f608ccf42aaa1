"""Frames and crops in the default storage, under keys that are deterministic per row."""
from __future__ import annotations

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from backend.regions.images import extension


def frame_key(*, dataset_name: str, video_id: int, fmt: str) -> str:
    return f"regions/{dataset_name}/frames/{video_id}{extension(fmt)}"


def crop_key(*, dataset_name: str, region_id: int, fmt: str) -> str:
    return f"regions/{dataset_name}/crops/{region_id}{extension(fmt)}"


def gold_crop_key(*, dataset_name: str, video_id: int, action_id: int, index: int, fmt: str) -> str:
    return f"regions/{dataset_name}/gold/{video_id}-{action_id}-{index}{extension(fmt)}"


def image_store(*, key: str, data: bytes) -> str:
    """Write the image under `key` (a replay overwrites the same content) and return the key."""
    if default_storage.exists(key):
        default_storage.delete(key)
    saved = default_storage.save(key, ContentFile(data, name=key.rsplit("/", 1)[-1]))
    if saved != key:  # a concurrent writer got there first; keep one copy
        default_storage.delete(saved)
    return key


def image_read(key: str) -> bytes:
    with default_storage.open(key, "rb") as f:
        return f.read()
