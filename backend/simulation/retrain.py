"""Retraining inside a rehearsal (``simulate_crowd --retrain``): after each round's crowd work, a
release, a small model trained on it as scheduled retraining trains (``python -m ml.train`` in a
subprocess, no Celery worker needed), its predictions ingested so that the model source proposes
the next round's pairs, and its quality on held-out videos measured against the truth.

The held-out videos are a test split made once, from videos with a verified label: they are never
trained on. Their truth (every true action, heard ones included) is written as a release of its
own and scored with ``python -m ml.evaluate``.
"""
from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.test.utils import override_settings

from backend.candidates.services.predictions import predictions_ingest
from backend.common.errors import DomainError
from backend.labels.models import Label
from backend.releases.models import Release
from backend.releases.services import release_export, split_create
from backend.training.models import ModelRun
from backend.training.services import (
    CPU_SMALL,
    release_media_root,
    run_claim,
    run_dir,
    run_for_release,
    run_predictions_path,
    run_train,
)
from backend.videos.models import Dataset, Split, Video

# A model that trains in a minute or two on two cores on a few hundred 3-second clips.
REHEARSAL_CONFIG = {**CPU_SMALL, "loss": "wlsep", "width": 8, "epochs": 6, "workers": 0}
HELD_OUT_SHARE = 0.2
NO_HELD_OUT = "No video has a verified label yet, so no held-out split can be made for the model."
EVAL_FAILED = "Scoring the model on the held-out videos failed (exit code {code}): {tail}"


def config_load(path: Path | None) -> dict:
    """The training configuration of the rehearsal: ``REHEARSAL_CONFIG`` updated from a JSON or
    YAML file of ``python -m ml.train`` options."""
    if path is None:
        return dict(REHEARSAL_CONFIG)
    try:
        text = path.read_text()
    except OSError as exc:
        raise DomainError(f"Cannot read --train-config {path}: {exc.strerror or exc}") from exc
    try:
        import yaml

        values = yaml.safe_load(text) or {}
    except Exception as exc:  # noqa: BLE001 - a YAML error of any kind is the file's
        raise DomainError(f"--train-config {path} is neither JSON nor YAML: {exc}") from exc
    if not isinstance(values, dict):
        raise DomainError(f"--train-config {path} must hold a mapping of ml.train options.")
    return {**REHEARSAL_CONFIG, **{str(k).replace("-", "_"): v for k, v in values.items()}}


class Retrainer:
    def __init__(self, *, dataset: Dataset, truth_by_video: dict[int, set[str]], config: dict, seed: int,
                 held_out_share: float = HELD_OUT_SHARE) -> None:
        self.dataset = dataset
        self.truth_by_video = truth_by_video
        self.config = config
        self.seed = seed
        self.held_out_share = held_out_share

    def held_out(self) -> list[int]:
        """The test split's videos, made on the first call from videos with a verified label."""
        videos = list(Video.objects.filter(dataset=self.dataset, split=Split.TEST, status=Video.Status.OK)
                      .values_list("id", flat=True))
        if videos:
            return videos
        eligible = (Video.objects.filter(dataset=self.dataset, split=Split.TRAIN, status=Video.Status.OK,
                                         labels__state=Label.State.POSITIVE).distinct().count())
        if eligible < 2:
            raise DomainError(NO_HELD_OUT)
        split_create(dataset=self.dataset, split=Split.TEST, size=max(1, int(eligible * self.held_out_share)),
                     seed=self.seed)
        return list(Video.objects.filter(dataset=self.dataset, split=Split.TEST).values_list("id", flat=True))

    def round(self) -> dict:
        """Release, train, predict, ingest, score. Returns the round's ``model`` figures and
        ``seconds`` per stage."""
        seconds: dict[str, float] = {}
        started = time.monotonic()
        held_out = self.held_out()
        release = release_export(dataset=self.dataset)
        seconds["release"] = round(time.monotonic() - started, 2)

        started = time.monotonic()
        run, _ = run_for_release(release=release, config=self.config)
        if run.status != ModelRun.Status.SUCCEEDED:
            claimed = run_claim(run_id=run.pk)
            with override_settings(MMIT_MCAM_GALLERY=0):  # the gallery is for people, not for a rehearsal
                run = run_train(run=claimed or run)
        if run.status != ModelRun.Status.SUCCEEDED:
            raise DomainError(f"Retraining failed in the rehearsal (model run {run.pk}): {run.error}")
        seconds["train"] = round(time.monotonic() - started, 2)

        started = time.monotonic()
        if not run.predictions_ingested:
            predictions_ingest(dataset=self.dataset, path=run_predictions_path(run=run), model_run_id=run.pk)
            ModelRun.objects.filter(pk=run.pk).update(predictions_ingested=True)
        seconds["ingest"] = round(time.monotonic() - started, 2)

        started = time.monotonic()
        model = self.score(run=run, release=release, held_out=held_out)
        seconds["score"] = round(time.monotonic() - started, 2)
        return {"model": {**model, "run": run.pk, "release": release.version}, "seconds": seconds}

    def score(self, *, run: ModelRun, release: Release, held_out: list[int]) -> dict:
        """Micro and macro mAP and top-1 of the run's best checkpoint on the held-out videos,
        against every true action of each (the truth file, not the labels found so far)."""
        out = run_dir(run) / "held-out"
        out.mkdir(parents=True, exist_ok=True)
        vocabulary = Path(release.path) / "vocabulary.csv"
        (out / "vocabulary.csv").write_bytes(vocabulary.read_bytes())
        with open(vocabulary, newline="") as f:
            names = {row["name"] for row in csv.DictReader(f)}
        with open(out / "test.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["path", "labels"])
            for vid, key in Video.objects.filter(pk__in=held_out).order_by("id").values_list("id", "storage_key"):
                writer.writerow([key, ";".join(sorted(self.truth_by_video.get(vid, set()) & names))])
        (out / "manifest.json").write_text(json.dumps({"dataset": self.dataset.name,
                                                       "media_root": release_media_root(release)}))
        checkpoint = run_dir(run) / "best.pt"
        report = out / "eval.json"
        done = subprocess.run([sys.executable, "-m", "ml.evaluate", "--checkpoint", str(checkpoint), "--release",
                               str(out), "--split", "test", "--out", str(report), "--device", "cpu", "--workers", "0",
                               "--no-progress"], capture_output=True, text=True, cwd=settings.BASE_DIR, timeout=3600)
        if done.returncode != 0:
            raise DomainError(EVAL_FAILED.format(code=done.returncode, tail=done.stderr[-600:].strip()))
        test = json.loads(report.read_text())["splits"]["test"]
        return {"micro_map": test["micro_map"], "macro_map": test["macro_map"], "top1": test["top1"],
                "top5": test["top5"], "held_out_videos": len(held_out)}
