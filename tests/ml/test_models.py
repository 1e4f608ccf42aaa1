"""Every model builder on tiny inputs, the mCAM hooks, inflation and temporal shift."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from ml.models import BUILDERS, build_model, fusion, i3d_r50, resnet50, soundnet8, tsm_r50
from ml.models.i3d import inflation_pattern
from ml.models.resnet import FrozenBatchNorm
from ml.models.tsm import temporal_shift

CLASSES = 5
TINY = {"width": 4, "depth": (1, 1, 1, 1)}


def tiny(name: str, **extra) -> nn.Module:
    kwargs = {
        "i3d_r50": {**TINY, "dropout": 0.0},
        "tsm_r50": {**TINY, "num_segments": 4, "dropout": 0.0},
        "soundnet": {"width": 2},
        "fusion": {"video": {**TINY, "dropout": 0.0}, "audio": {"width": 2}, "freeze_backbones": False},
    }[name]
    return build_model(name, num_classes=CLASSES, **kwargs, **extra)


def inputs(model: nn.Module, batch: int = 2) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    shapes = {"video": (batch, 3, 4, 32, 32), "audio": (batch, 1, 22050)}
    return [torch.randn(*shapes[m], generator=g) for m in model.modalities]


def fill_deterministic(model: nn.Module) -> nn.Module:
    """Parameters from a fixed formula (not torch's RNG), for golden outputs."""
    with torch.no_grad():
        for i, (_, p) in enumerate(sorted(model.named_parameters())):
            p.copy_(torch.sin(torch.arange(p.numel(), dtype=torch.float64) * 0.37 + i).view(p.shape) * 0.3)
    return model


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_builder_shape_finite_backward(name):
    torch.manual_seed(0)
    model = tiny(name).train()
    out = model(*inputs(model))
    assert out.shape == (2, CLASSES)
    assert torch.isfinite(out).all()
    out.sum().backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, pname
        assert torch.isfinite(p.grad).all(), pname


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_mcam_hooks_are_uniform(name):
    model = tiny(name).eval()
    x = inputs(model)
    maps = model.features(*x)
    assert isinstance(model.classifier, nn.Linear)
    assert model.classifier.in_features == model.feature_dim
    torch.testing.assert_close(model.classifier(model.pool(maps)), model(*x))
    if name in ("i3d_r50", "tsm_r50"):
        assert maps.ndim == 5 and maps.shape[:2] == (2, model.feature_dim)
    elif name == "soundnet":
        assert maps.ndim == 3 and maps.shape[:2] == (2, model.feature_dim)
    else:
        assert [m.ndim for m in maps] == [5, 3]


# Logits of fill_deterministic models on a fixed input; a change means the architecture changed.
GOLDEN = {
    "i3d_r50": [-3.86723, 5.61819, -6.26058, 7.00225, -7.31928],
    "tsm_r50": [-3.87928, 5.61831, -6.24877, 6.97917, -7.28621],
    "soundnet": [0.34786, -0.88575, 1.26533, -2.08782, 1.94682],
    "fusion": [5.31655, 3.13647, 0.2675, -2.67128, -5.04396],
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_golden_output(name):
    model = fill_deterministic(tiny(name)).eval()
    x = [torch.sin(torch.arange(t.numel(), dtype=torch.float32) * 0.01).view(t.shape) for t in inputs(model)]
    with torch.no_grad():
        out = model(*x)
    torch.testing.assert_close(out[0], torch.tensor(GOLDEN[name]), rtol=1e-4, atol=1e-4)


def save_torchvision_format(model: nn.Module, path: Path) -> Path:
    """Write a 2D ResNet's weights under torchvision's names (``fc.*``)."""
    state = {("fc." + k[len("classifier."):] if k.startswith("classifier.") else k): v
             for k, v in model.state_dict().items()}
    torch.save(state, path)
    return path


def randomise_norms(model: nn.Module) -> nn.Module:
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return model


def test_i3d_inflates_2d_weights(tmp_path: Path):
    torch.manual_seed(0)
    r2d = randomise_norms(resnet50(num_classes=10, **TINY)).eval()
    path = save_torchvision_format(r2d, tmp_path / "resnet50.pth")
    i3d = i3d_r50(num_classes=CLASSES, **TINY, pretrained_2d=path).eval()
    state_2d, state_3d = r2d.state_dict(), i3d.state_dict()
    for name, weight in state_3d.items():
        if name.startswith("classifier."):
            assert weight.shape != state_2d[name].shape  # a new classifier, not copied
        elif weight.ndim == 5:  # kernels repeated over time and divided by t
            torch.testing.assert_close(weight.sum(dim=2), state_2d[name])
            assert torch.allclose(weight[:, :, 0], weight[:, :, -1])
        else:
            torch.testing.assert_close(weight.float(), state_2d[name].float())
    # A clip of identical frames gives the 2D activations away from the temporal borders.
    frame = torch.randn(1, 3, 32, 32)
    clip = frame.unsqueeze(2).repeat(1, 1, 32, 1, 1)
    with torch.no_grad():
        video_map = i3d.features(clip)
        image_map = r2d.features(frame)
    torch.testing.assert_close(video_map[:, :, 8], image_map, rtol=1e-4, atol=1e-5)


def test_inflation_pattern_of_resnet50():
    pattern = inflation_pattern((3, 4, 6, 3))
    assert [[int(b) for b in stage] for stage in pattern] == [[1, 1, 1], [1, 0, 1, 0], [1, 0, 1, 0, 1, 0], [0, 1, 0]]


def test_full_size_parameter_counts():
    # torchvision's resnet50 has 25,557,032 parameters (with 1000 classes).
    assert sum(p.numel() for p in resnet50(num_classes=1000).parameters()) == 25_557_032
    assert sum(p.numel() for p in tsm_r50(num_classes=1000).parameters()) == 25_557_032
    i3d = i3d_r50(num_classes=1000)
    assert i3d.conv1.weight.shape == (64, 3, 5, 7, 7)
    assert i3d.feature_dim == 2048


def test_temporal_shift_moves_one_eighth_each_way():
    b, t, c = 2, 3, 16
    x = torch.randn(b * t, c, 2, 2)
    out = temporal_shift(x, t).view(b, t, c, 2, 2)
    ref = x.view(b, t, c, 2, 2)
    for clip in range(b):
        for f in range(t):
            expect_back = ref[clip, f + 1, :2] if f + 1 < t else torch.zeros(2, 2, 2)
            expect_fwd = ref[clip, f - 1, 2:4] if f > 0 else torch.zeros(2, 2, 2)
            torch.testing.assert_close(out[clip, f, :2], expect_back)
            torch.testing.assert_close(out[clip, f, 2:4], expect_fwd)
            torch.testing.assert_close(out[clip, f, 4:], ref[clip, f, 4:])


def test_tsm_without_shift_is_the_frame_average_of_its_resnet(tmp_path: Path):
    torch.manual_seed(0)
    r2d = randomise_norms(resnet50(num_classes=CLASSES, **TINY)).eval()
    path = save_torchvision_format(r2d, tmp_path / "r.pth")
    tsm = tsm_r50(num_classes=CLASSES, num_segments=4, shift_div=10**6, dropout=0.0, pretrained_2d=path, **TINY)
    tsm.eval()
    clip = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        per_frame = torch.stack([r2d(clip[:, :, f]) for f in range(4)], dim=1).mean(dim=1)
        torch.testing.assert_close(tsm(clip), per_frame, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="built for 4 segments; the clip has 3 frames"):
        tsm(clip[:, :, :3])


def test_soundnet_runs_on_three_seconds():
    model = soundnet8(num_classes=CLASSES, width=2).eval()
    maps = model.features(torch.zeros(1, 1, 66150))
    assert maps.shape == (1, 128, 3)  # conv7 has 3 steps: too few for the original conv8 (kernel 8)
    assert model(torch.zeros(3, 1, 66150)).shape == (3, CLASSES)
    assert soundnet8(num_classes=2, width=2, norm="group")(torch.randn(1, 1, 5000)).shape == (1, 2)


def test_fusion_trains_only_the_linear_layer():
    model = fusion(num_classes=CLASSES, video=TINY, audio={"width": 2})
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable == ["classifier.weight", "classifier.bias"]
    assert model.classifier.in_features == model.video.feature_dim + model.audio.feature_dim
    model.train()
    assert model.training and not model.video.training and not model.audio.training


def test_frozen_batch_norm_equals_batch_norm_in_eval():
    bn = randomise_norms(nn.Sequential(nn.BatchNorm2d(6)))[0].eval()
    frozen = FrozenBatchNorm(6)
    frozen.load_state_dict(bn.state_dict())
    x = torch.randn(2, 6, 3, 3)
    torch.testing.assert_close(frozen(x), bn(x))


def test_unknown_model():
    with pytest.raises(ValueError, match="unknown model 'c3d'"):
        build_model("c3d", num_classes=3)
