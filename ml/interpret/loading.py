"""Models to interpret, from an ``ml.train`` checkpoint or a torchvision ResNet file.

The paper dissects a 2D ResNet-50 (block 4) as well as the video models, so
besides the checkpoints of this package (which rebuild themselves, see
``ml.checkpoint``) the interpretation tools accept a torchvision-format ResNet
state dict (``resnet50-*.pth``, or any file ``ml.models.resnet`` can read): its
width, depth and class count are read off the tensor shapes, and its classes are
called ``class_0 ...``.
"""

from __future__ import annotations

import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ml.checkpoint import checkpoint_vocabulary
from ml.data import ClipSpec
from ml.models import build_model
from ml.models.resnet import load_torchvision_state_dict, resnet50

__all__ = ["InterpretModel", "load_interpretable", "resnet_kwargs_from_state"]

ERR_MISSING = "checkpoint {path} does not exist"
ERR_UNKNOWN = "{path} is neither an ml checkpoint nor a torchvision-format ResNet state dict"


@dataclass(frozen=True)
class InterpretModel:
    """A model ready for mCAM, NetDissect and probing.

    Attributes:
        model: the model in eval mode.
        class_names: identifier of every output (the vocabulary ``name``).
        display_names: human-readable names, same order.
        num_frames: frames per clip for video models, ``None`` for image models.
        crop: the side of the frames the model was trained on.
        audio_samples: waveform length for models that also take audio, else ``None``.
        builder: ``ml.models`` builder name, or ``"resnet50"`` for a torchvision file.
    """

    model: nn.Module
    class_names: tuple[str, ...]
    display_names: tuple[str, ...]
    num_frames: int | None
    crop: int
    audio_samples: int | None
    builder: str

    @property
    def modalities(self) -> tuple[str, ...]:
        """``forward``'s inputs; ``("image",)`` for 2D models."""
        return tuple(getattr(self.model, "modalities", ("image",)))


def resnet_kwargs_from_state(state: dict[str, torch.Tensor]) -> dict[str, object]:
    """``resnet50`` keyword arguments matching a state dict's shapes.

    Returns:
        ``{"num_classes", "width", "depth"}``.
    """
    depth = []
    for stage in range(1, 5):
        blocks = {int(m.group(1)) for k in state if (m := re.match(rf"layer{stage}\.(\d+)\.", k))}
        depth.append(max(blocks) + 1 if blocks else 1)
    return {"num_classes": int(state["classifier.weight"].shape[0]), "width": int(state["conv1.weight"].shape[0]),
            "depth": tuple(depth)}


def load_interpretable(path: Path | str, *, map_location: str | torch.device = "cpu") -> InterpretModel:
    """Load a model to interpret.

    Args:
        path: an ``ml.train`` checkpoint, or a torchvision-format ResNet state dict.
        map_location: where to load the tensors.

    Returns:
        The model (eval mode, on ``map_location``) and what the tools need to feed it.

    Raises:
        FileNotFoundError: when ``path`` does not exist.
        ValueError: when it is neither kind of file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(ERR_MISSING.format(path=path))
    try:
        raw = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError):
        raise ValueError(ERR_UNKNOWN.format(path=path)) from None
    if isinstance(raw, dict) and "builder" in raw and "model" in raw:
        saved = raw
        model = build_model(saved["builder"], **saved["builder_kwargs"])
        model.load_state_dict(saved["model"])
        model = model.to(map_location).eval()
        spec = ClipSpec(**{**saved["clip"], "modalities": tuple(saved["clip"]["modalities"])})
        frames = getattr(model, "num_segments", spec.num_frames)
        modalities = tuple(getattr(model, "modalities", ()))
        vocabulary = checkpoint_vocabulary(saved)
        return InterpretModel(
            model=model,
            class_names=vocabulary.names,
            display_names=vocabulary.display_names,
            num_frames=frames if "video" in modalities else None,
            crop=spec.crop,
            audio_samples=spec.audio_samples if "audio" in modalities else None,
            builder=str(saved["builder"]),
        )
    try:
        state = load_torchvision_state_dict(path)
        model = resnet50(**resnet_kwargs_from_state(state))  # type: ignore[arg-type]
        model.load_state_dict(state)
    except (ValueError, KeyError, RuntimeError):
        raise ValueError(ERR_UNKNOWN.format(path=path)) from None
    names = tuple(f"class_{i}" for i in range(model.classifier.out_features))
    return InterpretModel(model=model.to(map_location).eval(), class_names=names, display_names=names,
                          num_frames=None, crop=224,
                          audio_samples=None, builder="resnet50")
