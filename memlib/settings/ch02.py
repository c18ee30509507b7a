"""Chapter 2, "Can memorization be localized? Example-tied dropout": Maini et al. 2023, Sec. 6 and Table 3.

Reference code: pratyushmaini/localizing-memorization (``models/dropout.py``, ``models/resnet18_custom.py``; no
script there trains a dropout model, so the training recipe is the one ``train.py`` uses for every run). Each
profile has the network (``dataset``, ``model``, ``model_options``), the label ``noise_rate``, the ``seeds``, the ``fit``
recipe, the rates of the three ``methods`` of Table 3, the ``sweep`` of rates tried one at a time, and
``examples``: at most this many examples of each split (None: all of them).
"""
from memlib.settings import Chapter, Setting, describe, normalization, schedule

# Table 3's rates: standard dropout p, the sparse network's sparsity p, example-tied p_gen and p_mem.
METHODS = {"standard": dict(p=0.4), "sparse": dict(p=0.4), "example_tied": dict(p_gen=0.4, p_mem=0.2)}

PROFILES = {
    # quick: one wide hidden layer on scikit-learn's 8×8 digits, trained until it has fitted the noisy labels
    # (with weight decay, or in fewer epochs, dropout at p = 0.4 keeps this small network from fitting them).
    "quick": dict(dataset="digits", model="mlp", model_options=dict(hidden=[1024]), noise_rate=0.1, seeds=2,
                  fit=dict(epochs=150, lr=0.1, weight_decay=0.0, batch_size=64, schedule="cosine"),
                  methods=METHODS, sweep=dict(p_mem=[0.2, 0.6, 1.0], p_gen=[0.4, 0.8], p=[0.4, 0.6]),
                  examples=None),
    # standard (a Colab T4): the same wide MLP on MNIST.
    "standard": dict(dataset="mnist", model="mlp", model_options=dict(hidden=[1024]), noise_rate=0.1, seeds=2,
                     fit=dict(epochs=40, lr=0.1, momentum=0.9, weight_decay=0.0, batch_size=128,
                              schedule="cosine", augment=None),
                     methods=METHODS, sweep=dict(p_mem=[0.2, 0.6, 1.0], p_gen=[0.1, 0.4, 0.8], p=[0.2, 0.4, 0.6]),
                     examples=None),
    # paper: the reference's example-tied CIFAR ResNet-18 (layers after layer2 and layer3) on CIFAR-10 with 10%
    # noise, trained with the recipe of the reference's train.py (as chapter 1's ResNet-9).
    "paper": dict(dataset="cifar10", model="resnet18", model_options={}, noise_rate=0.1, seeds=3,
                  fit=dict(epochs=50, lr=0.01, momentum=0.9, weight_decay=5e-4, batch_size=512, schedule="cosine",
                           warmup=0.1, augment=None),
                  methods=METHODS, sweep=dict(p_mem=[0.2, 0.6, 1.0], p_gen=[0.1, 0.4, 0.8], p=[0.2, 0.4, 0.6]),
                  examples=None),
}

# Where build(..., dropout=...) puts the dropout layers (memlib.models).
PLACES = {"resnet18": "after layer2 and layer3", "mlp": "after the hidden layer", "resnet9": "after all 6 stages"}


def _architecture(config):
    hidden = config["model_options"].get("hidden")
    return config["model"] + (f", hidden {describe(hidden)}" if hidden else "")


def _sweep(config):
    return "; ".join(f"{name} {describe(values)}" for name, values in config["sweep"].items())


CHAPTER = Chapter(
    2,
    profiles=PROFILES,
    settings=(
        Setting("dataset", "dataset", "CIFAR-10 (Table 3)", "no dropout run in the code",
                "standard: MNIST (T4 time)"),
        Setting("train / test set", lambda c: "all" if c["examples"] is None else f"≤ {c['examples']} each",
                "not stated", "full train set (`train.py` L236)"),
        Setting("architecture", _architecture, "not verified here",
                "CIFAR ResNet-18 `ResNet18()` (`models/resnet18_custom.py` L72-112)",
                "standard: MLP (T4 time)"),
        Setting("dropout layers", lambda c: PLACES.get(c["model"], "—"), "not verified here",
                "one `ExampleTiedDropout` after layer2 and layer3 (`resnet18_custom.py` L95-108)",
                "a mask per layer (the code shares one, whose cache breaks on 128 vs 256 channels)"),
        Setting("example-tied p_gen / p_mem", lambda c: "{p_gen} / {p_mem}".format(**c["methods"]["example_tied"]),
                "0.4 / 0.2 (Table 3)", "factory default `p_fixed=0.5, p_mem=0.2` (`resnet18_custom.py` L111)",
                "the paper's values"),
        Setting("test-time modes", lambda c: "test; drop; control: another example's mask",
                "test: memorization × p_mem; drop: zeroed (Sec. 6)",
                "the same, `drop_mode` test/drop (`models/dropout.py` L95-105)", "the control is the book's"),
        Setting("baselines", lambda c: "dropout p {}; sparse p {}".format(c["methods"]["standard"]["p"],
                                                                         c["methods"]["sparse"]["p"]),
                "dropout 0.4; sparsity 0.4 (Table 3)",
                "none trained; `ResNet9_dropout`: `nn.Dropout` after all 6 stages (`models.py` L38-93)",
                "at the example-tied layers' places, on the same network"),
        Setting("optimizer", lambda c: f"SGD, momentum {describe(c['fit'].get('momentum', 0.9))}", "not verified here",
                "SGD, momentum 0.9 (`train.py` L202)", "the code's recipe for all its runs"),
        Setting("learning rate", "fit.lr", "not verified here", "0.01 in the ResNet-9 run names (`pending_*.txt`)",
                "standard: 0.1 for the MLP"),
        Setting("weight decay", "fit.weight_decay", "not verified here", "5e-4 (`train.py` L202)",
                "standard: 0 (else dropout keeps the MLP from fitting the noise)"),
        Setting("schedule", lambda c: schedule(c["fit"]), "not verified here",
                "\"cosine\" hard-coded (`train.py` L204): 10% linear warm-up, cosine to 0, per step "
                "(`utils.py` L119-123)"),
        Setting("epochs", "fit.epochs", "not verified here", "`100 if aug else 50` (`experiments/rewinding.py` L98)"),
        Setting("batch size", "fit.batch_size", "not verified here", "512 (`params.py` L36)"),
        Setting("augmentation", "fit.augment", "not verified here", "none by default (`params.py` L14)"),
        Setting("normalization", lambda c: normalization(c["dataset"]), "not stated",
                "`Normalize(0.5, 0.5)` (`dataloader.py` L91)",
                "per-channel dataset statistics (CIFAR-10: 0.4914, 0.4822, 0.4465 / 0.2470, 0.2435, "
                "0.2616), the book's convention"),
        Setting("label noise", lambda c: f"{c['noise_rate']:.0%}, uniform", "10% (Table 3)",
                "(y + r) mod C, r ∈ 1…C−2 (`dataloader.py` L58-71)",
                "the code never picks y−1; the book draws the C−1 other classes uniformly"),
        Setting("seeds", "seeds", "not verified here", "no dropout run in the code"),
        Setting("rates swept (one seed)", _sweep, "—", "—", "the book's sensitivity check"),
        Setting("precision", lambda c: "autocast on CUDA: bf16 (else fp16)", "—", "fp32 (`train.py`: no autocast)",
                "mixed precision, for speed"),
    ),
    # A few optimizer steps per run: 16 examples (one batch), two epochs, one seed, and only the sweep values the
    # main runs already train (so the sweep adds no run).
    smoke={"examples": 16, "sweep": {"p_mem": [0.2], "p_gen": [0.4], "p": [0.4]}},
)
