"""The Gold page: the dataset's gold with its health (probably-wrong items first), a gold file
upload, promoting a unanimous label to gold, and retiring gold."""
from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from backend.annotation import gold_health as health
from backend.annotation.models import GoldQuestion
from backend.annotation.services.gold import gold_import_file, gold_promote, gold_retire
from backend.common.errors import DomainError
from backend.dashboard.roles import CURATOR, VIEWER, dataset_page
from backend.dashboard.views import _ctx, _dataset

NO_FILE = "Choose a gold file (a CSV with columns video,action,truth) before uploading."
BAD_LABEL_ID = "Enter the id of the label to promote as a whole number, e.g. 42."
NO_SUCH_GOLD = "That gold question is not in this dataset."


def _back(name: str):
    return redirect(reverse("dashboard:gold", args=[name]))


@dataset_page(VIEWER)
def gold(request, name: str):
    dataset = _dataset(name)
    rows = health.gold_health(dataset=dataset)
    return render(request, "dashboard/gold.html", _ctx(
        request, dataset, "gold", rows=rows, flagged=sum(r.flagged for r in rows),
        active=sum(r.gold.active for r in rows), good_min=health.GOOD_MIN_OTHER_ANSWERS,
        good_accuracy=round(100 * health.GOOD_MIN_ACCURACY), flag_workers=health.FLAG_MIN_GOOD_WORKERS,
        flag_rate=round(100 * health.FLAG_MISS_RATE)))


@dataset_page(CURATOR)
@require_POST
def gold_upload(request, name: str):
    dataset = _dataset(name)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, NO_FILE)
        return _back(name)
    try:
        n = gold_import_file(dataset=dataset, file=upload, source=upload.name, user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{n} gold pair{'s' if n != 1 else ''} imported from {upload.name}.")
    return _back(name)


@dataset_page(CURATOR)
@require_POST
def gold_promote_label(request, name: str):
    dataset = _dataset(name)
    try:
        label_id = int(request.POST.get("label", "").strip())
    except ValueError:
        messages.error(request, BAD_LABEL_ID)
        return _back(name)
    try:
        found = gold_promote(dataset=dataset, label_id=label_id, user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Label {label_id} is now gold: {found.action.name} in {found.video.name} = "
                                  f"{'yes' if found.truth else 'no'}.")
    return _back(name)


@dataset_page(CURATOR)
@require_POST
def gold_retire_one(request, name: str, gold_id: int):
    dataset = _dataset(name)
    found = GoldQuestion.objects.filter(dataset=dataset, pk=gold_id).select_related("video", "action").first()
    if found is None:
        messages.error(request, NO_SUCH_GOLD)
    else:
        gold_retire(gold=found)
        messages.success(request, f"Gold {found.action.name} in {found.video.name} retired: no longer served in "
                                  "new sets (its answers are kept).")
    return _back(name)
