"""Dawid-Skene EM on simulated crowd answers: our vectorised EM against crowd-kit's DawidSkene.

    python bench/aggregation_em.py --answers 10000000 --crowdkit-answers 1000000

Both run in this process on answers drawn from one simulated population (60% careful, 20%
sloppy, 20% spammers). Ours runs on the full answer set; crowd-kit on the first
`--crowdkit-answers` answers (all of them by default) and ours again on exactly those, so the
speed ratio and the agreement of the outputs are measured on the same answers.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from backend.annotation.dawid_skene import dawid_skene  # noqa: E402


def simulate(n_answers: int, *, per_item: int = 5, n_workers: int = 2000, seed: int = 0):
    rng = np.random.default_rng(seed)
    n_items = n_answers // per_item
    truth = rng.random(n_items) < 0.3
    kind = rng.choice(4, size=n_workers, p=[0.6, 0.2, 0.1, 0.1])
    sens = np.choose(kind, [0.95, 0.8, 0.5, 1.0])
    spec = np.choose(kind, [0.97, 0.85, 0.5, 0.0])
    items = np.repeat(np.arange(n_items), per_item)
    workers = rng.integers(0, n_workers, size=items.size)
    p_yes = np.where(truth[items], sens[workers], 1 - spec[workers])
    values = (rng.random(items.size) < p_yes).astype(np.int8)
    return truth, items, workers, values


def run_ours(items, workers, values, iters):
    start = time.perf_counter()
    result = dawid_skene(items, workers, values, max_iter=iters, tol=0.0, prior_strength=0.0)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--answers", type=int, default=10_000_000)
    parser.add_argument("--crowdkit-answers", type=int, default=None)
    parser.add_argument("--iters", type=int, default=20, help="EM iterations for both implementations.")
    args = parser.parse_args()

    truth, items, workers, values = simulate(args.answers)
    ours, t_ours = run_ours(items, workers, values, args.iters)
    acc = np.mean((ours.posterior > 0.5) == truth)
    print(f"ours      : {args.answers:>11,} answers  {t_ours:8.2f} s  accuracy vs truth {acc:.4f}")

    n_ck = min(args.crowdkit_answers or args.answers, args.answers)
    n_ck -= n_ck % 5
    import pandas as pd
    from crowdkit.aggregation import DawidSkene

    sub_items, sub_workers, sub_values = items[:n_ck], workers[:n_ck], values[:n_ck]
    ours_sub, t_ours_sub = run_ours(sub_items, sub_workers, sub_values, args.iters)
    df = pd.DataFrame({"task": sub_items, "worker": sub_workers, "label": sub_values})
    start = time.perf_counter()
    theirs = DawidSkene(n_iter=args.iters, tol=0.0).fit_predict(df).sort_index().to_numpy().astype(bool)
    t_ck = time.perf_counter() - start
    agree = np.mean((ours_sub.posterior > 0.5) == theirs)
    acc_ck = np.mean(theirs == truth[: len(theirs)])
    print(f"ours      : {n_ck:>11,} answers  {t_ours_sub:8.2f} s")
    print(f"crowd-kit : {n_ck:>11,} answers  {t_ck:8.2f} s  accuracy vs truth {acc_ck:.4f}")
    print(f"speed ratio (crowd-kit / ours) on the same answers: {t_ck / t_ours_sub:.1f}x; "
          f"agreement of the labels: {agree:.5f}")


if __name__ == "__main__":
    main()
