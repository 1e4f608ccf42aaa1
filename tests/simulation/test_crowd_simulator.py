"""The crowd simulator end to end: seeded runs through the real HTTP API and the report."""
from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from backend.annotation.models import Answer, TaskSet
from backend.crowd.models import Worker
from backend.labels.models import Label
from backend.simulation.population import Group, SimWorker, load_groups
from backend.videos.models import Video
from backend.videos.services import video_import

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WORKERS = [
    {"name": "careful", "count": 6, "sensitivity": 0.95, "specificity": 0.97},
    {"name": "sloppy", "count": 2, "sensitivity": 0.8, "specificity": 0.85, "dropout": 0.1},
    {"name": "random", "count": 1, "sensitivity": 0.5, "specificity": 0.5},
    {"name": "always-yes", "count": 1, "sensitivity": 1.0, "specificity": 0.0},
]


@pytest.fixture
def campaign_files(dataset, clip_factory, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    folder = clip_factory(30, seed=11)
    video_import(dataset=dataset, source=str(folder / "manifest.csv"))
    workers = tmp_path / "workers.json"
    workers.write_text(json.dumps(WORKERS))
    return folder / "truth.csv", workers, tmp_path / "report.json"


def _truth(path):
    import csv

    return {r["video"]: set(r["actions"].split(";")) for r in csv.DictReader(open(path))}


def test_seeded_comparison_report(campaign_files, capsys):
    # One simulated worker at a time, so that the seed decides everything: with two threads, which
    # worker gets which set depends on timing, and in a campaign this small a spammer who comes late
    # may find too little work left to be caught (the demo test runs the simulator concurrently).
    truth_csv, workers, report_path = campaign_files
    call_command("simulate_crowd", "--dataset", "synthetic", "--truth", str(truth_csv), "--workers", str(workers),
                 "--report", str(report_path), "--rounds", "1", "--concurrency", "1", "--seed", "5",
                 "--strategies", "majority,adaptive", "--reward", "0.25", "--gold-per-action", "6")
    out = capsys.readouterr().out
    report = json.loads(report_path.read_text())
    assert set(report["runs"]) == {"majority", "adaptive"}
    truth = _truth(truth_csv)
    for name, run in report["runs"].items():
        dataset = run["dataset"]
        total = run["total"]
        assert len(run["rounds"]) == 1
        # the report's figures are the database's figures
        assert total["answers"] == Answer.objects.filter(question__dataset__name=dataset).count() > 0
        accepted = TaskSet.objects.filter(dataset__name=dataset, status="accepted").count()
        assert total["sets_accepted"] == accepted
        assert total["cost"] == pytest.approx(round(accepted * 0.25 * 1.2, 2))
        positives = Label.objects.filter(dataset__name=dataset, state="positive").select_related("video", "action")
        tp = sum(1 for l in positives if l.action.name in truth[l.video.name])
        assert total["verified_positive"] == positives.count()
        assert total["precision"] == pytest.approx(tp / positives.count())
        assert total["recall_all"] == pytest.approx(tp / sum(len(v) for v in truth.values()))
        assert total["answers_per_positive"] == pytest.approx(total["answers"] / positives.count())
        assert total["harvest"]["initial"]["asked"] == Label.objects.filter(
            dataset__name=dataset, source="initial").exclude(state="pending").count()
        # every spammer is caught, no careful worker is
        assert total["workers"]["random"]["blocked"] + total["workers"]["always-yes"]["blocked"] == 2
        assert total["careful_blocked"] == 0.0
        assert total["precision"] >= 0.95
        assert Worker.objects.filter(external_id__contains=f"@sim-{dataset}-", blocked=True,
                                     group__in=["random", "always-yes"]).count() == 2
        # the simulator never touched the original dataset's videos: the clones hold copies
        assert Video.objects.filter(dataset__name=dataset).count() == 30
    c = report["comparison"]
    assert c["baseline"] == "majority" and c["challenger"] == "adaptive"
    assert c["answer_ratio"] == pytest.approx(
        report["runs"]["adaptive"]["total"]["answers"] / report["runs"]["majority"]["total"]["answers"])
    assert c["answer_ratio"] < 0.9
    assert "precision" in out and "== comparison ==" in out and "harvest by source: initial" in out


def test_bad_input_is_a_clear_error(campaign_files, tmp_path):
    truth_csv, workers, report_path = campaign_files
    bad = tmp_path / "bad.json"
    bad.write_text('[{"name": "x", "count": 2, "sensitivity": 1.5, "specificity": 0.9}]')
    with pytest.raises(CommandError, match="values out of range"):
        call_command("simulate_crowd", "--dataset", "synthetic", "--truth", str(truth_csv), "--workers", str(bad),
                     "--report", str(report_path))
    bad_truth = tmp_path / "truth.csv"
    bad_truth.write_text("clip,labels\na,b\n")
    with pytest.raises(CommandError, match="expected the columns video,actions"):
        call_command("simulate_crowd", "--dataset", "synthetic", "--truth", str(bad_truth), "--workers", str(workers),
                     "--report", str(report_path))
    with pytest.raises(CommandError, match="Unknown strategy"):
        call_command("simulate_crowd", "--dataset", "synthetic", "--truth", str(truth_csv), "--workers",
                     str(workers), "--report", str(report_path), "--strategies", "magic")
    assert not report_path.exists() and not TaskSet.objects.exists()


def test_worker_answer_model():
    import random

    group = Group(name="g", count=1, sensitivity=0.9, specificity=0.7)
    w = SimWorker(name="w", group=group, rng=random.Random(0))
    yes_true = sum(w.answer(True) for _ in range(20000)) / 20000
    yes_false = sum(w.answer(False) for _ in range(20000)) / 20000
    assert yes_true == pytest.approx(0.9, abs=0.01) and yes_false == pytest.approx(0.3, abs=0.01)
    assert Group(name="s", count=1, sensitivity=1.0, specificity=0.0).is_spammer
    assert not group.is_spammer


def test_load_groups_defaults(tmp_path):
    p = tmp_path / "w.json"
    p.write_text('[{"name": "a", "count": 3, "sensitivity": 0.9, "specificity": 0.9}]')
    (g,) = load_groups(p)
    assert (g.speed, g.dropout) == (10.0, 0.0)
