"""Dawid-Skene EM against a hand computation, recovery on simulated data, and crowd-kit."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from backend.annotation.dawid_skene import dawid_skene, posterior_logit


def _reference_one_iteration(answers, n_items, n_workers, pinned, a0, b0):
    """The textbook update written out with loops, for 3 items and 3 workers."""
    t = []
    for i in range(n_items):
        if i in pinned:
            t.append(float(pinned[i]))
            continue
        votes = [v for (ii, _, v) in answers if ii == i]
        t.append(sum(votes) / len(votes))
    sens, spec = [], []
    for j in range(n_workers):
        mine = [(i, v) for (i, jj, v) in answers if jj == j]
        sens.append((sum(t[i] * v for i, v in mine) + a0) / (sum(t[i] for i, _ in mine) + a0 + b0))
        spec.append((sum((1 - t[i]) * (1 - v) for i, v in mine) + a0) / (sum(1 - t[i] for i, _ in mine) + a0 + b0))
    free = [t[i] for i in range(n_items) if i not in pinned]
    prior = sum(free) / len(free)
    post = []
    for i in range(n_items):
        if i in pinned:
            post.append(float(pinned[i]))
            continue
        log1, log0 = math.log(prior), math.log(1 - prior)
        for (ii, j, v) in answers:
            if ii != i:
                continue
            log1 += math.log(sens[j] if v else 1 - sens[j])
            log0 += math.log(1 - spec[j] if v else spec[j])
        post.append(1 / (1 + math.exp(log0 - log1)))
    return post, sens, spec, prior


def test_one_iteration_matches_the_hand_computation():
    answers = [(0, 0, 1), (0, 1, 1), (0, 2, 0), (1, 0, 0), (1, 1, 0), (1, 2, 1), (2, 0, 1), (2, 2, 1)]
    items, workers, values = (np.array(c) for c in zip(*answers))
    pinned = {2: True}  # item 2 is gold, known true
    got = dawid_skene(items, workers, values, pinned=pinned, max_iter=1, prior_strength=2.0, prior_accuracy=0.8)
    post, sens, spec, prior = _reference_one_iteration(answers, 3, 3, pinned, 1.6, 0.4)
    np.testing.assert_allclose(got.posterior, post, rtol=1e-12)
    np.testing.assert_allclose(got.sensitivity, sens, rtol=1e-12)
    np.testing.assert_allclose(got.specificity, spec, rtol=1e-12)
    assert got.prior == pytest.approx(prior)
    assert got.posterior[2] == 1.0


def _simulate(n_items=3000, seed=0):
    rng = np.random.default_rng(seed)
    truth = rng.random(n_items) < 0.35
    sens = np.array([0.95] * 12 + [0.8] * 4 + [0.5] * 2 + [1.0] * 2)
    spec = np.array([0.97] * 12 + [0.85] * 4 + [0.5] * 2 + [0.0] * 2)
    items, workers, values = [], [], []
    for i in range(n_items):
        for j in rng.choice(len(sens), size=5, replace=False):
            p_yes = sens[j] if truth[i] else 1 - spec[j]
            items.append(i)
            workers.append(j)
            values.append(int(rng.random() < p_yes))
    return truth, sens, spec, np.array(items), np.array(workers), np.array(values)


def test_recovers_truth_and_worker_confusions():
    truth, sens, spec, items, workers, values = _simulate()
    result = dawid_skene(items, workers, values)
    accuracy = np.mean((result.posterior > 0.5) == truth)
    majority = np.bincount(items, weights=values) / np.bincount(items) > 0.5
    assert accuracy > 0.99 and accuracy >= np.mean(majority == truth)
    np.testing.assert_allclose(result.sensitivity, sens, atol=0.1)
    np.testing.assert_allclose(result.specificity, spec, atol=0.1)
    assert result.prior == pytest.approx(0.35, abs=0.03)


def test_agrees_with_crowd_kit():
    from crowdkit.aggregation import DawidSkene

    truth, _, _, items, workers, values = _simulate(n_items=1500, seed=1)
    ours = dawid_skene(items, workers, values, prior_strength=0.0, tol=1e-8, max_iter=100).posterior > 0.5
    df = pd.DataFrame({"task": items, "worker": workers, "label": values})
    theirs = DawidSkene(n_iter=100).fit_predict(df).sort_index().to_numpy().astype(bool)
    assert np.mean(ours == theirs) > 0.99


def test_posterior_logit():
    logit = posterior_logit(prior=0.5, sens=np.array([0.9, 0.9]), spec=np.array([0.8, 0.8]),
                            values=np.array([True, False]))
    assert logit == pytest.approx(math.log(0.9 / 0.2) + math.log(0.1 / 0.8))


def test_no_answers_is_fine():
    result = dawid_skene(np.array([], dtype=int), np.array([], dtype=int), np.array([]), n_items=2, n_workers=1)
    assert result.posterior.tolist() == [0.5, 0.5]
