"""Training reports progress while it runs: the worker follows the run's files, records each epoch
live for the dashboard, and stops a run that falls silent (MMIT_TRAIN_TIMEOUT), never one that is
merely long."""
from __future__ import annotations

import json
import sys
import textwrap
import time
from pathlib import Path

import pytest
from django.utils import timezone

from backend.releases.services import release_export
from backend.training import services
from backend.training.follow import process_follow
from backend.training.models import ModelRun
from backend.training.services import DEFAULT_CONFIG, TIMED_OUT, run_for_release
from tests.training.test_retrain import labelled  # noqa: F401  (the fixture)


def _script(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "job.py"
    path.write_text(textwrap.dedent(body))
    return [sys.executable, str(path)]


def _dead(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in state  # a zombie has exited; only its parent's wait is missing


def test_a_long_run_that_keeps_reporting_is_not_stopped(tmp_path):
    beat = tmp_path / "progress.json"
    argv = _script(tmp_path, f"""
        import time
        for i in range(12):
            open({str(beat)!r}, "w").write(str(i))
            time.sleep(0.15)
        print("finished")
    """)
    calls = []
    done = process_follow(argv, watch=[beat], silence=0.6, poll=0.05, on_progress=lambda: calls.append(1),
                          log=tmp_path / "job.log")
    assert done.returncode == 0 and not done.silent and "finished" in done.log_tail
    assert len(calls) >= 4  # reported while it ran, for longer (1.8 s) than the silence limit


def test_a_silent_run_is_stopped_with_its_children(tmp_path):
    beat, pids = tmp_path / "progress.json", tmp_path / "pids"
    argv = _script(tmp_path, f"""
        import os, subprocess, time
        child = subprocess.Popen(["sleep", "60"])
        open({str(pids)!r}, "w").write(f"{{os.getpid()}} {{child.pid}}")
        open({str(beat)!r}, "w").write("started")
        time.sleep(60)
    """)
    started = time.monotonic()
    done = process_follow(argv, watch=[beat], silence=0.5, poll=0.05, on_progress=lambda: None,
                          log=tmp_path / "job.log")
    assert done.silent and done.returncode is None
    assert time.monotonic() - started < 30
    for pid in map(int, pids.read_text().split()):
        assert _dead(pid), pid


def test_a_failing_run_ends_with_the_tail_of_its_log(tmp_path):
    argv = _script(tmp_path, """
        import sys
        print("loading the release", flush=True)
        sys.exit("bad release: vocabulary.csv is missing")
    """)
    done = process_follow(argv, watch=[], silence=30, poll=0.05, on_progress=lambda: None, log=tmp_path / "job.log")
    assert done.returncode == 1 and "vocabulary.csv is missing" in done.log_tail


@pytest.fixture
def run(labelled, settings):  # noqa: F811
    settings.MMIT_TRAIN_POLL_SECONDS = 0.05
    made, _ = run_for_release(release=release_export(dataset=labelled), config={**DEFAULT_CONFIG, "device": "cpu"})
    return made


@pytest.mark.django_db
def test_each_epoch_is_recorded_live_while_training_runs(run, monkeypatch, tmp_path):
    def fake_train(*, config, release, out):
        return _script(tmp_path, f"""
            import json, time
            out = {str(out)!r}
            epochs = []
            for e in (1, 2):
                epochs.append({{"epoch": e, "train_loss": 1.0 / e, "val_micro_map": 0.3 * e, "time": 0.1}})
                json.dump(epochs, open(out + "/metrics.json", "w"))
                json.dump({{"phase": "epoch", "epoch": e, "epochs": 5, "last": epochs[-1]}},
                          open(out + "/progress.json", "w"))
                time.sleep(0.3)
            raise SystemExit(3)
        """)
    monkeypatch.setattr(services, "train_argv", fake_train)
    before = timezone.now()
    done = services.run_train(run=run, timeout=20)
    assert done.status == ModelRun.Status.FAILED and "exit code 3" in done.error
    assert [e["epoch"] for e in done.metrics["epochs"]] == [1, 2]  # recorded while it ran
    assert done.metrics["progress"]["epoch"] == 2 and done.metrics["progress"]["epochs"] == 5
    assert done.heartbeat_at is not None and done.heartbeat_at >= before  # the progress moved it


@pytest.mark.django_db
def test_a_training_that_falls_silent_is_stopped_and_says_why(run, monkeypatch, tmp_path):
    monkeypatch.setattr(services, "train_argv", lambda **kw: _script(tmp_path, "import time; time.sleep(60)"))
    started = time.monotonic()
    done = services.run_train(run=run, timeout=1)
    assert done.status == ModelRun.Status.FAILED and done.error == TIMED_OUT.format(seconds=1)
    assert "no progress for 1 s" in done.error and time.monotonic() - started < 30


@pytest.mark.django_db
def test_the_models_page_shows_a_running_training_live(run, client, staff_user):
    ModelRun.objects.filter(pk=run.pk).update(status="running", heartbeat_at=timezone.now(), metrics={
        "epochs": [{"epoch": 1, "train_loss": 0.9, "val_micro_map": 0.25}],
        "progress": {"phase": "train", "epoch": 2, "epochs": 5, "step": 7, "steps": 10,
                     "last": {"epoch": 1, "train_loss": 0.9, "val_micro_map": 0.25}}})
    client.force_login(staff_user)
    page = client.get("/dashboard/synthetic/models/").content.decode()
    assert "train, epoch 2/5, batch 7/10" in page and "val micro mAP 0.250" in page
    assert '<progress max="5" value="1">' in page and 'http-equiv="refresh"' in page
    ModelRun.objects.filter(pk=run.pk).update(status="succeeded")
    assert 'http-equiv="refresh"' not in client.get("/dashboard/synthetic/models/").content.decode()


def test_ml_train_writes_its_progress_file(tmp_path):
    from ml.synthetic import write_release
    from ml.train import main

    release = write_release(tmp_path / "release", num_classes=3, split_sizes={"train": 6, "val": 3})
    out = tmp_path / "run"
    main(["--release", str(release), "--out", str(out), "--model", "i3d_r50", "--width", "8", "--depth", "1", "1",
          "1", "1", "--frames", "4", "--crop", "32", "--epochs", "2", "--batch-size", "3", "--workers", "0",
          "--device", "cpu", "--no-progress"])
    progress = json.loads((out / "progress.json").read_text())
    assert progress["phase"] == "done" and progress["epochs"] == 2
    assert progress["last"]["epoch"] == 2 and progress["last"] == json.loads((out / "metrics.json").read_text())[-1]
    assert progress["updated"] <= time.time()


def test_progress_writes_at_most_every_period_within_a_phase(tmp_path):
    from ml.progress import Progress

    path = tmp_path / "progress.json"
    progress = Progress(path, every_s=3600)
    progress.update(phase="train", step=1)
    assert json.loads(path.read_text())["step"] == 1
    progress.update(step=2)  # same phase, within the period: kept, not written
    assert json.loads(path.read_text())["step"] == 1
    progress.update(phase="val", step=0)  # a new phase is always written
    assert json.loads(path.read_text()) | {"updated": 0} == {"phase": "val", "step": 0, "updated": 0}
    Progress(None).update(phase="train")  # ranks other than 0 write nothing
