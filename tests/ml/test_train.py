"""End-to-end training on the synthetic release: outputs, overfitting, resume, transfer, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from ml import evaluate as evaluate_cli
from ml import train as train_cli
from ml.checkpoint import load_checkpoint, load_model
from ml.synthetic import write_release

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def run_train(tiny_video: list[str]):
    """``python -m ml.train`` with the tiny-model options, in this process."""
    def run(release: Path, out: Path, *extra: str) -> int:
        return train_cli.main(["--release", str(release), "--out", str(out), *tiny_video, *extra])
    return run


@pytest.fixture(scope="module")
def trained(release_dir: Path, tmp_path_factory: pytest.TempPathFactory, run_train) -> Path:
    """A tiny I3D trained until it fits the training split."""
    out = tmp_path_factory.mktemp("runs") / "i3d"
    status = run_train(release_dir, out, "--model", "i3d_r50", "--loss", "wlsep", "--epochs", "15",
                       "--batch-size", "4", "--optimizer", "adamw", "--lr", "0.01", "--weight-decay", "0")
    assert status == 0
    return out


def test_tiny_model_overfits_the_training_split(trained: Path, release_dir: Path):
    report = evaluate_cli.run(evaluate_cli.build_parser().parse_args(
        ["--checkpoint", str(trained / "checkpoint.pt"), "--release", str(release_dir), "--split", "train",
         "--out", str(trained / "train-eval.json"), "--workers", "0", "--device", "cpu", "--no-progress"]))
    train = report["splits"]["train"]
    assert train["micro_map"] >= 0.9
    assert train["top1"] >= 0.85
    history = json.loads((trained / "metrics.json").read_text())
    assert history[-1]["train_loss"] < 0.75 * history[0]["train_loss"]


def test_run_directory_contents(trained: Path):
    for name in ("config.json", "metrics.json", "metrics.png", "checkpoint.pt", "best.pt", "eval.json"):
        assert (trained / name).is_file(), name
    history = json.loads((trained / "metrics.json").read_text())
    assert [e["epoch"] for e in history] == list(range(1, 16))
    assert set(history[0]) == {"epoch", "train_loss", "lr", "time", "val_top1", "val_top5",
                               "val_micro_map", "val_macro_map"}
    config = json.loads((trained / "config.json").read_text())
    assert config["builder"] == "i3d_r50" and config["loss"] == "wlsep"
    assert config["builder_kwargs"]["depth"] == [1, 1, 1, 1]
    assert config["clip"]["num_frames"] == 4
    checkpoint = load_checkpoint(trained / "checkpoint.pt")
    assert checkpoint["epoch"] == 15 and len(checkpoint["history"]) == 15
    assert [r["name"] for r in checkpoint["vocabulary"]] == [f"action_{i}" for i in range(4)]
    weights = torch.tensor(checkpoint["class_weights"])
    assert weights.shape == (4,) and weights.mean().item() == pytest.approx(1.0, abs=1e-6)
    for key in ("optimizer", "scheduler", "scaler", "rng", "best", "config"):
        assert key in checkpoint
    best = load_checkpoint(trained / "best.pt")
    assert best["best"]["epoch"] == best["epoch"]
    values = [e["val_micro_map"] for e in checkpoint["history"]]
    assert best["best"]["value"] == pytest.approx(max(values))
    report = json.loads((trained / "eval.json").read_text())
    assert set(report["splits"]) == {"val", "test"}
    val = report["splits"]["val"]
    assert set(val["per_class_ap"]) == {f"action_{i}" for i in range(4)}
    assert val["num_videos"] == val["num_evaluated"] == 8
    assert val["micro_map"] == pytest.approx(best["best"]["value"])


def test_model_rebuilds_from_checkpoint_alone(trained: Path):
    model, checkpoint = load_model(trained / "best.pt")
    assert checkpoint["builder"] == "i3d_r50"
    assert model(torch.zeros(1, 3, 4, 32, 32)).shape == (1, 4)


def state(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["model"]


def test_resume_equals_an_uninterrupted_run(release_dir: Path, tmp_path: Path, run_train):
    common = ["--model", "tsm_r50", "--loss", "warp", "--epochs", "3", "--batch-size", "4", "--lr", "0.05",
              "--dropout", "0.5", "--warmup-epochs", "1"]
    assert run_train(release_dir, tmp_path / "full", *common) == 0
    assert run_train(release_dir, tmp_path / "split", *common, "--stop-after", "1") == 0
    assert load_checkpoint(tmp_path / "split" / "checkpoint.pt")["epoch"] == 1
    assert not (tmp_path / "split" / "eval.json").exists()
    assert run_train(release_dir, tmp_path / "split", *common, "--resume") == 0
    full, split = state(tmp_path / "full" / "checkpoint.pt"), state(tmp_path / "split" / "checkpoint.pt")
    assert full.keys() == split.keys()
    for name in full:
        assert torch.equal(full[name], split[name]), name
    history = lambda run: [{k: v for k, v in e.items() if k != "time"}  # noqa: E731
                           for e in json.loads((tmp_path / run / "metrics.json").read_text())]
    assert history("full") == history("split")


def test_init_from_with_another_vocabulary(trained: Path, tmp_path: Path):
    # A smaller release whose 3 actions are shared with the 4 of the checkpoint.
    small = write_release(tmp_path / "small", num_classes=3, split_sizes={"train": 6, "val": 3},
                          size=(32, 32), num_frames=8, fps=4, seed=5)
    out = tmp_path / "transfer"
    status = train_cli.main(["--release", str(small), "--out", str(out), "--init-from", str(trained / "best.pt"),
                             "--epochs", "1", "--lr", "0", "--batch-size", "3", "--frames", "4", "--crop", "32",
                             "--resize", "32", "--workers", "0", "--no-progress", "--device", "cpu"])
    assert status == 0
    source, tuned = state(trained / "best.pt"), state(out / "checkpoint.pt")
    assert tuned["classifier.weight"].shape == (3, source["classifier.weight"].shape[1])
    torch.testing.assert_close(tuned["classifier.weight"], source["classifier.weight"][:3])
    torch.testing.assert_close(tuned["layer1.0.conv1.weight"], source["layer1.0.conv1.weight"])
    assert load_checkpoint(out / "checkpoint.pt")["builder_kwargs"]["num_classes"] == 3


def test_audio_and_fusion_models(trained: Path, release_dir: Path, tmp_path: Path, run_train):
    audio_run = tmp_path / "soundnet"
    assert train_cli.main(["--release", str(release_dir), "--out", str(audio_run), "--model", "soundnet",
                           "--width", "2", "--loss", "bce", "--epochs", "1", "--batch-size", "8",
                           "--audio-seconds", "2", "--workers", "0", "--no-progress", "--device", "cpu"]) == 0
    fusion_run = tmp_path / "fusion"
    assert run_train(release_dir, fusion_run, "--model", "fusion", "--loss", "lsep", "--epochs", "1",
                     "--batch-size", "8", "--audio-seconds", "2",
                     "--video-init", str(trained / "best.pt"), "--audio-init", str(audio_run / "best.pt")) == 0
    fused = state(fusion_run / "checkpoint.pt")
    video = state(trained / "best.pt")
    for name, value in video.items():
        if not name.startswith("classifier."):
            assert torch.equal(fused["video." + name], value), name  # frozen backbone
    assert fused["classifier.weight"].shape == (4, 8 * 32 + 2 * 64)
    model, _ = load_model(fusion_run / "checkpoint.pt")
    assert model.modalities == ("video", "audio")


def test_corrupt_files_do_not_stop_training(corrupt_release: Path, tmp_path: Path, run_train):
    out = tmp_path / "corrupt"
    assert run_train(corrupt_release, out, "--model", "i3d_r50", "--epochs", "1", "--batch-size", "6") == 0
    report = json.loads((out / "eval.json").read_text())
    assert report["splits"]["val"]["num_videos"] == 10
    assert report["splits"]["val"]["num_evaluated"] == 8


def test_clear_errors(release_dir: Path, tmp_path: Path, capsys, run_train):
    assert run_train(tmp_path / "missing", tmp_path / "o", "--model", "i3d_r50") == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        run_train(release_dir, tmp_path / "o", "--model", "c3d")
    assert info.value.code == 2
    assert "invalid choice: 'c3d'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run_train(release_dir, tmp_path / "o", "--model", "i3d_r50", "--loss", "hinge")
    assert "invalid choice: 'hinge'" in capsys.readouterr().err
    bad = tmp_path / "bad"
    shutil.copytree(release_dir, bad)
    with open(bad / "train.csv", "a") as handle:
        handle.write("x.mp4,action_0;moonwalking\n")
    assert run_train(bad, tmp_path / "o", "--model", "i3d_r50") == 2
    err = capsys.readouterr().err
    assert "'moonwalking' (line 18)" in err and "train.csv" in err
    (bad / "train.csv").unlink()
    assert run_train(bad, tmp_path / "o", "--model", "i3d_r50") == 2
    assert "has no train.csv" in capsys.readouterr().err
    assert run_train(release_dir, tmp_path / "o") == 2
    assert "--model is required" in capsys.readouterr().err


def test_yaml_config_sets_defaults(release_dir: Path, tmp_path: Path, run_train):
    config = tmp_path / "run.yaml"
    config.write_text("model: i3d_r50\nloss: bce\nepochs: 1\nbatch-size: 8\n")
    assert run_train(release_dir, tmp_path / "yaml", "--config", str(config), "--loss", "warp") == 0
    saved = json.loads((tmp_path / "yaml" / "config.json").read_text())
    assert saved["model"] == "i3d_r50" and saved["loss"] == "warp" and saved["batch_size"] == 8
    config.write_text("modle: i3d_r50\n")
    with pytest.raises(SystemExit):
        run_train(release_dir, tmp_path / "yaml2", "--config", str(config))
