"""Does the model learn motion? Table 1 in small, on a world where one frame is not enough.

    python bench/ml_learning.py --quick            # 400 training clips, 10 epochs per run
    python bench/ml_learning.py [--json FILE]      # the default table: 800 clips, 14 epochs per run

Writes a release with ``ml.motion_world`` (classes that share shapes and colours and
differ only in motion, audio-only tone classes, co-occurring actions, a long tail,
held-out val and test splits), then trains on the CPU, through ``python -m ml.train``
in this process, each of

* ``Frame``: the single-frame baseline, I3D on one frame (with ``T = 1`` only the
  centre taps of its temporal kernels see data, so it is exactly its 2D ResNet);
* ``TSM``: TSM-R50 on 8 frames;
* ``I3D``: I3D-R50 on 8 frames;

all shrunk (``--width``, depth 1-1-1-1, 32x32 clips, no flips since left/right are
classes), with BCE, WARP, LSEP and wLSEP. Every run has the same data, seed and
schedule; only the model or the loss changes. It prints the test split's top-1,
top-5, micro and macro mAP (in %), and macro mAP on the motion-only, audio-only
and tail classes (``groups.json``), beside a random scorer's figures on the same
labels (seeded uniform scores): the baseline measured in this run. The video models
never hear the sound, so their audio-only column should sit at the random
scorer's; the single-frame model's motion-only column should too.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ml import train as train_cli  # noqa: E402
from ml.metrics import evaluate, per_class_average_precision  # noqa: E402
from ml.motion_world import write_motion_release  # noqa: E402

LOSSES = ("bce", "warp", "lsep", "wlsep")
LOSS_NAMES = {"bce": "BCE", "warp": "WARP", "lsep": "LSEP", "wlsep": "wLSEP"}
# Display name -> (builder, frames).
MODELS = {"Frame": ("i3d_r50", 1), "TSM": ("tsm_r50", 8), "I3D": ("i3d_r50", 8)}
GROUPS = ("motion_only", "audio_only", "tail")
METRICS = ("top1", "top5", "micro_map", "macro_map", *GROUPS)
HEADERS = ("Top-1", "Top-5", "Micro", "Macro", "Motion", "Audio", "Tail")

PRESETS = {
    # name: (train, val, test, epochs)
    "quick": (400, 80, 300, 10),
    "default": (800, 150, 600, 14),
}


def test_targets(release: Path) -> tuple[list[str], np.ndarray]:
    """The vocabulary names and the test split's ``(N, C)`` 0/1 targets."""
    with open(release / "vocabulary.csv", newline="") as handle:
        names = [row["name"] for row in csv.DictReader(handle)]
    index = {name: i for i, name in enumerate(names)}
    with open(release / "test.csv", newline="") as handle:
        rows = [row["labels"].split(";") for row in csv.DictReader(handle)]
    targets = np.zeros((len(rows), len(names)), dtype=np.float32)
    for n, labels in enumerate(rows):
        targets[n, [index[label] for label in labels]] = 1
    return names, targets


def group_means(per_class: dict[str, float | None], groups: dict[str, list[str]]) -> dict[str, float]:
    """Macro mAP over each group's classes that have test positives (``nan`` when none)."""
    out = {}
    for group in GROUPS:
        values = [per_class[name] for name in groups[group] if per_class.get(name) is not None]
        out[group] = float(np.mean(values)) if values else float("nan")
    return out


def random_scorer(names: list[str], targets: np.ndarray, groups: dict[str, list[str]], seed: int) -> dict[str, float]:
    """A random scorer's metrics on ``targets``: seeded uniform scores."""
    scores = np.random.default_rng(seed).random(targets.shape)
    ap = per_class_average_precision(scores, targets)
    per_class = {name: (None if np.isnan(v) else float(v)) for name, v in zip(names, ap)}
    return {**evaluate(scores, targets), **group_means(per_class, groups)}


def train_one(release: Path, run: Path, *, builder: str, frames: int, loss: str, epochs: int,
              args: argparse.Namespace) -> dict[str, float]:
    """Train one model with one loss; its test-split metrics and group figures."""
    status = train_cli.main([
        "--release", str(release), "--out", str(run), "--model", builder, "--loss", loss,
        "--width", str(args.width), "--depth", "1", "1", "1", "1", "--frames", str(frames),
        "--crop", "32", "--resize", "32", "--no-flip", "--epochs", str(epochs),
        "--batch-size", str(args.batch_size), "--optimizer", "adamw", "--lr", str(args.lr),
        "--weight-decay", "0.0001", "--dropout", "0", "--workers", str(args.workers),
        "--select-metric", "macro_map", "--seed", str(args.seed), "--device", "cpu", "--no-progress",
    ])
    if status != 0:
        raise SystemExit(f"training {builder} ({frames} frames) with {loss} failed; see the log above")
    report = json.loads((run / "eval.json").read_text())["splits"]["test"]
    groups = json.loads((release / "groups.json").read_text())
    return {**{k: report[k] for k in METRICS[:4]}, **group_means(report["per_class_ap"], groups)}


def format_row(model: str, loss: str, result: dict[str, float]) -> str:
    cells = " ".join(f"{100 * result[k]:6.1f}" for k in METRICS)
    return f"{model:6s} {loss:6s} {cells}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller release and fewer epochs (%d/%d/%d clips, %d epochs)" % PRESETS["quick"])
    parser.add_argument("--epochs", type=int, help="override the preset's epochs (quick %d, default %d)"
                        % (PRESETS["quick"][3], PRESETS["default"][3]))
    parser.add_argument("--width", type=int, default=8, help="stem channels of the shrunk models")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--workers", type=int, default=1, help="decoding processes per run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=list(MODELS))
    parser.add_argument("--losses", nargs="+", choices=LOSSES, default=list(LOSSES))
    parser.add_argument("--out", type=Path, help="keep the release and runs here (default: a temporary folder)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    n_train, n_val, n_test, epochs = PRESETS["quick" if args.quick else "default"]
    epochs = args.epochs or epochs
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        release = root / "release"
        started = time.perf_counter()
        write_motion_release(release, split_sizes={"train": n_train, "val": n_val, "test": n_test}, seed=args.seed)
        groups = json.loads((release / "groups.json").read_text())
        print(f"release: {n_train}/{n_val}/{n_test} train/val/test clips, "
              f"{len(groups['motion_only'])} motion-only + {len(groups['audio_only'])} audio-only classes, "
              f"{len(groups['tail'])} tail classes ({time.perf_counter() - started:.0f} s)", flush=True)
        names, targets = test_targets(release)
        results: dict[str, dict] = {"random": random_scorer(names, targets, groups, args.seed)}
        timings: dict[str, float] = {}
        for model in args.models:
            builder, frames = MODELS[model]
            for loss in args.losses:
                started = time.perf_counter()
                key = f"{model}/{loss}"
                results[key] = train_one(release, root / "runs" / f"{model.lower()}-{loss}", builder=builder,
                                         frames=frames, loss=loss, epochs=epochs, args=args)
                timings[key] = time.perf_counter() - started
                print(f"  trained {model:5s} {LOSS_NAMES[loss]:5s} in {timings[key]:.0f} s", flush=True)
    print()
    print(f"Test split, {epochs} epochs, in %. Motion/Audio/Tail: macro mAP on those classes.")
    print(f"{'Model':6s} {'Loss':6s} " + " ".join(f"{h:>6s}" for h in HEADERS))
    print(format_row("Random", "-", results["random"]))
    for model in args.models:
        for loss in args.losses:
            print(format_row(model, LOSS_NAMES[loss], results[f"{model}/{loss}"]))
    if "Frame" in args.models:
        print()
        for model in (m for m in args.models if m != "Frame"):
            gains = [results[f"{model}/{loss}"]["motion_only"] - results[f"Frame/{loss}"]["motion_only"]
                     for loss in args.losses]
            print(f"{model} over Frame on motion-only classes: "
                  + ", ".join(f"{LOSS_NAMES[loss]} {100 * g:+.1f}" for loss, g in zip(args.losses, gains)))
    if "bce" in args.losses and "wlsep" in args.losses:
        for model in args.models:
            delta = results[f"{model}/wlsep"]["tail"] - results[f"{model}/bce"]["tail"]
            print(f"{model}: wLSEP - BCE on tail classes {100 * delta:+.1f} points")
    print(f"total training time {sum(timings.values()):.0f} s")
    if args.json:
        payload = {"epochs": epochs, "clips": {"train": n_train, "val": n_val, "test": n_test},
                   "results": results, "seconds": timings}
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
