"""``ml.metrics.evaluate`` against scikit-learn at N=10,000 videos, C=292 classes.

    python bench/ml_metrics.py [--videos 10000 --classes 292]

Baseline: ``average_precision_score(average="samples")`` (micro mAP) plus
``average_precision_score(average="macro")`` (macro mAP) on the same data
(videos and classes without positives removed, as ``evaluate`` does). Ours
also computes top-1 and top-5. Targets: at least 10x faster, equal within 1e-9.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml.metrics import evaluate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=int, default=10_000)
    parser.add_argument("--classes", type=int, default=292)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n, c = args.videos, args.classes
    # float32 sigmoid outputs, as a model gives them (a few ties), ~2 labels per video.
    scores = (1 / (1 + np.exp(-rng.normal(size=(n, c)).astype(np.float32)))).astype(np.float64)
    targets = rng.random((n, c)) < 1.0 / c
    targets[np.arange(n), rng.integers(0, c, n)] = True
    rows, cols = targets.any(axis=1), targets.any(axis=0)

    def sklearn_maps() -> tuple[float, float]:
        micro = average_precision_score(targets[rows], scores[rows], average="samples")
        macro = average_precision_score(targets[:, cols], scores[:, cols], average="macro")
        return micro, macro

    evaluate(scores, targets)  # warm up
    ours_t, theirs_t = [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        result = evaluate(scores, targets)
        ours_t.append(time.perf_counter() - start)
        start = time.perf_counter()
        micro, macro = sklearn_maps()
        theirs_t.append(time.perf_counter() - start)
    ours, theirs = min(ours_t), min(theirs_t)
    diff = max(abs(result["micro_map"] - micro), abs(result["macro_map"] - macro))
    print(f"N={n}, C={c}, best of {args.rounds} rounds")
    print(f"  ml.metrics.evaluate (top1, top5, micro, macro) {ours * 1e3:9.1f} ms")
    print(f"  scikit-learn (micro + macro AP)               {theirs * 1e3:9.1f} ms")
    print(f"  micro mAP {result['micro_map']:.12f} vs {micro:.12f}; macro mAP {result['macro_map']:.12f} "
          f"vs {macro:.12f}")
    print(f"speed-up = {theirs / ours:.1f}x (target >= 10x: {'PASS' if theirs / ours >= 10 else 'FAIL'}); "
          f"max |difference| = {diff:.2e} (target <= 1e-9: {'PASS' if diff <= 1e-9 else 'FAIL'})")


if __name__ == "__main__":
    main()
