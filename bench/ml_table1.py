"""The paper's Table 1 in small: I3D and TSM trained with each loss on a synthetic release.

    python bench/ml_table1.py [--clips 240 --epochs 6 --out runs/table1]

Generates a synthetic release with the platform's generator
(``backend/videos/synthetic.py``: procedural actions with real M-MiT names, a
long-tailed label distribution, 1-3 actions per clip) when it is importable,
else with ``ml.synthetic``; then trains a small I3D-R50 and TSM-R50 (reduced
width and depth, 64x64 clips, 8 frames) with BCE, WARP, LSEP and wLSEP through
``python -m ml.train`` and prints the validation top-1, top-5, micro and macro
mAP (in %) side by side, as in Table 1. Every run uses the same data, seed and
schedule; only the loss changes. Figures on such a small synthetic set show the
pipeline works end to end; they are not the paper's numbers.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ml import train as train_cli  # noqa: E402
from ml.synthetic import write_release  # noqa: E402

LOSSES = ("bce", "warp", "lsep", "wlsep")
MODELS = {"i3d_r50": "I3D", "tsm_r50": "TSM"}


def platform_release(out: Path, clips: int, seed: int) -> Path | None:
    """A release from the platform's generator, or None when it is not importable."""
    try:
        from backend.videos.synthetic import ACTIONS, generate_dataset
    except ImportError:
        return None
    media = out / "clips"
    truths = generate_dataset(media, n_clips=clips, seed=seed, size=(64, 64), fps=8, duration=3.0)
    with open(out / "vocabulary.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "name", "display_name"])
        writer.writerows([i, name, name] for i, name in enumerate(ACTIONS))
    cut = int(len(truths) * 0.8)
    for split, rows in (("train", truths[:cut]), ("val", truths[cut:])):
        with open(out / f"{split}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "labels"])
            writer.writerows([t.video, ";".join(t.actions)] for t in rows)
    (out / "manifest.json").write_text(json.dumps({"dataset": "synthetic-platform", "media_root": "clips"}))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=240)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="keep the release and runs here (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        release = root / "release"
        release.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        source = "backend.videos.synthetic"
        if platform_release(release, args.clips, args.seed) is None:
            source = "ml.synthetic (backend/videos/synthetic.py not importable)"
            write_release(release, num_classes=10, split_sizes={"train": int(args.clips * 0.8),
                                                                "val": args.clips - int(args.clips * 0.8)},
                          size=(64, 64), num_frames=24, fps=8, max_labels=3, seed=args.seed)
        print(f"release: {args.clips} clips from {source} ({time.perf_counter() - started:.0f} s)")
        results = {}
        for model in MODELS:
            for loss in LOSSES:
                run = root / "runs" / f"{model}-{loss}"
                started = time.perf_counter()
                status = train_cli.main([
                    "--release", str(release), "--out", str(run), "--model", model, "--loss", loss,
                    "--width", str(args.width), "--depth", "1", "1", "1", "1", "--frames", "8",
                    "--crop", "56", "--resize", "64", "--epochs", str(args.epochs),
                    "--batch-size", str(args.batch_size), "--optimizer", "adamw", "--lr", "0.003",
                    "--weight-decay", "0.0001", "--dropout", "0.2", "--workers", str(args.workers),
                    "--seed", str(args.seed), "--device", "cpu", "--no-progress",
                ])
                if status != 0:
                    raise SystemExit(f"training {model} with {loss} failed")
                results[model, loss] = json.loads((run / "eval.json").read_text())["splits"]["val"]
                print(f"  trained {MODELS[model]} {loss:5s} in {time.perf_counter() - started:.0f} s")
    print()
    print(f"{'Model':6s} {'Loss':6s} {'Top-1':>6s} {'Top-5':>6s} {'Micro mAP':>10s} {'Macro mAP':>10s}")
    for model, name in MODELS.items():
        for loss in LOSSES:
            r = results[model, loss]
            print(f"{name:6s} {loss.upper() if loss != 'wlsep' else 'wLSEP':6s} {100 * r['top1']:6.1f} "
                  f"{100 * r['top5']:6.1f} {100 * r['micro_map']:10.1f} {100 * r['macro_map']:10.1f}")


if __name__ == "__main__":
    main()
