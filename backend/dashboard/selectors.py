"""Reads for the curator dashboard: everything a page shows, one grouped query per table, never
a query per row. The views only call these and the apps' services."""
from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict

from django.core.files.storage import default_storage
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet

from backend.annotation.models import Answer, Question, TaskSet
from backend.candidates.models import Relation
from backend.candidates.selectors import (
    harvest_by_relation,
    harvest_groups,
    harvest_series,
    relation_list,
    round_list,
    source_list,
)
from backend.common.jobs import SIMULATION
from backend.common.models import Job
from backend.common.summaries import summary_kind, summary_read
from backend.crowd.models import Worker
from backend.labels.models import Label
from backend.mturk.selectors import batch_list, hit_list, worker_list
from backend.releases.selectors import release_folder, release_list
from backend.training.selectors import run_list
from backend.videos.models import Dataset, Video
from backend.vocabulary.selectors import action_list


def datasets() -> QuerySet[Dataset]:
    return Dataset.objects.order_by("name")


@summary_kind("overview")
def overview_count(dataset_id: int) -> tuple[dict, int]:
    """Everything the overview and home pages count about a dataset, with the rows it read (a
    summary: counted live while small, by the summaries job once large)."""
    from django.db.models.functions import TruncDate

    videos = Video.objects.filter(dataset_id=dataset_id).aggregate(
        ok=Count("id", filter=Q(status=Video.Status.OK)),
        quarantined=Count("id", filter=Q(status=Video.Status.QUARANTINED)),
    )
    questions = Question.objects.filter(dataset_id=dataset_id).aggregate(
        total=Count("id"), open=Count("id", filter=Q(state=Question.State.OPEN)),
        decided=Count("id", filter=Q(state=Question.State.DECIDED)),
    )
    labels = Label.objects.filter(dataset_id=dataset_id).aggregate(
        positive=Count("id", filter=Q(state=Label.State.POSITIVE)),
        negative=Count("id", filter=Q(state=Label.State.NEGATIVE)),
        ambiguous=Count("id", filter=Q(state=Label.State.AMBIGUOUS)),
        pending=Count("id", filter=Q(state=Label.State.PENDING)),
        total=Count("id"),
    )
    sets = TaskSet.objects.filter(dataset_id=dataset_id).aggregate(
        accepted=Count("id", filter=Q(status=TaskSet.Status.ACCEPTED)), total=Count("id"))
    per_day = [[str(r["day"]), r["n"]] for r in Answer.objects.filter(taskset__dataset_id=dataset_id)
               .annotate(day=TruncDate("created_at")).values("day").annotate(n=Count("id")).order_by("day")]
    per_action = [[r["name"], r["n"]] for r in Label.objects.filter(dataset_id=dataset_id, state=Label.State.POSITIVE)
                  .values(name=F("action__name")).annotate(n=Count("id")).order_by("-n", "name")[:40]]
    answers = sum(n for _, n in per_day)
    data = {"videos": videos, "questions": questions, "labels": labels, "sets": sets, "answers": answers,
            "per_day": per_day, "per_action": per_action}
    rows = videos["ok"] + videos["quarantined"] + questions["total"] + labels["total"] + sets["total"] + answers
    return data, rows


def dataset_overview(dataset: Dataset) -> dict:
    """The overview's counters and charts (``counted`` says when they were counted) and spend."""
    counted = summary_read("overview", dataset.pk)
    return {**counted.data, "spend": dataset_spend(dataset), "counted": counted}


def dataset_spend(dataset: Dataset) -> dict:
    """What was spent against the budget (crowd providers that pay record their cost), and what
    the latest simulated crowd would have cost (simulated money: never counted as spent)."""
    spent = float(sum(b.spent for b in batch_list().filter(dataset=dataset)))
    budget = float(dataset.budget)
    simulation = Job.objects.filter(kind=SIMULATION, params__dataset=dataset.name, status=Job.Status.SUCCEEDED) \
        .order_by("-created_at").values_list("result", flat=True).first()
    return {"spent": spent, "budget": budget, "fraction": min(1.0, spent / budget) if budget else 0.0,
            "simulated": (simulation or {}).get("cost")}


def running_jobs(dataset: Dataset | None = None, limit: int = 20, *, among: QuerySet[Dataset] | None = None):
    """The latest jobs (of one dataset, or of the datasets ``among``)."""
    qs = Job.objects.all()
    if dataset is not None:
        qs = qs.filter(params__dataset=dataset.name)
    if among is not None:
        qs = qs.filter(params__dataset__in=list(among.values_list("name", flat=True)))
    return qs.order_by("-created_at")[:limit]


def worker_rows(*, dataset: Dataset | None = None, offset: int = 0, limit: int = 50) -> list[dict]:
    """Workers with gold accuracy, agreement with consensus, median answer time, refusals."""
    workers = Worker.objects.all()
    if dataset is not None:
        # a semi-join, checked per worker on the set index, not a distinct over every set
        workers = workers.filter(Exists(TaskSet.objects.filter(worker=OuterRef("pk"), dataset=dataset)))
    page = list(workers.order_by("-answers_count", "id")[offset: offset + limit])
    ids = [w.pk for w in page]
    if dataset is not None:
        agreement = {int(k): {"n": n, "agree": agree}
                     for k, (n, agree) in summary_read("agreement", dataset.pk).data["workers"].items()}
    else:
        agreement = {r["worker_id"]: r for r in _agreement(Answer.objects.filter(worker_id__in=ids))}
    durations = defaultdict(list)
    for wid, ms in (Answer.objects.filter(worker_id__in=ids).exclude(duration_ms=None)
                    .order_by("-id").values_list("worker_id", "duration_ms")[:50 * max(1, len(ids))]):
        durations[wid].append(ms)
    rows = []
    for w in page:
        a = agreement.get(w.pk)
        rows.append({
            "worker": w,
            "gold_accuracy": w.gold_accuracy,
            "agreement": a["agree"] / a["n"] if a and a["n"] else None,
            "median_ms": statistics.median(durations[w.pk]) if durations[w.pk] else None,
        })
        rows[-1]["median_s"] = rows[-1]["median_ms"] / 1000 if rows[-1]["median_ms"] is not None else None
    return rows


def _agreement(answers: QuerySet) -> QuerySet:
    """Per worker: answers to questions decided positive or negative, and how many agreed."""
    return (answers.filter(question__state=Question.State.DECIDED).exclude(question__decision="ambiguous")
            .values("worker_id").annotate(n=Count("id"), agree=Count(
                "id", filter=Q(value=True, question__decision="positive") | Q(value=False, question__decision="negative")))
            .order_by())


@summary_kind("agreement")
def agreement_count(dataset_id: int) -> tuple[dict, int]:
    """Every annotator's agreement with the consensus on a dataset (a summary the workers page reads)."""
    rows = list(_agreement(Answer.objects.filter(taskset__dataset_id=dataset_id)))
    return {"workers": {str(r["worker_id"]): [r["n"], r["agree"]] for r in rows}}, sum(r["n"] for r in rows)


def video_detail(*, dataset: Dataset, video_id: int):
    video = Video.objects.filter(dataset=dataset, pk=video_id).first()
    if video is None:
        return None, []
    labels = list(Label.objects.filter(video=video).select_related("action").order_by("action__name"))
    answers = defaultdict(list)
    for qid, label_id, worker, value, excluded in (
        Answer.objects.filter(question__video=video).values_list(
            "question_id", "question__label_id", "worker__external_id", "value", "excluded")):
        answers[label_id].append({"worker": worker, "value": value, "excluded": excluded})
    return video, [(label, answers.get(label.pk, [])) for label in labels]


def home_rows(*, among: QuerySet[Dataset] | None = None) -> list[tuple[Dataset, dict]]:
    """Each dataset (of ``among``, else all) with its overview."""
    return [(d, dataset_overview(d)) for d in (among if among is not None else datasets())]


def label_filters(dataset: Dataset) -> dict:
    """The choices of the label browser's filters."""
    return {"actions": action_list(dataset=dataset).order_by("name").values_list("name", flat=True),
            "states": [s for s in Label.State.values if s != Label.State.MERGED], "sources": Label.Source.values}


def _run_summary(run) -> dict:
    splits = (run.metrics.get("eval") or {}).get("splits", {})
    split = "val" if "val" in splits else (next(iter(splits)) if splits else None)
    final = splits.get(split, {}) if split else {}
    return {"run": run, "split": split, "final": final, "live": _run_live(run),
            "per_class": sorted(((k, v) for k, v in (final.get("per_class_ap") or {}).items() if v is not None),
                                key=lambda kv: -kv[1])}


def _run_live(run) -> dict | None:
    """Where a running training is, from what it reported last (``progress.json``, ``metrics.json``)."""
    if run.status != "running":
        return None
    progress = dict(run.metrics.get("progress") or {})
    epochs = run.metrics.get("epochs") or []
    last = progress.get("last") or (epochs[-1] if epochs else {})
    return {"phase": progress.get("phase", "starting"), "epoch": progress.get("epoch"),
            "epochs": progress.get("epochs"), "step": progress.get("step"), "steps": progress.get("steps"),
            "last": last, "done_epochs": len(epochs),
            "since": run.heartbeat_at}


RUN_SERIES = {"top1": "top-1", "top5": "top-5", "micro_map": "micro mAP", "macro_map": "macro mAP"}
EPOCH_SERIES = {"train_loss": "train loss", "val_micro_map": "val micro mAP", "val_macro_map": "val macro mAP",
                 "val_top1": "val top-1"}


def _epoch_series(run) -> dict:
    """One run's training curve from what it reported per epoch: the loss on the right axis (its own
    scale), validation scores on the left."""
    epochs = (run.metrics.get("epochs") or []) if run is not None else []
    series = {name: [{"x": e["epoch"], "y": round(e[key], 4)} for e in epochs
                     if isinstance(e.get(key), (int, float)) and math.isfinite(e[key]) and e.get("epoch") is not None]
              for key, name in EPOCH_SERIES.items()}
    return {"series": {name: points for name, points in series.items() if points}, "right": ["train loss"]}


def models_page(*, dataset: Dataset, run_id: str | None, limit: int = 50) -> dict:
    """Runs with their final evaluation, the metrics over runs, and one run's per-class AP and training curve."""
    runs = [_run_summary(r) for r in run_list(dataset=dataset)[:limit]]
    # x is the run's number (the chart labels it "#12"), oldest run first
    over_time = {"series": {name: [{"x": r["run"].pk, "y": round(r["final"].get(m, 0) or 0, 4)}
                                   for r in reversed([r for r in runs if r["final"]])]
                            for m, name in RUN_SERIES.items()}, "ymax": 1}
    selected = next((r for r in runs if str(r["run"].pk) == run_id), runs[0] if runs else None)
    per_class = [{"label": k, "value": round(v, 3)} for k, v in (selected["per_class"] if selected else [])][:40]
    return {"runs": runs, "selected": selected, "over_time": over_time, "per_class": per_class,
            "per_epoch": _epoch_series(selected["run"] if selected else None),
            "running": any(r["live"] for r in runs)}


def interpretation_page(*, dataset: Dataset, run_id: str | None, limit: int = 20) -> dict:
    """Finished runs, and for one of them its mCAM gallery and Network Dissection report."""
    runs = list(run_list(dataset=dataset, status="succeeded")[:limit])
    selected = next((r for r in runs if str(r.pk) == run_id), runs[0] if runs else None)
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
            with default_storage.open(art["netdissect/summary.json"]) as f:
                summary = json.load(f)
    return {"runs": runs, "selected": selected, "gallery": gallery, "figures": figures, "report": report,
            "table5": (summary or {}).get("table5", {}).get("rows") if summary else None}


def mturk_page(*, dataset: Dataset, batch_id: str | None) -> dict:
    """The dataset's batches, one batch's HITs, and the MTurk workers who worked on the dataset."""
    batches = list(batch_list().filter(dataset=dataset)[:30])
    selected = next((b for b in batches if str(b.public_id) == batch_id), batches[0] if batches else None)
    return {"batches": batches, "selected": selected, "hits": list(hit_list(batch=selected)[:200]) if selected else [],
            "workers": list(worker_list().filter(Exists(TaskSet.objects.filter(worker=OuterRef("pk"), dataset=dataset)))
                            [:100])}


def candidates_page(*, dataset: Dataset, state: str, offset: int, limit: int) -> dict:
    """Rounds, sources, one page of relations (of a state) with their harvest, and the series of
    the harvest charts (by source and by relation, over rounds)."""
    relations = relation_list(dataset=dataset, state=state or None)
    total = relations.count()
    page = list(relations[offset: offset + limit])
    groups = harvest_groups(dataset=dataset)  # one grouped query for the table and both charts
    harvest = harvest_by_relation(dataset=dataset, groups=groups)
    for relation in page:
        relation.tally = harvest.get(relation.pk, {"asked": 0, "decided": 0, "yes": 0, "rate": None})
    return {"rounds": list(round_list(dataset=dataset)[:50]), "sources": list(source_list(dataset=dataset)),
            "relations": page, "total": total, "series": harvest_series(dataset=dataset, groups=groups),
            "counts": {s: relation_list(dataset=dataset, state=s).count() for s in Relation.State.values}}


def releases_page(*, dataset: Dataset, limit: int = 100) -> dict:
    """The newest releases (``limit`` of them: one query, however many exports ran), each marked
    ``downloadable`` when its folder can be served as a ZIP."""
    rows = list(release_list(dataset=dataset)[: limit + 1])
    for release in rows:
        release.downloadable = release_folder(release) is not None
    return {"releases": rows[:limit], "more_releases": len(rows) > limit}
