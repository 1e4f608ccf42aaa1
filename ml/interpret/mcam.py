"""Multi-label class activation mapping, mCAM (Section 5.1).

For every predicted class ``c`` the class activation map (Zhou et al. 2016) is
``CAM_c = sum_d W[c, d] * F[d]`` over the final convolutional features ``F``
(``(D, h, w)``, or ``(D, T, h, w)`` for video models) and the classifier weights
``W`` (``(C, D)``). Maps are upsampled (bilinear) to the frame size and
min-max normalised to ``[0, 1]`` per class. **Video models:** with
``temporal="mean"`` (the default) the map is computed from the features
averaged over time, which equals the mean of the per-step maps because CAM is
linear; ``temporal="frames"`` keeps one map per temporal feature step (each
class normalised over the whole clip, so quiet steps stay dim) and combines
every step on its own.

**Pairwise suppression (the paper's "similar values", made precise).** For
the normalised maps ``m_i`` of two predicted classes, let
``d_ij = 1 - <m_i, m_j> / (|m_i| |m_j|)`` be their cosine distance over all
pixels (1 when a map is all zero). When ``d_ij >= threshold`` (the paper uses
``1e-4``), a pixel ``p`` has *similar values* in both maps when

    m_i(p) >= floor  and  m_j(p) >= floor  and  |m_i(p) - m_j(p)| <= similarity,

i.e. both classes use the pixel and neither clearly dominates it. Such pixels
are set to 0 in both maps. All pairs are judged on the *original* maps and the
zeros applied together, so the result does not depend on the order of the
pairs. The paper says "greater than" the threshold; ``>=`` differs only at
equality and makes ``threshold=0`` compare every pair, identical maps included,
which is the paper's "strict comparison". A threshold above 2 (the largest
cosine distance) never triggers.

The combined map is the per-pixel maximum of the suppressed maps; the class
attaining it *owns* the pixel (``owner``; ``-1`` where the maximum is below
``floor``). Finally a 5x5 Gaussian (sigma 1.1, OpenCV's default for a 5x5
kernel; edges replicated) smooths the combined map for display.

Two properties follow and are tested (``tests/ml/test_interpret_mcam.py``):

* with a threshold that never triggers, ``combined`` is exactly the per-pixel
  maximum of the class maps;
* with ``threshold=0`` no pixel is *claimed* by two classes, where class ``c``
  claims ``p`` when its suppressed value is at least ``floor`` and within
  ``similarity`` of the combined value at ``p``. (Two claimants would both be
  at least ``floor`` and within ``similarity`` of each other at ``p``: exactly
  the pixels the suppression zeroed.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "DEFAULT_FLOOR",
    "DEFAULT_SIMILARITY",
    "DEFAULT_THRESHOLD",
    "MultiCAM",
    "Temporal",
    "class_activation_maps",
    "claimants",
    "combine_maps",
    "cosine_distances",
    "gaussian_smooth",
    "multi_label_cam",
    "predict_scores",
    "spatial_features",
    "suppress_overlaps",
]

Temporal = Literal["mean", "frames"]

DEFAULT_THRESHOLD = 1e-4
"""Cosine-distance threshold of Section 5.1 (printed as ``1^{-4}`` in the paper)."""
DEFAULT_SIMILARITY = 0.1
"""Largest ``|m_i - m_j|`` (maps in [0, 1]) that counts as "similar values"."""
DEFAULT_FLOOR = 0.2
"""Smallest normalised CAM value at which a class uses a pixel."""

ERR_NO_SPATIAL = "mCAM needs a spatial feature map; {name} has none (audio models cannot be mapped onto a frame)"
ERR_FEATURE_SHAPE = "features must be (D, h, w) or (D, T, h, w); got {shape}"
ERR_WEIGHT = "classifier weight must be (C, D) with D = {d}; got {shape}"
ERR_FLOOR = "floor must be in (0, 1]; got {floor}"
ERR_SIMILARITY = "similarity must be non-negative; got {similarity}"
ERR_NO_CLASSES = "no classes to map (top_k must be at least 1)"


@dataclass(frozen=True)
class MultiCAM:
    """The result of ``multi_label_cam``; ``S`` is ``(H, W)``, or ``(T', H, W)`` per frame.

    Attributes:
        classes: the K mapped classes, highest score first.
        scores: ``(K,)`` sigmoid probabilities of those classes.
        maps: ``(K, *S)`` normalised class maps in ``[0, 1]``.
        suppressed: ``(K, *S)`` maps after the pairwise suppression.
        combined: ``S`` per-pixel maximum of ``suppressed`` (before smoothing).
        owner: ``S`` int64 index into ``classes`` of the class attaining
            ``combined``, ``-1`` where ``combined < floor``.
        smoothed: ``S`` ``combined`` after the 5x5 Gaussian.
        distances: ``(K, K)`` cosine distances of the maps (``(T', K, K)`` per frame).
        threshold, similarity, floor: the parameters used.
    """

    classes: tuple[int, ...]
    scores: Tensor
    maps: Tensor
    suppressed: Tensor
    combined: Tensor
    owner: Tensor
    smoothed: Tensor
    distances: Tensor
    threshold: float
    similarity: float
    floor: float


def _normalise(maps: Tensor) -> Tensor:
    """Min-max normalise each ``maps[k]`` to ``[0, 1]`` (a constant map becomes 0)."""
    flat = maps.flatten(1)
    low = flat.min(dim=1, keepdim=True).values
    span = flat.max(dim=1, keepdim=True).values - low
    out = torch.where(span > 0, (flat - low) / span.clamp_min(torch.finfo(maps.dtype).tiny), torch.zeros_like(flat))
    return out.view_as(maps)


def class_activation_maps(
    *,
    features: Tensor,
    weight: Tensor,
    classes: Sequence[int],
    size: tuple[int, int] | None = None,
    temporal: Temporal = "mean",
) -> Tensor:
    """Normalised class activation maps.

    Args:
        features: ``(D, h, w)`` image features or ``(D, T, h, w)`` clip features.
        weight: ``(C, D)`` classifier weight.
        classes: the K classes to map.
        size: ``(H, W)`` to upsample to (bilinear), or ``None`` to keep ``(h, w)``.
        temporal: for clip features, ``"mean"`` (one map from the time-averaged
            features) or ``"frames"`` (one map per temporal step).

    Returns:
        ``(K, H, W)``, or ``(K, T, H, W)`` for ``temporal="frames"`` on clip
        features; each class min-max normalised to ``[0, 1]`` over all its pixels.
    """
    if features.ndim not in (3, 4):
        raise ValueError(ERR_FEATURE_SHAPE.format(shape=tuple(features.shape)))
    if weight.ndim != 2 or weight.shape[1] != features.shape[0]:
        raise ValueError(ERR_WEIGHT.format(d=features.shape[0], shape=tuple(weight.shape)))
    if not classes:
        raise ValueError(ERR_NO_CLASSES)
    features = features.float()
    if features.ndim == 4 and temporal == "mean":
        features = features.mean(dim=1)  # CAM is linear: mean of per-step maps == map of mean features
    w = weight.float()[list(classes)]
    maps = torch.einsum("kd,d...->k...", w, features)  # CAM_c = sum_d W[c, d] F[d]   (K, [T,] h, w)
    if size is not None and tuple(maps.shape[-2:]) != tuple(size):
        lead = maps.shape[:-2]
        maps = F.interpolate(maps.reshape(-1, 1, *maps.shape[-2:]), size=size, mode="bilinear",
                             align_corners=False).view(*lead, *size)
    return _normalise(maps)


def cosine_distances(maps: Tensor) -> Tensor:
    """``(K, *S) -> (K, K)``: ``1 - cos`` between flattened maps; 1 against an all-zero map."""
    flat = maps.flatten(1).double()
    norms = flat.norm(dim=1)
    cos = (flat @ flat.T) / (norms[:, None] * norms[None, :]).clamp_min(1e-300)
    cos = torch.where((norms[:, None] > 0) & (norms[None, :] > 0), cos, torch.zeros_like(cos))
    distances = (1.0 - cos).clamp(0.0, 2.0)
    distances.fill_diagonal_(0.0)
    return distances.to(maps.dtype)


def _check(similarity: float, floor: float) -> None:
    if not 0.0 < floor <= 1.0:
        raise ValueError(ERR_FLOOR.format(floor=floor))
    if similarity < 0.0:
        raise ValueError(ERR_SIMILARITY.format(similarity=similarity))


def suppress_overlaps(
    maps: Tensor,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    similarity: float = DEFAULT_SIMILARITY,
    floor: float = DEFAULT_FLOOR,
) -> tuple[Tensor, Tensor]:
    """Zero the pixels where two sufficiently different maps have similar values.

    Args:
        maps: ``(K, *S)`` normalised maps.
        threshold: pairs with cosine distance ``>= threshold`` are compared.
        similarity: ``|m_i - m_j| <= similarity`` counts as similar.
        floor: both values must be at least ``floor``.

    Returns:
        ``(suppressed (K, *S), distances (K, K))``; see the module docstring.
    """
    _check(similarity, floor)
    distances = cosine_distances(maps)
    active = maps >= floor
    erase = torch.zeros_like(active)
    k = maps.shape[0]
    for i in range(k):
        for j in range(i + 1, k):
            if not distances[i, j] >= threshold:
                continue
            similar = active[i] & active[j] & ((maps[i] - maps[j]).abs() <= similarity)
            erase[i] |= similar
            erase[j] |= similar
    return maps.masked_fill(erase, 0.0), distances


def combine_maps(maps: Tensor, *, floor: float = DEFAULT_FLOOR) -> tuple[Tensor, Tensor]:
    """Per-pixel maximum over classes and the class attaining it.

    Args:
        maps: ``(K, *S)``.
        floor: pixels whose maximum is below it belong to no class.

    Returns:
        ``(combined S, owner S int64)``: ties go to the earlier (higher-scoring)
        class; ``owner`` is ``-1`` where ``combined < floor``.
    """
    combined, owner = maps.max(dim=0)
    return combined, torch.where(combined >= floor, owner, torch.full_like(owner, -1))


def claimants(suppressed: Tensor, *, similarity: float, floor: float) -> Tensor:
    """How many classes claim each pixel (see the module docstring).

    Args:
        suppressed: ``(K, *S)`` maps after ``suppress_overlaps``.

    Returns:
        ``S`` int64: classes with a value ``>= floor`` and within ``similarity`` of the maximum.
    """
    top = suppressed.max(dim=0).values
    return ((suppressed >= floor) & (suppressed >= top - similarity)).sum(dim=0)


def gaussian_smooth(image: Tensor, *, size: int = 5, sigma: float = 1.1) -> Tensor:
    """Separable Gaussian blur of the last two dimensions (edges replicated).

    Args:
        image: ``(*, H, W)``.
        size: odd kernel side (5 in the paper).
        sigma: standard deviation in pixels (1.1: OpenCV's choice for 5x5).

    Returns:
        Same shape as ``image``.
    """
    radius = size // 2
    x = torch.arange(size, dtype=torch.float64) - radius
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    kernel = (kernel / kernel.sum()).to(image.device, image.dtype)
    lead, (h, w) = image.shape[:-2], image.shape[-2:]
    flat = image.reshape(-1, 1, h, w)
    flat = F.pad(flat, (radius, radius, radius, radius), mode="replicate")
    flat = F.conv2d(flat, kernel.view(1, 1, 1, size))
    flat = F.conv2d(flat, kernel.view(1, 1, size, 1))
    return flat.view(*lead, h, w)


def spatial_features(model: nn.Module, inputs: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    """The spatial feature map of one input and the matching classifier columns.

    Uses the hooks every model of ``ml.models`` exposes (``features``,
    ``classifier``); for fusion, the video map and the first
    ``video.feature_dim`` columns (the audio part of a fusion score is constant
    over the frame, so it shifts no pixel).

    Args:
        model: an ``ml.models`` model or a 2D ``ResNet`` (eval mode).
        inputs: ``forward``'s inputs for a batch of one.

    Returns:
        ``(features (D, [T,] h, w), weight (C, D))``.
    """
    features = model.features(*inputs)
    weight = model.classifier.weight
    if isinstance(features, tuple):  # fusion: (video map, audio map)
        features = features[0]
        weight = weight[:, : features.shape[1]]
    if features.ndim < 4:
        raise ValueError(ERR_NO_SPATIAL.format(name=type(model).__name__))
    return features[0], weight


def predict_scores(model: nn.Module, inputs: Sequence[Tensor]) -> Tensor:
    """``(C,)`` sigmoid probabilities of a batch of one."""
    return torch.sigmoid(model(*inputs).float())[0]


def _combine(maps: Tensor, threshold: float, similarity: float, floor: float
             ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    suppressed, distances = suppress_overlaps(maps, threshold=threshold, similarity=similarity, floor=floor)
    combined, owner = combine_maps(suppressed, floor=floor)
    return suppressed, combined, owner, gaussian_smooth(combined), distances


@torch.no_grad()
def multi_label_cam(
    model: nn.Module,
    inputs: Sequence[Tensor],
    *,
    size: tuple[int, int],
    top_k: int = 3,
    min_score: float = 0.0,
    threshold: float = DEFAULT_THRESHOLD,
    similarity: float = DEFAULT_SIMILARITY,
    floor: float = DEFAULT_FLOOR,
    temporal: Temporal = "mean",
) -> MultiCAM:
    """mCAM of one image or clip (Section 5.1).

    Args:
        model: eval-mode model with ``features``/``classifier`` hooks.
        inputs: ``forward``'s inputs for a batch of one (e.g. ``(1, 3, T, H, W)``).
        size: ``(H, W)`` of the frame the maps are drawn on.
        top_k: map the K highest-scoring classes ...
        min_score: ... that have a probability of at least this (the best class always).
        threshold: cosine-distance threshold of the suppression (``inf``: never).
        similarity: "similar values" tolerance.
        floor: smallest value at which a class uses a pixel.
        temporal: ``"mean"`` or ``"frames"`` for clip models.

    Returns:
        The maps, their combination and owner map.
    """
    if top_k < 1:
        raise ValueError(ERR_NO_CLASSES)
    scores = predict_scores(model, inputs)
    top_scores, top_classes = scores.topk(min(top_k, scores.numel()))
    keep = [0] + [i for i in range(1, len(top_classes)) if top_scores[i] >= min_score]
    classes = tuple(int(top_classes[i]) for i in keep)
    features, weight = spatial_features(model, inputs)
    maps = class_activation_maps(features=features, weight=weight, classes=classes, size=size, temporal=temporal)
    if maps.ndim == 3:
        suppressed, combined, owner, smoothed, distances = _combine(maps, threshold, similarity, floor)
    else:  # (K, T', H, W): every temporal step on its own
        steps = [_combine(maps[:, t], threshold, similarity, floor) for t in range(maps.shape[1])]
        suppressed = torch.stack([s[0] for s in steps], dim=1)
        combined, owner, smoothed, distances = (torch.stack([s[i] for s in steps]) for i in range(1, 5))
    return MultiCAM(classes=classes, scores=scores[list(classes)], maps=maps, suppressed=suppressed,
                    combined=combined, owner=owner, smoothed=smoothed, distances=distances,
                    threshold=float(threshold), similarity=float(similarity), floor=float(floor))

