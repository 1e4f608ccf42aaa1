"""The curator dashboard: server-rendered pages, small ES modules for live progress and charts.

One view per page (named for it) and one per control on a page (``<page>_<action>``). Views read
through selectors (``dashboard/selectors.py`` and the apps') and act through the apps' services;
background work starts through each job's ``*_start`` service.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.files.storage import default_storage
from django.db import transaction
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from backend.annotation.label_browser import FILTERS as BROWSER_FILTERS
from backend.annotation.label_browser import SORTS as BROWSER_SORTS
from backend.annotation.label_browser import label_browse, label_browse_page, label_browse_parse
from backend.annotation.selectors import worker_answers_by_day, worker_stats
from backend.annotation.services.corrections import MAX_MORE_ANSWERS, label_correct
from backend.annotation.services.corrections import labels_correct as labels_correct_service
from backend.candidates.models import Relation, Source
from backend.candidates.policy import RoundPolicy
from backend.candidates.services import candidate_round_start
from backend.common.errors import DomainError
from backend.common.pages import KeysetPage
from backend.crowd import services as crowd_services
from backend.crowd.selectors import worker_events, worker_get
from backend.dashboard import selectors
from backend.dashboard.roles import CURATOR, REVIEWER, VIEWER, dataset_page, role_context
from backend.labels.selectors import label_get
from backend.mturk.gateway import configured_sandbox
from backend.mturk.selectors import work_missing_counted
from backend.mturk.services.publish import batch_create, batch_publish_start
from backend.releases.services import release_export_start
from backend.training.selectors import run_get
from backend.training.services import retrain_start, run_dissect_start
from backend.videos.access import dataset_role, datasets_visible
from backend.videos.models import Dataset
from backend.videos.selectors import dataset_get

PAGE = 50
BAD_PUBLISH_NUMBERS = "Reward and budget must be amounts, assignments and HITs whole numbers."
BAD_THRESHOLD = "The harvest threshold must be a number between 0 and 1."
_STARTED = "Retraining started: a release is exported, then a model trains on the ml queue"
RETRAIN_STARTED = {
    "small": _STARTED + " (the configured model on a GPU worker; on a worker without a GPU, a small CPU model that "
                        "finishes in minutes).",
    "refuse": _STARTED + " (a worker without a GPU refuses it: start one on a GPU machine with "
                         "celery -A workers worker -Q ml -c 1).",
    "full": _STARTED + ".",
}


def _dataset(name: str) -> Dataset:
    try:
        return dataset_get(name=name)
    except DomainError as exc:
        raise Http404(exc.message) from exc


def _offset(request) -> int:
    try:
        return max(0, int(request.GET.get("offset", 0)))
    except ValueError:
        return 0


def _pages(offset: int, total: int) -> dict:
    return {"offset": offset, "page": PAGE, "next_offset": offset + PAGE if offset + PAGE < total else None,
            "prev_offset": max(0, offset - PAGE) if offset else None}


# Further dataset sections (candidate rounds, HITs, regions, model runs) as (section, title, url name).
SECTIONS: list[tuple[str, str, str]] = [
    ("annotators", "Annotators", "dashboard:annotators"),
    ("review", "Disagreements", "dashboard:review"),
    ("campaign", "Campaign", "dashboard:campaign"),
    ("candidates", "Candidates", "dashboard:candidates"),
    ("gold", "Gold", "dashboard:gold"),
    ("models", "Models", "dashboard:models"),
    ("interpretation", "Interpretation", "dashboard:interpretation"),
    ("regions", "Regions", "dashboard:regions"),
    ("mturk", "MTurk", "dashboard:mturk"),
    ("team", "Team", "dashboard:team"),
]


def _ctx(request, dataset: Dataset | None, section: str, **extra) -> dict:
    links = []
    if dataset is not None:
        links = [{"section": key, "title": title, "url": reverse(url_name, args=[dataset.name])}
                 for key, title, url_name in SECTIONS]
    return {"dataset": dataset, "section": section, "datasets": datasets_visible(request.user),
            "dashboard_links": links, **role_context(request), **extra}


@staff_member_required
def home(request):
    """The datasets the user holds a role in (every one for superusers), with that role."""
    visible = datasets_visible(request.user)
    rows = [(d, o, dataset_role(request.user, d)) for d, o in selectors.home_rows(among=visible)]
    return render(request, "dashboard/home.html", _ctx(
        request, None, "home", rows=rows,
        jobs=selectors.running_jobs(among=None if request.user.is_superuser else visible),
        recounted=any(not o["counted"].live for _, o, _ in rows)))


@dataset_page(VIEWER)
def overview(request, name: str):
    dataset = _dataset(name)
    overview = selectors.dataset_overview(dataset)
    return render(request, "dashboard/overview.html", _ctx(
        request, dataset, "overview", o=overview, jobs=selectors.running_jobs(dataset),
        per_day=[{"label": day, "value": n} for day, n in overview["per_day"]],
        per_action=[{"label": name, "value": n} for name, n in overview["per_action"]],
    ))


@dataset_page(VIEWER)
def workers(request, name: str):
    dataset = _dataset(name)
    offset = _offset(request)
    rows = selectors.worker_rows(dataset=dataset, offset=offset, limit=PAGE)
    return render(request, "dashboard/workers.html", _ctx(request, dataset, "workers", rows=rows, offset=offset,
                                                           page=PAGE))


@dataset_page(CURATOR)
@require_POST
def workers_unblock(request, name: str, worker_id: int):
    annotator = worker_get(worker_id=worker_id)
    if annotator is None:
        raise Http404("No such worker.")
    try:
        crowd_services.worker_unblock(worker=annotator, reason=request.POST.get("reason", ""), actor=request.user)
        messages.success(request, f"{annotator} unblocked.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(reverse("dashboard:workers", args=[name]))


@dataset_page(VIEWER)
def worker(request, name: str, worker_id: int):
    dataset = _dataset(name)
    annotator = worker_get(worker_id=worker_id)
    if annotator is None:
        raise Http404("No such worker.")
    return render(request, "dashboard/worker.html", _ctx(
        request, dataset, "workers", worker=annotator, stats=worker_stats(worker=annotator),
        events=worker_events(worker=annotator), per_day=worker_answers_by_day(worker=annotator),
        links=list(annotator.links.select_related("dataset").all())))


@dataset_page(VIEWER)
def labels(request, name: str):
    """The label browser: filters, sort order, keyset pages, corrections and a CSV of the selection."""
    dataset = _dataset(name)
    f = {k: request.GET.get(k, "").strip() for k in (*BROWSER_FILTERS, "sort")}
    try:
        browse = label_browse_parse(request.GET)
        page = label_browse_page(dataset=dataset, browse=browse, after=request.GET.get("after"),
                                 before=request.GET.get("before"), limit=PAGE)
    except DomainError as exc:
        messages.error(request, exc.message)
        browse, page = None, KeysetPage(rows=[], total=0, capped=False, next_after=None, prev_before=None)
    query = urlencode(browse.query()) if browse else ""
    return render(request, "dashboard/labels.html", _ctx(
        request, dataset, "labels", page=page, rows=page.rows, filters=f, browse=browse, query=query,
        here=request.GET.urlencode(), max_more=MAX_MORE_ANSWERS, sorts=BROWSER_SORTS,
        **selectors.label_filters(dataset)))


LABEL_QUERY = (*BROWSER_FILTERS, "sort", "after", "before")


def _labels_back(name: str, post) -> str:
    """The label browser as the curator left it (its filters and page, sent back by the form)."""
    query = QueryDict(post.get("query", ""))
    kept = {k: query[k] for k in LABEL_QUERY if query.get(k)}
    return reverse("dashboard:labels", args=[name]) + (f"?{urlencode(kept)}" if kept else "")


def _correction(post) -> dict:
    """What a correction form asks: the button pressed (``do``: positive, negative or more) and the
    reason; checked by the service."""
    do, reason = post.get("do", ""), post.get("reason", "")
    if do == "more":
        raw = post.get("more_answers", "").strip()
        return {"more_answers": int(raw) if raw.isdigit() else raw, "reason": reason}
    return {"state": do, "reason": reason}


def _corrected_message(correction: dict, n: int, changed: int | None = None) -> str:
    what = "1 label" if n == 1 else f"{n} labels"
    if "more_answers" in correction:
        return (f"Asked for {correction['more_answers']} more answers on {what}: pending until the crowd "
                "decides again.")
    unchanged = "" if changed is None else f" ({changed} changed state)"
    return f"{what.capitalize()} set to {correction['state']}{unchanged}; kept through re-aggregation."


@dataset_page(REVIEWER, doing="correcting labels")
@require_POST
def labels_correct(request, name: str, label_id: int):
    """One label's correction from its row of the label browser."""
    dataset = _dataset(name)
    label = label_get(dataset=dataset, label_id=label_id)
    if label is None:
        raise Http404("No such label.")
    correction = _correction(request.POST)
    try:
        label_correct(label=label, user=request.user, **correction)
    except DomainError as exc:
        messages.error(request, f"{label.video.name} · {label.action.name}: {exc.message}")
    else:
        messages.success(request, f"{label.video.name} · {label.action.name}: "
                                  + _corrected_message(correction, 1))
    return redirect(_labels_back(name, request.POST))


@dataset_page(REVIEWER, doing="correcting labels")
@require_POST
def labels_correct_bulk(request, name: str):
    """Every label the browser's current filters select, corrected at once."""
    dataset = _dataset(name)
    correction = _correction(request.POST)
    try:
        labels = label_browse(dataset=dataset, browse=label_browse_parse(request.POST))
        result = labels_correct_service(dataset=dataset, labels=labels, user=request.user, **correction)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _corrected_message(correction, result.corrected, result.changed))
    return redirect(_labels_back(name, request.POST))


@dataset_page(VIEWER)
def video(request, name: str, video_id: int):
    dataset = _dataset(name)
    v, rows = selectors.video_detail(dataset=dataset, video_id=video_id)
    if v is None:
        raise Http404("No such video.")
    v.media_url = default_storage.url(v.storage_key) if v.storage_key else ""
    return render(request, "dashboard/video.html", _ctx(request, dataset, "labels", video=v, rows=rows))


@dataset_page(VIEWER)
def releases(request, name: str):
    dataset = _dataset(name)
    return render(request, "dashboard/releases.html", _ctx(request, dataset, "releases",
                                                            **selectors.releases_page(dataset=dataset),
                                                            jobs=selectors.running_jobs(dataset)))


@dataset_page(CURATOR)
@require_POST
def releases_export(request, name: str):
    release_export_start(dataset=_dataset(name), user=request.user)
    messages.success(request, "Export started; progress shows below.")
    return redirect(reverse("dashboard:releases", args=[name]))


@dataset_page(VIEWER)
def models(request, name: str):
    dataset = _dataset(name)
    return render(request, "dashboard/models.html", _ctx(
        request, dataset, "models", **selectors.models_page(dataset=dataset, run_id=request.GET.get("run"))))


@dataset_page(CURATOR)
@require_POST
def models_retrain(request, name: str):
    retrain_start(dataset=_dataset(name))
    messages.success(request, RETRAIN_STARTED[settings.MMIT_TRAIN_WITHOUT_GPU]
                     if settings.MMIT_TRAIN_WITHOUT_GPU in RETRAIN_STARTED else RETRAIN_STARTED["full"])
    return redirect(reverse("dashboard:models", args=[name]))


@dataset_page(VIEWER)
def interpretation(request, name: str):
    """mCAM gallery and Network Dissection reports of the model runs."""
    dataset = _dataset(name)
    return render(request, "dashboard/interpretation.html", _ctx(
        request, dataset, "interpretation",
        **selectors.interpretation_page(dataset=dataset, run_id=request.GET.get("run"))))


@dataset_page(CURATOR)
@require_POST
def interpretation_dissect(request, name: str, run_id: int):
    run = run_get(dataset=_dataset(name), run_id=run_id)
    if run is None:
        raise Http404("No such run.")
    run_dissect_start(run=run, user=request.user)
    messages.success(request, "Network Dissection started on the ml queue.")
    return redirect(reverse("dashboard:interpretation", args=[name]) + f"?run={run.pk}")


@dataset_page(VIEWER)
def mturk(request, name: str):
    dataset = _dataset(name)
    return render(request, "dashboard/mturk.html", _ctx(
        request, dataset, "mturk", sandbox=configured_sandbox(), missing=work_missing_counted(dataset=dataset),
        spend=selectors.dataset_spend(dataset), **selectors.mturk_page(dataset=dataset,
                                                                       batch_id=request.GET.get("batch"))))


@dataset_page(CURATOR)
@require_POST
def mturk_publish(request, name: str):
    dataset = _dataset(name)
    try:
        reward = Decimal(request.POST.get("reward", ""))
        budget = Decimal(request.POST.get("budget", ""))
        assignments = int(request.POST.get("assignments", "1"))
        hits = int(request.POST["hits"]) if request.POST.get("hits") else None
    except (InvalidOperation, ValueError):
        messages.error(request, BAD_PUBLISH_NUMBERS)
        return redirect(reverse("dashboard:mturk", args=[name]))
    try:
        with transaction.atomic():
            batch = batch_publish_start(batch=batch_create(
                dataset=dataset, reward=reward, budget=budget, assignments_per_hit=assignments, hits=hits,
                sandbox=configured_sandbox(), user=request.user))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Publishing {batch.hits_requested} HITs (budget ${budget}).")
    return redirect(reverse("dashboard:mturk", args=[name]))


@dataset_page(VIEWER)
def candidates(request, name: str):
    """Candidate rounds: harvest per source and relation over rounds, stopped relations and why,
    and the control that starts the next round."""
    dataset = _dataset(name)
    offset = _offset(request)
    state = request.GET.get("state", "")
    state = state if state in Relation.State.values else ""
    page = selectors.candidates_page(dataset=dataset, state=state, offset=offset, limit=PAGE)
    threshold = RoundPolicy.from_settings().harvest_threshold
    return render(request, "dashboard/candidates.html", _ctx(
        request, dataset, "candidates", rounds=page["rounds"], sources=page["sources"], all_sources=Source.values,
        relations=page["relations"], total=page["total"], state=state, states=Relation.State.values,
        threshold=threshold, counts=page["counts"], **_pages(offset, page["total"]),
        by_source={"series": page["series"]["sources"], "ymax": 1, "threshold": threshold},
        by_relation={"series": page["series"]["relations"], "ymax": 1, "threshold": threshold},
        jobs=[j for j in selectors.running_jobs(dataset) if j.kind in ("candidate_round", "ingest_predictions")],
    ))


@dataset_page(CURATOR)
@require_POST
def candidates_round(request, name: str):
    dataset = _dataset(name)
    policy = {}
    try:
        if request.POST.get("harvest_threshold", "").strip():
            policy["harvest_threshold"] = float(request.POST["harvest_threshold"])
    except ValueError:
        messages.error(request, BAD_THRESHOLD)
        return redirect(reverse("dashboard:candidates", args=[name]))
    try:
        with transaction.atomic():
            job = candidate_round_start(dataset=dataset, sources=request.POST.getlist("sources"), policy=policy,
                                        user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Candidate round started ({', '.join(job.params['sources'])}); "
                                  "progress shows below.")
    return redirect(reverse("dashboard:candidates", args=[name]))
