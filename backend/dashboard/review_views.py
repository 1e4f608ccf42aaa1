"""The disagreement queue page: the crowd's least certain verdicts, settled by keyboard."""
from __future__ import annotations

from django.contrib import messages
from django.shortcuts import render

from backend.annotation.disagreements import disagreement_queue
from backend.annotation.services.corrections import MAX_MORE_ANSWERS
from backend.common.errors import DomainError
from backend.dashboard import selectors
from backend.dashboard.roles import VIEWER, dataset_page
from backend.dashboard.views import _ctx, _dataset
from backend.labels.models import Label
from backend.videos.models import Split

FILTERS = ("action", "source", "split", "worker")


@dataset_page(VIEWER)
def review(request, name: str):
    dataset = _dataset(name)
    chosen = {k: request.GET.get(k, "").strip() for k in FILTERS}
    try:
        rows = disagreement_queue(dataset=dataset, **chosen)
    except DomainError as exc:
        messages.error(request, exc.message)
        rows = []
    return render(request, "dashboard/review.html", _ctx(
        request, dataset, "review", rows=rows, chosen=chosen, sources=Label.Source.values, splits=Split.values,
        max_more=MAX_MORE_ANSWERS, actions=selectors.label_filters(dataset)["actions"]))
