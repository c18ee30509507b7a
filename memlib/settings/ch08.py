"""Chapter 8, "Lottery tickets and rewinding": iterative magnitude pruning with the three resets of the slide
(Frankle & Carbin 2019; Frankle et al. 2020), on LeNet-300-100 / MNIST and ResNet-20 / CIFAR-10.

Reference code: facebookresearch/open_lth @ 2ce732f, the defaults ``mnist_lenet_300_100`` (``models/mnist_lenet.py``
L71-96) and ``cifar_resnet_20`` (``models/cifar_resnet.py`` L128-156), global magnitude pruning
(``pruning/sparse_global.py``), rewinding through ``--rewinding_steps`` (``lottery/desc.py``, ``lottery/runner.py``).
Each profile has its ``setups`` (one IMP experiment per network: ``dataset``, ``model``, the ``fit`` recipe, the
pruning ``fraction`` per round, ``rounds``, ``exclude_output`` (the output layer stays dense), ``seeds``, the rewind
step ``k``, the ``variants`` run and the ``sweep`` of rewind steps) and ``examples``: at most this many examples of
each split (None: all of them).
"""
from memlib.settings import Chapter, Setting, describe, normalization, schedule

ALL = ["rewind to 0", "rewind to k", "random re-init", "random pruning"]

# quick: LeNet-300-100 on the 8×8 digits, 10 epochs per training, 45% of the remaining weights pruned per round.
DIGITS = dict(epochs=10, lr=0.1, weight_decay=1e-4, batch_size=64, schedule="cosine")
# open_lth's mnist_lenet_300_100: SGD lr 0.1 without momentum or weight decay, constant rate, batch 128, 40 epochs.
LENET = dict(epochs=40, lr=0.1, momentum=0.0, weight_decay=0.0, batch_size=128, schedule="constant", warmup=0.0,
             augment=None)
# open_lth's cifar_resnet_20: SGD lr 0.1, momentum 0.9, wd 1e-4, batch 128, 160 epochs, ×0.1 at epochs 80 and 120
# ("step": at 50% and 75%), no warm-up, random crop and flip.
RESNET20 = dict(epochs=160, lr=0.1, momentum=0.9, weight_decay=1e-4, batch_size=128, schedule="step", warmup=0.0,
                augment="crop-flip")

PROFILES = {
    "quick": dict(setups=[dict(dataset="digits", model="lenet300", fit=DIGITS, fraction=0.45, rounds=7,
                               exclude_output=True, seeds=2, k=50, variants=ALL, sweep=[0, 10, 50, 150])],
                  examples=None),
    # standard (a Colab T4): the paper's two recipes, shortened (10 and 15 epochs), fewer rounds and one seed;
    # ResNet-20 prunes half of its weights per round and runs only the two rewinds.
    "standard": dict(setups=[dict(dataset="mnist", model="lenet300", fit={**LENET, "epochs": 10}, fraction=0.2,
                                  rounds=10, exclude_output=True, seeds=1, k=200, variants=ALL,
                                  sweep=[0, 50, 200, 1000]),
                             dict(dataset="cifar10", model="resnet20", fit={**RESNET20, "epochs": 15}, fraction=0.5,
                                  rounds=3, exclude_output=False, seeds=1, k=500,
                                  variants=["rewind to 0", "rewind to k"], sweep=[])],
                     examples=None),
    # paper: open_lth's two defaults; LeNet pruned to 2.8% (16 rounds), ResNet-20 to 16.8% (8 rounds).
    "paper": dict(setups=[dict(dataset="mnist", model="lenet300", fit=LENET, fraction=0.2, rounds=16,
                               exclude_output=True, seeds=3, k=200, variants=ALL, sweep=[0, 50, 200, 1000, 2000]),
                          dict(dataset="cifar10", model="resnet20", fit=RESNET20, fraction=0.2, rounds=8,
                               exclude_output=False, seeds=3, k=2000, variants=ALL, sweep=[0, 500, 2000])],
                  examples=None),
}


def _on(index, show):
    """A row's value for setup ``index`` (0: LeNet, 1: ResNet-20); "—" where a profile has no such setup."""
    def value(config):
        setups = config["setups"]
        return show(setups[index]) if index < len(setups) else "—"
    return value


def _fit(index, key, default=None):
    return _on(index, lambda s: describe(s["fit"].get(key, default)))






def _pruning(setup):
    output = "output layer dense" if setup["exclude_output"] else "all layers"
    return f"global {setup['fraction']:.0%}/round, {output}"


def _rounds(setup):
    return f"{setup['rounds']} (to {(1 - setup['fraction']) ** setup['rounds']:.1%})"


def _rewind(setup):
    sweep = f"; sweep {describe(setup['sweep'])}" if setup["sweep"] else ""
    return f"k = {setup['k']}{sweep}"


def _controls(config):
    variants = {v for setup in config["setups"] for v in setup["variants"]}
    return describe(sorted(variants - {"rewind to 0", "rewind to k"}))


def _rows(index, net, paper, code, note):
    """The rows of one network: ``paper``, ``code`` and ``note`` map a row's name to its cells."""
    where = {
        "dataset": _on(index, lambda s: s["dataset"]),
        "architecture": _on(index, lambda s: s["model"]),
        "optimizer": _on(index, lambda s: f"SGD, momentum {describe(s['fit'].get('momentum', 0.9))}"),
        "learning rate": _fit(index, "lr"),
        "weight decay": _fit(index, "weight_decay"),
        "schedule": _on(index, lambda s: schedule(s["fit"])),
        "epochs": _fit(index, "epochs"),
        "batch size": _fit(index, "batch_size"),
        "augmentation": _fit(index, "augment"),
        "normalization": _on(index, lambda s: normalization(s["dataset"])),
        "pruning": _on(index, _pruning),
        "rounds (remaining)": _on(index, _rounds),
        "rewind step": _on(index, _rewind),
        "seeds": _on(index, lambda s: describe(s["seeds"])),
    }
    return tuple(Setting(f"{net}: {name}", where[name], paper.get(name, "not verified here"), code[name],
                         note.get(name, "")) for name in where)


LENET_ROWS = _rows(
    0, "LeNet",
    paper={"dataset": "MNIST, 55k train + 5k validation (F&C)", "architecture": "LeNet-300-100 (F&C Fig. 2)",
           "optimizer": "Adam (F&C Fig. 2; not verified here)", "learning rate": "1.2e-3 (not verified here)",
           "augmentation": "none", "normalization": "not stated",
           "pruning": "20% per layer, output layer at half rate (not verified here)",
           "rewind step": "k = 0 (F&C); at init on MNIST (Frankle et al. 2020, abstract)"},
    code={"dataset": "MNIST, 60k train (`datasets/mnist.py`)",
          "architecture": "`mnist_lenet_300_100`, kaiming-normal (`models/mnist_lenet.py` L71-96)",
          "optimizer": "SGD, momentum 0 (`foundations/hparams.py` L156)", "learning rate": "0.1",
          "weight decay": "none (`training/optimizers.py` L21)", "schedule": "constant, no warm-up",
          "epochs": "40 (18,760 steps)", "batch size": "128", "augmentation": "none (`datasets/mnist.py` L27-31)",
          "normalization": "(0.1307) / (0.3081) (`datasets/mnist.py` L40)",
          "pruning": "`sparse_global` 20%, `fc.weight` ignored (`pruning/sparse_global.py`)",
          "rounds (remaining)": "`--levels`, the user's", "rewind step": "`--rewinding_steps`, default 0",
          "seeds": "init unseeded; `--replicate`"},
    note={"dataset": "all 60k, as open_lth", "optimizer": "open_lth's recipe, not F&C's Adam",
          "learning rate": "open_lth's", "epochs": "open_lth's",
          "pruning": "open_lth counts fc.weight in the base (~0.4% more per round elsewhere)",
          "rounds (remaining)": "the book's depth", "rewind step": "the book's k and sweep"})

RESNET_ROWS = _rows(
    1, "ResNet-20",
    paper={"dataset": "CIFAR-10", "architecture": "ResNet-20 (Frankle et al. 2020)",
           "optimizer": "SGD, momentum 0.9 (Frankle, Schwab & Morcos 2020)", "learning rate": "0.1",
           "weight decay": "1e-4", "schedule": "×0.1 at epochs 80, 120", "epochs": "160",
           "augmentation": "random flips, crops up to 4 px", "normalization": "yes (stats not stated)",
           "rewind step": "an early step k > 0 (Frankle et al. 2020)"},
    code={"dataset": "CIFAR-10, 50k train", "architecture": "`cifar_resnet_20`, kaiming-normal (L128-156)",
          "optimizer": "SGD, momentum 0.9", "learning rate": "0.1", "weight decay": "1e-4",
          "schedule": "×0.1 at 80ep, 120ep, per step (`training/optimizers.py` L34-51)",
          "epochs": "160 (62,560 steps)",
          "batch size": "128", "augmentation": "flip + RandomCrop(32, 4) (`datasets/cifar10.py` L46)",
          "normalization": "ImageNet (0.485, 0.456, 0.406) / (0.229, 0.224, 0.225) (`datasets/cifar10.py` L57)",
          "pruning": "`sparse_global` 20%, nothing ignored", "rounds (remaining)": "`--levels`, the user's",
          "rewind step": "`--rewinding_steps` (README §2.6: 500it)", "seeds": "init unseeded; `--replicate`"},
    note={"normalization": "CIFAR-10's own statistics, the book's convention (an affine input change)",
          "rounds (remaining)": "the book's depth", "rewind step": "the book's k and sweep",
          "batch size": "open_lth's"})

CHAPTER = Chapter(
    8,
    profiles=PROFILES,
    settings=LENET_ROWS + RESNET_ROWS + (
        Setting("retraining after a rewind to k", lambda c: "the last T − k steps, schedule continued",
                "the last T − k steps (Frankle et al. 2020)",
                "from `train_start_step` (`lottery/runner.py` L108-120)"),
        Setting("controls", _controls,
                "random re-init, random pruning (F&C Sec. 2)",
                "`randomly_reinitialize`, `randomly_prune` (layerwise) branches",
                "both take the masks of the rewind-to-0 ticket of the same seed; random pruning starts from the "
                "initial weights"),
        Setting("precision", lambda c: "autocast on CUDA: bf16 (else fp16)", "—",
                "fp32 (`apex_fp16=False`, `foundations/hparams.py` L162)",
                "mixed precision, for speed"),
    ),
    # A few optimizer steps per run: 64 examples in batches of 32 (2 steps an epoch, 2 epochs), one seed, one IMP
    # round, rewinding to step 1 and a sweep of k = 0 and 1.
    smoke={"examples": 64, "batch_size": 32, "rounds": 1, "k": 1,
           "sweep": lambda sweep: [0, 1] if sweep else []},
)
