"""Metrics against scikit-learn and brute-force references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score

from ml.metrics import average_precision_rows, evaluate, per_class_average_precision, top_k_accuracy


def data(seed: int, n: int = 200, c: int = 30, ties: bool = False):
    rng = np.random.default_rng(seed)
    scores = rng.random((n, c))
    if ties:
        scores = scores.round(1)  # many equal scores in every row and column
    targets = rng.random((n, c)) < 0.08
    targets[: n // 10] = False  # videos without positives
    targets[:, 0] = False  # a class without positives
    return scores, targets


def brute_top_k(scores, targets, k):
    hits = []
    for s, t in zip(scores, targets, strict=True):
        if not t.any():
            continue
        order = sorted(range(len(s)), key=lambda c: (-s[c], c))  # ties: lower index first
        hits.append(any(t[c] for c in order[:k]))
    return float(np.mean(hits))


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_sklearn_and_brute_force(seed, ties):
    scores, targets = data(seed, ties=ties)
    result = evaluate(scores, targets)
    rows = targets.any(axis=1)
    cols = targets.any(axis=0)
    micro = average_precision_score(targets[rows], scores[rows], average="samples")
    macro = average_precision_score(targets[:, cols], scores[:, cols], average="macro")
    assert result["micro_map"] == pytest.approx(micro, abs=1e-12)
    assert result["macro_map"] == pytest.approx(macro, abs=1e-12)
    assert result["top1"] == pytest.approx(brute_top_k(scores, targets, 1))
    assert result["top5"] == pytest.approx(brute_top_k(scores, targets, 5))
    assert top_k_accuracy(scores, targets, 3) == pytest.approx(brute_top_k(scores, targets, 3))


def test_per_class_ap_matches_sklearn_and_marks_empty_classes():
    scores, targets = data(3, ties=True)
    ap = per_class_average_precision(scores, targets)
    assert math.isnan(ap[0])
    for c in range(1, scores.shape[1]):
        if targets[:, c].any():
            assert ap[c] == pytest.approx(average_precision_score(targets[:, c], scores[:, c]), abs=1e-12)


def test_hand_example():
    scores = np.array([[0.9, 0.8, 0.1], [0.2, 0.3, 0.4], [0.5, 0.5, 0.5]])
    targets = np.array([[0, 1, 0], [1, 0, 1], [0, 0, 0]])
    result = evaluate(scores, targets)
    # video 0: positive ranked 2nd -> AP 1/2; video 1: ranks 1 and 3 -> (1 + 2/3) / 2
    assert result["micro_map"] == pytest.approx((0.5 + (1 + 2 / 3) / 2) / 2)
    assert result["top1"] == pytest.approx(0.5)  # video 2 has no positives: left out
    assert result["top5"] == pytest.approx(1.0)
    # class 0: its positive (0.2) ranks 3rd of (0.9, 0.2, 0.5) -> 1/3; class 1: 0.8 ranks
    # first -> 1; class 2: 0.4 ranks 2nd of (0.1, 0.4, 0.5) -> 1/2
    assert result["macro_map"] == pytest.approx((1 / 3 + 1 + 1 / 2) / 3)


def test_accepts_tensors_and_bool_or_float_targets():
    scores, targets = data(4)
    expected = evaluate(scores, targets)
    got = evaluate(torch.tensor(scores), torch.tensor(targets.astype(np.float32)))
    assert got == pytest.approx(expected)


def test_fractions_are_in_unit_interval():
    scores, targets = data(5)
    for value in evaluate(scores, targets).values():
        assert 0.0 <= value <= 1.0


def test_nothing_to_evaluate_gives_nan():
    result = evaluate(np.zeros((3, 4)), np.zeros((3, 4)))
    assert all(math.isnan(v) for v in result.values())
    assert np.isnan(average_precision_rows(np.zeros((2, 3)), np.zeros((2, 3), dtype=bool))).all()


def test_errors():
    with pytest.raises(ValueError, match="both be"):
        evaluate(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="NaN"):
        evaluate(np.array([[np.nan, 1.0]]), np.array([[1, 0]]))
