"""Chapter 5, "Complementary learning systems": class-incremental split MNIST / Fashion-MNIST with an episodic
memory replayed into a slow learner (McClelland, McNaughton & O'Reilly 1995), as experience replay (ER,
Chaudhry et al. 2019, "On Tiny Episodic Memories in Continual Learning", arXiv:1902.10486).

Reference code: facebookresearch/agem @ 4542149, which holds ER with reservoir sampling: ``replicate_results_er.sh``
(batch 10, replay batch 10, SGD lr 0.1, a single epoch, ``--mem-size 1`` example per class and task),
``fc_permute_mnist.py`` (plain SGD, ``tf.train.GradientDescentOptimizer``; reservoir memory L151, L339-353) and
``model/model.py`` (FC-S: 784-256-256-10, L157-159). The paper's text was not available here: its values are
marked "not verified here". McClelland et al. (1995) is a theory; it fixes no settings.
"""
from memlib.settings import Chapter, Setting, describe, normalization

NOT_VERIFIED = "not verified here"
ER = "replicate_results_er.sh"
TASKS = [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]

PROFILES = {
    # quick: a one-hidden-layer MLP on scikit-learn's 8×8 digits, CPU-sized.
    "quick": dict(datasets=["digits"], experiment=dict(
        model="mlp", model_options=dict(hidden=[100]), seeds=3, tasks=TASKS, memory_sizes=[0, 10, 30, 100, 300],
        key_memory=300, key_sparsities=[0.003, 0.03, 0.3, 1.0],
        fit=dict(epochs=20, lr=0.05, weight_decay=0.0, batch_size=32, schedule="constant"))),
    # standard: the reference's MLP on split MNIST and Fashion-MNIST, a few epochs of larger batches.
    "standard": dict(datasets=["mnist", "fashion-mnist"], experiment=dict(
        model="mlp", model_options=dict(hidden=[256, 256]), seeds=3, tasks=TASKS,
        memory_sizes=[0, 50, 200, 1000, 5000], key_memory=1000, key_sparsities=[0.003, 0.03, 0.3, 1.0],
        fit=dict(epochs=5, lr=0.05, weight_decay=0.0, batch_size=128, schedule="constant"))),
    # paper: ER's training (one pass, batches of 10 new and 10 replayed examples, plain SGD at 0.1) and its MLP.
    "paper": dict(datasets=["mnist", "fashion-mnist"], experiment=dict(
        model="mlp", model_options=dict(hidden=[256, 256]), seeds=5, tasks=TASKS,
        memory_sizes=[0, 5, 25, 50, 200, 1000, 5000], key_memory=1000,
        key_sparsities=[0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0],
        fit=dict(epochs=1, lr=0.1, momentum=0.0, weight_decay=0.0, batch_size=10, schedule="constant"))),
}


def _tasks(config):
    return ", then ".join(f"{group[0]}–{group[-1]}" for group in config["experiment"]["tasks"])


CHAPTER = Chapter(
    number=5,
    profiles=PROFILES,
    settings=(
        Setting("dataset", lambda c: ", ".join(c["datasets"]), NOT_VERIFIED,
                f"permuted MNIST, split CIFAR ({ER})", "split classes: the class-incremental case"),
        Setting("tasks", _tasks, "—", "20 permutations, 1,000 examples each",
                "one shared 10-way head, no task label (van de Ven & Tolias 2019)"),
        Setting("architecture", lambda c: f"MLP {describe(c['experiment']['model_options']['hidden'])}", NOT_VERIFIED,
                "MLP 256, 256 (model/model.py L157-159)", "memlib's init, not truncated normal 0.1"),
        Setting("optimizer", lambda c: f"SGD, momentum {describe(c['experiment']['fit'].get('momentum', 0.9))}",
                NOT_VERIFIED, "plain SGD (fc_permute_mnist.py L531)"),
        Setting("lr", "experiment.fit.lr", NOT_VERIFIED, f"0.1 ({ER})"),
        Setting("weight decay", "experiment.fit.weight_decay", NOT_VERIFIED, "none"),
        Setting("schedule", "experiment.fit.schedule", NOT_VERIFIED, "constant"),
        Setting("epochs per task", "experiment.fit.epochs", NOT_VERIFIED, f"1 (--train-single-epoch, {ER})"),
        Setting("batch size", "experiment.fit.batch_size", NOT_VERIFIED, f"10 ({ER})"),
        Setting("replay batch", lambda c: f"{c['experiment']['fit']['batch_size']} (= batch size)", NOT_VERIFIED,
                f"10 (--eps-mem-batch, {ER})"),
        Setting("augmentation", lambda c: "none", NOT_VERIFIED, "none"),
        Setting("normalization", lambda c: "; ".join(normalization(name) for name in c["datasets"]), NOT_VERIFIED,
                "none: pixels in [0, 1] (tf input_data)", "the book's one normalization"),
        Setting("memory sizes", "experiment.memory_sizes", NOT_VERIFIED, f"1 per class and task ({ER})",
                "a sweep; 5 = 1 per class of the first task"),
        Setting("memory filling", lambda c: "random sample, stored after the task", NOT_VERIFIED,
                "reservoir sampling (fc_permute_mnist.py L353)", "same distribution for the first task"),
        Setting("key sparsities", "experiment.key_sparsities", "sparse hippocampal codes (McClelland 1995)", "—",
                "book's model of the memory's code"),
        Setting("keyed memory size", "experiment.key_memory", "—", "—"),
        Setting("seeds", "experiment.seeds", NOT_VERIFIED, f"2 runs ({ER})"),
        Setting("joint reference", lambda c: "both tasks at once, same fit", NOT_VERIFIED,
                "MULTI_TASK flag (fc_permute_mnist.py L73, L197)"),
    ),
    # Smoke scale: each task has about 128 examples; three memory sizes (the keyed one among them), two sparsities.
    smoke={"memory_sizes": [0, 10, 50], "key_memory": 50, "key_sparsities": [0.003, 1.0]},
)
