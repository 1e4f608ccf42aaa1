"""``python -m ml.predict`` and ``python -m ml.evaluate`` on a trained tiny model."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from ml import evaluate as evaluate_cli
from ml import predict as predict_cli
from ml import train as train_cli
from ml.release import load_release

pytestmark = pytest.mark.slow

COMMON = ["--workers", "0", "--device", "cpu", "--no-progress"]


@pytest.fixture(scope="module")
def checkpoint(release_dir: Path, tmp_path_factory: pytest.TempPathFactory, tiny_video: list[str]) -> Path:
    out = tmp_path_factory.mktemp("predict-run") / "run"
    assert train_cli.main(["--release", str(release_dir), "--out", str(out), *tiny_video, "--model", "i3d_r50",
                           "--epochs", "2", "--batch-size", "8"]) == 0
    return out / "best.pt"


def read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["path", "rank", "action", "score"]
        return list(reader)


def test_predictions_over_all_splits(checkpoint: Path, release_dir: Path, tmp_path: Path):
    out = tmp_path / "predictions.csv"
    assert predict_cli.main(["--checkpoint", str(checkpoint), "--release", str(release_dir), "--out", str(out),
                             "--top-k", "3", *COMMON]) == 0
    rows = read(out)
    release = load_release(release_dir)
    paths = [v.path for split in ("train", "val", "test") for v in release.split(split)]
    assert [r["path"] for r in rows[::3]] == paths  # in order, paths exactly as in the CSVs
    names = set(release.vocabulary.names)
    for start in range(0, len(rows), 3):
        video = rows[start:start + 3]
        assert [int(r["rank"]) for r in video] == [1, 2, 3]
        scores = [float(r["score"]) for r in video]
        assert scores == sorted(scores, reverse=True)
        assert all(0.0 < s < 1.0 for s in scores)
        assert len({r["action"] for r in video}) == 3 and {r["action"] for r in video} <= names


def test_default_top_k_is_capped_by_the_vocabulary_and_split_filter(checkpoint: Path, release_dir: Path,
                                                                   tmp_path: Path):
    out = tmp_path / "val.csv"
    assert predict_cli.main(["--checkpoint", str(checkpoint), "--release", str(release_dir), "--split", "val",
                             "--out", str(out), *COMMON]) == 0
    rows = read(out)
    assert len(rows) == 8 * 4  # default k = 5, but only 4 actions


def test_plain_video_list_skips_unreadable_files(checkpoint: Path, release_dir: Path, tmp_path: Path,
                                                 corrupt_clip: Path):
    listing = tmp_path / "unlabelled.csv"
    absolute = str(release_dir / "videos" / "val_0001.mp4")
    listing.write_text(f"path\ntest_0000.mp4\n{absolute}\n{corrupt_clip}\nnowhere.mp4\n")
    out = tmp_path / "list.csv"
    assert predict_cli.main(["--checkpoint", str(checkpoint), "--videos", str(listing), "--video-root",
                             str(release_dir / "videos"), "--out", str(out), "--top-k", "1", *COMMON]) == 0
    rows = read(out)
    assert [r["path"] for r in rows] == ["test_0000.mp4", absolute]


def test_predict_errors(checkpoint: Path, release_dir: Path, tmp_path: Path, capsys):
    out = str(tmp_path / "x.csv")
    assert predict_cli.main(["--checkpoint", str(checkpoint), "--out", out, *COMMON]) == 2
    assert "give --release" in capsys.readouterr().err
    assert predict_cli.main(["--checkpoint", str(tmp_path / "none.pt"), "--release", str(release_dir),
                             "--out", out, *COMMON]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert predict_cli.main(["--checkpoint", str(checkpoint), "--release", str(release_dir), "--out", out,
                             "--top-k", "0", *COMMON]) == 2
    assert "--top-k must be at least 1" in capsys.readouterr().err


def test_evaluate_cli(checkpoint: Path, release_dir: Path, tmp_path: Path, capsys):
    out = tmp_path / "eval.json"
    assert evaluate_cli.main(["--checkpoint", str(checkpoint), "--release", str(release_dir), "--out", str(out),
                              *COMMON]) == 0
    report = json.loads(out.read_text())
    assert set(report["splits"]) == {"val", "test"}
    for result in report["splits"].values():
        assert set(result["per_class_ap"]) == {f"action_{i}" for i in range(4)}
        assert all(0 <= result[k] <= 1 for k in ("top1", "top5", "micro_map", "macro_map"))
    printed = capsys.readouterr().out
    assert "val: top1=" in printed and "test: top1=" in printed
    other = tmp_path / "other"
    (other).mkdir()
    (other / "vocabulary.csv").write_text("index,name,display_name\n0,x,x\n")
    (other / "val.csv").write_text("path,labels\na.mp4,x\n")
    assert evaluate_cli.main(["--checkpoint", str(checkpoint), "--release", str(other), *COMMON]) == 2
    assert "vocabulary differs" in capsys.readouterr().err
