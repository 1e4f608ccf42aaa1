"""Finding things on the dashboard: the video search box and the CSV downloads of the label
browser's selection, the workers list and the disagreement queue.

Downloads are streamed (``common/csv_export.py``): the label browser's, however many labels match,
is read in keyset chunks in constant memory; the workers list a page at a time; the disagreement
queue, a ranked list, up to ``QUEUE_CSV_LIMIT`` rows.
"""
from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import slugify

from backend.annotation.disagreements import disagreement_queue
from backend.annotation.label_browser import CSV_HEADER, label_browse, label_browse_parse, label_browse_rows
from backend.common.csv_export import csv_response
from backend.common.errors import DomainError
from backend.dashboard import selectors
from backend.dashboard.review_views import FILTERS as QUEUE_FILTERS
from backend.dashboard.roles import VIEWER, dataset_page
from backend.dashboard.views import _ctx, _dataset
from backend.videos.selectors import SEARCH_LIMIT, video_search

QUEUE_CSV_LIMIT = 1000
WORKERS_CSV_CHUNK = 500
WORKER_HEADER = ("worker_id", "external_id", "group", "answers", "gold_answers", "gold_accuracy", "agreement",
                 "median_answer_ms", "sets_refused", "sets_failed", "blocked", "blocked_reason")
QUEUE_HEADER = ("label_id", "video_id", "video", "action", "source", "state", "confidence", "yes", "no", "split",
                "votes")


@dataset_page(VIEWER)
def search(request, name: str):
    """The header's search box: a video id or the start of a name. One match opens the video's
    page; several are listed (at most ``SEARCH_LIMIT``)."""
    dataset = _dataset(name)
    q = request.GET.get("q", "").strip()
    found = video_search(dataset=dataset, q=q)
    if len(found) == 1:
        return redirect(reverse("dashboard:video", args=[dataset.name, found[0].pk]))
    return render(request, "dashboard/search.html", _ctx(
        request, dataset, "search", q=q, found=found, limit=SEARCH_LIMIT, full=len(found) >= SEARCH_LIMIT))


@dataset_page(VIEWER)
def labels_export(request, name: str):
    """The label browser's current selection (its filters and order) as CSV, every matching label."""
    dataset = _dataset(name)
    try:
        browse = label_browse_parse(request.GET)
        label_browse(dataset=dataset, browse=browse)  # a bad filter is reported now, not mid-download
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(reverse("dashboard:labels", args=[dataset.name]))
    return csv_response(filename=f"{slugify(dataset.name)}-labels.csv", header=CSV_HEADER,
                        rows=label_browse_rows(dataset=dataset, browse=browse))


def _worker_rows(dataset):
    offset = 0
    while True:
        rows = selectors.worker_rows(dataset=dataset, offset=offset, limit=WORKERS_CSV_CHUNK)
        for r in rows:
            w = r["worker"]
            yield (w.pk, w.external_id, w.group, w.answers_count, w.gold_answers, r["gold_accuracy"], r["agreement"],
                   r["median_ms"], w.attempts_refused, w.sets_failed, w.blocked, w.blocked_reason)
        if len(rows) < WORKERS_CSV_CHUNK:
            return
        offset += WORKERS_CSV_CHUNK


@dataset_page(VIEWER)
def workers_export(request, name: str):
    """The workers list as CSV, in the page's order (most answers first)."""
    dataset = _dataset(name)
    return csv_response(filename=f"{slugify(dataset.name)}-workers.csv", header=WORKER_HEADER,
                        rows=_worker_rows(dataset))


@dataset_page(VIEWER)
def review_export(request, name: str):
    """The disagreement queue with its filters as CSV: the ``QUEUE_CSV_LIMIT`` least certain labels,
    each with its votes (``worker:yes;worker:no``)."""
    dataset = _dataset(name)
    chosen = {k: request.GET.get(k, "").strip() for k in QUEUE_FILTERS}
    try:
        rows = disagreement_queue(dataset=dataset, limit=QUEUE_CSV_LIMIT, **chosen)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(reverse("dashboard:review", args=[dataset.name]))
    return csv_response(filename=f"{slugify(dataset.name)}-disagreements.csv", header=QUEUE_HEADER, rows=(
        (r.label.pk, r.label.video_id, r.label.video.name, r.label.action.name, r.label.source, r.label.state,
         r.label.confidence, r.yes, r.no, r.label.video.split,
         ";".join(f"{v.worker}:{'yes' if v.value else 'no'}" for v in r.votes)) for r in rows))
