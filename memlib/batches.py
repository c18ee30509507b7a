"""How batches reach the model (ARCHITECTURE.md, "The training engine"), in the manner of
KellerJordan/cifar10-airbench: the images stay on the device for the whole run, each batch is gathered there by
example index, optionally randomly cropped and flipped there, and turned into normalized floats there. Nothing goes
through a DataLoader or the host.

- :class:`DeviceImages`: a dataset's images held on the device, as uint8 when they are 8-bit images (MNIST,
  Fashion-MNIST and CIFAR-10 are: a quarter of the memory and bandwidth of float32), decoded per batch to the very
  float values :mod:`memlib.data` gives, then normalized with the dataset's
  :class:`memlib.data.Normalization`; for uint8 images the two steps are one gather from a table per channel.
- :class:`CropFlip`: the standard CIFAR augmentation (random translation by up to ``padding`` pixels with zero
  fill, and a horizontal flip with probability 1/2), drawn per example from a seeded generator, as one gather.
"""
import weakref
from dataclasses import dataclass

import numpy as np
import torch

from memlib import checks

# The float value of each 8-bit level, computed exactly as memlib.data computes images (uint8 → float32, ÷ 255).
_LEVELS = torch.arange(256, dtype=torch.uint8).float().div_(255)
# id of images already examined → (weak reference to them, their version, their uint8 codes or None): fit,
# evaluate and accuracy are called many times on one dataset, and the exact check is a few passes over all of it.
_CODES = {}


class DeviceImages:
    """The images ``x`` (N×C×H×W, or any N×… float tensor) on ``device``, ready to be gathered by index.

    uint8 images are read as the levels k/255, as :mod:`memlib.data` reads 8-bit files.
    Float images whose every value is one of the 256 levels k/255 are stored as uint8 (``.eight_bit``) and decoded
    per batch through a table of exactly those floats, normalized (one row of 256 per channel); others are stored
    as float32 and normalized per batch. ``normalization``: a :class:`memlib.data.Normalization`, or None for
    none. With ``channels_last``, 4-D batches come out in the channels-last memory format (conv nets on CUDA).
    """

    def __init__(self, x, device, channels_last=False, normalization=None):
        x = torch.as_tensor(x)
        if x.dim() < 2 or not (x.is_floating_point() or x.dtype == torch.uint8):
            raise ValueError(f"x must be float or uint8 images of shape N × ...; got shape {tuple(x.shape)}, "
                             f"dtype {x.dtype}")
        if normalization is not None and len(normalization.mean) != x.shape[1]:
            raise ValueError(f"normalization has {len(normalization.mean)} channels but the images have "
                             f"{x.shape[1]}")
        if x.dtype == torch.uint8:
            x = x.float().div_(255)  # the levels memlib.data gives 8-bit images
        codes = _eight_bit_codes(x)
        self.eight_bit = codes is not None
        self.images = (codes if self.eight_bit else x.float()).to(device)
        self.normalization = normalization
        levels = _LEVELS.to(device)
        if normalization is not None:
            levels = normalization(levels.expand(1, len(normalization.mean), 256)).squeeze(0)
        self.levels = levels                     # 256 levels, or channels × 256 normalized levels
        self.channels_last = channels_last and x.dim() == 4

    def __len__(self) -> int:
        return len(self.images)

    @property
    def device(self) -> torch.device:
        return self.images.device

    def batch(self, index, augment=None, generator=None) -> torch.Tensor:
        """The float images at ``index`` (a tensor of example indices of any shape, on the device), cropped and
        flipped by ``augment`` (a :class:`CropFlip`, drawing from ``generator``) when one is given."""
        if index.dtype.is_floating_point or index.dtype == torch.bool:
            raise ValueError(f"index must hold integer example indices; got dtype {index.dtype}")
        images = self.images[index]
        if augment is not None:
            images = augment(images.flatten(0, index.dim() - 1), generator).view(images.shape)
        if self.eight_bit:
            images = _decode(self.levels, images, channel_axis=index.dim())
        elif self.normalization is not None:
            images = self.normalization(images)
        if images.dim() == 4:
            images = images.contiguous(memory_format=torch.channels_last if self.channels_last else
                                       torch.contiguous_format)
        return images


def _eight_bit_codes(x):
    """``x`` as uint8 codes k with k/255 == x exactly, or None when ``x`` is not made of such levels; worked out
    once per tensor, and again after an in-place change."""
    known = _CODES.get(id(x))
    if known is None or known[0]() is not x or known[1] != x._version:
        forget = weakref.ref(x, lambda _, key=id(x): _CODES.pop(key, None))
        known = _CODES[id(x)] = (forget, x._version, _find_codes(x))
    return known[2]


def _find_codes(x):
    if not x.is_floating_point() or x.numel() == 0:
        return None
    values = x.float()
    scaled = values * 255
    low, high = torch.aminmax(scaled)
    if low < 0 or high > 255:
        return None
    codes = scaled.round_().to(torch.uint8)
    return codes if torch.equal(_decode(_LEVELS.to(x.device), codes), values) else None


def _decode(levels, codes, channel_axis=1):
    """The floats of uint8 ``codes`` (any shape): a gather from the 256 ``levels``, or, with a C×256 table, from
    row c for the codes of channel c along ``channel_axis`` (index_select: several times faster than advanced
    indexing on the CPU)."""
    index = codes.int()
    if levels.dim() == 2:
        channel = torch.arange(levels.shape[0], device=codes.device, dtype=torch.int32) * 256
        index = index + channel.view(-1, *[1] * (codes.dim() - channel_axis - 1))
    return levels.reshape(-1).index_select(0, index.reshape(-1)).view(codes.shape)


@dataclass(frozen=True)
class CropFlip:
    """Random translation by up to ``padding`` pixels in each direction (zero fill: pad, then crop back to size)
    and, with ``flip``, a horizontal flip with probability 1/2; each example of a batch draws its own.

    This is the augmentation of the standard CIFAR-10 recipes (torchvision's ``RandomCrop(32, padding=4)`` and
    ``RandomHorizontalFlip``; FFCV's ``RandomTranslate`` in the ResNet-9 runs of Maini et al. 2023, who train
    without it by default). It runs on the device as a single gather, on uint8 or float images alike.
    """

    padding: int = 4
    flip: bool = True

    def __post_init__(self):
        object.__setattr__(self, "padding", checks.non_negative_int("padding", self.padding))
        if not isinstance(self.flip, (bool, np.bool_)):
            raise ValueError(f"flip must be True or False; got {self.flip!r}")
        object.__setattr__(self, "flip", bool(self.flip))

    def __call__(self, images, generator=None) -> torch.Tensor:
        if images.dim() != 4:
            raise ValueError(f"CropFlip needs N×C×H×W images; got shape {tuple(images.shape)}")
        n, _, height, width = images.shape
        device, p = images.device, self.padding
        shifts = torch.randint(0, 2 * p + 1, (2, n, 1), generator=generator, device=device)
        rows = torch.arange(height, device=device) + shifts[0]                        # n × H, in padded coordinates
        columns = torch.arange(width, device=device).expand(n, width)
        if self.flip:
            flipped = torch.rand(n, 1, generator=generator, device=device) < 0.5
            columns = torch.where(flipped, width - 1 - columns, columns)
        columns = columns + shifts[1]                                                 # n × W
        padded = torch.nn.functional.pad(images, (p, p, p, p)) if p else images
        examples = torch.arange(n, device=device)[:, None, None]
        # Advanced indices around a slice put their dimensions first: the result is n × H × W × C.
        return padded[examples, :, rows[:, :, None], columns[:, None, :]].permute(0, 3, 1, 2)
