"""The rehearsal: the whole loop with simulated workers and a small model retrained after every
round (so the model source proposes), against the same seed without retraining, in one report."""
from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from backend.labels.models import Label
from backend.training.models import ModelRun
from backend.videos.services import video_import

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WORKERS = [
    {"name": "careful", "count": 4, "sensitivity": 0.95, "specificity": 0.97},
    {"name": "always-yes", "count": 1, "sensitivity": 1.0, "specificity": 0.0},
]
TINY = {"width": 8, "depth": [1, 1, 1, 1], "frames": 4, "crop": 32, "epochs": 2, "batch_size": 8}


def test_compare_retrain_reports_both_runs_with_the_model_in_one(dataset, clip_factory, tmp_path, settings, capsys):
    folder = clip_factory(40, seed=3)
    video_import(dataset=dataset, source=str(folder / "manifest.csv"), trust_labels=True)
    assert Label.objects.filter(dataset=dataset, source="import", state="positive").count() == 40
    (tmp_path / "workers.json").write_text(json.dumps(WORKERS))
    (tmp_path / "tiny.json").write_text(json.dumps(TINY))
    report_path = tmp_path / "report.json"
    call_command("simulate_crowd", "--dataset", "synthetic", "--truth", str(folder / "truth.csv"),
                 "--workers", str(tmp_path / "workers.json"), "--report", str(report_path), "--rounds", "2",
                 "--concurrency", "1", "--seed", "7", "--gold-per-action", "4", "--compare-retrain",
                 "--train-config", str(tmp_path / "tiny.json"))
    out = capsys.readouterr().out
    report = json.loads(report_path.read_text())
    assert list(report["runs"]) == ["retrain", "lexical"] and report["train_config"]["epochs"] == 2
    retrain, lexical = report["runs"]["retrain"], report["runs"]["lexical"]
    for run in (retrain, lexical):
        assert len(run["rounds"]) == 2
        for r in run["rounds"]:
            assert {"cumulative_precision", "cumulative_recall_all", "harvest", "stage_seconds"} <= set(r)
            assert {"questions", "crowd", "propose"} <= set(r["stage_seconds"])
    for r in retrain["rounds"]:
        model = r["model"]
        assert {"micro_map", "macro_map", "top1"} <= set(model) and 0 <= model["micro_map"] <= 1
        assert model["held_out_videos"] >= 1 and r["stage_seconds"]["retrain_train"] > 0
    assert all("model" not in r for r in lexical["rounds"])
    # the model proposed after round 1, and the crowd answered its pairs in round 2
    assert retrain["rounds"][0]["candidates_proposed"].get("model", 0) > 0
    assert "model" in retrain["rounds"][1]["harvest"] and 0 <= retrain["rounds"][1]["harvest"]["model"]["rate"] <= 1
    assert "model" not in lexical["rounds"][1]["harvest"]
    assert "model" not in lexical["rounds"][0]["candidates_proposed"]
    # two model runs (one per round) on the retrained copy only, each with its predictions ingested
    runs = ModelRun.objects.filter(dataset__name="synthetic--retrain")
    assert runs.count() == 2 and all(r.predictions_ingested for r in runs)
    assert not ModelRun.objects.filter(dataset__name="synthetic--lexical").exists()
    assert "model micro mAP" in out
