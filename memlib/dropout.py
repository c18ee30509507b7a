"""Example-tied dropout (Maini et al. 2023, Sec. 6, Fig. 6) and the two baselines of their Table 3.

Example-tied dropout splits a layer's units (channels of a conv map, features of a vector) in two. The first
⌊p_gen·C⌋ are *generalization* units, on for every example. Each training example owns a fixed random subset of the
remaining *memorization* units, every one of them kept with probability p_mem. Features shared by many examples are
learned by the generalization units; what only one example needs (its wrong label, say) can go to the memorization
units that example owns, and dropping those units at test time removes it.

Modes (:func:`set_mode` switches every example-tied layer of a model):

- "train": the example's own mask, no rescaling (needs the example indices);
- "test": every unit on, memorization units scaled by p_mem (their expected mask);
- "drop": memorization units zeroed, generalization units scaled by (p_gen + p_mem)/p_gen.

The layer's mode alone decides what it does; ``model.train()`` / ``model.eval()`` leave it alone (BatchNorm and the
baselines still follow them). So :func:`memlib.train.evaluate`, and hence the per-epoch records of
:func:`memlib.train.fit`, which pass each example's position in its dataset as its index, see the training examples
through their own masks while the layers are in "train" mode. Indices into another dataset (a test set) would pick
the masks of unrelated training examples: evaluate held-out data in "test" or "drop" mode
(``with dropout.using_mode(model, "test"): ...``), and train example-tied models without ``fit(test=...)``.

The reference implementation draws each mask in a per-example Python loop, reseeding the global RNG with the example
index, and keeps float masks of the full activation shape, copied to the GPU every step. Here all masks are drawn
once, from a private generator, into one boolean ``num_examples × num_units`` tensor on the model's device; a step
gathers the batch's rows and multiplies.
"""
import math
from contextlib import contextmanager

import torch
from torch import nn

from memlib import checks

MODES = ("train", "test", "drop")
KINDS = ("standard", "sparse", "example_tied")
_CHUNK = 8192  # rows of masks drawn at a time, so that drawing needs no full-size float tensor


class ExampleTiedDropout(nn.Module):
    """Example-tied dropout over ``num_units`` units for ``num_examples`` training examples (Maini et al. 2023,
    Sec. 6): ⌊p_gen·num_units⌋ generalization units, always on, then memorization units, each kept for each example
    with probability ``p_mem``. ``forward(x, index)`` takes N×C or N×C×… inputs and the examples' indices."""

    takes_index = True

    def __init__(self, num_examples, num_units, p_gen, p_mem, seed=0):
        super().__init__()
        num_examples = checks.positive_int("num_examples", num_examples)
        num_units = checks.integer("num_units", num_units, minimum=2)
        p_gen = checks.fraction("p_gen (the share of generalization units)", p_gen, low_open=True, high_open=True)
        p_mem = checks.fraction("p_mem (the chance a memorization unit is kept for an example)", p_mem,
                                low_open=True)
        seed = checks.non_negative_int("seed", seed)
        num_general = math.floor(round(p_gen * num_units, 9))
        if not 1 <= num_general < num_units:
            raise ValueError(f"p_gen={p_gen} leaves {num_general} of {num_units} units for generalization; it must "
                             f"leave at least one generalization and one memorization unit")
        self.num_examples, self.num_units, self.num_general = num_examples, num_units, num_general
        self.p_gen, self.p_mem, self.seed = float(p_gen), float(p_mem), seed
        self.mode = "train"
        # Masks follow from (seed, sizes, p's) alone, so they are redrawn identically rather than saved with weights.
        self.register_buffer("masks", self._draw_masks(), persistent=False)

    def _draw_masks(self):
        generator = torch.Generator().manual_seed(self.seed)
        masks = torch.ones(self.num_examples, self.num_units, dtype=torch.bool)
        for start in range(0, self.num_examples, _CHUNK):
            rows = min(_CHUNK, self.num_examples - start)
            draws = torch.rand(rows, self.num_units - self.num_general, generator=generator)
            masks[start:start + rows, self.num_general:] = draws < self.p_mem
        return masks

    def forward(self, x, index=None):
        if x.dim() < 2 or x.shape[1] != self.num_units:
            raise ValueError(f"expected inputs of shape N×{self.num_units}[×…]; got {tuple(x.shape)}")
        trailing = (1,) * (x.dim() - 2)
        if self.mode == "train":
            # The batch's rows only (B×C), cast through uint8: a bool→float cast is several times slower on the CPU.
            keep = self.masks.view(torch.uint8).index_select(0, self._checked(index, len(x))).to(x.dtype)
            return x * keep.view(len(x), self.num_units, *trailing)
        general, memory = (1.0, self.p_mem) if self.mode == "test" else ((self.p_gen + self.p_mem) / self.p_gen, 0.0)
        scale = torch.full((self.num_units,), memory, dtype=x.dtype, device=x.device)
        scale[:self.num_general] = general
        return x * scale.view(self.num_units, *trailing)

    def _checked(self, index, batch):
        if index is None:
            raise ValueError("example-tied dropout in 'train' mode needs the examples' indices: call "
                             "model(x, index), or switch to 'test' or 'drop' mode")
        index = torch.as_tensor(index, device=self.masks.device)
        if index.shape != (batch,) or index.dtype.is_floating_point or index.dtype == torch.bool:
            raise ValueError(f"index must be {batch} integer example indices; got shape {tuple(index.shape)}, "
                             f"{index.dtype}")
        if index.device.type == "cpu":  # on a GPU the gather checks the range itself, without a host sync
            low, high = torch.stack(torch.aminmax(index)).tolist()
            if low < 0 or high >= self.num_examples:
                raise ValueError(f"example indices must lie in [0, {self.num_examples}); got [{low}, {high}]")
        return index

    def extra_repr(self):
        return (f"num_examples={self.num_examples}, num_units={self.num_units}, p_gen={self.p_gen}, "
                f"p_mem={self.p_mem}, mode={self.mode!r}")


class StandardDropout(nn.Module):
    """Inverted dropout (Srivastava et al. 2014), elementwise, off in eval mode: the "standard dropout" row of
    Maini et al. 2023, Table 3 (p = 0.4 there). Draws from the global RNG, which :func:`memlib.train.fit` seeds."""

    def __init__(self, p):
        super().__init__()
        self.p = _check_rate(p)

    def forward(self, x):
        return nn.functional.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class SparseMask(nn.Module):
    """One fixed elementwise mask, the same for every example, at train and eval time, with 1/(1-p) scaling: the
    "sparse network" row of Maini et al. 2023, Table 3 (sparsity 0.4 there). The mask is a function of ``seed``
    and the per-example activation shape alone; it is drawn from a private generator when that shape is first
    seen."""

    def __init__(self, p, seed=0):
        super().__init__()
        self.p, self.seed = _check_rate(p), checks.non_negative_int("seed", seed)
        self.register_buffer("mask", None, persistent=False)

    def forward(self, x):
        if self.mask is None or self.mask.shape != x.shape[1:]:
            generator = torch.Generator().manual_seed(self.seed)
            self.mask = (torch.rand(x.shape[1:], generator=generator) >= self.p).to(x.device)
        return x * (self.mask.to(x.dtype) / (1 - self.p))

    def extra_repr(self):
        return f"p={self.p}, seed={self.seed}"


def layer_factory(kind, *, p=None, p_gen=None, p_mem=None, num_examples=None, seed=0):
    """A function ``num_units -> nn.Module`` making the dropout layers of one model (Maini et al. 2023, Table 3):
    "standard" (:class:`StandardDropout`, needs ``p``), "sparse" (:class:`SparseMask`, needs ``p``) or
    "example_tied" (:class:`ExampleTiedDropout`, needs ``p_gen``, ``p_mem``, ``num_examples``); None for no
    dropout (takes none of them). Every layer it makes gets its own seed, drawn from ``seed``."""
    needs = {None: (), "standard": ("p",), "sparse": ("p",), "example_tied": ("p_gen", "p_mem", "num_examples")}
    if kind not in needs:
        raise ValueError(f"unknown dropout {kind!r}; choose None or one of {', '.join(KINDS)}")
    given = {"p": p, "p_gen": p_gen, "p_mem": p_mem, "num_examples": num_examples}
    missing = [name for name in needs[kind] if given[name] is None]
    extra = [name for name, value in given.items() if value is not None and name not in needs[kind]]
    if missing or extra:
        raise ValueError(f"dropout={kind!r} takes {', '.join(needs[kind]) or 'no rates'}"
                         + (f"; missing {', '.join(missing)}" if missing else "")
                         + (f"; does not take {', '.join(extra)}" if extra else ""))
    if kind is None:
        return None
    seeds = torch.Generator().manual_seed(checks.non_negative_int("seed", seed))

    def make(num_units):
        layer_seed = int(torch.randint(2 ** 62, (), generator=seeds))
        if kind == "standard":
            return StandardDropout(p)
        if kind == "sparse":
            return SparseMask(p, layer_seed)
        return ExampleTiedDropout(num_examples, num_units, p_gen, p_mem, layer_seed)

    return make


def example_tied_layers(model):
    """The model's :class:`ExampleTiedDropout` layers, in order."""
    return [module for module in model.modules() if isinstance(module, ExampleTiedDropout)]


def set_mode(model, mode):
    """Put every example-tied layer of ``model`` in ``mode``: "train", "test" or "drop" (Maini et al. 2023, Sec. 6:
    train with example masks; at test time keep all units or drop the memorization units)."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    layers = example_tied_layers(model)
    if not layers:
        raise ValueError("the model has no ExampleTiedDropout layers; build it with dropout='example_tied'")
    for layer in layers:
        layer.mode = mode


@contextmanager
def using_mode(model, name):
    """``with using_mode(model, "drop"): ...``: :func:`set_mode` for the block, then every layer's mode is restored."""
    layers = example_tied_layers(model)
    saved = [layer.mode for layer in layers]
    set_mode(model, name)
    try:
        yield model
    finally:
        for layer, previous in zip(layers, saved):
            layer.mode = previous


def predictions_by_mode(model, data, modes=MODES, *, batch_size=1024) -> dict:
    """Every example's predicted class (on the CPU) with the model's example-tied layers in each of ``modes``: the
    before/after-dropping comparison of Maini et al. 2023, Table 3. "train" mode is meaningful only for the
    training set the masks belong to; the layers' modes are restored afterwards."""
    from memlib.train import evaluate

    for name in modes:
        checks.one_of("mode", name, MODES)
    batch_size = checks.positive_int("batch_size", batch_size)
    sizes = {layer.num_examples for layer in example_tied_layers(model)}
    if "train" in modes and sizes != {len(data)}:
        raise ValueError(f"'train' mode uses each training example's own mask, so data must be the training set "
                         f"the masks belong to ({', '.join(map(str, sorted(sizes)))} examples); got {len(data)} "
                         f"examples. Evaluate other data in 'test' or 'drop' mode")
    predictions = {}
    for name in modes:
        with using_mode(model, name):
            predictions[name] = evaluate(model, data, batch_size=batch_size)[0].cpu()
    return predictions


def generalization_units(layer) -> torch.Tensor:
    """Boolean mask over the layer's units: True for the generalization units (Maini et al. 2023, Fig. 6a)."""
    if not isinstance(layer, ExampleTiedDropout):
        raise ValueError(f"layer must be an ExampleTiedDropout layer (see example_tied_layers); got "
                         f"{type(layer).__name__}")
    units = torch.zeros(layer.num_units, dtype=torch.bool)
    units[:layer.num_general] = True
    return units


def memorization_units(layer) -> torch.Tensor:
    """Boolean mask over the layer's units: True for the memorization units (Maini et al. 2023, Fig. 6a)."""
    return ~generalization_units(layer)


def _check_rate(p):
    return checks.fraction("p (the share of units dropped)", p, high_open=True)


def other_mask_predictions(model, data, *, shift=1, batch_size=1024) -> torch.Tensor:
    """Every training example's predicted class (on the CPU) in "train" mode, seen through the memorization units
    of another training example, the one ``shift`` places before it: a control for Maini et al. (2023, Sec. 6),
    telling how much of what was memorized is held by the pairing of an example with its own mask."""
    from memlib.train import evaluate

    if not (isinstance(shift, int) and 0 < abs(shift) < len(data)):
        raise ValueError(f"shift must be a non-zero integer smaller than the {len(data)} examples; got {shift!r}")
    shifted = data.subset(torch.roll(torch.arange(len(data)), -shift))  # position j holds example j + shift
    with using_mode(model, "train"):
        return evaluate(model, shifted, batch_size=batch_size)[0].cpu().roll(shift)


def mode_accuracies(predictions, noisy, test_labels):
    """Table 3 of Maini et al. (2023) for one network: per mode of ``predictions`` (``{"train": {mode: predicted
    classes}, "test": {mode: ...}}``), the accuracy w.r.t. the ``noisy`` training labels
    (:class:`memlib.noise.NoisyLabels`) on the correctly labeled (``clean``) and on the mislabeled (``noisy``)
    training examples, and on the test set (``test``, NaN for a mode the test set was not asked in)."""
    import pandas as pd

    rows = []
    for mode, predicted in predictions["train"].items():
        hits = (torch.as_tensor(predicted) == noisy.labels).float()
        test = predictions["test"].get(mode)
        test = math.nan if test is None else float((test == torch.as_tensor(test_labels).cpu()).float().mean())
        rows.append(dict(mode=mode, clean=float(hits[~noisy.is_noisy].mean()),
                         noisy=float(hits[noisy.is_noisy].mean()), test=test))
    return pd.DataFrame(rows, columns=["mode", "clean", "noisy", "test"])


def forgotten(predictions, noisy):
    """The clean training examples an example-tied network fits through their own units (``predictions["train"]``
    equal to their label), split into those it no longer fits with its memorization units dropped
    (``predictions["drop"]``) and those it still fits: Maini et al. (2023, Fig. 7) find the forgotten ones
    mislabeled-looking or atypical. ``noisy``: the :class:`memlib.noise.NoisyLabels` it was trained on. Returns
    ``(forgotten, kept)``, boolean masks over the training examples."""
    labels = noisy.labels
    if len(predictions["train"]) != len(labels) or len(predictions["drop"]) != len(labels):
        raise ValueError(f"predictions must hold one class per training example ({len(labels)}) in 'train' and "
                         f"'drop' mode; got {len(predictions['train'])} and {len(predictions['drop'])}")
    fitted = ~noisy.is_noisy & (torch.as_tensor(predictions["train"]) == labels)
    kept = torch.as_tensor(predictions["drop"]) == labels
    return fitted & ~kept, fitted & kept
