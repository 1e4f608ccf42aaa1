"""Scheduled retraining: release -> training on the `ml` queue -> predictions -> candidates.

Every step is idempotent: an unchanged dataset exports to the same release, a release and a
configuration make one run at most, a finished run is never trained again, and a run stuck past
its time limit is marked failed with the reason.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from functools import cache
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from backend.common.background import task_enqueue
from backend.common.errors import DomainError
from backend.common.jobs import job_create
from backend.common.models import Job
from backend.releases.models import Release
from backend.releases.services import release_export
from backend.training.follow import process_follow
from backend.training.models import ModelRun
from backend.videos.models import Dataset, Video

DEFAULT_CONFIG = {"model": "i3d_r50", "loss": "wlsep", "epochs": 10, "batch_size": 8}
# What a run that names no device trains on an `ml` worker without a GPU (MMIT_TRAIN_WITHOUT_GPU=small):
# a shrunk I3D on small crops that trains on two cores in minutes rather than a full I3D-R50 for hours.
CPU_SMALL = {"model": "i3d_r50", "width": 16, "depth": [1, 1, 1, 1], "frames": 8, "crop": 64, "epochs": 8,
             "batch_size": 8, "optimizer": "adamw", "lr": 0.003, "device": "cpu"}
CPU_NOTE = "small CPU model: the ml worker has no GPU (MMIT_TRAIN_WITHOUT_GPU=small)"
NO_GPU_REFUSED = ("No GPU on the ml worker, and MMIT_TRAIN_WITHOUT_GPU=refuse. Start a worker on a GPU machine "
                  "that serves the ml queue (celery -A workers worker -Q ml -c 1), or set "
                  "MMIT_TRAIN_WITHOUT_GPU=small to train a small CPU model in minutes.")
BAD_WITHOUT_GPU = "MMIT_TRAIN_WITHOUT_GPU must be small, refuse or full, not {value!r}."
NOT_FLAGS = ("note", "processes")  # run config keys that are not options of ml.train
TRAIN_FAILED = "Training failed (exit code {code}): {tail}"
CLIP_CACHE_CHOICES = ("auto", "jpeg", "raw", "off")
BAD_CLIP_CACHE = "MMIT_CLIP_CACHE must be auto, jpeg, raw or off, not {value!r}."
CLIP_CACHE_FAILED = "The decoded-clip cache could not be built (output above); training decodes with PyAV instead."
AUDIO_MODELS = ("soundnet",)
PREDICT_FAILED = "Prediction failed (exit code {code}): {tail}"
TIMED_OUT = "Timed out: no progress for {seconds} s (MMIT_TRAIN_TIMEOUT), stopped."
RUN_NOT_DONE = "Run {run} has not finished training."
ARTIFACTS = ("config.json", "metrics.json", "metrics.png", "eval.json", "best.pt", "predictions.csv")


def config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def run_dir(run: ModelRun) -> Path:
    return Path(settings.VAR_DIR) / "runs" / f"run-{run.pk}"


def train_argv(*, config: dict, release: Path, out: Path) -> list[str]:
    """`python -m ml.train` arguments from a config dict (underscores become dashes)."""
    argv = [sys.executable, "-m", "ml.train", "--release", str(release), "--out", str(out), "--no-progress"]
    for key, value in sorted(config.items()):
        if key in NOT_FLAGS:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value is False or value is None:
            continue
        elif isinstance(value, (list, tuple)):
            argv += [flag, *map(str, value)]
        else:
            argv += [flag, str(value)]
    return argv


@transaction.atomic
def run_for_release(*, release: Release, config: dict) -> tuple[ModelRun, bool]:
    """The run of this configuration on this release, created if new (never twice)."""
    digest = config_hash(config)
    existing = ModelRun.objects.filter(release=release, config_hash=digest).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            return ModelRun.objects.create(dataset=release.dataset, release=release, config=config,
                                           config_hash=digest), True
    except IntegrityError:  # a concurrent schedule created it first
        return ModelRun.objects.get(release=release, config_hash=digest), False


def retrain_prepare(*, dataset: Dataset, config: dict | None = None) -> tuple[ModelRun, bool]:
    """Export a fresh release (the same one when nothing changed) and its run."""
    local = not getattr(settings, "AWS_STORAGE_BUCKET_NAME", "")
    release = release_export(dataset=dataset, with_media=not local)
    return run_for_release(release=release, config={**DEFAULT_CONFIG, **(config or {})})


def retrain_start(*, dataset: Dataset, config: dict | None = None) -> None:
    """Retrain in the workers: export a release, then train on the `ml` queue (``retrain`` is also
    what the beat schedule runs)."""
    task_enqueue("mmit.training.retrain", dataset.name, config)


def run_dissect_start(*, run: ModelRun, user=None) -> Job:
    """Network Dissection of a finished run on the `ml` queue; the job shows the outcome."""
    job = job_create(kind="netdissect", user=user, params={"dataset": run.dataset.name, "run": run.pk})
    task_enqueue("mmit.training.dissect_run", str(job.id), run.pk)
    return job


def run_claim(*, run_id: int) -> ModelRun | None:
    """Mark a run running; None when it is finished or another worker holds it (replays)."""
    with transaction.atomic():
        run = ModelRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status in (ModelRun.Status.SUCCEEDED,):
            return None
        stale = timezone.now() - timedelta(seconds=settings.MMIT_TRAIN_TIMEOUT)
        if run.status == ModelRun.Status.RUNNING and run.heartbeat_at and run.heartbeat_at > stale:
            return None
        run.status, run.error = ModelRun.Status.RUNNING, ""
        run.started_at = run.heartbeat_at = timezone.now()
        run.attempts += 1
        run.save(update_fields=["status", "error", "started_at", "heartbeat_at", "attempts"])
        return run


def _tail(text: str, n: int = 800) -> str:
    return text[-n:].strip()


def release_media_root(release: Release) -> str:
    """Where a release's relative video paths live (its manifest's ``media_root``, else the media root)."""
    root = Path(release.manifest.get("media_root", settings.MEDIA_ROOT))
    return str(root if root.is_absolute() else Path(release.path) / root)


@cache
def gpu_count() -> int:
    """GPUs this worker's PyTorch sees, asked once per process in a child process (the platform never
    imports torch, and starting one costs seconds)."""
    done = subprocess.run([sys.executable, "-c", "import torch; print(torch.cuda.device_count())"],
                          capture_output=True, text=True, timeout=120, cwd=settings.BASE_DIR)
    try:
        return int(done.stdout.strip() or 0) if done.returncode == 0 else 0
    except ValueError:
        return 0


def torchrun_argv(argv: list[str], *, processes: int) -> list[str]:
    """``python -m ml.train ...`` as ``torchrun`` with one process per GPU (at most ``processes``)
    when this worker has GPUs and more than one process is asked for; unchanged otherwise."""
    if processes <= 1 or argv[1:3] != ["-m", "ml.train"]:
        return argv
    gpus = gpu_count()
    if gpus <= 1:
        return argv
    return [argv[0], "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={min(processes, gpus)}",
            *argv[1:]]


def clip_cache_format() -> str | None:
    """The decoded-clip cache this worker builds (``jpeg`` or ``raw``), or ``None`` (MMIT_CLIP_CACHE)."""
    setting = settings.MMIT_CLIP_CACHE
    if setting not in CLIP_CACHE_CHOICES:
        raise DomainError(BAD_CLIP_CACHE.format(value=setting))
    if setting == "auto":
        return "jpeg" if gpu_count() > 0 else None
    return None if setting == "off" else setting


def run_clip_cache(*, run: ModelRun, silence: int, env: dict) -> Path | None:
    """The release's decoded-clip cache for this run's clip size, built once (a later run on the same
    release, or a resumed one, reuses it); ``None`` when none is wanted or the build failed (then the
    run decodes with PyAV, as without a cache, and clip-cache.log in the run directory says why)."""
    fmt = clip_cache_format()
    if fmt is None or run.config.get("model") in AUDIO_MODELS:
        return None
    crop = int(run.config.get("crop") or 224)
    short_side = int(run.config.get("resize") or round(crop * 8 / 7))
    frames = max(32, 2 * int(run.config.get("frames") or 16))
    root = Path(run.release.path) / "clip-cache" / f"{fmt}-{short_side}px-{frames}f"
    if (root / "cache.json").exists():
        return root
    argv = [sys.executable, "-m", "ml.clip_cache", str(run.release.path), "--out", str(root),
            "--video-root", release_media_root(run.release), "--format", fmt, "--short-side", str(short_side),
            "--frames", str(frames)]
    if run.config.get("workers") is not None:
        argv += ["--workers", str(max(1, int(run.config["workers"])))]
    out = run_dir(run)
    done = process_follow(argv, watch=[root / "data.bin.tmp"], silence=silence,
                          on_progress=lambda: run_heartbeat(run=run), log=out / "clip-cache.log",
                          poll=settings.MMIT_TRAIN_POLL_SECONDS, cwd=settings.BASE_DIR, env=env)
    if done.silent or done.returncode != 0 or not (root / "cache.json").exists():
        with open(out / "clip-cache.log", "a") as log:
            log.write("\n" + CLIP_CACHE_FAILED + "\n")
        return None
    return root


def run_config_sized(*, run: ModelRun) -> ModelRun:
    """Fit a run that names no device to this worker: without a GPU, train ``CPU_SMALL`` (recorded in
    the run's config with a note), refuse, or keep the configuration, as MMIT_TRAIN_WITHOUT_GPU says."""
    policy = settings.MMIT_TRAIN_WITHOUT_GPU
    if policy not in ("small", "refuse", "full"):
        raise DomainError(BAD_WITHOUT_GPU.format(value=policy))
    if run.config.get("device", "auto") != "auto" or run.config.get("note") or policy == "full" or gpu_count() > 0:
        return run
    if policy == "refuse":
        raise DomainError(NO_GPU_REFUSED)
    config = {**run.config, **CPU_SMALL, "note": CPU_NOTE}
    config.pop("pretrained_2d", None)
    ModelRun.objects.filter(pk=run.pk).update(config=config)
    run.config = config
    return run


def run_train(*, run: ModelRun, timeout: int | None = None) -> ModelRun:
    """Train (resuming from the run directory when a previous attempt was interrupted), predict
    over every video of the dataset, store the artifacts, and record the metrics."""
    try:
        run = run_config_sized(run=run)
    except DomainError as error:
        return run_fail(run=run, error=str(error))
    out = run_dir(run)
    out.mkdir(parents=True, exist_ok=True)
    silence = timeout or settings.MMIT_TRAIN_TIMEOUT
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        clip_cache = run_clip_cache(run=run, silence=silence, env=env)
    except DomainError as error:
        return run_fail(run=run, error=str(error))
    argv = train_argv(config=run.config, release=Path(run.release.path), out=out)
    if clip_cache is not None:
        argv += ["--clip-cache", str(clip_cache)]
    argv = torchrun_argv(argv, processes=int(run.config.get("processes") or 1))
    if (out / "checkpoint.pt").exists():
        argv.append("--resume")
    done = process_follow(argv, watch=[out / "progress.json", out / "metrics.json"], silence=silence,
                          on_progress=lambda: run_progress_record(run=run, out=out), log=out / "train.log",
                          poll=settings.MMIT_TRAIN_POLL_SECONDS, cwd=settings.BASE_DIR, env=env)
    if done.silent:
        return run_fail(run=run, error=TIMED_OUT.format(seconds=silence))
    if done.returncode != 0:
        return run_fail(run=run, error=TRAIN_FAILED.format(code=done.returncode, tail=done.log_tail))
    ModelRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now())

    videos = out / "videos.csv"
    with open(videos, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path"])
        for key in Video.objects.filter(dataset=run.dataset, status=Video.Status.OK).order_by("id").values_list(
                "storage_key", flat=True).iterator(chunk_size=10_000):
            w.writerow([key])
    checkpoint = out / "best.pt" if (out / "best.pt").exists() else out / "checkpoint.pt"
    predict = [sys.executable, "-m", "ml.predict", "--checkpoint", str(checkpoint), "--videos", str(videos),
               "--video-root", release_media_root(run.release), "--out", str(out / "predictions.csv"), "--no-progress"]
    predictions = out / "predictions.csv"
    done = process_follow(predict, watch=[predictions.with_name(predictions.name + ".tmp"), predictions],
                          silence=silence, on_progress=lambda: run_heartbeat(run=run), log=out / "predict.log",
                          poll=settings.MMIT_TRAIN_POLL_SECONDS, cwd=settings.BASE_DIR, env=env)
    if done.silent:
        return run_fail(run=run, error=TIMED_OUT.format(seconds=silence))
    if done.returncode != 0:
        return run_fail(run=run, error=PREDICT_FAILED.format(code=done.returncode, tail=done.log_tail))

    _mcam_gallery(run=run, out=out, checkpoint=checkpoint, env=env)
    names = [n for n in ARTIFACTS if (out / n).exists()]
    names += sorted(str(p.relative_to(out)) for p in (out / "mcam").glob("*.png"))
    artifacts = _store(run=run, out=out, names=names)
    metrics = {
        "epochs": json.loads((out / "metrics.json").read_text()) if (out / "metrics.json").exists() else [],
        "eval": json.loads((out / "eval.json").read_text()) if (out / "eval.json").exists() else {},
    }
    ModelRun.objects.filter(pk=run.pk).update(status=ModelRun.Status.SUCCEEDED, artifacts=artifacts, metrics=metrics,
                                              finished_at=timezone.now(), error="")
    run.refresh_from_db()
    return run


def run_heartbeat(*, run: ModelRun) -> None:
    """The run is moving (a stuck one is reaped after MMIT_TRAIN_TIMEOUT of silence)."""
    ModelRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now())


def _read_json(path: Path, default):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):  # not written yet, or being replaced this instant
        return default


def run_progress_record(*, run: ModelRun, out: Path) -> None:
    """What a running training reports, live: its epochs so far (``metrics.json``) and where it is
    (``progress.json``), shown on the dashboard's Models page."""
    metrics = {"epochs": _read_json(out / "metrics.json", []), "progress": _read_json(out / "progress.json", {})}
    ModelRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now(), metrics=metrics)


def _store(*, run: ModelRun, out: Path, names: list[str]) -> dict[str, str]:
    """Copy run files to the configured storage (local media or S3); name -> storage key."""
    stored = {}
    for name in names:
        key = f"models/{run.dataset.name}/run-{run.pk}/{name}"
        if default_storage.exists(key):
            default_storage.delete(key)
        with open(out / name, "rb") as f:
            stored[name] = default_storage.save(key, File(f, name=Path(name).name))
    return stored


def _mcam_gallery(*, run: ModelRun, out: Path, checkpoint: Path, env: dict) -> None:
    """Multi-label CAM images of a few validation clips, for the dashboard's gallery. A failure
    here leaves the gallery empty; it does not fail the run."""
    rows = []
    for split in ("val", "test", "train"):
        path = Path(run.release.path) / f"{split}.csv"
        if path.exists():
            with open(path, newline="") as f:
                rows += [r["path"] for r in csv.DictReader(f)]
        if len(rows) >= settings.MMIT_MCAM_GALLERY:
            break
    (out / "mcam").mkdir(exist_ok=True)
    for i, key in enumerate(rows[: settings.MMIT_MCAM_GALLERY]):
        video = Path(release_media_root(run.release)) / key
        subprocess.run([sys.executable, "-m", "ml.mcam", "--checkpoint", str(checkpoint), "--video", str(video),
                        "--out", str(out / "mcam" / f"{i:02d}-{Path(key).stem}.png"), "--top-k", "3"],
                       capture_output=True, text=True, timeout=600, env=env, cwd=settings.BASE_DIR)


def latest_broden_export() -> Path | None:
    """The newest Action Regions export in the Broden layout (the NetDissect input)."""
    root = Path(settings.MMIT_REGIONS_EXPORT_DIR)
    found = sorted((p.parent for p in root.rglob("index.csv")), key=lambda p: p.stat().st_mtime, reverse=True)
    return found[0] if found else None


NO_BRODEN = "No Action Regions export in the Broden layout yet: export the regions first."


def run_dissect(*, run: ModelRun, broden: Path | None = None, layers: tuple[str, ...] = ("layer4",),
                timeout: int | None = None) -> ModelRun:
    """Network Dissection of a finished run against the Action Regions export (Section 5.2.2)."""
    if run.status != ModelRun.Status.SUCCEEDED:
        raise DomainError(RUN_NOT_DONE.format(run=run.pk))
    broden = broden or latest_broden_export()
    if broden is None:
        raise DomainError(NO_BRODEN)
    out = run_dir(run)
    checkpoint = out / "best.pt"
    if not checkpoint.exists():
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        with default_storage.open(run.artifacts["best.pt"], "rb") as src, open(checkpoint, "wb") as dst:
            shutil.copyfileobj(src, dst)
    target = out / "netdissect"
    done = subprocess.run([sys.executable, "-m", "ml.netdissect", "--checkpoint", str(checkpoint), "--layer", *layers,
                           "--broden", str(broden), "--out", str(target)],
                          capture_output=True, text=True, timeout=timeout or settings.MMIT_TRAIN_TIMEOUT,
                          cwd=settings.BASE_DIR)
    if done.returncode != 0:
        raise DomainError(f"Network Dissection failed (exit code {done.returncode}): {_tail(done.stderr)}")
    names = sorted(str(p.relative_to(out)) for p in target.rglob("*") if p.is_file())
    artifacts = {**run.artifacts, **_store(run=run, out=out, names=names)}
    ModelRun.objects.filter(pk=run.pk).update(artifacts=artifacts)
    run.refresh_from_db()
    return run


def run_fail(*, run: ModelRun, error: str) -> ModelRun:
    ModelRun.objects.filter(pk=run.pk).update(status=ModelRun.Status.FAILED, error=error, finished_at=timezone.now())
    run.refresh_from_db()
    return run


def runs_reap(*, now=None) -> int:
    """Runs that stopped reporting past the time limit (a lost worker) are marked failed."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.MMIT_TRAIN_TIMEOUT)
    return ModelRun.objects.filter(status=ModelRun.Status.RUNNING, heartbeat_at__lt=stale).update(
        status=ModelRun.Status.FAILED, error=TIMED_OUT.format(seconds=settings.MMIT_TRAIN_TIMEOUT), finished_at=now)


def run_predictions_path(*, run: ModelRun) -> Path:
    """A local copy of the run's predictions (from storage when the run trained elsewhere)."""
    if run.status != ModelRun.Status.SUCCEEDED or "predictions.csv" not in run.artifacts:
        raise DomainError(RUN_NOT_DONE.format(run=run.pk))
    local = run_dir(run) / "predictions.csv"
    if not local.exists():
        local.parent.mkdir(parents=True, exist_ok=True)
        with default_storage.open(run.artifacts["predictions.csv"], "rb") as src, open(local, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return local
