"""``python -m ml.mcam``, ``ml.netdissect`` and ``ml.probe_unit`` end to end on tiny checkpoints."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ml import mcam as mcam_cli
from ml import netdissect as netdissect_cli
from ml import probe_unit as probe_cli
from ml.checkpoint import save_checkpoint
from ml.config import jsonable
from ml.data import ClipSpec
from ml.interpret.loading import load_interpretable
from ml.interpret.synthetic import write_planted_broden
from ml.models import build_model
from ml.models.resnet import resnet50
from ml.release import Vocabulary
from ml.synthetic import render_frames, write_clip

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
NAMES = ("running", "jumping", "swimming", "eating")
TINY = {"width": 8, "depth": (1, 1, 1, 1)}


def tiny_checkpoint(path: Path, builder: str, **kwargs) -> Path:
    """A checkpoint as ``ml.train`` writes it (random weights: no training needed to test plumbing)."""
    torch.manual_seed(0)
    model = build_model(builder, num_classes=len(NAMES), **kwargs)
    modalities = ("video", "audio") if builder == "fusion" else ("video",)
    spec = ClipSpec(modalities=modalities, num_frames=4, crop=64, audio_seconds=1.0)
    vocabulary = Vocabulary(NAMES, tuple(n.title() for n in NAMES))
    return save_checkpoint(path, {"builder": builder, "builder_kwargs": {"num_classes": len(NAMES), **kwargs},
                                  "model": model.state_dict(), "vocabulary": vocabulary.to_records(),
                                  "clip": jsonable(vars(spec)), "epoch": 1})


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("checkpoints")
    out = {
        "i3d": tiny_checkpoint(root / "i3d.pt", "i3d_r50", **TINY),
        "tsm": tiny_checkpoint(root / "tsm.pt", "tsm_r50", num_segments=4, **TINY),
        "fusion": tiny_checkpoint(root / "fusion.pt", "fusion", video=TINY, audio={"width": 2}),
        "soundnet": tiny_checkpoint(root / "soundnet.pt", "soundnet", width=2),
    }
    torch.manual_seed(0)
    resnet = resnet50(num_classes=5, width=8, depth=(1, 1, 1, 1))
    state = {k.replace("classifier.", "fc."): v for k, v in resnet.state_dict().items()}  # torchvision names
    torch.save(state, root / "resnet50-tiny.pth")
    out["resnet"] = root / "resnet50-tiny.pth"
    return out


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("media")
    rng = np.random.default_rng(0)
    frames = render_frames([0, 2], num_classes=4, size=(48, 64), num_frames=8, rng=rng)
    video = write_clip(root / "clip.mp4", frames, fps=4)
    image = root / "frame.png"
    Image.fromarray(frames[3]).save(image)
    return {"video": video, "image": image}


@pytest.mark.parametrize(("model", "source"), [("i3d", "video"), ("tsm", "image"), ("fusion", "video"),
                                               ("resnet", "image"), ("resnet", "video")])
def test_mcam_cli_writes_the_picture_and_the_json(checkpoints, media, tmp_path: Path, model: str, source: str):
    out, summary = tmp_path / "mcam.png", tmp_path / "mcam.json"
    size = ["--size", "64"] if model == "resnet" else []  # checkpoints default to their crop (64 here)
    assert mcam_cli.main(["--checkpoint", str(checkpoints[model]), f"--{source}", str(media[source]),
                          "--out", str(out), "--top-k", "3", "--threshold", "0", "--json", str(summary), *size]) == 0
    image = Image.open(out)
    assert image.size == (85, 64)  # 48x64 frames scaled to a 64-pixel short side, uncropped
    data = json.loads(summary.read_text())
    assert len(data["classes"]) == 3 and data["scores"] == sorted(data["scores"], reverse=True)
    assert data["threshold"] == 0.0 and len(data["cosine_distances"]) == 3
    loaded = load_interpretable(checkpoints[model])
    assert set(data["classes"]) <= set(loaded.class_names)


def test_mcam_cli_per_frame_strip(checkpoints, media, tmp_path: Path):
    out = tmp_path / "strip.png"
    assert mcam_cli.main(["--checkpoint", str(checkpoints["tsm"]), "--video", str(media["video"]), "--out", str(out),
                          "--temporal", "frames", "--size", "32"]) == 0
    assert Image.open(out).size == (4 * 43, 32)  # one tile per TSM frame


def test_mcam_cli_errors(checkpoints, media, tmp_path: Path, capsys):
    out = str(tmp_path / "x.png")
    assert mcam_cli.main(["--checkpoint", str(checkpoints["i3d"]), "--out", out]) == 2
    assert "exactly one of --video and --image" in capsys.readouterr().err
    assert mcam_cli.main(["--checkpoint", str(checkpoints["soundnet"]), "--image", str(media["image"]),
                          "--out", out]) == 2
    assert "spatial feature map" in capsys.readouterr().err
    assert mcam_cli.main(["--checkpoint", str(tmp_path / "none.pt"), "--image", str(media["image"]),
                          "--out", out]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    assert mcam_cli.main(["--checkpoint", str(tmp_path / "junk.pt"), "--image", str(media["image"]),
                          "--out", out]) == 2


@pytest.fixture(scope="module")
def broden_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("broden")
    return (write_planted_broden(root / "broden", kind="broden", images=10).root,
            write_planted_broden(root / "action_regions", kind="actions", images=6).root)


COMMON = ["--workers", "0", "--device", "cpu", "--no-progress", "--batch-size", "4"]


def test_netdissect_cli_on_a_video_checkpoint_with_table5_and_blocks(checkpoints, broden_dirs, tmp_path: Path):
    out = tmp_path / "dissect"
    assert netdissect_cli.main(["--checkpoint", str(checkpoints["i3d"]), "--layer", "layer3", "layer4",
                                "--broden", *map(str, broden_dirs), "--out", str(out), "--image-size", "64",
                                "--top-images", "2", *COMMON]) == 0
    with open(out / "units.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 128 + 256  # layer3 and layer4 of a width-8 I3D
    assert {r["layer"] for r in rows} == {"layer3", "layer4"}
    assert all(0.0 <= float(r["iou"]) <= 1.0 for r in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dataset"]["images"] == {"broden": 10, "action_regions": 6, "broden+action_regions": 16}
    assert [r["dataset"] for r in summary["table5"]["rows"]] == ["broden", "action_regions",
                                                                 "broden+action_regions"]
    assert summary["fig7"]["layers"] == ["layer3", "layer4"]
    for name in ("table5.png", "fig7_blocks.png", "fig9_concepts.png", "fig11_changed.png", "report.html",
                 "units_broden.csv"):
        assert (out / name).is_file()
    html = (out / "report.html").read_text()
    assert "top actions:" in html  # layer4 feeds the classifier: the probe's actions per unit
    assert len(list((out / "images" / "layer4").glob("*.jpg"))) == 256 * 2


def test_netdissect_cli_on_a_2d_resnet_file(checkpoints, broden_dirs, tmp_path: Path):
    out = tmp_path / "resnet"
    assert netdissect_cli.main(["--checkpoint", str(checkpoints["resnet"]), "--broden", str(broden_dirs[0]),
                                "--out", str(out), "--categories", "object", "--max-images", "6",
                                "--quantile", "0.01", *COMMON]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dataset"]["categories"] == ["object"] and summary["dataset"]["images"] == {"broden": 6}
    assert summary["quantile"] == 0.01 and "table5" not in summary
    assert not (out / "fig7_blocks.png").exists()


def test_netdissect_cli_errors(checkpoints, broden_dirs, tmp_path: Path, capsys):
    out = str(tmp_path / "x")
    assert netdissect_cli.main(["--checkpoint", str(checkpoints["i3d"]), "--broden", str(tmp_path), "--out", out,
                                *COMMON]) == 2
    assert "category.csv is missing" in capsys.readouterr().err
    assert netdissect_cli.main(["--checkpoint", str(checkpoints["i3d"]), "--broden", str(broden_dirs[0]),
                                "--layer", "layer7", "--out", out, *COMMON]) == 2
    assert "no layer 'layer7'" in capsys.readouterr().err
    assert netdissect_cli.main(["--checkpoint", str(checkpoints["i3d"]), "--broden", str(broden_dirs[0]),
                                "--names", "a", "b", "--out", out, *COMMON]) == 2
    assert "one name per --broden" in capsys.readouterr().err


def test_probe_unit_cli_lists_the_columns_of_the_classifier(checkpoints, tmp_path: Path, capsys):
    out = tmp_path / "probe.json"
    assert probe_cli.main(["--checkpoint", str(checkpoints["i3d"]), "--unit", "7", "--top", "3",
                           "--json", str(out)]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[0] == "rank,action,logit" and len(printed) == 4
    weight = load_interpretable(checkpoints["i3d"]).model.classifier.weight.detach()[:, 7]
    expected = [NAMES[i] for i in weight.argsort(descending=True)[:3].tolist()]
    assert [line.split(",")[1] for line in printed[1:]] == expected
    data = json.loads(out.read_text())
    assert data["unit"] == 7 and [a["action"] for a in data["actions"]] == expected
    assert data["actions"][0]["logit"] == pytest.approx(float(weight.max()), abs=1e-6)
    assert probe_cli.main(["--checkpoint", str(checkpoints["i3d"]), "--unit", "100000"]) == 2
    assert "unit must be in [0, 256)" in capsys.readouterr().err


def test_the_tools_run_as_modules(checkpoints):
    done = subprocess.run([sys.executable, "-m", "ml.probe_unit", "--checkpoint", str(checkpoints["resnet"]),
                           "--unit", "0", "--top", "2"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1].startswith("1,class_")
    for module in ("ml.mcam", "ml.netdissect"):
        done = subprocess.run([sys.executable, "-m", module, "--help"], cwd=REPO, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0 and "--checkpoint" in done.stdout


def test_interpretation_never_imports_the_platform():
    code = ("import sys, ml.mcam, ml.netdissect, ml.probe_unit, ml.interpret.report; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('django', 'backend', 'workers')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
