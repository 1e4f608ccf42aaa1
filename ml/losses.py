"""Multi-label losses of Section 4 of the paper: BCE, WARP, LSEP and wLSEP.

Every loss has the signature ``loss(logits, targets, class_weights=None, *, unknown_weight=0.0)``:

* ``logits``: ``(B, C)`` raw scores ``x`` (any float dtype; computed in float32),
* ``targets``: ``(B, C)`` in ``{1, 0, -1}`` (bool, int or float): 1 a positive, 0 a
  negative, -1 **unknown** (neither verified positive nor verified negative),
* ``class_weights``: ``(C,)`` the ``w_i`` of the paper or ``None`` for all ones,
* ``unknown_weight``: in ``[0, 1]``, how much an unknown class counts as a negative,

and returns the scalar batch mean of the per-video losses. As the paper states
for all four, each per-video loss is divided by ``|Y|``, the number of positive
labels of that video (taken as 1 when it has none). A video without positives,
or without negatives, contributes 0 to the ranking losses (never NaN).

**Unknown classes.** With the default ``unknown_weight=0`` a class whose target is
-1 counts neither as a positive nor as a negative of its video: the loss of each
video is exactly the loss of its row with the unknown columns removed (WARP's rank
counts the known classes only), its gradient on unknown entries is exactly 0, and
the batch loss stays the mean over all ``B`` videos. ``unknown_weight=a`` makes an
unknown class a negative whose every negative term is scaled by ``a``: BCE's
``-log(1 - s(x_j))``, LSEP's and wLSEP's ``exp(x_j - x_i)`` and WARP's hinge
``max(0, 1 + x_j - x_i)``; WARP's rank counts an unknown class above ``x_i`` as ``a``
of a class (``W(r)`` at a fractional rank is ``digamma(r + 1) + gamma``, the harmonic
number it interpolates). ``a = 1`` is the same as target 0 and ``a = 0`` the same as
leaving the class out, so every value in between sits between the two. Targets
without -1 give the same results as before the option existed (any negative target
is read as unknown; fractional targets such as -0.5 carry no meaning: the weight
lives in ``unknown_weight``, one value for the whole batch).

None of the losses builds a ``(B, C, C)`` tensor. The pairwise sums factor:

* ``sum_{i in Y} sum_{j not in Y} exp(x_j - x_i)
  = exp(LSE_{j not in Y} x_j + LSE_{i in Y} -x_i)`` (LSEP),
* ``log(1 + sum_{j not in Y} exp(x_j - x_i)) = softplus(LSE_{j not in Y} x_j - x_i)``
  (wLSEP),
* ``sum_{j not in Y} max(0, 1 + x_j - x_i) = k_i (1 - x_i) + S_{k_i}`` where the
  negatives are sorted in descending order, ``k_i`` counts those above
  ``x_i - 1`` and ``S_k`` is the sum of the ``k`` largest (WARP),

so time and memory grow as ``B*C`` (``B*C*log C`` for WARP's sort). All of them
run with autocast disabled on float32 copies of the logits, so they stay finite
at ``|x| = 100`` under bf16/fp16 autocast.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["LOSSES", "UNKNOWN", "LossFn", "bce", "get_loss", "lsep", "warp", "wlsep"]

ERR_SHAPE = "logits and targets must both be (B, C); got {logits} and {targets}"
ERR_WEIGHTS_SHAPE = "class_weights must be (C,) = ({classes},); got {shape}"
ERR_LSEP_WEIGHTS = (
    "lsep takes no class weights (eq. 3 has no w_i: its global log-sum-exp does not "
    "separate per positive class); use wlsep for weighted ranking"
)
ERR_UNKNOWN_LOSS = "unknown loss {name!r}; choose one of {choices}"
ERR_UNKNOWN_WEIGHT = "unknown_weight must be a number in [0, 1]; got {value!r}"
UNKNOWN = -1
"""The target of a class that is neither a verified positive nor a verified negative."""


class LossFn(Protocol):
    """A multi-label loss: ``(logits (B, C), targets (B, C), class_weights (C,) | None) -> ()``.

    ``targets`` may hold -1 (unknown); see the module docstring for ``unknown_weight``.
    """

    def __call__(
        self, logits: Tensor, targets: Tensor, class_weights: Tensor | None = None, *,
        unknown_weight: float = 0.0,
    ) -> Tensor: ...


# Scores of excluded classes are pushed down by this finite amount instead of
# set to -inf: exp() of them is exactly 0, yet a row whose set is empty (a video
# without positives or negatives) stays finite, so its softplus is exactly 0 and
# its gradient 0 rather than NaN (logsumexp over all -inf has a NaN gradient).
# |x| up to ~1e20 keeps x - _MASK far below every real score in float32.
_MASK = 1e30
_EULER_GAMMA = 0.5772156649015329  # digamma(r + 1) + gamma = sum_{k=1..r} 1/k for whole r


def _prepare(
    logits: Tensor, targets: Tensor, class_weights: Tensor | None, unknown_weight: float = 0.0
) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    """Validate and convert inputs.

    Returns:
        ``x`` float32 ``(B, C)``, ``y`` float32 ``(B, C)`` in ``{0, 1}`` (the positives;
        unknown entries are 0), ``u`` float32 ``(B, C)`` 1 on unknown entries (or ``None``
        when there is none: bool targets, or CPU targets without a negative value) and
        ``w`` float32 ``(C,)`` or ``None``.
    """
    if logits.ndim != 2 or logits.shape != targets.shape:
        raise ValueError(ERR_SHAPE.format(logits=tuple(logits.shape), targets=tuple(targets.shape)))
    if not (isinstance(unknown_weight, int | float) and 0.0 <= unknown_weight <= 1.0):
        raise ValueError(ERR_UNKNOWN_WEIGHT.format(value=unknown_weight))
    x = logits.float()
    y = targets.to(dtype=torch.float32, device=x.device)
    u = None
    if _may_hold_unknown(targets, y):
        u = (y < 0).to(torch.float32)
        y = y.clamp(min=0.0)
    w = None
    if class_weights is not None:
        if class_weights.shape != (x.shape[1],):
            raise ValueError(
                ERR_WEIGHTS_SHAPE.format(classes=x.shape[1], shape=tuple(class_weights.shape))
            )
        w = class_weights.to(device=x.device, dtype=torch.float32)
    return x, y, u, w


def _may_hold_unknown(targets: Tensor, y: Tensor) -> bool:
    """Whether the losses build the unknown mask ``u`` for these targets.

    Bool targets hold no unknown entry. On the CPU, targets without a negative value skip
    the bookkeeping (it costs BCE and wLSEP a third more time at B=256, C=292); on an
    accelerator that test would be a host sync per step, so ``u`` is always built there:
    all zeros without unknown entries, and every use of it then adds or multiplies an
    exact 0 or 1 (the same results, bit for bit).
    """
    if targets.dtype == torch.bool:
        return False
    if y.device.type != "cpu":
        return True
    return bool(y.numel()) and bool(y.min() < 0)


def _known_weight(u: Tensor, unknown_weight: float) -> Tensor:
    """``(B, C)`` weight of each entry as a class of its video: 1 known, ``unknown_weight`` unknown."""
    return 1.0 - (1.0 - unknown_weight) * u


def _negative_scores(x: Tensor, y: Tensor, u: Tensor | None, unknown_weight: float) -> Tensor:
    """``x_j + log a_j`` with ``a_j`` the weight of ``j`` as a negative (1 negative,
    ``unknown_weight`` unknown, 0 positive); 0 is ``-_MASK``.

    ``LSE_j`` of these is ``log sum_{j not in Y} a_j exp(x_j)``, and their softmax is the
    gradient of that log-sum-exp with respect to ``x``.
    """
    scores = x.add(y, alpha=-_MASK)
    if u is not None:
        shift = -_MASK if unknown_weight == 0.0 else math.log(unknown_weight)
        scores = scores.add_(u, alpha=shift)
    return scores


def _num_positives(y: Tensor) -> Tensor:
    """``max(|Y|, 1)`` per video: ``(B, C) -> (B,)``."""
    return y.sum(dim=1).clamp(min=1.0)


def bce(
    logits: Tensor, targets: Tensor, class_weights: Tensor | None = None, *, unknown_weight: float = 0.0
) -> Tensor:
    """Weighted binary cross entropy, eq. 1, normalised by ``|Y|``.

    Per video: ``(1/|Y|) sum_i -w_i [y_i log s(x_i) + (1 - y_i) log(1 - s(x_i))]`` with
    ``s`` the sigmoid, the sum over the known classes; an unknown class adds
    ``-unknown_weight w_i log(1 - s(x_i))``.

    Args:
        logits: ``(B, C)`` scores.
        targets: ``(B, C)`` labels in ``{1, 0, -1}`` (-1: unknown).
        class_weights: ``(C,)`` weights ``w_i`` or ``None``.
        unknown_weight: weight in ``[0, 1]`` of an unknown class's negative term.

    Returns:
        Scalar batch mean of the per-video losses.
    """
    with torch.autocast(device_type=logits.device.type, enabled=False):
        x, y, u, w = _prepare(logits, targets, class_weights, unknown_weight)
        # One fused kernel: the per-entry weight w_i / (|Y| B) folds the class
        # weight, the per-video normalisation and the batch mean together.
        weight = (1.0 / (_num_positives(y) * x.shape[0]))[:, None]
        if w is not None:
            weight = weight * w
        if u is not None:
            weight = weight * _known_weight(u, unknown_weight)  # exact: x * 1.0 == x
        return F.binary_cross_entropy_with_logits(x, y, weight=weight, reduction="sum")


def lsep(
    logits: Tensor, targets: Tensor, class_weights: Tensor | None = None, *, unknown_weight: float = 0.0
) -> Tensor:
    """Log-sum-exp pairwise loss (LSEP), eq. 3, normalised by ``|Y|``.

    Per video: ``(1/|Y|) log(1 + sum_{i in Y} sum_{j not in Y} a_j exp(x_j - x_i))``,
    computed as ``softplus(LSE_{j not in Y} (x_j + log a_j) + LSE_{i in Y} (-x_i)) / |Y|``,
    with ``a_j`` 1 for a negative and ``unknown_weight`` for an unknown class.

    Args:
        logits: ``(B, C)`` scores.
        targets: ``(B, C)`` labels in ``{1, 0, -1}`` (-1: unknown).
        class_weights: must be ``None``.
        unknown_weight: weight in ``[0, 1]`` of an unknown class's pair terms.

    Returns:
        Scalar batch mean of the per-video losses.

    Raises:
        ValueError: when class weights are given.
    """
    if class_weights is not None:
        raise ValueError(ERR_LSEP_WEIGHTS)
    with torch.autocast(device_type=logits.device.type, enabled=False):
        x, y, u, _ = _prepare(logits, targets, None, unknown_weight)
        lse_neg = torch.logsumexp(_negative_scores(x, y, u, unknown_weight), dim=1)
        lse_pos = torch.logsumexp(-x - _MASK * (1.0 - y), dim=1)
        # Without positives or negatives one term is ~ -1e30: softplus gives 0.
        return (F.softplus(lse_neg + lse_pos) / _num_positives(y)).mean()


def _positive_entries(y: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Where the positives of ``y`` ``(B, C)`` are.

    Returns:
        ``flat``, ``rows``, ``cols`` ``(P,)`` int64 row-major flat, row and column
        indices of the ``P`` positive entries, and ``scale`` ``(P,)`` float32
        ``1 / (|Y| B)`` for the video of each entry.
    """
    batch, classes = y.shape
    positive = y.bool()
    if positive.device.type == "cpu":
        # On the CPU this bookkeeping is cheaper in numpy: its 1-D boolean
        # nonzero is ~6x faster than torch.nonzero at B=256, C=292 (14 vs 97 us),
        # which was the largest single cost of the loss, and the small index
        # arithmetic costs less than as separate torch ops.
        flat = np.flatnonzero(positive.numpy().reshape(-1))
        rows, cols = np.divmod(flat, classes)
        scale = 1.0 / (np.bincount(rows, minlength=batch)[rows] * batch)
        return (torch.from_numpy(flat), torch.from_numpy(rows), torch.from_numpy(cols),
                torch.from_numpy(scale.astype(np.float32)))
    flat = positive.reshape(-1).nonzero().squeeze(1)
    rows = torch.div(flat, classes, rounding_mode="floor")
    scale = 1.0 / (positive.sum(dim=1).to(torch.float32)[rows] * batch)
    return flat, rows, flat - rows * classes, scale


class _WLSEP(torch.autograd.Function):
    """Fused wLSEP forward/backward (eq. 4).

    A first version built from autograd ops (masked logsumexp, a dense softplus,
    ``where``) ran at about 3x the time of ``binary_cross_entropy_with_logits`` at
    B=256, C=292 on the CPU: it evaluated transcendental functions on all ``B*C``
    entries several times. Here the dense work is one masking add, one fused
    softmax over the negatives and two row maxima; the softplus and sigmoid run
    on the ``P`` positive entries alone (about ``B * |Y|``), and the gradient has
    a closed form reusing the forward's softmax ``p_j`` over negatives and the
    sigmoids ``s_i = sigmoid(LSE_neg - x_i)``:

    * positive ``i``: ``dL/dx_i = -w_i s_i / |Y|``,
    * negative ``j``: ``dL/dx_j = p_j sum_{i in Y} w_i s_i / |Y|``,

    each divided by ``B`` for the batch mean. ``neg_scores`` (``_negative_scores``,
    no gradient of its own) are ``x_j + log a_j``: the softmax over them is the
    gradient of ``LSE_neg`` also when unknown classes weigh ``a_j`` in ``[0, 1)``.
    """

    @staticmethod
    def forward(ctx, x: Tensor, y: Tensor, w: Tensor, neg_scores: Tensor) -> Tensor:  # type: ignore[override]
        flat, rows, cols, scale = _positive_entries(y)
        softmax_neg = torch.softmax(neg_scores, dim=1)  # p_j; exactly 0 on positives (and ignored classes)
        # The softmax peaks at the row maximum with p_max = exp(0) / sum_j exp(x_j - max)
        # >= 1/C, so LSE_neg = max - log(p_max) without a second exp pass.
        lse_neg = neg_scores.amax(dim=1).sub_(softmax_neg.amax(dim=1).log_())
        margin = lse_neg[rows].sub_(x.reshape(-1)[flat])  # log sum_{j not in Y} exp(x_j - x_i), (P,)
        coef = w[cols].mul_(scale.to(x.device))  # w_i / (|Y| B)
        loss = torch.dot(F.softplus(margin), coef)
        ctx.save_for_backward(softmax_neg, rows, flat, margin.sigmoid_().mul_(coef))
        return loss

    @staticmethod
    def backward(ctx, grad_out: Tensor):  # type: ignore[override]
        softmax_neg, rows, flat, weighted_sig = ctx.saved_tensors
        weighted_sig = weighted_sig * grad_out
        row_total = softmax_neg.new_zeros(softmax_neg.shape[0]).index_add_(0, rows, weighted_sig)
        grad = softmax_neg * row_total[:, None]
        grad.view(-1).index_add_(0, flat, weighted_sig.neg_())
        return grad, None, None, None


def wlsep(
    logits: Tensor, targets: Tensor, class_weights: Tensor | None = None, *, unknown_weight: float = 0.0
) -> Tensor:
    """Weighted LSEP (wLSEP), eq. 4 of the paper.

    Per video: ``(1/|Y|) sum_{i in Y} w_i log(1 + sum_{j not in Y} a_j exp(x_j - x_i))``
    (``a_j`` 1 for a negative, ``unknown_weight`` for an unknown class), computed as
    ``sum_{i in Y} w_i softplus(LSE_{j not in Y} (x_j + log a_j) - x_i) / |Y|`` with a
    fused closed-form backward (see ``_WLSEP``). A video without negatives has
    ``LSE_neg ~ -1e30``: its softplus and sigmoids are exactly 0.

    Args:
        logits: ``(B, C)`` scores.
        targets: ``(B, C)`` labels in ``{1, 0, -1}`` (-1: unknown).
        class_weights: ``(C,)`` weights ``w_i`` or ``None``.
        unknown_weight: weight in ``[0, 1]`` of an unknown class's pair terms.

    Returns:
        Scalar batch mean of the per-video losses.
    """
    with torch.autocast(device_type=logits.device.type, enabled=False):
        x, y, u, w = _prepare(logits, targets, class_weights, unknown_weight)
        if w is None:
            w = torch.ones(x.shape[1], device=x.device, dtype=x.dtype)
        neg_scores = _negative_scores(x.detach(), y, u, unknown_weight)
        return _WLSEP.apply(x, y, w, neg_scores)


def warp(
    logits: Tensor, targets: Tensor, class_weights: Tensor | None = None, *, unknown_weight: float = 0.0
) -> Tensor:
    """Weighted approximate-rank pairwise loss (WARP), eq. 2 of the paper.

    Per video: ``(1/|Y|) sum_{i in Y} w_i W(R(x_i)) sum_{j not in Y} max(0, 1 + x_j - x_i)``
    with ``W(r) = sum_{k=1..r} 1/k`` and ``R(x_i)`` the 1-based position of class
    ``i`` in the descending order of the video's scores (ties broken by class
    index; no gradient flows through the rank).

    Unknown classes: ``R(x_i)`` is ``1 + `` the number of known classes ahead of ``i``
    plus ``unknown_weight`` times the number of unknown ones, and an unknown class's
    hinge term is scaled by ``unknown_weight``; at a fractional rank ``W(r)`` is
    ``digamma(r + 1) + gamma`` (equal to the harmonic sum at whole ranks).

    One stable descending sort of each row gives both the ranks and the hinge
    sums: with ``k_i`` the number of negatives scoring above ``x_i - 1`` and
    ``S_i`` the sum of their scores, ``sum_j max(0, 1 + x_j - x_i) = k_i (1 - x_i) + S_i``.
    ``k_i`` and ``S_i`` are prefix counts and prefix sums over the sorted row,
    read at the position where ``x_i - 1`` would be inserted (``searchsorted``).

    Args:
        logits: ``(B, C)`` scores.
        targets: ``(B, C)`` labels in ``{1, 0, -1}`` (-1: unknown).
        class_weights: ``(C,)`` weights ``w_i`` or ``None``.
        unknown_weight: weight in ``[0, 1]`` of an unknown class in ranks and hinges.

    Returns:
        Scalar batch mean of the per-video losses.
    """
    with torch.autocast(device_type=logits.device.type, enabled=False):
        x, y, u, w = _prepare(logits, targets, class_weights, unknown_weight)
        batch, classes = x.shape
        sorted_x, order = x.sort(dim=1, descending=True, stable=True)  # differentiable values
        # Weight of each sorted entry as a negative: 1 negative, 0 positive, a unknown.
        negative = 1.0 - y if u is None else 1.0 - y - (1.0 - unknown_weight) * u
        sorted_neg = negative.gather(1, order)
        zero = x.new_zeros(batch, 1)
        # prefix_*[:, p] = over the first p sorted entries (p = 0..C).
        prefix_sum = torch.cat([zero, torch.cumsum(sorted_x * sorted_neg, dim=1)], dim=1)
        with torch.no_grad():
            steps = torch.arange(1, classes + 1, device=x.device)
            harmonic = torch.cumsum(1.0 / steps.to(x.dtype), dim=0)
            if u is None:
                rank = torch.empty_like(order).scatter_(1, order, steps.expand(batch, -1))
                rank_weight = harmonic[rank - 1]  # W(R(x_i)), (B, C)
            else:
                # R = 1 + (known classes ahead) + a (unknown classes ahead) in the sorted
                # row; the counts are exact sums of 0s and 1s, so without unknown classes
                # R is the position itself, as above.
                sorted_unknown = u.gather(1, order)
                unknown_ahead = torch.cumsum(sorted_unknown, dim=1) - sorted_unknown
                known_ahead = (steps - 1).to(x.dtype) - unknown_ahead
                sorted_rank = known_ahead + 1.0 + unknown_weight * unknown_ahead
                rank = torch.empty_like(x).scatter_(1, order, sorted_rank)
                whole = rank.floor()
                rank_weight = harmonic[whole.long() - 1]  # whole ranks: the same table as above
                if unknown_weight not in (0.0, 1.0):
                    rank_weight = torch.where(rank == whole, rank_weight,
                                              torch.digamma(rank + 1.0) + _EULER_GAMMA)
            prefix_count = torch.cat([zero, torch.cumsum(sorted_neg, dim=1)], dim=1)
            # Entries > x_i - 1 form a prefix of the descending row; its length is
            # C minus the insertion point of x_i - 1 in the ascending row.
            ascending = sorted_x.detach().flip(1).contiguous()
            above = classes - torch.searchsorted(ascending, (x - 1.0).contiguous(), right=True)
            count = prefix_count.gather(1, above)
        hinge = count * (1.0 - x) + prefix_sum.gather(1, above)
        per_class = rank_weight * hinge * y
        if w is not None:
            per_class = per_class * w
        return (per_class.sum(dim=1) / _num_positives(y)).mean()


LOSSES: dict[str, LossFn] = {"bce": bce, "warp": warp, "lsep": lsep, "wlsep": wlsep}
"""Command-line names of the losses (``--loss``)."""


def get_loss(name: str) -> LossFn:
    """Return the loss called ``name`` (one of ``LOSSES``).

    Raises:
        ValueError: naming the unknown loss and the choices.
    """
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(ERR_UNKNOWN_LOSS.format(name=name, choices=sorted(LOSSES))) from None
