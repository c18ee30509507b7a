"""Chapter 9's premise on the embedded digits (quick profile): the dense standard network memorizes its noisy labels,
so that a ticket's forgetting of them, measured in the chapter, is a loss of real memorization."""
from memlib import data, models, noise, settings, train

QUICK = settings.chapter(9).config("quick")


def test_the_dense_standard_network_fits_nearly_all_mislabeled_examples():
    """The chapter's first seed, dense round: LeNet-300-100 fits at least 90% of the flipped labels."""
    train_set, _ = data.train_test(QUICK["dataset"], examples=QUICK["examples"])
    noisy = noise.symmetric(train_set.y, QUICK["noise_rate"], train_set.num_classes, seed=0)
    model = models.build(QUICK["model"], train_set.num_classes, train_set.shape, seed=0)
    history = train.fit(model, train_set, labels=noisy, seed=0, **QUICK["fit"])
    last = noise.timeline(history, noisy).iloc[-1]
    print(last)
    assert last.memorized >= 0.90
    assert last.clean >= 0.99
