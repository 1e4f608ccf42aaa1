"""Multi-label CAM (Section 5.1): the CAM formula, the suppression's two properties, smoothing, models."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from ml.interpret.mcam import (
    class_activation_maps,
    claimants,
    combine_maps,
    cosine_distances,
    gaussian_smooth,
    multi_label_cam,
    suppress_overlaps,
)
from ml.models import build_model
from ml.models.resnet import resnet50


def blobs(k: int, size: int = 24, seed: int = 0) -> torch.Tensor:
    """K overlapping Gaussian bumps plus noise, normalised to [0, 1] like class maps."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    maps = []
    for _ in range(k):
        cy, cx = rng.uniform(4, size - 4, size=2)
        sigma = rng.uniform(3, 7)
        bump = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2)) + 0.05 * rng.random((size, size))
        maps.append((bump - bump.min()) / (bump.max() - bump.min()))
    return torch.tensor(np.stack(maps), dtype=torch.float32)


def test_cam_is_the_weighted_sum_of_feature_maps_then_upsampled_and_normalised():
    torch.manual_seed(0)
    features, weight = torch.randn(6, 3, 4), torch.randn(5, 6)
    maps = class_activation_maps(features=features, weight=weight, classes=[3, 1])
    for row, c in enumerate([3, 1]):
        cam = sum(weight[c, d] * features[d] for d in range(6))  # the definition, term by term
        expected = (cam - cam.min()) / (cam.max() - cam.min())
        torch.testing.assert_close(maps[row], expected, atol=1e-5, rtol=0)
    big = class_activation_maps(features=features, weight=weight, classes=[3], size=(12, 16))
    assert big.shape == (1, 12, 16) and float(big.min()) == 0.0 and float(big.max()) == 1.0


def test_video_cam_mean_equals_the_mean_of_per_step_maps_and_frames_keeps_time():
    torch.manual_seed(1)
    features, weight = torch.randn(4, 3, 5, 5), torch.randn(2, 4)
    mean = class_activation_maps(features=features, weight=weight, classes=[0, 1], temporal="mean")
    raw = torch.einsum("kd,dthw->kthw", weight, features).mean(dim=1)
    low, high = raw.amin((1, 2), keepdim=True), raw.amax((1, 2), keepdim=True)
    expected = (raw - low) / (high - low)
    torch.testing.assert_close(mean, expected, atol=1e-5, rtol=0)
    frames = class_activation_maps(features=features, weight=weight, classes=[0, 1], temporal="frames", size=(10, 10))
    assert frames.shape == (2, 3, 10, 10)
    assert float(frames[0].max()) == 1.0 and float(frames[0].min()) == 0.0  # normalised over the whole clip


def test_constant_cam_normalises_to_zero_and_bad_shapes_are_refused():
    maps = class_activation_maps(features=torch.ones(2, 3, 3), weight=torch.ones(1, 2), classes=[0])
    assert float(maps.abs().max()) == 0.0
    with pytest.raises(ValueError, match="classifier weight"):
        class_activation_maps(features=torch.ones(2, 3, 3), weight=torch.ones(1, 3), classes=[0])
    with pytest.raises(ValueError, match="features must be"):
        class_activation_maps(features=torch.ones(2, 3), weight=torch.ones(1, 2), classes=[0])


def test_cosine_distances_reference():
    maps = blobs(3)
    distances = cosine_distances(maps)
    flat = maps.flatten(1).double().numpy()
    for i in range(3):
        for j in range(3):
            cos = flat[i] @ flat[j] / np.linalg.norm(flat[i]) / np.linalg.norm(flat[j])
            assert float(distances[i, j]) == pytest.approx(0.0 if i == j else 1 - cos, abs=1e-6)
    zero = cosine_distances(torch.stack([maps[0], torch.zeros_like(maps[0])]))
    assert float(zero[0, 1]) == 1.0


@pytest.mark.parametrize("seed", range(8))
def test_a_threshold_that_never_triggers_gives_exactly_the_per_pixel_maximum(seed: int):
    maps = blobs(4, seed=seed)
    for threshold in (math.inf, 2.5):  # cosine distances are at most 2
        suppressed, _ = suppress_overlaps(maps, threshold=threshold, similarity=0.3, floor=0.05)
        combined, owner = combine_maps(suppressed, floor=0.05)
        assert torch.equal(suppressed, maps)
        assert torch.equal(combined, maps.max(dim=0).values)
        expected_owner = np.where(maps.numpy().max(0) >= 0.05, maps.numpy().argmax(0), -1)
        assert np.array_equal(owner.numpy(), expected_owner)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize(("similarity", "floor"), [(0.1, 0.2), (0.3, 0.05), (0.0, 0.5)])
def test_threshold_zero_leaves_no_pixel_claimed_by_two_classes(seed: int, similarity: float, floor: float):
    maps = blobs(4, seed=seed)
    before = claimants(maps, similarity=similarity, floor=floor)
    suppressed, _ = suppress_overlaps(maps, threshold=0.0, similarity=similarity, floor=floor)
    after = claimants(suppressed, similarity=similarity, floor=floor)
    assert int(after.max()) <= 1
    if similarity > 0:
        assert int(before.max()) >= 2  # the blobs do compete: the property is not vacuous
    # where a single class claimed a pixel it still owns it, with the same value
    kept = before <= 1
    combined, owner = combine_maps(suppressed, floor=floor)
    original, original_owner = combine_maps(maps, floor=floor)
    assert torch.equal(combined[kept], original[kept])
    assert torch.equal(owner[kept], original_owner[kept])


def test_suppression_follows_the_written_rule_pixel_by_pixel():
    maps = blobs(3, seed=3)
    similarity, floor = 0.15, 0.25
    suppressed, distances = suppress_overlaps(maps, threshold=0.0, similarity=similarity, floor=floor)
    m = maps.numpy()
    erase = np.zeros_like(m, dtype=bool)
    for i in range(3):
        for j in range(3):
            if i != j:
                erase[i] |= (m[i] >= floor) & (m[j] >= floor) & (np.abs(m[i] - m[j]) <= similarity)
    assert np.array_equal(suppressed.numpy(), np.where(erase, 0.0, m))
    assert distances.shape == (3, 3)


def test_identical_maps_are_merged_above_zero_and_erased_at_zero():
    base = blobs(1)[0]
    maps = torch.stack([base, base.clone()])
    kept, distances = suppress_overlaps(maps, threshold=1e-4, similarity=0.1, floor=0.2)
    assert float(distances[0, 1]) == pytest.approx(0.0, abs=1e-6)
    assert torch.equal(kept, maps)  # "emptying" and "pouring" share their region
    erased, _ = suppress_overlaps(maps, threshold=0.0, similarity=0.1, floor=0.2)
    assert torch.equal(erased, maps.masked_fill(maps >= 0.2, 0.0))


def test_parameters_are_checked():
    with pytest.raises(ValueError, match="floor"):
        suppress_overlaps(blobs(2), floor=0.0)
    with pytest.raises(ValueError, match="similarity"):
        suppress_overlaps(blobs(2), similarity=-1.0)


def test_gaussian_smoothing_is_the_5x5_kernel_with_replicated_edges():
    image = torch.rand(2, 9, 11, generator=torch.Generator().manual_seed(0))
    out = gaussian_smooth(image)
    x = np.arange(5) - 2
    kernel = np.exp(-(x**2) / (2 * 1.1**2))
    kernel2d = np.outer(kernel, kernel) / kernel.sum() ** 2
    for i in range(2):
        expected = ndimage.convolve(image[i].double().numpy(), kernel2d, mode="nearest")
        np.testing.assert_allclose(out[i].numpy(), expected, atol=1e-6)
    flat = torch.full((7, 7), 0.3)
    torch.testing.assert_close(gaussian_smooth(flat), flat)


def tiny(builder: str, **kwargs) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(builder, num_classes=5, **kwargs).eval()


VIDEO = {"width": 8, "depth": (1, 1, 1, 1)}


@pytest.mark.parametrize(("model", "inputs"), [
    (lambda: tiny("i3d_r50", **VIDEO), lambda: [torch.randn(1, 3, 4, 64, 64)]),
    (lambda: tiny("tsm_r50", num_segments=4, **VIDEO), lambda: [torch.randn(1, 3, 4, 64, 64)]),
    (lambda: tiny("fusion", video=VIDEO, audio={"width": 2}), lambda: [torch.randn(1, 3, 4, 64, 64),
                                                                        torch.randn(1, 1, 22050)]),
    (lambda: resnet50(num_classes=5, width=8, depth=(1, 1, 1, 1)).eval(), lambda: [torch.randn(1, 3, 64, 64)]),
])
def test_multi_label_cam_on_every_visual_model(model, inputs):
    torch.manual_seed(2)
    net, x = model(), inputs()
    result = multi_label_cam(net, x, size=(64, 64), top_k=3, threshold=0.0)
    scores = torch.sigmoid(net(*x))[0]
    assert result.classes == tuple(scores.topk(3).indices.tolist())
    torch.testing.assert_close(result.scores, scores[list(result.classes)])
    assert result.maps.shape == result.suppressed.shape == (3, 64, 64)
    assert result.combined.shape == result.owner.shape == result.smoothed.shape == (64, 64)
    assert float(result.maps.min()) >= 0.0 and float(result.maps.max()) <= 1.0
    assert int(claimants(result.suppressed, similarity=result.similarity, floor=result.floor).max()) <= 1
    assert set(result.owner.unique().tolist()) <= {-1, 0, 1, 2}


def test_per_frame_maps_and_min_score():
    net = tiny("i3d_r50", **VIDEO)
    x = [torch.randn(1, 3, 4, 64, 64, generator=torch.Generator().manual_seed(3))]
    result = multi_label_cam(net, x, size=(64, 64), top_k=2, temporal="frames")
    assert result.maps.shape == (2, 2, 64, 64)  # I3D halves time: 4 frames -> 2 steps
    assert result.owner.shape == result.smoothed.shape == (2, 64, 64) and result.distances.shape == (2, 2, 2)
    only_best = multi_label_cam(net, x, size=(64, 64), top_k=5, min_score=1.1)
    assert len(only_best.classes) == 1


def test_audio_models_have_no_map():
    net = tiny("soundnet", width=2)
    with pytest.raises(ValueError, match="spatial feature map"):
        multi_label_cam(net, [torch.randn(1, 1, 22050)], size=(8, 8))
