"""Reads of releases."""
from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db.models import QuerySet

from backend.releases.models import Release
from backend.videos.models import Dataset


def release_list(*, dataset: Dataset) -> QuerySet[Release]:
    """The dataset's releases, newest first."""
    return Release.objects.filter(dataset=dataset).select_related("dataset").order_by("-version")


def release_get(*, dataset: Dataset, version: int) -> Release | None:
    """One release of the dataset by its version, or None."""
    return Release.objects.filter(dataset=dataset, version=version).select_related("dataset").first()


def release_root() -> Path:
    """Where exports write releases (``var/releases``); only folders under it are served."""
    return (Path(settings.VAR_DIR) / "releases").resolve()


def release_folder(release: Release) -> Path | None:
    """The folder the release was written to, when it still exists under the release root (a release
    exported elsewhere with ``export_release --out`` stays where it was put, and is not served)."""
    if not release.path:
        return None
    root = release_root()
    path = Path(release.path).resolve()
    return path if path.is_relative_to(root) and path != root and path.is_dir() else None
