"""Verified negatives from a release to the loss: reading them, three-state targets, --unlabelled."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from ml import train as train_cli
from ml.data import ClipSpec, VideoDataset, video_targets
from ml.release import ReleaseError, Video, load_release

SPEC = ClipSpec(modalities=("video",), num_frames=4, crop=24, resize=28)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def three_state_release(tmp_path: Path) -> Path:
    root = tmp_path / "rel"
    write(root / "vocabulary.csv", "index,name,display_name\n0,a,a\n1,b,b\n2,c,c\n3,d,d\n")
    write(root / "train.csv", "path,labels,negatives\nx.mp4,a;c,b\ny.mp4,d,\nz.mp4,b,a;c;d\n")
    write(root / "val.csv", "path,labels\nv.mp4,a\n")  # an older file: no negatives column
    return root


def test_release_reads_negatives_and_older_files_without_them(three_state_release: Path):
    release = load_release(three_state_release)
    train = release.split("train")
    assert [v.labels for v in train] == [(0, 2), (3,), (1,)]
    assert [v.negatives for v in train] == [(1,), (), (0, 2, 3)]
    assert release.split("val")[0].negatives == ()


def test_negatives_are_checked_like_labels(three_state_release: Path):
    write(three_state_release / "train.csv", "path,labels,negatives\nx.mp4,a,b;zz\ny.mp4,a;b,b\n")
    with pytest.raises(ReleaseError, match=r"'zz' \(line 2\)"):
        load_release(three_state_release)
    write(three_state_release / "train.csv", "path,labels,negatives\nx.mp4,a,b\ny.mp4,a;b,b\n")
    with pytest.raises(ReleaseError, match=r"both in labels and in negatives: .*'b' \(line 3\)"):
        load_release(three_state_release)


def test_three_state_targets():
    video = Video(path="x.mp4", file=Path("x.mp4"), labels=(0, 2), negatives=(1,))
    assert video_targets(video, 5).tolist() == [1, 0, 1, 0, 0]
    assert video_targets(video, 5, three_state=True).tolist() == [1, 0, 1, -1, -1]
    assert video_targets(Video(path="y", file=Path("y")), 2, three_state=True).tolist() == [-1, -1]


def test_dataset_targets_follow_the_mode(three_state_release: Path):
    videos = load_release(three_state_release).split("train")
    two = VideoDataset(videos, num_classes=4, spec=SPEC, train=True)
    three = VideoDataset(videos, num_classes=4, spec=SPEC, train=True, three_state=True)
    assert two.targets().tolist() == [[1, 0, 1, 0], [0, 0, 0, 1], [0, 1, 0, 0]]
    assert three.targets().tolist() == [[1, 0, 1, -1], [-1, -1, -1, 1], [0, 1, 0, 0]]
    item = three[0]  # x.mp4 does not exist: an invalid item, with its targets all the same
    assert item["valid"] is False and item["targets"].dtype == torch.float32
    assert item["targets"].tolist() == [1, 0, 1, -1]


@pytest.mark.parametrize(("given", "parsed", "weight"), [
    ("negative", "negative", None), ("ignore", "ignore", 0.0), ("weight=0.25", "weight=0.25", 0.25),
    ("weight=.50", "weight=0.5", 0.5),
])
def test_unlabelled_option_parses(given, parsed, weight):
    args = train_cli.build_parser().parse_args(["--release", "r", "--out", "o", "--unlabelled", given])
    assert args.unlabelled == parsed
    assert train_cli.unknown_weight(args.unlabelled) == weight
    default = train_cli.build_parser().parse_args(["--release", "r", "--out", "o"])
    assert default.unlabelled == "negative"


@pytest.mark.parametrize("bad", ["weight=1.5", "weight=1", "weight=0", "weight=-0.2", "weight=", "weight=abc",
                                 "ignroe", "negatives", "0.5", "weight=nan"])
def test_unlabelled_bad_values_are_usage_errors(bad, capsys):
    with pytest.raises(SystemExit) as info:
        train_cli.build_parser().parse_args(["--release", "r", "--out", "o", "--unlabelled", bad])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --unlabelled" in err and "expected negative, ignore or weight=A with 0 < A < 1" in err
    assert repr(bad) in err


def test_unlabelled_in_help(capsys):
    with pytest.raises(SystemExit):
        train_cli.build_parser().parse_args(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--unlabelled negative|ignore|weight=A" in out and "ignore = target -1" in out


def with_negatives(source: Path, out: Path) -> Path:
    """A copy of a synthetic release whose train and val files list every non-positive class
    of classes 0 and 1 as a verified negative (classes 2 and 3 stay unlabelled)."""
    shutil.copytree(source, out)
    for split in ("train", "val"):
        with open(out / f"{split}.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        with open(out / f"{split}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "labels", "negatives"])
            for row in rows:
                positives = set(row["labels"].split(";"))
                negatives = [name for name in ("action_0", "action_1") if name not in positives]
                writer.writerow([row["path"], row["labels"], ";".join(negatives)])
    return out


@pytest.mark.slow
def test_tiny_training_with_ignore_and_weight(release_dir: Path, tmp_path: Path, tiny_video: list[str]):
    release = with_negatives(release_dir, tmp_path / "release")
    common = ["--release", str(release), *tiny_video, "--model", "i3d_r50", "--epochs", "1", "--batch-size", "4",
              "--optimizer", "adamw", "--lr", "0.01", "--weight-decay", "0", "--seed", "0"]
    losses = {}
    for choice in ("negative", "ignore", "weight=0.5"):
        out = tmp_path / choice.replace("=", "_")
        torch.manual_seed(0)
        np.random.seed(0)
        assert train_cli.main([*common, "--out", str(out), "--loss", "bce", "--unlabelled", choice]) == 0
        config = json.loads((out / "config.json").read_text())
        assert config["unlabelled"] == choice
        assert config["unknown_weight"] == train_cli.unknown_weight(choice)
        history = json.loads((out / "metrics.json").read_text())
        assert all(np.isfinite(entry["train_loss"]) for entry in history)
        assert "val_micro_map" in history[-1]  # evaluation keeps its two-state targets
        report = json.loads((out / "eval.json").read_text())
        assert report["splits"]["val"]["num_evaluated"] == 8
        losses[choice] = history[0]["train_loss"]
    # BCE's first epoch: ignoring unlabelled classes drops negative terms, a weight of 0.5 halves them.
    assert losses["ignore"] < losses["weight=0.5"] < losses["negative"]
    out = tmp_path / "wlsep"
    assert train_cli.main([*common, "--out", str(out), "--loss", "wlsep", "--unlabelled", "ignore"]) == 0
    assert json.loads((out / "config.json").read_text())["unlabelled"] == "ignore"


@pytest.mark.slow
def test_unlabelled_from_yaml_is_validated(release_dir: Path, tmp_path: Path, tiny_video: list[str], capsys):
    config = tmp_path / "run.yaml"
    config.write_text("unlabelled: weight=1.5\n")
    with pytest.raises(SystemExit):
        train_cli.main(["--release", str(release_dir), "--out", str(tmp_path / "o"), "--config", str(config),
                        *tiny_video, "--model", "i3d_r50"])
    assert "weight=1.5" in capsys.readouterr().err
