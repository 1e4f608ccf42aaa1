"""Retraining builds the release's decoded-clip cache once and trains from it (MMIT_CLIP_CACHE)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.releases.services import release_export
from backend.training import services
from backend.training.models import ModelRun
from backend.training.services import BAD_CLIP_CACHE, clip_cache_format, run_for_release, run_train
from tests.training.test_retrain import TINY, labelled  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.mark.parametrize("setting, gpus, expected", [
    ("auto", 0, None), ("auto", 1, "jpeg"), ("raw", 0, "raw"), ("jpeg", 0, "jpeg"), ("off", 1, None)])
def test_the_setting_decides_the_format(settings, monkeypatch, setting, gpus, expected):
    monkeypatch.setattr(services, "gpu_count", lambda: gpus)
    settings.MMIT_CLIP_CACHE = setting
    assert clip_cache_format() == expected


def test_a_run_builds_the_cache_once_and_trains_from_it(labelled, settings):  # noqa: F811
    settings.MMIT_CLIP_CACHE = "jpeg"
    release = release_export(dataset=labelled)
    run, _ = run_for_release(release=release, config=TINY)
    run = run_train(run=run)
    assert run.status == ModelRun.Status.SUCCEEDED, run.error
    caches = list((Path(release.path) / "clip-cache").iterdir())
    assert [c.name for c in caches] == ["jpeg-37px-32f"]  # crop 32 -> short side 37, at least 32 frames
    meta = json.loads((caches[0] / "cache.json").read_text())
    assert meta["format"] == "jpeg" and meta["skipped"] == [] and meta["videos"] > 0
    trained = json.loads((services.run_dir(run) / "config.json").read_text())
    assert trained["clip_cache"] == str(caches[0])
    built = (caches[0] / "cache.json").stat().st_mtime_ns
    # Another run on the same release reads the same cache without building it again.
    other, created = run_for_release(release=release, config={**TINY, "loss": "bce"})
    assert created
    assert run_train(run=other).status == ModelRun.Status.SUCCEEDED
    assert (caches[0] / "cache.json").stat().st_mtime_ns == built
    assert json.loads((services.run_dir(other) / "config.json").read_text())["clip_cache"] == str(caches[0])


def test_without_a_cache_training_decodes_as_before_and_a_bad_setting_fails_the_run(labelled, settings,  # noqa: F811
                                                                                    monkeypatch):
    monkeypatch.setattr(services, "gpu_count", lambda: 0)
    settings.MMIT_CLIP_CACHE = "auto"
    release = release_export(dataset=labelled)
    run, _ = run_for_release(release=release, config=TINY)
    assert run_train(run=run).status == ModelRun.Status.SUCCEEDED
    assert not (Path(release.path) / "clip-cache").exists()
    assert json.loads((services.run_dir(run) / "config.json").read_text()).get("clip_cache") is None
    settings.MMIT_CLIP_CACHE = "sometimes"
    failed, _ = run_for_release(release=release, config={**TINY, "loss": "bce"})
    failed = run_train(run=failed)
    assert failed.status == ModelRun.Status.FAILED and failed.error == BAD_CLIP_CACHE.format(value="sometimes")
