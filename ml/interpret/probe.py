"""Unit-to-class probe (Section 7.2.2).

"If we activate only this unit by setting its values to 1 and all other
feature (including bias) values to 0 we can identify which actions are
correlated" with the unit. With the pooled feature vector ``e_k`` (1 at unit
``k``, 0 elsewhere) and the bias set to 0, the classifier's logits are
``W e_k = W[:, k]``, the k-th column of its weight: the actions ranked by it
are the unit's actions. Units are numbered from 0 as in ``units.csv``; for
fusion models the features are the video features followed by the audio ones.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["probe_unit", "top_actions_per_unit"]

ERR_UNIT = "unit must be in [0, {count}); got {unit}"
ERR_TOP = "top must be at least 1; got {top}"


def probe_unit(classifier: nn.Linear, *, unit: int, top: int = 5) -> list[tuple[int, float]]:
    """The classes with the highest logits when only ``unit`` is on.

    Args:
        classifier: the model's final ``nn.Linear(D, C)``.
        unit: feature index ``k`` in ``[0, D)``.
        top: how many classes.

    Returns:
        ``[(class index, logit)]``, highest first (ties by class index).
    """
    count = classifier.in_features
    if not 0 <= unit < count:
        raise ValueError(ERR_UNIT.format(count=count, unit=unit))
    if top < 1:
        raise ValueError(ERR_TOP.format(top=top))
    with torch.no_grad():
        features = torch.zeros(1, count, dtype=classifier.weight.dtype, device=classifier.weight.device)
        features[0, unit] = 1.0
        logits = F.linear(features, classifier.weight)[0].float().cpu()  # bias deliberately left out (= 0)
    order = sorted(range(len(logits)), key=lambda c: (-float(logits[c]), c))[: min(top, len(logits))]
    return [(c, float(logits[c])) for c in order]


def top_actions_per_unit(classifier: nn.Linear, *, units: int, top: int = 3) -> list[list[int]]:
    """``probe_unit`` for units ``0 .. units-1`` at once: class indices per unit."""
    columns = classifier.weight.detach()[:, :units].T.float().cpu()  # (units, C): row k = W e_k
    k = min(top, columns.shape[1])
    order = torch.sort(-columns, dim=1, stable=True).indices[:, :k]  # ties by class index, like probe_unit
    return order.tolist()
