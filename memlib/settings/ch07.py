"""Chapter 7, the early phase of training (Frankle, Schwab & Morcos 2020): one run's timeline and the stability of
training from iteration k.

The paper profile is open_lth's ``cifar_resnet_20`` recipe (facebookresearch/open_lth @ 2ce732f,
``models/cifar_resnet.py`` L128-156): SGD lr 0.1, momentum 0.9, weight decay 1e-4, batch 128, 160 epochs, ×0.1 at
epochs 80 and 120, no warm-up, random crop and flip; the paper's text states the same regime. The book adds label
noise so that memorization shows on the timeline.
"""
from memlib.settings import Chapter, Setting, describe, normalization, schedule

# How early_phase.milestones reads a run (every profile): stable to SGD noise from the first rewinding iteration
# from which every test error barrier is at most 2 points; the gradient-norm peak after a centred 5-step average.
LANDMARKS = dict(threshold=0.02, window=5)

# Where Frankle, Schwab & Morcos (2020, Fig. 2; ResNet-20 on CIFAR-10, clean labels) place each landmark of
# early_phase.milestones, read off their figure as ranges (not verified here).
PAPER_LANDMARKS = {"gradient_peak_step": "within the first few hundred",
                   "half_distance_step": "fast motion early (not quantified)",
                   "stable_step": "from about 500–2000 (≈ 1–3%)",
                   "memorization_step": "not measured (clean labels)", "total_steps": "62,560"}

CHAPTER = Chapter(
    7,
    profiles={
        # quick: a small BatchNorm CNN on scikit-learn's 8×8 digits, CPU-sized.
        "quick": dict(dataset="digits", model="cnn", model_options=dict(width=8), noise_rate=0.2, seeds=1,
                      rewind=[0, 5, 20, 60, 200], path_points=11, landmarks=LANDMARKS,
                      fit=dict(epochs=30, lr=0.2, weight_decay=5e-4, batch_size=64, schedule="cosine")),
        # standard: the paper's ResNet-20 and optimizer for 8 epochs with a cosine schedule, on a Colab T4.
        "standard": dict(dataset="cifar10", model="resnet20", model_options={}, noise_rate=0.2, seeds=1,
                         rewind=[0, 200, 1000], path_points=11, landmarks=LANDMARKS,
                         fit=dict(epochs=8, lr=0.1, momentum=0.9, weight_decay=1e-4, batch_size=128,
                                  schedule="cosine")),
        # paper: open_lth's cifar_resnet_20 (160 epochs, ×0.1 at epochs 80 and 120, crop and flip), with label
        # noise added so that memorization shows on the timeline.
        "paper": dict(dataset="cifar10", model="resnet20", model_options={}, noise_rate=0.2, seeds=3,
                      rewind=[0, 100, 250, 500, 1000, 2000, 4000], path_points=11, landmarks=LANDMARKS,
                      fit=dict(epochs=160, lr=0.1, momentum=0.9, weight_decay=1e-4, batch_size=128,
                               schedule="step", augment="crop-flip")),
    },
    settings=(
        Setting("dataset", "dataset", "CIFAR-10", "CIFAR-10 (`cifar_resnet_20`)"),
        Setting("architecture", "model", "ResNet-20", "`cifar_resnet_20` (`models/cifar_resnet.py`)"),
        Setting("initialization", lambda c: "Kaiming normal, BN uniform" if c["model"] == "resnet20" else "PyTorch",
                "not verified here", "kaiming_normal, BN weights uniform (L128-156)"),
        Setting("optimizer", lambda c: f"SGD, momentum {describe(c['fit'].get('momentum', 0.9))}",
                "SGD, momentum 0.9", "sgd, momentum 0.9 (L128-156)"),
        Setting("learning rate", "fit.lr", "0.1", "0.1"),
        Setting("weight decay", "fit.weight_decay", "1e-4", "1e-4"),
        Setting("schedule", lambda c: schedule(c["fit"]), "×0.1 at epochs 80, 120",
                "×0.1 at 80ep, 120ep, per step (`optimizers.py`)"),
        Setting("warm-up", lambda c: describe(c["fit"]["warmup"]) if c["fit"].get("warmup") else "none",
                "not stated", "none (`warmup_steps=None`)"),
        Setting("epochs", "fit.epochs", "160", "160ep (62,560 steps)"),
        Setting("batch size", "fit.batch_size", "not verified here", "128"),
        Setting("augmentation", lambda c: c["fit"].get("augment") or "none", "random flips, crops up to 4 px",
                "flip + RandomCrop(32, 4) (`datasets/cifar10.py` L46)"),
        Setting("normalization", lambda c: normalization(c["dataset"]), "normalization (stats not stated)",
                "ImageNet (0.485, 0.456, 0.406) / (0.229, 0.224, 0.225) (`datasets/cifar10.py` L57)",
                "CIFAR-10's own statistics, as in every chapter (an affine input change)"),
        Setting("label noise", lambda c: f"{c['noise_rate']:.0%}, exactly rate·N flipped, to another class",
                "none (clean labels)", "none by default", "added so that memorization shows on the timeline"),
        Setting("rewind steps k", "rewind", "not verified here", "any (`--rewinding_steps`, `lottery/desc.py`)"),
        Setting("copies per k, path points", lambda c: f"2 data orders, {c['path_points']} points",
                "not verified here", "—"),
        Setting("stable if test barrier ≤", lambda c: f"{100 * c['landmarks']['threshold']:g} points of error",
                "≈ 0 (LMC, Sec. 3; exact rule not verified here)", "—"),
        Setting("gradient-norm peak", lambda c: f"after a centred {c['landmarks']['window']}-step average",
                "not stated (plotted in Fig. 2)", "—", "a few steps: the peak can fall in the first iterations"),
        Setting("seeds", "seeds", "not verified here", "init unseeded; data order `data_order_seed`"),
    ),
    # At smoke scale a run has 4 optimizer steps (256 examples, batch 128, 2 epochs): rewind inside it, to the
    # start and into the first epoch, and evaluate the path between the two copies at its ends and middle.
    smoke={"rewind": [0, 1], "path_points": 3},
)
