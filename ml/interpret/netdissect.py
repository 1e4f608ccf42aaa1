"""Network Dissection with action concepts (Sections 5.2.2 and 7.2; Bau et al. 2017).

For every unit ``k`` of a probed layer and every concept ``c`` of a
Broden-format dataset (``ml.interpret.broden``):

1. **Threshold.** ``T_k`` is the unit's top ``quantile`` (0.005) value over all
   its activations on the dataset: every spatial position of every image, at
   the layer's own resolution (as NetDissect). Streaming histograms keep this
   in bounded memory (``ml.interpret.quantile``, error bound there).
2. **Masks.** The unit's map of each image is upsampled (bilinear,
   ``align_corners=False``, as NetDissect-Lite's ``imresize(mode="F")``) to the
   image's segmentation size ``(sh, sw)`` and ``M_k = A_k > T_k``.
3. **IoU over the dataset.** ``IoU(k, c) = sum_x |M_k(x) & L_c(x)| / sum_x
   |M_k(x) | L_c(x)|``: sums of intersections over sums of unions. An
   image-level label (scene, texture) covers its whole image. As in the
   NetDissect paper, the sums run over the images annotated with ``c``'s
   (primary) category, so a unit firing on images that have no object
   annotation is not blamed for missing every object. (NetDissect-Lite
   approximates "annotated" per pixel; we use the image's ``index.csv`` row.)
4. **Label.** The unit's label is its concept of highest IoU (the runner-up is
   the second); it is *interpretable* when that IoU is at least
   ``iou_threshold`` (0.04). A unit whose best IoU is 0 gets no label (``-``).

Two passes over the data run the model twice (thresholds, then IoU) instead of
storing activations, so memory does not grow with the dataset: per layer and
view it holds the histograms (``sources x units x bins`` counts), the tallies
(``units x labels``) and the ``units x top_images`` best images. In the second
pass only the units whose map exceeds their threshold somewhere in an image are
upsampled for it (bilinear values never exceed the largest input, so the others
have empty masks): at ``q = 0.005`` that is a small share of the units.

**Views** (Table 5, Fig. 11): a dataset merged from several sources (Broden,
Action Regions) is dissected at once for several subsets of sources, e.g.
Broden alone, the Action Regions alone and both: each view has its own
thresholds (quantiles over its images) and tallies; the forward passes are shared.

**Video models** see each image as a clip of identical frames
(``ml.interpret.activations``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from ml.interpret.activations import LayerProbe
from ml.interpret.broden import Broden
from ml.interpret.inputs import normalise_images
from ml.interpret.quantile import StreamingQuantile
from ml.interpret.render import unit_thumbnail

__all__ = [
    "DEFAULT_IOU_THRESHOLD",
    "DEFAULT_QUANTILE",
    "ConceptTally",
    "Dissection",
    "LayerResult",
    "default_views",
    "dissect",
    "thumbnail_name",
    "upsample",
]

log = logging.getLogger(__name__)

DEFAULT_QUANTILE = 0.005
DEFAULT_IOU_THRESHOLD = 0.04

ERR_NO_IMAGES = "the dataset has no images"
ERR_VIEW = "view {name!r} names unknown sources {sources}; the dataset has {count}"
ERR_NO_VALID = "view {name!r} has no readable image"


class ConceptTally:
    """Sums of intersections and of union parts for one layer and view.

    Args:
        units: ``U``.
        labels: ``L`` (label numbers ``0 .. L-1``; 0 is never counted).
        categories: ``C``.
        device: where the sums live (float64).

    Attributes:
        intersection: ``(U, L)`` sum over images of ``|M_k & L_c|``.
        unit_pixels: ``(U, C)`` sum of ``|M_k|`` over images annotated with each category.
        label_pixels: ``(L,)`` sum of ``|L_c|``.
        images: ``(C,)`` images annotated with each category.
    """

    def __init__(self, units: int, labels: int, categories: int, *, device: torch.device | str = "cpu") -> None:
        self.intersection = torch.zeros(units, labels, dtype=torch.float64, device=device)
        self.unit_pixels = torch.zeros(units, categories, dtype=torch.float64, device=device)
        self.label_pixels = torch.zeros(labels, dtype=torch.float64, device=device)
        self.images = torch.zeros(categories, dtype=torch.int64, device=device)

    def add(self, units: Tensor, masks: Tensor, label_masks: Tensor, labels: Tensor, scalars: Tensor,
            categories: Tensor) -> None:
        """Count one image for some units (those whose mask is not empty).

        Args:
            units: ``(m,)`` int64 unit indices.
            masks: ``(m, P)`` float 0/1 unit masks at segmentation resolution (``P`` pixels).
            label_masks: ``(P, n)`` float 0/1 masks of the image's pixel labels.
            labels: ``(n,)`` int64 their numbers (> 0).
            scalars: ``(s,)`` int64 image-level labels (> 0): each covers the whole image.
            categories: ``(c,)`` int64 categories annotated in the image.
        """
        counts = masks.sum(dim=1).double()  # (m,) pixels above threshold
        rows = units[:, None]
        if len(labels):
            inter = (masks @ label_masks).double()  # (m, n)
            self.intersection.index_put_((rows, labels[None, :]), inter, accumulate=True)
        if len(scalars):
            self.intersection.index_put_((rows, scalars[None, :]), counts[:, None].expand(-1, len(scalars)),
                                         accumulate=True)
        if len(categories):
            self.unit_pixels.index_put_((rows, categories[None, :]), counts[:, None].expand(-1, len(categories)),
                                        accumulate=True)

    def add_labels(self, label_masks: Tensor, labels: Tensor, scalars: Tensor, categories: Tensor,
                   pixels: int) -> None:
        """Count the label pixels of one image (``pixels``: its segmentation size)."""
        if len(labels):
            self.label_pixels.index_add_(0, labels, label_masks.sum(dim=0).double())
        if len(scalars):
            self.label_pixels.index_add_(0, scalars, torch.full(scalars.shape, float(pixels), dtype=torch.float64,
                                                                device=scalars.device))
        self.images.index_add_(0, categories, torch.ones_like(categories))

    def iou(self, label_categories: Tensor) -> Tensor:
        """``(U, L)`` IoU; labels without a category (and label 0) get 0.

        Args:
            label_categories: ``(L,)`` int64 primary category index per label, -1 for none.
        """
        valid = label_categories >= 0
        unit_part = self.unit_pixels[:, label_categories.clamp(min=0)]
        union = unit_part + self.label_pixels[None, :] - self.intersection
        iou = torch.where(union > 0, self.intersection / union.clamp_min(1e-12), torch.zeros_like(union))
        iou[:, ~valid] = 0.0
        iou[:, 0] = 0.0
        return iou


@dataclass
class LayerResult:
    """Dissection of one layer on one view.

    Attributes:
        view: the view's name; layer: the layer's name.
        threshold: ``(U,)`` activation thresholds ``T_k``.
        threshold_error: ``(U,)`` bound on ``|T_k - exact quantile|`` (histogram bin width).
        iou: ``(U, L)`` float32 IoU with every label.
        label, runner_up: ``(U,)`` best and second label numbers (0: none).
        score, runner_up_score: ``(U,)`` their IoU.
        interpretable: ``(U,)`` bool, ``score >= iou_threshold``.
        top_images: ``(U, K)`` dataset indices of the images with the highest
            maximum activation (-1 when fewer images), best first.
        top_values: ``(U, K)`` those maxima.
        category_images: images annotated with each category in this view.
    """

    view: str
    layer: str
    threshold: np.ndarray
    threshold_error: np.ndarray
    iou: np.ndarray
    label: np.ndarray
    score: np.ndarray
    runner_up: np.ndarray
    runner_up_score: np.ndarray
    interpretable: np.ndarray
    top_images: np.ndarray
    top_values: np.ndarray
    category_images: dict[str, int] = field(default_factory=dict)

    @property
    def units(self) -> int:
        return len(self.threshold)


@dataclass
class Dissection:
    """All layers and views of one run.

    Attributes:
        dataset: the Broden data.
        layers: probed layers, in the given order.
        views: view name -> source indices; the last is the main view.
        results: ``(view, layer)`` -> result.
        quantile, iou_threshold: the parameters.
        images: images used per view (readable ones).
        thumbnails: ``(layer, unit, rank)`` -> file written, for the report.
    """

    dataset: Broden
    layers: tuple[str, ...]
    views: dict[str, tuple[int, ...]]
    results: dict[tuple[str, str], LayerResult]
    quantile: float
    iou_threshold: float
    images: dict[str, int]
    thumbnails: dict[tuple[str, int, int], Path] = field(default_factory=dict)

    @property
    def main_view(self) -> str:
        return list(self.views)[-1]

    def result(self, layer: str, view: str | None = None) -> LayerResult:
        return self.results[(view or self.main_view, layer)]


def default_views(dataset: Broden) -> dict[str, tuple[int, ...]]:
    """One view per source with images and, with several, one for all of them (``"a+b"``), last."""
    present = sorted({image.source for image in dataset.images})
    views = {dataset.sources[i]: (i,) for i in present}
    if len(present) > 1:
        views["+".join(dataset.sources[i] for i in present)] = tuple(present)
    return views


def thumbnail_name(layer: str, unit: int, rank: int) -> str:
    """Relative path of a top-image thumbnail in the report folder."""
    return f"images/{layer}/unit{unit:04d}_{rank}.jpg"


class _Items(Dataset):
    """Images (resized to one size so they batch) and their segmentations."""

    def __init__(self, dataset: Broden, size: tuple[int, int]) -> None:
        self.dataset, self.size = dataset, size
        self._reported: set[Path] = set()

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict:
        image = self.dataset.images[i]
        try:
            pixels = self.dataset.read_image(image, size=self.size)
            seg = self.dataset.segmentation(image)
            valid = True
        except OSError as error:
            if image.path not in self._reported:
                self._reported.add(image.path)
                log.warning("skipping %s: %s", image.path, error)
            pixels = np.zeros((*self.size, 3), dtype=np.uint8)
            seg, valid = None, False
        return {"index": i, "valid": valid, "image": torch.from_numpy(pixels).permute(2, 0, 1), "seg": seg}


def _collate(items: list[dict]) -> dict:
    return {"index": [it["index"] for it in items], "valid": [it["valid"] for it in items],
            "image": torch.stack([it["image"] for it in items]), "seg": [it["seg"] for it in items]}


_RESIZE: dict[tuple[int, int, str], Tensor] = {}


def _resize_matrix(size_in: int, size_out: int, device: torch.device) -> Tensor:
    """``(size_out, size_in)``: 1D linear interpolation as ``F.interpolate`` does it (``align_corners=False``)."""
    key = (size_in, size_out, str(device))
    if key not in _RESIZE:
        eye = torch.eye(size_in, device=device)[:, None, :]  # (size_in, 1, size_in): one impulse per row
        _RESIZE[key] = F.interpolate(eye, size=size_out, mode="linear", align_corners=False)[:, 0, :].T.contiguous()
    return _RESIZE[key]


def upsample(maps: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear upsampling (``align_corners=False``) as two matrix products.

    Equal to ``F.interpolate(maps, size, mode="bilinear")`` (bilinear is separable)
    up to float rounding, and several times faster on CPUs, where most of a
    dissection's time goes into upsampling ``units`` maps per image.

    Args:
        maps: ``(B, U, h, w)``.
        size: ``(H, W)``.

    Returns:
        ``(B, U, H, W)``.
    """
    h, w = maps.shape[-2:]
    if (h, w) == tuple(size):
        return maps
    rows = _resize_matrix(h, size[0], maps.device)  # (H, h)
    cols = _resize_matrix(w, size[1], maps.device)  # (W, w)
    return torch.matmul(torch.matmul(rows, maps), cols.T)


def _update_top(top_values: Tensor, top_index: Tensor, maxima: Tensor, index: Tensor) -> tuple[Tensor, Tensor]:
    k = top_values.shape[1]
    values = torch.cat([top_values, maxima.T], dim=1)
    indices = torch.cat([top_index, index[None, :].expand(maxima.shape[1], -1)], dim=1)
    best = values.topk(k, dim=1)
    return best.values, indices.gather(1, best.indices)


@torch.no_grad()
def dissect(
    model: nn.Module,
    dataset: Broden,
    *,
    layers: Sequence[str],
    num_frames: int | None = None,
    views: Mapping[str, Sequence[int]] | None = None,
    quantile: float = DEFAULT_QUANTILE,
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
    image_size: tuple[int, int] | None = None,
    batch_size: int = 16,
    workers: int = 0,
    device: torch.device | str = "cpu",
    bins: int = 1024,
    top_images: int = 4,
    unit_block: int = 256,
    thumbnails: Path | str | None = None,
    thumbnail_size: int = 112,
    progress: bool = True,
) -> Dissection:
    """Dissect ``layers`` of ``model`` on ``dataset`` (see the module docstring).

    Args:
        model: eval-mode model (see ``ml.interpret.activations.LayerProbe``).
        dataset: the Broden data (``load_broden``).
        layers: layer names, e.g. ``["layer4"]`` or ``["layer1", ..., "layer4"]`` (Fig. 7).
        num_frames: frames per clip for video models.
        views: view name -> source indices (default: ``default_views``); the last is the main view.
        quantile: upper tail fraction of the thresholds.
        iou_threshold: IoU from which a unit is interpretable.
        image_size: ``(H, W)`` fed to the model (default: the first image's ``ih, iw``).
        batch_size, workers: data loading.
        device: where the model and the tallies run.
        bins: histogram bins per unit (threshold error bound: one bin).
        top_images: best images kept per unit for the report.
        unit_block: units upsampled at a time (bounds the temporary memory).
        thumbnails: folder to write the top images with the unit's mask into
            (``thumbnail_name``; main view), or ``None``.
        thumbnail_size: their side in pixels.
        progress: show progress bars.

    Returns:
        The results per layer and view.
    """
    if not len(dataset):
        raise ValueError(ERR_NO_IMAGES)
    device = torch.device(device)
    views = {name: tuple(sources) for name, sources in (views or default_views(dataset)).items()}
    for name, sources in views.items():
        bad = [s for s in sources if not 0 <= s < len(dataset.sources)]
        if bad:
            raise ValueError(ERR_VIEW.format(name=name, sources=bad, count=len(dataset.sources)))
    first = dataset.images[0]
    size = tuple(image_size) if image_size is not None else (first.ih, first.iw)
    model = model.to(device).eval()
    probe = LayerProbe(model, layers, num_frames=num_frames)
    loader = DataLoader(_Items(dataset, size), batch_size=batch_size, shuffle=False, num_workers=workers,
                        collate_fn=_collate, pin_memory=device.type == "cuda")
    sources = torch.tensor([image.source for image in dataset.images], device=device)
    label_categories = torch.from_numpy(dataset.label_categories()).to(device)
    n_sources = len(dataset.sources)
    sketches: dict[str, StreamingQuantile] = {}
    tops: dict[str, tuple[Tensor, Tensor]] = {}
    seen = torch.zeros(len(dataset), dtype=torch.bool, device=device)

    # Pass 1: quantile histograms per source, and each unit's best images.
    for batch in tqdm(loader, desc="dissect 1/2 thresholds", disable=not progress, dynamic_ncols=True):
        valid = torch.tensor(batch["valid"], device=device)
        if not bool(valid.any()):
            continue
        index = torch.tensor(batch["index"], device=device)[valid]
        seen[index] = True
        maps = probe(normalise_images(batch["image"].to(device))[valid])
        for layer, act in maps.items():
            units = act.shape[1]
            if layer not in sketches:
                sketches[layer] = StreamingQuantile(units, bins=bins, groups=n_sources, device=device)
                tops[layer] = (torch.full((units, top_images), -torch.inf, device=device),
                               torch.full((units, top_images), -1, dtype=torch.int64, device=device))
            for source in sources[index].unique().tolist():
                rows = act[sources[index] == source]
                per_chunk = max(1, (1 << 22) // max(1, units * rows.shape[2] * rows.shape[3]))
                for start in range(0, rows.shape[0], per_chunk):
                    chunk = rows[start : start + per_chunk]
                    sketches[layer].update(chunk.permute(0, 2, 3, 1).reshape(-1, units), group=source)
            tops[layer] = _update_top(*tops[layer], act.flatten(2).max(dim=2).values, index)

    counts = {name: int((seen & torch.isin(sources, torch.tensor(s, device=device))).sum()) for name, s in
              views.items()}
    for name, count in counts.items():
        if count == 0:
            raise ValueError(ERR_NO_VALID.format(name=name))
    thresholds = {(view, layer): sketches[layer].quantile(quantile, groups=list(src)).float()
                  for view, src in views.items() for layer in probe.layers}
    tallies = {(view, layer): ConceptTally(sketches[layer].units, dataset.num_labels, len(dataset.categories),
                                           device=device)
               for view in views for layer in probe.layers}
    main = list(views)[-1]
    wanted: dict[int, list[tuple[str, int, int]]] = {}
    if thumbnails is not None:
        for layer, (_, index) in tops.items():
            for unit, row in enumerate(index.tolist()):
                for rank, image in enumerate(row):
                    if image >= 0:
                        wanted.setdefault(image, []).append((layer, unit, rank))
    written: dict[tuple[str, int, int], Path] = {}

    # Pass 2: masks at segmentation resolution and the IoU tallies.
    for batch in tqdm(loader, desc="dissect 2/2 IoU", disable=not progress, dynamic_ncols=True):
        keep = [i for i, ok in enumerate(batch["valid"]) if ok]
        if not keep:
            continue
        images = batch["image"][keep].to(device)
        index = torch.tensor([batch["index"][i] for i in keep], device=device)
        segs = [batch["seg"][i] for i in keep]
        maps = probe(normalise_images(images))
        maxima = {layer: act.flatten(2).amax(dim=2) for layer, act in maps.items()}  # (B, U)
        for row, seg in enumerate(segs):
            sh, sw = seg.masks.shape[1:]
            label_masks = torch.from_numpy(seg.masks.reshape(len(seg.labels), sh * sw).T).to(device).float()
            labels = torch.from_numpy(seg.labels).to(device)
            scalars = torch.from_numpy(seg.scalars).to(device)
            categories = torch.from_numpy(seg.categories).to(device)
            source = int(sources[index[row]])
            for view, members in views.items():
                if source not in members:
                    continue
                for layer in probe.layers:
                    tally, threshold = tallies[(view, layer)], thresholds[(view, layer)]
                    tally.add_labels(label_masks, labels, scalars, categories, sh * sw)
                    # Bilinear values never exceed the largest input, so a unit whose map stays
                    # below its threshold has an empty mask: skip it (most units, at q = 0.005).
                    active = (maxima[layer][row] > threshold).nonzero()[:, 0]
                    for start in range(0, len(active), unit_block):
                        units = active[start : start + unit_block]
                        up = upsample(maps[layer][row, units][None], (sh, sw))[0].flatten(1)  # (m, P)
                        masks = (up > threshold[units, None]).float()
                        tally.add(units, masks, label_masks, labels, scalars, categories)
        for row, image_index in enumerate(index.tolist()):
            for layer, unit, rank in wanted.get(image_index, ()):
                path = Path(thumbnails) / thumbnail_name(layer, unit, rank)
                path.parent.mkdir(parents=True, exist_ok=True)
                unit_thumbnail(images[row].permute(1, 2, 0).cpu().numpy(), maps[layer][row, unit].cpu(),
                               float(thresholds[(main, layer)][unit]), size=thumbnail_size).save(path, quality=90)
                written[(layer, unit, rank)] = path

    results = {}
    for (view, layer), tally in tallies.items():
        results[(view, layer)] = _result(view, layer, tally, label_categories, thresholds[(view, layer)],
                                         sketches[layer], tops[layer], iou_threshold, dataset)
    return Dissection(dataset=dataset, layers=probe.layers, views=views, results=results, quantile=quantile,
                      iou_threshold=iou_threshold, images=counts, thumbnails=written)


def _result(view: str, layer: str, tally: ConceptTally, label_categories: Tensor, threshold: Tensor,
            sketch: StreamingQuantile, top: tuple[Tensor, Tensor], iou_threshold: float,
            dataset: Broden) -> LayerResult:
    iou = tally.iou(label_categories)
    best = iou.topk(min(2, iou.shape[1]), dim=1)
    score = best.values[:, 0]
    label = torch.where(score > 0, best.indices[:, 0], torch.zeros_like(best.indices[:, 0]))
    second = best.values[:, 1] if iou.shape[1] > 1 else torch.zeros_like(score)
    runner = torch.where(second > 0, best.indices[:, 1], torch.zeros_like(label)) if iou.shape[1] > 1 else label * 0
    values, index = top
    images = tally.images.tolist()
    return LayerResult(
        view=view, layer=layer,
        threshold=threshold.double().cpu().numpy(), threshold_error=sketch.width.cpu().numpy(),
        iou=iou.float().cpu().numpy(), label=label.cpu().numpy(), score=score.cpu().numpy(),
        runner_up=runner.cpu().numpy(), runner_up_score=second.cpu().numpy(),
        interpretable=(score >= iou_threshold).cpu().numpy(),
        top_images=index.cpu().numpy(), top_values=values.cpu().numpy(),
        category_images=dict(zip(dataset.categories, images, strict=True)),
    )
