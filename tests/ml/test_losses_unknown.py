"""Three-state targets in every loss: -1 (unknown) classes ignored or down-weighted.

The ignore case is checked against the definition itself: each video's loss is the
loss of its row with the unknown columns removed, and the batch loss the mean over all
B videos. The weighted case is checked against written-out formulas with a weight
``a`` on every negative term of an unknown class.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from ml import losses
from ml.losses import ERR_UNKNOWN_WEIGHT, LOSSES, UNKNOWN

WEIGHTED = [("bce", False), ("bce", True), ("warp", False), ("warp", True), ("lsep", False),
            ("wlsep", False), ("wlsep", True)]


def three_state(seed: int = 0, b: int = 14, c: int = 11):
    """Random logits, targets in {1, 0, -1} with every edge case, class weights."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, c, generator=g) * 2
    draw = torch.rand(b, c, generator=g)
    t = torch.where(draw < 0.25, 1.0, torch.where(draw < 0.6, float(UNKNOWN), 0.0))
    t[0] = UNKNOWN  # nothing known
    t[1] = 0.0
    t[1, :4] = UNKNOWN  # no positive
    t[2] = 1.0
    t[2, 5:] = UNKNOWN  # no negative, unknown classes only
    t[3] = 1.0  # no negative at all
    t[4] = UNKNOWN
    t[4, 2], t[4, 7] = 1.0, 0.0  # one positive, one negative
    t[5] = 0.0
    t[5, 3] = 1.0  # no unknown
    w = torch.rand(c, generator=g) + 0.5
    return x, t, w


def dropped_columns_reference(name: str, x: torch.Tensor, t: torch.Tensor, w: torch.Tensor | None):
    """Call the loss on each row with its unknown columns removed; batch mean over all rows."""
    per_video = []
    for b in range(x.shape[0]):
        known = t[b] >= 0
        if not known.any():
            per_video.append(x[b].sum() * 0)
            continue
        row_w = None if w is None else w[known]
        per_video.append(LOSSES[name](x[b : b + 1, known], t[b : b + 1, known], row_w))
    return torch.stack(per_video).mean()


@pytest.mark.parametrize(("name", "weighted"), WEIGHTED)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_unknown_equals_dropping_the_columns_row_by_row(name, weighted, seed):
    torch.manual_seed(seed)
    x, t, w = three_state(seed)
    weights = w if weighted else None
    x_ours = x.clone().requires_grad_()
    x_ref = x.clone().requires_grad_()
    ours = LOSSES[name](x_ours, t, weights)
    ref = dropped_columns_reference(name, x_ref, t, weights)
    (grad_ours,) = torch.autograd.grad(ours, x_ours)
    (grad_ref,) = torch.autograd.grad(ref, x_ref)
    assert ours.shape == () and torch.isfinite(ours)
    assert ours.item() == pytest.approx(ref.item(), rel=1e-5, abs=1e-6)
    torch.testing.assert_close(grad_ours, grad_ref, rtol=1e-4, atol=1e-6)
    unknown = t < 0
    assert torch.equal(grad_ours[unknown], torch.zeros(int(unknown.sum())))  # exactly 0


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_all_unknown_rows_contribute_zero_but_count_in_the_mean(name):
    x = torch.randn(2, 5, requires_grad=True)
    t = torch.tensor([[1.0, 0.0, 0.0, -1.0, 0.0], [-1.0] * 5])
    both = LOSSES[name](x, t)
    first = LOSSES[name](x[:1], t[:1])
    assert both.item() == pytest.approx(first.item() / 2, rel=1e-6)
    both.backward()
    assert torch.equal(x.grad[1], torch.zeros(5))


@pytest.mark.parametrize(("name", "weighted"), WEIGHTED)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64])
@pytest.mark.parametrize("mask_always", [False, True])
def test_without_unknown_targets_nothing_changes(name, weighted, dtype, mask_always, monkeypatch):
    if mask_always:  # what an accelerator does (no host sync to look for -1): the mask is all zeros
        monkeypatch.setattr(losses, "_may_hold_unknown", lambda targets, y: targets.dtype != torch.bool)
    torch.manual_seed(3)
    x, t, w = three_state(3)
    y = (t > 0).float()  # the same positives, every other class a negative
    weights = w if weighted else None
    # Bool targets cannot hold -1 and take the code path of the two-state losses.
    x_bool = x.clone().requires_grad_()
    expected = LOSSES[name](x_bool, y.bool(), weights)
    (grad_expected,) = torch.autograd.grad(expected, x_bool)
    for kwargs in ({}, {"unknown_weight": 0.0}, {"unknown_weight": 0.3}, {"unknown_weight": 1.0}):
        x_ours = x.clone().requires_grad_()
        ours = LOSSES[name](x_ours, y.to(dtype), weights, **kwargs)
        (grad_ours,) = torch.autograd.grad(ours, x_ours)
        assert torch.equal(ours, expected), kwargs
        assert torch.equal(grad_ours, grad_expected), kwargs


@pytest.mark.parametrize(("name", "weighted"), WEIGHTED)
def test_unknown_weight_one_is_negative_zero_is_ignore(name, weighted):
    x, t, w = three_state(4)
    weights = w if weighted else None
    as_negative = LOSSES[name](x, t.clamp(min=0), weights)
    torch.testing.assert_close(LOSSES[name](x, t, weights, unknown_weight=1.0), as_negative, rtol=0, atol=0)
    assert torch.equal(LOSSES[name](x, t, weights, unknown_weight=0.0), LOSSES[name](x, t, weights))


@pytest.mark.parametrize(("name", "weighted"), WEIGHTED)
def test_weight_mode_lies_between_ignore_and_negative(name, weighted):
    x, t, w = three_state(5)
    weights = w if weighted else None
    values = [LOSSES[name](x, t, weights, unknown_weight=a).item() for a in (0.0, 0.1, 0.25, 0.5, 0.9, 1.0)]
    assert values == sorted(values)
    assert values[0] < values[-1]  # the unknown classes do matter in this batch


def h(r: float) -> float:
    """The harmonic number of a (possibly fractional) rank: digamma(r + 1) + gamma."""
    return float(torch.special.digamma(torch.tensor(r + 1.0, dtype=torch.float64))) + 0.5772156649015329


def weighted_reference(name: str, x: torch.Tensor, t: torch.Tensor, w: torch.Tensor, a: float):
    """Eqs. 1-4 written out per video and pair, an unknown class a negative of weight ``a``."""
    x = x.double()
    w = w.double()
    per_video = []
    classes = x.shape[1]
    for b in range(x.shape[0]):
        pos = [i for i in range(classes) if t[b, i] > 0]
        neg = {j: (1.0 if t[b, j] == 0 else a) for j in range(classes) if t[b, j] <= 0}
        total = x[b].sum() * 0
        if name == "bce":
            for i in range(classes):
                s = torch.sigmoid(x[b, i])
                total = total - w[i] * (torch.log(s) if i in pos else neg[i] * torch.log(1 - s))
        elif name == "lsep" and pos and neg:
            pairs = sum(neg[j] * torch.exp(x[b, j] - x[b, i]) for i in pos for j in neg)
            total = torch.log1p(pairs)
        elif name == "wlsep" and pos and neg:
            for i in pos:
                total = total + w[i] * torch.log1p(sum(neg[j] * torch.exp(x[b, j] - x[b, i]) for j in neg))
        elif name == "warp":
            scores = x[b].tolist()
            order = sorted(range(classes), key=lambda c: (-scores[c], c))
            for i in pos:
                ahead = order[: order.index(i)]
                rank = 1 + sum(neg.get(j, 1.0) for j in ahead)
                hinge = sum(neg[j] * torch.clamp(1 + x[b, j] - x[b, i], min=0) for j in neg)
                total = total + w[i] * h(rank) * hinge
        per_video.append(total / max(len(pos), 1))
    return torch.stack(per_video).mean()


@pytest.mark.parametrize(("name", "weighted"), WEIGHTED)
@pytest.mark.parametrize("a", [0.0, 0.3, 0.5, 1.0])
def test_weight_mode_matches_the_written_formula(name, weighted, a):
    x, t, w = three_state(6)
    weights = w if weighted else None
    x_ours = x.clone().requires_grad_()
    x_ref = x.clone().double().requires_grad_()
    ours = LOSSES[name](x_ours, t, weights, unknown_weight=a)
    ref = weighted_reference(name, x_ref, t, w if weighted else torch.ones_like(w), a)
    (grad_ours,) = torch.autograd.grad(ours, x_ours)
    (grad_ref,) = torch.autograd.grad(ref, x_ref)
    assert ours.item() == pytest.approx(ref.item(), rel=1e-5, abs=1e-6)
    torch.testing.assert_close(grad_ours.double(), grad_ref, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_stable_with_unknown_targets_at_large_logits(name):
    torch.manual_seed(7)
    x = (torch.randint(0, 2, (16, 50)).float() * 200 - 100).requires_grad_()
    t = torch.where(torch.rand(16, 50) < 0.5, -1.0, (torch.rand(16, 50) < 0.1).float())
    t[:, 0] = 1
    for a in (0.0, 0.4):
        x.grad = None
        loss = LOSSES[name](x, t, unknown_weight=a)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(x.grad).all()


class _LargestTensor(TorchDispatchMode):
    """Records the element count of the largest tensor any op produces."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for item in out if isinstance(out, tuple | list) else (out,):
            if isinstance(item, torch.Tensor):
                self.largest = max(self.largest, item.numel())
        return out


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("a", [0.0, 0.5])
def test_unknown_targets_stay_vectorised(name, a):
    torch.manual_seed(8)
    b, c = 8, 64
    x = torch.randn(b, c, requires_grad=True)
    t = torch.where(torch.rand(b, c) < 0.4, -1.0, (torch.rand(b, c) < 0.2).float())
    with _LargestTensor() as probe:
        LOSSES[name](x, t, unknown_weight=a).backward()
    assert probe.largest <= b * (c + 1)


@pytest.mark.parametrize("bad", [-0.1, 1.5, math.nan, "0.5"])
def test_unknown_weight_outside_zero_one_is_refused(bad):
    with pytest.raises(ValueError, match=r"unknown_weight must be a number in \[0, 1\]"):
        LOSSES["bce"](torch.zeros(1, 2), torch.tensor([[1.0, -1.0]]), unknown_weight=bad)
    assert "{value!r}" in ERR_UNKNOWN_WEIGHT
