"""Per-unit top quantiles of activations over a whole dataset, in bounded memory.

NetDissect thresholds each unit at the value exceeded by a fraction ``q``
(0.005) of all its activations over the dataset (every spatial position of
every image). Keeping the activations grows with the dataset (2,048 units x 49
positions x 60,000 images is 24 GB in float32), so ``StreamingQuantile`` keeps
one histogram of ``bins`` equal bins per unit instead: memory
``groups x units x bins`` counts, whatever the number of images.

**Adaptive range.** Each unit's range ``[lo, lo + bins * width)`` starts at the
first batch's minimum and maximum. A later value outside doubles the width,
merging neighbouring bins in pairs, and extends the range to the side of the
value (to the right: old bin ``j`` goes to ``j // 2``; to the left: to
``bins / 2 + j // 2``); this repeats until the value fits. Merging is exact, so
counts are never approximated, only coarsened.

**Read-out and error bound.** With ``n`` values and ``k = ceil(q n)``, the
estimate lies in the bin holding the k-th largest value, interpolated linearly
in it. Hence, per unit,

    |estimate - exact| <= width,

the unit's final bin width (``StreamingQuantile.width``; ``ml.netdissect``
writes its maximum and median to ``summary.json``), and at most that bin's count
of values lie between the estimate and the exact quantile. Each doubling is
caused by a value outside the current range, so the width stays within a small
factor of ``(max - min) / bins``: ``(max - min) / bins`` when the first batch
spans the range; for post-ReLU activations (minimum 0 from the first batch)
only right-doublings happen and ``width <= 2 max / bins``. With the default 1,024
bins that is 0.2 % of the unit's largest activation.

``groups`` keep separate histograms over shared ranges (one per source
dataset), so the quantile of any union of groups is read from the sum of
their counts: one pass gives the thresholds for Broden alone, the Action Regions
alone and both (Table 5).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["StreamingQuantile"]

ERR_BINS = "bins must be an even number of at least 2; got {bins}"
ERR_SHAPE = "values must be (N, {units}); got {shape}"
ERR_EMPTY = "no values were added to the selected groups"
ERR_Q = "q must be in [0, 1]; got {q}"


class StreamingQuantile:
    """Histogram sketch of the upper quantiles of many units at once.

    Args:
        units: number of units (columns of the values).
        bins: bins per unit (even).
        groups: independent histograms sharing each unit's range.
        device: where the counts live.
    """

    def __init__(self, units: int, *, bins: int = 1024, groups: int = 1,
                 device: torch.device | str = "cpu") -> None:
        if bins < 2 or bins % 2:
            raise ValueError(ERR_BINS.format(bins=bins))
        self.units, self.bins, self.groups = units, bins, groups
        self.device = torch.device(device)
        self.counts = torch.zeros(groups, units, bins, dtype=torch.int64, device=self.device)
        self.lo = torch.zeros(units, dtype=torch.float64, device=self.device)
        self.width = torch.zeros(units, dtype=torch.float64, device=self.device)
        self.started = False

    @property
    def hi(self) -> Tensor:
        """``(units,)`` exclusive upper ends of the ranges."""
        return self.lo + self.width * self.bins

    def _start(self, low: Tensor, high: Tensor) -> None:
        span = high - low
        # A constant first batch still needs a positive width; 1e-6 of the value's
        # magnitude (or of 1) keeps later doublings few.
        floor = torch.maximum(high.abs(), torch.ones_like(high)) * 1e-6
        self.lo = low.clone()
        self.width = torch.maximum(span * (1 + 1e-9), floor) / self.bins
        self.started = True

    def _grow(self, low: Tensor, high: Tensor) -> None:
        half = self.bins // 2
        while True:
            left = low < self.lo
            right = ~left & (high >= self.hi)
            units = (left | right).nonzero()[:, 0]
            if not len(units):
                return
            old = self.counts[:, units]
            merged = old[..., 0::2] + old[..., 1::2]  # (G, n, bins / 2): pairs of bins
            moved = torch.zeros_like(old)
            to_left = left[units]
            moved[:, ~to_left, :half] = merged[:, ~to_left]  # range extends right: bin j -> j // 2
            moved[:, to_left, half:] = merged[:, to_left]  # range extends left: bin j -> bins/2 + j // 2
            self.counts[:, units] = moved
            self.lo[units] = torch.where(to_left, self.lo[units] - self.width[units] * self.bins, self.lo[units])
            self.width[units] = self.width[units] * 2

    def update(self, values: Tensor, *, group: int = 0) -> None:
        """Add ``values``: ``(N, units)``, e.g. every position of a batch of maps.

        Non-finite values are ignored.
        """
        if values.ndim != 2 or values.shape[1] != self.units:
            raise ValueError(ERR_SHAPE.format(units=self.units, shape=tuple(values.shape)))
        if values.shape[0] == 0:
            return
        values = values.to(self.device, torch.float64)
        finite = torch.isfinite(values)
        if not bool(finite.all()):
            values = torch.where(finite, values, torch.nan)
        low = torch.nan_to_num(values, nan=math.inf).min(dim=0).values
        high = torch.nan_to_num(values, nan=-math.inf).max(dim=0).values
        seen = torch.isfinite(low)
        low = torch.where(seen, low, self.lo if self.started else torch.zeros_like(low))
        high = torch.where(seen, high, low)
        if not self.started:
            self._start(low, high)
        else:
            self._grow(low, high)
        index = ((values - self.lo) / self.width).floor().clamp_(0, self.bins - 1)
        flat = (torch.arange(self.units, device=self.device) * self.bins + index)
        flat = flat[torch.isfinite(values)].long()
        target = self.counts[group].view(-1)
        target.index_add_(0, flat, torch.ones_like(flat))

    def count(self, groups: Sequence[int] | None = None) -> Tensor:
        """``(units,)`` number of values added to ``groups`` (default: all)."""
        return self._counts(groups).sum(dim=-1)

    def _counts(self, groups: Sequence[int] | None) -> Tensor:
        chosen = list(range(self.groups)) if groups is None else list(groups)
        return self.counts[chosen].sum(dim=0)

    def quantile(self, q: float, *, groups: Sequence[int] | None = None) -> Tensor:
        """Per unit, the value exceeded by a fraction ``q`` of the values.

        Args:
            q: upper tail fraction (NetDissect: 0.005).
            groups: the groups whose values count (default: all).

        Returns:
            ``(units,)`` float64 estimates, each within ``width`` of the exact
            ``ceil(q n)``-th largest value.

        Raises:
            ValueError: when no value was added to those groups.
        """
        if not 0.0 <= q <= 1.0:
            raise ValueError(ERR_Q.format(q=q))
        counts = self._counts(groups).double()  # (U, B)
        n = counts.sum(dim=1)
        if not bool((n > 0).all()):
            raise ValueError(ERR_EMPTY)
        target = q * n  # values that should lie above the threshold
        # at_or_above[b] = values in bins >= b (non-increasing in b)
        at_or_above = counts.flip(-1).cumsum(-1).flip(-1)
        # the highest bin b with at_or_above[b] >= target holds the ceil(q n)-th largest value
        holds = at_or_above >= target[:, None] - 1e-9 * n[:, None]
        b = (holds.long() * torch.arange(1, self.bins + 1, device=self.device)).argmax(dim=1)
        above = at_or_above.gather(1, (b + 1).clamp(max=self.bins - 1)[:, None])[:, 0]
        above = torch.where(b + 1 >= self.bins, torch.zeros_like(above), above)
        inside = counts.gather(1, b[:, None])[:, 0]
        fraction = torch.where(inside > 0, ((target - above) / inside.clamp_min(1)).clamp(0.0, 1.0),
                               torch.zeros_like(inside))
        return self.lo + self.width * (b.double() + 1.0 - fraction)
