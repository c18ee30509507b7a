"""Continual learning with a fast episodic memory beside a slow network: Complementary Learning Systems
(McClelland, McNaughton & O'Reilly 1995; Kumaran, Hassabis & McClelland 2016) against catastrophic forgetting
(McCloskey & Cohen 1989; Parisi et al. 2019).

The slow learner (the "neocortex") is a :func:`memlib.models.build` network trained on one task after another with
:func:`memlib.train.fit`. The fast learner (the "hippocampus") is an :class:`EpisodicMemory` that stores a few
examples of every task in one shot. While a later task is trained, the memory is replayed: each optimizer step sees
the current batch and a batch recalled from the memory, as in experience replay with tiny episodic memories
(Chaudhry et al. 2019). No second training loop is needed for that: replay enters through ``fit``'s loss hook
(:class:`ReplayLoss`), which adds the recalled batch's cross-entropy to the current batch's, weighted as if the two
batches had been concatenated. (The recalled batch takes its own forward pass, so a network with batch
normalization sees it with its own batch statistics.)

The memory can store examples verbatim or, closer to the hippocampus, in a Hebbian associative memory addressed by
sparse keys (see :class:`EpisodicMemory`), where the sparsity of the keys decides how much stored episodes
interfere with one another.
"""
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
import torch.nn.functional as F

from memlib import cache, checks, data, ensemble, models
from memlib.data import Dataset
from memlib.train import accuracy, default_device, fit

RECALL_COLUMNS = ("own", "cosine", "labels")


class Task(NamedTuple):
    """One task of a sequence: its name, its training set and its test set."""

    name: str
    train: Dataset
    test: Dataset


def split_classes(train, test, groups) -> list:
    """Split-dataset tasks, one per group of classes, e.g. ``[[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]`` for split digits
    (split MNIST of Zenke, Poole & Ganguli 2017; van de Ven & Tolias 2019). The network keeps one output per class
    of the whole dataset and is never told the task: the class-incremental scenario, where forgetting is worst."""
    _check_pair(train, test)
    try:
        groups = [list(group) for group in groups]
    except TypeError:
        groups = None
    if not groups or any(not group for group in groups):
        raise ValueError(f"groups must be a non-empty list of non-empty lists of classes; got {groups}")
    groups = [[checks.integer("each class of groups", c) for c in group] for group in groups]
    flat = [c for group in groups for c in group]
    if len(set(flat)) != len(flat):
        raise ValueError(f"a class may belong to one group only; got {groups}")
    if min(flat) < 0 or max(flat) >= train.num_classes:
        raise ValueError(f"classes must lie in [0, {train.num_classes}); got {groups}")
    tasks = []
    for group in groups:
        members = torch.tensor(group)
        contiguous = len(group) > 2 and group == list(range(group[0], group[-1] + 1))
        name = f"{group[0]}–{group[-1]}" if contiguous else ",".join(map(str, group))
        tasks.append(Task(name, train.subset(torch.isin(train.y, members)), test.subset(torch.isin(test.y, members))))
    return tasks


def permuted_pixels(train, test, count, seed=0) -> list:
    """``count`` permuted-pixel tasks (Goodfellow et al. 2013; Kirkpatrick et al. 2017): the first task is the
    dataset itself, each other task applies one fixed, seeded permutation to the pixels of every image."""
    _check_pair(train, test)
    count = checks.positive_int("count", count)
    generator = torch.Generator().manual_seed(checks.non_negative_int("seed", seed))
    size = train.x[0].numel()
    tasks = []
    for t in range(count):
        order = torch.arange(size) if t == 0 else torch.randperm(size, generator=generator)
        shuffled = [Dataset(d.x.flatten(1)[:, order].view_as(d.x), d.y, d.classes, d.name,
                            normalization=d.normalization) for d in (train, test)]
        tasks.append(Task(f"permutation {t}", *shuffled))
    return tasks


def _check_pair(train, test):
    """Two datasets a task sequence can mix: the same image shape and classes."""
    for name, dataset in (("train", train), ("test", test)):
        if not isinstance(dataset, Dataset):
            raise ValueError(f"{name} must be a memlib.data.Dataset; got {type(dataset).__name__}")
    if test.shape != train.shape or test.classes != train.classes:
        raise ValueError(f"the datasets must have the same image shape and the same classes; got {train.shape} "
                         f"with {train.num_classes} classes and {test.shape} with {test.num_classes}")


class EpisodicMemory:
    """A small, fast episodic memory: up to ``capacity`` examples, shared evenly among the tasks stored so far
    (each task keeps a seeded random sample of its examples; a new task evicts the tail of the older samples).

    ``key_sparsity=None`` keeps the examples verbatim: a perfect buffer. A fraction ``key_sparsity`` in (0, 1]
    stores them instead in a Hebbian associative memory, the hippocampus of Marr (1971) and McClelland et al. (1995,
    who argue that sparse, pattern-separated codes let it store episodes fast without interference). Each example
    gets a binary key: a fixed random expansion of the (mean-centred) image to ``key_units`` units, of which the
    ``round(key_sparsity · key_units)`` most active fire (winner-take-all), as in the fly's olfactory circuit
    (Dasgupta, Stevens & Navlakha 2017). Storage is one-shot and Hebbian, A = Σ v hᵀ, with v the example's image
    and one-hot label (Hebb 1949; Willshaw, Buneman & Longuet-Higgins 1969); a recall cued by key h reads A h,
    normalized by the summed key overlap, i.e. the overlap-weighted average of everything stored. The sparser the
    keys, the less they overlap and the more of a recall is its own episode; since a random expansion keeps the keys
    of similar images similar, a recall still blends its episode with its nearest neighbours, and with dense keys
    with everything (``key_sparsity=1``: every recall is the average of the memory).
    """

    def __init__(self, capacity, key_sparsity=None, key_units=2048, seed=0):
        capacity = checks.non_negative_int("capacity", capacity)
        if key_sparsity is not None:
            try:
                key_sparsity = checks.fraction("key_sparsity", key_sparsity, low_open=True)
            except ValueError:
                raise ValueError(f"key_sparsity must be None (verbatim storage) or in (0, 1]; got "
                                 f"{key_sparsity!r}") from None
        key_units = checks.positive_int("key_units", key_units)
        seed = checks.non_negative_int("seed", seed)
        self.capacity, self.key_sparsity, self.key_units, self.seed = capacity, key_sparsity, key_units, seed
        self._samples = []  # per task: its examples in a seeded random order
        self._projection = None

    def __len__(self) -> int:
        return sum(len(sample) for sample in self._kept())

    def store(self, data: Dataset) -> None:
        """Store a new task's examples: its share of the capacity, drawn at random (seeded by ``seed`` and the
        task's position)."""
        if not isinstance(data, Dataset):
            raise ValueError(f"data must be a memlib.data.Dataset; got {type(data).__name__}")
        if len(data) == 0:
            raise ValueError("cannot store an empty dataset")
        if self._samples and (data.shape != self._samples[0].shape or data.classes != self._samples[0].classes):
            raise ValueError(f"every task must share the first task's image shape {self._samples[0].shape} and "
                             f"classes; got {data.shape} with {data.num_classes} classes")
        generator = torch.Generator().manual_seed(self.seed * 7919 + len(self._samples))
        order = torch.randperm(len(data), generator=generator)[: self.capacity]
        self._samples.append(data.subset(order))

    def stored(self) -> Dataset:
        """The examples the memory holds, verbatim."""
        kept = self._kept()
        if not kept or len(self) == 0:
            raise ValueError("the memory is empty: store a task first (and give it a positive capacity)")
        first = kept[0]
        return Dataset(torch.cat([s.x for s in kept]), torch.cat([s.y for s in kept]), first.classes, first.name,
                       normalization=first.normalization)

    def keys(self) -> torch.Tensor:
        """The binary keys (len × key_units) of the stored examples; needs ``key_sparsity``."""
        if self.key_sparsity is None:
            raise ValueError("a verbatim memory has no keys; give key_sparsity in (0, 1]")
        x = self.stored().x.flatten(1).double()
        if self._projection is None:
            generator = torch.Generator().manual_seed(self.seed)
            self._projection = torch.randn(self.key_units, x.shape[1], generator=generator, dtype=torch.float64)
        drive = (x - x.mean(dim=1, keepdim=True)) @ self._projection.T
        active = max(1, round(self.key_sparsity * self.key_units))
        keys = torch.zeros_like(drive)
        keys.scatter_(1, drive.topk(active, dim=1).indices, 1.0)
        return keys

    def recall(self) -> Dataset:
        """What replay sees: every stored episode as recalled from its own key, with the label read as the largest
        recalled label unit. A verbatim memory recalls exactly what it stored."""
        stored = self.stored()
        if self.key_sparsity is None:
            return stored
        keys = self.keys()
        values = torch.cat([stored.x.flatten(1).double(), F.one_hot(stored.y, stored.num_classes).double()], 1)
        hebbian = values.T @ keys  # A = Σ v hᵀ, one-shot Hebbian storage
        counts = keys.sum(0)  # the same storage of a constant 1: Σ h
        recalled = (keys @ hebbian.T) / (keys @ counts)[:, None]
        pixels = stored.x[0].numel()
        return Dataset(recalled[:, :pixels].float().view_as(stored.x), recalled[:, pixels:].argmax(1),
                       stored.classes, stored.name, normalization=stored.normalization)

    def fidelity(self) -> dict:
        """How faithful recall is: ``own``, the mean share of a recall that comes from its own episode (its key's
        overlap with itself over its summed overlap with all stored keys; 1 when keys never overlap); ``cosine``,
        the mean cosine between recalled and stored images; ``labels``, the fraction of labels recalled right.
        A verbatim memory scores 1 on all three."""
        stored, recalled = self.stored(), self.recall()
        if self.key_sparsity is None:
            own = 1.0
        else:
            keys = self.keys()
            own = float((keys.sum(1) / (keys @ keys.sum(0))).mean())
        cosine = F.cosine_similarity(recalled.x.flatten(1), stored.x.flatten(1), dim=1)
        return {"own": own, "cosine": float(cosine.mean()), "labels": float((recalled.y == stored.y).float().mean())}

    def _kept(self) -> list:
        """Each task's share of the capacity: capacity // tasks, the first tasks taking one more of the rest."""
        if not self._samples:
            return []
        share, extra = divmod(self.capacity, len(self._samples))
        return [sample.subset(torch.arange(min(len(sample), share + (t < extra))))
                for t, sample in enumerate(self._samples)]


class ReplayLoss:
    """A loss for :func:`memlib.train.fit` that mixes replay into every step: the cross-entropy of the current batch
    and of ``batch_size`` examples drawn (uniformly, with replacement, seeded) from ``replay``, weighted by their
    sizes as if the two batches had been concatenated (experience replay, Chaudhry et al. 2019)."""

    def __init__(self, model, replay: Dataset, batch_size, seed=0):
        batch_size = checks.positive_int("batch_size", batch_size)
        if not isinstance(replay, Dataset):
            raise ValueError(f"replay must be a memlib.data.Dataset; got {type(replay).__name__}")
        if len(replay) == 0:
            raise ValueError("nothing to replay: the replay set is empty")
        self.model, self.replay, self.batch_size = model, replay, batch_size
        self.generator = torch.Generator().manual_seed(checks.non_negative_int("seed", seed))

    def __call__(self, logits, labels, index=None):
        pick = torch.randint(len(self.replay), (self.batch_size,), generator=self.generator).to(self.replay.y.device)
        replayed = self.model(self.replay.normalized(self.replay.x[pick])).float()
        current = F.cross_entropy(logits, labels, reduction="sum")
        past = F.cross_entropy(replayed, self.replay.y[pick], reduction="sum").to(logits.device)
        return (current + past) / (len(labels) + self.batch_size)


@dataclass
class SequenceResult:
    """What :func:`train_sequence` measured. ``accuracy[i, j]`` is the test accuracy on task j after training on
    tasks 0..i. For every task i trained with replay (NaN for the others): ``recall[i]`` holds the memory's
    :meth:`EpisodicMemory.fidelity` (columns :data:`RECALL_COLUMNS`) and ``replayed_accuracy[i]`` the network's
    accuracy, after task i, on the replayed examples themselves: how much of what it replays it memorized.
    ``first_task_curve`` is the test accuracy on the first task at the end of every epoch of the whole sequence."""

    tasks: list
    accuracy: torch.Tensor
    recall: torch.Tensor
    replayed_accuracy: torch.Tensor
    first_task_curve: torch.Tensor
    memory: dict = field(default_factory=dict)

    @property
    def final(self) -> torch.Tensor:
        """The accuracy on every task after the last one."""
        return self.accuracy[-1]

    @property
    def average(self) -> float:
        """The mean final accuracy over tasks (ACC of Lopez-Paz & Ranzato 2017)."""
        return float(self.final.mean())

    @property
    def forgetting(self) -> torch.Tensor:
        """For every task but the last: its best accuracy after earlier steps minus its final accuracy (Chaudhry
        et al. 2018)."""
        return self.accuracy[:-1].max(dim=0).values[:-1] - self.final[:-1]

    def to_frame(self):
        """One row per (after task, on task) pair: after, task, accuracy."""
        import pandas as pd

        return pd.DataFrame([{"after": self.tasks[i], "task": self.tasks[j], "accuracy": float(self.accuracy[i, j])}
                             for i in range(len(self.tasks)) for j in range(len(self.tasks))])

    def to_dict(self) -> dict:
        """Plain tensors, lists and numbers, for :func:`memlib.cache.cached`."""
        return {"tasks": list(self.tasks), "accuracy": self.accuracy, "recall": self.recall,
                "replayed_accuracy": self.replayed_accuracy, "first_task_curve": self.first_task_curve,
                "memory": dict(self.memory)}

    @classmethod
    def from_dict(cls, state: dict) -> "SequenceResult":
        return cls(**state)


def train_sequence(tasks, *, model="mlp", model_options=None, memory_size=0, key_sparsity=None, key_units=2048,
                   replay_batch_size=None, seed=0, device=None, **fit_options) -> SequenceResult:
    """Train one network (:func:`memlib.models.build` ``model`` with ``model_options``) on ``tasks`` in order, each
    with :func:`memlib.train.fit` and ``fit_options`` (epochs, lr, weight_decay, batch_size, ...), and measure the
    test accuracy on every task after every task.

    With ``memory_size`` > 0, an :class:`EpisodicMemory` (``key_sparsity``, ``key_units``) stores examples of every
    task once it is trained, and every later task is trained with replay (:class:`ReplayLoss`, ``replay_batch_size``
    recalled examples per step, default the batch size). ``memory_size=0`` is plain sequential training, which
    forgets catastrophically (McCloskey & Cohen 1989). The result is a :class:`SequenceResult`."""
    tasks = list(tasks)
    if not tasks or not all(isinstance(task, Task) for task in tasks):
        raise ValueError("tasks must be a non-empty list of Task (see split_classes and permuted_pixels)")
    if "loss" in fit_options or "test" in fit_options or "labels" in fit_options:
        raise ValueError("train_sequence sets fit's loss, labels and test itself; do not pass them")
    for task in tasks:
        _check_pair(tasks[0].train, task.train)
        _check_pair(tasks[0].train, task.test)
    first = tasks[0].train
    device = torch.device(device) if device else default_device()
    network = models.build(model, first.num_classes, first.shape, seed=seed, **(model_options or {}))
    memory_size = checks.non_negative_int("memory_size", memory_size)
    memory = EpisodicMemory(memory_size, key_sparsity, key_units, seed=seed)
    if replay_batch_size is not None:
        replay_batch_size = checks.positive_int("replay_batch_size", replay_batch_size)
    replay_batch_size = replay_batch_size or fit_options.get("batch_size")
    if memory.capacity and len(tasks) > 1 and replay_batch_size is None:
        raise ValueError("replay needs a batch size: pass replay_batch_size (or fit's batch_size)")
    T = len(tasks)
    table = torch.full((T, T), float("nan"))
    recall, replayed_accuracy = torch.full((T, 3), float("nan")), torch.full((T,), float("nan"))
    curve = []
    for i, task in enumerate(tasks):
        loss = None
        if len(memory):
            replayed = memory.recall().to(device)
            loss = ReplayLoss(network, replayed, replay_batch_size, seed=seed + i)
            fidelity = memory.fidelity()
            recall[i] = torch.tensor([fidelity[column] for column in RECALL_COLUMNS])
        history = fit(network, task.train, test=tasks[0].test, loss=loss, seed=seed + i, device=device,
                      **fit_options)
        curve.append(history.test_accuracy)
        for j, other in enumerate(tasks):
            table[i, j] = accuracy(network, other.test)
        if loss is not None:
            replayed_accuracy[i] = accuracy(network, replayed)
        if memory_size:
            memory.store(task.train)
    return SequenceResult([task.name for task in tasks], table, recall, replayed_accuracy, torch.cat(curve),
                          {"size": memory_size, "key_sparsity": key_sparsity, "key_units": key_units})


def joint_training(train, tasks, *, seeds, model="mlp", model_options=None, **fit_options) -> list:
    """The reference that continual learning is measured against: one network per seed trained on ``train`` (all
    the tasks' data at once; :func:`memlib.ensemble.fit_many`, all seeds together) and tested on each of ``tasks``:
    one list of test accuracies (one per task) per seed (the multi-task baseline of Chaudhry et al. 2019)."""
    networks = [models.build(model, train.num_classes, train.shape, seed=seed, **(model_options or {}))
                for seed in seeds]
    ensemble.fit_many(networks, train, seeds=list(seeds), **fit_options)
    return [[accuracy(network, task.test) for task in tasks] for network in networks]


@cache.recipe
def replay_experiment(dataset, *, tasks, memory_sizes, key_memory, key_sparsities, seeds, fit, model="mlp",
                      model_options=None) -> dict:
    """Class-incremental learning of ``dataset`` split into ``tasks`` (groups of classes, :func:`split_classes`) with
    experience replay from an :class:`EpisodicMemory` (Chaudhry et al. 2019; McClelland et al. 1995), for each of
    ``seeds`` seeds (a count) and each setting: a verbatim memory of each of ``memory_sizes`` examples (0: plain
    sequential training), a keyed memory of ``key_memory`` examples at each of ``key_sparsities``, and
    :func:`joint_training` on all tasks at once. ``fit``: the keyword arguments of :func:`memlib.train.fit`.

    Returns frames: ``"verbatim"`` (seed, memory_size) and ``"keyed"`` (seed, memory_size, key_sparsity), each
    with the first task's accuracy once learned (``learned``), one epoch into the second task (``first_epoch_on``)
    and after the last task (``first``), the second's (``second``), the accuracy on the replayed examples
    (``replayed``; NaN without replay) and the memory's :data:`RECALL_COLUMNS`; ``"joint"`` (seed, first,
    second); ``"curves"``: the first task's test accuracy after every epoch of every verbatim run (seed,
    memory_size, epoch, accuracy)."""
    import pandas as pd

    train_set, test_set = data.train_test(dataset, download=True)
    split = split_classes(train_set, test_set, tasks)
    rows, curves = {"verbatim": [], "keyed": []}, []
    runs = [("verbatim", dict(memory_size=size)) for size in memory_sizes]
    runs += [("keyed", dict(memory_size=key_memory, key_sparsity=f)) for f in key_sparsities]
    for seed in range(seeds):
        for kind, setting in runs:
            result = train_sequence(split, model=model, model_options=model_options, seed=seed, **setting, **fit)
            setting = dict(seed=seed, **setting)
            rows[kind].append(dict(setting, learned=float(result.accuracy[0, 0]), first=float(result.final[0]),
                                   first_epoch_on=float(result.first_task_curve[fit["epochs"]]),
                                   second=float(result.final[1]), replayed=float(result.replayed_accuracy[1]),
                                   **dict(zip(RECALL_COLUMNS, result.recall[1].tolist()))))
            if kind == "verbatim":
                curves += [dict(setting, epoch=e + 1, accuracy=float(a)) for e, a in enumerate(result.first_task_curve)]
    joint = joint_training(train_set, split, seeds=range(seeds), model=model, model_options=model_options, **fit)
    return {**{kind: pd.DataFrame(frame) for kind, frame in rows.items()}, "curves": pd.DataFrame(curves),
            "joint": pd.DataFrame([dict(seed=seed, first=a[0], second=a[1]) for seed, a in enumerate(joint)])}


def replay_summary(run) -> dict:
    """The numbers a reader is told about one :func:`replay_experiment` (``run``): for no memory (``none``), the
    smallest non-empty memory (``smallest``), a verbatim memory of the keyed memory's size (``full``), the sparsest
    keys (``sparsest``) and all-on keys (``dense``, f = 1), each a dict of the run's columns (one value per seed);
    and, as Series of means over seeds, the first task's final accuracy by memory size (``by_size``) and by key
    sparsity (``by_key``), and the accuracy on the replayed examples by memory size (``replayed``)."""
    verbatim, keyed = run["verbatim"], run["keyed"]
    sizes, sparsities = verbatim.memory_size, keyed.key_sparsity

    def columns(rows):
        return {column: rows[column].tolist() for column in rows.columns}

    return {"none": columns(verbatim[sizes == 0]), "smallest": columns(verbatim[sizes == sizes[sizes > 0].min()]),
            "full": columns(verbatim[sizes == keyed.memory_size.max()]),
            "sparsest": columns(keyed[sparsities == sparsities.min()]), "dense": columns(keyed[sparsities == 1]),
            "by_size": verbatim.groupby("memory_size")["first"].mean(),
            "by_key": keyed.groupby("key_sparsity")["first"].mean(),
            "replayed": verbatim[sizes > 0].groupby("memory_size").replayed.mean()}
