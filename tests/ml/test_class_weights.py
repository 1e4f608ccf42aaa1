"""Class weights: the documented formula."""

from __future__ import annotations

import numpy as np
import pytest

from ml.class_weights import class_weights, positive_counts


def test_formula_and_mean_one():
    counts = np.array([100, 10, 1, 0])
    n, c, alpha = 100, 4, 0.5
    raw = (n / (c * np.maximum(counts, 1))) ** alpha
    weights = class_weights(counts, n, alpha=alpha)
    np.testing.assert_allclose(weights, raw / raw.mean(), rtol=1e-6)
    assert weights.mean() == pytest.approx(1.0)
    assert weights.dtype == np.float32
    # Rarer classes weigh more; a class without examples counts as one example.
    assert weights[0] < weights[1] < weights[2] == weights[3]


def test_alpha_zero_is_uniform_and_one_is_inverse_frequency():
    counts = np.array([8, 4, 2])
    np.testing.assert_allclose(class_weights(counts, 10, alpha=0.0), 1.0)
    inverse = class_weights(counts, 10, alpha=1.0)
    assert inverse[2] / inverse[0] == pytest.approx(4.0)


def test_negative_alpha_is_rejected():
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        class_weights(np.ones(3), 3, alpha=-1)


def test_positive_counts_count_each_video_once_per_class():
    counts = positive_counts([(0, 2), (2,), (), (2, 2)], 4)
    assert counts.tolist() == [1, 0, 3, 0]
