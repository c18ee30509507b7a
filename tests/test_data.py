import gzip
import pickle
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch

import torchvision_files
from memlib import data


def test_dataset_from_tensors_has_the_documented_fields():
    ds = data.Dataset(torch.zeros(6, 1, 4, 4, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1, 2]),
                      classes=["a", "b", "c"], name="toy")
    assert ds.x.dtype == torch.float32 and ds.y.dtype == torch.int64
    assert (len(ds), ds.num_classes, ds.classes, ds.name, ds.shape) == (6, 3, ["a", "b", "c"], "toy", (1, 4, 4))
    assert data.Dataset(torch.zeros(3, 1, 2, 2), torch.tensor([0, 4, 1])).num_classes == 5


@pytest.mark.parametrize("x, y, match", [
    (torch.zeros(4, 8, 8), torch.zeros(4, dtype=torch.long), "4-D"),
    (torch.zeros(4, 1, 8, 8), torch.zeros(3, dtype=torch.long), "one per example"),
    (torch.zeros(4, 1, 8, 8), torch.zeros(4, 1, dtype=torch.long), "1-D"),
    (torch.zeros(4, 1, 8, 8), torch.zeros(4), "integer class indices"),
])
def test_dataset_rejects_bad_tensors(x, y, match):
    with pytest.raises(ValueError, match=match):
        data.Dataset(x, y)


def test_dataset_rejects_labels_outside_the_classes():
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        data.Dataset(torch.zeros(3, 1, 2, 2), torch.tensor([0, 1, 2]), classes=["a", "b"])


def test_subset_and_to_keep_classes_name_and_meta():
    ds = data.Dataset(torch.arange(5.0).view(5, 1, 1, 1) / 4, torch.tensor([0, 1, 0, 1, 0]), ["x", "y"], "toy",
                      meta={"rare": torch.tensor([True, False, False, True, False])})
    sub = ds.subset([3, 1])
    assert sub.x.flatten().tolist() == [0.75, 0.25] and sub.y.tolist() == [1, 1]
    assert sub.meta["rare"].tolist() == [True, False] and (sub.classes, sub.name) == (["x", "y"], "toy")
    masked = ds.subset(ds.y == 0)
    assert masked.x.flatten().tolist() == [0.0, 0.5, 1.0]
    moved = ds.to("cpu")
    assert moved.x.device.type == "cpu" and moved.meta["rare"].tolist() == ds.meta["rare"].tolist()
    with pytest.raises(ValueError, match="boolean mask"):
        ds.subset(torch.tensor([True, False]))


def test_digits_is_a_stratified_seeded_80_20_split(digits_train, digits_test):
    assert (len(digits_train), len(digits_test)) == (1437, 360)
    assert digits_train.shape == (1, 8, 8) and digits_train.num_classes == 10
    assert 0 <= float(digits_train.x.min()) and float(digits_train.x.max()) <= 1
    train_share = torch.bincount(digits_train.y) / len(digits_train)
    test_share = torch.bincount(digits_test.y) / len(digits_test)
    assert torch.allclose(train_share, test_share, atol=0.01)
    again = data.load("digits", "train")
    assert torch.equal(again.x, digits_train.x) and torch.equal(again.y, digits_train.y)


def test_synthetic_is_seeded_sized_and_marks_its_rare_members():
    a = data.load("synthetic", size=3000, seed=1)
    b = data.load("synthetic", size=3000, seed=1)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y) and len(a) == 3000
    assert not torch.equal(a.x, data.load("synthetic", size=3000, seed=2).x)
    assert not torch.equal(a.x[:100], data.load("synthetic", "test", size=3000, seed=1).x[:100])
    rare = a.meta["rare"]
    assert rare.dtype == torch.bool and 0.03 < float(rare.float().mean()) < 0.07
    assert torch.bincount(a.y).tolist() == [300] * 10
    # Rare members sit far from their class's common mode.
    common_mean = torch.stack([a.x[(a.y == c) & ~rare].mean(0) for c in range(10)])
    distance = (a.x - common_mean[a.y]).flatten(1).norm(dim=1)
    assert distance[rare].mean() > 1.5 * distance[~rare].mean()


def test_load_rejects_unknown_names_splits_and_options():
    with pytest.raises(ValueError, match="digits"):
        data.load("imagenet")
    with pytest.raises(ValueError, match="split"):
        data.load("digits", "validation")
    with pytest.raises(ValueError, match="rare_fraction"):
        data.load("synthetic", rare_fraction=1.5)
    with pytest.raises(ValueError, match="no options"):
        data.load("mnist", size=10)


def _write_idx(path, array, compress):
    header = bytes([0, 0, 8, array.ndim]) + np.array(array.shape, ">i4").tobytes()
    payload = header + array.astype(np.uint8).tobytes()
    if compress:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(payload)
    else:
        path.write_bytes(payload)


@pytest.mark.parametrize("name, folder, compress", [("mnist", "MNIST", False), ("fashion-mnist", "FashionMNIST", True)])
def test_mnist_format_files_load_from_root(tmp_path, name, folder, compress):
    raw = tmp_path / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (7, 28, 28))
    labels = rng.integers(0, 10, 7)
    for prefix in ("train", "t10k"):
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", images, compress)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels, compress)
    ds = data.load(name, "test", root=tmp_path)
    assert ds.shape == (1, 28, 28) and len(ds) == 7 and ds.name == name and ds.num_classes == 10
    assert torch.allclose(ds.x[:, 0], torch.tensor(images / 255, dtype=torch.float32))
    assert ds.y.tolist() == labels.tolist()


def test_cifar10_pickles_load_from_memlib_data(cifar_files, monkeypatch):
    root, batches = cifar_files
    monkeypatch.setenv("MEMLIB_DATA", str(root))
    train = data.load("cifar10")
    assert len(train) == 15 and train.shape == (3, 32, 32) and train.classes[0] == "airplane"
    first = torch.tensor(batches["data_batch_1"]["data"][0].reshape(3, 32, 32) / 255, dtype=torch.float32)
    assert torch.allclose(train.x[0], first)
    test = data.load("cifar10", "test")
    assert test.y.tolist() == [int(v) for v in batches["test_batch"]["labels"]]


def test_missing_dataset_offline_names_dataset_root_and_alternatives(tmp_path):
    with pytest.raises(data.DatasetNotAvailable) as error:
        data.load("cifar10", root=tmp_path)
    message = str(error.value)
    assert "cifar10" in message and str(tmp_path) in message and "digits" in message and "synthetic" in message


def test_failed_download_is_reported_without_a_network_traceback(tmp_path, monkeypatch):
    import torchvision.datasets

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    with pytest.raises(data.DatasetNotAvailable, match="download failed.*URLError"):
        data.load("mnist", root=tmp_path, download=True)


def test_data_root_prefers_argument_then_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMLIB_DATA", str(tmp_path / "env"))
    assert data.data_root(tmp_path / "arg") == tmp_path / "arg"
    assert data.data_root() == tmp_path / "env"
    monkeypatch.delenv("MEMLIB_DATA")
    assert data.data_root().parts[-3:] == (".cache", "memlib", "data")


def test_uint8_images_are_scaled_to_the_unit_range_with_a_warning():
    codes = torch.arange(8, dtype=torch.uint8).mul(36).view(2, 1, 2, 2)
    with pytest.warns(UserWarning, match="scaled to \\[0, 1\\] by 1/255"):
        ds = data.Dataset(codes, torch.tensor([0, 1]))
    assert ds.x.dtype == torch.float32 and torch.equal(ds.x, codes.float() / 255)


@pytest.mark.parametrize("x", [torch.full((2, 1, 2, 2), 255.0), torch.full((2, 1, 2, 2), float("nan"))])
def test_images_outside_the_unit_range_are_refused(x):
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        data.Dataset(x, torch.tensor([0, 1]))


class _WritesAMarker:
    """A pickle payload that, if unpickled by the standard unpickler, writes a file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "code ran"))


def test_a_crafted_cifar_pickle_runs_nothing_and_names_the_file(tmp_path):
    torchvision_files.write_cifar10(tmp_path)
    marker = tmp_path / "marker"
    crafted = tmp_path / "cifar-10-batches-py" / "test_batch"
    crafted.write_bytes(pickle.dumps({"data": _WritesAMarker(marker), "labels": [0]}))
    with pytest.raises(data.CorruptDataFile) as error:
        data.load("cifar10", "test", root=tmp_path)
    assert not marker.exists()
    assert str(crafted) in str(error.value) and "Delete it and download" in str(error.value)
    assert "pathlib" in str(error.value)  # the refused global, named


@pytest.mark.parametrize("damage", ["truncate", "other object", "label count", "label range", "float data"])
def test_damaged_cifar_pickles_raise_an_error_naming_the_file(tmp_path, damage):
    torchvision_files.write_cifar10(tmp_path)
    file = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    batch = pickle.loads(file.read_bytes())
    if damage == "truncate":
        file.write_bytes(file.read_bytes()[:1000])
    else:
        if damage == "other object":
            batch = [batch["data"]]
        elif damage == "label count":
            batch["labels"] = batch["labels"][:-1]
        elif damage == "label range":
            batch["labels"][0] = 10
        else:
            batch["data"] = batch["data"].astype(np.float32)
        file.write_bytes(pickle.dumps(batch))
    with pytest.raises(data.CorruptDataFile, match="data_batch_3 is corrupt"):
        data.load("cifar10", root=tmp_path)
    assert len(data.load("cifar10", "test", root=tmp_path)) == 150  # the other split's file is intact


@pytest.mark.parametrize("damage", ["truncate", "truncate gzip", "header", "label count", "label range"])
def test_damaged_idx_files_raise_an_error_naming_the_file(tmp_path, damage):
    torchvision_files.write_mnist_like(tmp_path, "mnist")
    raw = tmp_path / "MNIST" / "raw"
    images, labels = raw / "train-images-idx3-ubyte", raw / "train-labels-idx1-ubyte"
    named = images
    if damage == "truncate":
        images.write_bytes(images.read_bytes()[:-100])
    elif damage == "truncate gzip":
        with gzip.open(str(images) + ".gz", "wb") as f:
            f.write(images.read_bytes())
        images.unlink()
        named = raw / "train-images-idx3-ubyte.gz"
        named.write_bytes(named.read_bytes()[:len(named.read_bytes()) // 2])
    elif damage == "header":
        images.write_bytes(b"\x00\x00\x0d\x03" + images.read_bytes()[4:])
    else:
        named = labels
        values = np.frombuffer(labels.read_bytes(), np.uint8, offset=8).copy()
        if damage == "label count":
            values = values[:-1]
        else:
            values[0] = 200
        torchvision_files.write_idx(labels, values)
    with pytest.raises(data.CorruptDataFile) as error:
        data.load("mnist", root=tmp_path)
    assert f"{named} is corrupt" in str(error.value) and "download the dataset again" in str(error.value)


def test_a_missing_file_is_named_in_the_message_without_a_chained_traceback(tmp_path):
    torchvision_files.write_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_4").unlink()
    with pytest.raises(data.DatasetNotAvailable) as error:
        data.load("cifar10", root=tmp_path)
    assert str(tmp_path / "cifar-10-batches-py" / "data_batch_4") in str(error.value)
    assert error.value.__cause__ is None and error.value.__suppress_context__


def test_valid_torchvision_files_load(tmp_path):
    torchvision_files.write_all(tmp_path)
    assert len(data.load("cifar10", root=tmp_path)) == 300 and len(data.load("mnist", "test", root=tmp_path)) == 150
    assert len(data.load("fashion-mnist", root=tmp_path)) == 300
