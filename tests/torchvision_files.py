"""Small datasets written in torchvision's real on-disk formats (MNIST and Fashion-MNIST IDX files, CIFAR-10's
python pickles), for the smoke runs of the standard and paper profiles without a network."""
import pickle
from pathlib import Path

import numpy as np

FOLDERS = {"mnist": "MNIST/raw", "fashion-mnist": "FashionMNIST/raw", "cifar10": "cifar-10-batches-py"}


def images(count, shape, seed):
    """``count`` uint8 images of ``shape`` with labels 0–9: a fixed random pattern per class plus noise, so a
    network can learn something from them."""
    rng = np.random.default_rng(seed)
    prototypes = rng.integers(0, 256, (10, *shape))
    labels = np.arange(count) % 10
    rng.shuffle(labels)
    noisy = prototypes[labels] * 0.6 + rng.integers(0, 256, (count, *shape)) * 0.4
    return noisy.astype(np.uint8), labels.astype(np.uint8)


def write_idx(path, array):
    """``array`` (uint8) as an IDX file: magic 0x0000_08_<ndim>, big-endian int32 dimensions, the bytes."""
    header = bytes([0, 0, 8, array.ndim]) + np.asarray(array.shape, ">i4").tobytes()
    Path(path).write_bytes(header + np.ascontiguousarray(array, np.uint8).tobytes())


def write_mnist_like(root, name, train=300, test=150):
    """MNIST's four IDX files (28×28) under ``root``/MNIST/raw (or FashionMNIST/raw for "fashion-mnist")."""
    folder = Path(root) / FOLDERS[name]
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, count, seed in (("train", train, 0), ("t10k", test, 1)):
        x, y = images(count, (28, 28), seed)
        write_idx(folder / f"{prefix}-images-idx3-ubyte", x)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", y)


def write_cifar10(root, per_batch=60, test=150):
    """CIFAR-10's five training pickles and its test pickle (rows of 3072 channel-major bytes), and batches.meta."""
    folder = Path(root) / FOLDERS["cifar10"]
    folder.mkdir(parents=True, exist_ok=True)
    files = [(f"data_batch_{i}", per_batch, i) for i in range(1, 6)] + [("test_batch", test, 0)]
    for file, count, seed in files:
        x, y = images(count, (3, 32, 32), 10 + seed)
        batch = {"batch_label": file, "labels": y.tolist(), "data": x.reshape(count, 3072),
                 "filenames": [f"{file}_{i}.png" for i in range(count)]}
        with open(folder / file, "wb") as f:
            pickle.dump(batch, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                                     "ship", "truck"], "num_cases_per_batch": per_batch, "num_vis": 3072}, f)


def write_all(root):
    """MNIST, Fashion-MNIST and CIFAR-10 in torchvision's layout under ``root``; returns ``root``."""
    write_mnist_like(root, "mnist")
    write_mnist_like(root, "fashion-mnist")
    write_cifar10(root)
    return root
