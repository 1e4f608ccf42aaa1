"""Does the model learn motion? Table 1 in small, on a world where one frame is not enough.

    python bench/ml_learning.py --quick            # Frame and I3D with BCE: 400 clips, 30 epochs (~3 min)
    python bench/ml_learning.py [--json FILE]      # the default table: 800 clips, 14 epochs per run
    python bench/ml_learning.py --hide 0.5 --quick # half the positives hidden: --unlabelled compared

Writes a release with ``ml.motion_world`` (classes that share shapes and colours and
differ only in motion, audio-only tone classes, co-occurring actions, a long tail,
held-out val and test splits), then trains (on ``--device``), through ``python -m ml.train``
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

``--hide FRACTION`` asks another question: what should training do with classes
that are neither verified positive nor verified negative? After writing the
release it hides ``FRACTION`` of the training split's true positives, as an
incomplete crowd would (``ml.motion_world.hide_release_positives``: training videos
left without a visible positive are dropped; each kept video's ``negatives`` holds
``--asked`` true negatives, never a hidden positive), then trains one model
(``--models``, default I3D) with one loss (``--losses``, default BCE) three times,
with ``--unlabelled negative``, ``ignore`` and ``weight=A`` (``--weight``), same
data, seed and schedule. Val and test keep their full truth. It prints the test
metrics of each choice and the margin of the better of ``ignore``/``weight`` over
``negative`` on macro mAP.

``--device`` (default ``cuda`` when available, else ``cpu``) is passed to ``ml.train``.
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
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ml import train as train_cli  # noqa: E402
from ml.metrics import evaluate, per_class_average_precision  # noqa: E402
from ml.motion_world import hide_release_positives, write_motion_release  # noqa: E402

LOSSES = ("bce", "warp", "lsep", "wlsep")
LOSS_NAMES = {"bce": "BCE", "warp": "WARP", "lsep": "LSEP", "wlsep": "wLSEP"}
# Display name -> (builder, frames).
MODELS = {"Frame": ("i3d_r50", 1), "TSM": ("tsm_r50", 8), "I3D": ("i3d_r50", 8)}
GROUPS = ("motion_only", "audio_only", "tail")
METRICS = ("top1", "top5", "micro_map", "macro_map", *GROUPS)
HEADERS = ("Top-1", "Top-5", "Micro", "Macro", "Motion", "Audio", "Tail")

PRESETS = {
    # name: (train, val, test, epochs)
    "quick": (400, 80, 300, 30),
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
              args: argparse.Namespace, unlabelled: str = "negative") -> dict[str, float]:
    """Train one model with one loss (and one ``--unlabelled`` choice); its test-split metrics and group figures."""
    status = train_cli.main([
        "--release", str(release), "--out", str(run), "--model", builder, "--loss", loss,
        "--width", str(args.width), "--depth", "1", "1", "1", "1", "--frames", str(frames),
        "--crop", "32", "--resize", "32", "--no-flip", "--epochs", str(epochs),
        "--batch-size", str(args.batch_size), "--optimizer", "adamw", "--lr", str(args.lr),
        "--weight-decay", "0.0001", "--dropout", "0", "--workers", str(args.workers),
        "--select-metric", "macro_map", "--seed", str(args.seed), "--device", args.device, "--no-progress",
        "--unlabelled", unlabelled,
    ])
    if status != 0:
        raise SystemExit(f"training {builder} ({frames} frames) with {loss}, --unlabelled {unlabelled} failed; "
                         "see the log above")
    report = json.loads((run / "eval.json").read_text())["splits"]["test"]
    groups = json.loads((release / "groups.json").read_text())
    return {**{k: report[k] for k in METRICS[:4]}, **group_means(report["per_class_ap"], groups)}


def format_cells(result: dict[str, float]) -> str:
    return " ".join(f"{100 * result[k]:6.1f}" for k in METRICS)


def format_row(model: str, loss: str, result: dict[str, float]) -> str:
    return f"{model:6s} {loss:6s} {format_cells(result)}"


def hide_table(release: Path, root: Path, *, epochs: int, args: argparse.Namespace,
               clips: dict[str, int]) -> int:
    """``--hide``: hide positives of the training split, then compare the ``--unlabelled`` choices."""
    started = time.perf_counter()
    stats = hide_release_positives(release, args.hide, asked=args.asked, seed=args.seed)
    print(f"hid {stats['hidden']} of {stats['positives']} training positives ({100 * args.hide:.0f}%); "
          f"dropped {stats['dropped']} of {stats['videos']} training videos left without a visible positive; "
          f"the {stats['videos'] - stats['dropped']} kept miss {stats['hidden_kept']} positives; "
          f"{args.asked} verified negatives per video ({time.perf_counter() - started:.1f} s)", flush=True)
    groups = json.loads((release / "groups.json").read_text())
    names, targets = test_targets(release)
    choices = ("negative", "ignore", f"weight={args.weight!r}")
    results: dict[str, dict] = {"random": random_scorer(names, targets, groups, args.seed)}
    timings: dict[str, float] = {}
    for model in args.models:
        builder, frames = MODELS[model]
        for loss in args.losses:
            for choice in choices:
                started = time.perf_counter()
                key = f"{model}/{loss}/{choice}"
                results[key] = train_one(release, root / "runs" / f"{model.lower()}-{loss}-{choice}",
                                         builder=builder, frames=frames, loss=loss, epochs=epochs, args=args,
                                         unlabelled=choice)
                timings[key] = time.perf_counter() - started
                print(f"  trained {model:5s} {LOSS_NAMES[loss]:5s} --unlabelled {choice:10s} "
                      f"in {timings[key]:.0f} s", flush=True)
    print()
    print(f"Test split (full truth), {epochs} epochs, {100 * args.hide:.0f}% of the training positives hidden, "
          f"in %. Motion/Audio/Tail: macro mAP on those classes.")
    print(f"{'Model':6s} {'Loss':6s} {'Unlabelled':12s} " + " ".join(f"{h:>6s}" for h in HEADERS))
    print(f"{'Random':6s} {'-':6s} {'-':12s} " + format_cells(results["random"]))
    margins: dict[str, dict[str, float]] = {}
    for model in args.models:
        for loss in args.losses:
            for choice in choices:
                row = results[f"{model}/{loss}/{choice}"]
                print(f"{model:6s} {LOSS_NAMES[loss]:6s} {choice:12s} " + format_cells(row))
            base = results[f"{model}/{loss}/negative"]["macro_map"]
            best = max(choices[1:], key=lambda c: results[f"{model}/{loss}/{c}"]["macro_map"])
            margin = results[f"{model}/{loss}/{best}"]["macro_map"] - base
            margins[f"{model}/{loss}"] = {"best": best, "macro_map_margin": margin}
    print()
    for key, margin in margins.items():
        print(f"{key}: best of ignore/weight is {margin['best']}, "
              f"{100 * margin['macro_map_margin']:+.1f} macro mAP points over negative")
    print(f"total training time {sum(timings.values()):.0f} s")
    if args.json:
        payload = {"epochs": epochs, "clips": clips, "hide": args.hide, "asked": args.asked, "weight": args.weight,
                   "seed": args.seed, "device": args.device, "hiding": stats, "results": results,
                   "margins": margins, "seconds": timings}
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller release and fewer epochs (%d/%d/%d clips, %d epochs)" % PRESETS["quick"])
    parser.add_argument("--epochs", type=int, help="override the preset's epochs (quick %d, default %d)"
                        % (PRESETS["quick"][3], PRESETS["default"][3]))
    parser.add_argument("--clips", type=int, nargs=3, metavar=("TRAIN", "VAL", "TEST"),
                        help="override the preset's clips per split")
    parser.add_argument("--width", type=int, default=8, help="stem channels of the shrunk models")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--workers", type=int, default=1, help="decoding processes per run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS),
                        help="default: all three (Frame and I3D with --quick, I3D with --hide)")
    parser.add_argument("--losses", nargs="+", choices=LOSSES, help="default: all four (bce with --quick or --hide)")
    parser.add_argument("--hide", type=float, metavar="FRACTION",
                        help="hide this share of the training positives and compare --unlabelled choices")
    parser.add_argument("--weight", type=float, default=0.1, help="A of --unlabelled weight=A with --hide")
    parser.add_argument("--asked", type=int, default=5,
                        help="verified negatives per training video with --hide (true negatives asked)")
    parser.add_argument("--device", choices=("cpu", "cuda"),
                        default="cuda" if torch.cuda.is_available() else "cpu",
                        help="training device (default: cuda when available, else cpu)")
    parser.add_argument("--out", type=Path, help="keep the release and runs here (default: a temporary folder)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.hide is not None and not 0.0 <= args.hide < 1.0:
        parser.error(f"--hide must be in [0, 1); got {args.hide}")
    if not 0.0 < args.weight < 1.0:
        parser.error(f"--weight must be in (0, 1); got {args.weight}")
    if args.asked < 0:
        parser.error(f"--asked must be at least 0; got {args.asked}")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available here")
    hiding = args.hide is not None
    args.models = args.models or (["I3D"] if hiding else ["Frame", "I3D"] if args.quick else list(MODELS))
    args.losses = args.losses or (["bce"] if hiding or args.quick else list(LOSSES))
    n_train, n_val, n_test, epochs = PRESETS["quick" if args.quick else "default"]
    epochs = args.epochs or epochs
    if args.clips:
        n_train, n_val, n_test = args.clips
    clips = {"train": n_train, "val": n_val, "test": n_test}
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        release = root / "release"
        started = time.perf_counter()
        write_motion_release(release, split_sizes=clips, seed=args.seed)
        groups = json.loads((release / "groups.json").read_text())
        print(f"release: {n_train}/{n_val}/{n_test} train/val/test clips, "
              f"{len(groups['motion_only'])} motion-only + {len(groups['audio_only'])} audio-only classes, "
              f"{len(groups['tail'])} tail classes ({time.perf_counter() - started:.0f} s)", flush=True)
        if hiding:
            return hide_table(release, root, epochs=epochs, args=args, clips=clips)
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
        payload = {"epochs": epochs, "clips": clips,
                   "results": results, "seconds": timings}
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
