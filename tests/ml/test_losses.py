"""Losses against direct (B, C, C) reference formulas of eqs. 1-4, plus edge cases."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from ml.losses import ERR_LSEP_WEIGHTS, ERR_UNKNOWN_LOSS, LOSSES, bce, get_loss, lsep, warp, wlsep


# Independent references, written straight from the paper in float64 with explicit
# loops over videos and pairs (no factorisation).
def ref_bce(x, y, w):
    per_video = []
    for b in range(x.shape[0]):
        s = torch.sigmoid(x[b])
        terms = -w * (y[b] * torch.log(s) + (1 - y[b]) * torch.log(1 - s))
        per_video.append(terms.sum() / max(int(y[b].sum()), 1))
    return torch.stack(per_video).mean()


def ref_lsep(x, y, w=None):
    per_video = []
    for b in range(x.shape[0]):
        pos, neg = y[b].bool(), ~y[b].bool()
        if not pos.any() or not neg.any():
            per_video.append(x[b].sum() * 0)
            continue
        pairs = x[b][neg][None, :] - x[b][pos][:, None]  # (|Y|, |not Y|): x_j - x_i
        per_video.append(torch.log1p(torch.exp(pairs).sum()) / int(pos.sum()))
    return torch.stack(per_video).mean()


def ref_wlsep(x, y, w):
    per_video = []
    for b in range(x.shape[0]):
        pos, neg = y[b].bool(), ~y[b].bool()
        if not pos.any() or not neg.any():
            per_video.append(x[b].sum() * 0)
            continue
        total = x[b].sum() * 0
        for i in torch.nonzero(pos).flatten().tolist():
            total = total + w[i] * torch.log1p(torch.exp(x[b][neg] - x[b][i]).sum())
        per_video.append(total / int(pos.sum()))
    return torch.stack(per_video).mean()


def ref_warp(x, y, w):
    per_video = []
    classes = x.shape[1]
    for b in range(x.shape[0]):
        pos, neg = y[b].bool(), ~y[b].bool()
        scores = x[b].detach().tolist()
        order = sorted(range(classes), key=lambda c: (-scores[c], c))
        rank = {c: r + 1 for r, c in enumerate(order)}
        total = x[b].sum() * 0
        for i in torch.nonzero(pos).flatten().tolist():
            harmonic = sum(1.0 / k for k in range(1, rank[i] + 1))
            hinge = torch.clamp(1 + x[b][neg] - x[b][i], min=0).sum()
            total = total + w[i] * harmonic * hinge
        per_video.append(total / max(int(pos.sum()), 1))
    return torch.stack(per_video).mean()


REFERENCES = {"bce": ref_bce, "lsep": ref_lsep, "wlsep": ref_wlsep, "warp": ref_warp}


def batch(seed: int = 0, b: int = 12, c: int = 9):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, c, generator=g, dtype=torch.float64) * 2
    y = (torch.rand(b, c, generator=g) < 0.25).double()
    y[0] = 0  # a video without positives
    y[1] = 1  # a video without negatives
    y[2, :] = 0
    y[2, 3] = 1  # exactly one positive
    w = torch.rand(c, generator=g, dtype=torch.float64) + 0.5
    return x, y, w


@pytest.mark.parametrize(
    ("name", "weighted"),
    [("bce", False), ("bce", True), ("warp", False), ("warp", True), ("lsep", False),
     ("wlsep", False), ("wlsep", True)],
)
def test_loss_and_gradient_match_reference(name, weighted):
    x, y, w = batch()
    weights = w if weighted else None
    ref_w = w if weighted else torch.ones_like(w)
    x_ours = x.float().requires_grad_()
    x_ref = x.clone().requires_grad_()
    ours = LOSSES[name](x_ours, y, None if weights is None else weights.float())
    ref = REFERENCES[name](x_ref, y, ref_w)
    (grad_ours,) = torch.autograd.grad(ours, x_ours)
    (grad_ref,) = torch.autograd.grad(ref, x_ref)
    assert ours.shape == ()
    assert ours.item() == pytest.approx(ref.item(), rel=1e-5, abs=1e-6)
    torch.testing.assert_close(grad_ours.double(), grad_ref, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ["warp", "lsep", "wlsep"])
def test_videos_without_positives_or_negatives_contribute_zero(name):
    x = torch.randn(2, 6, requires_grad=True)
    y = torch.stack([torch.zeros(6), torch.ones(6)])
    loss = LOSSES[name](x, y)
    loss.backward()
    assert loss.item() == 0.0
    assert torch.equal(x.grad, torch.zeros_like(x))


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_bool_and_float_targets_agree(name):
    x, y, _ = batch(1)
    assert LOSSES[name](x.float(), y.bool()).item() == pytest.approx(LOSSES[name](x.float(), y.float()).item())


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_stable_at_large_logits_in_float32(name):
    x = (torch.randint(0, 2, (16, 50)).float() * 200 - 100).requires_grad_()  # +-100
    y = (torch.rand(16, 50) < 0.1).float()
    y[:, 0] = 1
    loss = LOSSES[name](x, y)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_stable_under_bf16_autocast(name):
    torch.manual_seed(0)
    layer = torch.nn.Linear(8, 40)
    with torch.no_grad():
        layer.weight.mul_(50)  # logits around +-100
    features = torch.randn(6, 8)
    y = (torch.rand(6, 40) < 0.1).float()
    y[:, 1] = 1
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = layer(features)
        assert logits.dtype == torch.bfloat16
        loss = LOSSES[name](logits, y)
    loss.backward()
    assert loss.dtype == torch.float32
    assert logits.abs().max() > 50
    assert torch.isfinite(loss)
    assert torch.isfinite(layer.weight.grad).all()


class _LargestTensor(TorchDispatchMode):
    """Records the element count of the largest tensor any op produces."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, tuple | list) else (out,):
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
        return out


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_no_quadratic_tensor(name):
    b, c = 8, 64
    x = torch.randn(b, c, requires_grad=True)
    y = (torch.rand(b, c) < 0.2).float()
    with _LargestTensor() as probe:
        LOSSES[name](x, y).backward()
    # (B, C + 1) prefix sums are the largest legitimate tensors; (B, C, C) would be 64x that.
    assert probe.largest <= b * (c + 1)


def test_lsep_rejects_class_weights():
    with pytest.raises(ValueError, match="lsep takes no class weights"):
        lsep(torch.zeros(2, 3), torch.ones(2, 3), torch.ones(3))
    assert "wlsep" in ERR_LSEP_WEIGHTS


def test_weights_scale_the_loss_linearly():
    x, y, w = batch(2)
    x = x.float()
    for fn in (bce, warp, wlsep):
        assert fn(x, y, torch.full((x.shape[1],), 3.0)).item() == pytest.approx(3 * fn(x, y).item(), rel=1e-5)


def test_bce_matches_torch_for_one_positive_per_video():
    x = torch.randn(5, 7)
    y = F.one_hot(torch.arange(5), 7).float()  # |Y| = 1: the normalisation is a no-op
    expected = F.binary_cross_entropy_with_logits(x, y, reduction="sum") / 5
    assert bce(x, y).item() == pytest.approx(expected.item(), rel=1e-6)


def test_wlsep_equals_lsep_with_one_positive():
    x = torch.randn(4, 10)
    y = F.one_hot(torch.tensor([1, 3, 5, 7]), 10).float()
    assert wlsep(x, y).item() == pytest.approx(lsep(x, y).item(), rel=1e-6)


def test_warp_uses_harmonic_rank_weight():
    # One video, classes scored 3, 2, 1; the positive (score 1) ranks third.
    x = torch.tensor([[3.0, 2.0, 1.0]])
    y = torch.tensor([[0.0, 0.0, 1.0]])
    hinge = (1 + 3 - 1) + (1 + 2 - 1)
    assert warp(x, y).item() == pytest.approx((1 + 1 / 2 + 1 / 3) * hinge)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(2, 4\)"):
        wlsep(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="class_weights must be"):
        bce(torch.zeros(2, 3), torch.zeros(2, 3), torch.ones(4))
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        get_loss("hinge")
    assert "{name!r}" in ERR_UNKNOWN_LOSS
    assert math.isfinite(get_loss("wlsep")(torch.zeros(1, 2), torch.tensor([[1.0, 0.0]])).item())
