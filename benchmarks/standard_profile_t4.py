"""How long each chapter's standard profile takes on a Colab T4: an ESTIMATE, not a measurement (no GPU was at hand).

    python benchmarks/standard_profile_t4.py [--t4-tflops 8] [--t4-fp32-tflops 4] [--step-floor-ms 1.5]
                                             [--deepfool-steps 3] [--cpu-batch 64] [--cpu-steps 3] [--write PATH]

Method.
1. Workload. ``chapter_N(config)`` counts what chapter N's notebook trains under the standard profile, every number
   read from ``settings.chapter(N).config("standard")``: one :class:`Run` per training (network, input shape,
   training examples, the test set fit evaluates after every epoch, epochs, models trained together) and the
   chapter's other large costs (attacks, predictions) as forward passes. A run's image-passes are
   epochs × (3 × train [forward + backward ≈ 3 forwards] + train + test [fit evaluates the whole training set, and
   the test set if it has one, after every epoch]) plus those extra passes; chapter 1's gradient-probe steps count
   5 forwards instead of 3, chapter 5's replay steps 6. Chapter 3's DeepFool attack is counted at all its
   ``adv_steps`` steps for every example, an upper bound; the report adds chapter 3 at ``--deepfool-steps``.
2. Cost per image-pass: forward FLOPs per image, counted by ``torch.utils.flop_counter.FlopCounterMode`` (matmuls
   and convolutions, 2 FLOPs per multiply-add) on ``memlib.models.build(name, 10, shape)``.
3. Speed. This CPU's training throughput is measured for every network (a few steps of ``memlib.train.fit`` on
   random 8-bit images, one thread) and reported with the effective FLOP/s it implies, for reference. The T4 time
   rests on assumptions, all flags: under mixed precision a T4 sustains 8 TFLOP/s on these networks (about an
   eighth of its 65 TFLOP/s fp16 tensor-core peak), 4 TFLOP/s in fp32 (half its 8.1 TFLOP/s fp32 peak; the
   DeepFool attack runs without autocast), and no optimizer step takes under 1.5 ms (kernel-launch overhead, which
   bounds the small networks). A training step takes max(1.5 ms, 3 × batch × models × forward FLOPs / rate); a
   forward-only batch of 1,024 (evaluation, attack) takes a third of both terms.

Not counted: data download and loading, the small kernels of per-step callbacks (chapter 7's gradient and distance
norms), chapter 4's 2-D neuron simulations (CPU seconds), plotting. Never run as a test.
"""
import argparse
import glob
import inspect
import math
import os
import platform
import time
from dataclasses import dataclass, field, replace

import torch
from torch.utils.flop_counter import FlopCounterMode

from memlib import data, dropout, models, outliers, settings, train

# Input shape, training and test examples of each data set the standard profiles use; all have 10 classes.
DATASETS = {"mnist": ((1, 28, 28), 60_000, 10_000), "fashion-mnist": ((1, 28, 28), 60_000, 10_000),
            "cifar10": ((3, 32, 32), 50_000, 10_000)}
CLASSES = 10
EVAL_BATCH = inspect.signature(train.fit).parameters["eval_batch_size"].default
REFINE = inspect.signature(outliers.minimal_perturbation).parameters["refine"].default
PROBE_STEP = 5  # gradients.GradientProbe: forward + two backward passes (clean part, then mislabeled part)
REPLAY_STEP = 6  # continual.ReplayLoss: forward and backward of the batch and of as many replayed examples


@dataclass
class Run:
    """``count`` models of one network trained together (``ensemble.fit_many``; 1: a plain ``fit``) for ``epochs``
    epochs (fractional after a rewind to step k: the last T − k steps) on ``train`` examples each, evaluating
    ``train`` and ``test`` examples (0: no test set) after every epoch. ``step``: forward-equivalents per training
    image (3: forward + backward); ``extra``: forward passes per model outside training (attacks, predictions), in
    batches of EVAL_BATCH; ``fp32``: without autocast. ``epochs=0``: no training, only ``extra``."""

    model: str
    shape: tuple
    train: int
    test: int
    epochs: float
    count: int = 1
    batch: int = 128
    options: dict = field(default_factory=dict)
    step: float = 3
    extra: float = 0
    fp32: bool = False

    @property
    def network(self) -> str:
        """The network's name, its options that differ from the builder's defaults, and its input shape."""
        defaults = inspect.signature(models.MODELS[self.model]).parameters
        changed = {k: v for k, v in self.options.items() if v != defaults[k].default}
        options = f" ({settings.describe(changed)})" if changed else ""
        return f"{self.model}{options} {'×'.join(map(str, self.shape))}"

    def image_passes(self) -> float:
        return self.count * (self.epochs * (self.step * self.train + self.train + self.test) + self.extra)

    def t4_seconds(self, flops, amp_rate, fp32_rate, floor) -> float:
        per_image = flops / (fp32_rate if self.fp32 else amp_rate)

        def batches(number, images, forwards, models):  # `number` batches of `images` images, `models` at once
            return number * max(floor * forwards / 3, forwards * images * models * per_image)

        steps = self.epochs * math.ceil(self.train / self.batch)
        evaluations = self.epochs * math.ceil((self.train + self.test) / EVAL_BATCH)
        return (batches(steps, self.batch, self.step, self.count) + batches(evaluations, EVAL_BATCH, 1, self.count)
                + self.count * batches(self.extra / EVAL_BATCH, EVAL_BATCH, 1, 1))


def sizes(dataset, examples=None):
    """``(shape, train, test)`` of ``dataset``, at most ``examples`` per split (None: all)."""
    shape, n_train, n_test = DATASETS[dataset]
    return shape, min(n_train, examples or n_train), min(n_test, examples or n_test)


def trained(dataset, model, fit, *, examples=None, tested=True, **fields) -> Run:
    """One ``fit`` of ``model`` on all of ``dataset`` (at most ``examples`` per split) with the recipe ``fit``."""
    shape, n_train, n_test = sizes(dataset, examples)
    run = Run(model, shape, n_train, n_test if tested else 0, fit["epochs"], batch=fit["batch_size"])
    return replace(run, **fields)


def rewound(run, start) -> Run:
    """``run`` continued from optimizer step ``start``: its last T − start steps."""
    return replace(run, epochs=run.epochs - start / math.ceil(run.train / run.batch))


def imp(run, rounds, start) -> list:
    """One ``pruning.imp``: the dense training, then ``rounds`` more from step ``start`` (the masked weights still
    cost their FLOPs: pruning masks, it does not shrink the layers)."""
    return [run] + [rewound(run, start)] * rounds


def chapter_1(config):
    """Notebook 01: ``recipes.noisy_label_run`` fits one network with a test set and a GradientProbe: the timeline's
    seeds; the random-split control (seed 0); seed 0 at each slider rate but the setup's own (cached); each gradient
    setup's seeds."""
    timeline = config["timeline"]

    def runs(setup, count):
        run = trained(setup["dataset"], setup["model"], setup["fit"], examples=config["examples"],
                      options=setup.get("model_options", {}), step=PROBE_STEP)
        return [run] * count

    rates = sum(rate != timeline["noise_rate"] for rate in config["rates"])
    return runs(timeline, timeline["seeds"] + 1 + rates) + [r for g in config["gradients"] for r in runs(g, g["seeds"])]


def chapter_2(config):
    """Notebook 02: ``recipes.noisy_label_run(dropout=...)`` fits one dropout network (the baselines with a test set,
    example-tied without), then predicts the training and test sets (example-tied: the training set in each of
    dropout.MODES and through another example's units, the test set in two): methods × seeds, then seed 0 at each
    sweep value, those equal to the main rates cached."""
    rates, sweep = config["methods"], config["sweep"]
    counts = {method: config["seeds"] for method in rates}
    counts["example_tied"] += sum(v != rates["example_tied"][name] for name in ("p_mem", "p_gen") for v in sweep[name])
    counts["standard"] += sum(v != rates["standard"]["p"] for v in sweep["p"])
    _, n_train, n_test = sizes(config["dataset"], config["examples"])
    runs = {tested: trained(config["dataset"], config["model"], config["fit"], examples=config["examples"],
                            tested=tested, options=config["model_options"]) for tested in (True, False)}
    predictions = {"example_tied": (len(dropout.MODES) + 1) * n_train + 2 * n_test}
    return [replace(runs[method != "example_tied"], extra=predictions.get(method, n_train + n_test))
            for method, count in counts.items() for _ in range(count)]


def chapter_3(config):
    """Notebook 03, per data set. ``outliers.score_examples``: holdout_ensemble fits ``scorers`` models together,
    each on half the training set, without a test set; then each model scores every training example, in fp32:
    DeepFool (adv) runs up to ``adv_steps`` steps, each a forward, one input-gradient backward per class (about a
    forward each: autograd.grad skips the weight gradients) and a check, then ``REFINE`` bisection forwards; conf
    and agr a forward each. Counting every step for every example is an upper bound: an example leaves the attack
    once its prediction flips. ``outliers.train_on_slices``: 2 × slices × seeds models together (fit_many), one per
    slice of ``slice_size`` examples and one per random subset of that size, each then tested."""
    fit, scoring, slicing, runs = config["fit"], config["scoring"], config["slicing"], []
    attack = scoring["adv_steps"] * (CLASSES + 2) + 1 + REFINE + 2
    for name, spec in config["datasets"].items():
        shape, n_train, n_test = sizes(name)
        network = dict(model=spec["model"], shape=shape, options=spec.get("model_options", {}))
        runs += [Run(**network, train=n_train // 2, test=0, epochs=fit["epochs"], count=scoring["scorers"],
                     batch=fit["batch_size"]),
                 Run(**network, train=0, test=0, epochs=0, count=scoring["scorers"], extra=n_train * attack, fp32=True),
                 Run(**network, train=slicing["slice_size"] or n_train // slicing["slices"], test=0,
                     epochs=fit["epochs"], count=2 * slicing["slices"] * slicing["seeds"], batch=fit["batch_size"],
                     extra=n_test)]
    return runs


def chapter_4(config):
    """Notebook 04, the deep network: ``plasticity.weight_decay_runs`` fits it with a test set, per weight decay and
    seed. The single neuron (plasticity.neuron_runs and scaling_sweep, on 2-D inputs) is not counted."""
    deep = config["deep"]
    run = trained(deep["dataset"], deep["model"], deep["fit"], options=deep["model_options"])
    return [run] * (len(deep["weight_decays"]) * deep["seeds"])


def chapter_5(config):
    """Notebook 05, ``continual.replay_experiment``, per data set: seeds × (memory sizes + key sparsities)
    ``continual.train_sequence`` runs, each one fit per task on that task's classes (about len(group) / 10 of the
    training set), tested on the first task's test set every epoch; with a memory, every task after the first replays as many examples per step; after
    each task the network is tested on every task. Then ``joint``: the seeds together (fit_many) on the whole
    training set without a test set, then tested on every task (``continual.joint_training``)."""
    datasets, config = config["datasets"], config["experiment"]
    fit, runs = config["fit"], []
    memories = config["memory_sizes"] + [config["key_memory"]] * len(config["key_sparsities"])
    first = len(config["tasks"][0]) / CLASSES
    for name in datasets:
        shape, n_train, n_test = sizes(name)
        network = dict(model=config["model"], shape=shape, options=config["model_options"], batch=fit["batch_size"])
        for memory in memories:
            for i, group in enumerate(config["tasks"]):
                task = Run(**network, train=round(n_train * len(group) / CLASSES), test=round(n_test * first),
                           epochs=fit["epochs"], step=REPLAY_STEP if memory and i else 3, extra=n_test)
                runs += [task] * config["seeds"]
        runs.append(Run(**network, train=n_train, test=0, epochs=fit["epochs"], count=config["seeds"], extra=n_test))
    return runs


def chapter_6(config):
    """Notebook 06: ``recipes.elr_comparison`` fits one CE and one ELR network with a test set per rate and seed
    (each a cached ``recipes.noisy_label_run``): both methods × seeds at the main noise rate, then both methods ×
    table_seeds at every rate (cached where the first call ran them); the ablation: ELR, seed 0, constant_epochs
    epochs, with the schedule and with a constant rate. The slider reuses the per-rate runs."""
    table = sum(not (rate == config["noise_rate"] and seed < config["seeds"])
                for rate in config["rates"] for seed in range(config["table_seeds"]))
    run = trained(config["dataset"], config["model"], config["fit"])
    return [run] * (2 * (config["seeds"] + table)) + [replace(run, epochs=config["constant_epochs"])] * 2


def chapter_7(config):
    """Notebook 07: ``recipes.noisy_label_run(rewind=...)`` fits the network with a test set, then
    early_phase.stability: for each rewind step k two copies trained from k to the end without a test set, and the
    error at ``path_points`` points on the line between them, on the test and the training set."""
    parent = trained(config["dataset"], config["model"], config["fit"], options=config["model_options"])
    paths = len(config["rewind"]) * config["path_points"] * (parent.train + parent.test)
    children = [rewound(replace(parent, test=0), k) for k in config["rewind"] for _ in range(2)]
    return ([replace(parent, extra=paths)] + children) * config["seeds"]


def chapter_8(config):
    """Notebook 08: ``recipes.imp_run`` is one pruning.imp of fits with a test set; ``recipes.lottery_tickets`` runs
    every variant × seed (the controls reuse rewind-to-0's cached masks), then seed 0 rewound to each k of the sweep,
    the setup's own k cached (k = 0 is keyed apart from "rewind to 0", so it trains again)."""
    runs = []
    for setup in config["setups"]:
        run = trained(setup["dataset"], setup["model"], setup["fit"], examples=config["examples"])
        starts = {"rewind to k": setup["k"]}  # the other variants restart every round from step 0
        for variant in setup["variants"]:
            runs += imp(run, setup["rounds"], starts.get(variant, 0)) * setup["seeds"]
        for k in setup["sweep"]:
            if not ("rewind to k" in setup["variants"] and k == setup["k"]):
                runs += imp(run, setup["rounds"], k)
    return runs


def chapter_9(config):
    """Notebook 09, ``run(network, seed)``: for the standard and the example-tied network and every seed, three
    pruning.imp of fits without a test set: the ticket rewound to step k, random per-layer masks of its sparsity
    rewound to k, and the ticket without rewinding (every round trains all T steps); after every round the test set
    is predicted (example-tied: in test and in drop mode)."""
    _, _, n_test = sizes(config["dataset"], config["examples"])
    run = trained(config["dataset"], config["model"], config["fit"], examples=config["examples"], tested=False)
    return [r for modes in (1, 2) for _ in range(config["seeds"]) for start in (config["k"], config["k"], 0)
            for r in imp(replace(run, extra=modes * n_test), config["rounds"], start)]


def chapter_10(config):
    """Notebook 10. Cell 6, ``estimate``: per long-tail data set, ``runs`` models together on ``fraction`` subsets
    (no test set), each then predicting every training and test example. Cell 12: ``adv_models`` models on the
    whole set and their DeepFool attack (as chapter 3). Cell 16: the removal test's 3 × seeds models, tested. Cell
    19, ``detect``, per noise setting and seed: cleanlab's ``folds`` models, ELR's run (no test set), the
    cross-entropy runs of forgetting, early-loss and adv (with a test set; adv then attacks), the memorization
    detector's ``runs`` models. Cell 24: one more detector run (counted as a cross-entropy run)."""
    runs, attack = [], config["adv_steps"] * (CLASSES + 2) + 1 + REFINE + 2
    for setup in config["long_tail"]:
        shape, n_train, n_test = sizes(setup["dataset"], config["examples"])
        network = dict(model=setup["model"], shape=shape, options=setup["model_options"],
                       batch=setup["fit"]["batch_size"])
        epochs = setup["fit"]["epochs"]
        runs += [Run(**network, train=round(config["fraction"] * n_train), test=0, epochs=epochs,
                     count=config["runs"], extra=n_train + n_test),
                 Run(**network, train=n_train, test=0, epochs=epochs, count=config["adv_models"]),
                 replace(Run(**network, train=0, test=0, epochs=0, count=config["adv_models"]),
                         extra=n_train * attack, fp32=True)]
        if setup["dataset"] == config["removal"]["dataset"]:
            runs.append(Run(**network, train=n_train, test=0, epochs=epochs, count=3 * config["removal"]["seeds"],
                            extra=n_test))
    detect = config["detection"]
    shape, n, n_test = sizes(detect["dataset"], config["examples"])
    network = dict(model=detect["model"], shape=shape, options=detect["model_options"],
                   batch=detect["fit"]["batch_size"])
    epochs, folds = detect["fit"]["epochs"], detect["folds"]
    one = [Run(**network, train=round(n * (folds - 1) / folds), test=0, epochs=epochs, count=folds,
               extra=n / folds),
           Run(**network, train=n, test=0, epochs=epochs),
           Run(**network, train=n, test=n_test, epochs=epochs, count=3),
           Run(**network, train=0, test=0, epochs=0, extra=n * attack, fp32=True),
           Run(**network, train=round(detect["fraction"] * n), test=0, epochs=epochs, count=detect["runs"], extra=n)]
    return runs + one * (len(detect["noises"]) * detect["seeds"]) + [Run(**network, train=n, test=n_test,
                                                                          epochs=epochs)]


CHAPTERS = [chapter_1, chapter_2, chapter_3, chapter_4, chapter_5, chapter_6, chapter_7, chapter_8, chapter_9,
            chapter_10]


def forward_flops(run) -> float:
    """Matmul and convolution FLOPs of one image's forward pass."""
    model = models.build(run.model, CLASSES, run.shape, **run.options).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.rand(2, *run.shape))
    return counter.get_total_flops() / 2


class Clock(train.Callback):
    """The time of every optimizer step's end."""

    def on_train_begin(self, state):
        self.times = []

    def on_batch_end(self, state):
        self.times.append(time.perf_counter())


def cpu_images_per_second(run, batch, steps) -> float:
    """Training images per second of ``steps`` steps of memlib.train.fit on the CPU, after one untimed step."""
    n = (steps + 1) * batch
    images = torch.randint(256, (n, *run.shape)) / 255
    dataset = data.Dataset(images, torch.randint(CLASSES, (n,)), [str(c) for c in range(CLASSES)])
    clock = Clock()
    train.fit(models.build(run.model, CLASSES, run.shape, **run.options), dataset, epochs=1, lr=0.01,
              weight_decay=0.0, batch_size=batch, device="cpu", callbacks=[clock])
    return steps * batch / (clock.times[-1] - clock.times[0])


def chapter_title(number) -> str:
    path = glob.glob(os.path.join(os.path.dirname(__file__), "..", "notebooks", f"{number:02d}_*.ipynb"))[0]
    return f"{number} {os.path.basename(path)[3:-6].replace('_', ' ')}"


def report(args) -> str:
    torch.set_num_threads(1)
    configs = [settings.chapter(n).config("standard") for n in range(1, len(CHAPTERS) + 1)]
    workloads = [chapter(config) for chapter, config in zip(CHAPTERS, configs)]
    networks = {run.network: run for runs in workloads for run in runs}
    flops = {name: forward_flops(run) for name, run in networks.items()}
    rates = dict(amp_rate=args.t4_tflops * 1e12, fp32_rate=args.t4_fp32_tflops * 1e12, floor=args.step_floor_ms / 1e3)

    def seconds(runs):
        return sum(run.t4_seconds(flops[run.network], **rates) for run in runs)

    lines = ["# Estimated T4 time of each chapter's standard profile", "",
             "**An estimate, not a measurement**: no GPU was at hand. Assumptions (flags of "
             "`benchmarks/standard_profile_t4.py`): a T4 sustains "
             f"{args.t4_tflops:g} TFLOP/s under mixed precision (`--t4-tflops`; about an eighth of its 65 TFLOP/s fp16 "
             f"tensor-core peak) and {args.t4_fp32_tflops:g} TFLOP/s in fp32 (`--t4-fp32-tflops`; the DeepFool "
             f"attack), and no optimizer step takes under {args.step_floor_ms:g} ms (`--step-floor-ms`, kernel-launch "
             f"overhead): step time = max({args.step_floor_ms:g} ms, 3 × batch × models × forward FLOPs / rate); a "
             f"forward-only batch of {EVAL_BATCH:,} (evaluation, attack) takes a third of both terms.", "",
             "| chapter | training runs | image-passes (millions) | estimated T4 minutes | dominant network |",
             "|---|---|---|---|---|"]
    for number, runs in enumerate(workloads, 1):
        by_network = {}
        for run in runs:
            by_network[run.network] = by_network.get(run.network, 0) + seconds([run])
        trainings = sum(run.count for run in runs if run.epochs)
        passes = sum(run.image_passes() for run in runs) / 1e6
        lines.append(f"| {chapter_title(number)} | {trainings} | {passes:,.1f} | {seconds(runs) / 60:.1f} "
                     f"| {max(by_network, key=by_network.get)} |")
    everything = [run for runs in workloads for run in runs]
    lines.append(f"| **whole book** | {sum(r.count for r in everything if r.epochs)} "
                 f"| {sum(r.image_passes() for r in everything) / 1e6:,.1f} | {seconds(everything) / 60:.1f} | |")

    lines += ["", f"| network | forward MFLOP / image | CPU training images/s (batch {args.cpu_batch}, 1 thread) "
              "| CPU effective GFLOP/s | T4: launch-bound below this many images per step |", "|---|---|---|---|---|"]
    for name, run in networks.items():
        speed = cpu_images_per_second(run, args.cpu_batch, args.cpu_steps)
        bound = rates["floor"] * rates["amp_rate"] / (3 * flops[name])
        lines.append(f"| {name} | {flops[name] / 1e6:,.2f} | {speed:,.0f} | {speed * 3 * flops[name] / 1e9:.1f} "
                     f"| {bound:,.0f} |")

    upper = configs[2]["scoring"]["adv_steps"]
    fewer_steps = {**configs[2], "scoring": {**configs[2]["scoring"], "adv_steps": args.deepfool_steps}}
    shorter = seconds(chapter_3(fewer_steps)) / 60
    lines += ["", "How: each chapter's runs are counted from its notebook's code (`chapter_N` in the script, every "
              "number read from `settings.chapter(N).config(\"standard\")`); a run's image-passes are epochs × "
              "(3 × train + train + test): forward and backward ≈ 3 forwards, then fit's evaluation of the whole "
              "training set and of the test set, if it has one, after every epoch; gradient-probe steps (chapter 1) "
              f"count {PROBE_STEP} forwards, replay steps (chapter 5) {REPLAY_STEP}. Attacks and final predictions "
              "are added as forward passes. Forward FLOPs per image are counted with `FlopCounterMode` (matmuls and "
              "convolutions). The CPU speeds are measured here, for reference only: the T4 minutes follow from the "
              f"assumptions above. Chapter 3 counts all {upper} DeepFool steps for every training example, an upper "
              "bound, since an example leaves the attack once its prediction flips; at "
              f"{args.deepfool_steps} steps per example on average (`--deepfool-steps`) chapter 3 would take "
              f"{shorter:.1f} T4 minutes. Not counted: downloads, data loading, the small kernels of per-step "
              "callbacks, chapter 4's 2-D neuron simulations, plotting.", "",
              f"CPU: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
              f"{time.strftime('%Y-%m-%d')}."]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--t4-tflops", type=float, default=8.0, help="T4 effective TFLOP/s under mixed precision")
    parser.add_argument("--t4-fp32-tflops", type=float, default=4.0, help="T4 effective TFLOP/s in fp32")
    parser.add_argument("--step-floor-ms", type=float, default=1.5, help="least time of one optimizer step")
    parser.add_argument("--deepfool-steps", type=int, default=3,
                        help="mean DeepFool steps per example for chapter 3's alternative estimate")
    parser.add_argument("--cpu-batch", type=int, default=64, help="batch of the CPU throughput measurement")
    parser.add_argument("--cpu-steps", type=int, default=3, help="timed steps of the CPU throughput measurement")
    parser.add_argument("--write", metavar="PATH", help="also write the report there (Markdown)")
    args = parser.parse_args()
    text = report(args)
    print(text, end="")
    if args.write:
        with open(args.write, "w") as file:
            file.write(text)


if __name__ == "__main__":
    main()
