"""Chapter 4, "Hebbian and homeostatic plasticity": a single linear neuron on synthetic 2-D data under five
plasticity rules (Hebb 1949; Oja 1982; weight decay, Krogh & Hertz 1992; synaptic scaling, Turrigiano 2008), and
weight decay against batch normalization in a deep network (van Laarhoven 2017).

The classic papers are analyses (Oja 1982) or biology (Turrigiano 2008): they fix no simulation settings, and no
reference code goes with them. The deep network's paper profile follows open_lth's ``cifar_resnet_20`` recipe
(facebookresearch/open_lth, ``models/cifar_resnet.py`` L128-156), except for its schedule and length.
"""
from memlib.settings import Chapter, Setting, describe, normalization

NOT_VERIFIED = "not verified here"
ANALYSIS = "none (an analysis)"
NO_CODE = "none (theory)"
OLTH = "open_lth cifar_resnet_20"

# Shared by every profile: the input's mixing matrix (x = M z, z standard normal), the decay rule's λ as
# multiples of the input's largest eigenvalue λ₁, the scaling rule's target activity and rate, and the γ sweep.
MIXING = [[1.6, 0.0], [0.6, 0.8]]
RULES = dict(decay_factors=[0.5, 1.5], scaling_rate=0.5)
SCALING_RATES = [1.0, 0.5, 0.2, 0.1, 0.05, 0.02]

PROFILES = {
    # The single neuron costs nothing; the profiles differ in seeds and in the deep network of the last section.
    "quick": dict(neuron=dict(mixing=MIXING, samples=2000, lr=0.005, steps=4000, target=1.0),
                  rules=dict(seeds=5, **RULES), scaling_rates=SCALING_RATES,
                  deep=dict(dataset="digits", model="cnn", model_options=dict(width=8), seeds=1,
                            weight_decays=[0.0, 5e-4, 5e-3],
                            fit=dict(epochs=20, lr=0.1, batch_size=64, schedule="constant"))),
    "standard": dict(neuron=dict(mixing=MIXING, samples=5000, lr=0.005, steps=4000, target=1.0),
                     rules=dict(seeds=10, **RULES), scaling_rates=SCALING_RATES,
                     deep=dict(dataset="mnist", model="cnn", model_options=dict(width=16), seeds=2,
                               weight_decays=[0.0, 5e-4, 5e-3],
                               fit=dict(epochs=10, lr=0.1, batch_size=128, schedule="constant"))),
    "paper": dict(neuron=dict(mixing=MIXING, samples=10000, lr=0.005, steps=8000, target=1.0),
                  rules=dict(seeds=20, **RULES), scaling_rates=SCALING_RATES,
                  deep=dict(dataset="cifar10", model="resnet20", model_options={}, seeds=3,
                            weight_decays=[0.0, 1e-4, 5e-4, 5e-3],
                            fit=dict(epochs=30, lr=0.1, batch_size=128, schedule="constant", augment="crop-flip"))),
}


def _architecture(config):
    deep = config["deep"]
    return deep["model"] + (f" ({describe(deep['model_options'])})" if deep["model_options"] else "")


CHAPTER = Chapter(
    number=4,
    profiles=PROFILES,
    settings=(
        Setting("neuron", lambda c: "linear, y = w·x, one input per step", "linear neuron (Oja 1982)", NO_CODE),
        Setting("input", lambda c: f"2-D Gaussian, x = Mz, M = {str(c['neuron']['mixing'])}",
                "stationary input sequence (Oja 1982)", NO_CODE, "book's example"),
        Setting("rules", lambda c: "hebb, oja, normalized, decay, scaling",
                "Hebb 1949; Oja 1982; Turrigiano 2008", NO_CODE),
        Setting("samples per seed", "neuron.samples", ANALYSIS, NO_CODE),
        Setting("learning rate η", "neuron.lr", "analysis; gain " + NOT_VERIFIED, NO_CODE,
                "constant η: its fluctuations are measured"),
        Setting("steps", "neuron.steps", ANALYSIS, NO_CODE),
        Setting("seeds", "rules.seeds", ANALYSIS, NO_CODE),
        Setting("decay λ", lambda c: ", ".join(f"{describe(f)}·λ₁" for f in c["rules"]["decay_factors"]),
                "weight decay (Krogh & Hertz 1992)", NO_CODE, "either side of the knife edge λ = λ₁"),
        Setting("scaling target a*", "neuron.target", "a set point (Turrigiano 2008)", NO_CODE),
        Setting("scaling rate γ", "rules.scaling_rate", "slow in biology (Zenke et al. 2017)", NO_CODE,
                "fast enough to settle within the run"),
        Setting("γ sweep", "scaling_rates", "—", NO_CODE),
        Setting("deep: dataset", "deep.dataset", NOT_VERIFIED + " (van Laarhoven 2017)", "CIFAR-10 (" + OLTH + ")"),
        Setting("deep: architecture", _architecture, NOT_VERIFIED, "ResNet-20 (" + OLTH + ")"),
        Setting("deep: optimizer", lambda c: f"SGD, momentum {describe(c['deep']['fit'].get('momentum', 0.9))}",
                NOT_VERIFIED, "SGD, momentum 0.9 (" + OLTH + ")"),
        Setting("deep: lr", "deep.fit.lr", NOT_VERIFIED, "0.1 (" + OLTH + ")"),
        Setting("deep: weight decay", "deep.weight_decays", NOT_VERIFIED, "1e-4 (" + OLTH + ")",
                "a sweep around the reference's 1e-4"),
        Setting("deep: schedule", "deep.fit.schedule", NOT_VERIFIED, "×0.1 at epochs 80, 120 (" + OLTH + ")",
                "constant: the norm's balance at a fixed lr is the point"),
        Setting("deep: epochs", "deep.fit.epochs", NOT_VERIFIED, "160 (" + OLTH + ")",
                "shorter: norm dynamics, not accuracy, are measured"),
        Setting("deep: batch size", "deep.fit.batch_size", NOT_VERIFIED, "128 (" + OLTH + ")"),
        Setting("deep: augmentation", lambda c: describe(c["deep"]["fit"].get("augment")), NOT_VERIFIED,
                "flip + 4-px crop (" + OLTH + ")"),
        Setting("deep: normalization", lambda c: normalization(c["deep"]["dataset"]), NOT_VERIFIED,
                "ImageNet mean/std (open_lth cifar10.py L57)", "CIFAR-10's own statistics"),
        Setting("deep: seeds", "deep.seeds", NOT_VERIFIED, "unseeded init (open_lth)"),
    ),
    # Smoke scale: a short run of the single neuron; the deep runs get smoke's 2 epochs and 1 seed, and the
    # weakest and strongest weight decay only.
    smoke={"samples": 500, "steps": 400, "weight_decays": lambda decays: [decays[0], decays[-1]]},
)
