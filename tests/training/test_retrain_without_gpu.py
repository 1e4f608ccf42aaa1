""""Retrain now" on a deployment whose `ml` worker has no GPU: a small CPU model that finishes in
minutes, or a refusal that says how to start a GPU worker (MMIT_TRAIN_WITHOUT_GPU)."""
from __future__ import annotations

import pytest

from backend.releases.services import release_export
from backend.training import services
from backend.training.models import ModelRun
from backend.training.services import (
    BAD_WITHOUT_GPU,
    CPU_NOTE,
    CPU_SMALL,
    DEFAULT_CONFIG,
    NO_GPU_REFUSED,
    run_config_sized,
    run_for_release,
    train_argv,
)
from tests.training.test_retrain import labelled  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def gpus(monkeypatch):
    """How many GPUs the worker sees: set ``gpus.count``."""
    class Seen:
        count = 0
    monkeypatch.setattr(services, "gpu_count", lambda: Seen.count)
    return Seen


@pytest.fixture
def default_run(labelled):  # noqa: F811
    run, _ = run_for_release(release=release_export(dataset=labelled), config=dict(DEFAULT_CONFIG))
    return run


def test_without_a_gpu_a_run_that_names_no_device_trains_the_small_cpu_model(default_run, gpus, settings):
    settings.MMIT_TRAIN_WITHOUT_GPU = "small"
    run = run_config_sized(run=default_run)
    assert run.config == {**DEFAULT_CONFIG, **CPU_SMALL, "note": CPU_NOTE}
    stored = ModelRun.objects.get(pk=run.pk)
    assert stored.config == run.config and stored.config_hash == default_run.config_hash  # still the same run
    argv = train_argv(config=run.config, release=services.Path("rel"), out=services.Path("out"))
    assert "--note" not in argv and argv[argv.index("--device") + 1] == "cpu"
    assert argv[argv.index("--width") + 1] == "16" and argv[argv.index("--epochs") + 1] == "8"
    assert run_config_sized(run=run).config == run.config  # a resumed attempt keeps it


def test_a_gpu_an_explicit_device_or_full_keep_the_configuration(default_run, gpus, settings):
    settings.MMIT_TRAIN_WITHOUT_GPU = "small"
    gpus.count = 1
    assert run_config_sized(run=default_run).config == DEFAULT_CONFIG
    gpus.count = 0
    settings.MMIT_TRAIN_WITHOUT_GPU = "full"
    assert run_config_sized(run=default_run).config == DEFAULT_CONFIG
    settings.MMIT_TRAIN_WITHOUT_GPU = "small"
    default_run.config = {**DEFAULT_CONFIG, "device": "cpu"}
    assert run_config_sized(run=default_run).config == {**DEFAULT_CONFIG, "device": "cpu"}


@pytest.mark.parametrize("policy, error", [("refuse", NO_GPU_REFUSED), ("sometimes", BAD_WITHOUT_GPU.format(
    value="sometimes"))])
def test_refusal_and_a_bad_setting_fail_the_run_saying_why(default_run, gpus, settings, policy, error):
    settings.MMIT_TRAIN_WITHOUT_GPU = policy
    run = services.run_train(run=default_run)
    assert run.status == ModelRun.Status.FAILED and run.error == error
    if policy == "refuse":
        assert "celery -A workers worker -Q ml" in run.error
    assert not services.run_dir(run).joinpath("checkpoint.pt").exists()


def test_gpu_count_asks_torch_in_a_child_process():
    import torch

    assert services.gpu_count() == torch.cuda.device_count()


@pytest.mark.slow
def test_retrain_now_on_a_cpu_worker_trains_the_small_model_end_to_end(
        labelled, gpus, client, staff_user, settings, eager_tasks, django_capture_on_commit_callbacks,  # noqa: F811
        monkeypatch):
    settings.MMIT_TRAIN_WITHOUT_GPU = "small"
    settings.MMIT_MCAM_GALLERY = 1
    monkeypatch.setattr(services, "CPU_SMALL", {**CPU_SMALL, "epochs": 1})  # the path, not the duration
    client.force_login(staff_user)
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post("/dashboard/synthetic/models/retrain/", follow=True)
    assert "a small CPU model that finishes in minutes" in page.content.decode()
    run = ModelRun.objects.get()
    assert run.status == ModelRun.Status.SUCCEEDED, run.error
    assert run.config["note"] == CPU_NOTE and run.config["device"] == "cpu" and run.config["width"] == 16
    assert run.predictions_ingested and len(run.metrics["epochs"]) == 1
    page = client.get("/dashboard/synthetic/models/").content.decode()
    assert CPU_NOTE in page
