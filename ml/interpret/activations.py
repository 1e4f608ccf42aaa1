"""Activations of named layers for batches of still images, for image and video models.

NetDissect probes a layer with still images. A 2D network sees them as they
are. **A video model sees each image as a clip of ``T`` identical frames**
(``T``: the model's frames per clip) and the layer's map is averaged over its
temporal steps, giving one ``(D, h, w)`` map per image like a 2D network's:
I3D's layers return ``(B, D, T', h, w)``; TSM runs its ResNet on every frame, so
its layers return ``(B * T, D, h, w)``. Fusion models are probed through their
video backbone (``video.<layer>``), and so are TSM's ResNet layers
(``backbone.<layer>``): ``layer4`` is found either way.

The layers are read with forward hooks during one call of the model's
``features`` (or of the model itself when it has none), so several layers
(Fig. 7) cost one forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["LayerProbe", "resolve_layer"]

ERR_NO_LAYER = "the model has no layer {name!r}; layers include {examples}"
ERR_AUDIO = "{name} takes audio only; NetDissect needs a visual model"


def resolve_layer(model: nn.Module, name: str) -> str:
    """The full module name of layer ``name`` (tries ``name``, ``video.name``, ``backbone.name`` ...).

    Raises:
        ValueError: naming a few of the model's layers.
    """
    modules = dict(model.named_modules())
    for candidate in (name, f"video.{name}", f"backbone.{name}", f"video.backbone.{name}"):
        if candidate in modules and candidate:
            return candidate
    examples = [n for n in modules if n and n.count(".") <= 1][:12]
    raise ValueError(ERR_NO_LAYER.format(name=name, examples=examples))


class LayerProbe:
    """Read the maps of some layers for image batches.

    Args:
        model: an ``ml.models`` model, a 2D ``ResNet`` or any module (eval mode).
        layers: layer names (see ``resolve_layer``).
        num_frames: ``T`` for video models (``None`` for image models).
    """

    def __init__(self, model: nn.Module, layers: Sequence[str], *, num_frames: int | None = None) -> None:
        modalities = tuple(getattr(model, "modalities", ()))
        if modalities == ("audio",):
            raise ValueError(ERR_AUDIO.format(name=type(model).__name__))
        self.model = model
        self.layers = tuple(layers)
        self.paths = tuple(resolve_layer(model, layer) for layer in self.layers)
        self.video = "video" in modalities
        self.num_frames = num_frames if self.video else None
        # fusion: run the video backbone alone (the layers live there; no audio needed)
        self.runner = model.video if modalities == ("video", "audio") else model
        self._outputs: dict[str, Tensor] = {}

    def __call__(self, images: Tensor) -> dict[str, Tensor]:
        """Maps of every layer.

        Args:
            images: ``(B, 3, H, W)`` normalised float images.

        Returns:
            layer name (as given) -> ``(B, D, h, w)`` float32 map.
        """
        batch = images.shape[0]
        modules = dict(self.model.named_modules())
        handles = [modules[path].register_forward_hook(self._hook(layer))
                   for layer, path in zip(self.layers, self.paths, strict=True)]
        try:
            with torch.no_grad():
                x = images
                if self.video:
                    t = self.num_frames or 1
                    x = images.unsqueeze(2).expand(-1, -1, t, -1, -1).contiguous()
                run = getattr(self.runner, "features", self.runner)
                run(x)
        finally:
            for handle in handles:
                handle.remove()
        outputs, self._outputs = self._outputs, {}
        return {layer: self._per_image(outputs[layer], batch) for layer in self.layers}

    def _hook(self, layer: str):
        def hook(_module: nn.Module, _inputs: tuple, output: Tensor) -> None:
            self._outputs[layer] = output.detach()
        return hook

    def _per_image(self, output: Tensor, batch: int) -> Tensor:
        output = output.float()
        if output.ndim == 5:  # (B, D, T', h, w): I3D
            return output.mean(dim=2)
        if output.shape[0] != batch:  # (B * T, D, h, w): frames of each clip in turn (TSM)
            return output.view(batch, output.shape[0] // batch, *output.shape[1:]).mean(dim=1)
        return output
