"""Class weights ``w_i`` of the weighted losses (eqs. 1, 2 and 4 of the paper).

The paper weights each class to "balance learning when the training set has an
imbalanced number of examples per label" without giving the formula. Ours:

    n_i' = max(n_i, 1)
    v_i  = (N / (C * n_i')) ** alpha
    w_i  = v_i / mean(v)

with ``n_i`` the number of training videos labelled with class ``i``, ``N`` the
number of training videos and ``C`` the number of classes. ``N / (C n_i)`` is 1
for a class of average frequency in a single-label set; ``alpha`` interpolates
between no weighting (0) and inverse frequency (1); the default 0.5 (inverse
square root) tempers the long tail. A class without training examples is
counted as having one (its weight is the largest, but finite). The final
normalisation keeps the mean weight at 1, so the loss scale, and the learning
rate that suits it, does not depend on ``alpha``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DEFAULT_ALPHA", "class_weights", "positive_counts"]

DEFAULT_ALPHA = 0.5

ERR_ALPHA = "alpha must be >= 0; got {alpha}"


def positive_counts(labels: list[tuple[int, ...]], num_classes: int) -> np.ndarray:
    """Count the videos labelled with each class.

    Args:
        labels: one tuple of class indices per video.
        num_classes: ``C``.

    Returns:
        ``(C,)`` int64 counts ``n_i``.
    """
    flat = np.fromiter((i for video in labels for i in set(video)), dtype=np.int64)
    return np.bincount(flat, minlength=num_classes).astype(np.int64)


def class_weights(counts: np.ndarray, num_videos: int, *, alpha: float = DEFAULT_ALPHA) -> np.ndarray:
    """Class weights from training label frequencies (formula in the module docstring).

    Args:
        counts: ``(C,)`` positives per class ``n_i``.
        num_videos: ``N``, the number of training videos.
        alpha: exponent; 0 gives all ones, 1 inverse frequency.

    Returns:
        ``(C,)`` float32 weights with mean 1.

    Raises:
        ValueError: for a negative ``alpha``.
    """
    if alpha < 0:
        raise ValueError(ERR_ALPHA.format(alpha=alpha))
    counts = np.maximum(np.asarray(counts, dtype=np.float64), 1.0)
    raw = (max(num_videos, 1) / (counts.size * counts)) ** alpha
    return (raw / raw.mean()).astype(np.float32)
