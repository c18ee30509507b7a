"""The book's models, built by name. Every forward is ``forward(x, index=None)``: ``index`` holds the batch's example
indices and reaches the layers that need them (example-tied dropout, Maini et al. 2023).

- "mlp": fully connected ReLU network, ``hidden`` sizes an option (default 256, 256).
- "lenet300": LeNet-300-100 of the lottery-ticket papers (Frankle & Carbin 2019), open_lth's initialization.
- "cnn": a small conv-BN-ReLU network that works on inputs from 8×8 to 32×32, ``width`` an option.
- "resnet9": the KakaoBrain/FFCV ResNet-9 used by Maini et al. 2023 (about 2.27M parameters for 3×32×32 inputs).
- "resnet20": open_lth's CIFAR ResNet-20 (Frankle et al. 2020; about 0.27M parameters).
- "resnet18": the CIFAR ResNet-18 of Maini et al.'s example-tied dropout runs (their ``models/resnet18_custom.py``;
  about 11.2M parameters).
- "resnet34": the CIFAR ResNet-34 of Liu et al.'s ELR runs (shengliu66/ELR, ``ELR/model/ResNet_Zoo.py``; about 21.3M).

``build(..., dropout=...)`` adds the dropout layers of Maini et al. 2023, Table 3 (:mod:`memlib.dropout`):
"standard" and "sparse" per element, "example_tied" over features (mlp, lenet300) or channels (conv nets). They
go after every hidden ReLU of mlp and lenet300, after every conv-BN-ReLU block of cnn, after every BasicBlock of
resnet20, in resnet9 after each of its six stages (both conv-BN-ReLU stems, both residual blocks, the 256-channel
conv before its max pool, the last conv before the global pool), as the reference's ``ResNet9_dropout`` places its
standard dropout, and in resnet18 and resnet34 after layer2 and layer3 only, where the reference's example-tied
ResNet-18 (``models/resnet18_custom.py``) places its example-tied layers.
"""
import inspect

import torch
from torch import nn

from memlib import checks


class Sequential(nn.Sequential):
    """``nn.Sequential`` whose forward takes the batch's example indices and hands them to layers that use them
    (those with ``takes_index = True``)."""

    takes_index = True

    def forward(self, x, index=None):
        for layer in self:
            x = layer(x, index) if getattr(layer, "takes_index", False) else layer(x)
        return x


class Residual(Sequential):
    """``x + body(x)``: the residual block of the KakaoBrain/FFCV ResNet-9."""

    def forward(self, x, index=None):
        return x + super().forward(x, index)


class Scale(nn.Module):
    """Multiply by a constant (the ×0.2 on the logits of the FFCV ResNet-9)."""

    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor

    def extra_repr(self):
        return f"factor={self.factor}"


class BasicBlock(nn.Module):
    """open_lth's CIFAR ResNet block: conv-BN-ReLU-conv-BN plus a shortcut (1×1 conv + BN when the shape changes)."""

    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


def conv_bn(c_in, c_out, kernel_size=3, stride=1, padding=1):
    """Conv (no bias) → BatchNorm → ReLU."""
    return Sequential(nn.Conv2d(c_in, c_out, kernel_size, stride, padding, bias=False), nn.BatchNorm2d(c_out),
                      nn.ReLU(inplace=True))


def _dropped(drop, num_units):
    """The dropout layer that ``drop`` (a :func:`memlib.dropout.layer_factory`, or None) makes for ``num_units``
    units, as a list to splice into a model: empty without dropout."""
    return [] if drop is None else [drop(num_units)]


def mlp(num_classes, in_shape, hidden=(256, 256), drop=None):
    """Flatten, then Linear-ReLU(-dropout) per hidden size (a sequence of positive integers), then a linear output
    layer."""
    if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__iter__"):
        raise ValueError(f"hidden must be a sequence of layer sizes (positive integers); got {hidden!r}")
    hidden = [checks.positive_int("each size in hidden", size) for size in hidden]
    sizes = [int(torch.tensor(in_shape).prod()), *hidden]
    layers = [nn.Flatten()]
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU(), *_dropped(drop, b)]
    return Sequential(*layers, nn.Linear(sizes[-1], num_classes))


def lenet300(num_classes, in_shape, drop=None):
    """LeNet-300-100 (Frankle & Carbin 2019), Kaiming-normal initialization as in open_lth."""
    return _kaiming(mlp(num_classes, in_shape, hidden=(300, 100), drop=drop))


def cnn(num_classes, in_shape, width=32, drop=None):
    """Three conv-BN-ReLU layers (one 2×2 max pool), global average pooling, a linear layer. 8×8 inputs and up;
    ``width`` channels in the first layer (a positive integer)."""
    width = checks.positive_int("width", width)
    if min(in_shape[1:]) < 4:
        raise ValueError(f"cnn needs inputs of at least 4×4; got {in_shape}")
    return Sequential(
        conv_bn(in_shape[0], width), *_dropped(drop, width),
        conv_bn(width, 2 * width), *_dropped(drop, 2 * width), nn.MaxPool2d(2),
        conv_bn(2 * width, 4 * width), *_dropped(drop, 4 * width),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * width, num_classes))


def resnet9(num_classes, in_shape, drop=None):
    """The KakaoBrain/FFCV ResNet-9 of Maini et al. 2023 (their ``ResNet9``): conv-bn 64 → conv-bn 128 (k5, s2) →
    residual 2×128 → conv-bn 256 → max pool → residual 2×256 → conv-bn 128 (no padding) → adaptive max pool →
    bias-free linear → ×0.2. Needs inputs of at least 11×11."""
    if min(in_shape[1:]) < 11:
        raise ValueError(f"resnet9 needs inputs of at least 11×11; got {in_shape}")
    return Sequential(
        conv_bn(in_shape[0], 64), *_dropped(drop, 64),
        conv_bn(64, 128, kernel_size=5, stride=2, padding=2), *_dropped(drop, 128),
        Residual(conv_bn(128, 128), conv_bn(128, 128)), *_dropped(drop, 128),
        conv_bn(128, 256), *_dropped(drop, 256),
        nn.MaxPool2d(2),
        Residual(conv_bn(256, 256), conv_bn(256, 256)), *_dropped(drop, 256),
        conv_bn(256, 128, padding=0), *_dropped(drop, 128),
        nn.AdaptiveMaxPool2d(1), nn.Flatten(),
        nn.Linear(128, num_classes, bias=False),
        Scale(0.2))


def resnet20(num_classes, in_shape, drop=None):
    """open_lth's ``cifar_resnet_20`` (Frankle et al. 2020): a 16-channel stem, three stages of three blocks at
    widths 16/32/64, global average pooling, a linear layer; Kaiming-normal weights, uniform BN scales."""
    layers, c_in = [nn.Conv2d(in_shape[0], 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()], 16
    for stage, width in enumerate((16, 32, 64)):
        for block in range(3):
            layers += [BasicBlock(c_in, width, 2 if stage > 0 and block == 0 else 1), *_dropped(drop, width)]
            c_in = width
    model = Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, num_classes))
    _kaiming(model)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            nn.init.uniform_(module.weight)
    return model


def cifar_resnet(num_classes, in_shape, blocks, drop=None):
    """The CIFAR ResNet of Maini et al. 2023 and Liu et al. 2020 (both from kuangliu/pytorch-cifar): a 3×3
    64-channel conv-BN-ReLU stem, four stages of ``blocks`` BasicBlocks at widths 64/128/256/512 (stride 2 from the
    second on), average pooling over the last 4×4 map (adaptive here), a linear layer. Dropout layers after the
    second and third stages (``layer2``, ``layer3``)."""
    layers, c_in = [nn.Conv2d(in_shape[0], 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU()], 64
    for stage, (width, count) in enumerate(zip((64, 128, 256, 512), blocks)):
        for block in range(count):
            layers.append(BasicBlock(c_in, width, 2 if stage > 0 and block == 0 else 1))
            c_in = width
        if stage in (1, 2):
            layers += _dropped(drop, width)
    return Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, num_classes))


def resnet18(num_classes, in_shape, drop=None):
    """ResNet-18 (two blocks per stage), the network of Maini et al.'s example-tied dropout."""
    return cifar_resnet(num_classes, in_shape, (2, 2, 2, 2), drop)


def resnet34(num_classes, in_shape, drop=None):
    """ResNet-34 (3, 4, 6 and 3 blocks), the network of Liu et al.'s CIFAR-10 ELR runs."""
    return cifar_resnet(num_classes, in_shape, (3, 4, 6, 3), drop)


MODELS = {"mlp": mlp, "lenet300": lenet300, "cnn": cnn, "resnet9": resnet9, "resnet20": resnet20,
          "resnet18": resnet18, "resnet34": resnet34}


def build(name, num_classes, in_shape, seed=0, dropout=None, p=None, p_gen=None, p_mem=None, num_examples=None,
          **options) -> nn.Module:
    """Build model ``name`` for ``num_classes`` classes and inputs of shape ``in_shape`` (C, H, W).

    Weights (and dropout masks) are drawn from ``seed`` without touching the global RNG's state. ``dropout``:
    None, "standard" or "sparse" (with ``p``), or "example_tied" (with ``p_gen``, ``p_mem`` and ``num_examples``,
    the training set's size); the layers go where the module docstring says (Maini et al. 2023, Table 3).
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    in_shape = checks.image_shape("in_shape", in_shape)
    num_classes = checks.integer("num_classes", num_classes, minimum=2)
    seed = checks.non_negative_int("seed", seed)
    builder = MODELS[name]
    allowed = [option for option in list(inspect.signature(builder).parameters)[2:] if option != "drop"]
    unknown = set(options) - set(allowed)
    if unknown:
        raise ValueError(f"{name} does not take {sorted(unknown)}; its options are {allowed or 'none'}")
    from memlib.dropout import layer_factory

    drop = layer_factory(dropout, p=p, p_gen=p_gen, p_mem=p_mem, num_examples=num_examples, seed=seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return builder(num_classes, in_shape, drop=drop, **options)


def _kaiming(model):
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            nn.init.kaiming_normal_(module.weight)
    return model
