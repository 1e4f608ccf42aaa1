"""Dawid-Skene EM for binary answers, vectorised with numpy (no Django here).

Each worker j has a confusion model: sensitivity a_j = P(yes | true) and specificity
b_j = P(no | false); each item i has a latent truth with prior pi. Gold items are pinned to their
known truth, so they estimate worker reliability without being estimated themselves.

Every step is a `bincount` over the flat answer arrays, so one iteration costs O(#answers) and
10 million answers aggregate in seconds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_EPS = 1e-6


@dataclass
class EMResult:
    posterior: np.ndarray  # (n_items,) P(item is true)
    sensitivity: np.ndarray  # (n_workers,)
    specificity: np.ndarray  # (n_workers,)
    prior: float
    iterations: int


def dawid_skene(
    items: np.ndarray,
    workers: np.ndarray,
    values: np.ndarray,
    *,
    n_items: int | None = None,
    n_workers: int | None = None,
    pinned: dict[int, bool] | np.ndarray | None = None,
    prior_strength: float = 2.0,
    prior_accuracy: float = 0.8,
    max_iter: int = 50,
    tol: float = 1e-6,
    init: str = "majority",
) -> EMResult:
    """Estimate item truths and worker confusions from binary answers.

    Args:
        items: (N,) item index of each answer.
        workers: (N,) worker index of each answer.
        values: (N,) answer, 1 for yes, 0 for no.
        pinned: item -> known truth (gold), or an (n_items,) array with -1 for unknown.
        prior_strength, prior_accuracy: a Beta prior on each worker's sensitivity and specificity
            (pseudo-counts), which keeps workers with few answers near a plausible accuracy
            instead of at 0 or 1.
        init: "majority" starts from the per-item vote share (the usual DS start).
    """
    items = np.asarray(items, dtype=np.int64)
    workers = np.asarray(workers, dtype=np.int64)
    y = np.asarray(values, dtype=np.float64)
    n_items = int(n_items if n_items is not None else (items.max() + 1 if items.size else 0))
    n_workers = int(n_workers if n_workers is not None else (workers.max() + 1 if workers.size else 0))

    fixed = np.full(n_items, -1.0)
    if isinstance(pinned, dict):
        for k, v in pinned.items():
            fixed[k] = 1.0 if v else 0.0
    elif pinned is not None:
        fixed = np.asarray(pinned, dtype=np.float64).copy()
    is_fixed = fixed >= 0

    counts = np.bincount(items, minlength=n_items).astype(np.float64)
    if init == "majority":
        yes = np.bincount(items, weights=y, minlength=n_items)
        t = np.where(counts > 0, yes / np.maximum(counts, 1), 0.5)
    else:
        t = np.full(n_items, 0.5)
    t = np.where(is_fixed, fixed, t)

    a0 = prior_strength * prior_accuracy
    b0 = prior_strength * (1 - prior_accuracy)
    free = ~is_fixed
    sens = spec = None
    prior = 0.5
    it = 0
    for it in range(1, max_iter + 1):
        # M-step: confusion of every worker from the soft truths of the items they answered.
        ti = t[items]
        pos_w = np.bincount(workers, weights=ti, minlength=n_workers)
        neg_w = np.bincount(workers, weights=1 - ti, minlength=n_workers)
        yes_pos = np.bincount(workers, weights=ti * y, minlength=n_workers)
        no_neg = np.bincount(workers, weights=(1 - ti) * (1 - y), minlength=n_workers)
        sens = np.clip((yes_pos + a0) / (pos_w + a0 + b0), _EPS, 1 - _EPS)
        spec = np.clip((no_neg + a0) / (neg_w + a0 + b0), _EPS, 1 - _EPS)
        prior = float(np.clip(t[free & (counts > 0)].mean() if np.any(free & (counts > 0)) else 0.5, 0.01, 0.99))

        # E-step: log-odds of every item from the answers it received.
        llr_yes = np.log(sens) - np.log(1 - spec)  # an answer "yes" from worker j
        llr_no = np.log(1 - sens) - np.log(spec)  # an answer "no"
        contrib = np.where(y > 0.5, llr_yes[workers], llr_no[workers])
        logit = np.log(prior) - np.log(1 - prior) + np.bincount(items, weights=contrib, minlength=n_items)
        new_t = 1.0 / (1.0 + np.exp(-np.clip(logit, -50, 50)))
        new_t = np.where(is_fixed, fixed, new_t)
        delta = float(np.max(np.abs(new_t - t))) if n_items else 0.0
        t = new_t
        if delta < tol:
            break
    return EMResult(posterior=t, sensitivity=sens, specificity=spec, prior=prior, iterations=it)


def posterior_logit(*, prior: float, sens: np.ndarray, spec: np.ndarray, values: np.ndarray) -> float:
    """Log-odds that one item is true given answers from workers with known confusions."""
    values = np.asarray(values, dtype=bool)
    llr = np.where(values, np.log(sens) - np.log(1 - spec), np.log(1 - sens) - np.log(spec))
    return float(np.log(prior) - np.log(1 - prior) + llr.sum())
