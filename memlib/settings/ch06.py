"""Chapter 6, early learning and ELR (Liu et al. 2020): CE against ELR on symmetrically noisy labels.

The paper profile is the reference's shipped symmetric-noise configuration, shengliu66/ELR ``config_cifar10.json``
(ResNet-34, SGD lr 0.02, momentum 0.9, weight decay 1e-3, batch 128, 150 epochs of cosine annealing with warm
restarts every 10 epochs down to 0.001, β 0.7, λ 3, crop and flip). Line numbers are of ELR @ 934af53.
"""
from memlib.settings import Chapter, Setting, describe, normalization, schedule

# ELR's test accuracy at each symmetric noise rate, ResNet-34 on CIFAR-10: Liu et al. 2020, Table 1 (step schedule),
# and the shengliu66/ELR README, "ELR (cosine annealing)", the configuration of the paper profile.
PAPER_TEST = {0.2: 0.9116, 0.4: 0.8915, 0.6: 0.8612, 0.8: 0.7386}
CODE_TEST = {0.2: 0.9112, 0.4: 0.9143, 0.6: 0.8887, 0.8: 0.8069}

CHAPTER = Chapter(
    6,
    profiles={
        # quick: an MLP on scikit-learn's 8×8 digits, CPU-sized; ELR with the reference's beta and lambda.
        "quick": dict(dataset="digits", model="mlp", noise_rate=0.4, rates=[0.2, 0.4, 0.6, 0.8], seeds=3, table_seeds=1,
                      examples=None, elr_options=dict(beta=0.7, lam=3.0), constant_epochs=150,
                      fit=dict(epochs=60, lr=0.1, weight_decay=5e-4, batch_size=64, schedule="cosine")),
        # standard: a small CNN on Fashion-MNIST, about 10 minutes on a Colab T4.
        "standard": dict(dataset="fashion-mnist", model="cnn", noise_rate=0.4, rates=[0.2, 0.4, 0.6, 0.8], seeds=2,
                         table_seeds=1, examples=None, elr_options=dict(beta=0.7, lam=3.0), constant_epochs=50,
                         fit=dict(epochs=20, lr=0.05, momentum=0.9, weight_decay=5e-4, batch_size=256,
                                  schedule="cosine")),
        # paper: ELR's config_cifar10.json (symmetric noise): ResNet-34, 150 epochs of CosineAnnealingWarmRestarts
        # (T_0 = 10 epochs, eta_min 0.001 of lr 0.02: 15 cycles down to 0.05 of the rate), crop and flip.
        "paper": dict(dataset="cifar10", model="resnet34", noise_rate=0.4, rates=[0.2, 0.4, 0.6, 0.8], seeds=3,
                      table_seeds=3, examples=None, elr_options=dict(beta=0.7, lam=3.0), constant_epochs=300,
                      fit=dict(epochs=150, lr=0.02, momentum=0.9, weight_decay=1e-3, batch_size=128,
                               schedule={"name": "cosine-restarts", "cycles": 15, "floor": 0.05},
                               augment="crop-flip")),
    },
    settings=(
        Setting("dataset", "dataset", "CIFAR-10 (Table 1)", "CIFAR-10 (`config_cifar10.json`)"),
        Setting("training set", lambda c: "full train set", "not verified here",
                "45k train / 5k val, val noised too (`cifar10.py` L19-55)",
                "all 50k; no model selection here"),
        Setting("architecture", "model", "ResNet-34", "`resnet34` (`config_cifar10.json` L7)"),
        Setting("optimizer", lambda c: f"SGD, momentum {describe(c['fit'].get('momentum', 0.9))}",
                "not verified here", "SGD, momentum 0.9 (L28-33)"),
        Setting("learning rate", "fit.lr", "not verified here", "0.02 (L28-33)"),
        Setting("weight decay", "fit.weight_decay", "not verified here", "1e-3 (L28-33)"),
        Setting("schedule", lambda c: schedule(c["fit"]), "step: ×0.01 at epochs 40, 80",
                "warm restarts, T_0 10 ep, eta_min 0.001 (L49-55); asym config: the step",
                "the shipped sym config (the book's noise is symmetric); annealed per step, not per epoch"),
        Setting("warm-up", lambda c: describe(c["fit"].get("warmup", 0.0)) if c["fit"].get("warmup") else "none",
                "not verified here", "none (`warmup: 0`, L59)"),
        Setting("epochs", "fit.epochs", "120 (step schedule)", "150 (L58)", "the cosine config's length"),
        Setting("batch size", "fit.batch_size", "not verified here", "128 (L17)"),
        Setting("augmentation", lambda c: c["fit"].get("augment") or "none", "not verified here",
                "crop 32 pad 4 + flip (`data_loaders.py` L16-25)"),
        Setting("normalization", lambda c: normalization(c["dataset"]), "not verified here",
                "(0.4914, 0.4822, 0.4465) / (0.2023, 0.1994, 0.2010) (`data_loaders.py`)",
                "CIFAR-10's true pixel std; ELR's is the widely copied one"),
        Setting("label noise", lambda c: "exactly rate·N flipped, to another class",
                "symmetric (model not verified here)",
                "`randint(10)` for rate·N examples, true class included (`cifar10.py` L73-80)",
                "reference flips only 0.9 × rate; here every flipped label is wrong"),
        Setting("noise rates", lambda c: f"{describe(c['rates'])}; timeline at {describe(c['noise_rate'])}",
                "0.2, 0.4, 0.6, 0.8 (Table 1)", "0.8 (L68-73; `--percent`)"),
        Setting("ELR β, λ", lambda c: f"{describe(c['elr_options']['beta'])}, {describe(c['elr_options']['lam'])}",
                "not verified here", "0.7, 3 (L36-42)"),
        Setting("seeds", lambda c: f"{c['seeds']} (timeline), {c['table_seeds']} (per rate)", "not verified here",
                "one run, seed 123; NumPy unseeded (`train.py` L122-124)", "several seeds for error bars"),
        Setting("constant-rate ablation", lambda c: f"{c['constant_epochs']} epochs", "—", "—",
                "the book's own check"),
    ),
    # At smoke scale: 32 examples and one epoch (a ResNet-34 epoch of the 256 smoke examples takes about 50 s on a
    # CPU core), only the main noise rate, one seed per rate, and an ablation as long as the main run, so that its
    # decayed-schedule run is the main run, read from the cache: three training runs in all.
    smoke={"examples": 32, "epochs": 1, "constant_epochs": 1, "rates": [0.4], "table_seeds": 1},
)
