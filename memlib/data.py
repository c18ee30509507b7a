"""Datasets: the embedded ones (digits, synthetic) and the torchvision ones (MNIST, Fashion-MNIST, CIFAR-10).

Every dataset is an in-memory :class:`Dataset` of float32 images in [0, 1], shape N×C×H×W, and int64 labels, so the
training engine can keep it on the device and draw batches by index (ARCHITECTURE.md, "The training engine"). Each
dataset also carries its input :class:`Normalization` (per-channel mean and standard deviation, as every reference
normalizes its inputs), which the engine applies on the device to every batch it gives a model; the images
themselves stay in [0, 1], so 8-bit images keep their uint8 storage and figures show them as they are.

With ``MEMLIB_SMOKE=1`` (:func:`memlib.profiles.smoke`), :func:`load` returns a class-balanced few hundred examples
of each split: the smoke scale at which the test suite runs every profile's code path.
"""
import errno
import functools
import gzip
import inspect
import math
import os
import pickle
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from memlib import checks, profiles

EMBEDDED = ("digits", "synthetic")
TORCHVISION = {
    # name: (torchvision class, folder under root, class names)
    "mnist": ("MNIST", "MNIST/raw", [str(i) for i in range(10)]),
    "fashion-mnist": ("FashionMNIST", "FashionMNIST/raw", [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]),
    "cifar10": ("CIFAR10", "cifar-10-batches-py", [
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]),
}
NAMES = EMBEDDED + tuple(TORCHVISION)
SPLITS = ("train", "test")
# Examples per split at smoke scale (MEMLIB_SMOKE=1): train, test.
SMOKE_EXAMPLES = {"train": 256, "test": 128}


@dataclass(frozen=True)
class Normalization:
    """Per-channel input normalization, ``(x - mean) / std``, as float32 tuples of one value per channel.

    :meth:`from_images` takes the statistics of a training set; :data:`REFERENCE` holds the ones the references
    use for the torchvision datasets.
    """

    mean: tuple
    std: tuple

    def __post_init__(self):
        mean, std = tuple(self.mean), tuple(self.std)
        if len(mean) != len(std) or not mean:
            raise ValueError(f"mean and std need one value per channel; got {self.mean} and {self.std}")
        object.__setattr__(self, "mean", tuple(checks.real("mean", m) for m in mean))
        object.__setattr__(self, "std", tuple(checks.real("std", s, low=0, low_open=True) for s in std))

    @classmethod
    def from_images(cls, x) -> "Normalization":
        """The per-channel mean and standard deviation of images ``x`` (N×C×H×W), rounded to 4 digits."""
        x = torch.as_tensor(x).double().transpose(0, 1).flatten(1)
        return cls(tuple(round(float(v), 4) for v in x.mean(1)), tuple(round(float(v), 4) for v in x.std(1)))

    def __call__(self, x) -> torch.Tensor:
        """``x`` (N×C×…) normalized, on its own device."""
        shape = (1, len(self.mean)) + (1,) * (x.dim() - 2)
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(shape)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(shape)
        return (x - mean) / std


# Each torchvision dataset's per-channel training-set statistics: MNIST's (0.1307, 0.3081), as open_lth normalizes
# (datasets/mnist.py) and PyTorch's MNIST example; Fashion-MNIST's (0.2860, 0.3530); CIFAR-10's mean with its true
# per-pixel standard deviation. The references differ on CIFAR-10 (shengliu66/ELR: the same mean with the widely
# copied std 0.2023/0.1994/0.2010; open_lth: ImageNet's statistics; Maini et al.: 0.5/0.5); each chapter's
# settings table names its reference's.
REFERENCE = {
    "mnist": Normalization((0.1307,), (0.3081,)),
    "fashion-mnist": Normalization((0.2860,), (0.3530,)),
    "cifar10": Normalization((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}


class DatasetNotAvailable(FileNotFoundError):
    """A torchvision dataset is not on disk and could not (or was not asked to) be downloaded."""


class CorruptDataFile(ValueError):
    """A dataset file on disk is truncated, of another format, or holds what its format does not allow (a CIFAR
    pickle that would run code, a label count that differs from the image count); the message names the file."""


class Dataset:
    """Images ``x`` (float32, N×C×H×W, values in [0, 1]) with labels ``y`` (int64, N), held in memory.

    ``x`` may be given as floats in [0, 1] (anything else, NaN included, is refused: images scaled to 0–255 would
    train on inputs 255 times too large without a word) or as uint8 images (0–255), which are scaled by 1/255, as
    the torchvision datasets are read, with a warning. ``y`` holds integer class indices in [0, len(classes));
    ``classes`` defaults to one per label up to the largest. ``meta`` holds optional per-example tensors (e.g.
    ``meta["rare"]`` for the synthetic long tail) that travel with :meth:`subset` and :meth:`to`; so does
    ``normalization``, the :class:`Normalization` the engine applies to the images before a model sees them (None:
    none).
    """

    def __init__(self, x, y, classes=None, name="custom", meta=None, normalization=None):
        x = torch.as_tensor(x)
        if x.dim() != 4:
            raise ValueError(f"x must be N×C×H×W (4-D); got shape {tuple(x.shape)}")
        x = _unit_images(x)
        y = checks.labels("y", y, None if classes is None else len(classes), length=len(x), of="the dataset's classes")
        if classes is None:
            classes = [str(i) for i in range(int(y.max()) + 1 if len(y) else 0)]
        if normalization is not None and not isinstance(normalization, Normalization):
            raise ValueError(f"normalization must be a Normalization or None; got {type(normalization).__name__}")
        meta = dict(meta or {})
        for key, value in meta.items():
            if len(value) != len(y):
                raise ValueError(f"meta[{key!r}] has {len(value)} entries but the dataset has {len(y)}")
        self.x = x.float()
        self.y = y
        self.classes = list(classes)
        self.name = name
        self.meta = meta
        if normalization is not None and len(normalization.mean) != x.shape[1]:
            raise ValueError(f"normalization has {len(normalization.mean)} channels but the images have {x.shape[1]}")
        self.normalization = normalization

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def shape(self) -> tuple:
        """The shape of one example, C×H×W."""
        return tuple(self.x.shape[1:])

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, n={len(self)}, shape={self.shape}, classes={self.num_classes}, "
                f"device={self.x.device})")

    def subset(self, index) -> "Dataset":
        """The examples at ``index`` (indices or a boolean mask), with the same classes and name."""
        index = torch.as_tensor(index)
        if index.dtype == torch.bool:
            if index.shape != (len(self),):
                raise ValueError(f"a boolean mask must have {len(self)} entries; got shape {tuple(index.shape)}")
        elif index.numel() == 0:
            index = index.long()
        elif index.dtype.is_floating_point or index.dtype.is_complex:
            raise ValueError(f"index must be integer example indices or a boolean mask; got dtype {index.dtype}")
        elif int(index.min()) < -len(self) or int(index.max()) >= len(self):
            raise ValueError(f"index must lie in [{-len(self)}, {len(self)}) (the dataset's examples); got "
                             f"[{int(index.min())}, {int(index.max())}]")
        index = index.to(self.y.device)
        return self._drawn(self.x[index], self.y[index], {k: v[index] for k, v in self.meta.items()})

    def to(self, device) -> "Dataset":
        """The same dataset on ``device``."""
        return self._drawn(self.x.to(device), self.y.to(device), {k: v.to(device) for k, v in self.meta.items()})

    def _drawn(self, x, y, meta) -> "Dataset":
        """A dataset of this one's examples (checked already, so not scanned again), with its classes, name and
        normalization."""
        drawn = object.__new__(Dataset)
        drawn.x, drawn.y, drawn.meta = x, y, meta
        drawn.classes, drawn.name, drawn.normalization = list(self.classes), self.name, self.normalization
        return drawn

    def normalized(self, x=None) -> torch.Tensor:
        """``x`` (default the dataset's own images) as a model trained on this dataset sees them."""
        x = self.x if x is None else x
        return x if self.normalization is None else self.normalization(x)


def data_root(root=None) -> Path:
    """Where torchvision datasets live: ``root``, else ``MEMLIB_DATA``, else ``~/.cache/memlib/data``."""
    return Path(root or os.environ.get("MEMLIB_DATA") or Path.home() / ".cache" / "memlib" / "data").expanduser()


def load(name, split="train", root=None, download=False, examples=None, **options) -> Dataset:
    """Load a dataset by name: "digits", "synthetic" (embedded, offline), "mnist", "fashion-mnist", "cifar10".

    ``examples``: at most this many examples (:func:`head`: the first of each class in turn), None for all.
    ``options`` go to the embedded generators (see :func:`digits` and :func:`synthetic`). At smoke scale
    (``MEMLIB_SMOKE=1``) the split is cut to at most :data:`SMOKE_EXAMPLES`, the same share of every class.
    """
    if name not in NAMES:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(NAMES)}")
    if examples is not None:
        examples = checks.positive_int("examples", examples)
    checks.one_of("split", split, SPLITS)
    if name in TORCHVISION:
        if options:
            raise ValueError(f"{name} takes no options; got {sorted(options)}")
        dataset = _load_torchvision(name, split, data_root(root), download)
    else:
        generator = digits if name == "digits" else synthetic
        allowed = list(inspect.signature(generator).parameters)[1:]
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise ValueError(f"{name} does not take {unknown}; its options are {allowed}")
        dataset = generator(split, **options)
    limits = [examples] * (examples is not None) + [SMOKE_EXAMPLES[split]] * profiles.smoke()
    return head(dataset, min(limits)) if limits else dataset


@functools.lru_cache(maxsize=8)
def train_test(name, root=None, download=False, examples=None) -> tuple:
    """``(train, test)``: both splits of dataset ``name`` (see :func:`load`), loaded once per process and shared by
    later calls with the same arguments, so treat them as read-only."""
    return (load(name, "train", root, download, examples), load(name, "test", root, download, examples))


def head(dataset, size) -> Dataset:
    """At most ``size`` examples of ``dataset``: the first example of each class, then the second of each, and so
    on (every class kept while ``size`` allows), in dataset order."""
    if not isinstance(dataset, Dataset):
        raise ValueError(f"dataset must be a memlib.data.Dataset; got {type(dataset).__name__}")
    size = checks.positive_int("size", size)
    if len(dataset) <= size:
        return dataset
    rank = torch.zeros(len(dataset), dtype=torch.long)
    for label in dataset.y.unique():
        members = torch.nonzero(dataset.y == label).flatten()
        rank[members] = torch.arange(len(members))
    order = torch.argsort(rank * len(dataset) + torch.arange(len(dataset)))
    return dataset.subset(order[:size].sort().values)


def digits(split="train", test_fraction=0.2, seed=0) -> Dataset:
    """scikit-learn's bundled 8×8 handwritten digits (1797 images), split 80/20 (``test_fraction``, in (0, 1),
    leaving each split at least one example per class), stratified by class and seeded."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    checks.one_of("split", split, SPLITS)
    test_fraction = checks.real("test_fraction", test_fraction, low=0, high=1, low_open=True, high_open=True)
    seed = checks.non_negative_int("seed", seed)
    bunch = load_digits()
    test_count = math.ceil(test_fraction * len(bunch.target))  # as train_test_split rounds
    classes = len(np.unique(bunch.target))
    if min(test_count, len(bunch.target) - test_count) < classes:
        raise ValueError(f"test_fraction={test_fraction} leaves {len(bunch.target) - test_count} training and "
                         f"{test_count} test examples; each split needs at least {classes} examples (one per class)")
    index = np.arange(len(bunch.target))
    train_index, test_index = train_test_split(
        index, test_size=test_fraction, stratify=bunch.target, random_state=seed)
    images = torch.tensor(bunch.images / 16.0, dtype=torch.float32).unsqueeze(1)
    chosen = np.sort(train_index if split == "train" else test_index)
    return Dataset(images[chosen], torch.tensor(bunch.target[chosen]), name="digits",
                   normalization=Normalization.from_images(images[np.sort(train_index)]))


def synthetic(split="train", size=None, num_classes=10, shape=(1, 8, 8), rare_fraction=0.05,
              noise=1.0, seed=0) -> Dataset:
    """Seeded Gaussian-mixture images with a planted rare sub-population in every class: the long tail.

    Each class has a common mode and a rare mode (its own prototype, unlike anything else in the data), and a
    ``rare_fraction`` of its examples come from the rare mode; ``meta["rare"]`` marks them. Rare examples can be
    fitted only by memorizing them, which is what Feldman (2020) argues long-tailed data asks of a network.
    ``size`` is the number of examples in the split (default 2000 train, 1000 test); train and test come from
    the same seeded prototypes and differ in their samples. Both are normalized with the statistics of the
    default-sized training split. ``size`` must leave one example per class; ``shape`` is (C, H, W).
    """
    checks.one_of("split", split, SPLITS)
    num_classes = checks.integer("num_classes", num_classes, minimum=2)
    if size is not None:
        try:
            size = checks.integer("size", size, minimum=num_classes)
        except ValueError:
            raise ValueError(f"size must be None (the default) or an integer of at least {num_classes} (one per "
                             f"class); got {size!r}") from None
    shape = checks.image_shape("shape", shape)
    rare_fraction = checks.fraction("rare_fraction", rare_fraction, high_open=True)
    noise = checks.real("noise", noise, low=0)
    seed = checks.non_negative_int("seed", seed)
    size = size or (2000 if split == "train" else 1000)
    prototypes = torch.Generator().manual_seed(seed)
    common = torch.randn((num_classes, *shape), generator=prototypes)
    rare = torch.randn((num_classes, *shape), generator=prototypes)

    def sample(split, size):
        samples = torch.Generator().manual_seed(seed * 2 + 1 + SPLITS.index(split))
        y = torch.arange(size) % num_classes
        is_rare = torch.rand(size, generator=samples) < rare_fraction
        center = torch.where(is_rare.view(-1, 1, 1, 1), rare[y], common[y])
        x = center + noise * torch.randn((size, *shape), generator=samples)
        return torch.sigmoid(x), y, is_rare  # images in (0, 1), like every other dataset here

    x, y, is_rare = sample(split, size)
    normalization = Normalization.from_images(sample("train", 2000)[0])
    return Dataset(x, y, [str(c) for c in range(num_classes)], "synthetic", meta={"rare": is_rare},
                   normalization=normalization)


def _unit_images(x):
    """``x`` as float images in [0, 1]: floats as they are once checked, uint8 scaled by 1/255 with a warning."""
    if x.dtype == torch.uint8:
        warnings.warn("x holds uint8 images (0–255): scaled to [0, 1] by 1/255, as memlib.data reads the "
                      "torchvision datasets; pass float images in [0, 1] to silence this", stacklevel=3)
        return x.float().div_(255)
    if not x.is_floating_point():
        raise ValueError(f"x must hold float or uint8 images; got dtype {x.dtype}")
    if x.numel():
        low, high = (float(v) for v in torch.aminmax(x))
        if not 0 <= low <= high <= 1:  # NaN fails too
            raise ValueError(f"x must hold images in [0, 1]; got values in [{low}, {high}]. Divide 8-bit "
                             f"images by 255, or pass them as uint8")
    return x.float()


def _load_torchvision(name, split, root, download):
    cls_name, folder, classes = TORCHVISION[name]
    path = root / folder
    try:
        return _read(name, split, path, classes)
    except FileNotFoundError as missing:
        if not download:
            raise _not_available(name, root, f"{missing.filename} is missing and download=False") from None
    try:
        import torchvision.datasets

        getattr(torchvision.datasets, cls_name)(str(root), train=split == "train", download=True)
    except Exception as failure:  # network errors come in many types; all mean the same here
        raise _not_available(name, root, f"the download failed ({type(failure).__name__}: {failure})") from failure
    try:
        return _read(name, split, path, classes)
    except FileNotFoundError as missing:
        raise _not_available(name, root, f"{missing.filename} is missing after the download") from None


def _not_available(name, root, why):
    return DatasetNotAvailable(
        f"dataset {name!r} is not available under {root}: {why}. Pass download=True (needs network), point "
        f"root= or MEMLIB_DATA at a folder that has it, or use an embedded dataset: {', '.join(EMBEDDED)}.")


def _read(name, split, path, classes):
    if name == "cifar10":
        x, y = _read_cifar(path, split)
    else:
        prefix = "train" if split == "train" else "t10k"
        x, image_file = _read_idx(path / f"{prefix}-images-idx3-ubyte", 3)
        y, label_file = _read_idx(path / f"{prefix}-labels-idx1-ubyte", 1)
        if len(x) != len(y):
            raise _corrupt(label_file, f"it holds {len(y)} labels but {image_file} holds {len(x)} images")
        _check_file_labels(label_file, y, len(classes))
        x = x[:, None]
    return Dataset(torch.from_numpy(x).float().div_(255), torch.from_numpy(y.astype(np.int64)), classes, name,
                   normalization=REFERENCE[name])


def _missing(path):
    return FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))


def _corrupt(file, why):
    return CorruptDataFile(f"{file} is corrupt: {why}. Delete it and download the dataset again "
                           f"(download=True), or replace it with a good copy")


def _check_file_labels(file, labels, num_classes):
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise _corrupt(file, f"its labels lie in [{int(labels.min())}, {int(labels.max())}], outside the "
                             f"dataset's {num_classes} classes")


def _read_idx(path, ndim):
    """An ``ndim``-dimensional IDX file (LeCun's MNIST format), plain or gzipped: ``(array, the file read)``."""
    for candidate in (path, path.with_name(path.name + ".gz")):
        if candidate.exists():
            try:
                if candidate.suffix == ".gz":
                    with gzip.open(candidate, "rb") as f:
                        raw = f.read()
                else:
                    raw = candidate.read_bytes()
            except (OSError, EOFError, zlib.error) as failure:
                raise _corrupt(candidate, f"it cannot be read ({type(failure).__name__}: {failure})") from None
            header = 4 + 4 * ndim
            if len(raw) < header or raw[:3] != b"\x00\x00\x08" or raw[3] != ndim:
                raise _corrupt(candidate, f"it is not a {ndim}-dimensional unsigned-byte IDX file")
            dims = np.frombuffer(raw, ">i4", count=ndim, offset=4).astype(np.int64)
            if len(raw) != header + int(np.prod(dims)):
                raise _corrupt(candidate, f"its header announces shape {tuple(int(d) for d in dims)}, "
                                          f"{header + int(np.prod(dims))} bytes, but it has {len(raw)} (truncated?)")
            return np.frombuffer(raw, np.uint8, offset=header).reshape(dims).copy(), candidate
    raise _missing(path)


# The globals a CIFAR-10 python pickle may name: numpy arrays, scalars and dtypes (numpy 1 and 2 spell the module
# differently), and the codec Python 3 uses for bytes at protocol 2. Nothing else is looked up, so a crafted file
# cannot call anything.
_CIFAR_GLOBALS = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy._core.multiarray", "_reconstruct"),
                  ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}


class _CifarUnpickler(pickle.Unpickler):
    """An unpickler that admits only :data:`_CIFAR_GLOBALS`."""

    def find_class(self, module, name):
        if module.startswith("numpy.core"):  # numpy 1's name of numpy._core
            module = "numpy._core" + module[len("numpy.core"):]
        if (module, name) not in _CIFAR_GLOBALS:
            raise pickle.UnpicklingError(f"it names {module}.{name}, which a CIFAR-10 batch never holds (a "
                                         f"crafted file?); nothing was run")
        return super().find_class(module, name)


def _read_cifar(path, split):
    """The CIFAR-10 python pickles (N×3072 uint8 rows, channel-major) as N×3×32×32 images and labels, each file
    read with :class:`_CifarUnpickler` and checked."""
    files = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    images, labels = [], []
    for file in (path / name for name in files):
        if not file.exists():
            raise _missing(file)
        try:
            with open(file, "rb") as f:
                batch = _CifarUnpickler(f, encoding="latin1").load()
        except Exception as failure:  # whatever a bad pickle raises, the file is the problem
            raise _corrupt(file, f"it cannot be unpickled ({type(failure).__name__}: {failure})") from None
        if not isinstance(batch, dict) or "data" not in batch or "labels" not in batch:
            raise _corrupt(file, "it is not a CIFAR-10 batch (a dict with 'data' and 'labels')")
        x = batch["data"]
        if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3072:
            raise _corrupt(file, f"its data must be an N × 3072 uint8 array; got "
                                 f"{getattr(x, 'dtype', type(x).__name__)} of shape {getattr(x, 'shape', '?')}")
        try:
            y = np.asarray(batch["labels"], np.int64)
        except (TypeError, ValueError, OverflowError):
            y = None
        if y is None or y.shape != (len(x),):
            raise _corrupt(file, f"it must hold one integer label per image ({len(x)})")
        _check_file_labels(file, y, 10)
        images.append(x.reshape(-1, 3, 32, 32))
        labels.append(y)
    return np.concatenate(images), np.concatenate(labels)
