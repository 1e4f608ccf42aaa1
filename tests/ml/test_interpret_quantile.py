"""Streaming per-unit quantiles: within one bin of the exact value, bounded memory, exact merging."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ml.interpret.quantile import StreamingQuantile


def exact_top(values: np.ndarray, q: float) -> np.ndarray:
    """The ceil(q n)-th largest value of every column (NetDissect's threshold, computed exactly)."""
    n = values.shape[0]
    k = max(1, math.ceil(q * n))
    return -np.sort(-values, axis=0)[k - 1]


@pytest.mark.parametrize("q", [0.005, 0.05, 0.5])
def test_streamed_quantiles_are_within_one_bin_of_the_exact_ones(q: float):
    rng = np.random.default_rng(0)
    # post-ReLU-like units, a heavy tail, a unit that drifts left and right batch after batch
    batches = []
    for b in range(20):
        relu = np.maximum(rng.normal(0, 1, size=(500, 1)), 0)
        tail = rng.lognormal(0, 1.5, size=(500, 1))
        drift = rng.normal(0, 1, size=(500, 1)) * (1 + b) + (-1) ** b * 3 * b
        batches.append(np.hstack([relu, tail, drift]))
    sketch = StreamingQuantile(3, bins=256)
    for batch in batches:
        sketch.update(torch.from_numpy(batch))
    values = np.vstack(batches)
    estimate = sketch.quantile(q).numpy()
    truth = exact_top(values, q)
    width = sketch.width.numpy()
    assert np.all(np.abs(estimate - truth) <= width + 1e-12), (estimate, truth, width)
    # the documented width bounds: post-ReLU units only grow to the right
    span = values.max(axis=0) - values.min(axis=0)
    assert width[0] <= 2 * values[:, 0].max() / 256 + 1e-12
    assert np.all(width <= 4 * span / 256 + 1e-9)
    # the fraction above the estimate is within the count of one bin of q
    above = (values > estimate).mean(axis=0)
    per_bin = sketch.counts.max(dim=-1).values[0].numpy() / len(values)
    assert np.all(np.abs(above - q) <= per_bin + 1.0 / len(values))


def test_memory_does_not_depend_on_the_number_of_values():
    small, large = StreamingQuantile(8, bins=64), StreamingQuantile(8, bins=64)
    rng = torch.Generator().manual_seed(1)
    small.update(torch.rand(100, 8, generator=rng))
    for _ in range(50):
        large.update(torch.rand(1000, 8, generator=rng) * 3)
    assert small.counts.shape == large.counts.shape == (1, 8, 64)
    assert int(large.count()[0]) == 50_000


def test_groups_share_ranges_so_their_sum_is_the_quantile_of_the_union():
    rng = np.random.default_rng(2)
    a, b = rng.normal(0, 1, size=(3000, 2)), rng.normal(4, 2, size=(1000, 2))
    sketch = StreamingQuantile(2, bins=512, groups=2)
    sketch.update(torch.from_numpy(a), group=0)
    sketch.update(torch.from_numpy(b), group=1)
    width = sketch.width.numpy()
    for groups, values in (([0], a), ([1], b), ([0, 1], np.vstack([a, b]))):
        estimate = sketch.quantile(0.01, groups=groups).numpy()
        assert np.all(np.abs(estimate - exact_top(values, 0.01)) <= width)
    assert sketch.count([1]).tolist() == [1000, 1000]


def test_binary_activations_threshold_below_the_ones():
    values = torch.zeros(1000, 1)
    values[:100] = 1.0  # 10 % of positions fire
    sketch = StreamingQuantile(1, bins=64)
    sketch.update(values)
    threshold = float(sketch.quantile(0.2)[0])
    assert 0.0 < threshold < 1.0  # so "activation > threshold" is exactly the firing positions
    assert float(sketch.quantile(0.05)[0]) == pytest.approx(1.0, abs=float(sketch.width[0]))


def test_constant_and_non_finite_values():
    sketch = StreamingQuantile(2, bins=16)
    sketch.update(torch.tensor([[2.0, 0.0]] * 10))
    sketch.update(torch.tensor([[2.0, math.nan], [math.inf, 0.0]]))
    estimate = sketch.quantile(0.5)
    assert abs(float(estimate[0]) - 2.0) <= float(sketch.width[0])
    assert sketch.count().tolist() == [11, 11]


def test_errors():
    with pytest.raises(ValueError, match="even"):
        StreamingQuantile(1, bins=7)
    sketch = StreamingQuantile(2)
    with pytest.raises(ValueError, match="values must be"):
        sketch.update(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="no values"):
        sketch.quantile(0.1)
    sketch.update(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="q must be"):
        sketch.quantile(1.5)
