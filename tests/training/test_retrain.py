"""Scheduled retraining on the CPU: release -> tiny model -> predictions -> model candidates."""
from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from backend.labels.models import Label
from backend.training.models import ModelRun
from backend.training.services import runs_reap
from backend.videos.models import Video
from backend.videos.services import video_import
from backend.vocabulary.models import Action

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

TINY = {"model": "i3d_r50", "loss": "wlsep", "epochs": 1, "batch_size": 4, "width": 8, "depth": [1, 1, 1, 1],
        "frames": 4, "crop": 32, "workers": 0, "device": "cpu"}


@pytest.fixture
def labelled(dataset, clip_factory, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.VAR_DIR = tmp_path / "var"
    folder = clip_factory(24, seed=21)
    video_import(dataset=dataset, source=str(folder / "manifest.csv"))
    truth = {r["video"]: r["actions"].split(";") for r in csv.DictReader(open(folder / "truth.csv"))}
    actions = {a.name: a for a in Action.objects.filter(dataset=dataset)}
    # the crowd verified every true label (and the initial ones)
    Label.objects.filter(dataset=dataset).update(state="positive", yes_count=3)
    rows = []
    for v in Video.objects.filter(dataset=dataset):
        for name in truth[v.name][1:]:
            rows.append(Label(dataset=dataset, video=v, action=actions[name], asked_action=actions[name],
                              source="wordnet", state="positive", yes_count=3))
    Label.objects.bulk_create(rows, ignore_conflicts=True)
    return dataset


def test_retrain_end_to_end(labelled, eager_tasks, django_capture_on_commit_callbacks):
    from backend.candidates.services import candidate_round_run
    from workers.tasks.training import retrain

    with django_capture_on_commit_callbacks(execute=True):
        run_id = retrain.delay("synthetic", TINY).get()
    run = ModelRun.objects.get(pk=run_id)
    assert run.status == "succeeded", run.error
    assert run.predictions_ingested
    assert {"config.json", "metrics.json", "eval.json", "best.pt", "predictions.csv"} <= set(run.artifacts)
    assert default_storage.exists(run.artifacts["predictions.csv"])
    assert len(run.metrics["epochs"]) == 1 and "micro_map" in json.dumps(run.metrics)
    assert any(k.startswith("mcam/") and k.endswith(".png") for k in run.artifacts)  # the gallery
    # Network Dissection of the run against a Broden-layout directory
    from backend.training.services import run_dissect
    from ml.interpret.synthetic import write_planted_broden

    broden = Path(run.release.path).parent / "broden"
    write_planted_broden(broden, kind="actions", images=8, size=32)
    run = run_dissect(run=run, broden=broden)
    assert "netdissect/summary.json" in run.artifacts and "netdissect/units.csv" in run.artifacts
    # the next candidate round proposes the model's top-1 actions
    round_ = candidate_round_run(dataset=labelled, sources=["model"])
    assert Label.objects.filter(dataset=labelled, source="model").exists(), round_
    # ... each recording its rank and the run whose predictions proposed it
    from backend.candidates.models import ModelProposal

    assert set(ModelProposal.objects.values_list("prediction_set__model_run_id", flat=True)) == {run.pk}
    # a second scheduled run on the unchanged dataset trains nothing new
    with django_capture_on_commit_callbacks(execute=True):
        again = retrain.delay("synthetic", TINY).get()
    assert again == run_id and ModelRun.objects.count() == 1


def test_a_failing_run_is_marked_failed_with_the_reason(labelled, eager_tasks, django_capture_on_commit_callbacks):
    from workers.tasks.training import retrain

    with django_capture_on_commit_callbacks(execute=True):
        run_id = retrain.delay("synthetic", {**TINY, "frames": 0}).get()
    run = ModelRun.objects.get(pk=run_id)
    assert run.status == "failed" and "Training failed" in run.error


def test_stuck_runs_are_reaped(labelled, settings):
    from backend.releases.services import release_export
    from backend.training.services import run_for_release

    run, created = run_for_release(release=release_export(dataset=labelled), config=TINY)
    assert created
    ModelRun.objects.filter(pk=run.pk).update(status="running",
                                              heartbeat_at=timezone.now() - timedelta(seconds=settings.MMIT_TRAIN_TIMEOUT + 5))
    assert runs_reap() == 1
    run.refresh_from_db()
    assert run.status == "failed" and "Timed out" in run.error
    assert run_for_release(release=run.release, config=TINY) == (run, False)


def test_schedule_command_creates_an_editable_periodic_task(labelled):
    call_command("schedule_retraining", "--dataset", "synthetic", "--every-hours", "12", "--config", '{"epochs": 2}')
    task = PeriodicTask.objects.get(name="retrain synthetic")
    assert task.task == "mmit.training.retrain" and task.interval.every == 720
    assert json.loads(task.kwargs) == {"dataset_name": "synthetic", "config": {"epochs": 2}}
