"""Network Dissection on planted data: hand-built units whose masks are known, so every IoU is known.

The planted network's units fire (value 1, else 0) on colour cues the synthetic
Broden sets draw (``ml.interpret.synthetic``); at the segmentation resolution, so
no upsampling blurs them. With ``quantile=0.5`` every unit's threshold falls
between 0 and 1, so its mask is exactly its cue, and the IoUs below are
computed from the written truth alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from ml.interpret.activations import LayerProbe, resolve_layer
from ml.interpret.analysis import changed_units, table5, units_per_concept
from ml.interpret.broden import Broden, load_broden
from ml.interpret.netdissect import dissect, thumbnail_name, upsample
from ml.interpret.probe import probe_unit, top_actions_per_unit
from ml.interpret.report import UNIT_COLUMNS, write_report
from ml.interpret.synthetic import PlantedBroden, write_planted_broden
from ml.models import build_model
from ml.models.resnet import resnet50
from ml.transforms import IMAGENET_MEAN, IMAGENET_STD

UNITS = ("red", "green", "blue", "marker", "red_left", "dead", "red_left_or_blue")


class Cues(nn.Module):
    """Units firing on the planted cues; ``keep`` selects some of them."""

    def __init__(self, keep: tuple[int, ...] = tuple(range(len(UNITS))), pool: int = 1) -> None:
        super().__init__()
        self.keep, self.pool = keep, pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rgb = x * torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) + torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        on = rgb > 0.5
        red = on[:, 0] & ~on[:, 1] & ~on[:, 2]
        green = on[:, 1] & ~on[:, 0] & ~on[:, 2]
        blue = on[:, 2] & ~on[:, 0] & ~on[:, 1]
        marker = on[:, :, 0, 0].all(dim=1)[:, None, None].expand_as(red)
        left = (torch.arange(x.shape[-1]) < x.shape[-1] // 4)[None, None, :]
        units = [red, green, blue, marker, red & left, torch.zeros_like(red), (red & left) | blue]
        out = torch.stack([units[k] for k in self.keep], dim=1).float()
        return nn.functional.avg_pool2d(out, self.pool) if self.pool > 1 else out


class Planted(nn.Module):
    def __init__(self, pool: int = 1) -> None:
        super().__init__()
        self.layer3 = Cues(keep=(0, 1, 5), pool=pool)
        self.layer4 = Cues(pool=pool)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.layer3(x)
        return self.layer4(x)


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[PlantedBroden, PlantedBroden, Broden]:
    root = tmp_path_factory.mktemp("planted")
    broden = write_planted_broden(root / "broden", kind="broden", images=12, seed=1)
    actions = write_planted_broden(root / "actions", kind="actions", images=8, label_offset=298, seed=2)
    return broden, actions, load_broden([broden.root, actions.root], names=["broden", "action_regions"])


def unit_masks(truth: PlantedBroden) -> np.ndarray:
    """``(units, N, S, S)`` masks of the planted units, from the truth."""
    cues = truth.cues
    left = np.arange(cues["red"].shape[-1]) < cues["red"].shape[-1] // 4
    marker = np.broadcast_to(cues["marker"].any(axis=(1, 2))[:, None, None], cues["red"].shape)
    units = [cues["red"], cues["green"], cues["blue"], marker, cues["red"] & left, np.zeros_like(cues["red"]),
             (cues["red"] & left) | cues["blue"]]
    return np.stack(units)


def reference_iou(sets: list[PlantedBroden], unit: int, concept: str) -> float:
    """sum |M & L| / (sum over images annotated with L's category of |M| + sum |L| - sum |M & L|)."""
    inter = union_unit = label = 0
    for truth in sets:
        masks = unit_masks(truth)[unit]
        category = {"red_box": "object", "green_box": "object", "marked": "scene", "plain": "scene",
                    "waving": "action", "idle": "action"}[concept]
        annotated = truth.annotated.get(category, np.zeros(len(masks), dtype=bool))
        truth_mask = truth.masks.get(concept, np.zeros_like(masks))
        inter += int((masks & truth_mask).sum())
        union_unit += int(masks[annotated].sum())
        label += int(truth_mask.sum())
    union = union_unit + label - inter
    return inter / union if union else 0.0


@pytest.fixture(scope="module")
def dissection(planted):
    *_, data = planted
    return dissect(Planted(), data, layers=["layer3", "layer4"], quantile=0.5, batch_size=5, progress=False)


def test_every_iou_equals_the_reference_computed_from_the_truth(planted, dissection):
    broden, actions, data = planted
    sets = {"broden": [broden], "action_regions": [actions], "broden+action_regions": [broden, actions]}
    assert list(dissection.views) == list(sets)
    number = {label.name: label.number for label in data.labels if label.category}
    result = dissection.result("layer4", "broden+action_regions")
    assert result.iou.shape == (len(UNITS), data.num_labels)
    for view, truth in sets.items():
        result = dissection.result("layer4", view)
        for unit in range(len(UNITS)):
            for concept, n in number.items():
                assert result.iou[unit, n] == pytest.approx(reference_iou(truth, unit, concept), abs=1e-6), \
                    (view, UNITS[unit], concept)


def test_labels_of_the_planted_units(planted, dissection):
    *_, data = planted
    name = {label.number: label.name for label in data.labels}
    both = dissection.result("layer4")
    assert [name[n] for n in both.label] == ["red_box", "green_box", "waving", "marked", "red_box", "-", "waving"]
    assert both.score[:4].tolist() == [1.0, 1.0, 1.0, 1.0]  # exact cues: perfect IoU, image-level scene included
    # the red unit also fires on the action images' unlabelled red boxes, which have no object
    # annotation: they do not count against red_box
    assert both.interpretable.tolist() == [True, True, True, True, True, False, True]
    broden = dissection.result("layer4", "broden")
    assert [name[n] for n in broden.label] == ["red_box", "green_box", "-", "marked", "red_box", "-", "red_box"]
    assert name[int(broden.runner_up[0])] != "red_box"
    assert dissection.images == {"broden": 12, "action_regions": 8, "broden+action_regions": 20}
    assert both.top_images.shape == (len(UNITS), 4)
    marked = [i.index for i in data.images if i.source == 0 and i.index % 3 == 0]
    assert set(both.top_images[3].tolist()) <= set(marked)  # the marker unit's best images are marked scenes


@pytest.mark.parametrize(("size", "out"), [((7, 7), (112, 112)), ((2, 3), (32, 20)), ((4, 4), (4, 4))])
def test_upsampling_is_torch_bilinear(size, out):
    maps = torch.rand(2, 5, *size, generator=torch.Generator().manual_seed(0))
    expected = nn.functional.interpolate(maps, size=out, mode="bilinear", align_corners=False)
    torch.testing.assert_close(upsample(maps, out), expected, atol=1e-6, rtol=0)
    assert upsample(maps, out).max() <= maps.max() + 1e-6  # why units below threshold can be skipped


def test_upsampled_coarse_maps_keep_their_labels(planted):
    *_, data = planted
    coarse = dissect(Planted(pool=2), data, layers=["layer4"], quantile=0.5, progress=False)
    name = {label.number: label.name for label in data.labels}
    result = coarse.result("layer4")
    assert [name[n] for n in result.label[:4]] == ["red_box", "green_box", "waving", "marked"]
    assert result.score[3] == pytest.approx(1.0) and (result.score[:3] > 0.3).all()  # blurred by upsampling


def test_paper_analyses(planted, dissection):
    data = table5(dissection)
    assert data["layer"] == "layer4"
    rows = {r["dataset"]: (r["concepts"], r["interpretable_units"]) for r in data["rows"]}
    assert rows == {"broden": (3, 5), "action_regions": (1, 2), "broden+action_regions": (4, 6)}
    changed = changed_units(dissection, before="broden", after="broden+action_regions")
    assert [u["unit"] for u in changed["units"]] == [2, 6]
    assert changed["transitions"] == {"- -> action": 1, "object -> action": 1}
    concepts = units_per_concept(dissection)
    assert concepts[0]["label"] in ("red_box", "waving") and concepts[0]["units"] == 2
    assert {c["label"]: c["units"] for c in concepts} == {"red_box": 2, "waving": 2, "green_box": 1, "marked": 1}


def test_report_files(planted, tmp_path: Path):
    *_, data = planted
    out = tmp_path / "report"
    result = dissect(Planted(), data, layers=["layer3", "layer4"], quantile=0.5, progress=False, thumbnails=out,
                     top_images=2)
    files = write_report(result, out, model_name="planted", unit_actions={"layer4": [["a", "b"]] * len(UNITS)})
    for name in ("units.csv", "units_broden.csv", "units_action_regions.csv", "summary.json", "report.html",
                 "table5.json", "table5.png", "fig7_blocks.json", "fig7_blocks.png", "fig9_concepts.json",
                 "fig9_concepts.png", "fig11_changed.json", "fig11_changed.png"):
        assert (out / name).is_file(), name
    assert files["units"] == out / "units.csv"
    lines = (out / "units.csv").read_text().splitlines()
    assert lines[0] == ",".join(UNIT_COLUMNS) and len(lines) == 1 + 3 + len(UNITS)
    assert lines[1 + 3 + 2].startswith("layer4,2,action,waving,1.0000,idle,action,")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["views"]["broden"]["layers"]["layer4"]["interpretable_units"] == 5
    assert summary["table5"]["rows"][2]["concepts"] == 4
    assert summary["fig7"]["interpretable_units"]["object"] == [2, 3]
    assert summary["fig11"]["count"] == 2
    assert summary["views"]["broden+action_regions"]["layers"]["layer4"]["threshold_error"]["max"] < 0.01
    html = (out / "report.html").read_text()
    assert "unit 6</b>: waving (action)" in html and "top actions: a, b" in html
    tile = out / thumbnail_name("layer4", 0, 0)
    assert tile.is_file() and f"src='{thumbnail_name('layer4', 0, 0)}'" in html
    fig9 = json.loads((out / "fig9_concepts.json").read_text())["concepts"]
    assert [c["label"] for c in fig9 if c["category"] == "action"] == ["waving"]


def test_views_and_inputs_are_checked(planted):
    broden, actions, data = planted
    only_actions = load_broden([broden.root, actions.root], categories=["action"])  # no broden image left
    result = dissect(Planted(), only_actions, layers=["layer4"], quantile=0.5, progress=False)
    assert list(result.views) == ["actions"] and result.images == {"actions": 8}
    with pytest.raises(ValueError, match="view 'broden' has no readable image"):
        dissect(Planted(), only_actions, layers=["layer4"], views={"broden": (0,)}, progress=False)
    with pytest.raises(ValueError, match="unknown sources"):
        dissect(Planted(), data, layers=["layer4"], views={"x": (5,)}, progress=False)
    with pytest.raises(ValueError, match="no layer 'layer9'"):
        dissect(Planted(), data, layers=["layer9"], progress=False)
    with pytest.raises(ValueError, match="no images"):
        dissect(Planted(), data.select([]), layers=["layer4"], progress=False)


def test_unreadable_images_are_skipped(planted, tmp_path: Path):
    broden, *_ = planted
    data = load_broden([broden.root])
    missing = data.images[0].__class__(**{**data.images[0].__dict__, "path": tmp_path / "gone.png"})
    result = dissect(Planted(), data.select([missing, *data.images[1:]]), layers=["layer4"], quantile=0.5,
                     progress=False)
    assert result.images == {"broden": 11}
    assert result.result("layer4").score[0] == pytest.approx(1.0)


TINY = {"width": 8, "depth": (1, 1, 1, 1)}


@pytest.mark.parametrize("builder", ["i3d_r50", "tsm_r50", "fusion"])
def test_video_models_see_images_as_clips_of_identical_frames(builder: str):
    torch.manual_seed(0)
    kwargs = {"video": TINY, "audio": {"width": 2}} if builder == "fusion" else dict(TINY)
    if builder == "tsm_r50":
        kwargs["num_segments"] = 4
    model = build_model(builder, num_classes=3, **kwargs).eval()
    probe = LayerProbe(model, ["layer3", "layer4"], num_frames=4)
    images = torch.randn(2, 3, 64, 64)
    maps = probe(images)
    clip = images[:, :, None].expand(-1, -1, 4, -1, -1)
    video = model.video if builder == "fusion" else model
    with torch.no_grad():
        final = video.features(clip)  # (B, D, T', h, w)
    assert maps["layer4"].shape == (2, final.shape[1], *final.shape[-2:])
    torch.testing.assert_close(maps["layer4"], final.mean(dim=2))
    assert maps["layer3"].shape[0] == 2 and maps["layer3"].ndim == 4
    expected = {"i3d_r50": "layer4", "tsm_r50": "backbone.layer4", "fusion": "video.layer4"}[builder]
    assert resolve_layer(model, "layer4") == expected


def test_a_video_model_dissects_end_to_end(planted):
    *_, data = planted
    torch.manual_seed(0)
    model = build_model("i3d_r50", num_classes=3, **TINY).eval()
    result = dissect(model, data, layers=["layer4"], num_frames=4, progress=False)
    layer = result.result("layer4")
    assert layer.units == 256 and layer.iou.shape == (256, data.num_labels)
    assert np.isfinite(layer.iou).all() and (layer.iou >= 0).all() and (layer.iou <= 1).all()


def test_audio_models_cannot_be_dissected():
    with pytest.raises(ValueError, match="audio only"):
        LayerProbe(build_model("soundnet", num_classes=3, width=2), ["body"])


def test_probe_sets_one_feature_to_one_and_everything_else_to_zero():
    torch.manual_seed(0)
    model = resnet50(num_classes=6, width=8, depth=(1, 1, 1, 1)).eval()
    nn.init.normal_(model.classifier.bias, std=10.0)  # a large bias must not matter
    features = torch.zeros(1, model.classifier.in_features)
    features[0, 17] = 1.0
    with torch.no_grad():
        logits = model.classifier(features)[0] - model.classifier.bias
    ranked = probe_unit(model.classifier, unit=17, top=4)
    assert [c for c, _ in ranked] == logits.argsort(descending=True)[:4].tolist()
    assert [v for _, v in ranked] == pytest.approx(logits.sort(descending=True).values[:4].tolist(), abs=1e-6)
    assert top_actions_per_unit(model.classifier, units=20, top=4)[17] == [c for c, _ in ranked]
    with pytest.raises(ValueError, match="unit must be"):
        probe_unit(model.classifier, unit=model.classifier.in_features)
