"""Multi-label evaluation metrics of Section 6.2 of the paper.

* top-k accuracy: the share of videos whose ``k`` highest scores hold at least
  one positive label (ties broken by class index, as a stable sort would);
* micro mAP: the mean over videos of the average precision of each video's
  ranked labels (scikit-learn's ``average_precision_score(..., average="samples")``);
* macro mAP: the mean over classes of each class's average precision over
  videos (``average="macro"``).

Videos without positives are left out of top-k and micro mAP; classes without
positives are left out of macro mAP. An empty selection gives ``nan``.

Average precision follows scikit-learn exactly, ties included: with the
distinct scores as thresholds, ``AP = sum_t (R_t - R_{t-1}) P_t``. Every positive
of a tie group adds ``1/P`` of recall at the group's threshold, so
``AP = (1/P) sum_{positives p} TP(s >= s_p) / #(s >= s_p)``: only counts at the
positives' own scores are needed. ``_positive_stats`` gets them for all rows at
once from one ``np.sort`` per row and binary searches: complex numbers
``row + 1j * score`` order lexicographically in numpy, so the row-sorted matrix
flattened is one sorted array, and a single ``searchsorted`` answers every
positive's "how many in my row score below me".
"""


from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["average_precision_rows", "evaluate", "per_class_average_precision", "top_k_accuracy"]

ERR_SHAPE = "scores and targets must both be (N, C); got {scores} and {targets}"
ERR_NAN = "scores contain NaN or infinite values"


def _to_numpy(array: Any, dtype: type | None = None) -> np.ndarray:
    """Convert a numpy array, tensor or nested list to a numpy array."""
    if hasattr(array, "detach"):  # a torch tensor, without importing torch here
        array = array.detach().cpu()
        array = array.double() if dtype is np.float64 else array
        array = array.numpy()
    return np.asarray(array, dtype=dtype)


def _check(scores: Any, targets: Any) -> tuple[np.ndarray, np.ndarray]:
    s = _to_numpy(scores, np.float64)
    t = _to_numpy(targets)
    t = t if t.dtype == bool else t > 0.5
    if s.ndim != 2 or s.shape != t.shape:
        raise ValueError(ERR_SHAPE.format(scores=s.shape, targets=t.shape))
    if not np.isfinite(s).all():
        raise ValueError(ERR_NAN)
    return s, t


def _positive_stats(
    scores: np.ndarray, targets: np.ndarray, *, with_rank: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Counts at every positive entry of each row.

    Args:
        scores: ``(N, C)`` float64 scores.
        targets: ``(N, C)`` bool labels.
        with_rank: also compute each positive's rank.

    Returns:
        ``rows`` ``(P,)`` the row of each positive (ascending), ``precision``
        ``(P,)`` the share of positives among the row's entries scoring at least
        as high (ties included, as scikit-learn), and ``rank`` ``(P,)`` the
        0-based position in the row's descending order with ties broken by
        column index, or ``None``.
    """
    n, c = scores.shape
    rows, cols = np.nonzero(targets)
    if rows.size == 0:
        return rows, np.empty(0), np.empty(0, dtype=np.int64) if with_rank else None
    values = scores[rows, cols]
    keys = (np.arange(n, dtype=np.float64)[:, None] + 1j * np.sort(scores, axis=1)).ravel()
    queries = rows + 1j * values
    offset = rows * c
    below = np.searchsorted(keys, queries, side="left") - offset  # #(s < v) in the row
    at_least = c - below
    # Positives of the row scoring >= v: the same search among the positives.
    positive_keys = np.sort(queries)
    positives_through_row = np.cumsum(np.bincount(rows, minlength=n))[rows]
    hits = positives_through_row - np.searchsorted(positive_keys, queries, side="left")
    precision = hits / at_least
    if not with_rank:
        return rows, precision, None
    not_above = np.searchsorted(keys, queries, side="right") - offset  # #(s <= v)
    rank = c - not_above  # entries strictly above
    tied = np.flatnonzero(not_above - below > 1)  # another entry shares the score
    for start in range(0, tied.size, 4096):  # ties are rare: settle them directly
        idx = tied[start:start + 4096]
        same = scores[rows[idx]] == values[idx, None]
        rank[idx] += (same & (np.arange(c) < cols[idx, None])).sum(axis=1)
    return rows, precision, rank


def _mean_per_row(rows: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Mean of ``values`` grouped by ``rows``: ``(N,)``, ``nan`` for empty rows."""
    counts = np.bincount(rows, minlength=n)
    sums = np.bincount(rows, weights=values, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)


def average_precision_rows(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Average precision of each row's ranking of its columns.

    Args:
        scores: ``(N, C)`` float64 scores.
        targets: ``(N, C)`` bool labels.

    Returns:
        ``(N,)`` average precision per row, ``nan`` for rows without positives.
    """
    rows, precision, _ = _positive_stats(scores, targets, with_rank=False)
    return _mean_per_row(rows, precision, scores.shape[0])


def per_class_average_precision(scores: Any, targets: Any) -> np.ndarray:
    """Average precision of each class over the videos (the terms of macro mAP).

    Args:
        scores: ``(N, C)`` scores (numpy array or tensor).
        targets: ``(N, C)`` labels in ``{0, 1}``.

    Returns:
        ``(C,)`` float64, ``nan`` for classes without positives.
    """
    s, t = _check(scores, targets)
    return average_precision_rows(np.ascontiguousarray(s.T), np.ascontiguousarray(t.T))


def _nanmean(values: np.ndarray) -> float:
    kept = values[~np.isnan(values)]
    return float(kept.mean()) if kept.size else float("nan")


def evaluate(scores: Any, targets: Any) -> dict[str, float]:
    """Top-1, top-5, micro mAP and macro mAP of a set of predictions.

    Args:
        scores: ``(N, C)`` scores (logits or probabilities: only their order
            matters), a numpy array or a tensor.
        targets: ``(N, C)`` labels in ``{0, 1}``.

    Returns:
        ``{"top1", "top5", "micro_map", "macro_map"}``, fractions in ``[0, 1]``
        (``nan`` where no video, or no class, has a positive).

    Raises:
        ValueError: on mismatched shapes or non-finite scores.
    """
    s, t = _check(scores, targets)
    n, c = s.shape
    rows, precision, rank = _positive_stats(s, t, with_rank=True)
    best_rank = np.full(n, c, dtype=np.int64)
    np.minimum.at(best_rank, rows, rank)
    labelled = best_rank < c
    any_labelled = bool(labelled.any())
    class_ap = average_precision_rows(np.ascontiguousarray(s.T), np.ascontiguousarray(t.T))
    return {
        "top1": float((best_rank[labelled] < 1).mean()) if any_labelled else float("nan"),
        "top5": float((best_rank[labelled] < 5).mean()) if any_labelled else float("nan"),
        "micro_map": _nanmean(_mean_per_row(rows, precision, n)),
        "macro_map": _nanmean(class_ap),
    }


def top_k_accuracy(scores: Any, targets: Any, k: int) -> float:
    """Share of videos with a positive among their ``k`` highest scores.

    Args:
        scores: ``(N, C)`` scores.
        targets: ``(N, C)`` labels in ``{0, 1}``; rows without positives are left out.
        k: how many top scores to look at (ties broken by class index).

    Returns:
        The fraction in ``[0, 1]``, ``nan`` when no row has a positive.
    """
    s, t = _check(scores, targets)
    rows, _, rank = _positive_stats(s, t, with_rank=True)
    best_rank = np.full(s.shape[0], s.shape[1], dtype=np.int64)
    np.minimum.at(best_rank, rows, rank)
    labelled = best_rank < s.shape[1]
    return float((best_rank[labelled] < k).mean()) if labelled.any() else float("nan")
