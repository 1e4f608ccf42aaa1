"""What a campaign achieved: answers paid for, labels verified, and how many of them are right."""
from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q

from backend.annotation.models import Answer, Attempt, GoldAnswer, TaskSet
from backend.common.jobs import SIMULATION, job_create, job_finish, job_progress_reporter, job_start
from backend.crowd.models import Worker
from backend.labels.models import Label
from backend.vocabulary.models import Action

MTURK_FEE = 0.20  # 40% applies only to HITs with 10 or more assignments; a set is one assignment


@dataclass(frozen=True)
class RoundSnapshot:
    answers: int
    gold_answers: int
    sets_accepted: int
    attempts_refused: int
    sets_failed: int
    sets_abandoned: int
    positives: int
    decided: int


def snapshot(dataset) -> RoundSnapshot:
    sets = TaskSet.objects.filter(dataset=dataset).aggregate(
        accepted=Count("id", filter=Q(status=TaskSet.Status.ACCEPTED)),
        failed=Count("id", filter=Q(status=TaskSet.Status.FAILED)),
        abandoned=Count("id", filter=Q(status__in=[TaskSet.Status.EXPIRED, TaskSet.Status.CANCELLED])),
    )
    labels = Label.objects.filter(dataset=dataset).aggregate(
        positives=Count("id", filter=Q(state=Label.State.POSITIVE)),
        decided=Count("id", filter=Q(state__in=[Label.State.POSITIVE, Label.State.NEGATIVE, Label.State.AMBIGUOUS])),
    )
    return RoundSnapshot(
        answers=Answer.objects.filter(question__dataset=dataset).count(),
        gold_answers=GoldAnswer.objects.filter(gold__dataset=dataset).count(),
        sets_accepted=sets["accepted"], attempts_refused=Attempt.objects.filter(
            taskset__dataset=dataset, accepted=False).count(),
        sets_failed=sets["failed"], sets_abandoned=sets["abandoned"], positives=labels["positives"],
        decided=labels["decided"],
    )


def quality(*, dataset, truth: dict[int, set[str]]) -> dict:
    """Precision of verified positives; recall over all true pairs and over the asked ones."""
    active = set(Action.objects.filter(dataset=dataset, status=Action.Status.ACTIVE).values_list("name", flat=True))
    decided = Label.objects.filter(dataset=dataset, state__in=["positive", "negative", "ambiguous"]).values_list(
        "video_id", "action__name", "state")
    tp = fp = asked_true = 0
    for vid, action, state in decided:
        is_true = action in truth.get(vid, set())
        asked_true += is_true
        if state == "positive":
            tp += is_true
            fp += not is_true
    all_true = sum(len(actions & active) for actions in truth.values())
    return {
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall_all": tp / all_true if all_true else None,
        "recall_asked": tp / asked_true if asked_true else None,
        "true_positives": tp, "false_positives": fp, "true_pairs": all_true, "true_pairs_asked": asked_true,
    }


def harvest_by_source(dataset) -> dict:
    rows = Label.objects.filter(dataset=dataset, state__in=["positive", "negative", "ambiguous"]).values(
        "source").annotate(asked=Count("id"), yes=Count("id", filter=Q(state="positive")))
    return {r["source"]: {"asked": r["asked"], "yes": r["yes"], "rate": r["yes"] / r["asked"]} for r in rows}


def round_metrics(*, dataset, truth, before: RoundSnapshot, after: RoundSnapshot, reward: float, fee: float) -> dict:
    answers = after.answers - before.answers
    positives = after.positives - before.positives
    accepted = after.sets_accepted - before.sets_accepted
    return {
        "answers": answers,
        "gold_answers": after.gold_answers - before.gold_answers,
        "sets_accepted": accepted,
        "sets_refused": after.attempts_refused - before.attempts_refused,
        "sets_failed": after.sets_failed - before.sets_failed,
        "sets_abandoned": after.sets_abandoned - before.sets_abandoned,
        "verified_positive": positives,
        "labels_decided": after.decided - before.decided,
        "answers_per_positive": answers / positives if positives else None,
        "cost": round(accepted * reward * (1 + fee), 2),
        **{f"cumulative_{k}": v for k, v in quality(dataset=dataset, truth=truth).items()},
        "harvest": harvest_by_source(dataset),
    }


def total_metrics(*, dataset, truth, groups, workers, reward: float, fee: float) -> dict:
    snap = snapshot(dataset)
    names = [w.name for w in workers]
    by_name = {w.name: w for w in workers}
    rows = Worker.objects.filter(provider="inhouse", external_id__in=names).annotate(n_sets=Count("sets"))
    per_group: dict[str, dict] = {
        g.name: {"workers": g.count, "blocked": 0, "blocked_within_3_sets": 0, "active": 0, "decided": 0}
        for g in groups
    }
    for row in rows:
        g = per_group[by_name[row.external_id].group.name]
        g["active"] += row.n_sets > 0
        # "blocked within the first 3 sets" is settled for a worker who was blocked, or who did
        # 3 sets without being blocked; one who ran out of work earlier is left out.
        g["decided"] += row.blocked or row.n_sets >= 3
        if row.blocked:
            g["blocked"] += 1
            g["blocked_within_3_sets"] += row.n_sets <= 3
    spam_groups = [g.name for g in groups if g.is_spammer]
    careful_groups = [g.name for g in groups if g.sensitivity >= 0.9 and g.specificity >= 0.9]
    spam_decided = sum(per_group[n]["decided"] for n in spam_groups)
    careful_total = sum(per_group[n]["workers"] for n in careful_groups)
    q = quality(dataset=dataset, truth=truth)
    return {
        "answers": snap.answers,
        "gold_answers": snap.gold_answers,
        "sets_accepted": snap.sets_accepted,
        "sets_refused": snap.attempts_refused,
        "sets_failed": snap.sets_failed,
        "sets_abandoned": snap.sets_abandoned,
        "verified_positive": snap.positives,
        "labels_decided": snap.decided,
        "answers_per_positive": snap.answers / snap.positives if snap.positives else None,
        "cost": round(snap.sets_accepted * reward * (1 + fee), 2),
        "reward_per_set": reward,
        "fee": fee,
        **q,
        "harvest": harvest_by_source(dataset),
        "workers": per_group,
        "spammers_blocked_within_3_sets": (
            sum(per_group[n]["blocked_within_3_sets"] for n in spam_groups) / spam_decided if spam_decided else None),
        "careful_blocked": (
            sum(per_group[n]["blocked"] for n in careful_groups) / careful_total if careful_total else None),
    }


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


TABLE_ROWS = [
    ("answers", "answers"), ("gold answers", "gold_answers"), ("sets accepted", "sets_accepted"),
    ("sets refused", "sets_refused"), ("sets failed", "sets_failed"), ("sets abandoned", "sets_abandoned"),
    ("verified positive", "verified_positive"), ("answers / positive", "answers_per_positive"),
    ("precision", "precision"), ("recall (all true)", "recall_all"), ("recall (asked)", "recall_asked"),
    ("cost", "cost"),
]


def format_table(report: dict) -> str:
    """Rounds as columns, the report's figures as rows, then totals, harvest and workers."""
    lines = []
    for strategy, run in report["runs"].items():
        rounds = run["rounds"]
        header = ["", *[f"round {r['round']}" for r in rounds], "total"]
        table = [header]
        for label, key in TABLE_ROWS:
            cells = []
            for r in rounds:
                cells.append(_fmt(r.get(key, r.get(f"cumulative_{key}"))))
            table.append([label, *cells, _fmt(run["total"].get(key))])
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        lines.append(f"== {strategy} ({run['dataset']}) ==")
        lines += ["  ".join(cell.rjust(widths[i]) if i else cell.ljust(widths[i]) for i, cell in enumerate(row))
                  for row in table]
        lines.append("harvest by source: " + ", ".join(
            f"{s} {h['yes']}/{h['asked']} ({h['rate']:.0%})" for s, h in sorted(run["total"]["harvest"].items())))
        lines.append("workers blocked: " + ", ".join(
            f"{g} {v['blocked']}/{v['workers']}" for g, v in run["total"]["workers"].items()))
        lines.append(f"spammers blocked within 3 sets: {_fmt(run['total']['spammers_blocked_within_3_sets'])}; "
                     f"careful workers blocked: {_fmt(run['total']['careful_blocked'])}")
    if "comparison" in report:
        c = report["comparison"]
        lines.append(f"== comparison == answers ratio {c['answer_ratio']:.3f}, precision "
                     f"{_fmt(c['precision'][0])} vs {_fmt(c['precision'][1])}")
    return "\n".join(lines)


def simulation_record(*, dataset_name: str, total: dict, report_path: str) -> None:
    """Keep a finished simulation as a job of the dataset, so the dashboard shows what the crowd
    would have cost (as simulated money, never as spend)."""
    job = job_create(kind=SIMULATION, params={"dataset": dataset_name, "report": report_path})
    job_start(job_id=job.id)
    job_progress_reporter(job_id=job.id)(1, 1, f"${total.get('cost', 0):.2f} simulated, {total.get('answers', 0)} "
                                              "answers (no money spent)")
    job_finish(job_id=job.id, result={"cost": total.get("cost", 0), "answers": total.get("answers", 0),
                                      "sets_accepted": total.get("sets_accepted", 0)})
