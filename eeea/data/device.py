"""Device-resident image batches: the data set lives on the device as uint8 and is augmented there, vectorised.

On CUDA this removes the data loader from the training loop (the small cells of this field are launch-bound); the same
code runs on the CPU for tests. The random numbers come from a CPU ``torch.Generator``, so a seed gives the same crops,
flips and cutouts on every device.
"""
from __future__ import annotations

from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from .images import ImageSet


class DeviceImages:
    """Images (uint8 NCHW) and labels on ``device``, served as normalised float batches."""

    def __init__(self, data: ImageSet, device: torch.device, mean: Sequence[float], std: Sequence[float]) -> None:
        self.device = torch.device(device)
        self.images = torch.from_numpy(np.ascontiguousarray(data.images.transpose(0, 3, 1, 2))).to(self.device)
        self.labels = torch.from_numpy(data.labels).to(self.device)
        self.mean = torch.tensor(mean, device=self.device).view(1, -1, 1, 1) * 255
        self.std = torch.tensor(std, device=self.device).view(1, -1, 1, 1) * 255

    def __len__(self) -> int:
        return len(self.labels)

    def steps(self, batch_size: int, drop_last: bool = True) -> int:
        return len(self) // batch_size if drop_last else -(-len(self) // batch_size)

    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        return (x.float() - self.mean) / self.std

    def batches(
        self,
        batch_size: int,
        generator: torch.Generator | None = None,
        *,
        augment: bool = False,
        pad: int = 4,
        cutout: int = 0,
        drop_last: bool = True,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(x, y)`` batches: shuffled when ``generator`` is given, else in order (evaluation).

        ``transform`` maps each uint8 batch after crop and flip, before normalisation and cutout (AutoAugment)."""
        n = len(self)
        order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
        order = order.to(self.device)  # one copy per epoch; the draws stay on the CPU generator
        for i in range(self.steps(batch_size, drop_last)):
            index = order[i * batch_size:(i + 1) * batch_size]
            x = self.images[index]
            y = self.labels[index]
            if augment:
                x = random_crop_flip(x, pad, generator)
            if transform is not None:
                x = transform(x)
            x = self._normalise(x)
            if augment and cutout > 0:
                x = apply_cutout(x, cutout, generator)
            yield x, y


def random_crop_flip(x: torch.Tensor, pad: int, generator: torch.Generator | None) -> torch.Tensor:
    """Per-sample random crop from the zero-padded image and random horizontal flip, one gather for the batch."""
    b, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    oy = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(x.device)
    ox = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(x.device)
    flip = (torch.rand(b, generator=generator) < 0.5).to(x.device)
    rows = oy[:, None] + torch.arange(h, device=x.device)
    cols = torch.arange(w, device=x.device).expand(b, w)
    cols = torch.where(flip[:, None], cols.flip(1), cols) + ox[:, None]
    out = padded[torch.arange(b, device=x.device)[:, None, None], :, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous()


def apply_cutout(x: torch.Tensor, length: int, generator: torch.Generator | None) -> torch.Tensor:
    """Zero a ``length`` square (clipped at the border) per sample; its centre is uniform over the image."""
    b, _, h, w = x.shape
    cy = torch.randint(0, h, (b,), generator=generator).to(x.device)
    cx = torch.randint(0, w, (b,), generator=generator).to(x.device)
    ys = torch.arange(h, device=x.device)[None, :]
    xs = torch.arange(w, device=x.device)[None, :]
    in_y = (ys >= (cy[:, None] - length // 2)) & (ys < (cy[:, None] + length - length // 2))
    in_x = (xs >= (cx[:, None] - length // 2)) & (xs < (cx[:, None] + length - length // 2))
    keep = ~(in_y[:, :, None] & in_x[:, None, :])
    return x * keep[:, None].to(x.dtype)
