import pytest
import torch
import torch.nn.functional as F

from memlib import data
from memlib.batches import CropFlip, DeviceImages


def test_eight_bit_images_are_stored_as_uint8_and_decode_to_the_same_floats(cifar_files, monkeypatch):
    monkeypatch.setenv("MEMLIB_DATA", str(cifar_files[0]))
    cifar = data.load("cifar10")
    images = DeviceImages(cifar.x, "cpu")
    assert images.eight_bit and images.images.dtype == torch.uint8
    assert torch.equal(images.batch(torch.arange(len(cifar))), cifar.x)  # bit for bit
    order = torch.tensor([[4, 0], [7, 7]])
    assert torch.equal(images.batch(order), cifar.x[order])


def test_other_images_stay_float(digits_train):
    # Digits are sixteenths, synthetic images are sigmoids: neither is made of the 256 levels k/255.
    for x in (digits_train.x, data.load("synthetic").x, torch.rand(5, 1, 4, 4) * 2):
        images = DeviceImages(x, "cpu")
        assert not images.eight_bit and images.images.dtype == torch.float32
        assert torch.equal(images.batch(torch.arange(len(x))), x)


def test_channels_last_batches():
    x = torch.randint(0, 256, (6, 3, 5, 5)).float() / 255
    batch = DeviceImages(x, "cpu", channels_last=True).batch(torch.arange(6))
    assert batch.is_contiguous(memory_format=torch.channels_last) and torch.equal(batch, x)
    cropped = DeviceImages(x, "cpu").batch(torch.arange(6), CropFlip(2), torch.Generator().manual_seed(0))
    assert cropped.is_contiguous()


def _translations(image, padding):
    """Every crop of ``image`` padded with zeros by ``padding``, as (dy, dx) → crop."""
    _, height, width = image.shape
    padded = F.pad(image, (padding,) * 4)
    return {(dy, dx): padded[:, dy:dy + height, dx:dx + width]
            for dy in range(2 * padding + 1) for dx in range(2 * padding + 1)}


def test_crop_flip_translates_and_mirrors_each_example_on_its_own():
    x = torch.rand(200, 2, 6, 7, generator=torch.Generator().manual_seed(0)) + 0.5  # no zeros: padding is visible
    out = CropFlip(padding=2)(x, torch.Generator().manual_seed(1))
    assert out.shape == x.shape
    shifts, flips = set(), 0
    for image, result in zip(x, out):
        matches = [(shift, flipped) for flipped in (False, True)
                   for shift, crop in _translations(image.flip(-1) if flipped else image, 2).items()
                   if torch.equal(crop, result)]
        assert len(matches) == 1  # exactly one translation of the image or of its mirror
        shifts.add(matches[0][0])
        flips += matches[0][1]
    assert len(shifts) == 25 and 70 < flips < 130  # every shift in [-2, 2]², about half flipped


def test_crop_flip_without_padding_or_flip_is_the_identity_and_flip_alone_mirrors():
    x = torch.rand(50, 1, 4, 4)
    assert torch.equal(CropFlip(padding=0, flip=False)(x), x)
    mirrored = CropFlip(padding=0)(x, torch.Generator().manual_seed(0))
    same = (mirrored == x).flatten(1).all(1)
    assert torch.equal(mirrored[~same], x[~same].flip(-1)) and 10 < int(same.sum()) < 40


def test_crop_flip_is_seeded_and_the_same_on_uint8_and_float():
    x = torch.randint(0, 256, (32, 3, 8, 8)).float() / 255
    images = DeviceImages(x, "cpu")
    index = torch.arange(32)

    def draw(seed):
        return images.batch(index, CropFlip(), torch.Generator().manual_seed(seed))

    assert images.eight_bit  # cropped as uint8, then decoded
    assert torch.equal(draw(0), draw(0)) and not torch.equal(draw(0), draw(1))
    assert torch.equal(draw(0), CropFlip()(x, torch.Generator().manual_seed(0)))


def test_crop_flip_rejects_bad_settings_and_shapes():
    with pytest.raises(ValueError, match="padding"):
        CropFlip(padding=-1)
    with pytest.raises(ValueError, match="N×C×H×W"):
        CropFlip()(torch.rand(3, 4))
