"""What the dashboard's pages fetch while they are open: fragments of a page re-rendered alone (the
overview's counters, the releases table; ``frontend/dashboard/live.js`` polls them every few seconds)
and a finished release as a ZIP. Each reads what its page reads, so it is as cheap as the page."""
from __future__ import annotations

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from backend.common.zip_stream import zip_response
from backend.dashboard import selectors
from backend.dashboard.roles import VIEWER, dataset_page
from backend.dashboard.views import _dataset
from backend.releases.selectors import release_folder, release_get

NO_RELEASE = "This dataset has no release {version}."
NO_RELEASE_FOLDER = ("Release {version}'s folder is not under var/releases (exported elsewhere with "
                     "export_release --out) or was removed; export a new release to download one.")


@dataset_page(VIEWER)
@require_GET
def overview_live(request, name: str):
    """The overview's counters (the summary the overview page reads, with spend)."""
    dataset = _dataset(name)
    return render(request, "dashboard/_overview_cards.html",
                  {"dataset": dataset, "o": selectors.dataset_overview(dataset)})


@dataset_page(VIEWER)
@require_GET
def releases_live(request, name: str):
    """The releases table's rows (the newest releases, as on the page)."""
    dataset = _dataset(name)
    return render(request, "dashboard/_release_rows.html",
                  {"dataset": dataset, **selectors.releases_page(dataset=dataset)})


@dataset_page(VIEWER)
@require_GET
def release_download(request, name: str, version: int):
    """A release's folder (labels, splits, datasheet, manifest; the clips when exported with them) as a
    ZIP streamed while it is written, so a large release needs no temporary file."""
    dataset = _dataset(name)
    release = release_get(dataset=dataset, version=version)
    if release is None:
        raise Http404(NO_RELEASE.format(version=version))
    folder = release_folder(release)
    if folder is None:
        raise Http404(NO_RELEASE_FOLDER.format(version=version))
    return zip_response(folder, filename=f"{dataset.name}-v{release.version}.zip")
