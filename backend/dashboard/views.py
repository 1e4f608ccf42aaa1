"""The curator dashboard: server-rendered pages, small ES modules for live progress and charts."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.files.storage import default_storage
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from backend.common.errors import DomainError
from backend.common.jobs import job_create
from backend.crowd.models import Worker, WorkerEvent
from backend.crowd.services import worker_unblock
from backend.dashboard import selectors
from backend.labels.models import Label
from backend.releases.models import Release
from backend.videos.models import Dataset
from backend.videos.selectors import dataset_get
from backend.vocabulary.models import Action

PAGE = 50


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


# Further dataset sections (candidate rounds, HITs, regions, model runs) as (section, title, url name).
SECTIONS: list[tuple[str, str, str]] = [
    ("candidates", "Candidates", "dashboard:candidates"),
    ("models", "Models", "dashboard:models"),
    ("interpretation", "Interpretation", "dashboard:interpretation"),
    ("mturk", "MTurk", "dashboard:mturk"),
]


def _ctx(request, dataset: Dataset | None, section: str, **extra) -> dict:
    links = []
    if dataset is not None:
        links = [{"section": key, "title": title, "url": reverse(url_name, args=[dataset.name])}
                 for key, title, url_name in SECTIONS]
    return {"dataset": dataset, "section": section, "datasets": Dataset.objects.order_by("name"),
            "dashboard_links": links, **extra}


@staff_member_required
def home(request):
    rows = [(d, selectors.dataset_overview(d)) for d in Dataset.objects.order_by("name")]
    return render(request, "dashboard/home.html", _ctx(request, None, "home", rows=rows,
                                                          jobs=selectors.running_jobs()))


@staff_member_required
def overview(request, name: str):
    dataset = _dataset(name)
    return render(request, "dashboard/overview.html", _ctx(
        request, dataset, "overview", o=selectors.dataset_overview(dataset), jobs=selectors.running_jobs(dataset),
        per_day=[{"label": str(r["day"]), "value": r["n"]} for r in selectors.answers_per_day(dataset)],
        per_action=[{"label": r["name"], "value": r["n"]} for r in selectors.label_counts_by_action(dataset)],
    ))


@staff_member_required
def workers(request, name: str):
    dataset = _dataset(name)
    offset = _offset(request)
    rows = selectors.worker_rows(dataset=dataset, offset=offset, limit=PAGE)
    return render(request, "dashboard/workers.html", _ctx(request, dataset, "workers", rows=rows, offset=offset,
                                                           page=PAGE))


@staff_member_required
@require_POST
def worker_unblock_view(request, name: str, worker_id: int):
    worker = Worker.objects.filter(pk=worker_id).first()
    if worker is None:
        raise Http404("No such worker.")
    try:
        worker_unblock(worker=worker, reason=request.POST.get("reason", ""), actor=request.user)
        messages.success(request, f"{worker} unblocked.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(reverse("dashboard:workers", args=[name]))


@staff_member_required
def worker_detail(request, name: str, worker_id: int):
    dataset = _dataset(name)
    worker = Worker.objects.filter(pk=worker_id).first()
    if worker is None:
        raise Http404("No such worker.")
    from backend.annotation.selectors import worker_stats

    return render(request, "dashboard/worker.html", _ctx(
        request, dataset, "workers", worker=worker, stats=worker_stats(worker=worker),
        events=WorkerEvent.objects.filter(worker=worker).select_related("actor")))


@staff_member_required
def labels(request, name: str):
    dataset = _dataset(name)
    offset = _offset(request)
    f = {k: request.GET.get(k, "") for k in ("action", "state", "source")}
    total, rows = selectors.label_page(dataset=dataset, offset=offset, limit=PAGE, **f)
    return render(request, "dashboard/labels.html", _ctx(
        request, dataset, "labels", rows=rows, total=total, offset=offset, page=PAGE, filters=f,
        actions=Action.objects.filter(dataset=dataset, status=Action.Status.ACTIVE).order_by("name")
        .values_list("name", flat=True),
        states=[s for s in Label.State.values if s != "merged"], sources=Label.Source.values,
        next_offset=offset + PAGE if offset + PAGE < total else None,
        prev_offset=max(0, offset - PAGE) if offset else None,
    ))


@staff_member_required
def video(request, name: str, video_id: int):
    dataset = _dataset(name)
    v, rows = selectors.video_detail(dataset=dataset, video_id=video_id)
    if v is None:
        raise Http404("No such video.")
    v.media_url = default_storage.url(v.storage_key) if v.storage_key else ""
    return render(request, "dashboard/video.html", _ctx(request, dataset, "labels", video=v, rows=rows))


@staff_member_required
def releases(request, name: str):
    dataset = _dataset(name)
    items = Release.objects.filter(dataset=dataset).order_by("-version")
    return render(request, "dashboard/releases.html", _ctx(request, dataset, "releases", releases=items,
                                                            jobs=selectors.running_jobs(dataset)))


@staff_member_required
@require_POST
def release_start(request, name: str):
    from workers.tasks.releases import export_release

    dataset = _dataset(name)
    job = job_create(kind="export_release", user=request.user, params={"dataset": dataset.name})
    transaction.on_commit(lambda: export_release.delay(str(job.id), dataset.id))
    messages.success(request, "Export started; progress shows below.")
    return redirect(reverse("dashboard:releases", args=[name]))


def _run_summary(run) -> dict:
    splits = (run.metrics.get("eval") or {}).get("splits", {})
    split = "val" if "val" in splits else (next(iter(splits)) if splits else None)
    final = splits.get(split, {}) if split else {}
    return {"run": run, "split": split, "final": final,
            "per_class": sorted(((k, v) for k, v in (final.get("per_class_ap") or {}).items() if v is not None),
                                key=lambda kv: -kv[1])}


@staff_member_required
def models(request, name: str):
    from backend.training.models import ModelRun

    dataset = _dataset(name)
    runs = [_run_summary(r) for r in ModelRun.objects.filter(dataset=dataset).select_related("release")[:50]]
    over_time = {"series": {m: [{"x": i + 1, "y": round(r["final"].get(m, 0) or 0, 4)}
                                for i, r in enumerate(reversed([r for r in runs if r["final"]]))]
                            for m in ("top1", "top5", "micro_map", "macro_map")}, "ymax": 1}
    selected = next((r for r in runs if str(r["run"].pk) == request.GET.get("run")), runs[0] if runs else None)
    per_class = [{"label": k, "value": round(v, 3)} for k, v in (selected["per_class"] if selected else [])][:40]
    return render(request, "dashboard/models.html", _ctx(request, dataset, "models", runs=runs, selected=selected,
                                                          over_time=over_time, per_class=per_class))


@staff_member_required
@require_POST
def retrain_start(request, name: str):
    from workers.tasks.training import retrain

    dataset = _dataset(name)
    transaction.on_commit(lambda: retrain.delay(dataset.name, None))
    messages.success(request, "Retraining started: a release is exported, then a model trains on the ml queue.")
    return redirect(reverse("dashboard:models", args=[name]))


@staff_member_required
def interpretation(request, name: str):
    """mCAM gallery and Network Dissection reports of the model runs."""
    from backend.training.models import ModelRun

    dataset = _dataset(name)
    runs = list(ModelRun.objects.filter(dataset=dataset, status=ModelRun.Status.SUCCEEDED)[:20])
    selected = next((r for r in runs if str(r.pk) == request.GET.get("run")), runs[0] if runs else None)
    gallery, figures, report, summary = [], [], None, None
    if selected is not None:
        art = selected.artifacts
        gallery = [{"name": k.split("/", 1)[1], "url": default_storage.url(v)} for k, v in sorted(art.items())
                   if k.startswith("mcam/")]
        figures = [{"name": k, "url": default_storage.url(v)} for k, v in sorted(art.items())
                   if k.startswith("netdissect/") and k.endswith(".png") and k.count("/") == 1]
        if "netdissect/report.html" in art:
            report = default_storage.url(art["netdissect/report.html"])
        if "netdissect/summary.json" in art:
            import json

            with default_storage.open(art["netdissect/summary.json"]) as f:
                summary = json.load(f)
    return render(request, "dashboard/interpretation.html", _ctx(
        request, dataset, "interpretation", runs=runs, selected=selected, gallery=gallery, figures=figures,
        report=report, table5=(summary or {}).get("table5", {}).get("rows") if summary else None))


@staff_member_required
@require_POST
def dissect_start(request, name: str, run_id: int):
    from backend.training.models import ModelRun
    from workers.tasks.training import dissect_run

    dataset = _dataset(name)
    run = ModelRun.objects.filter(dataset=dataset, pk=run_id).first()
    if run is None:
        raise Http404("No such run.")
    job = job_create(kind="netdissect", user=request.user, params={"dataset": dataset.name, "run": run.pk})
    transaction.on_commit(lambda: dissect_run.delay(str(job.id), run.pk))
    messages.success(request, "Network Dissection started on the ml queue.")
    return redirect(reverse("dashboard:interpretation", args=[name]) + f"?run={run.pk}")


@staff_member_required
def mturk(request, name: str):
    from backend.mturk.gateway import configured_sandbox
    from backend.mturk.selectors import answers_missing, batch_list, hit_list, worker_list

    dataset = _dataset(name)
    batches = list(batch_list().filter(dataset=dataset)[:30])
    selected = next((b for b in batches if str(b.public_id) == request.GET.get("batch")), batches[0] if batches else None)
    hits = list(hit_list(batch=selected)[:200]) if selected else []
    workers = list(worker_list().filter(pk__in=Worker.objects.filter(sets__dataset=dataset).values("pk"))[:100])
    return render(request, "dashboard/mturk.html", _ctx(
        request, dataset, "mturk", batches=batches, selected=selected, hits=hits, workers=workers,
        sandbox=configured_sandbox(), missing=answers_missing(dataset=dataset, prompt="seen_or_heard"),
        spend=selectors.dataset_spend(dataset)))


@staff_member_required
@require_POST
def mturk_publish(request, name: str):
    from decimal import Decimal, InvalidOperation

    from backend.mturk.gateway import configured_sandbox
    from backend.mturk.services.publish import batch_create
    from workers.tasks.mturk import publish_batch

    dataset = _dataset(name)
    try:
        reward = Decimal(request.POST.get("reward", ""))
        budget = Decimal(request.POST.get("budget", ""))
        assignments = int(request.POST.get("assignments", "1"))
        hits = int(request.POST["hits"]) if request.POST.get("hits") else None
    except (InvalidOperation, ValueError):
        messages.error(request, "Reward and budget must be amounts, assignments and HITs whole numbers.")
        return redirect(reverse("dashboard:mturk", args=[name]))
    try:
        with transaction.atomic():
            batch = batch_create(dataset=dataset, reward=reward, budget=budget, assignments_per_hit=assignments,
                                 hits=hits, sandbox=configured_sandbox(), user=request.user)
            job_id, batch_id = str(batch.job_id), batch.pk
            transaction.on_commit(lambda: publish_batch.delay(job_id, batch_id))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Publishing {batch.hits_requested} HITs (budget ${budget}).")
    return redirect(reverse("dashboard:mturk", args=[name]))


@staff_member_required
def candidates(request, name: str):
    """Candidate rounds: harvest per source and relation over rounds, stopped relations and why,
    and the control that starts the next round."""
    from backend.candidates.models import Relation, Source
    from backend.candidates.policy import RoundPolicy
    from backend.candidates.selectors import (
        harvest_by_relation,
        harvest_groups,
        harvest_series,
        relation_list,
        round_list,
        source_list,
    )

    dataset = _dataset(name)
    offset = _offset(request)
    state = request.GET.get("state", "")
    state = state if state in Relation.State.values else ""
    relations = relation_list(dataset=dataset, state=state or None)
    total = relations.count()
    page = list(relations[offset: offset + PAGE])
    groups = harvest_groups(dataset=dataset)  # one grouped query for the table and both charts
    harvest = harvest_by_relation(dataset=dataset, groups=groups)
    for relation in page:
        relation.tally = harvest.get(relation.pk, {"asked": 0, "decided": 0, "yes": 0, "rate": None})
    threshold = RoundPolicy.from_settings().harvest_threshold
    series = harvest_series(dataset=dataset, groups=groups)
    return render(request, "dashboard/candidates.html", _ctx(
        request, dataset, "candidates", rounds=list(round_list(dataset=dataset)[:50]),
        sources=list(source_list(dataset=dataset)), all_sources=Source.values, relations=page, total=total,
        state=state, states=Relation.State.values, offset=offset, page=PAGE, threshold=threshold,
        next_offset=offset + PAGE if offset + PAGE < total else None,
        prev_offset=max(0, offset - PAGE) if offset else None,
        by_source={"series": series["sources"], "ymax": 1, "threshold": threshold},
        by_relation={"series": series["relations"], "ymax": 1, "threshold": threshold},
        counts={s: relation_list(dataset=dataset, state=s).count() for s in Relation.State.values},
        jobs=[j for j in selectors.running_jobs(dataset) if j.kind in ("candidate_round", "ingest_predictions")],
    ))


@staff_member_required
@require_POST
def candidates_start(request, name: str):
    from backend.candidates.services import candidate_round_job_create
    from workers.tasks.candidates import run_round

    dataset = _dataset(name)
    policy = {}
    try:
        if request.POST.get("harvest_threshold", "").strip():
            policy["harvest_threshold"] = float(request.POST["harvest_threshold"])
    except ValueError:
        messages.error(request, "The harvest threshold must be a number between 0 and 1.")
        return redirect(reverse("dashboard:candidates", args=[name]))
    try:
        with transaction.atomic():
            job = candidate_round_job_create(dataset=dataset, sources=request.POST.getlist("sources"), policy=policy,
                                             user=request.user)
            job_id, sources = str(job.id), job.params["sources"]
            transaction.on_commit(lambda: run_round.delay(job_id, dataset.id, sources, policy))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Candidate round started ({', '.join(sources)}); progress shows below.")
    return redirect(reverse("dashboard:candidates", args=[name]))
